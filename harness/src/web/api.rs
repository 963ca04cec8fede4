//! The dashboard's JSON API. Everything is read from the tapes and the evidence folders the
//! CLI reads; a thread's steps are read once per tape length and kept, so paging through a
//! 10,000-step thread reads its tape once. Text from tapes goes out as JSON strings only:
//! the page puts it on screen as text, never as markup.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::control::{self, Inbox, InstructionRole, Request};
use crate::tui::{ThreadData, step_detail, thread_diff};

/// How often a live view looks at the tape's length.
const LIVE_POLL: Duration = Duration::from_millis(100);
/// The most steps one page of the step list carries.
const MAX_PAGE: usize = 500;

/// Threads read so far, by (project number, thread id).
type ThreadCache = HashMap<(usize, String), Arc<ThreadData>>;

/// Whether a file name is a PNG's.
fn is_png(name: &str) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("png"))
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub projects: Arc<Vec<PathBuf>>,
    /// The token the page sends with requests that change something.
    pub token: String,
    cache: Arc<Mutex<ThreadCache>>,
}

impl AppState {
    pub fn new(projects: Vec<PathBuf>, token: String) -> AppState {
        AppState {
            projects: Arc::new(projects),
            token,
            cache: Arc::default(),
        }
    }

    fn project(&self, index: usize) -> Result<&Path, ApiError> {
        self.projects
            .get(index)
            .map(PathBuf::as_path)
            .ok_or_else(|| ApiError::not_found(format!("no project number {index}")))
    }

    /// A thread's steps, read again only when its tape has grown.
    async fn thread(&self, project: usize, thread: &str) -> Result<Arc<ThreadData>, ApiError> {
        let key = (project, thread.to_owned());
        let cached = self.cache.lock().ok().and_then(|c| c.get(&key).cloned());
        if let Some(data) = cached
            && !data.grew()
        {
            return Ok(data);
        }
        let dir = self.project(project)?.to_path_buf();
        let name = thread.to_owned();
        let data = tokio::task::spawn_blocking(move || ThreadData::load(&dir, &name))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(|e| ApiError::not_found(e.to_string()))?;
        let data = Arc::new(data);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, Arc::clone(&data));
        }
        Ok(data)
    }
}

/// An error as the page sees it: a status and a sentence.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl ApiError {
    fn not_found(message: String) -> ApiError {
        ApiError(StatusCode::NOT_FOUND, message)
    }
    fn bad(message: String) -> ApiError {
        ApiError(StatusCode::BAD_REQUEST, message)
    }
    fn internal(message: String) -> ApiError {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

/// `GET /api/threads`: every project's threads.
pub async fn threads(State(state): State<AppState>) -> Json<Value> {
    let projects = Arc::clone(&state.projects);
    let listed = tokio::task::spawn_blocking(move || {
        projects
            .iter()
            .enumerate()
            .map(|(index, dir)| {
                json!({
                    "index": index,
                    "project": dir.display().to_string(),
                    "threads": crate::tui::thread_list(dir),
                })
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    Json(json!({ "projects": listed }))
}

#[derive(Debug, Deserialize)]
pub struct Page {
    #[serde(default)]
    offset: usize,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    200
}

/// One row of the step list as the page gets it (the events stay on the server).
#[derive(Debug, Serialize)]
struct StepSummary<'a> {
    index: usize,
    step: u64,
    session: u32,
    node: &'a str,
    tools: &'a [(String, bool)],
    tokens: u64,
    latency_ms: u64,
    outcome: &'a str,
    failed: bool,
    verified: bool,
    forks: &'a [String],
}

/// `GET /api/p/{project}/t/{thread}/steps?offset&limit`: a page of the live steps.
pub async fn steps(
    State(state): State<AppState>,
    UrlPath((project, thread)): UrlPath<(usize, String)>,
    Query(page): Query<Page>,
) -> Result<Json<Value>, ApiError> {
    let data = state.thread(project, &thread).await?;
    let limit = page.limit.clamp(1, MAX_PAGE);
    let page_rows = data.rows(page.offset..page.offset.saturating_add(limit));
    let rows: Vec<StepSummary> = page_rows
        .iter()
        .enumerate()
        .map(|(i, row)| StepSummary {
            index: page.offset + i,
            step: row.step,
            session: row.session,
            node: &row.node,
            tools: &row.tools,
            tokens: row.tokens,
            latency_ms: row.latency_ms,
            outcome: &row.outcome,
            failed: row.failed,
            verified: row.outcome.contains(" passed"),
            forks: &row.forks,
        })
        .collect();
    let head = data.head.as_ref().map(|s| {
        json!({
            "status": s.status_word(),
            "node": s.node,
            "session": s.session,
            "step": s.step,
            "features_passing": s.features_passing,
            "features_total": s.features_total,
            "tokens": s.ledger.total_tokens(),
            "cost": s.ledger.total_cost(),
            "paused": s.paused,
        })
    });
    Ok(Json(json!({
        "thread": data.thread,
        "total": data.len(),
        "abandoned": data.abandoned,
        "head": head,
        "rows": rows,
    })))
}

/// `GET /api/p/{project}/t/{thread}/step/{index}`: one step in full.
pub async fn step(
    State(state): State<AppState>,
    UrlPath((project, thread, index)): UrlPath<(usize, String, usize)>,
) -> Result<Json<Value>, ApiError> {
    let data = state.thread(project, &thread).await?;
    let row = data
        .row(index)
        .ok_or_else(|| ApiError::not_found(format!("thread {thread} has no step row {index}")))?;
    let commit = row.events.iter().find_map(|event| match event {
        crate::events::Event::Commit { sha, message, .. } => {
            Some(json!({ "sha": sha, "message": message }))
        }
        _ => None,
    });
    Ok(Json(json!({
        "step": row.step,
        "text": step_detail(&row),
        "events": row.events,
        "commit": commit,
    })))
}

#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    from: u64,
    to: u64,
}

/// `GET /api/p/{project}/t/{thread}/diff?from&to`: files and state between two steps.
pub async fn diff(
    State(state): State<AppState>,
    UrlPath((project, thread)): UrlPath<(usize, String)>,
    Query(query): Query<DiffQuery>,
) -> Result<Json<Value>, ApiError> {
    let data = state.thread(project, &thread).await?;
    let text = tokio::task::spawn_blocking(move || thread_diff(&data, query.from, query.to))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::bad(e.to_string()))?;
    Ok(Json(json!({ "text": text })))
}

/// `GET /api/p/{project}/t/{thread}/tree`: the thread, its forks (and theirs), where each
/// starts, and what each came to.
pub async fn tree(
    State(state): State<AppState>,
    UrlPath((project, thread)): UrlPath<(usize, String)>,
) -> Result<Json<Value>, ApiError> {
    let dir = state.project(project)?.to_path_buf();
    let root = state.thread(project, &thread).await?;
    let nodes = tokio::task::spawn_blocking(move || crate::tui::fork_tree(&dir, &root))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(json!({ "nodes": nodes })))
}

/// `GET /api/p/{project}/features`: the feature list and each feature's check runs.
pub async fn features(
    State(state): State<AppState>,
    UrlPath(project): UrlPath<usize>,
) -> Result<Json<Value>, ApiError> {
    let dir = state.project(project)?.to_path_buf();
    let report = tokio::task::spawn_blocking(move || feature_report(&dir))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(report))
}

fn feature_report(project: &Path) -> Value {
    let list = std::fs::read_to_string(project.join("feature_list.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok());
    let features = match &list {
        Some(Value::Array(features)) => features.clone(),
        Some(Value::Object(map)) => map
            .get("features")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let root = baton_verify::evidence_root(project);
    let with_runs: Vec<Value> = features
        .into_iter()
        .map(|feature| {
            let id = feature
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let runs = evidence_runs(&root, id);
            json!({ "feature": feature, "runs": runs })
        })
        .collect();
    json!({ "features": with_runs })
}

/// A feature's check runs, newest first: the result and the screenshots of each.
fn evidence_runs(root: &Path, feature: &str) -> Vec<Value> {
    if !safe_segment(feature) {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(root.join(feature)) else {
        return Vec::new();
    };
    let mut runs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    runs.sort();
    runs.reverse();
    runs.into_iter()
        .take(20)
        .map(|run| {
            let name = run
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let result = std::fs::read_to_string(run.join("result.json"))
                .ok()
                .and_then(|text| serde_json::from_str::<Value>(&text).ok());
            let mut images: Vec<String> = std::fs::read_dir(&run)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| is_png(n))
                .collect();
            images.sort();
            json!({ "run": name, "result": result, "images": images })
        })
        .collect()
}

/// `GET /api/p/{project}/evidence/{feature}/{run}/{file}`: a screenshot.
pub async fn evidence(
    State(state): State<AppState>,
    UrlPath((project, feature, run, file)): UrlPath<(usize, String, String, String)>,
) -> Result<Response, ApiError> {
    if ![&feature, &run, &file].iter().all(|s| safe_segment(s)) || !is_png(&file) {
        return Err(ApiError::bad("not an evidence file".to_owned()));
    }
    let path = baton_verify::evidence_root(state.project(project)?)
        .join(feature)
        .join(run)
        .join(file);
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::not_found(format!("{}: {e}", path.display())))?;
    Ok(([(header::CONTENT_TYPE, "image/png")], bytes).into_response())
}

/// One path segment, no way out of its folder.
fn safe_segment(segment: &str) -> bool {
    let path = Path::new(segment);
    !segment.is_empty()
        && path.components().count() == 1
        && matches!(path.components().next(), Some(Component::Normal(_)))
}

#[derive(Debug, Deserialize)]
pub struct RecallQuery {
    q: String,
    #[serde(default)]
    thread: Option<String>,
    /// Also memories of abandoned branches and other threads, labelled (`hidden`).
    #[serde(default)]
    all_branches: bool,
}

/// `GET /api/p/{project}/recall?q[&thread][&all_branches=true]`: the project's memory,
/// through `baton recall` (the embedded store belongs to one process at a time, so a child
/// process opens it), so it shows what is true on the thread's or the project's line.
pub async fn recall(
    State(state): State<AppState>,
    UrlPath(project): UrlPath<usize>,
    Query(query): Query<RecallQuery>,
) -> Result<Json<Value>, ApiError> {
    let dir = state.project(project)?.to_path_buf();
    let exe = std::env::current_exe().map_err(|e| ApiError::internal(e.to_string()))?;
    let mut command = tokio::process::Command::new(exe);
    command
        .arg("recall")
        .arg(&query.q)
        .arg("--json")
        .arg("--project")
        .arg(&dir);
    if let Some(thread) = &query.thread {
        command.arg("--thread").arg(thread);
    }
    if query.all_branches {
        command.arg("--all-branches");
    }
    let output = command
        .output()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if !output.status.success() {
        return Err(ApiError::bad(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    let hits: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| json!(String::from_utf8_lossy(&output.stdout)));
    Ok(Json(json!({ "hits": hits })))
}

#[derive(Debug, Deserialize)]
pub struct CompareQuery {
    other: String,
}

/// `GET /api/p/{project}/t/{thread}/compare?other`: the thread beside another (`baton compare`).
pub async fn compare(
    State(state): State<AppState>,
    UrlPath((project, thread)): UrlPath<(usize, String)>,
    Query(query): Query<CompareQuery>,
) -> Result<Json<Value>, ApiError> {
    let dir = state.project(project)?.to_path_buf();
    let report =
        tokio::task::spawn_blocking(move || crate::compare::compare(&dir, &thread, &query.other))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(|e| ApiError::bad(e.to_string()))?;
    serde_json::to_value(report)
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

#[derive(Debug, Deserialize)]
pub struct ControlBody {
    op: String,
    #[serde(default)]
    text: Option<String>,
}

/// `POST /api/p/{project}/t/{thread}/control`: pause, continue, stop, instruct.
pub async fn control(
    State(state): State<AppState>,
    UrlPath((project, thread)): UrlPath<(usize, String)>,
    Json(body): Json<ControlBody>,
) -> Result<Json<Value>, ApiError> {
    let dir = state.project(project)?.to_path_buf();
    let (_, paths) = crate::threads::locate_thread(&dir, &thread)
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    let request = match (body.op.as_str(), body.text) {
        ("pause", _) => Request::Pause,
        ("continue", _) => Request::Continue,
        ("stop", _) => Request::Stop,
        ("instruct", Some(text)) if !text.trim().is_empty() => Request::Instruct {
            text,
            role: InstructionRole::User,
        },
        _ => {
            return Err(ApiError::bad(
                "op is pause, continue, stop or instruct (with text)".to_owned(),
            ));
        }
    };
    match control::send(&paths.dir, &request).await {
        Ok(Some(reply)) => Ok(Json(json!({ "ok": reply.ok, "message": reply.message }))),
        Ok(None) if matches!(request, Request::Instruct { .. } | Request::Continue) => {
            Inbox::new(&paths.dir)
                .append(&request)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(Json(
                json!({ "ok": true, "message": format!("no process runs thread {thread}: kept for its next `baton resume`") }),
            ))
        }
        Ok(None) => Ok(Json(
            json!({ "ok": false, "message": format!("no process runs thread {thread}") }),
        )),
        Err(error) => Err(ApiError::internal(error.to_string())),
    }
}

/// `GET /api/p/{project}/t/{thread}/live`: server-sent events, one `tape` event whenever the
/// thread's tape grows (the page then fetches the new rows).
pub async fn live(
    State(state): State<AppState>,
    UrlPath((project, thread)): UrlPath<(usize, String)>,
) -> Result<Sse<impl futures::Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let dir = state.project(project)?.to_path_buf();
    let (_, paths) = crate::threads::locate_thread(&dir, &thread)
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    let tape = paths.tape;
    let start = tokio::fs::metadata(&tape).await.map_or(0, |m| m.len());
    let stream = futures::stream::unfold((tape, start), |(tape, mut seen)| async move {
        loop {
            tokio::time::sleep(LIVE_POLL).await;
            let len = tokio::fs::metadata(&tape).await.map_or(seen, |m| m.len());
            if len != seen {
                seen = len;
                let event = SseEvent::default().event("tape").data(len.to_string());
                return Some((Ok(event), (tape, seen)));
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
