//! `baton web`: a dashboard of one or more projects' threads in the browser (axum; the page
//! is plain HTML, CSS and JS embedded in the binary, no build step).
//!
//! Threads with their status; a thread's fork tree drawn as SVG (failed steps in red,
//! verified ones in green); its steps, paged; a step's events in full, its commit, and the
//! diff against any other step; each feature's check runs with their screenshots; a search
//! over the memory; new steps of a running thread arriving live (server-sent events); pause,
//! continue, stop and instruct through the control channel. Safe by default: see `guard`.

mod api;
#[cfg(feature = "bench")]
pub mod bench;
mod guard;

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};

use crate::error::HarnessError;
use crate::exit::ExitCode;

#[cfg(test)]
use guard::TOKEN_HEADER;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// Serves the dashboard until the process is stopped.
pub async fn serve(
    projects: Vec<PathBuf>,
    bind: SocketAddr,
    allow_remote: bool,
) -> anyhow::Result<ExitCode> {
    let projects = resolve_projects(projects)?;
    let (guard, token_file) = guard::Guard::for_addr(bind, allow_remote)?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|source| HarnessError::BadInput(format!("cannot listen on {bind}: {source} (is another `baton web` running? pick another port with --bind)")))?;
    let addr = listener
        .local_addr()
        .map_err(|source| HarnessError::io(std::path::Path::new("listener"), source))?;
    let guard = guard::Guard { addr, ..guard };
    let app = router(projects.clone(), guard.clone());
    match token_file {
        Some(path) => eprintln!(
            "baton web: serving {} project(s) on http://{addr}/?token=… (the token is in {}; every request needs it)",
            projects.len(),
            path.display()
        ),
        None => eprintln!(
            "baton web: serving {} project(s) on http://{addr}/ (loopback only; Ctrl-C stops)",
            projects.len()
        ),
    }
    axum::serve(listener, app)
        .await
        .map_err(|source| HarnessError::io(std::path::Path::new("web server"), source))?;
    Ok(ExitCode::Ok)
}

/// The dashboard's routes behind the guard.
fn router(projects: Vec<PathBuf>, guard: guard::Guard) -> Router {
    let state = api::AppState::new(projects, guard.token.clone());
    Router::new()
        .route("/", get(index))
        .route(
            "/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    APP_JS,
                )
            }),
        )
        .route(
            "/style.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                    STYLE_CSS,
                )
            }),
        )
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .route("/api/threads", get(api::threads))
        .route("/api/p/{project}/t/{thread}/steps", get(api::steps))
        .route("/api/p/{project}/t/{thread}/step/{index}", get(api::step))
        .route("/api/p/{project}/t/{thread}/diff", get(api::diff))
        .route("/api/p/{project}/t/{thread}/tree", get(api::tree))
        .route("/api/p/{project}/t/{thread}/compare", get(api::compare))
        .route("/api/p/{project}/t/{thread}/live", get(api::live))
        .route("/api/p/{project}/t/{thread}/control", post(api::control))
        .route("/api/p/{project}/features", get(api::features))
        .route(
            "/api/p/{project}/evidence/{feature}/{run}/{file}",
            get(api::evidence),
        )
        .route("/api/p/{project}/recall", get(api::recall))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(guard, guard::check))
}

/// The page, with this process's token for the requests that change something (only a
/// page of this origin can read it).
async fn index(State(state): State<api::AppState>) -> impl IntoResponse {
    let page = INDEX_HTML.replace("{{TOKEN}}", &state.token);
    (
        [
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(page),
    )
}

fn resolve_projects(projects: Vec<PathBuf>) -> Result<Vec<PathBuf>, HarnessError> {
    let projects = if projects.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        projects
    };
    projects
        .into_iter()
        .map(|dir| {
            dir.canonicalize().map_err(|source| {
                HarnessError::BadInput(format!("project {}: {source}", dir.display()))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
