//! The contract every tool speaks: its spec (what the model is offered), its output
//! (what the model reads back plus what the harness needs to know), and typed argument
//! parsing with errors that name the offending field.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ToolError;

/// What the model is told about a tool: its name, when to use it, and a JSON Schema
/// object for its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The name the model calls the tool by.
    pub name: String,
    /// When and how to use the tool.
    pub description: String,
    /// JSON Schema (`"type": "object"`) of the arguments, with `required`.
    pub parameters: Value,
}

/// The result of one tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolOutput {
    /// Whether the call did what was asked.
    pub ok: bool,
    /// What the model sees.
    pub content: String,
    /// Project-relative paths this call wrote.
    pub touched: Vec<String>,
    /// True when the call could have changed any file (bash), so the harness must rescan.
    pub may_have_touched_anything: bool,
}

impl ToolOutput {
    /// A call that did what was asked.
    pub fn success(content: impl Into<String>) -> Self {
        Self {
            ok: true,
            content: content.into(),
            touched: Vec::new(),
            may_have_touched_anything: false,
        }
    }

    /// A call that failed; `content` tells the model why and what to do instead.
    pub fn error(content: impl Into<String>) -> Self {
        Self {
            ok: false,
            content: content.into(),
            touched: Vec::new(),
            may_have_touched_anything: false,
        }
    }

    /// Records the project-relative paths this call wrote.
    #[must_use]
    pub fn touching(mut self, paths: Vec<String>) -> Self {
        self.touched = paths;
        self
    }

    /// Marks the call as one that may have written anywhere in the project.
    #[must_use]
    pub fn touching_anything(mut self) -> Self {
        self.may_have_touched_anything = true;
        self
    }
}

impl From<ToolError> for ToolOutput {
    fn from(error: ToolError) -> Self {
        Self::error(error.to_string())
    }
}

/// A capability the agent can call. Sync on purpose: the harness runs calls on
/// blocking threads, and tools do blocking file and process work.
pub trait Tool: Send + Sync {
    /// What the model is offered.
    fn spec(&self) -> ToolSpec;
    /// Runs the call. Arguments have already been checked against the spec's schema
    /// by [`crate::ToolBox::call`], but tools still parse them defensively.
    fn call(&self, args: &Value) -> ToolOutput;
}

/// Deserialises tool arguments into `T`, naming the field at fault on error
/// (e.g. `invalid arguments: field "limit": invalid type: string "ten", expected u64`).
pub fn parse_args<T: DeserializeOwned>(args: &Value) -> Result<T, ToolError> {
    if !args.is_object() {
        return Err(ToolError::InvalidArguments {
            message: format!(
                "expected a JSON object of named parameters, got {}",
                json_kind(args)
            ),
        });
    }
    serde_path_to_error::deserialize(args).map_err(|error| {
        let path = error.path().to_string();
        let message = if path == "." {
            error.inner().to_string()
        } else {
            format!("field {path:?}: {}", error.inner())
        };
        ToolError::InvalidArguments { message }
    })
}

/// The JSON type name of a value, as JSON Schema spells it.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    struct Args {
        path: String,
        #[serde(default)]
        limit: Option<u64>,
    }

    #[test]
    fn parse_args_names_the_field_with_the_wrong_type() {
        let error = parse_args::<Args>(&json!({"path": "a", "limit": "ten"})).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("\"limit\""), "{text}");
        assert!(text.contains("invalid type"), "{text}");
    }

    #[test]
    fn parse_args_names_a_missing_field() {
        let text = parse_args::<Args>(&json!({})).unwrap_err().to_string();
        assert!(text.contains("missing field `path`"), "{text}");
    }

    #[test]
    fn parse_args_refuses_non_objects() {
        let text = parse_args::<Args>(&json!(["a"])).unwrap_err().to_string();
        assert!(text.contains("got array"), "{text}");
    }

    #[test]
    fn parse_args_accepts_good_input() {
        let args: Args = parse_args(&json!({"path": "a", "limit": 3})).unwrap();
        assert_eq!((args.path.as_str(), args.limit), ("a", Some(3)));
    }
}
