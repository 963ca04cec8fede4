//! Loop detection. A session is stuck when its last calls repeat a short pattern: one call
//! again and again (A A A), or a cycle of up to [`MAX_PERIOD`] calls (A B A B A B). Calls
//! are compared by a signature that ignores what a stuck model varies without effect: JSON
//! key order and whitespace, runs of whitespace inside strings, and timeouts
//! (`bash {"command": "x", "timeout_secs": 0}` and `… 1` are the same call).

use baton_model::ToolCall;

/// The longest cycle looked for.
pub const MAX_PERIOD: usize = 4;

/// A repeated pattern at the end of the call history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// Calls in one round of the pattern (1: the same call again and again).
    pub period: usize,
    /// Whole rounds seen in a row.
    pub repeats: u32,
}

/// The smallest pattern of at most [`MAX_PERIOD`] calls that the end of `history` repeats
/// `repeats` times in a row, if any. A pattern that is itself a repetition of a shorter one
/// is found as the shorter one (A A A A is period 1, not period 2).
pub fn detect(history: &[String], repeats: u32) -> Option<Cycle> {
    let rounds = usize::try_from(repeats.max(2)).unwrap_or(usize::MAX);
    (1..=MAX_PERIOD).find_map(|period| {
        let needed = period.checked_mul(rounds)?;
        let tail = history.get(history.len().checked_sub(needed)?..)?;
        let pattern = &tail[tail.len() - period..];
        // A period-2 pattern of two equal calls is period 1, already looked for.
        if period > 1 && pattern.iter().all(|call| *call == pattern[0]) {
            return None;
        }
        tail.chunks(period)
            .all(|round| round == pattern)
            .then_some(Cycle {
                period,
                repeats: repeats.max(2),
            })
    })
}

/// How many signatures the history keeps: enough for the longest pattern at `repeats`.
pub fn history_len(repeats: u32) -> usize {
    MAX_PERIOD * usize::try_from(repeats.max(2)).unwrap_or(usize::MAX)
}

/// A call's identity for loop detection (see the module header).
pub fn signature(call: &ToolCall) -> String {
    let arguments = serde_json::from_str::<serde_json::Value>(&call.arguments)
        .map_or_else(|_| squash(&call.arguments), |value| canonical(&value));
    format!("{}:{arguments}", call.name)
}

/// A call as a person reads it in a message: the tool and its arguments, shortened.
pub fn describe(call: &ToolCall) -> String {
    let arguments: String = squash(&call.arguments).chars().take(160).collect();
    format!("{} {arguments}", call.name)
}

/// Whether an argument is a timeout (any key that names one), left out of the signature.
fn is_timeout(key: &str) -> bool {
    key.to_ascii_lowercase().contains("timeout")
}

fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// JSON text with object keys sorted at every level, timeouts dropped and whitespace in
/// strings squashed.
fn canonical(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> =
                map.iter().filter(|(key, _)| !is_timeout(key)).collect();
            entries.sort_by_key(|(key, _)| *key);
            let fields: Vec<String> = entries
                .into_iter()
                .map(|(key, value)| {
                    format!(
                        "{}:{}",
                        serde_json::Value::from(key.as_str()),
                        canonical(value)
                    )
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        serde_json::Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(canonical).collect::<Vec<_>>().join(",")
            )
        }
        serde_json::Value::String(text) => serde_json::Value::from(squash(text)).to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(pattern: &str) -> Vec<String> {
        pattern.chars().map(String::from).collect()
    }

    fn call(name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            id: "1".into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    #[test]
    fn the_same_call_three_times_is_period_one() {
        assert_eq!(
            detect(&calls("xAAA"), 3),
            Some(Cycle {
                period: 1,
                repeats: 3
            })
        );
        assert_eq!(detect(&calls("AA"), 3), None);
        // Four in a row is still reported as one call repeated, not as A A twice.
        assert_eq!(detect(&calls("AAAA"), 2).map(|c| c.period), Some(1));
    }

    #[test]
    fn cycles_up_to_four_calls_are_found() {
        assert_eq!(detect(&calls("ABABAB"), 3).map(|c| c.period), Some(2));
        assert_eq!(detect(&calls("zABCABCABC"), 3).map(|c| c.period), Some(3));
        assert_eq!(detect(&calls("ABCDABCDABCD"), 3).map(|c| c.period), Some(4));
        // Five calls a round is beyond what is looked for.
        assert_eq!(detect(&calls("ABCDEABCDEABCDE"), 3), None);
    }

    #[test]
    fn progress_is_not_a_loop() {
        assert_eq!(detect(&calls("ABABAC"), 3), None);
        assert_eq!(detect(&calls("ABCABD"), 2), None);
        assert_eq!(detect(&calls("ABAB"), 3), None, "only two rounds");
        assert_eq!(detect(&[], 3), None);
    }

    #[test]
    fn signatures_ignore_key_order_whitespace_and_timeouts() {
        let a = call("bash", r#"{"command": "ls  -la", "timeout_secs": 5}"#);
        let b = call("bash", r#"{"timeout_secs":0,"command":"ls -la "}"#);
        let c = call("bash", r#"{"command":"ls -la"}"#);
        assert_eq!(signature(&a), signature(&b));
        assert_eq!(signature(&a), signature(&c));
        let other = call("bash", r#"{"command":"ls -l"}"#);
        assert_ne!(signature(&a), signature(&other));
        assert_ne!(
            signature(&a),
            signature(&call("grep", r#"{"command":"ls -la"}"#))
        );
    }

    #[test]
    fn near_repeats_alternating_make_a_cycle() {
        let history: Vec<String> = (0..6)
            .map(|i| {
                let arguments = if i % 2 == 0 {
                    r#"{"command": "init.sh", "timeout_secs": 0}"#
                } else {
                    r#"{"command": "./init.sh", "timeout_secs": 1}"#
                };
                signature(&call("bash", arguments))
            })
            .collect();
        assert_eq!(detect(&history, 3).map(|c| c.period), Some(2));
    }
}
