//! `weir user add|delete|list --data-dir DIR`: SCRAM credentials edited offline in a data
//! directory (as `kafka-storage format --add-scram` bootstraps the first user); a running
//! broker reads the file at start. Without `--data-dir` the same commands go to a broker
//! (`--bootstrap`, `--command-config`) over Describe/AlterUserScramCredentials, the salted
//! password computed here (the password never leaves this process).

use std::io::BufRead as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use weir_auth::scram::{ITERATIONS_DEFAULT, Mechanism, ScramCredential};
use weir_broker::security::credentials::{Change, CredentialStore};
use weir_client::scram_users::ScramChange;

use crate::client_cmd::{ConnArgs, block_on, connect};

/// `weir user`.
#[derive(Debug, clap::Args)]
pub struct UserArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Debug, clap::Subcommand)]
enum UserCommand {
    /// Create or replace a user's SCRAM credentials; the password is one line on stdin
    /// (its newline dropped) or the first line of --password-file.
    Add {
        /// The user name.
        name: String,
        /// The broker's data directory (offline); without it, the broker at --bootstrap.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Read the password from this file instead of stdin.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// Only this mechanism (default: SCRAM-SHA-256 and SCRAM-SHA-512).
        #[arg(long, value_name = "SCRAM-SHA-256|SCRAM-SHA-512")]
        mechanism: Option<String>,
        /// PBKDF2 iterations, 4096..=16384.
        #[arg(long, default_value_t = ITERATIONS_DEFAULT)]
        iterations: u32,
    },
    /// Delete a user's credentials (every mechanism, or --mechanism).
    Delete {
        /// The user name.
        name: String,
        /// The broker's data directory (offline); without it, the broker at --bootstrap.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Only this mechanism.
        #[arg(long, value_name = "SCRAM-SHA-256|SCRAM-SHA-512")]
        mechanism: Option<String>,
    },
    /// One line per user and mechanism with its iteration count.
    List {
        /// The broker's data directory (offline); without it, the broker at --bootstrap.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// JSON lines: {"user":..,"mechanism":..,"iterations":..}.
        #[arg(long)]
        json: bool,
    },
}

fn mechanisms(m: Option<&str>) -> anyhow::Result<Vec<Mechanism>> {
    match m {
        None => Ok(Mechanism::ALL.to_vec()),
        Some(name) => Ok(vec![Mechanism::from_name(name).with_context(|| {
            format!("unknown mechanism {name}: SCRAM-SHA-256 or SCRAM-SHA-512")
        })?]),
    }
}

fn open(dir: &std::path::Path) -> anyhow::Result<CredentialStore> {
    if !dir.is_dir() {
        bail!("{}: no such data directory", dir.display());
    }
    Ok(CredentialStore::open(dir, Arc::new(weir_broker::RealFs))?)
}

fn read_password(file: Option<&PathBuf>) -> anyhow::Result<String> {
    let mut line = String::new();
    match file {
        Some(path) => {
            let f =
                std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
            std::io::BufReader::new(f).read_line(&mut line)?;
        }
        None => {
            std::io::stdin().lock().read_line(&mut line)?;
        }
    }
    let password = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line)
        .to_string();
    if password.is_empty() {
        bail!("empty password");
    }
    Ok(password)
}

/// Runs `weir user`: offline with `--data-dir`, else against the broker.
pub fn run(args: UserArgs) -> anyhow::Result<()> {
    let offline = match &args.command {
        UserCommand::Add { data_dir, .. }
        | UserCommand::Delete { data_dir, .. }
        | UserCommand::List { data_dir, .. } => data_dir.is_some(),
    };
    if offline {
        run_offline(args.command)
    } else {
        block_on(run_online(args.conn, args.command))
    }
}

async fn run_online(conn: ConnArgs, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            name,
            password_file,
            mechanism,
            iterations,
            ..
        } => {
            if name.is_empty() {
                bail!("empty user name");
            }
            weir_auth::scram::check_iterations(iterations)?;
            let ms = mechanisms(mechanism.as_deref())?;
            let password = read_password(password_file.as_ref())?;
            let mut changes = Vec::new();
            for m in ms {
                let salt = ScramCredential::random_salt()?;
                let salted_password = m.salted_password(password.as_bytes(), &salt, iterations);
                changes.push(ScramChange::Upsert {
                    user: name.clone(),
                    mechanism: m.wire_id(),
                    iterations: i32::try_from(iterations)?,
                    salt,
                    salted_password,
                });
            }
            let client = connect(&conn).await?;
            for (_, result) in client.alter_user_scram_credentials(&changes).await? {
                result?;
            }
        }
        UserCommand::Delete {
            name, mechanism, ..
        } => {
            let client = connect(&conn).await?;
            let wanted = mechanisms(mechanism.as_deref())?;
            let described = client
                .describe_user_scram_credentials(Some(std::slice::from_ref(&name)))
                .await?;
            let have: Vec<i8> = match described.into_iter().next() {
                Some((_, Ok(creds))) => creds.into_iter().map(|(m, _)| m).collect(),
                _ => Vec::new(),
            };
            let changes: Vec<ScramChange> = wanted
                .into_iter()
                .filter(|m| have.contains(&m.wire_id()))
                .map(|m| ScramChange::Delete {
                    user: name.clone(),
                    mechanism: m.wire_id(),
                })
                .collect();
            if changes.is_empty() {
                bail!("user {name} has no such credential");
            }
            for (_, result) in client.alter_user_scram_credentials(&changes).await? {
                result?;
            }
        }
        UserCommand::List { json, .. } => {
            let client = connect(&conn).await?;
            for (user, result) in client.describe_user_scram_credentials(None).await? {
                for (m, iterations) in result? {
                    let mechanism = Mechanism::from_wire_id(m).map_or("UNKNOWN", |m| m.name());
                    if json {
                        println!(
                            "{}",
                            serde_json::json!({"user": user, "mechanism": mechanism, "iterations": iterations})
                        );
                    } else {
                        println!("{user} {mechanism} iterations={iterations}");
                    }
                }
            }
        }
    }
    Ok(())
}

fn run_offline(command: UserCommand) -> anyhow::Result<()> {
    let dir = |d: Option<PathBuf>| d.context("--data-dir");
    match command {
        UserCommand::Add {
            name,
            data_dir,
            password_file,
            mechanism,
            iterations,
        } => {
            if name.is_empty() {
                bail!("empty user name");
            }
            let ms = mechanisms(mechanism.as_deref())?;
            let store = open(&dir(data_dir)?)?;
            let password = read_password(password_file.as_ref())?;
            let mut changes = Vec::new();
            for m in ms {
                let cred = ScramCredential::new(m, password.as_bytes(), iterations)?;
                changes.push(Change::Upsert(name.clone(), m, cred));
            }
            store.apply(&changes)?;
        }
        UserCommand::Delete {
            name,
            data_dir,
            mechanism,
        } => {
            let store = open(&dir(data_dir)?)?;
            let changes: Vec<Change> = mechanisms(mechanism.as_deref())?
                .into_iter()
                .filter(|m| store.get(&name, *m).is_some())
                .map(|m| Change::Delete(name.clone(), m))
                .collect();
            if changes.is_empty() {
                bail!("user {name} has no such credential");
            }
            store.apply(&changes)?;
        }
        UserCommand::List { data_dir, json } => {
            let store = open(&dir(data_dir)?)?;
            for l in store.list() {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"user": l.user, "mechanism": l.mechanism.name(), "iterations": l.iterations})
                    );
                } else {
                    println!("{} {} iterations={}", l.user, l.mechanism, l.iterations);
                }
            }
        }
    }
    Ok(())
}
