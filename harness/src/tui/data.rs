//! What the TUI shows, read from the tapes: the project's threads, a thread's live steps
//! (with where forks branch off and where rewinds left steps behind), a step's events in
//! full, and the state and file diff between two steps.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use baton_tape::{Body, LiveCheckpoint, StateReader, StepNo, ThreadId, ThreadPaths};

use crate::error::HarnessError;
use crate::events::Event;
use crate::state::ThreadState;
use crate::threads::{ThreadRow, fork_children, locate_thread, thread_rows};

/// The project's threads, for the first screen.
pub fn threads(project: &Path) -> Vec<ThreadRow> {
    thread_rows(project)
}

/// One row of a thread's step list.
#[derive(Debug, Clone)]
pub struct StepRow {
    pub step: u64,
    pub session: u32,
    pub node: String,
    /// Tool calls with whether they succeeded.
    pub tools: Vec<(String, bool)>,
    pub tokens: u64,
    pub latency_ms: u64,
    /// What else happened: verification, commit, session end, pause, instruction, ...
    pub outcome: String,
    /// Something failed in this step (a tool, a check, the model).
    pub failed: bool,
    /// Threads forked from this step.
    pub forks: Vec<String>,
    /// The events of the step, for its detail view.
    pub events: Vec<Event>,
}

/// Rows are summarised this many steps at a time, when first drawn or asked for: opening a
/// thread of 100,000 steps reads its index and one chunk, not the whole tape.
const CHUNK: usize = 256;

/// One chunk's rows, shared by the views that asked for them.
type Chunk = Arc<[Arc<StepRow>]>;

/// A thread opened in the TUI or the dashboard.
#[derive(Debug)]
pub struct ThreadData {
    pub thread: String,
    /// The folder holding the thread (the project, or a fork's worktree).
    pub dir: PathBuf,
    pub paths: ThreadPaths,
    reader: StateReader,
    /// The live branch, each step with where its events lie on the tape.
    steps: Vec<LiveCheckpoint>,
    /// Threads forked from this one, by the step they start from.
    forks: HashMap<u64, Vec<String>>,
    /// Summarised rows, chunk by chunk ([`CHUNK`]); shared by the dashboard's requests.
    chunks: Mutex<Vec<Option<Chunk>>>,
    /// Checkpoints of the thread left behind by rewinds (not on the live branch).
    pub abandoned: usize,
    /// The state at the head checkpoint.
    pub head: Option<ThreadState>,
    /// Tape length when read, so follow mode knows when to read again.
    pub tape_len: u64,
}

impl ThreadData {
    /// Opens a thread through its checkpoint index: the live steps and where their events
    /// are, the forks that start from them, the head state. Events are read when a row is.
    pub fn load(project: &Path, thread: &str) -> Result<ThreadData, HarnessError> {
        let (dir, paths) = locate_thread(project, thread)?;
        let tape_len = std::fs::metadata(&paths.tape).map_or(0, |m| m.len());
        let reader = StateReader::open(&paths)?;
        let steps = reader.live_checkpoints();
        let head = reader
            .head()
            .and_then(|head| reader.state_at(head).ok())
            .and_then(|value| ThreadState::from_value(value).ok());
        let abandoned = reader.checkpoint_count().saturating_sub(steps.len());
        Ok(ThreadData {
            thread: thread.to_owned(),
            dir,
            paths,
            forks: forks_of(project, thread),
            chunks: Mutex::new(vec![None; steps.len().div_ceil(CHUNK)]),
            steps,
            reader,
            abandoned,
            head,
            tape_len,
        })
    }

    /// Live steps (rows) of the thread.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// The step number of row `index`, without reading its events.
    pub fn step_at(&self, index: usize) -> Option<u64> {
        self.steps.get(index).map(|s| s.step.0)
    }

    /// Row `index`, summarised from its events.
    pub fn row(&self, index: usize) -> Option<Arc<StepRow>> {
        self.rows(index..index + 1).pop()
    }

    /// Rows `range` (clipped to the thread), reading the chunks they fall in once.
    pub fn rows(&self, range: std::ops::Range<usize>) -> Vec<Arc<StepRow>> {
        let end = range.end.min(self.steps.len());
        let start = range.start.min(end);
        let mut rows = Vec::with_capacity(end - start);
        let mut index = start;
        while index < end {
            let chunk = self.chunk(index / CHUNK);
            let offset = index % CHUNK;
            let take = (end - index).min(chunk.len() - offset);
            rows.extend(chunk[offset..offset + take].iter().cloned());
            index += take;
        }
        rows
    }

    /// Every row, for views that mark the whole thread (the dashboard's fork tree).
    pub fn all_rows(&self) -> Vec<Arc<StepRow>> {
        self.rows(0..self.steps.len())
    }

    /// Whether the tape grew since it was read (follow mode).
    pub fn grew(&self) -> bool {
        std::fs::metadata(&self.paths.tape).is_ok_and(|m| m.len() != self.tape_len)
    }

    fn chunk(&self, number: usize) -> Chunk {
        if let Ok(chunks) = self.chunks.lock()
            && let Some(Some(chunk)) = chunks.get(number)
        {
            return Arc::clone(chunk);
        }
        let chunk: Chunk = self.summarize_chunk(number).into();
        if let Ok(mut chunks) = self.chunks.lock()
            && let Some(slot) = chunks.get_mut(number)
        {
            *slot = Some(Arc::clone(&chunk));
        }
        chunk
    }

    /// Reads one chunk's events and folds them into rows. The node and session a row
    /// shows carry over from the steps before it: for a chunk after the first they come
    /// from the state at the checkpoint just before the chunk.
    fn summarize_chunk(&self, number: usize) -> Vec<Arc<StepRow>> {
        let steps = &self.steps[number * CHUNK..((number + 1) * CHUNK).min(self.steps.len())];
        let (mut node, mut session) = number
            .checked_mul(CHUNK)
            .and_then(|first| first.checked_sub(1))
            .and_then(|before| self.reader.state_at(self.steps[before].id).ok())
            .and_then(|value| ThreadState::from_value(value).ok())
            .map_or((String::new(), 0), |state| (state.node, state.session));
        let spans: Vec<_> = steps.iter().map(|s| s.events.clone()).collect();
        let events = match self.reader.read_events::<Event>(&spans) {
            Ok(events) => events,
            Err(error) => {
                return steps
                    .iter()
                    .map(|s| Arc::new(unreadable_row(s.step.0, &error.to_string())))
                    .collect();
            }
        };
        steps
            .iter()
            .zip(events)
            .map(|(step, records)| {
                let mut events: Vec<Event> = records
                    .into_iter()
                    .filter_map(|r| match r.body {
                        Body::Event(event) => Some(event),
                        _ => None,
                    })
                    .collect();
                // An attempt cut short by a crash is left out: the events after the last
                // `resumed` marker made this step.
                if let Some(marker) = events
                    .iter()
                    .rposition(|e| matches!(e, Event::Resumed { .. }))
                {
                    events.drain(..=marker);
                }
                let mut row = StepRow {
                    step: step.step.0,
                    session,
                    node: node.clone(),
                    tools: Vec::new(),
                    tokens: 0,
                    latency_ms: 0,
                    outcome: String::new(),
                    failed: false,
                    forks: self.forks.get(&step.step.0).cloned().unwrap_or_default(),
                    events: Vec::new(),
                };
                let mut outcomes = Vec::new();
                for event in &events {
                    summarize(event, &mut row, &mut outcomes, &mut node);
                }
                session = row.session;
                row.outcome = outcomes.join("; ");
                row.events = events;
                Arc::new(row)
            })
            .collect()
    }
}

/// A row for a step whose events cannot be read (a damaged tape): shown, not hidden.
fn unreadable_row(step: u64, error: &str) -> StepRow {
    StepRow {
        step,
        session: 0,
        node: String::new(),
        tools: Vec::new(),
        tokens: 0,
        latency_ms: 0,
        outcome: format!("events unreadable: {error}"),
        failed: true,
        forks: Vec::new(),
        events: Vec::new(),
    }
}

/// Folds one event into its step's row.
fn summarize(event: &Event, row: &mut StepRow, outcomes: &mut Vec<String>, node: &mut String) {
    match event {
        Event::SessionStarted {
            session,
            node: n,
            feature,
            ..
        } => {
            node.clone_from(n);
            row.node.clone_from(n);
            row.session = *session;
            outcomes.push(match feature {
                Some(f) => format!("session {session} start ({f})"),
                None => format!("session {session} start"),
            });
        }
        Event::Transition { to, .. } => {
            node.clone_from(to);
            row.node.clone_from(to);
        }
        Event::ModelResponse {
            session,
            response,
            replayed,
            ..
        } => {
            row.session = *session;
            if !replayed {
                row.tokens += response.usage.total();
            }
            row.latency_ms += response.latency_ms;
        }
        Event::ToolResult { name, ok, .. } => {
            row.failed |= !ok;
            row.tools.push((name.clone(), *ok));
        }
        Event::Verification {
            feature, outcome, ..
        } => {
            row.failed |= outcome != "passed";
            outcomes.push(format!("{feature} {outcome}"));
        }
        Event::Regression { feature, .. } => {
            row.failed = true;
            outcomes.push(format!("{feature} regressed"));
        }
        Event::Commit { sha, .. } => outcomes.push(format!("commit {}", short(sha))),
        Event::SessionEnded { end, .. } => outcomes.push(format!("end: {}", reason_of(end))),
        Event::FeatureListReverted { .. } => outcomes.push("list edit reverted".to_owned()),
        Event::InputReverted { .. } => outcomes.push("input edit reverted".to_owned()),
        Event::Paused { reason } => outcomes.push(format!("paused ({reason})")),
        Event::Continued => outcomes.push("continued".to_owned()),
        Event::Instructed { text, .. } => outcomes.push(format!("instruction: {text}")),
        Event::HumanEdit { .. } => outcomes.push("human edit".to_owned()),
        Event::Error { message } => {
            row.failed = true;
            outcomes.push(format!("error: {message}"));
        }
        Event::ThreadFinished { status } => outcomes.push(format!("thread {status}")),
        _ => {}
    }
}

fn reason_of(end: &crate::events::SessionEnd) -> String {
    serde_json::to_value(end)
        .ok()
        .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

fn short(sha: &str) -> &str {
    &sha[..7.min(sha.len())]
}

/// Threads forked from `thread`, by the step they start from.
fn forks_of(project: &Path, thread: &str) -> HashMap<u64, Vec<String>> {
    let mut forks: HashMap<u64, Vec<String>> = HashMap::new();
    for (fork, step) in fork_children(project).remove(thread).unwrap_or_default() {
        forks.entry(step).or_default().push(fork);
    }
    forks
}

/// A step's events in full: the model's words and calls, every tool result, checks, commits.
pub fn step_detail(row: &StepRow) -> String {
    let mut out = format!(
        "step {} · session {} · {}\n",
        row.step, row.session, row.node
    );
    for event in &row.events {
        let _ = match event {
            Event::ModelResponse { turn, response, .. } => {
                let _ = writeln!(
                    out,
                    "\n── model, turn {turn} ({} ms, {} in + {} out tokens{})",
                    response.latency_ms,
                    response.usage.prompt_tokens,
                    response.usage.completion_tokens,
                    response
                        .finish_reason
                        .as_deref()
                        .map_or_else(String::new, |r| format!(", finish {r}"))
                );
                if let Some(content) = response.message.content.as_deref()
                    && !content.trim().is_empty()
                {
                    let _ = writeln!(out, "{}", content.trim_end());
                }
                for call in &response.message.tool_calls {
                    let _ = writeln!(out, "→ {} {}", call.name, call.arguments);
                }
                Ok(())
            }
            Event::ToolResult {
                name,
                ok,
                content,
                millis,
                ..
            } => writeln!(
                out,
                "\n── {name} {} ({millis} ms)\n{}",
                if *ok { "ok" } else { "✗ failed" },
                content.trim_end()
            ),
            Event::ModelRequest {
                messages,
                estimated_tokens,
                shortened,
                ..
            } => writeln!(
                out,
                "\n── request: {messages} messages, ~{estimated_tokens} tokens{}",
                if *shortened > 0 {
                    format!(", {shortened} old outputs shortened")
                } else {
                    String::new()
                }
            ),
            Event::Verification {
                feature,
                outcome,
                failure,
                evidence,
                millis,
            } => writeln!(
                out,
                "\n── verification of {feature}: {outcome} ({millis} ms){}{}",
                failure
                    .as_deref()
                    .map_or_else(String::new, |f| format!("\n{f}")),
                evidence
                    .as_deref()
                    .map_or_else(String::new, |e| format!("\nevidence: {e}"))
            ),
            Event::Commit {
                sha,
                message,
                files,
                ..
            } => writeln!(
                out,
                "\n── commit {}: {}\nfiles: {}",
                short(sha),
                message.trim_end(),
                files.join(", ")
            ),
            Event::SessionStarted {
                session,
                node,
                feature,
                memories,
            } => writeln!(
                out,
                "\n── session {session} started ({node}{}; {memories} memories)",
                feature
                    .as_deref()
                    .map_or_else(String::new, |f| format!(", feature {f}"))
            ),
            Event::SessionEnded { end, summary, .. } => writeln!(
                out,
                "\n── session ended: {}{}",
                reason_of(end),
                summary
                    .as_deref()
                    .map_or_else(String::new, |s| format!("\n{}", s.trim_end()))
            ),
            other => writeln!(
                out,
                "\n── {}",
                serde_json::to_string(other).unwrap_or_default()
            ),
        };
    }
    out
}

/// The state diff (JSON delta) and the file diff between the checkpoints of two steps.
pub fn diff(data: &ThreadData, from: u64, to: u64) -> Result<String, HarnessError> {
    let reader = StateReader::open(&data.paths)?;
    let a = reader.raw_state_at(reader.resolve(StepNo(from))?)?;
    let b = reader.raw_state_at(reader.resolve(StepNo(to))?)?;
    let delta = baton_tape::diff(&a.to_value()?, &b.to_value()?);
    let mut out = String::new();
    // Files first: what a person most often wants from a diff between two steps.
    if let (Some(sa), Some(sb)) = (&a.snapshot, &b.snapshot) {
        let id = ThreadId::new(&data.thread).map_err(|e| HarnessError::BadInput(e.to_string()))?;
        let snapshots = baton_tape::Snapshotter::open(&data.dir, &id)?;
        let files = snapshots.diff_trees(sa, sb)?;
        let _ = writeln!(out, "file changes from step {from} to step {to}:\n{files}");
    }
    let _ = writeln!(
        out,
        "state changes from step {from} to step {to} (one edit a line):"
    );
    for op in &delta.ops {
        let _ = writeln!(out, "{}", serde_json::to_string(op)?);
    }
    Ok(out)
}

/// The fork tree from `root` down, one node per thread: where it starts on its parent, how
/// far it got, and the steps worth a mark (failed in red, verified in green, commits).
pub fn fork_tree(project: &Path, root: &ThreadData) -> Vec<serde_json::Value> {
    let mut children = fork_children(project);
    let mut nodes = Vec::new();
    let mut queue = vec![(root.thread.clone(), None::<String>, 0u64)];
    while let Some((thread, parent, at)) = queue.pop() {
        // The root is read already (the caller's cache); forks are read here.
        let loaded;
        let data = if thread == root.thread {
            root
        } else {
            match ThreadData::load(project, &thread) {
                Ok(data) => {
                    loaded = data;
                    &loaded
                }
                Err(_) => continue,
            }
        };
        let marks: Vec<serde_json::Value> = data
            .all_rows()
            .iter()
            .filter_map(|row| {
                let kind = if row.failed {
                    "fail"
                } else if row.outcome.contains(" passed") {
                    "pass"
                } else if row.outcome.contains("commit ") {
                    "commit"
                } else {
                    return None;
                };
                Some(serde_json::json!({ "step": row.step, "kind": kind }))
            })
            .take(2_000)
            .collect();
        nodes.push(serde_json::json!({
            "thread": thread,
            "parent": parent,
            "at": at,
            "head_step": data.len().checked_sub(1).and_then(|i| data.step_at(i)).unwrap_or(0),
            "status": data.head.as_ref().map_or("unknown", ThreadState::status_word),
            "abandoned": data.abandoned,
            "marks": marks,
        }));
        for (child, step) in children.remove(&thread).unwrap_or_default() {
            queue.push((child, Some(thread.clone()), step));
        }
    }
    nodes
}
