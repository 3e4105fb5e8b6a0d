//! Generates `weir-protocol`'s message codecs from Kafka's JSON schemas.
//!
//! `cargo run -p weir-codegen -- [<schemas-dir> [<out-dir>]]`; by default it
//! reads `../shared/kafka-protocol/schemas` (beside the workspace root) and
//! writes `crates/weir-protocol/src/messages`.

mod emit;
mod schema;

use anyhow::{Context, Result, bail};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

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
];

/// Embedded data types (no API key) generated alongside.
const DATA_TYPES: &[&str] = &["ConsumerProtocolSubscription", "ConsumerProtocolAssignment"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The default schema directory, beside the workspace root.
fn default_schemas() -> PathBuf {
    workspace_root().join("../shared/kafka-protocol/schemas")
}

/// The default output directory.
fn default_out() -> PathBuf {
    workspace_root().join("crates/weir-protocol/src/messages")
}

struct Api {
    name: String,
    module: String,
    key: i16,
    request: schema::Message,
    response: schema::Message,
}

/// Generates every file into `out`, then formats them with rustfmt.
fn generate(schemas: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut files = Vec::new();
    let mut apis = Vec::new();
    for name in APIS {
        let request = schema::load(&schemas.join(format!("{name}Request.json")))?;
        let response = schema::load(&schemas.join(format!("{name}Response.json")))?;
        let (Some(key), Some(rkey)) = (request.api_key, response.api_key) else {
            bail!("{name}: no apiKey");
        };
        if key != rkey {
            bail!("{name}: request and response keys differ");
        }
        let module = emit::snake(name);
        let path = out.join(format!("{module}.rs"));
        std::fs::write(
            &path,
            emit::emit_module(&[request.clone(), response.clone()])?,
        )?;
        files.push(path);
        apis.push(Api {
            name: name.to_string(),
            module,
            key,
            request,
            response,
        });
    }
    let mut data_modules = Vec::new();
    for name in DATA_TYPES {
        let msg = schema::load(&schemas.join(format!("{name}.json")))?;
        let module = emit::snake(name);
        let path = out.join(format!("{module}.rs"));
        std::fs::write(&path, emit::emit_module(&[msg])?)?;
        files.push(path);
        data_modules.push((module, name.to_string()));
    }
    let mod_path = out.join("mod.rs");
    std::fs::write(&mod_path, emit_mod(&apis, &data_modules))?;
    files.push(mod_path);
    rustfmt(&files)?;
    Ok(files)
}

fn rustfmt(files: &[PathBuf]) -> Result<()> {
    let mut cmd = Command::new(std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".into()));
    cmd.args(["--edition", "2024"]);
    let cfg = workspace_root().join("rustfmt.toml");
    if cfg.exists() {
        cmd.arg("--config-path").arg(cfg);
    }
    let status = cmd.args(files).status().context("running rustfmt")?;
    if !status.success() {
        bail!("rustfmt failed: {status}");
    }
    Ok(())
}

fn emit_mod(apis: &[Api], data: &[(String, String)]) -> String {
    let mut o = String::from(emit::HEADER);
    o.push_str("//! Message codecs generated from Kafka's schemas: one module per API.\n\n");
    let mut sorted: Vec<&Api> = apis.iter().collect();
    sorted.sort_by_key(|a| a.key);
    let mut mods: Vec<String> = apis.iter().map(|a| a.module.clone()).collect();
    mods.extend(data.iter().map(|(m, _)| m.clone()));
    mods.sort();
    for m in &mods {
        let _ = writeln!(o, "pub mod {m};");
    }
    o.push('\n');
    for a in apis {
        let _ = writeln!(
            o,
            "pub use {}::{{{}, {}}};",
            a.module, a.request.name, a.response.name
        );
    }
    for (m, n) in data {
        let _ = writeln!(o, "pub use {m}::{n};");
    }
    o.push_str("\nuse crate::error::{DecodeError, EncodeError};\nuse crate::decoder::Decoder;\nuse crate::encoder::Encoder;\n\n");

    o.push_str("/// The API keys weir has codecs for.\n#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n#[repr(i16)]\npub enum ApiKey {\n");
    for a in &sorted {
        let _ = writeln!(
            o,
            "/// `{}` (key {}).\n{} = {},",
            a.name, a.key, a.name, a.key
        );
    }
    o.push_str("}\n\nimpl ApiKey {\n");
    let _ = writeln!(
        o,
        "/// Every key, in key order.\npub const ALL: [ApiKey; {}] = [",
        sorted.len()
    );
    for a in &sorted {
        let _ = writeln!(o, "ApiKey::{},", a.name);
    }
    o.push_str("];\n\n/// The key for a wire value.\npub fn from_i16(key: i16) -> Option<ApiKey> {\nmatch key {\n");
    for a in &sorted {
        let _ = writeln!(o, "{} => Some(ApiKey::{}),", a.key, a.name);
    }
    o.push_str(
        "_ => None,\n}\n}\n\n/// The wire value.\npub fn as_i16(self) -> i16 {\nself as i16\n}\n\n",
    );
    o.push_str("/// The API's name.\npub fn name(self) -> &'static str {\nmatch self {\n");
    for a in &sorted {
        let _ = writeln!(o, "ApiKey::{} => \"{}\",", a.name, a.name);
    }
    o.push_str("}\n}\n\n/// The schema's version range `(min, max)` (not what weir advertises).\npub fn schema_versions(self) -> (i16, i16) {\nmatch self {\n");
    for a in &sorted {
        let _ = writeln!(
            o,
            "ApiKey::{n} => ({r}::VERSION_MIN, {r}::VERSION_MAX),",
            n = a.name,
            r = a.request.name
        );
    }
    o.push_str("}\n}\n\n/// The first flexible request version (`i16::MAX` when none is).\npub fn request_flexible_version_min(self) -> i16 {\nmatch self {\n");
    for a in &sorted {
        let _ = writeln!(
            o,
            "ApiKey::{} => {}::FLEXIBLE_VERSION_MIN,",
            a.name, a.request.name
        );
    }
    o.push_str("}\n}\n\n/// The first flexible response version (`i16::MAX` when none is).\npub fn response_flexible_version_min(self) -> i16 {\nmatch self {\n");
    for a in &sorted {
        let _ = writeln!(
            o,
            "ApiKey::{} => {}::FLEXIBLE_VERSION_MIN,",
            a.name, a.response.name
        );
    }
    o.push_str("}\n}\n}\n\n");

    for (kind, enum_name) in [("request", "RequestBody"), ("response", "ResponseBody")] {
        let msg = |a: &Api| {
            if kind == "request" {
                a.request.name.clone()
            } else {
                a.response.name.clone()
            }
        };
        let _ = writeln!(
            o,
            "/// A {kind} body of any API.\n#[derive(Debug, Clone, PartialEq)]\n#[allow(clippy::large_enum_variant)]\npub enum {enum_name} {{"
        );
        for a in &sorted {
            let _ = writeln!(o, "/// `{}`.\n{}({}),", msg(a), a.name, msg(a));
        }
        let _ = writeln!(
            o,
            "}}\n\nimpl {enum_name} {{\n/// The body's API key.\npub fn api_key(&self) -> ApiKey {{\nmatch self {{"
        );
        for a in &sorted {
            let _ = writeln!(o, "{enum_name}::{n}(_) => ApiKey::{n},", n = a.name);
        }
        o.push_str("}\n}\n\n/// Decodes a body of `api_key` at `version`.\npub fn decode(api_key: ApiKey, d: &mut Decoder, version: i16) -> Result<Self, DecodeError> {\nOk(match api_key {\n");
        for a in &sorted {
            let _ = writeln!(
                o,
                "ApiKey::{n} => {enum_name}::{n}({m}::decode(d, version)?),",
                n = a.name,
                m = msg(a)
            );
        }
        o.push_str("})\n}\n\n/// Encodes the body at `version`.\npub fn encode(&self, e: &mut Encoder, version: i16) -> Result<(), EncodeError> {\nmatch self {\n");
        for a in &sorted {
            let _ = writeln!(o, "{enum_name}::{}(m) => m.encode(e, version),", a.name);
        }
        o.push_str("}\n}\n}\n\n");
        let _ = writeln!(
            o,
            "#[cfg(any(test, feature = \"arbitrary\"))]\nimpl {enum_name} {{\n/// A random body of `api_key` valid at `version`.\npub fn arbitrary(api_key: ApiKey, g: &mut crate::arbitrary::Gen, version: i16) -> Self {{\nmatch api_key {{"
        );
        for a in &sorted {
            let _ = writeln!(
                o,
                "ApiKey::{n} => {enum_name}::{n}({m}::arbitrary(g, version)),",
                n = a.name,
                m = msg(a)
            );
        }
        o.push_str("}\n}\n}\n\n");
    }
    o
}

fn main() -> Result<()> {
    let mut args = std::env::args_os().skip(1);
    let schemas = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(default_schemas);
    let out = args.next().map(PathBuf::from).unwrap_or_else(default_out);
    let files = generate(&schemas, &out)?;
    eprintln!(
        "weir-codegen: wrote {} files to {}",
        files.len(),
        out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_names() {
        assert_eq!(emit::snake("ThrottleTimeMs"), "throttle_time_ms");
        assert_eq!(emit::snake("ApiKeys"), "api_keys");
        assert_eq!(emit::snake("IsrNodes"), "isr_nodes");
        assert_eq!(emit::snake("ZkMigrationReady"), "zk_migration_ready");
        assert_eq!(emit::snake("Type"), "r#type");
    }

    #[test]
    fn version_ranges() {
        let v = schema::Versions::parse("3+").unwrap();
        assert!(v.contains(3) && v.contains(i16::MAX) && !v.contains(2));
        assert!(schema::Versions::parse("none").unwrap().is_empty());
        assert_eq!(
            schema::Versions::parse("0-7").unwrap(),
            schema::Versions { min: 0, max: 7 }
        );
    }

    #[test]
    fn comments_are_stripped_outside_strings() {
        let s = schema::strip_comments("{ \"a\": \"x//y\" // c\n}");
        assert_eq!(s, "{ \"a\": \"x//y\" \n}");
    }

    /// Regenerates into a temporary directory and fails if the committed output differs.
    #[test]
    fn committed_output_is_fresh() {
        let schemas = default_schemas();
        if !schemas.is_dir() {
            eprintln!("skipped: {} not found", schemas.display());
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let files = generate(&schemas, tmp.path()).unwrap();
        let committed = default_out();
        let mut stale = Vec::new();
        for f in &files {
            let name = f.file_name().unwrap();
            let fresh = std::fs::read_to_string(f).unwrap();
            let old = std::fs::read_to_string(committed.join(name)).unwrap_or_default();
            if fresh != old {
                stale.push(name.to_string_lossy().into_owned());
            }
        }
        let extra: Vec<String> = std::fs::read_dir(&committed)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| {
                !files
                    .iter()
                    .any(|f| f.file_name().unwrap().to_string_lossy() == *n)
            })
            .collect();
        assert!(
            stale.is_empty() && extra.is_empty(),
            "generated code is stale (run `cargo run -p weir-codegen`): differing {stale:?}, extra {extra:?}"
        );
    }
}
