//! The scripted server and `OpenAiModel` against each other over real HTTP on
//! 127.0.0.1: round trips, fault injection and retries, and the server's refusals.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use baton_model::script::{Script, ServerHandle, serve, session_marker};
use baton_model::{
    ChatMessage, Model, ModelError, ModelRequest, OpenAiModel, OpenAiSettings, RetryPolicy, Role,
    ToolDefinition,
};
use serde_json::json;

const SCRIPT: &str = r#"{
  "model": "scripted-demo",
  "sessions": [
    { "node": "initializer",
      "turns": [
        { "content": "writing", "tool_calls": [
            { "name": "write_file", "arguments": { "path": "index.html", "content": "@file:files/index.html" } },
            { "name": "bash", "arguments": { "cmd": "ls" } } ] },
        { "tool_calls": [ { "name": "bash", "arguments_raw": "{not json" } ] },
        { "fail": { "status": 500, "times": 1 }, "content": "answered after one 500" },
        { "fail": { "status": 429, "times": 1, "retry_after": 1 }, "content": "answered after a 429" },
        { "content": "Done: wrote the feature list." } ] },
    { "node": "coding",
      "turns": [ { "content": "coding", "delay_ms": 20 } ] }
  ] }"#;

fn script_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("files")).unwrap();
    std::fs::write(dir.path().join("files/index.html"), "<h1>todo</h1>\n").unwrap();
    dir
}

async fn start(dir: &Path) -> ServerHandle {
    let script = Script::from_json_str(SCRIPT, dir).unwrap();
    serve(script, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

fn model(base_url: &str, retry: RetryPolicy) -> OpenAiModel {
    OpenAiModel::new(OpenAiSettings {
        base_url: base_url.to_owned(),
        api_key: Some("sk-test".into()),
        model: "scripted-demo".into(),
        request_timeout: Duration::from_secs(10),
        retry,
    })
    .unwrap()
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(2),
    }
}

/// A request at `turn` (1-based) of `session`: the earlier turns as plain assistant text.
fn request(session: u32, node: &str, turn: usize) -> ModelRequest<'static> {
    let mut messages = vec![
        ChatMessage::system(format!(
            "You build apps.\n{}",
            session_marker(session, node)
        )),
        ChatMessage::user("Build the app."),
    ];
    for i in 1..turn {
        messages.push(ChatMessage::assistant(format!("turn {i}")));
        messages.push(ChatMessage::user("go on"));
    }
    ModelRequest {
        messages: messages.into(),
        tools: vec![ToolDefinition {
            name: "bash".into(),
            description: "Run a command".into(),
            parameters: json!({"type": "object", "properties": {"cmd": {"type": "string"}}}),
        }],
        temperature: Some(0.0),
        max_tokens: Some(512),
    }
}

async fn raw_post(url: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn text_and_tool_calls_round_trip() {
    let dir = script_dir();
    let server = start(dir.path()).await;
    let model = model(&server.base_url(), quick_retries());
    let response = model.complete(&request(1, "initializer", 1)).await.unwrap();
    assert_eq!(response.message.role, Role::Assistant);
    assert_eq!(response.message.content.as_deref(), Some("writing"));
    assert_eq!(response.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(response.attempts, 1);
    assert_eq!(response.model, "scripted-demo");
    assert!(!response.usage.estimated);
    assert!(response.usage.prompt_tokens > 0 && response.usage.completion_tokens > 0);
    let calls = &response.message.tool_calls;
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].id, "call_1_1_1");
    assert_eq!(calls[0].name, "write_file");
    let args: serde_json::Value = serde_json::from_str(&calls[0].arguments).unwrap();
    assert_eq!(
        args,
        json!({"path": "index.html", "content": "<h1>todo</h1>\n"})
    );
    assert_eq!(calls[1].id, "call_1_1_2");

    // The same request again gets the same answer: position comes from the request.
    let again = model.complete(&request(1, "initializer", 1)).await.unwrap();
    assert_eq!(again.message, response.message);

    let last = model.complete(&request(1, "initializer", 5)).await.unwrap();
    assert_eq!(
        last.message.content.as_deref(),
        Some("Done: wrote the feature list.")
    );
    assert_eq!(last.finish_reason.as_deref(), Some("stop"));
    assert!(last.message.tool_calls.is_empty());

    let coding = model.complete(&request(2, "coding", 1)).await.unwrap();
    assert_eq!(coding.message.content.as_deref(), Some("coding"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn tool_results_in_the_request_are_accepted() {
    let dir = script_dir();
    let server = start(dir.path()).await;
    let model = model(&server.base_url(), quick_retries());
    let first = model.complete(&request(1, "initializer", 1)).await.unwrap();
    let mut req = request(1, "initializer", 1);
    req.messages.to_mut().push(first.message.clone());
    for call in &first.message.tool_calls {
        req.messages
            .to_mut()
            .push(ChatMessage::tool_result(&call.id, "ok"));
    }
    let second = model.complete(&req).await.unwrap();
    assert_eq!(second.message.tool_calls[0].name, "bash");
}

#[tokio::test]
async fn malformed_arguments_reach_the_client_verbatim() {
    let dir = script_dir();
    let server = start(dir.path()).await;
    let model = model(&server.base_url(), quick_retries());
    let response = model.complete(&request(1, "initializer", 2)).await.unwrap();
    assert_eq!(response.message.content, None);
    assert_eq!(response.message.tool_calls[0].arguments, "{not json");
    assert_eq!(response.message.tool_calls[0].id, "call_1_2_1");
}

#[tokio::test]
async fn a_500_is_retried() {
    let dir = script_dir();
    let server = start(dir.path()).await;
    let model = model(&server.base_url(), quick_retries());
    let response = model.complete(&request(1, "initializer", 3)).await.unwrap();
    assert_eq!(response.attempts, 2);
    assert_eq!(
        response.message.content.as_deref(),
        Some("answered after one 500")
    );
}

#[tokio::test]
async fn a_500_beyond_the_retry_budget_is_transient() {
    let dir = tempfile::tempdir().unwrap();
    let script = Script::from_json_str(
        r#"{"sessions":[{"turns":[{"fail":{"status":503,"times":5},"content":"late"}]}]}"#,
        dir.path(),
    )
    .unwrap();
    let server = serve(script, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let model = model(&server.base_url(), quick_retries());
    let err = model.complete(&request(1, "any", 1)).await.unwrap_err();
    assert!(matches!(err, ModelError::Transient { .. }), "{err}");
    assert!(err.retryable());
    assert!(err.to_string().contains("503"), "{err}");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let dir = script_dir();
    let server = start(dir.path()).await;
    // A base delay far below one second: only the header can explain a wait of ≥ 1 s.
    let model = model(&server.base_url(), quick_retries());
    let started = Instant::now();
    let response = model.complete(&request(1, "initializer", 4)).await.unwrap();
    assert_eq!(response.attempts, 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(response.latency_ms >= 1000);
}

#[tokio::test]
async fn rate_limit_that_persists_reports_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let script = Script::from_json_str(
        r#"{"sessions":[{"turns":[{"fail":{"status":429,"times":9,"retry_after":0},"content":"x"}]}]}"#,
        dir.path(),
    )
    .unwrap();
    let server = serve(script, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let model = model(&server.base_url(), quick_retries());
    let err = model.complete(&request(1, "any", 1)).await.unwrap_err();
    assert!(matches!(err, ModelError::RateLimited { .. }), "{err}");
    assert_eq!(err.retry_after(), Some(Duration::ZERO));
}

#[tokio::test]
async fn unreachable_url_is_named() {
    // Bind then drop a listener: the port is closed for the test's duration.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base_url = format!("http://127.0.0.1:{port}/v1");
    let model = model(
        &base_url,
        RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        },
    );
    let err = model.complete(&request(1, "any", 1)).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ModelError::Unreachable { .. }), "{message}");
    assert!(
        message.contains(&format!("{base_url}/chat/completions")),
        "{message}"
    );
    assert!(message.contains("OPENAI_BASE_URL"), "{message}");
}

#[tokio::test]
async fn exhausted_script_is_a_404_naming_the_position() {
    let dir = script_dir();
    let server = start(dir.path()).await;
    let url = format!("{}/chat/completions", server.base_url());
    let body = serde_json::to_value(json!({"model": "m", "messages": [
        {"role": "system", "content": session_marker(2, "coding")},
        {"role": "assistant", "content": "a"}
    ]}))
    .unwrap();
    let (status, json) = raw_post(&url, body).await;
    assert_eq!(status, 404);
    assert_eq!(json["error"]["type"], "script_exhausted");
    assert_eq!(
        json["error"]["message"],
        "script has no turn 2 for session 2 (node coding): the script has 2 sessions; session 2 has 1 turns"
    );

    let model = model(&server.base_url(), quick_retries());
    let err = model.complete(&request(7, "coding", 1)).await.unwrap_err();
    assert!(matches!(err, ModelError::Http { status: 404, .. }), "{err}");
    assert!(err.to_string().contains("session 7 is not in it"), "{err}");
}

#[tokio::test]
async fn node_mismatch_is_a_409() {
    let dir = script_dir();
    let server = start(dir.path()).await;
    let model = model(&server.base_url(), quick_retries());
    let err = model.complete(&request(1, "coding", 1)).await.unwrap_err();
    assert!(matches!(err, ModelError::Http { status: 409, .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("initializer") && message.contains("coding"),
        "{message}"
    );
}

#[tokio::test]
async fn missing_marker_is_a_400_and_routes_work_without_v1() {
    let dir = script_dir();
    let server = start(dir.path()).await;
    let root = format!("http://{}", server.addr);
    let (status, json) = raw_post(
        &format!("{root}/chat/completions"),
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("[baton session N · NODE]")
    );

    // Without a system message the first message may carry the marker.
    let (status, json) = raw_post(
        &format!("{root}/chat/completions"),
        json!({"model": "m", "messages": [{"role": "user", "content": session_marker(2, "coding")}]}),
    )
    .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["object"], "chat.completion");
    assert_eq!(json["choices"][0]["message"]["content"], "coding");
    assert_eq!(
        json["usage"]["total_tokens"].as_u64().unwrap(),
        json["usage"]["prompt_tokens"].as_u64().unwrap()
            + json["usage"]["completion_tokens"].as_u64().unwrap()
    );

    for path in ["/models", "/v1/models"] {
        let models: serde_json::Value = reqwest::get(format!("{root}{path}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(models["data"][0]["id"], "scripted-demo");
    }
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let dir = script_dir();
    let server = start(dir.path()).await;
    let base_url = server.base_url();
    server.shutdown().await.unwrap();
    let model = model(
        &base_url,
        RetryPolicy {
            max_attempts: 1,
            ..quick_retries()
        },
    );
    let err = model.complete(&request(2, "coding", 1)).await.unwrap_err();
    assert!(matches!(err, ModelError::Unreachable { .. }), "{err}");
}
