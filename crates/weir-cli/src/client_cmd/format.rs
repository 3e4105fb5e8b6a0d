//! Record output for `weir consume` (raw, JSON lines, kcat-like templates) and the JSON-lines
//! record input of `weir produce`.

use anyhow::{Context as _, bail};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use weir_client::ConsumedRecord;

/// How records are printed.
#[derive(Debug, Clone)]
pub enum Output {
    /// The value, then a newline.
    Raw,
    /// One JSON object per record.
    Json,
    /// A kcat-style template.
    Template(Vec<Token>),
}

/// A piece of a `--format` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Text printed as is.
    Literal(String),
    /// `%s` value.
    Value,
    /// `%k` key.
    Key,
    /// `%S` value length (−1 for null).
    ValueLen,
    /// `%K` key length (−1 for null).
    KeyLen,
    /// `%t` topic.
    Topic,
    /// `%p` partition.
    Partition,
    /// `%o` offset.
    Offset,
    /// `%T` timestamp (ms).
    Timestamp,
    /// `%h` headers as `k=v,k2=v2`.
    Headers,
}

/// Parses a kcat-style template: `%s %k %S %K %t %p %o %T %h %%`, and `\n \t \r \\`.
pub fn parse_template(s: &str) -> anyhow::Result<Vec<Token>> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                let t = match chars.next() {
                    Some('s') => Token::Value,
                    Some('k') => Token::Key,
                    Some('S') => Token::ValueLen,
                    Some('K') => Token::KeyLen,
                    Some('t') => Token::Topic,
                    Some('p') => Token::Partition,
                    Some('o') => Token::Offset,
                    Some('T') => Token::Timestamp,
                    Some('h') => Token::Headers,
                    Some('%') => {
                        lit.push('%');
                        continue;
                    }
                    other => bail!(
                        "--format: unknown token %{} (use %s %k %S %K %t %p %o %T %h %%)",
                        other.map(String::from).unwrap_or_default()
                    ),
                };
                if !lit.is_empty() {
                    out.push(Token::Literal(std::mem::take(&mut lit)));
                }
                out.push(t);
            }
            '\\' => match chars.next() {
                Some('n') => lit.push('\n'),
                Some('t') => lit.push('\t'),
                Some('r') => lit.push('\r'),
                Some('\\') => lit.push('\\'),
                Some(other) => {
                    lit.push('\\');
                    lit.push(other);
                }
                None => lit.push('\\'),
            },
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Token::Literal(lit));
    }
    Ok(out)
}

fn text(b: &Option<Bytes>) -> String {
    b.as_ref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

fn json_text(b: &Option<Bytes>) -> Value {
    match b {
        None => Value::Null,
        Some(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
    }
}

/// A record as the JSON object `weir consume --json` prints (and `weir produce --json` reads).
pub fn record_json(r: &ConsumedRecord) -> Value {
    json!({
        "topic": r.topic,
        "partition": r.partition,
        "offset": r.offset,
        "timestamp": r.timestamp_ms,
        "key": json_text(&r.key),
        "value": json_text(&r.value),
        "headers": r.headers.iter().map(|(k, v)| json!([k, json_text(v)])).collect::<Vec<_>>(),
    })
}

/// Appends one record's output to `out`.
pub fn write_record(out: &mut Vec<u8>, format: &Output, r: &ConsumedRecord) {
    use std::io::Write as _;
    match format {
        Output::Raw => {
            if let Some(v) = &r.value {
                out.extend_from_slice(v);
            }
            out.push(b'\n');
        }
        Output::Json => {
            let _ = serde_json::to_writer(&mut *out, &record_json(r));
            out.push(b'\n');
        }
        Output::Template(tokens) => {
            let len = |b: &Option<Bytes>| b.as_ref().map_or(-1, |b| b.len() as i64);
            for t in tokens {
                let _ = match t {
                    Token::Literal(s) => out.write_all(s.as_bytes()),
                    Token::Value => out.write_all(r.value.as_deref().unwrap_or_default()),
                    Token::Key => out.write_all(r.key.as_deref().unwrap_or_default()),
                    Token::ValueLen => write!(out, "{}", len(&r.value)),
                    Token::KeyLen => write!(out, "{}", len(&r.key)),
                    Token::Topic => out.write_all(r.topic.as_bytes()),
                    Token::Partition => write!(out, "{}", r.partition),
                    Token::Offset => write!(out, "{}", r.offset),
                    Token::Timestamp => write!(out, "{}", r.timestamp_ms),
                    Token::Headers => {
                        let h: Vec<String> = r
                            .headers
                            .iter()
                            .map(|(k, v)| format!("{k}={}", text(v)))
                            .collect();
                        out.write_all(h.join(",").as_bytes())
                    }
                };
            }
        }
    }
}

/// A record read from a `weir produce --json` line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonRecord {
    /// `"key"`: a string or null.
    pub key: Option<Bytes>,
    /// `"value"`: a string or null.
    pub value: Option<Bytes>,
    /// `"headers"`: `[[k, v], ...]` or `{"k": v, ...}`.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// `"partition"`.
    pub partition: Option<i32>,
    /// `"timestamp"`: epoch ms.
    pub timestamp_ms: Option<i64>,
}

fn opt_bytes(v: Option<&Value>, field: &str) -> anyhow::Result<Option<Bytes>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Bytes::from(s.clone()))),
        Some(other) => bail!("\"{field}\" must be a string or null, not {other}"),
    }
}

/// Parses one JSON line (the fields of [`record_json`]; `topic` and `offset` are ignored).
pub fn parse_json_record(line: &str) -> anyhow::Result<JsonRecord> {
    let v: Value = serde_json::from_str(line).context("not a JSON object")?;
    let Value::Object(obj) = v else {
        bail!("not a JSON object");
    };
    let headers = match obj.get("headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::Array(pair) if pair.len() == 2 => {
                    let k = pair[0].as_str().context("a header key must be a string")?;
                    Ok((k.to_string(), opt_bytes(Some(&pair[1]), "header value")?))
                }
                _ => bail!("\"headers\" items must be [key, value] pairs"),
            })
            .collect::<anyhow::Result<_>>()?,
        Some(Value::Object(map)) => headers_from_map(map)?,
        Some(other) => bail!("\"headers\" must be an array of pairs or an object, not {other}"),
    };
    let partition = match obj.get("partition") {
        None | Some(Value::Null) => None,
        Some(p) => Some(
            p.as_i64()
                .and_then(|p| i32::try_from(p).ok())
                .context("\"partition\" must be a 32-bit integer")?,
        ),
    };
    let timestamp_ms = match obj.get("timestamp") {
        None | Some(Value::Null) => None,
        Some(t) => Some(
            t.as_i64()
                .context("\"timestamp\" must be integer milliseconds")?,
        ),
    };
    Ok(JsonRecord {
        key: opt_bytes(obj.get("key"), "key")?,
        value: opt_bytes(obj.get("value"), "value")?,
        headers,
        partition,
        timestamp_ms,
    })
}

fn headers_from_map(map: &Map<String, Value>) -> anyhow::Result<Vec<(String, Option<Bytes>)>> {
    map.iter()
        .map(|(k, v)| Ok((k.clone(), opt_bytes(Some(v), "header value")?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_client::TimestampType;

    fn record() -> ConsumedRecord {
        ConsumedRecord {
            topic: "t".into(),
            partition: 2,
            offset: 41,
            timestamp_ms: 1000,
            timestamp_type: TimestampType::CreateTime,
            key: Some(Bytes::from_static(b"k1")),
            value: Some(Bytes::from_static(b"hello")),
            headers: vec![
                ("a".into(), Some(Bytes::from_static(b"1"))),
                ("b".into(), None),
            ],
        }
    }

    #[test]
    fn templates_render_like_kcat() {
        let tokens = parse_template("%t/%p@%o %T k=%k(%K) %s(%S) [%h] 100%%\\n").unwrap();
        let mut out = Vec::new();
        write_record(&mut out, &Output::Template(tokens), &record());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "t/2@41 1000 k=k1(2) hello(5) [a=1,b=] 100%\n"
        );
        assert!(parse_template("%x").is_err());
    }

    #[test]
    fn json_output_reads_back_as_produce_input() {
        let line = record_json(&record()).to_string();
        let parsed = parse_json_record(&line).unwrap();
        assert_eq!(parsed.key.as_deref(), Some(&b"k1"[..]));
        assert_eq!(parsed.value.as_deref(), Some(&b"hello"[..]));
        assert_eq!(parsed.headers, record().headers);
        assert_eq!(parsed.partition, Some(2));
        assert_eq!(parsed.timestamp_ms, Some(1000));
        let map = parse_json_record(r#"{"value":null,"headers":{"x":"y"}}"#).unwrap();
        assert_eq!(map.value, None);
        assert_eq!(
            map.headers,
            vec![("x".to_string(), Some(Bytes::from_static(b"y")))]
        );
        assert!(parse_json_record("[1]").is_err());
        assert!(parse_json_record(r#"{"partition":"x"}"#).is_err());
    }
}
