//! The edges of prometheus-client's text encoder, fixed here:
//!
//! - It writes label values as given, unescaped (0.24), so a group id holding a quote, a
//!   backslash or a newline would break the exposition. Every label value weir emits is a
//!   [`Label`], which escapes `\`, `"` and newline as both formats require.
//! - It writes only OpenMetrics 1.0. [`to_prometheus_text`] turns that into Prometheus text
//!   format 0.0.4 for scrapers that do not ask for OpenMetrics: no `# EOF` or `# UNIT`
//!   lines, and a counter's `# HELP`/`# TYPE` name its `_total` sample.

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelValue, LabelValueEncoder};

/// `Content-Type` of Prometheus text format 0.0.4.
pub(crate) const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// `Content-Type` of OpenMetrics 1.0 text.
pub(crate) const OPENMETRICS_TEXT: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A label value: text (escaped when encoded) or an integer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Label<'a> {
    /// Text; `\`, `"` and newline are escaped.
    Str(&'a str),
    /// A partition index and the like.
    Int(i64),
}

impl EncodeLabelValue for Label<'_> {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        match self {
            Label::Int(n) => write!(encoder, "{n}"),
            Label::Str(s) => {
                let mut rest = *s;
                while let Some(i) = rest.find(['\\', '"', '\n']) {
                    encoder.write_str(&rest[..i])?;
                    encoder.write_str(match rest.as_bytes()[i] {
                        b'\\' => "\\\\",
                        b'"' => "\\\"",
                        _ => "\\n",
                    })?;
                    rest = &rest[i + 1..];
                }
                encoder.write_str(rest)
            }
        }
    }
}

/// Whether an `Accept` header asks for OpenMetrics (a media range
/// `application/openmetrics-text` with a q-value above 0), as Prometheus's scrape does.
pub(crate) fn wants_openmetrics(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        if !media.eq_ignore_ascii_case("application/openmetrics-text") {
            return false;
        }
        !parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f64>().ok())
                .is_some_and(|q| q <= 0.0)
        })
    })
}

/// Prometheus text format 0.0.4 from prometheus-client's OpenMetrics text.
pub(crate) fn to_prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut lines = openmetrics.lines().peekable();
    while let Some(line) = lines.next() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        // prometheus-client writes `# HELP name ...` then `# TYPE name type`.
        if let Some(help) = line.strip_prefix("# HELP ")
            && let Some(ty) = lines.peek().and_then(|l| l.strip_prefix("# TYPE "))
        {
            let (name, kind) = ty.split_once(' ').unwrap_or((ty, ""));
            let text = help.strip_prefix(name).unwrap_or(help);
            let (name, kind) = match kind {
                "counter" => (format!("{name}_total"), "counter"),
                "gauge" | "histogram" | "summary" => (name.to_string(), kind),
                _ => (name.to_string(), "untyped"),
            };
            let _ = writeln!(out, "# HELP {name}{text}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            lines.next();
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::DescriptorEncoder;
    use prometheus_client::metrics::MetricType;
    use prometheus_client::registry::Registry;

    use super::*;

    #[derive(Debug)]
    struct One(&'static str);

    impl prometheus_client::collector::Collector for One {
        fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
            let mut m = e.encode_descriptor("weir_x", "An x.", None, MetricType::Counter)?;
            let labels = [("group", Label::Str(self.0)), ("partition", Label::Int(3))];
            m.encode_family(&labels)?
                .encode_counter::<prometheus_client::encoding::NoLabelSet, u64, u64>(&7, None)
        }
    }

    fn render(group: &'static str) -> String {
        let mut r = Registry::default();
        r.register_collector(Box::new(One(group)));
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &r).unwrap();
        s
    }

    #[test]
    fn label_values_are_escaped() {
        let om = render("a\"b\\c\nd");
        assert!(
            om.contains(r#"weir_x_total{group="a\"b\\c\nd",partition="3"} 7"#),
            "{om}"
        );
        assert_eq!(om.lines().count(), 4, "one sample line: {om}");
    }

    #[test]
    fn openmetrics_becomes_prometheus_text() {
        let text = to_prometheus_text(&render("g"));
        assert_eq!(
            text,
            "# HELP weir_x_total An x.\n# TYPE weir_x_total counter\n\
             weir_x_total{group=\"g\",partition=\"3\"} 7\n"
        );
    }

    #[test]
    fn accept_negotiation() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(wants_openmetrics(prometheus));
        assert!(!wants_openmetrics("text/plain;version=0.0.4"));
        assert!(!wants_openmetrics("*/*"));
        assert!(!wants_openmetrics("application/openmetrics-text; q=0"));
    }
}
