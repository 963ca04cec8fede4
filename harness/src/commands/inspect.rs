//! Read-only views of threads: `baton threads`, `history`, `show`, `tree`. They read the tape
//! (never the lock), so they work while a thread runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use baton_tape::{
    Body, Checkpoint, Record, StateReader, StepNo, Tape, ThreadId, ThreadLock, ThreadPaths,
};
use serde::Serialize;

use super::ExitCode;
use crate::cli::{ProjectJsonArgs, ShowArgs, ThreadArgs};
use crate::error::HarnessError;
use crate::events::Event;
use crate::state::{Phase, ThreadState};

/// A thread's tape, opened for reading.
pub struct OpenThread {
    pub project: PathBuf,
    pub paths: ThreadPaths,
    pub tape: Tape<Event>,
}

/// Finds a thread in the project, or in one of its forks' worktrees, and reads its tape.
pub fn open_thread(project: &Path, thread: &str) -> Result<OpenThread, HarnessError> {
    let (project, paths) = locate_thread(project, thread)?;
    let (tape, _) = Tape::<Event>::open(&paths.tape)?;
    Ok(OpenThread {
        project,
        paths,
        tape,
    })
}

/// The folder holding a thread (the project or a fork's worktree) and its files.
pub fn locate_thread(project: &Path, thread: &str) -> Result<(PathBuf, ThreadPaths), HarnessError> {
    let id = ThreadId::new(thread).map_err(|e| HarnessError::BadInput(e.to_string()))?;
    project_dirs(project)
        .into_iter()
        .map(|dir| {
            let paths = ThreadPaths::new(&dir, &id);
            (dir, paths)
        })
        .find(|(_, paths)| paths.tape.exists())
        .ok_or_else(|| HarnessError::ThreadNotFound {
            thread: thread.to_owned(),
            project: project.to_path_buf(),
        })
}

/// The project and the worktrees of its forks and replays (`.baton/forks/<thread>/`).
pub fn project_dirs(project: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![project.to_path_buf()];
    for sub in ["forks", "replays"] {
        if let Ok(entries) = std::fs::read_dir(project.join(".baton").join(sub)) {
            let mut found: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect();
            found.sort();
            dirs.extend(found);
        }
    }
    dirs
}

/// Each thread's forks (forks and replays made from it), with the step they start from,
/// read from the tapes' headers.
pub fn fork_children(project: &Path) -> HashMap<String, Vec<(String, u64)>> {
    let mut children: HashMap<String, Vec<(String, u64)>> = HashMap::new();
    for (dir, id) in all_threads(project) {
        if let Ok(header) = baton_tape::read_header(&ThreadPaths::new(&dir, &id).tape)
            && let Some(parent) = header.parent
        {
            children
                .entry(parent.thread.to_string())
                .or_default()
                .push((id.to_string(), parent.step.0));
        }
    }
    children
}

/// Every thread of the project (forks included), with where it lives.
pub fn all_threads(project: &Path) -> Vec<(PathBuf, ThreadId)> {
    project_dirs(project)
        .into_iter()
        .flat_map(|dir| {
            baton_tape::list_threads(&dir)
                .unwrap_or_default()
                .into_iter()
                .map(move |id| (dir.clone(), id))
        })
        .collect()
}

/// One line of `baton threads` (and of the TUI's thread list).
#[derive(Debug, Serialize)]
pub(crate) struct ThreadRow {
    pub thread: String,
    pub status: String,
    pub node: String,
    pub step: u64,
    pub features: String,
    pub tokens: u64,
    /// The model the thread runs with (empty on tapes older than the record of it).
    pub model: String,
    pub last_activity: String,
    pub project: String,
}

/// `baton threads`: reads each tape's header, index, head state and last record, not its
/// whole history.
pub fn threads(args: &ProjectJsonArgs) -> anyhow::Result<ExitCode> {
    let rows = thread_rows(&args.project);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::Ok);
    }
    if rows.is_empty() {
        println!("no threads in {}", args.project.display());
        return Ok(ExitCode::Ok);
    }
    println!(
        "{:<24} {:<12} {:<12} {:>6} {:>9} {:>9}  {:<28} last activity",
        "thread", "status", "node", "step", "features", "tokens", "model"
    );
    for row in &rows {
        println!(
            "{:<24} {:<12} {:<12} {:>6} {:>9} {:>9}  {:<28} {}",
            row.thread,
            row.status,
            row.node,
            row.step,
            row.features,
            row.tokens,
            if row.model.is_empty() {
                "-"
            } else {
                &row.model
            },
            row.last_activity
        );
    }
    Ok(ExitCode::Ok)
}

/// Every thread of the project (forks included) with its status, from each tape's header,
/// index, head state and last record.
pub(crate) fn thread_rows(project: &Path) -> Vec<ThreadRow> {
    let mut rows = Vec::new();
    for (dir, id) in all_threads(project) {
        let paths = ThreadPaths::new(&dir, &id);
        let Ok(reader) = StateReader::open(&paths) else {
            rows.push(ThreadRow {
                thread: id.to_string(),
                status: "unreadable".to_owned(),
                node: String::new(),
                step: 0,
                features: String::new(),
                tokens: 0,
                model: String::new(),
                last_activity: String::new(),
                project: dir.display().to_string(),
            });
            continue;
        };
        let state = head_state(&reader);
        let last = reader.last_record::<Event>().ok().flatten();
        let running = ThreadLock::holder(&paths)
            .ok()
            .flatten()
            .is_some_and(|h| h.is_alive());
        let failed = matches!(
            last.as_ref().and_then(Record::event),
            Some(Event::Error { .. })
        );
        let status = match &state {
            Some(s) if s.paused.is_some() && !s.is_finished() => "paused",
            _ if running => "running",
            Some(s) if s.phase == Phase::Done => "done",
            Some(s) if matches!(s.phase, Phase::Stopped { .. }) => "stopped",
            Some(s) if matches!(s.phase, Phase::Blocked { .. }) => "blocked",
            _ if failed => "failed",
            _ => "interrupted",
        };
        rows.push(ThreadRow {
            thread: id.to_string(),
            status: status.to_owned(),
            node: state.as_ref().map(|s| s.node.clone()).unwrap_or_default(),
            step: state.as_ref().map_or(0, |s| s.step),
            features: state
                .as_ref()
                .map(|s| {
                    if s.blocked.is_empty() {
                        format!("{}/{}", s.features_passing, s.features_total)
                    } else {
                        format!(
                            "{}/{} ({} blocked)",
                            s.features_passing,
                            s.features_total,
                            s.blocked.len()
                        )
                    }
                })
                .unwrap_or_default(),
            tokens: state.as_ref().map_or(0, |s| s.ledger.total_tokens()),
            model: state
                .as_ref()
                .and_then(|s| s.connection.as_ref())
                .map(|c| c.model.clone())
                .unwrap_or_default(),
            last_activity: last
                .map(|r| r.at.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default(),
            project: dir.display().to_string(),
        });
    }
    rows
}

pub(crate) fn head_state(reader: &StateReader) -> Option<ThreadState> {
    let value = reader.state_at(reader.head()?).ok()?;
    ThreadState::from_value(value).ok()
}

/// One step of the live history: the events that made it, and its checkpoint.
pub struct StepView<'a> {
    pub checkpoint: &'a Checkpoint,
    pub events: Vec<&'a Event>,
}

/// The live branch, each checkpoint with the events of the attempt that produced it (events of
/// attempts cut short by a crash, before a `resumed` marker, are left out: no step twice).
pub fn live_steps(tape: &Tape<Event>) -> Vec<StepView<'_>> {
    let records = tape.records();
    let position: HashMap<u64, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.seq.0, i))
        .collect();
    tape.live_branch()
        .into_iter()
        .map(|checkpoint| {
            let end = position.get(&checkpoint.id.0).copied().unwrap_or(0);
            let mut events = Vec::new();
            for record in records[..end].iter().rev() {
                match &record.body {
                    Body::Event(Event::Resumed { .. }) => break,
                    Body::Event(event) => events.push(event),
                    _ => break,
                }
            }
            events.reverse();
            StepView { checkpoint, events }
        })
        .collect()
}

#[derive(Debug, Serialize)]
struct HistoryRow {
    step: u64,
    session: u32,
    node: String,
    tools: Vec<String>,
    outcome: String,
    tokens: u64,
}

pub fn history(args: &ThreadArgs) -> anyhow::Result<ExitCode> {
    let thread = open_thread(&args.project, &args.thread)?;
    let mut rows = Vec::new();
    let mut node = String::new();
    for view in live_steps(&thread.tape) {
        let mut row = HistoryRow {
            step: view.checkpoint.step.0,
            session: 0,
            node: node.clone(),
            tools: Vec::new(),
            outcome: String::new(),
            tokens: 0,
        };
        let mut outcomes = Vec::new();
        for event in &view.events {
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
                        Some(f) => format!("session start ({f})"),
                        None => "session start".to_owned(),
                    });
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
                }
                Event::ToolResult { name, ok, .. } => {
                    row.tools.push(if *ok {
                        name.clone()
                    } else {
                        format!("{name}!")
                    });
                }
                Event::FeatureListReverted { .. } => {
                    outcomes.push("feature list edit reverted".to_owned());
                }
                Event::InputReverted { .. } => outcomes.push("input edit reverted".to_owned()),
                Event::Verification {
                    feature, outcome, ..
                } => outcomes.push(format!("{feature} {outcome}")),
                Event::Regression { feature, .. } => outcomes.push(format!("{feature} regressed")),
                Event::FeatureBlocked {
                    feature, sessions, ..
                } => outcomes.push(format!("{feature} blocked after {sessions} sessions")),
                Event::Commit { sha, .. } => {
                    outcomes.push(format!("commit {}", &sha[..7.min(sha.len())]));
                }
                Event::SessionEnded { end, .. } => outcomes.push(format!(
                    "session end: {}",
                    serde_json::to_value(end)
                        .ok()
                        .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(str::to_owned))
                        .unwrap_or_default()
                )),
                Event::Transition { to, .. } => {
                    node.clone_from(to);
                    row.node.clone_from(to);
                }
                Event::ThreadFinished { status } => outcomes.push(format!("thread {status}")),
                Event::HumanEdit { .. } => outcomes.push("human edit".to_owned()),
                Event::Paused { reason } => outcomes.push(format!("paused ({reason})")),
                Event::Continued => outcomes.push("continued".to_owned()),
                Event::Instructed { text, .. } => {
                    let short: String = text.chars().take(60).collect();
                    outcomes.push(format!("instruction: {short}"));
                }
                Event::Error { message } => outcomes.push(format!("error: {message}")),
                _ => {}
            }
        }
        row.outcome = outcomes.join("; ");
        rows.push(row);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::Ok);
    }
    println!(
        "{:>5} {:>4} {:<12} {:>7}  {:<40} outcome",
        "step", "sess", "node", "tokens", "tool calls (! = error)"
    );
    for row in rows {
        println!(
            "{:>5} {:>4} {:<12} {:>7}  {:<40} {}",
            row.step,
            row.session,
            row.node,
            row.tokens,
            row.tools.join(" "),
            row.outcome
        );
    }
    Ok(ExitCode::Ok)
}

/// `baton show`: reads only the index and the lines behind the two states it prints, so it
/// costs the same at step 10 and at step 10,000.
pub fn show(args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let (project, paths) = locate_thread(&args.project, &args.thread)?;
    let reader = StateReader::open(&paths)?;
    let id = reader.resolve(StepNo(args.step))?;
    let checkpoint = reader.raw_state_at(id)?;
    let value = checkpoint.to_value()?;
    let state = ThreadState::from_value(value.clone())?;
    println!(
        "thread {} at step {} (checkpoint {id})",
        state.thread, checkpoint.step
    );
    println!("node        {} ({:?})", state.node, state.phase);
    println!("session     {} (turn {})", state.session, state.turn);
    if let Some(feature) = &state.feature {
        println!("feature     {feature}");
    }
    println!(
        "features    {}/{} passing",
        state.features_passing, state.features_total
    );
    println!("tokens      {}", state.ledger.total_tokens());
    if let Some(snapshot) = &checkpoint.snapshot {
        println!(
            "worktree    tree {} (commit {})",
            snapshot.tree, snapshot.commit
        );
    }
    println!("conversation: {} messages", state.conversation.len());
    for message in state.conversation.iter().rev().take(3).rev() {
        let content = message.content.as_deref().unwrap_or("");
        let content: String = content.chars().take(300).collect();
        let calls: Vec<String> = message
            .tool_calls
            .iter()
            .map(|c| {
                format!(
                    "{}({})",
                    c.name,
                    c.arguments.chars().take(80).collect::<String>()
                )
            })
            .collect();
        println!(
            "  {:?}: {} {}",
            message.role,
            content.replace('\n', " "),
            calls.join(", ")
        );
    }
    if args.diff {
        let Some(previous) = args.step.checked_sub(1) else {
            println!("(step 0 has nothing before it)");
            return Ok(ExitCode::Ok);
        };
        let previous_checkpoint = reader.raw_state_at(reader.resolve(StepNo(previous))?)?;
        let delta = baton_tape::diff(&previous_checkpoint.to_value()?, &value);
        println!("\nstate changes since step {previous}:");
        println!("{}", serde_json::to_string_pretty(&delta)?);
        if let (Some(a), Some(b)) = (&previous_checkpoint.snapshot, &checkpoint.snapshot) {
            let id =
                ThreadId::new(&args.thread).map_err(|e| HarnessError::BadInput(e.to_string()))?;
            let snapshots = baton_tape::Snapshotter::open(&project, &id)?;
            println!("\nfile changes since step {previous}:");
            println!("{}", snapshots.diff_trees(a, b)?);
        }
    }
    Ok(ExitCode::Ok)
}

/// `baton tree`: the root's index and every thread's header line.
pub fn tree(args: &ThreadArgs) -> anyhow::Result<ExitCode> {
    let (_, root) = locate_thread(&args.project, &args.thread)?;
    let root = StateReader::open(&root)?;
    let head_step = match root.head() {
        Some(head) => root.step_of(head)?.0,
        None => 0,
    };
    let mut children: HashMap<String, Vec<(String, u64)>> = HashMap::new();
    for (dir, id) in all_threads(&args.project) {
        let paths = ThreadPaths::new(&dir, &id);
        if let Ok(header) = baton_tape::read_header(&paths.tape)
            && let Some(parent) = &header.parent
        {
            children
                .entry(parent.thread.to_string())
                .or_default()
                .push((id.to_string(), parent.step.0));
        }
    }
    println!("{} (head at step {head_step})", args.thread);
    print_children(&children, &args.thread, "");
    Ok(ExitCode::Ok)
}

fn print_children(children: &HashMap<String, Vec<(String, u64)>>, thread: &str, indent: &str) {
    let Some(found) = children.get(thread) else {
        return;
    };
    let mut forks = found.clone();
    forks.sort_by_key(|(id, fork_step)| (*fork_step, id.clone()));
    for (i, (child, at)) in forks.iter().enumerate() {
        let is_last = i + 1 == forks.len();
        println!(
            "{indent}{} {child} (forked at step {at})",
            if is_last { "└─" } else { "├─" }
        );
        let deeper = format!("{indent}{}", if is_last { "   " } else { "│  " });
        print_children(children, child, &deeper);
    }
}
