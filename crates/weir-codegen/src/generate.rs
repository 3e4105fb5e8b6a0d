//! Generating the whole `messages/` directory: one module per API, the data types, and `mod.rs`.

use crate::{APIS, DATA_TYPES, emit, facts, schema, workspace_root};
use anyhow::{Context, Result, bail};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Api {
    name: String,
    module: String,
    key: i16,
    request: schema::Message,
    response: schema::Message,
}

/// Generates every file into `out` from the facts in `facts_dir`, then formats them with rustfmt.
pub fn generate(facts_dir: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut files = Vec::new();
    let mut apis = Vec::new();
    for name in APIS {
        let request = facts::load(facts_dir, &format!("{name}Request"))?;
        let response = facts::load(facts_dir, &format!("{name}Response"))?;
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
        let msg = facts::load(facts_dir, name)?;
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

/// The files in which `committed` differs from what `facts_dir` generates: differing, missing
/// or extra (generation goes to a temporary directory; `committed` is only read).
pub fn differences(facts_dir: &Path, committed: &Path) -> Result<Vec<String>> {
    let tmp = tempfile::tempdir()?;
    let files = generate(facts_dir, tmp.path())?;
    let mut out = Vec::new();
    let mut names = Vec::new();
    for f in &files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let fresh = std::fs::read_to_string(f)?;
        match std::fs::read_to_string(committed.join(&name)) {
            Ok(old) if old == fresh => {}
            Ok(_) => out.push(format!("{name} (differs)")),
            Err(_) => out.push(format!("{name} (missing)")),
        }
        names.push(name);
    }
    for e in
        std::fs::read_dir(committed).with_context(|| format!("reading {}", committed.display()))?
    {
        let n = e?.file_name().to_string_lossy().into_owned();
        if !names.contains(&n) {
            out.push(format!("{n} (extra)"));
        }
    }
    Ok(out)
}
