//! Progress lines on stderr while a thread runs: node, session, step, features, tokens.
//! Plain lines (no terminal control codes) so logs of unattended runs stay readable.

use std::time::{Duration, Instant};

use baton_model::ModelResponse;

use crate::project::Committed;
use crate::state::ThreadState;

fn tokens(state: &ThreadState) -> String {
    let total = state.ledger.total_tokens();
    if total >= 10_000 {
        format!("{:.1}k tok", total as f64 / 1000.0)
    } else {
        format!("{total} tok")
    }
}

pub fn head(state: &ThreadState) -> String {
    let blocked = if state.blocked.is_empty() {
        String::new()
    } else {
        format!(" ({} blocked)", state.blocked.len())
    };
    format!(
        "[{} · s{} {} · step {} · features {}/{}{blocked} · {}]",
        state.thread,
        state.session,
        state.node,
        state.step,
        state.features_passing,
        state.features_total,
        tokens(state)
    )
}

/// `, 1 blocked: id (why)` for summaries; empty when nothing is blocked.
pub fn blocked_note(state: &ThreadState) -> String {
    if state.blocked.is_empty() {
        return String::new();
    }
    let features: Vec<String> = state
        .blocked
        .iter()
        .map(|(id, blocked)| format!("{id} ({})", blocked.failure))
        .collect();
    format!(", {} blocked: {}", state.blocked.len(), features.join("; "))
}

pub fn session_started(state: &ThreadState) {
    match &state.feature {
        Some(feature) => eprintln!("{} session started: feature {feature}", head(state)),
        None => eprintln!("{} session started", head(state)),
    }
}

pub fn step(state: &ThreadState, response: &ModelResponse) {
    let calls: Vec<&str> = response
        .message
        .tool_calls
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    if calls.is_empty() {
        eprintln!("{} model: done", head(state));
    } else {
        eprintln!("{} model: {}", head(state), calls.join(", "));
    }
}

pub fn session_finished(state: &ThreadState, end: &str, commit: Option<&Committed>) {
    let commit = commit.map_or_else(
        || "no commit".to_owned(),
        |c| format!("commit {}", &c.sha[..7]),
    );
    eprintln!("{} session ended ({end}), {commit}", head(state));
}

pub fn regressions(lines: &[String]) {
    for line in lines {
        eprintln!("baton: regression: {line}");
    }
}

pub fn finished(state: &ThreadState) {
    eprintln!("{} thread done", head(state));
}

/// While something slow is in flight (a model request, a tool call), a line every `every`
/// saying what and for how long: `[…] waiting for the model · 20 s`. Plain lines, like the
/// rest; nothing is printed for what ends within the first interval. Stops when dropped.
pub struct Ticker(tokio::task::JoinHandle<()>);

impl Ticker {
    pub fn start(head: String, what: String, every: Duration) -> Ticker {
        let started = Instant::now();
        Ticker(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                eprintln!("{head} {what} · {} s", started.elapsed().as_secs());
            }
        }))
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.abort();
    }
}
