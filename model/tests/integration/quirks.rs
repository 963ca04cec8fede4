//! `OpenAiModel` against a tiny axum server that answers the way local servers
//! (Ollama, vLLM, llama.cpp) sometimes do, and against bodies that are not completions.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use baton_model::{
    ChatMessage, Model, ModelError, ModelRequest, OpenAiModel, OpenAiSettings, RetryPolicy,
};
use serde_json::{Value, json};

/// Serves `status` + `body` for every chat completion; returns the base URL.
async fn answering(status: u16, body: String) -> String {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move || {
            let body = body.clone();
            async move {
                (
                    StatusCode::from_u16(status).unwrap(),
                    [("content-type", "application/json")],
                    body,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}

fn model(base_url: String) -> OpenAiModel {
    let mut settings = OpenAiSettings::new(base_url, "local-model");
    settings.request_timeout = Duration::from_secs(5);
    settings.retry = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    OpenAiModel::new(settings).unwrap()
}

fn request() -> ModelRequest<'static> {
    ModelRequest {
        messages: vec![
            ChatMessage::system("sys"),
            ChatMessage::user("hello there"),
            ChatMessage::assistant("earlier"),
        ]
        .into(),
        ..ModelRequest::default()
    }
}

#[tokio::test]
async fn quirky_local_server_answers_are_normalised() {
    let body = json!({
        "id": "x", "object": "chat.completion", "created": 1, "model": "llama3", "system_fingerprint": null,
        "choices": [{"index": 0, "finish_reason": "", "logprobs": null, "message": {
            "role": "assistant", "content": null,
            "tool_calls": [
                {"type": "function", "function": {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}},
                {"index": 0, "function": {"name": "bash", "arguments": "{\"cmd\":\"ls\"}"}}
            ]}}]
    });
    let model = model(answering(200, body.to_string()).await);
    let response = model.complete(&request()).await.unwrap();
    assert_eq!(response.finish_reason, None);
    assert_eq!(response.message.content, None);
    assert_eq!(response.model, "llama3");
    let calls = &response.message.tool_calls;
    // One assistant message precedes: this is turn 1, so ids are call_1_<i>.
    assert_eq!(calls[0].id, "call_1_0");
    assert_eq!(calls[1].id, "call_1_1");
    let args: Value = serde_json::from_str(&calls[0].arguments).unwrap();
    assert_eq!(args, json!({"path": "a.txt", "content": "x"}));
    assert_eq!(calls[1].arguments, "{\"cmd\":\"ls\"}");
    assert!(response.usage.estimated);
    assert_eq!(
        response.usage.prompt_tokens,
        baton_model::estimate_tokens(&request().messages) as u64
    );
    assert!(response.usage.completion_tokens > 0);
}

#[tokio::test]
async fn empty_choices_is_malformed() {
    let model = model(answering(200, json!({"choices": [], "usage": {}}).to_string()).await);
    let err = model.complete(&request()).await.unwrap_err();
    assert!(matches!(err, ModelError::Malformed { .. }), "{err}");
}

#[tokio::test]
async fn non_json_body_is_malformed() {
    let model = model(answering(200, "<html>proxy error</html>".into()).await);
    let err = model.complete(&request()).await.unwrap_err();
    assert!(matches!(err, ModelError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("proxy error"), "{err}");
}

#[tokio::test]
async fn context_length_errors_are_recognised() {
    let body = json!({"error": {"message": "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.",
        "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}});
    let model = model(answering(400, body.to_string()).await);
    let err = model.complete(&request()).await.unwrap_err();
    assert!(matches!(err, ModelError::ContextLength { .. }), "{err}");
    assert!(!err.retryable());
}

#[tokio::test]
async fn auth_errors_name_the_key() {
    let body = json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}});
    let model = model(answering(401, body.to_string()).await);
    let err = model.complete(&request()).await.unwrap_err();
    assert!(matches!(err, ModelError::Http { status: 401, .. }), "{err}");
    assert!(err.to_string().contains("OPENAI_API_KEY"), "{err}");
}

/// A server that sends a 200's headers and half a body, then never finishes.
async fn stalling() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0; 4096];
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"choices\": [";
                let _ = socket.write_all(head.as_bytes()).await;
                std::future::pending::<()>().await;
            });
        }
    });
    format!("http://{addr}/v1")
}

#[tokio::test]
async fn an_answer_that_never_ends_times_out_by_name() {
    let mut settings = OpenAiSettings::new(stalling().await, "local-model");
    settings.request_timeout = Duration::from_millis(300);
    settings.retry = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let model = OpenAiModel::new(settings).unwrap();
    let err = model.complete(&request()).await.unwrap_err();
    assert!(err.retryable(), "{err}");
    assert!(
        err.to_string().contains("no complete answer within 0.3s"),
        "{err}"
    );
}

#[tokio::test]
async fn an_html_error_page_is_named_as_such() {
    let model = model(
        answering(
            200,
            "<!DOCTYPE html><html><body>Bad gateway</body></html>".into(),
        )
        .await,
    );
    let err = model.complete(&request()).await.unwrap_err();
    assert!(matches!(err, ModelError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("Bad gateway"), "{err}");
}

#[tokio::test]
async fn no_content_and_no_tool_calls_and_a_cut_answer_are_kept() {
    let body = json!({"choices": [{"index": 0, "finish_reason": "length",
        "message": {"role": "assistant", "content": null}}]});
    let model = model(answering(200, body.to_string()).await);
    let response = model.complete(&request()).await.unwrap();
    assert_eq!(response.finish_reason.as_deref(), Some("length"));
    assert_eq!(response.message.content, None);
    assert!(response.message.tool_calls.is_empty());
}

/// llama.cpp fails the request with HTTP 500 when the tool call the model generated does
/// not parse. Retrying gets the same output; the answer carries the error for the model
/// instead, so a weak model's session goes on.
#[tokio::test]
async fn a_server_that_cannot_parse_the_models_tool_call_gives_an_answer_for_the_model() {
    let body = json!({"error": {"code": 500, "type": "server_error",
        "message": "Failed to parse tool call arguments as JSON: [json.exception.parse_error.101] parse error at line 1, column 3179"}});
    let mut settings = OpenAiSettings::new(answering(500, body.to_string()).await, "m");
    settings.retry = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(1),
        ..RetryPolicy::default()
    };
    let response = OpenAiModel::new(settings)
        .unwrap()
        .complete(&request())
        .await
        .unwrap();
    assert_eq!(response.attempts, 1);
    assert!(response.message.tool_calls.is_empty());
    assert!(response.usage.estimated);
    assert!(
        response
            .unreadable_call
            .as_deref()
            .is_some_and(|m| m.contains("valid JSON")),
        "{response:?}"
    );
    assert!(
        response.notes[0].contains("Failed to parse tool call"),
        "{:?}",
        response.notes
    );
}
