//! The chat-completions wire format: the request body baton sends, and a defensive
//! reading of the response that tolerates the quirks of local servers (empty
//! `finish_reason`, `content: null`, arguments as objects, missing ids and usage), tool
//! calls written as text when the server returned none, and arguments that need repair.

use serde_json::{Map, Value, json};

use super::{lenient, text_calls};
use crate::budget::{estimate_message_tokens, estimate_tokens};
use crate::{ChatMessage, ModelError, ModelRequest, Role, ToolCall, Usage};

/// The JSON body of `POST /chat/completions`.
pub(crate) fn request_body(model: &str, req: &ModelRequest<'_>) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert(
        "messages".into(),
        Value::Array(req.messages.iter().map(message_json).collect()),
    );
    if !req.tools.is_empty() {
        let tools = req
            .tools
            .iter()
            .map(|tool| {
                json!({"type": "function", "function": {
                    "name": tool.name, "description": tool.description, "parameters": tool.parameters
                }})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        body.insert("tool_choice".into(), json!("auto"));
    }
    if let Some(temperature) = req.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if let Some(max_tokens) = req.max_tokens {
        body.insert("max_tokens".into(), json!(max_tokens));
    }
    body.insert("stream".into(), json!(false));
    Value::Object(body)
}

fn message_json(msg: &ChatMessage) -> Value {
    let role = match msg.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let mut out = Map::new();
    out.insert("role".into(), json!(role));
    // OpenAI accepts a null content only beside tool calls; elsewhere send "".
    let content = match (&msg.content, msg.tool_calls.is_empty()) {
        (Some(text), _) => json!(text),
        (None, false) => Value::Null,
        (None, true) => json!(""),
    };
    out.insert("content".into(), content);
    if !msg.tool_calls.is_empty() {
        let calls = msg
            .tool_calls
            .iter()
            .map(|call| {
                json!({"id": call.id, "type": "function",
                       "function": {"name": call.name, "arguments": call.arguments}})
            })
            .collect();
        out.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(id) = &msg.tool_call_id {
        out.insert("tool_call_id".into(), json!(id));
    }
    Value::Object(out)
}

/// What a response says, once read defensively.
#[derive(Debug)]
pub(crate) struct ParsedResponse {
    pub message: ChatMessage,
    pub finish_reason: Option<String>,
    pub usage: Usage,
    pub model: Option<String>,
    /// Tool calls read from the text, arguments repaired (see `ModelResponse::notes`).
    pub notes: Vec<String>,
    /// A tool call written as text that could not be read, worded for the model.
    pub unreadable_call: Option<String>,
}

/// Reads a 2xx body. `turn` (the number of assistant messages already in the request)
/// names generated tool-call ids, `call_<turn>_<i>`, so a replayed request gets the
/// same ids.
pub(crate) fn parse_response(
    body: &Value,
    req: &ModelRequest<'_>,
    turn: usize,
) -> Result<ParsedResponse, ModelError> {
    let Some(choice) = body
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
    else {
        return Err(missing_choices(body));
    };
    let Some(raw) = choice.get("message").filter(|m| m.is_object()) else {
        return Err(malformed("choices[0] has no `message` object", body));
    };
    let content = content_text(raw.get("content"));
    let mut notes = Vec::new();
    let mut tool_calls = tool_calls(raw, turn, body)?;
    for call in &mut tool_calls {
        let (arguments, repairs) = lenient::normalise_arguments(&call.arguments);
        if !repairs.is_empty() {
            notes.push(format!(
                "arguments of {} ({}) repaired: {}",
                call.name,
                call.id,
                repairs.join(", ")
            ));
            call.arguments = arguments;
        }
    }
    let mut unreadable_call = None;
    if tool_calls.is_empty()
        && !req.tools.is_empty()
        && let Some(text) = content.as_deref()
    {
        let offered: Vec<&str> = req.tools.iter().map(|tool| tool.name.as_str()).collect();
        let found = text_calls::recover(text, &offered);
        tool_calls = found
            .calls
            .into_iter()
            .enumerate()
            .map(|(i, (name, arguments))| ToolCall {
                id: format!("call_{turn}_{i}"),
                name,
                arguments,
            })
            .collect();
        notes.extend(found.notes);
        unreadable_call = found.unreadable;
    }
    let message = ChatMessage::assistant_with_tools(content, tool_calls);
    let finish_reason = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .filter(|reason| !reason.is_empty())
        .map(str::to_owned);
    let usage = usage(body.get("usage"), req, &message);
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    Ok(ParsedResponse {
        message,
        finish_reason,
        usage,
        model,
        notes,
        unreadable_call,
    })
}

fn missing_choices(body: &Value) -> ModelError {
    // Some servers answer 200 with an error object instead of choices.
    if let Some(message) = body.pointer("/error/message").and_then(Value::as_str) {
        if super::classify::mentions_context_length(message) {
            return ModelError::ContextLength {
                detail: message.to_owned(),
            };
        }
        return malformed(&format!("the server reported an error: {message}"), body);
    }
    malformed("no `choices` in the response (or an empty list)", body)
}

/// A string, null/absent, or an array of content parts (whose texts are joined).
fn content_text(content: Option<&Value>) -> Option<String> {
    match content? {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => {
            let text: String = parts
                .iter()
                .filter_map(|part| part.get("text").and_then(Value::as_str))
                .collect();
            Some(text)
        }
        _ => None,
    }
}

fn tool_calls(message: &Value, turn: usize, body: &Value) -> Result<Vec<ToolCall>, ModelError> {
    let listed = message.get("tool_calls").and_then(Value::as_array);
    // The pre-tools `function_call` field, still sent by a few servers.
    let legacy = message.get("function_call").filter(|f| f.is_object());
    let raw: Vec<(Option<&Value>, &Value)> = match (listed, legacy) {
        (Some(calls), _) if !calls.is_empty() => calls
            .iter()
            .map(|call| (call.get("id"), call.get("function").unwrap_or(call)))
            .collect(),
        (_, Some(function)) => vec![(None, function)],
        _ => return Ok(Vec::new()),
    };
    raw.into_iter()
        .enumerate()
        .map(|(i, (id, function))| {
            let Some(name) = function.get("name").and_then(Value::as_str) else {
                return Err(malformed(
                    &format!("tool call {i} has no function name"),
                    body,
                ));
            };
            let id = id
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .map_or_else(|| format!("call_{turn}_{i}"), str::to_owned);
            Ok(ToolCall {
                id,
                name: name.to_owned(),
                arguments: arguments_text(function.get("arguments")),
            })
        })
        .collect()
}

/// Arguments as the JSON text the model meant: strings verbatim (even when not valid
/// JSON), objects re-serialised, absent as `{}`.
fn arguments_text(arguments: Option<&Value>) -> String {
    match arguments {
        Some(Value::String(text)) => text.clone(),
        None | Some(Value::Null) => "{}".to_owned(),
        Some(other) => other.to_string(),
    }
}

fn usage(reported: Option<&Value>, req: &ModelRequest<'_>, answer: &ChatMessage) -> Usage {
    let field = |name: &str| reported.and_then(|u| u.get(name)).and_then(Value::as_u64);
    match (field("prompt_tokens"), field("completion_tokens")) {
        (Some(prompt_tokens), Some(completion_tokens)) => Usage {
            prompt_tokens,
            completion_tokens,
            estimated: false,
        },
        (prompt, completion) => Usage {
            prompt_tokens: prompt.unwrap_or(estimate_tokens(&req.messages) as u64),
            completion_tokens: completion.unwrap_or(estimate_message_tokens(answer) as u64),
            estimated: true,
        },
    }
}

fn malformed(what: &str, body: &Value) -> ModelError {
    let mut shown = body.to_string();
    if shown.len() > 500 {
        let cut = (0..=500)
            .rev()
            .find(|&i| shown.is_char_boundary(i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    ModelError::Malformed {
        detail: format!("{what}; body: {shown}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ToolDefinition;

    fn request() -> ModelRequest<'static> {
        ModelRequest {
            messages: vec![
                ChatMessage::system("sys"),
                ChatMessage::user("do it"),
                ChatMessage::assistant_with_tools(
                    None,
                    vec![ToolCall {
                        id: "c1".into(),
                        name: "bash".into(),
                        arguments: "{\"cmd\":\"ls\"}".into(),
                    }],
                ),
                ChatMessage::tool_result("c1", "a.txt"),
            ]
            .into(),
            tools: vec![ToolDefinition {
                name: "bash".into(),
                description: "run".into(),
                parameters: json!({"type": "object"}),
            }],
            temperature: Some(0.5),
            max_tokens: None,
        }
    }

    #[test]
    fn request_body_has_the_openai_shape() {
        let body = request_body("m", &request());
        assert_eq!(body["model"], "m");
        assert_eq!(body["stream"], false);
        assert_eq!(body["tool_choice"], "auto");
        assert_eq!(body["temperature"], 0.5);
        assert!(body.get("max_tokens").is_none());
        assert_eq!(body["tools"][0]["function"]["name"], "bash");
        assert_eq!(body["messages"][2]["content"], Value::Null);
        assert_eq!(body["messages"][2]["tool_calls"][0]["type"], "function");
        assert_eq!(
            body["messages"][2]["tool_calls"][0]["function"]["arguments"],
            "{\"cmd\":\"ls\"}"
        );
        assert_eq!(body["messages"][3]["role"], "tool");
        assert_eq!(body["messages"][3]["tool_call_id"], "c1");
    }

    #[test]
    fn no_tool_choice_without_tools() {
        let req = ModelRequest {
            messages: vec![ChatMessage::user("hi")].into(),
            ..ModelRequest::default()
        };
        let body = request_body("m", &req);
        assert!(body.get("tools").is_none());
        assert!(body.get("tool_choice").is_none());
    }

    #[test]
    fn quirks_are_normalised() {
        let body = json!({
            "choices": [{"finish_reason": "", "message": {"role": "assistant", "content": null,
                "tool_calls": [{"function": {"name": "write_file", "arguments": {"path": "a"}}},
                               {"id": "", "function": {"name": "bash", "arguments": "{oops"}}]}}],
            "surprise": 1
        });
        let parsed = parse_response(&body, &request(), 1).unwrap();
        assert_eq!(parsed.finish_reason, None);
        assert_eq!(parsed.message.content, None);
        assert_eq!(parsed.message.tool_calls[0].id, "call_1_0");
        assert_eq!(parsed.message.tool_calls[0].arguments, "{\"path\":\"a\"}");
        assert_eq!(parsed.message.tool_calls[1].id, "call_1_1");
        assert_eq!(parsed.message.tool_calls[1].arguments, "{oops");
        assert!(parsed.usage.estimated);
        assert!(parsed.usage.prompt_tokens > 0);
    }

    #[test]
    fn empty_choices_is_malformed_and_error_bodies_are_classified() {
        let err = parse_response(&json!({"choices": []}), &request(), 0).unwrap_err();
        assert!(matches!(err, ModelError::Malformed { .. }), "{err}");
        let err = parse_response(
            &json!({"error": {"message": "This model's maximum context length is 4096 tokens"}}),
            &request(),
            0,
        )
        .unwrap_err();
        assert!(matches!(err, ModelError::ContextLength { .. }), "{err}");
    }

    #[test]
    fn content_parts_and_legacy_function_call() {
        let body = json!({"choices": [{"message": {
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            "function_call": {"name": "glob", "arguments": "{}"}}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4}});
        let parsed = parse_response(&body, &request(), 0).unwrap();
        assert_eq!(parsed.message.content.as_deref(), Some("ab"));
        assert_eq!(parsed.message.tool_calls[0].name, "glob");
        assert_eq!(
            parsed.usage,
            Usage {
                prompt_tokens: 3,
                completion_tokens: 4,
                estimated: false
            }
        );
    }

    #[test]
    fn structured_arguments_are_repaired_with_a_note() {
        let body = json!({"choices": [{"message": {"content": "", "tool_calls": [
            {"id": "a", "function": {"name": "bash", "arguments": "\"{\\\"command\\\": \\\"ls\\\"}\""}},
            {"id": "b", "function": {"name": "bash", "arguments": "{'command': 'ls',}"}},
            {"id": "c", "function": {"name": "bash", "arguments": "{\"command\": \"ls\"}"}}]}}]});
        let parsed = parse_response(&body, &request(), 0).unwrap();
        let calls = &parsed.message.tool_calls;
        assert_eq!(calls[0].arguments, r#"{"command":"ls"}"#);
        assert_eq!(calls[1].arguments, r#"{"command":"ls"}"#);
        assert_eq!(calls[2].arguments, r#"{"command": "ls"}"#);
        assert_eq!(parsed.notes.len(), 2, "{:?}", parsed.notes);
        assert!(parsed.notes[0].contains("came as a JSON string"));
        assert!(parsed.notes[1].contains("trailing commas"));
    }

    #[test]
    fn text_calls_are_read_only_when_the_server_returned_none() {
        let body = json!({"choices": [{"finish_reason": "stop", "message": {"content":
            "```json\n{\"name\": \"bash\", \"arguments\": {\"command\": \"ls\"}}\n```"}}]});
        let parsed = parse_response(&body, &request(), 2).unwrap();
        assert_eq!(parsed.message.tool_calls.len(), 1);
        assert_eq!(parsed.message.tool_calls[0].id, "call_2_0");
        assert!(parsed.notes[0].contains("parsed from the message text"));
        let no_tools = ModelRequest {
            messages: vec![ChatMessage::user("hi")].into(),
            ..ModelRequest::default()
        };
        let parsed = parse_response(&body, &no_tools, 2).unwrap();
        assert!(parsed.message.tool_calls.is_empty());
    }
}
