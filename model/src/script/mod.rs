//! The scripted model: a JSON script of sessions and turns, served over the real
//! OpenAI chat-completions protocol so the whole harness can be tested without an LLM.
//!
//! A script file:
//! ```json
//! { "model": "scripted-demo",
//!   "sessions": [
//!     { "node": "initializer",
//!       "turns": [
//!         { "content": "text", "tool_calls": [ { "name": "write_file",
//!             "arguments": { "path": "index.html", "content": "@file:files/index.html" } } ] },
//!         { "tool_calls": [ { "name": "bash", "arguments_raw": "{not json" } ] },
//!         { "fail": { "status": 500, "times": 1, "retry_after": 1 }, "content": "after one 500" },
//!         { "content": "Let me wr", "finish_reason": "length" },
//!         { "content": "Done.", "delay_ms": 50, "expect_in_request": "Use a <ul>" } ] } ] }
//! ```
//! Any string exactly `"@file:REL"` is replaced by that file's text (REL relative to the
//! script's folder, and never outside it).

mod marker;
mod server;

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::ModelError;

pub use marker::{parse_session_marker, session_marker};
pub use server::{ServerHandle, serve};

const INCLUDE_PREFIX: &str = "@file:";

/// A loaded, validated script.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// The model name the server reports.
    #[serde(default = "default_model")]
    pub model: String,
    /// Session N of a thread (1-based) plays `sessions[N - 1]`.
    pub sessions: Vec<ScriptSession>,
}

fn default_model() -> String {
    "scripted".to_owned()
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptSession {
    /// The workflow node this session must run under; `None` accepts any.
    #[serde(default)]
    pub node: Option<String>,
    /// Turn T (1-based) answers a request holding T - 1 assistant messages.
    pub turns: Vec<ScriptTurn>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptTurn {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub tool_calls: Vec<ScriptToolCall>,
    /// Fault injection: the first `times` requests for this turn fail.
    #[serde(default)]
    pub fail: Option<ScriptFailure>,
    /// Wait before answering (failures included).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// The request must hold this text in one of its messages, or it is answered with a 400
    /// naming what is missing (tests that something reached the model, e.g. an instruction).
    #[serde(default)]
    pub expect_in_request: Option<String>,
    /// Overrides the `finish_reason` sent (`"stop"` or `"tool_calls"`), e.g. `"length"`
    /// to play an answer cut at the output-token limit.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptToolCall {
    pub name: String,
    /// A JSON object, sent as its compact JSON text.
    #[serde(default)]
    pub arguments: Option<Value>,
    /// Text sent verbatim as the arguments, e.g. to test malformed JSON.
    #[serde(default)]
    pub arguments_raw: Option<String>,
}

impl ScriptToolCall {
    /// The `arguments` string the server sends.
    pub fn arguments_text(&self) -> String {
        match (&self.arguments_raw, &self.arguments) {
            (Some(raw), _) => raw.clone(),
            (None, Some(value)) => value.to_string(),
            (None, None) => "{}".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptFailure {
    /// HTTP status to answer with (400–599).
    pub status: u16,
    /// How many requests fail before the turn answers.
    #[serde(default = "one")]
    pub times: u32,
    /// Seconds for a `Retry-After` header on the failures.
    #[serde(default)]
    pub retry_after: Option<u64>,
}

fn one() -> u32 {
    1
}

impl Script {
    /// The model name the server reports (and clients should ask for).
    pub fn model_name(&self) -> &str {
        &self.model
    }

    /// Reads a script file, resolves its `@file:` includes and validates it.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::ScriptIo {
            path: path.to_owned(),
            source,
        })?;
        let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
        Self::parse(&text, base_dir, path)
    }

    /// Parses script text whose `@file:` includes resolve against `base_dir`.
    pub fn from_json_str(text: &str, base_dir: impl AsRef<Path>) -> Result<Self, ModelError> {
        let base_dir = base_dir.as_ref();
        Self::parse(text, base_dir, &base_dir.join("<inline script>"))
    }

    fn parse(text: &str, base_dir: &Path, origin: &Path) -> Result<Self, ModelError> {
        let invalid = |detail: String| ModelError::ScriptInvalid {
            path: origin.to_owned(),
            detail,
        };
        let mut value: Value =
            serde_json::from_str(text).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
        let base = if base_dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            base_dir
        };
        let base = base.canonicalize().map_err(|e| {
            invalid(format!(
                "cannot open the script's folder {}: {e}",
                base.display()
            ))
        })?;
        resolve_includes(&mut value, &base, &mut String::new()).map_err(invalid)?;
        let script: Self = serde_json::from_value(value.clone())
            .map_err(|e| invalid(format!("{}{e}", locate_bad_turn(&value))))?;
        script.validate().map_err(invalid)?;
        Ok(script)
    }

    fn validate(&self) -> Result<(), String> {
        if self.sessions.is_empty() {
            return Err("`sessions` is empty; add at least one session with turns".into());
        }
        for (s, session) in self.sessions.iter().enumerate() {
            let n = s + 1;
            if let Some(node) = &session.node
                && !marker::is_node_name(node)
            {
                return Err(format!(
                    "session {n}: node {node:?} can never match; node names use a-z, 0-9, _ and -"
                ));
            }
            for (t, turn) in session.turns.iter().enumerate() {
                turn.validate()
                    .map_err(|e| format!("session {n} turn {}: {e}", t + 1))?;
            }
        }
        Ok(())
    }
}

impl ScriptTurn {
    fn validate(&self) -> Result<(), String> {
        if self.content.is_none() && self.tool_calls.is_empty() && self.fail.is_none() {
            return Err("has neither `content` nor `tool_calls` (nor `fail`); give it one".into());
        }
        if let Some(fail) = &self.fail {
            if !(400..=599).contains(&fail.status) {
                return Err(format!(
                    "fail.status {} is not an HTTP error (400–599)",
                    fail.status
                ));
            }
            if fail.times == 0 {
                return Err("fail.times is 0; remove `fail` or make it at least 1".into());
            }
        }
        for (i, call) in self.tool_calls.iter().enumerate() {
            if call.name.trim().is_empty() {
                return Err(format!("tool call {} has an empty name", i + 1));
            }
            if call.arguments.is_some() && call.arguments_raw.is_some() {
                return Err(format!(
                    "tool call {} has both `arguments` and `arguments_raw`; keep one",
                    i + 1
                ));
            }
            if call.arguments.as_ref().is_some_and(|a| !a.is_object()) {
                return Err(format!(
                    "tool call {}: `arguments` must be a JSON object; use `arguments_raw` for any other text",
                    i + 1
                ));
            }
        }
        Ok(())
    }
}

/// Replaces every string `"@file:REL"` in place; `at` tracks the JSON pointer for errors.
fn resolve_includes(value: &mut Value, base: &Path, at: &mut String) -> Result<(), String> {
    match value {
        Value::String(text) => {
            if let Some(rel) = text.strip_prefix(INCLUDE_PREFIX) {
                *text = read_include(rel, base).map_err(|e| format!("at {at}: {e}"))?;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = at.len();
                at.push('/');
                at.push_str(&i.to_string());
                resolve_includes(item, base, at)?;
                at.truncate(len);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields.iter_mut() {
                let len = at.len();
                at.push('/');
                at.push_str(key);
                resolve_includes(item, base, at)?;
                at.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

fn read_include(rel: &str, base: &Path) -> Result<String, String> {
    let rel_path = Path::new(rel);
    let escapes = rel.is_empty()
        || rel_path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    let refuse = || {
        format!(
            "include {rel:?} refused: it must name a file inside the script's folder {} (no absolute paths, no `..`)",
            base.display()
        )
    };
    if escapes {
        return Err(refuse());
    }
    let full: PathBuf = base.join(rel_path);
    // A symlink inside the folder may still point outside it.
    let resolved = full
        .canonicalize()
        .map_err(|e| format!("cannot read included file {}: {e}", full.display()))?;
    if !resolved.starts_with(base) {
        return Err(refuse());
    }
    std::fs::read_to_string(&resolved)
        .map_err(|e| format!("cannot read included file {}: {e}", full.display()))
}

/// Names the first turn that does not deserialise, so the serde message has a place.
fn locate_bad_turn(value: &Value) -> String {
    let sessions = value.get("sessions").and_then(Value::as_array);
    for (s, session) in sessions.into_iter().flatten().enumerate() {
        let turns = session.get("turns").and_then(Value::as_array);
        for (t, turn) in turns.into_iter().flatten().enumerate() {
            if ScriptTurn::deserialize(turn).is_err() {
                return format!("session {} turn {}: ", s + 1, t + 1);
            }
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_are_replaced_by_file_text() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("files")).unwrap();
        std::fs::write(dir.path().join("files/index.html"), "<h1>hi</h1>").unwrap();
        let script = Script::from_json_str(
            r#"{"sessions":[{"turns":[{"tool_calls":[{"name":"write_file",
                "arguments":{"path":"index.html","content":"@file:files/index.html"}}]}]}]}"#,
            dir.path(),
        )
        .unwrap();
        let call = &script.sessions[0].turns[0].tool_calls[0];
        // Compared as JSON: key order depends on whether some crate in the build enables
        // serde_json's preserve_order.
        let arguments: serde_json::Value = serde_json::from_str(&call.arguments_text()).unwrap();
        assert_eq!(
            arguments,
            serde_json::json!({"content": "<h1>hi</h1>", "path": "index.html"})
        );
        assert_eq!(script.model, "scripted");
    }

    #[test]
    fn includes_outside_the_folder_are_refused() {
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join("script");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(outer.path().join("secret.txt"), "secret").unwrap();
        for include in ["@file:../secret.txt", "@file:/etc/hostname", "@file:"] {
            let text = format!(r#"{{"sessions":[{{"turns":[{{"content":"{include}"}}]}}]}}"#);
            let err = Script::from_json_str(&text, &dir).unwrap_err().to_string();
            assert!(err.contains("refused"), "{include}: {err}");
            assert!(err.contains("/sessions/0/turns/0/content"), "{err}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlink_escape_is_refused() {
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join("script");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(outer.path().join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(outer.path().join("secret.txt"), dir.join("link.txt")).unwrap();
        let err = Script::from_json_str(
            r#"{"sessions":[{"turns":[{"content":"@file:link.txt"}]}]}"#,
            &dir,
        )
        .unwrap_err();
        assert!(err.to_string().contains("refused"), "{err}");
    }

    #[test]
    fn invalid_scripts_say_where_and_how_to_fix() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                r#"{"sessions":[{"turns":[{}]}]}"#,
                "session 1 turn 1: has neither",
            ),
            (r#"{"sessions":[]}"#, "`sessions` is empty"),
            (
                r#"{"sessions":[{"turns":[{"content":"a"},{"tool_call":[]}]}]}"#,
                "session 1 turn 2: unknown field `tool_call`",
            ),
            (
                r#"{"sessions":[{"turns":[{"fail":{"status":200}}]}]}"#,
                "not an HTTP error",
            ),
            (
                r#"{"sessions":[{"turns":[{"tool_calls":[{"name":"x","arguments":"{}"}]}]}]}"#,
                "use `arguments_raw`",
            ),
            (
                r#"{"sessions":[{"node":"Init","turns":[]}]}"#,
                "can never match",
            ),
            ("{", "not valid JSON"),
        ];
        for (text, expected) in cases {
            let err = Script::from_json_str(text, dir.path())
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn load_reads_relative_to_the_script_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("answer.txt"), "42").unwrap();
        let path = dir.path().join("script.json");
        std::fs::write(
            &path,
            r#"{"model":"m","sessions":[{"node":"initializer","turns":[{"content":"@file:answer.txt"}]}]}"#,
        )
        .unwrap();
        let script = Script::load(&path).unwrap();
        assert_eq!(script.sessions[0].turns[0].content.as_deref(), Some("42"));
        let missing = Script::load(dir.path().join("nope.json")).unwrap_err();
        assert!(matches!(missing, ModelError::ScriptIo { .. }));
    }
}
