//! Lenient JSON for what models write by hand: trailing commas, single-quoted strings, raw
//! newlines and tabs inside strings, and an arguments object sent as a JSON string. Strict
//! JSON is always tried first; a repair says what it fixed, so the tape can note it.

use serde_json::Value;

/// JSON that parsed only after fixes, and which fixes it needed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lenient {
    pub value: Value,
    /// What was fixed, in words (empty when the text was strict JSON).
    pub fixes: Vec<&'static str>,
}

/// Parses `text` as JSON, repairing the slips models make when strict parsing fails.
/// The error is the strict parser's, which names where the text went wrong.
pub(crate) fn parse(text: &str) -> Result<Lenient, serde_json::Error> {
    let strict = match serde_json::from_str::<Value>(text) {
        Ok(value) => {
            return Ok(Lenient {
                value,
                fixes: Vec::new(),
            });
        }
        Err(error) => error,
    };
    let (repaired, fixes) = repair(text);
    if fixes.is_empty() {
        return Err(strict);
    }
    serde_json::from_str::<Value>(&repaired)
        .map(|value| Lenient { value, fixes })
        .map_err(|_| strict)
}

/// Tool-call arguments as the JSON object text a tool expects, with a note for each repair.
/// Text that no repair makes an object is kept verbatim: the tool then answers with the
/// parse error and the parameters it wants, which the model can act on.
pub(crate) fn normalise_arguments(raw: &str) -> (String, Vec<String>) {
    if raw.trim().is_empty() {
        return (raw.to_owned(), Vec::new());
    }
    let Ok(parsed) = parse(raw) else {
        return (raw.to_owned(), Vec::new());
    };
    let mut notes: Vec<String> = parsed.fixes.iter().map(|fix| (*fix).to_owned()).collect();
    let value = match parsed.value {
        // An object sent as a string: `"{\"path\": \"a\"}"`.
        Value::String(inner) => match parse(&inner) {
            Ok(inner) if inner.value.is_object() => {
                notes.push("the arguments object came as a JSON string".to_owned());
                notes.extend(inner.fixes.iter().map(|fix| (*fix).to_owned()));
                inner.value
            }
            _ => return (raw.to_owned(), Vec::new()),
        },
        other => other,
    };
    if notes.is_empty() {
        (raw.to_owned(), notes)
    } else {
        (value.to_string(), notes)
    }
}

/// One pass over `text` outside and inside strings: single quotes become double quotes,
/// commas before `}` or `]` go, raw control characters in strings are escaped.
fn repair(text: &str) -> (String, Vec<&'static str>) {
    let mut out = String::with_capacity(text.len() + 8);
    let mut fixes = Vec::new();
    let mut fix = |what: &'static str| {
        if !fixes.contains(&what) {
            fixes.push(what);
        }
    };
    let chars: Vec<char> = text.chars().collect();
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) => match c {
                '\\' if i + 1 < chars.len() => {
                    let next = chars[i + 1];
                    if q == '\'' && next == '\'' {
                        out.push('\'');
                    } else {
                        out.push('\\');
                        out.push(next);
                    }
                    i += 1;
                }
                _ if c == q => {
                    out.push('"');
                    quote = None;
                }
                '"' => {
                    // A double quote inside a single-quoted string.
                    out.push_str("\\\"");
                }
                '\n' => {
                    out.push_str("\\n");
                    fix("raw line breaks inside strings escaped");
                }
                '\r' => {
                    out.push_str("\\r");
                    fix("raw line breaks inside strings escaped");
                }
                '\t' => {
                    out.push_str("\\t");
                    fix("raw tabs inside strings escaped");
                }
                _ => out.push(c),
            },
            None => match c {
                '"' => {
                    out.push('"');
                    quote = Some('"');
                }
                '\'' => {
                    out.push('"');
                    quote = Some('\'');
                    fix("single-quoted strings");
                }
                ',' => {
                    let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
                    if matches!(next, Some('}' | ']')) {
                        fix("trailing commas");
                    } else {
                        out.push(',');
                    }
                }
                _ => out.push(c),
            },
        }
        i += 1;
    }
    (out, fixes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_json_needs_no_fix() {
        let parsed = parse(r#"{"a": [1, 2]}"#).unwrap();
        assert_eq!(parsed.value, json!({"a": [1, 2]}));
        assert!(parsed.fixes.is_empty());
    }

    #[test]
    fn trailing_commas_are_dropped() {
        let parsed = parse("{\"a\": [1, 2,], \"b\": 3,\n}").unwrap();
        assert_eq!(parsed.value, json!({"a": [1, 2], "b": 3}));
        assert_eq!(parsed.fixes, vec!["trailing commas"]);
    }

    #[test]
    fn single_quotes_become_double_quotes() {
        let parsed = parse(r#"{'path': 'it\'s "here".txt', 'n': 1}"#).unwrap();
        assert_eq!(parsed.value, json!({"path": "it's \"here\".txt", "n": 1}));
        assert_eq!(parsed.fixes, vec!["single-quoted strings"]);
    }

    #[test]
    fn commas_and_quotes_inside_strings_are_left_alone() {
        let parsed = parse("{\"text\": \"a, }\", 'b': \"x',]\",}").unwrap();
        assert_eq!(parsed.value, json!({"text": "a, }", "b": "x',]"}));
    }

    #[test]
    fn raw_line_breaks_in_strings_are_escaped() {
        let parsed = parse("{\"content\": \"line 1\nline 2\"}").unwrap();
        assert_eq!(parsed.value, json!({"content": "line 1\nline 2"}));
    }

    #[test]
    fn an_object_given_as_a_string_is_decoded() {
        let (text, notes) = normalise_arguments(r#""{\"path\": \"app.js\"}""#);
        assert_eq!(text, r#"{"path":"app.js"}"#);
        assert_eq!(notes, vec!["the arguments object came as a JSON string"]);
    }

    #[test]
    fn strict_arguments_stay_verbatim_and_hopeless_ones_too() {
        let pretty = "{\n  \"path\": \"a\"\n}";
        assert_eq!(normalise_arguments(pretty), (pretty.to_owned(), Vec::new()));
        assert_eq!(
            normalise_arguments("{path: a"),
            ("{path: a".to_owned(), Vec::new())
        );
        assert!(parse("{path: a").is_err());
    }
}
