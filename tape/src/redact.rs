//! Scrubs secrets out of every tape line before it reaches disk: API keys (`sk-…`),
//! bearer tokens, `Authorization:` headers, string values of JSON fields named like
//! key/token/secret/password (also as the last key of a delta path), and the values of
//! the process's secret-looking environment variables. One precompiled regex, one pass.

use std::borrow::Cow;

use regex::{Captures, Regex};

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Environment variable names containing one of these carry secrets.
const SECRET_ENV_WORDS: [&str; 4] = ["KEY", "TOKEN", "SECRET", "PASSWORD"];
/// Shorter environment values are too likely to occur by chance (`true`, `1234`).
const MIN_ENV_SECRET_LEN: usize = 8;

const FIXED_PATTERNS: &str = concat!(
    r"(?P<sk>(?-u:\b)sk-[A-Za-z0-9_-]{16,})",
    r#"|(?P<bearer>(?i:bearer)\s+)[A-Za-z0-9._~+/=-]{8,}"#,
    r#"|(?P<auth>(?i:authorization)"?\s*:\s*"?)[^"\\\r\n]+"#,
    // `"api_key": "..."`: string values only, so `"prompt_tokens": 12` stays.
    r#"|(?P<field>"[^"\\]*(?i:key|token|secret|password|passwd)[^"\\]*"\s*:\s*")(?:[^"\\]|\\.)*""#,
    // a delta path ending in such a key: `[["user","password"],"..."]`
    r#"|(?P<path>"[^"\\]*(?i:key|token|secret|password|passwd)[^"\\]*"\]\s*,\s*")(?:[^"\\]|\\.)*""#,
);

/// A compiled set of secret patterns.
#[derive(Debug, Clone)]
pub struct Redactor {
    pattern: Regex,
}

impl Redactor {
    /// The fixed patterns plus the values of this process's secret-looking environment variables.
    pub fn from_env() -> Self {
        let secrets = std::env::vars().filter_map(|(name, value)| {
            let name = name.to_ascii_uppercase();
            SECRET_ENV_WORDS
                .iter()
                .any(|w| name.contains(w))
                .then_some(value)
        });
        Self::with_secrets(secrets)
    }

    /// The fixed patterns plus the given literal secrets (those of 8 bytes or more).
    pub fn with_secrets(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut literals: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_ENV_SECRET_LEN)
            .flat_map(|s| {
                // A secret appears in a line either raw or JSON-escaped.
                let escaped = serde_json::to_string(&s).unwrap_or_default();
                let escaped = escaped.trim_matches('"').to_owned();
                [s, escaped]
            })
            .collect();
        literals.sort_by_key(|s| std::cmp::Reverse(s.len()));
        literals.dedup();
        let mut source = String::new();
        if !literals.is_empty() {
            let alternatives: Vec<String> = literals.iter().map(|s| regex::escape(s)).collect();
            source = format!("(?P<env>{})|", alternatives.join("|"));
        }
        source.push_str(FIXED_PATTERNS);
        let pattern = Regex::new(&source).unwrap_or_else(|_| fixed_only());
        Self { pattern }
    }

    /// `line` with every secret replaced by `[REDACTED]`; borrowed when nothing matched.
    pub fn redact<'a>(&self, line: &'a str) -> Cow<'a, str> {
        self.pattern.replace_all(line, |caps: &Captures<'_>| {
            for (group, closing) in [
                ("bearer", ""),
                ("auth", ""),
                ("field", "\""),
                ("path", "\""),
            ] {
                if let Some(prefix) = caps.name(group) {
                    return format!("{}{REDACTED}{closing}", prefix.as_str());
                }
            }
            REDACTED.to_owned()
        })
    }
}

impl Default for Redactor {
    fn default() -> Self {
        Self::from_env()
    }
}

/// The fixed patterns alone; they are constant and tested, so this cannot fail in practice,
/// and an environment value that somehow breaks the combined regex must not stop recording.
fn fixed_only() -> Regex {
    Regex::new(FIXED_PATTERNS)
        .unwrap_or_else(|_| Regex::new("$^").unwrap_or_else(|_| unreachable!()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_scrubbed_and_json_stays_valid() {
        let redactor =
            Redactor::with_secrets(["hunter2-very-secret".to_owned(), "short".to_owned()]);
        let line = json!({
            "text": "key sk-abcdefghijklmnop1234 and Bearer abc.def.ghi123 and hunter2-very-secret",
            "headers": "Authorization: Basic dXNlcjpwYXNz\nX: y",
            "api_key": "plain-value",
            "GITHUB_TOKEN": "ghp_x",
            "usage": {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46},
            "task": "task-list-management-feature-x",
            "d": [{"s": [["user", "password"], "p@ss"]}],
            "note": "short",
        })
        .to_string();
        let out = redactor.redact(&line);
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        for secret in [
            "sk-abcdefghijklmnop1234",
            "abc.def.ghi123",
            "hunter2-very-secret",
            "dXNlcjpwYXNz",
            "plain-value",
            "ghp_x",
            "p@ss",
        ] {
            assert!(!out.contains(secret), "{secret} leaked: {out}");
        }
        assert_eq!(value["usage"]["prompt_tokens"], 12);
        assert_eq!(value["task"], "task-list-management-feature-x");
        assert_eq!(value["note"], "short");
        assert_eq!(value["api_key"], REDACTED);
        assert!(value["headers"].as_str().unwrap().ends_with("\nX: y"));
    }

    #[test]
    fn clean_lines_are_borrowed() {
        let redactor = Redactor::with_secrets([]);
        assert!(matches!(redactor.redact(r#"{"a":"b"}"#), Cow::Borrowed(_)));
    }
}
