//! Progress lines on stderr while a thread runs: node, session, step, features, tokens, from
//! the events the runner records (`ProgressLines` is its terminal observer). Plain lines (no
//! terminal control codes) so logs of unattended runs stay readable.

use std::time::{Duration, Instant};

use crate::events::Event;
use crate::observe::Observer;
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

/// The terminal's progress lines: one observer of the runner (see `observe`).
#[derive(Default)]
pub struct ProgressLines {
    /// The session's commit, named when the session's end is announced.
    commit: Option<String>,
}

impl Observer for ProgressLines {
    fn recorded(&mut self, state: &ThreadState, event: &Event) {
        match event {
            Event::SessionStarted { feature, .. } => {
                self.commit = None;
                let what = feature
                    .as_ref()
                    .map_or_else(String::new, |f| format!(": feature {f}"));
                eprintln!("{} session started{what}", head(state));
            }
            Event::ModelResponse { response, .. } => {
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
            Event::Commit { sha, .. } => self.commit = Some(sha.chars().take(7).collect()),
            Event::SessionEnded { end, .. } => {
                let commit = self
                    .commit
                    .take()
                    .map_or_else(|| "no commit".to_owned(), |sha| format!("commit {sha}"));
                eprintln!(
                    "{} session ended ({}), {commit}",
                    head(state),
                    end.describe()
                );
            }
            Event::Regression { feature, failure } => {
                eprintln!("baton: regression: {feature}: {failure}");
            }
            Event::FeatureBlocked {
                feature,
                sessions,
                failure,
            } => eprintln!(
                "baton: feature {feature} is blocked after {sessions} coding sessions: {failure}"
            ),
            Event::ThreadFinished { status } if status == "done" => {
                eprintln!("{} thread done", head(state));
            }
            _ => {}
        }
    }
}

/// The line a paused thread prints once, when it starts waiting.
pub fn paused(state: &ThreadState, reason: &str) {
    let thread = &state.thread;
    eprintln!(
        "baton: thread {thread} paused at step {} ({reason}); `baton continue {thread}` goes on, `baton instruct {thread} \"...\"` adds an instruction",
        state.step
    );
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
