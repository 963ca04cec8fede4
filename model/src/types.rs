//! The conversation types the harness, the tape and every model backend share, and the
//! `Model` trait. The tape stores these verbatim, so field names are a stable format.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// One tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as JSON text exactly as the model sent them: malformed JSON is kept
    /// so the tool layer can answer with a precise error the model can learn from.
    pub arguments: String,
}

/// One message of a chat conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    fn text(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    pub fn system(content: impl Into<String>) -> Self {
        Self::text(Role::System, content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::text(Role::User, content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self::text(Role::Assistant, content)
    }

    /// An assistant turn that asks for tool calls (content optional).
    pub fn assistant_with_tools(content: Option<String>, tool_calls: Vec<ToolCall>) -> Self {
        Self {
            role: Role::Assistant,
            content,
            tool_calls,
            tool_call_id: None,
        }
    }

    /// The answer to the tool call `call_id`.
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: Role::Tool,
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: Some(call_id.into()),
        }
    }

    /// Bytes of text this message carries (content plus tool-call ids, names and
    /// arguments): the basis of every token estimate in this crate. Bytes rather than
    /// characters: the length is known without reading the text (the harness estimates
    /// the whole conversation before every request), and for text outside ASCII bytes are
    /// the closer guess at tokens anyway.
    pub fn text_len(&self) -> usize {
        let content = self.content.as_deref().map_or(0, str::len);
        let calls: usize = self
            .tool_calls
            .iter()
            .map(|call| call.id.len() + call.name.len() + call.arguments.len())
            .sum();
        content + calls
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// Everything one completion needs. The messages are borrowed when the caller keeps the
/// conversation anyway (the harness does), so asking costs no copy of it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelRequest<'a> {
    pub messages: Cow<'a, [ChatMessage]>,
    #[serde(default)]
    pub tools: Vec<ToolDefinition>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
}

/// Tokens a call consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// True when the server reported no usage and baton estimated it (≈ bytes of text / 4).
    #[serde(default)]
    pub estimated: bool,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// One completion as the harness records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResponse {
    /// Always role `Assistant`.
    pub message: ChatMessage,
    /// `None` when the server sent none or an empty string.
    pub finish_reason: Option<String>,
    pub usage: Usage,
    /// Wall time of the whole call, retries and their waits included.
    pub latency_ms: u64,
    /// HTTP requests made, 1 when the first succeeded.
    pub attempts: u32,
    /// The model name the server answered with (or the one asked for).
    pub model: String,
    /// What baton did to read the answer: tool calls parsed from the message text (the
    /// server returned none), arguments repaired. Empty for a clean answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// A tool call the model wrote as text that could not be read, worded for the model:
    /// the harness tells it and lets it try again instead of ending the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable_call: Option<String>,
}

/// A chat model: the one thing the agent loop needs from a backend.
#[async_trait::async_trait]
pub trait Model: Send + Sync {
    fn name(&self) -> &str;
    async fn complete(&self, req: &ModelRequest<'_>) -> Result<ModelResponse, ModelError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_serialises_without_empty_tool_fields() {
        let json = serde_json::to_value(ChatMessage::user("hi")).unwrap();
        assert_eq!(json, serde_json::json!({"role": "user", "content": "hi"}));
        let tool = serde_json::to_value(ChatMessage::tool_result("call_1", "ok")).unwrap();
        assert_eq!(
            tool,
            serde_json::json!({"role": "tool", "content": "ok", "tool_call_id": "call_1"})
        );
    }

    #[test]
    fn message_round_trips_with_tool_calls() {
        let msg = ChatMessage::assistant_with_tools(
            None,
            vec![ToolCall {
                id: "c".into(),
                name: "bash".into(),
                arguments: "{not json".into(),
            }],
        );
        let text = serde_json::to_string(&msg).unwrap();
        let back: ChatMessage = serde_json::from_str(&text).unwrap();
        assert_eq!(back, msg);
    }
}
