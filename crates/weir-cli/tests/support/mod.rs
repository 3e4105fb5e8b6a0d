//! A `weir serve` child process for the weir-cli integration tests.

use std::io::Write as _;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Output, Stdio};

/// A `weir serve` child on 127.0.0.1:0 with its own data dir; killed on drop.
pub struct Server {
    child: Child,
    pub addr: String,
    /// The metrics endpoint's `host:port` (only some tests read it).
    #[allow(dead_code)]
    pub http: String,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// With extra `--set KEY=VALUE` broker settings.
    pub fn start_with(sets: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(["--set", "group_initial_rebalance_delay_ms=0"])
            // Tests run in parallel: the metrics endpoint on an ephemeral port, not 9464.
            .args(["--set", "http_listen=127.0.0.1:0"])
            .args(sets.iter().flat_map(|s| ["--set", s]))
            .env("WEIR_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("weir: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let http = line
            .trim()
            .strip_prefix("weir: http on ")
            .unwrap_or_else(|| panic!("unexpected second line {line:?}"))
            .to_string();
        // The rest of stdout is drained, so the broker never blocks writing it.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Server {
            child,
            addr,
            http,
            _dir: dir,
        }
    }
}

impl Server {
    /// The child's process id (for /proc).
    #[allow(dead_code)] // not every test file reads it
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[allow(dead_code)] // not every test file runs client commands
impl Server {
    /// Runs `weir <args> --bootstrap ADDR` with `stdin`.
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(args)
            .args(["--bootstrap", &self.addr])
            .env("WEIR_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "weir {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}
