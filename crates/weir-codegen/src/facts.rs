//! The in-repo facts of each message schema: writing them from the model and reading them back.
//!
//! A facts file (`crates/weir-codegen/facts/<Name>.facts`) holds one schema's facts, one per line;
//! the generator reads nothing else. `#` starts a comment line, blank lines are ignored, leading
//! spaces are layout only. The grammar (`<v>` is a version range: `3`, `0-7`, `12+` or `none`):
//!
//! ```text
//! message <Name> <kind> [key=<int16>] valid=<v> flexible=<v> [deprecated=<v>]
//!         [latest-unstable=true|false] [listeners=<a>,<b>,...]
//! struct <Name>                 a struct defined inline by the field of that type
//! common <Name> <v>             a `commonStructs` entry and its versions
//! field <Name> <type> <v> [nullable=<v>] [flexible=<v>] [tag=<u32> tagged=<v>]
//!       [default="<text>"] [ignorable] [map-key] [entity=<entityType>] [zero-copy]
//! ```
//!
//! `message` comes first; the structs follow in the model's order (the message's own struct,
//! then nested and common ones in the order the schema defines them), each followed by its
//! fields in wire order. `<type>` is the schema's type name (`int32`, `[]FetchTopic`,
//! `records`). In `default`, `\\` and `\"` escape themselves. Reading a written file gives back
//! the same model, which the tests check for every committed file.

use crate::schema::{self, Field, Message, Struct, Versions};
use anyhow::{Context, Result, anyhow, bail};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The extension of a facts file.
pub const EXTENSION: &str = "facts";

/// The facts file of message `name` in `dir`.
pub fn path_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.{EXTENSION}"))
}

/// Reads the facts of message `name` from `dir`.
pub fn load(dir: &Path, name: &str) -> Result<Message> {
    let path = path_of(dir, name);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("reading {}", path.display()))
}

fn word(s: &str, what: &str) -> Result<()> {
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c == '"' || c == ',') {
        bail!("{what} {s:?} cannot be written as a facts word");
    }
    Ok(())
}

fn quote(s: &str) -> Result<String> {
    if s.chars().any(char::is_control) {
        bail!("default {s:?} holds a control character");
    }
    Ok(format!(
        "\"{}\"",
        s.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// Writes the facts of one schema; `source` names the schema file in the header.
pub fn write(m: &Message, source: &str) -> Result<String> {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# weir-codegen facts of Kafka's {source} (no prose).\n\
         # Written by `cargo run -p weir-codegen -- facts`; do not edit."
    );
    word(&m.name, "message name")?;
    word(&m.kind, "message type")?;
    let _ = write!(o, "message {} {}", m.name, m.kind);
    if let Some(k) = m.api_key {
        let _ = write!(o, " key={k}");
    }
    let _ = write!(
        o,
        " valid={} flexible={}",
        m.valid.describe(),
        m.flexible.describe()
    );
    if let Some(d) = m.deprecated {
        let _ = write!(o, " deprecated={}", d.describe());
    }
    if let Some(u) = m.latest_unstable {
        let _ = write!(o, " latest-unstable={u}");
    }
    if !m.listeners.is_empty() {
        for l in &m.listeners {
            word(l, "listener")?;
        }
        let _ = write!(o, " listeners={}", m.listeners.join(","));
    }
    o.push('\n');
    for s in &m.structs {
        word(&s.name, "struct name")?;
        match s.common {
            Some(v) => {
                let _ = writeln!(o, "common {} {}", s.name, v.describe());
            }
            None => {
                let _ = writeln!(o, "struct {}", s.name);
            }
        }
        for f in &s.fields {
            write_field(&mut o, f)?;
        }
    }
    Ok(o)
}

fn write_field(o: &mut String, f: &Field) -> Result<()> {
    word(&f.name, "field name")?;
    let ty = f.ty.schema_name();
    word(&ty, "field type")?;
    let _ = write!(o, "  field {} {} {}", f.name, ty, f.versions.describe());
    if !f.nullable.is_empty() {
        let _ = write!(o, " nullable={}", f.nullable.describe());
    }
    if let Some(v) = f.flexible {
        let _ = write!(o, " flexible={}", v.describe());
    }
    if let Some((tag, tv)) = f.tag {
        let _ = write!(o, " tag={tag} tagged={}", tv.describe());
    }
    if let Some(d) = &f.default {
        let _ = write!(o, " default={}", quote(d)?);
    }
    if f.ignorable {
        o.push_str(" ignorable");
    }
    if f.map_key {
        o.push_str(" map-key");
    }
    if let Some(e) = &f.entity {
        word(e, "entity type")?;
        let _ = write!(o, " entity={e}");
    }
    if f.zero_copy {
        o.push_str(" zero-copy");
    }
    o.push('\n');
    Ok(())
}

/// Splits a line at whitespace outside double quotes (quotes and escapes are kept).
fn tokens(line: &str) -> Result<Vec<&str>> {
    let mut out = Vec::new();
    let mut start = None;
    let mut in_quote = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if in_quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quote = false;
            }
            continue;
        }
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                out.push(&line[s..i]);
            }
            continue;
        }
        if start.is_none() {
            start = Some(i);
        }
        if c == '"' {
            in_quote = true;
        }
    }
    if in_quote {
        bail!("unterminated quote");
    }
    if let Some(s) = start {
        out.push(&line[s..]);
    }
    Ok(out)
}

fn unquote(s: &str) -> Result<String> {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(|| anyhow!("{s:?} is not a quoted string"))?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(e @ ('\\' | '"')) => out.push(e),
                other => bail!("bad escape \\{other:?} in {s:?}"),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn versions(s: &str) -> Result<Versions> {
    Versions::parse(s).with_context(|| format!("version range {s:?}"))
}

/// Reads one facts file.
pub fn parse(text: &str) -> Result<Message> {
    let mut msg: Option<Message> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        parse_line(&mut msg, line).with_context(|| format!("line {}", n + 1))?;
    }
    let msg = msg.ok_or_else(|| anyhow!("no message line"))?;
    if msg.structs.first().map(|s| &s.name) != Some(&msg.name) {
        bail!("the first struct must be the message's own ({})", msg.name);
    }
    Ok(msg)
}

fn parse_line(msg: &mut Option<Message>, line: &str) -> Result<()> {
    let t = tokens(line)?;
    match (t[0], msg.as_mut()) {
        ("message", None) => {
            let [_, name, kind, attrs @ ..] = t.as_slice() else {
                bail!("message needs a name and a type");
            };
            *msg = Some(parse_message(name, kind, attrs)?);
        }
        ("message", Some(_)) => bail!("a second message line"),
        (_, None) => bail!("the message line must come first"),
        ("struct", Some(m)) => {
            let [_, name] = t.as_slice() else {
                bail!("struct takes a name only");
            };
            m.structs.push(Struct {
                name: name.to_string(),
                fields: Vec::new(),
                common: None,
            });
        }
        ("common", Some(m)) => {
            let [_, name, v] = t.as_slice() else {
                bail!("common takes a name and versions");
            };
            m.structs.push(Struct {
                name: name.to_string(),
                fields: Vec::new(),
                common: Some(versions(v)?),
            });
        }
        ("field", Some(m)) => {
            let s = m
                .structs
                .last_mut()
                .ok_or_else(|| anyhow!("field before any struct"))?;
            s.fields.push(parse_field(&t[1..])?);
        }
        (other, Some(_)) => bail!("unknown line kind {other:?}"),
    }
    Ok(())
}

fn parse_message(name: &str, kind: &str, attrs: &[&str]) -> Result<Message> {
    let mut m = Message {
        name: name.to_string(),
        kind: kind.to_string(),
        api_key: None,
        valid: Versions::NONE,
        flexible: Versions::NONE,
        deprecated: None,
        latest_unstable: None,
        listeners: Vec::new(),
        structs: Vec::new(),
    };
    let (mut valid, mut flexible) = (false, false);
    for a in attrs {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| anyhow!("message attribute {a:?} without a value"))?;
        match k {
            "key" => m.api_key = Some(v.parse().with_context(|| format!("key {v:?}"))?),
            "valid" => (m.valid, valid) = (versions(v)?, true),
            "flexible" => (m.flexible, flexible) = (versions(v)?, true),
            "deprecated" => m.deprecated = Some(versions(v)?),
            "latest-unstable" => {
                m.latest_unstable = Some(v.parse().with_context(|| format!("{a:?}"))?)
            }
            "listeners" => m.listeners = v.split(',').map(str::to_string).collect(),
            _ => bail!("unknown message attribute {k:?}"),
        }
    }
    if !valid || !flexible {
        bail!("message {name} needs valid= and flexible=");
    }
    Ok(m)
}

fn parse_field(t: &[&str]) -> Result<Field> {
    let [name, ty, v, attrs @ ..] = t else {
        bail!("field needs a name, a type and versions");
    };
    let mut f = Field {
        name: name.to_string(),
        ty: schema::parse_type(ty),
        versions: versions(v)?,
        nullable: Versions::NONE,
        tag: None,
        flexible: None,
        ignorable: false,
        default: None,
        entity: None,
        map_key: false,
        zero_copy: false,
    };
    let (mut tag, mut tagged) = (None, None);
    for a in attrs {
        match a.split_once('=') {
            None => match *a {
                "ignorable" => f.ignorable = true,
                "map-key" => f.map_key = true,
                "zero-copy" => f.zero_copy = true,
                _ => bail!("unknown field flag {a:?}"),
            },
            Some((k, v)) => match k {
                "nullable" => f.nullable = versions(v)?,
                "flexible" => f.flexible = Some(versions(v)?),
                "tag" => tag = Some(v.parse::<u32>().with_context(|| format!("tag {v:?}"))?),
                "tagged" => tagged = Some(versions(v)?),
                "default" => f.default = Some(unquote(v)?),
                "entity" => f.entity = Some(v.to_string()),
                _ => bail!("unknown field attribute {k:?}"),
            },
        }
    }
    f.tag = match (tag, tagged) {
        (Some(t), Some(tv)) => Some((t, tv)),
        (None, None) => None,
        _ => bail!("field {name}: tag= and tagged= go together"),
    };
    Ok(f)
}

/// The facts of every schema (`*.json`) in `schemas`, as (file name, text), sorted by name.
pub fn from_schemas(schemas: &Path) -> Result<Vec<(String, String)>> {
    let mut paths = Vec::new();
    for e in std::fs::read_dir(schemas).with_context(|| format!("reading {}", schemas.display()))? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "json") {
            paths.push(p);
        }
    }
    paths.sort();
    if paths.is_empty() {
        bail!("no *.json schema in {}", schemas.display());
    }
    let mut out = Vec::new();
    for p in paths {
        let m = schema::load(&p)?;
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if m.name != stem {
            bail!(
                "{}: message {} in a file of another name",
                p.display(),
                m.name
            );
        }
        let source = p.file_name().and_then(|s| s.to_str()).unwrap_or_default();
        let text = write(&m, source)?;
        let back = parse(&text).with_context(|| format!("re-reading the facts of {source}"))?;
        if back != m {
            bail!("{source}: its facts do not read back as the schema (facts.rs is out of step)");
        }
        out.push((format!("{}.{EXTENSION}", m.name), text));
    }
    Ok(out)
}

/// The `*.facts` file names in `dir`, sorted.
fn listed(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == EXTENSION)
            && let Some(n) = p.file_name().and_then(|s| s.to_str())
        {
            names.push(n.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// Writes `facts` into `dir` and removes any other facts file there.
pub fn write_dir(facts: &[(String, String)], dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in facts {
        std::fs::write(dir.join(name), text)?;
    }
    for old in listed(dir)? {
        if !facts.iter().any(|(n, _)| *n == old) {
            std::fs::remove_file(dir.join(&old))?;
        }
    }
    Ok(())
}

/// The files in which `dir` differs from `facts`: differing, missing or extra.
pub fn differences(facts: &[(String, String)], dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (name, text) in facts {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(old) if old == *text => {}
            Ok(_) => out.push(format!("{name} (differs)")),
            Err(_) => out.push(format!("{name} (missing)")),
        }
    }
    for old in listed(dir)? {
        if !facts.iter().any(|(n, _)| *n == old) {
            out.push(format!("{old} (extra)"));
        }
    }
    Ok(out)
}
