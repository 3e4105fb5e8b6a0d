//! Reading Kafka's JSON message schemas into a small typed model.
//!
//! Only facts are taken from a schema: names, types, version ranges, tags and
//! defaults. The `about` prose is never read.

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

/// One field of a struct.
#[derive(Debug, Clone)]
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
    /// The schema's `default`, if any.
    pub default: Option<String>,
}

/// A struct: a message or a nested/common structure.
#[derive(Debug, Clone)]
pub struct Struct {
    /// The Rust name.
    pub name: String,
    /// Fields in wire order.
    pub fields: Vec<Field>,
}

/// One schema file.
#[derive(Debug, Clone)]
pub struct Message {
    /// The message name (`FetchRequest`).
    pub name: String,
    /// The API key, for requests and responses.
    pub api_key: Option<i16>,
    /// Valid versions.
    pub valid: Versions,
    /// Flexible versions.
    pub flexible: Versions,
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

fn parse_type(t: &str) -> Type {
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

/// Reads one schema file.
pub fn load(path: &Path) -> Result<Message> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value = serde_json::from_str(&strip_comments(&text))
        .with_context(|| format!("parsing {}", path.display()))?;
    let name = str_of(&v, "name")
        .ok_or_else(|| anyhow!("no name"))?
        .to_string();
    let api_key = v.get("apiKey").and_then(Value::as_i64).map(|k| k as i16);
    let valid = Versions::parse(str_of(&v, "validVersions").unwrap_or("none"))?;
    let flexible = Versions::parse(str_of(&v, "flexibleVersions").unwrap_or("none"))?;
    let mut structs = Vec::new();
    let mut top = Struct {
        name: name.clone(),
        fields: Vec::new(),
    };
    let empty = Vec::new();
    let fields = v.get("fields").and_then(Value::as_array).unwrap_or(&empty);
    top.fields = parse_fields(fields, &mut structs)?;
    let mut all = vec![top];
    if let Some(common) = v.get("commonStructs").and_then(Value::as_array) {
        for c in common {
            let cname = str_of(c, "name").ok_or_else(|| anyhow!("common struct without name"))?;
            let cf = c.get("fields").and_then(Value::as_array).unwrap_or(&empty);
            let fields = parse_fields(cf, &mut structs)?;
            structs.push(Struct {
                name: cname.to_string(),
                fields,
            });
        }
    }
    all.extend(structs);
    let mut seen = std::collections::HashSet::new();
    for s in &all {
        if !seen.insert(s.name.clone()) {
            bail!("{}: struct {} defined twice", path.display(), s.name);
        }
    }
    Ok(Message {
        name,
        api_key,
        valid,
        flexible,
        structs: all,
    })
}

fn parse_fields(fields: &[Value], structs: &mut Vec<Struct>) -> Result<Vec<Field>> {
    let mut out = Vec::new();
    for f in fields {
        let name = str_of(f, "name")
            .ok_or_else(|| anyhow!("field without name"))?
            .to_string();
        let tstr = str_of(f, "type").ok_or_else(|| anyhow!("field {name} without type"))?;
        let ty = parse_type(tstr);
        let versions = Versions::parse(
            str_of(f, "versions").ok_or_else(|| anyhow!("field {name} without versions"))?,
        )?;
        let nullable = Versions::parse(str_of(f, "nullableVersions").unwrap_or("none"))?;
        let tag = match f.get("tag").and_then(Value::as_u64) {
            Some(t) => {
                let tv = Versions::parse(
                    str_of(f, "taggedVersions")
                        .ok_or_else(|| anyhow!("tagged field {name} without taggedVersions"))?,
                )?;
                Some((u32::try_from(t)?, tv))
            }
            None => None,
        };
        let flexible = match str_of(f, "flexibleVersions") {
            Some(s) => Some(Versions::parse(s)?),
            None => None,
        };
        let ignorable = f.get("ignorable").and_then(Value::as_bool).unwrap_or(false);
        let default = match f.get("default") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            _ => None,
        };
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
        });
    }
    Ok(out)
}
