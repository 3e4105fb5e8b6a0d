//! A `weir serve` child process for the weir-cli integration tests.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

/// A `weir serve` child on 127.0.0.1:0 with its own data dir; killed on drop.
pub struct Server {
    child: Child,
    pub addr: String,
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
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("weir: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
