//! Reading the broker's `/metrics` text (Prometheus exposition format 0.0.4, which weir's
//! endpoint serves unless asked for OpenMetrics): one sample a line, `name{labels} value`,
//! label values escaped with `\\`, `\"` and `\n`. Comments and malformed lines are skipped:
//! `weir top` shows what it can read.

use std::collections::BTreeMap;

/// One sample: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    /// A label's value, empty when absent.
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// Every sample of `text`, in order.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        let (parsed, tail) = parse_labels(after)?;
        labels = parsed;
        rest = tail;
    }
    // The value, then an optional timestamp.
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// `k="v",k2="v2"}` and what follows the closing brace.
fn parse_labels(mut s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        s = s.trim_start_matches([',', ' ']);
        if let Some(tail) = s.strip_prefix('}') {
            return Some((labels, tail));
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim().to_string();
        s = s[eq + 1..].strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => break i,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                c => value.push(c),
            }
        };
        labels.insert(key, value);
        s = &s[end + 1..];
    }
}

/// The `q` quantile (0..=1) of a cumulative histogram given as `(upper bound, count)` pairs
/// in bound order: the upper bound of the first bucket holding it (Prometheus's
/// `histogram_quantile` without interpolation). `None` when the histogram is empty.
pub fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    buckets.iter().find(|(_, c)| *c >= rank).map(|(le, _)| *le)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_labels_and_escapes() {
        let text = "# HELP x y\n# TYPE x counter\nweir_topic_records_in_total{topic=\"a\"} 12\n\
                    weir_group_lag{group=\"g\\\"\\\\\\nx\",topic=\"t\",partition=\"0\"} 3 1700000000\n\
                    process_start_time_seconds 1.5e9\nbroken{ 1\nweir_fsync_duration_seconds_bucket{le=\"+Inf\"} 4\n";
        let s = parse(text);
        assert_eq!(s.len(), 4, "{s:?}");
        assert_eq!(s[0].name, "weir_topic_records_in_total");
        assert_eq!(s[0].label("topic"), "a");
        assert_eq!(s[0].value, 12.0);
        assert_eq!(s[1].label("group"), "g\"\\\nx");
        assert_eq!(s[1].label("partition"), "0");
        assert_eq!(s[1].value, 3.0);
        assert_eq!(s[2].value, 1.5e9);
        assert_eq!(s[3].label("le"), "+Inf");
    }

    #[test]
    fn quantiles_of_a_cumulative_histogram() {
        let b = [
            (0.001, 50.0),
            (0.01, 98.0),
            (0.1, 100.0),
            (f64::INFINITY, 100.0),
        ];
        assert_eq!(quantile(&b, 0.5), Some(0.001));
        assert_eq!(quantile(&b, 0.9), Some(0.01));
        assert_eq!(quantile(&b, 0.99), Some(0.1));
        assert_eq!(quantile(&[(0.1, 0.0), (f64::INFINITY, 0.0)], 0.99), None);
    }
}
