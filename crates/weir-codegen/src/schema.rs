//! The typed model of a message schema, and reading it from Kafka's JSON.
//!
//! Only facts are taken from a schema: names, types, version ranges, tags,
//! defaults and flags. The `about` prose is never read. The generator itself
//! reads the model from the in-repo facts (`facts.rs`); the JSON reader here
//! only feeds the `facts` command. It refuses any key it does not know, so a
//! new schema attribute cannot be dropped from the facts unnoticed.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use std::path::Path;

/// A version range as written in a schema: `"3+"`, `"0-7"`, `"2"` or `"none"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    /// Lowest version, inclusive.
    pub min: i16,
    /// Highest version, inclusive (`i16::MAX` for an open range).
    pub max: i16,
}

impl Versions {
    /// The empty range (`"none"`).
    pub const NONE: Versions = Versions { min: 1, max: 0 };

    /// Parses a schema version string.
    pub fn parse(s: &str) -> Result<Versions> {
        let s = s.trim();
        if s == "none" {
            return Ok(Versions::NONE);
        }
        if let Some(min) = s.strip_suffix('+') {
            return Ok(Versions {
                min: min.parse()?,
                max: i16::MAX,
            });
        }
        if let Some((a, b)) = s.split_once('-') {
            return Ok(Versions {
                min: a.parse()?,
                max: b.parse()?,
            });
        }
        let v: i16 = s.parse().with_context(|| format!("version range {s:?}"))?;
        Ok(Versions { min: v, max: v })
    }

    /// True when no version is in the range.
    pub fn is_empty(self) -> bool {
        self.min > self.max
    }

    /// The intersection of two ranges.
    pub fn intersect(self, other: Versions) -> Versions {
        Versions {
            min: self.min.max(other.min),
            max: self.max.min(other.max),
        }
    }

    /// True when every version of `other` is in `self`.
    pub fn contains_range(self, other: Versions) -> bool {
        other.is_empty() || (self.min <= other.min && self.max >= other.max)
    }

    /// True when `v` is in the range.
    #[cfg(test)]
    pub fn contains(self, v: i16) -> bool {
        self.min <= v && v <= self.max
    }

    /// Human form used in generated docs.
    pub fn describe(self) -> String {
        if self.is_empty() {
            "none".to_string()
        } else if self.max == i16::MAX {
            format!("{}+", self.min)
        } else if self.min == self.max {
            format!("{}", self.min)
        } else {
            format!("{}-{}", self.min, self.max)
        }
    }
}

/// The wire type of a field.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// `int8`, `int16`, `int32`, `int64`, `uint16`, `float64`, `bool`, `uuid`.
    Prim(String),
    /// `string`.
    String,
    /// `bytes`.
    Bytes,
    /// `records`: opaque record batches.
    Records,
    /// A nested struct, by name.
    Struct(String),
    /// An array of a type.
    Array(Box<Type>),
}

impl Type {
    /// The schema's name of the type; `parse_type` reads it back.
    pub fn schema_name(&self) -> String {
        match self {
            Type::Prim(p) => p.clone(),
            Type::String => "string".into(),
            Type::Bytes => "bytes".into(),
            Type::Records => "records".into(),
            Type::Struct(s) => s.clone(),
            Type::Array(inner) => format!("[]{}", inner.schema_name()),
        }
    }
}

/// One field of a struct.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The schema's (PascalCase) name.
    pub name: String,
    /// The wire type.
    pub ty: Type,
    /// Versions in which the field exists.
    pub versions: Versions,
    /// Versions in which the field may be null.
    pub nullable: Versions,
    /// Tag and tagged versions for a tagged field.
    pub tag: Option<(u32, Versions)>,
    /// Field-level override of the flexible versions.
    pub flexible: Option<Versions>,
    /// Whether a writer may silently drop a non-default value.
    pub ignorable: bool,
    /// The schema's `default`, if any (numbers and booleans as their text).
    pub default: Option<String>,
    /// The schema's `entityType` (`topicName`, `brokerId`, ...), if any.
    pub entity: Option<String>,
    /// Whether the field is the key of its struct in a keyed collection (`mapKey`).
    pub map_key: bool,
    /// Whether a `bytes` field is read without copying (`zeroCopy`).
    pub zero_copy: bool,
}

/// A struct: a message or a nested/common structure.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    /// The Rust name.
    pub name: String,
    /// Fields in wire order.
    pub fields: Vec<Field>,
    /// For a schema's `commonStructs` entry, its `versions`; `None` for a struct
    /// defined inline by the field of that type.
    pub common: Option<Versions>,
}

/// One schema file.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The message name (`FetchRequest`).
    pub name: String,
    /// The schema's `type`: `request`, `response`, `header` or `data`.
    pub kind: String,
    /// The API key, for requests and responses.
    pub api_key: Option<i16>,
    /// Valid versions.
    pub valid: Versions,
    /// Flexible versions.
    pub flexible: Versions,
    /// The schema's `deprecatedVersions`, if given.
    pub deprecated: Option<Versions>,
    /// The schema's `latestVersionUnstable`, if given.
    pub latest_unstable: Option<bool>,
    /// The schema's `listeners`, in its order.
    pub listeners: Vec<String>,
    /// The top-level struct followed by every nested and common struct.
    pub structs: Vec<Struct>,
}

/// Removes `//` comments (outside string literals).
pub fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if c == '/' && chars.peek() == Some(&'/') {
            for n in chars.by_ref() {
                if n == '\n' {
                    out.push('\n');
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Parses a schema type name (`int32`, `[]FetchTopic`, `records`, ...).
pub fn parse_type(t: &str) -> Type {
    if let Some(inner) = t.strip_prefix("[]") {
        return Type::Array(Box::new(parse_type(inner)));
    }
    match t {
        "int8" | "int16" | "int32" | "int64" | "uint16" | "uint32" | "float64" | "bool"
        | "uuid" => Type::Prim(t.to_string()),
        "string" => Type::String,
        "bytes" => Type::Bytes,
        "records" => Type::Records,
        other => Type::Struct(other.to_string()),
    }
}

/// Keys a schema's top level may have.
const MESSAGE_KEYS: &[&str] = &[
    "name",
    "type",
    "apiKey",
    "validVersions",
    "flexibleVersions",
    "deprecatedVersions",
    "latestVersionUnstable",
    "listeners",
    "fields",
    "commonStructs",
    "about",
];

/// Keys a `commonStructs` entry may have.
const COMMON_KEYS: &[&str] = &["name", "versions", "fields", "about"];

/// Keys a field may have.
const FIELD_KEYS: &[&str] = &[
    "name",
    "type",
    "versions",
    "nullableVersions",
    "flexibleVersions",
    "tag",
    "taggedVersions",
    "default",
    "ignorable",
    "entityType",
    "mapKey",
    "zeroCopy",
    "fields",
    "about",
];

/// Fails on a key outside `known`, naming `what`.
fn known_keys(v: &Value, known: &[&str], what: &str) -> Result<()> {
    let Some(obj) = v.as_object() else {
        bail!("{what}: not an object");
    };
    for k in obj.keys() {
        if !known.contains(&k.as_str()) {
            bail!("{what}: unknown key {k:?} (teach schema.rs and facts.rs about it)");
        }
    }
    Ok(())
}

fn versions_of(v: &Value, key: &str) -> Result<Option<Versions>> {
    match v.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(Versions::parse(s)?)),
        Some(other) => bail!("{key}: not a string: {other}"),
    }
}

fn bool_of(v: &Value, key: &str) -> Result<Option<bool>> {
    match v.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => bail!("{key}: not a boolean: {other}"),
    }
}

/// Reads one schema file.
pub fn load(path: &Path) -> Result<Message> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value = serde_json::from_str(&strip_comments(&text))
        .with_context(|| format!("parsing {}", path.display()))?;
    parse_message(&v).with_context(|| format!("reading {}", path.display()))
}

fn parse_message(v: &Value) -> Result<Message> {
    known_keys(v, MESSAGE_KEYS, "message")?;
    let name = str_of(v, "name")
        .ok_or_else(|| anyhow!("no name"))?
        .to_string();
    let kind = str_of(v, "type")
        .ok_or_else(|| anyhow!("{name}: no type"))?
        .to_string();
    let api_key = match v.get("apiKey") {
        None => None,
        Some(k) => Some(
            k.as_i64()
                .and_then(|k| i16::try_from(k).ok())
                .ok_or_else(|| anyhow!("{name}: apiKey {k} is not an int16"))?,
        ),
    };
    let valid = versions_of(v, "validVersions")?.unwrap_or(Versions::NONE);
    let flexible = versions_of(v, "flexibleVersions")?.unwrap_or(Versions::NONE);
    let deprecated = versions_of(v, "deprecatedVersions")?;
    let latest_unstable = bool_of(v, "latestVersionUnstable")?;
    let listeners = match v.get("listeners") {
        None => Vec::new(),
        Some(l) => l
            .as_array()
            .ok_or_else(|| anyhow!("{name}: listeners is not an array"))?
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| anyhow!("{name}: listener {x} is not a string"))
            })
            .collect::<Result<_>>()?,
    };
    let mut structs = Vec::new();
    let empty = Vec::new();
    let fields = v.get("fields").and_then(Value::as_array).unwrap_or(&empty);
    let top = Struct {
        name: name.clone(),
        fields: parse_fields(fields, &mut structs)?,
        common: None,
    };
    let mut all = vec![top];
    if let Some(common) = v.get("commonStructs").and_then(Value::as_array) {
        for c in common {
            known_keys(c, COMMON_KEYS, "common struct")?;
            let cname = str_of(c, "name").ok_or_else(|| anyhow!("common struct without name"))?;
            let cversions = versions_of(c, "versions")?
                .ok_or_else(|| anyhow!("common struct {cname} without versions"))?;
            let cf = c.get("fields").and_then(Value::as_array).unwrap_or(&empty);
            let fields = parse_fields(cf, &mut structs)?;
            structs.push(Struct {
                name: cname.to_string(),
                fields,
                common: Some(cversions),
            });
        }
    }
    all.extend(structs);
    let mut seen = std::collections::HashSet::new();
    for s in &all {
        if !seen.insert(s.name.clone()) {
            bail!("struct {} defined twice", s.name);
        }
    }
    Ok(Message {
        name,
        kind,
        api_key,
        valid,
        flexible,
        deprecated,
        latest_unstable,
        listeners,
        structs: all,
    })
}

fn parse_fields(fields: &[Value], structs: &mut Vec<Struct>) -> Result<Vec<Field>> {
    let mut out = Vec::new();
    for f in fields {
        known_keys(f, FIELD_KEYS, "field")?;
        let name = str_of(f, "name")
            .ok_or_else(|| anyhow!("field without name"))?
            .to_string();
        let tstr = str_of(f, "type").ok_or_else(|| anyhow!("field {name} without type"))?;
        let ty = parse_type(tstr);
        let versions =
            versions_of(f, "versions")?.ok_or_else(|| anyhow!("field {name} without versions"))?;
        let nullable = versions_of(f, "nullableVersions")?.unwrap_or(Versions::NONE);
        let tag = match f.get("tag") {
            Some(t) => {
                let t = t
                    .as_u64()
                    .ok_or_else(|| anyhow!("field {name}: tag {t} is not a number"))?;
                let tv = versions_of(f, "taggedVersions")?
                    .ok_or_else(|| anyhow!("tagged field {name} without taggedVersions"))?;
                Some((u32::try_from(t)?, tv))
            }
            None if f.get("taggedVersions").is_some() => {
                bail!("field {name}: taggedVersions without tag")
            }
            None => None,
        };
        let flexible = versions_of(f, "flexibleVersions")?;
        let ignorable = bool_of(f, "ignorable")?.unwrap_or(false);
        let default = match f.get("default") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(other) => bail!("field {name}: default {other} is not a scalar"),
        };
        let entity = match f.get("entityType") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => bail!("field {name}: entityType {other} is not a string"),
        };
        let map_key = bool_of(f, "mapKey")?.unwrap_or(false);
        let zero_copy = bool_of(f, "zeroCopy")?.unwrap_or(false);
        if let Some(sub) = f.get("fields").and_then(Value::as_array) {
            let sname = match &ty {
                Type::Struct(s) => s.clone(),
                Type::Array(inner) => match inner.as_ref() {
                    Type::Struct(s) => s.clone(),
                    other => bail!("field {name}: fields on a non-struct array {other:?}"),
                },
                other => bail!("field {name}: fields on non-struct type {other:?}"),
            };
            let sf = parse_fields(sub, structs)?;
            structs.push(Struct {
                name: sname,
                fields: sf,
                common: None,
            });
        }
        out.push(Field {
            name,
            ty,
            versions,
            nullable,
            tag,
            flexible,
            ignorable,
            default,
            entity,
            map_key,
            zero_copy,
        });
    }
    Ok(out)
}
