//! A strict parser of Prometheus text format 0.0.4 and OpenMetrics 1.0 text, for the
//! metrics tests: any line a real scraper would refuse (a bad name, an unescaped or wrongly
//! escaped label value, a duplicate series, a sample without its `# TYPE`, a family split
//! in two, a histogram whose buckets do not add up, OpenMetrics without `# EOF`) is an
//! error.

use std::collections::{BTreeMap, HashMap, HashSet};

/// One sample line.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug)]
pub struct Scrape {
    pub text: String,
    pub samples: Vec<Sample>,
}

impl Scrape {
    /// The value of the series with exactly these labels.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == want)
            .map(|s| s.value)
    }

    /// The sum over every series of `name` carrying these labels (and maybe others).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }
}

fn valid_metric_name(n: &str) -> bool {
    let mut c = n.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_' || ch == ':')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == ':')
}

fn valid_label_name(n: &str) -> bool {
    let mut c = n.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

fn parse_value(v: &str) -> Result<f64, String> {
    match v {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => v.parse::<f64>().map_err(|e| format!("value {v:?}: {e}")),
    }
}

/// `{a="b",...}` at the start of `s`: the labels and the rest.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = s.strip_prefix('{').ok_or("expected {")?;
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = &rest[..eq];
        if !valid_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, '\n')) => return Err("raw newline in a label value".into()),
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} twice"));
        }
        rest = &rest[end + 1..];
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err("expected , or }".into());
        }
    }
}

/// Parses `text`; `openmetrics` selects OpenMetrics 1.0 rules, else Prometheus 0.0.4.
pub fn parse(text: &str, openmetrics: bool) -> Result<Scrape, String> {
    if !text.ends_with('\n') {
        return Err("does not end with a newline".into());
    }
    let types_ok: &[&str] = if openmetrics {
        &[
            "counter",
            "gauge",
            "histogram",
            "summary",
            "unknown",
            "info",
            "stateset",
            "gaugehistogram",
        ]
    } else {
        &["counter", "gauge", "histogram", "summary", "untyped"]
    };
    let mut types: HashMap<String, String> = HashMap::new();
    let mut families_done: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut series: HashSet<(String, BTreeMap<String, String>)> = HashSet::new();
    let mut samples = Vec::new();
    let mut eof = false;
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if eof {
            return Err(at("content after # EOF".into()));
        }
        if let Some(comment) = line.strip_prefix('#') {
            if openmetrics && line == "# EOF" {
                eof = true;
                continue;
            }
            let mut parts = comment.trim_start().splitn(3, ' ');
            let kind = parts.next().unwrap_or("");
            if kind != "HELP" && kind != "TYPE" && kind != "UNIT" {
                if openmetrics {
                    return Err(at("OpenMetrics has no free comments".into()));
                }
                continue;
            }
            let name = parts.next().ok_or_else(|| at("no name".into()))?;
            if !valid_metric_name(name) {
                return Err(at("bad metric name".into()));
            }
            if families_done.contains(name) {
                return Err(at("family split in two".into()));
            }
            if current.as_deref() != Some(name) {
                if let Some(c) = current.take() {
                    families_done.insert(c);
                }
                current = Some(name.to_string());
            }
            if kind == "TYPE" {
                let ty = parts.next().ok_or_else(|| at("no type".into()))?;
                if !types_ok.contains(&ty) {
                    return Err(at(format!("unknown type {ty}")));
                }
                if types.insert(name.to_string(), ty.to_string()).is_some() {
                    return Err(at("second TYPE".into()));
                }
            }
            continue;
        }
        if line.is_empty() {
            return Err(at("empty line".into()));
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        if !valid_metric_name(name) {
            return Err(at("bad metric name".into()));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(at)?
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let rest = rest
            .strip_prefix(' ')
            .ok_or_else(|| at("no space before the value".into()))?;
        let mut fields = rest.split(' ');
        let value = parse_value(fields.next().unwrap_or("")).map_err(at)?;
        if let Some(ts) = fields.next() {
            ts.parse::<f64>()
                .map_err(|e| at(format!("timestamp: {e}")))?;
        }
        if fields.next().is_some() {
            return Err(at("trailing fields".into()));
        }
        // The family this sample belongs to, by its TYPE.
        let family = if types.contains_key(name) && !(openmetrics && types[name] == "counter") {
            name.to_string()
        } else {
            let suffixes: &[(&str, &[&str])] = &[
                ("_total", &["counter"]),
                ("_created", &["counter", "histogram", "summary"]),
                ("_bucket", &["histogram", "gaugehistogram"]),
                ("_sum", &["histogram", "summary"]),
                ("_count", &["histogram", "summary"]),
            ];
            suffixes
                .iter()
                .find_map(|(suffix, kinds)| {
                    let base = name.strip_suffix(suffix)?;
                    let ty = types.get(base)?;
                    kinds.contains(&ty.as_str()).then(|| base.to_string())
                })
                .ok_or_else(|| at("sample without a matching # TYPE".into()))?
        };
        if current.as_deref() != Some(family.as_str()) {
            return Err(at(format!("sample outside its family {family}")));
        }
        if !series.insert((name.to_string(), labels.clone())) {
            return Err(at("duplicate series".into()));
        }
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    if openmetrics && !eof {
        return Err("OpenMetrics without # EOF".into());
    }
    check_histograms(&samples, &types)?;
    Ok(Scrape {
        text: text.to_string(),
        samples,
    })
}

/// A series' labels other than `le`, in order.
type LabelPairs = Vec<(String, String)>;

/// Each histogram series: buckets non-decreasing with `le`, `+Inf` equal to `_count`.
fn check_histograms(samples: &[Sample], types: &HashMap<String, String>) -> Result<(), String> {
    for (family, _) in types.iter().filter(|(_, t)| *t == "histogram") {
        let mut buckets: BTreeMap<LabelPairs, Vec<(f64, f64)>> = BTreeMap::new();
        for s in samples
            .iter()
            .filter(|s| s.name == format!("{family}_bucket"))
        {
            let le = parse_value(s.labels.get("le").ok_or("bucket without le")?)?;
            let key: Vec<_> = s
                .labels
                .iter()
                .filter(|(k, _)| *k != "le")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            buckets.entry(key).or_default().push((le, s.value));
        }
        for (key, mut b) in buckets {
            b.sort_by(|x, y| x.0.total_cmp(&y.0));
            if b.windows(2).any(|w| w[1].1 < w[0].1) {
                return Err(format!("{family}{key:?}: buckets decrease"));
            }
            let inf = b
                .last()
                .filter(|x| x.0.is_infinite())
                .ok_or("no +Inf bucket")?;
            let count = samples
                .iter()
                .find(|s| {
                    s.name == format!("{family}_count")
                        && s.labels
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect::<Vec<_>>()
                            == key
                })
                .ok_or_else(|| format!("{family}{key:?}: no _count"))?;
            if count.value != inf.1 {
                return Err(format!(
                    "{family}{key:?}: +Inf {} != count {}",
                    inf.1, count.value
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn the_parser_refuses_what_a_scraper_refuses() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{g=\"x\\\"y\"} 1\n";
    assert_eq!(
        parse(ok, false).unwrap().value("a_total", &[("g", "x\"y")]),
        Some(1.0)
    );
    for bad in [
        "# TYPE a gauge\na{g=\"x\"y\"} 1\n",  // unescaped quote
        "# TYPE a gauge\na{g=\"x\\ty\"} 1\n", // unknown escape
        "# TYPE a gauge\na{g=\"x\ny\"} 1\n",  // raw newline
        "# TYPE a gauge\na 1\na 2\n",         // duplicate series
        "b 1\n",                              // no TYPE
        "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x=\"1\"} 1\n", // family split
        "# TYPE a gauge\na one\n",            // bad value
        "# TYPE a histogram\na_bucket{le=\"1\"} 2\na_bucket{le=\"+Inf\"} 1\na_count 1\na_sum 0\n",
    ] {
        assert!(parse(bad, false).is_err(), "{bad:?} parsed");
    }
    assert!(
        parse("# TYPE a gauge\na 1\n", true).is_err(),
        "OpenMetrics needs # EOF"
    );
    assert!(parse("# TYPE a counter\na_total 1\n# EOF\n", true).is_ok());
}
