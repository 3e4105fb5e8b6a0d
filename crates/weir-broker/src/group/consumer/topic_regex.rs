//! Regex subscriptions (ConsumerGroupHeartbeat v1's `SubscribedTopicRegex`, Kafka 4): a
//! member subscribes to every topic whose whole name matches. Kafka compiles them with RE2/J;
//! the `regex` crate speaks the same RE2 family (no backreferences, no lookaround, linear-time
//! matching), so a pattern that is valid for one is valid for the other except for corner
//! cases of Unicode classes, which topic names (`[a-zA-Z0-9._-]`) never exercise.

use weir_protocol::ErrorCode;

use super::HeartbeatError;

/// Compiled regexes larger than this are refused as invalid, in bytes (the `regex` crate's
/// own default size limit, named here so the bound is visible).
pub const TOPIC_REGEX_COMPILED_BYTES_MAX: usize = 10 * (1 << 20);

/// One member's regex, compiled to match whole topic names.
#[derive(Debug, Clone)]
pub struct TopicRegex {
    source: String,
    re: regex::Regex,
}

impl TopicRegex {
    /// Compiles `source` as Kafka's `throwIfRegularExpressionIsInvalid` does, with its error
    /// (INVALID_REGULAR_EXPRESSION) and message; the description is the `regex` crate's.
    pub fn compile(source: &str) -> Result<Self, HeartbeatError> {
        regex::RegexBuilder::new(&format!("^(?:{source})$"))
            .size_limit(TOPIC_REGEX_COMPILED_BYTES_MAX)
            .build()
            .map(|re| Self {
                source: source.to_string(),
                re,
            })
            .map_err(|e| {
                let description = match &e {
                    regex::Error::Syntax(s) => s
                        .lines()
                        .rev()
                        .find_map(|l| l.strip_prefix("error: "))
                        .unwrap_or(s)
                        .to_string(),
                    other => other.to_string(),
                };
                (
                    ErrorCode::INVALID_REGULAR_EXPRESSION,
                    format!(
                        "SubscribedTopicRegex `{source}` is not a valid regular expression: \
                         {description}."
                    ),
                )
            })
    }

    /// The regex as the member sent it.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole topic name matches (Java's `Matcher.matches`).
    pub fn matches(&self, topic: &str) -> bool {
        self.re.is_match(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_whole_names_and_refuses_bad_patterns() {
        let r = TopicRegex::compile("orders-.*").unwrap();
        assert!(r.matches("orders-eu"));
        assert!(!r.matches("old-orders-eu"), "anchored at the start");
        let r = TopicRegex::compile("a|b").unwrap();
        assert!(
            r.matches("a") && r.matches("b") && !r.matches("ab"),
            "alternation inside"
        );
        let (code, msg) = TopicRegex::compile("orders-(").unwrap_err();
        assert_eq!(code, ErrorCode::INVALID_REGULAR_EXPRESSION);
        assert!(
            msg.starts_with("SubscribedTopicRegex `orders-(` is not a valid regular expression: "),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
        // RE2 has no backreferences, like RE2/J.
        assert!(TopicRegex::compile(r"(a)\1").is_err());
    }
}
