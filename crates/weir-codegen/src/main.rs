//! Generates `weir-protocol`'s message codecs from the in-repo facts of Kafka's message schemas.
//!
//! ```text
//! cargo run -p weir-codegen [-- [generate] [--facts <dir>] [--out <dir>] [--check]]
//! cargo run -p weir-codegen -- facts [--schemas <dir>] [--facts <dir>] [--check]
//! ```
//!
//! `generate` (the default) reads `crates/weir-codegen/facts/` and writes
//! `crates/weir-protocol/src/messages/`. `facts` reads every `*.json` schema in
//! `../shared/kafka-protocol/schemas/` beside the workspace root (or `WEIR_KAFKA_SCHEMAS`) and
//! rewrites the facts. With `--check` neither writes: each fails, listing the files, when what is
//! committed differs from what it would write.

#![forbid(unsafe_code)]

mod disambiguate;
mod emit;
mod facts;
mod generate;
mod schema;

use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// The APIs weir speaks, by schema base name, in API-key order of appearance.
const APIS: &[&str] = &[
    "Produce",
    "Fetch",
    "ListOffsets",
    "Metadata",
    "OffsetCommit",
    "OffsetFetch",
    "FindCoordinator",
    "JoinGroup",
    "Heartbeat",
    "LeaveGroup",
    "SyncGroup",
    "DescribeGroups",
    "ListGroups",
    "ApiVersions",
    "CreateTopics",
    "DeleteTopics",
    "DeleteRecords",
    "InitProducerId",
    "OffsetForLeaderEpoch",
    "DescribeConfigs",
    "AlterConfigs",
    "CreatePartitions",
    "DeleteGroups",
    "IncrementalAlterConfigs",
    "OffsetDelete",
    "DescribeCluster",
    "DescribeLogDirs",
    "DescribeProducers",
    "ConsumerGroupHeartbeat",
    "ConsumerGroupDescribe",
    "DescribeTopicPartitions",
    "AddPartitionsToTxn",
    "AddOffsetsToTxn",
    "EndTxn",
    "TxnOffsetCommit",
    "DescribeTransactions",
    "ListTransactions",
    "SaslHandshake",
    "SaslAuthenticate",
    "DescribeUserScramCredentials",
    "AlterUserScramCredentials",
    "DescribeAcls",
    "CreateAcls",
    "DeleteAcls",
    "DescribeClientQuotas",
    "AlterClientQuotas",
];

/// Embedded data types (no API key) generated alongside.
const DATA_TYPES: &[&str] = &["ConsumerProtocolSubscription", "ConsumerProtocolAssignment"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The environment variable naming another schema directory.
const SCHEMAS_ENV: &str = "WEIR_KAFKA_SCHEMAS";

/// The default schema directory: `WEIR_KAFKA_SCHEMAS`, else `../shared/kafka-protocol/schemas`
/// beside the workspace root.
fn default_schemas() -> PathBuf {
    match std::env::var_os(SCHEMAS_ENV) {
        Some(d) => PathBuf::from(d),
        None => workspace_root().join("../shared/kafka-protocol/schemas"),
    }
}

/// The committed facts directory.
fn default_facts() -> PathBuf {
    workspace_root().join("crates/weir-codegen/facts")
}

/// The default output directory.
fn default_out() -> PathBuf {
    workspace_root().join("crates/weir-protocol/src/messages")
}

/// The parsed command line.
#[derive(Debug, Default)]
struct Args {
    facts_cmd: bool,
    check: bool,
    schemas: Option<PathBuf>,
    facts: Option<PathBuf>,
    out: Option<PathBuf>,
}

fn parse_args() -> Result<Args> {
    let mut a = Args::default();
    let mut it = std::env::args_os().skip(1);
    let mut first = true;
    while let Some(arg) = it.next() {
        let arg = arg.to_string_lossy().into_owned();
        let mut dir = |what: &str| -> Result<PathBuf> {
            match it.next() {
                Some(d) => Ok(PathBuf::from(d)),
                None => bail!("{what} needs a directory"),
            }
        };
        match arg.as_str() {
            "facts" if first => a.facts_cmd = true,
            "generate" if first => {}
            "--check" => a.check = true,
            "--schemas" => a.schemas = Some(dir("--schemas")?),
            "--facts" => a.facts = Some(dir("--facts")?),
            "--out" => a.out = Some(dir("--out")?),
            other => bail!(
                "unknown argument {other:?}; usage: weir-codegen [generate] [--facts <dir>] [--out <dir>] [--check] | facts [--schemas <dir>] [--facts <dir>] [--check]"
            ),
        }
        first = false;
    }
    if a.facts_cmd && a.out.is_some() {
        bail!("--out belongs to generate");
    }
    if !a.facts_cmd && a.schemas.is_some() {
        bail!("--schemas belongs to facts");
    }
    Ok(a)
}

fn fail_on(differences: Vec<String>, what: &str, fix: &str) -> Result<()> {
    if differences.is_empty() {
        eprintln!("weir-codegen: {what} up to date");
        return Ok(());
    }
    bail!("{what} stale (run `{fix}`): {}", differences.join(", "))
}

fn main() -> Result<()> {
    let a = parse_args()?;
    let facts_dir = a.facts.unwrap_or_else(default_facts);
    if a.facts_cmd {
        let schemas = a.schemas.unwrap_or_else(default_schemas);
        let facts = facts::from_schemas(&schemas)?;
        if a.check {
            return fail_on(
                facts::differences(&facts, &facts_dir)?,
                &format!(
                    "facts in {} against {}",
                    facts_dir.display(),
                    schemas.display()
                ),
                "cargo run -p weir-codegen -- facts",
            );
        }
        facts::write_dir(&facts, &facts_dir)?;
        eprintln!(
            "weir-codegen: wrote the facts of {} schemas to {}",
            facts.len(),
            facts_dir.display()
        );
        return Ok(());
    }
    let out = a.out.unwrap_or_else(default_out);
    if a.check {
        return fail_on(
            generate::differences(&facts_dir, &out)?,
            &format!("generated code in {}", out.display()),
            "cargo run -p weir-codegen",
        );
    }
    let files = generate::generate(&facts_dir, &out)?;
    eprintln!(
        "weir-codegen: wrote {} files to {}",
        files.len(),
        out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests;
