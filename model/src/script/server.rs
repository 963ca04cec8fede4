//! The HTTP side of the scripted model: `POST /v1/chat/completions` and
//! `GET /v1/models` (also without `/v1`) answering from a [`Script`].
//!
//! The answer depends on the request alone (session marker + number of assistant
//! messages). The one piece of state is the fault-injection counter of `fail` turns:
//! how many requests for each (session, turn) already got their failure.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Script, ScriptTurn, parse_session_marker};
use crate::ModelError;

struct ServerState {
    script: Script,
    failures_served: Mutex<HashMap<(u32, usize), u32>>,
}

/// A running scripted server; dropping it stops the server too.
#[derive(Debug)]
pub struct ServerHandle {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl ServerHandle {
    /// The base URL for an OpenAI client, e.g. `http://127.0.0.1:41234/v1`.
    pub fn base_url(&self) -> String {
        let ip = if self.addr.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            self.addr.ip()
        };
        format!("http://{}/v1", SocketAddr::new(ip, self.addr.port()))
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server.
    pub async fn shutdown(mut self) -> Result<(), ModelError> {
        if let Some(stop) = self.stop.take() {
            // The server may already have stopped on its own; then there is no one to tell.
            let _ = stop.send(());
        }
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        match task.await {
            Ok(result) => result.map_err(|source| ModelError::Serve { source }),
            Err(join) => Err(ModelError::Serve {
                source: std::io::Error::other(join),
            }),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `script` on `addr` (port 0 picks a free port) until the handle is shut
/// down or dropped.
pub async fn serve(script: Script, addr: SocketAddr) -> Result<ServerHandle, ModelError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ModelError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ModelError::Bind { addr, source })?;
    let state = Arc::new(ServerState {
        script,
        failures_served: Mutex::new(HashMap::new()),
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .route("/models", get(models))
        .with_state(state);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    tracing::info!(%addr, "scripted model server listening");
    Ok(ServerHandle {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}

async fn models(State(state): State<Arc<ServerState>>) -> Response {
    Json(json!({"object": "list", "data": [
        {"id": state.script.model, "object": "model", "created": 0, "owned_by": "baton"}
    ]}))
    .into_response()
}

/// Where in the script a request points.
struct Position {
    session: u32,
    node: String,
    /// 1-based: one more than the assistant messages in the request.
    turn: usize,
}

async fn chat_completions(State(state): State<Arc<ServerState>>, body: Bytes) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("the body is not JSON: {e}"),
            );
        }
    };
    let position = match position(&request) {
        Ok(position) => position,
        Err(message) => return error(StatusCode::BAD_REQUEST, "invalid_request_error", &message),
    };
    let turn = match find_turn(&state.script, &position) {
        Ok(turn) => turn,
        Err(response) => return *response,
    };
    tracing::info!(session = position.session, node = %position.node, turn = position.turn, "scripted turn");
    if let Some(delay) = turn.delay_ms {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if let Some(expected) = &turn.expect_in_request
        && !request_mentions(&request, expected)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            &format!(
                "the script expects session {} turn {} to be asked with a message holding {expected:?}, and no message does",
                position.session, position.turn
            ),
        );
    }
    if let Some(response) = injected_failure(&state, &position, turn) {
        return response;
    }
    let prompt_chars = String::from_utf8_lossy(&body).chars().count();
    Json(completion(
        &state.script.model,
        &position,
        turn,
        prompt_chars,
    ))
    .into_response()
}

fn position(request: &Value) -> Result<Position, String> {
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("the request has no `messages` array")?;
    let text = |m: &Value| message_text(m.get("content"));
    let system = messages
        .iter()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("system"));
    let (session, node) = system
        .and_then(|m| parse_session_marker(&text(m)))
        .or_else(|| messages.first().and_then(|m| parse_session_marker(&text(m))))
        .ok_or(
            "no session marker: the system message (or the first message) must contain `[baton session N · NODE]`, e.g. `[baton session 1 · initializer]`",
        )?;
    if session == 0 {
        return Err("session numbers in `[baton session N · NODE]` start at 1".into());
    }
    let assistants = messages
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        .count();
    Ok(Position {
        session,
        node,
        turn: assistants + 1,
    })
}

/// Whether any message of the request holds `text`.
fn request_mentions(request: &Value, text: &str) -> bool {
    request
        .get("messages")
        .and_then(Value::as_array)
        .is_some_and(|messages| {
            messages
                .iter()
                .any(|m| message_text(m.get("content")).contains(text))
        })
}

fn message_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

fn find_turn<'s>(script: &'s Script, at: &Position) -> Result<&'s ScriptTurn, Box<Response>> {
    let (session, node, turn) = (at.session, &at.node, at.turn);
    let sessions = script.sessions.len();
    let Some(scripted) = script.sessions.get(session as usize - 1) else {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            "script_exhausted",
            &format!(
                "script has no turn {turn} for session {session} (node {node}): the script has {sessions} sessions; session {session} is not in it"
            ),
        )));
    };
    if let Some(expected) = scripted.node.as_deref().filter(|expected| expected != node) {
        return Err(Box::new(error(
            StatusCode::CONFLICT,
            "node_mismatch",
            &format!(
                "script session {session} is for node {expected} but the request is for node {node}; fix the script's `node` or the workflow"
            ),
        )));
    }
    scripted.turns.get(turn - 1).ok_or_else(|| {
        let turns = scripted.turns.len();
        Box::new(error(
            StatusCode::NOT_FOUND,
            "script_exhausted",
            &format!("script has no turn {turn} for session {session} (node {node}): the script has {sessions} sessions; session {session} has {turns} turns"),
        ))
    })
}

fn injected_failure(state: &ServerState, at: &Position, turn: &ScriptTurn) -> Option<Response> {
    let fail = turn.fail.as_ref()?;
    {
        let mut served = state
            .failures_served
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let count = served.entry((at.session, at.turn)).or_insert(0);
        if *count >= fail.times {
            return None;
        }
        *count += 1;
    }
    let status = StatusCode::from_u16(fail.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let kind = if fail.status == 429 {
        "rate_limit_error"
    } else {
        "injected_failure"
    };
    let mut response = error(
        status,
        kind,
        &format!(
            "scripted failure for session {} turn {}",
            at.session, at.turn
        ),
    );
    if let Some(seconds) = fail.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    Some(response)
}

/// A chat.completion object; deterministic (fixed `created`, ids from the position)
/// so a replayed thread sees byte-identical answers.
fn completion(model: &str, at: &Position, turn: &ScriptTurn, prompt_chars: usize) -> Value {
    let tool_calls: Vec<Value> = turn
        .tool_calls
        .iter()
        .enumerate()
        .map(|(i, call)| {
            json!({"id": format!("call_{}_{}_{}", at.session, at.turn, i + 1), "type": "function",
                   "function": {"name": call.name, "arguments": call.arguments_text()}})
        })
        .collect();
    let completion_chars = turn.content.as_deref().map_or(0, |c| c.chars().count())
        + turn
            .tool_calls
            .iter()
            .map(|c| c.name.chars().count() + c.arguments_text().chars().count())
            .sum::<usize>();
    let prompt_tokens = prompt_chars.div_ceil(4);
    let completion_tokens = completion_chars.div_ceil(4).max(1);
    let content = match (&turn.content, tool_calls.is_empty()) {
        (Some(text), _) => json!(text),
        (None, false) => Value::Null,
        (None, true) => json!(""),
    };
    let mut message = json!({"role": "assistant", "content": content});
    let mut finish_reason = if tool_calls.is_empty() {
        "stop"
    } else {
        message["tool_calls"] = Value::Array(tool_calls);
        "tool_calls"
    };
    if let Some(scripted) = &turn.finish_reason {
        finish_reason = scripted;
    }
    json!({
        "id": format!("chatcmpl-scripted-{}-{}", at.session, at.turn),
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens}
    })
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": null}});
    (status, Json(body)).into_response()
}
