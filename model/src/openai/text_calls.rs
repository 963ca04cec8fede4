//! Tool calls written as text. Local models behind a chat template that does not match
//! them (llama.cpp with a stock template, Ollama with a custom model) answer with their
//! calls in `content` and no `tool_calls`. The common forms are read back here:
//! `<tool_call>{…}</tool_call>` tags, a fenced ```` ```json ```` block, and a bare
//! `{"name": …, "arguments": …}` object. A call that was clearly meant (tags or a fenced
//! block naming a tool) but does not parse becomes an error the model is told about.

use serde_json::Value;

use super::lenient;

/// What was read from an answer's text.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct TextCalls {
    /// `(name, arguments JSON text)` in the order written.
    pub calls: Vec<(String, String)>,
    /// For the tape: how the calls were found and what was repaired.
    pub notes: Vec<String>,
    /// A meant call that could not be read, worded for the model.
    pub unreadable: Option<String>,
}

/// Reads tool calls from `content`. `tools` are the names the request offered: a bare
/// object only counts as a call when it names one of them.
pub(crate) fn recover(content: &str, tools: &[&str]) -> TextCalls {
    let (form, candidates, meant) = if content.contains("<tool_call>") {
        ("<tool_call> tags", tagged(content), true)
    } else {
        let fenced = fenced(content);
        if fenced.is_empty() {
            ("a bare JSON object", bare_objects(content), false)
        } else {
            ("a fenced JSON block", fenced, true)
        }
    };
    let mut found = TextCalls::default();
    let mut repairs = Vec::new();
    for candidate in candidates {
        let parsed = match lenient::parse(candidate.trim()) {
            Ok(parsed) => parsed,
            Err(error) => {
                if meant || looks_like_call(candidate) {
                    found
                        .unreadable
                        .get_or_insert_with(|| unreadable_message(form, &error.to_string(), tools));
                }
                continue;
            }
        };
        repairs.extend(parsed.fixes.iter().map(|fix| (*fix).to_owned()));
        let items = match parsed.value {
            Value::Array(items) => items,
            other => vec![other],
        };
        for item in items {
            match call_of(&item) {
                Some((name, _)) if !meant && !tools.contains(&name.as_str()) => {}
                Some((name, arguments)) => {
                    let (arguments, notes) = arguments;
                    repairs.extend(notes);
                    found.calls.push((name, arguments));
                }
                None if meant => {
                    found.unreadable.get_or_insert_with(|| {
                        unreadable_message(
                            form,
                            "it has no \"name\" naming the tool to call",
                            tools,
                        )
                    });
                }
                None => {}
            }
        }
    }
    if !found.calls.is_empty() {
        found.unreadable = None;
        found.notes.push(format!(
            "{} tool call(s) parsed from the message text ({form}): the server returned none",
            found.calls.len()
        ));
        repairs.dedup();
        if !repairs.is_empty() {
            found
                .notes
                .push(format!("arguments repaired: {}", repairs.join(", ")));
        }
    }
    found
}

/// The name and arguments of a call object: `{"name", "arguments"|"parameters"}`, or the
/// same inside `"function"`.
#[allow(clippy::type_complexity)]
fn call_of(item: &Value) -> Option<(String, (String, Vec<String>))> {
    let object = item.as_object()?;
    let inner = object
        .get("function")
        .and_then(Value::as_object)
        .unwrap_or(object);
    let name = inner.get("name")?.as_str()?.trim().to_owned();
    if name.is_empty() {
        return None;
    }
    let arguments = match inner.get("arguments").or_else(|| inner.get("parameters")) {
        None | Some(Value::Null) => ("{}".to_owned(), Vec::new()),
        Some(Value::String(text)) => lenient::normalise_arguments(text),
        Some(other) => (other.to_string(), Vec::new()),
    };
    Some((name, arguments))
}

fn looks_like_call(text: &str) -> bool {
    let text = text.trim_start();
    text.starts_with('{') && (text.contains("\"name\"") || text.contains("'name'"))
}

/// Bodies of `<tool_call>…</tool_call>`; a last tag left open runs to the end.
fn tagged(content: &str) -> Vec<&str> {
    content
        .split("<tool_call>")
        .skip(1)
        .map(|part| part.split("</tool_call>").next().unwrap_or(part))
        .collect()
}

/// Bodies of fenced blocks (```` ```json ````, ```` ``` ````, ```` ```tool_call ````) that
/// hold a JSON object or array naming something.
fn fenced(content: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = content;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let Some(line_end) = after.find('\n') else {
            break;
        };
        let body_and_more = &after[line_end + 1..];
        let (body, next) = match body_and_more.find("```") {
            Some(end) => (&body_and_more[..end], &body_and_more[end + 3..]),
            None => (body_and_more, ""),
        };
        let trimmed = body.trim_start();
        if (trimmed.starts_with('{') || trimmed.starts_with('['))
            && (body.contains("\"name\"") || body.contains("'name'"))
        {
            blocks.push(body);
        }
        rest = next;
    }
    blocks
}

/// Top-level balanced `{…}` spans of the text (quotes respected).
fn bare_objects(content: &str) -> Vec<&str> {
    let mut spans = Vec::new();
    let bytes = content.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'{' {
            i += 1;
            continue;
        }
        let Some(len) = balanced_end(&bytes[i..]) else {
            spans.push(&content[i..]);
            break;
        };
        spans.push(&content[i..i + len]);
        i += len;
    }
    spans
}

/// Length of the balanced object starting at `bytes[0] == b'{'`.
fn balanced_end(bytes: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == q {
                quote = None;
            }
            continue;
        }
        match b {
            b'"' | b'\'' => quote = Some(b),
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

fn unreadable_message(form: &str, problem: &str, tools: &[&str]) -> String {
    let example = tools.first().copied().unwrap_or("read_file");
    format!(
        "baton: your message has a tool call written as text ({form}) that could not be read: {problem}. \
         Nothing was run. Call the tool again with valid JSON — one object with \"name\" and \"arguments\", e.g. \
         <tool_call>{{\"name\": \"{example}\", \"arguments\": {{\"path\": \"app_spec.md\"}}}}</tool_call> — \
         with double quotes, no trailing commas, and line breaks inside strings written as \\n."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOOLS: &[&str] = &["read_file", "write_file", "bash"];

    #[test]
    fn tool_call_tags() {
        let found = recover(
            "I'll read it.\n<tool_call>\n{\"name\": \"read_file\", \"arguments\": {\"path\": \"app_spec.md\"}}\n</tool_call>\n<tool_call>{\"name\": \"bash\", \"arguments\": {\"command\": \"ls\"}}",
            TOOLS,
        );
        assert_eq!(
            found.calls,
            vec![
                (
                    "read_file".to_owned(),
                    r#"{"path":"app_spec.md"}"#.to_owned()
                ),
                ("bash".to_owned(), r#"{"command":"ls"}"#.to_owned()),
            ]
        );
        assert!(
            found.notes[0].contains("<tool_call> tags"),
            "{:?}",
            found.notes
        );
        assert_eq!(found.unreadable, None);
    }

    #[test]
    fn fenced_json_block() {
        let found = recover(
            "```json\n{\"name\": \"write_file\", \"arguments\": {\"path\": \"a.txt\", \"content\": \"hi\"}}\n```",
            TOOLS,
        );
        assert_eq!(found.calls.len(), 1);
        assert_eq!(found.calls[0].0, "write_file");
        assert!(found.notes[0].contains("fenced JSON block"));
    }

    #[test]
    fn bare_object_naming_a_known_tool() {
        let found = recover(
            "{\"name\": \"bash\", \"arguments\": {\"command\": \"ls -la\"}}",
            TOOLS,
        );
        assert_eq!(
            found.calls,
            vec![("bash".to_owned(), r#"{"command":"ls -la"}"#.to_owned())]
        );
        assert!(found.notes[0].contains("bare JSON object"));
    }

    #[test]
    fn prose_with_json_that_is_not_a_call_is_left_alone() {
        let found = recover(
            "The list looks like {\"name\": \"counter\", \"arguments\": 3} and I am done.",
            TOOLS,
        );
        assert_eq!(found, TextCalls::default());
        let found = recover("All features are done.", TOOLS);
        assert_eq!(found, TextCalls::default());
    }

    #[test]
    fn repaired_arguments_are_noted() {
        let found = recover(
            "<tool_call>{'name': 'read_file', 'arguments': {'path': 'app.js',},}</tool_call>",
            TOOLS,
        );
        assert_eq!(
            found.calls,
            vec![("read_file".to_owned(), r#"{"path":"app.js"}"#.to_owned())]
        );
        assert!(
            found.notes[1].contains("single-quoted strings")
                && found.notes[1].contains("trailing commas"),
            "{:?}",
            found.notes
        );
    }

    #[test]
    fn arguments_as_a_string_as_openai_encodes_them() {
        let found = recover(
            "```json\n{\"name\": \"read_file\", \"arguments\": \"{\\\"path\\\": \\\"a.js\\\"}\"}\n```",
            TOOLS,
        );
        let arguments: Value = serde_json::from_str(&found.calls[0].1).unwrap();
        assert_eq!(arguments, serde_json::json!({"path": "a.js"}));
    }

    #[test]
    fn a_meant_call_that_does_not_parse_becomes_an_actionable_error() {
        let found = recover(
            "<tool_call>{\"name\": \"bash\", \"arguments\": {\"command\": \"ls\"</tool_call>",
            TOOLS,
        );
        assert!(found.calls.is_empty());
        let message = found.unreadable.unwrap();
        assert!(message.contains("could not be read"), "{message}");
        assert!(message.contains("\"name\""), "{message}");
    }
}
