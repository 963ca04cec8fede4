//! Read-only views of threads: `baton threads`, `history`, `show`, `tree`. They read the tape
//! (never the lock), so they work while a thread runs.

use std::collections::HashMap;

use baton_tape::{StateReader, StepNo, ThreadId};
use serde::Serialize;

use super::ExitCode;
use crate::cli::{ProjectJsonArgs, ShowArgs, ThreadArgs};
use crate::error::HarnessError;
use crate::events::Event;
use crate::state::ThreadState;
use crate::threads::{fork_children, live_steps, locate_thread, open_thread, thread_rows};

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
/// One thread of `baton tree --json` and the forks made from it.
#[derive(Debug, Serialize)]
struct TreeNode {
    thread: String,
    /// The step of the parent it was forked at (none for the root).
    #[serde(skip_serializing_if = "Option::is_none")]
    forked_at: Option<u64>,
    forks: Vec<TreeNode>,
}

pub fn tree(args: &ThreadArgs) -> anyhow::Result<ExitCode> {
    let (_, root) = locate_thread(&args.project, &args.thread)?;
    let root = StateReader::open(&root)?;
    let head_step = match root.head() {
        Some(head) => root.step_of(head)?.0,
        None => 0,
    };
    let children = fork_children(&args.project);
    if args.json {
        let tree = tree_node(&children, &args.thread, None);
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "head_step": head_step,
                "thread": tree.thread,
                "forks": tree.forks,
            }))?
        );
        return Ok(ExitCode::Ok);
    }
    println!("{} (head at step {head_step})", args.thread);
    print_children(&children, &args.thread, "");
    Ok(ExitCode::Ok)
}

/// Forks of `thread`, ordered by the step they start from.
fn sorted_forks(
    children: &HashMap<String, Vec<(String, u64)>>,
    thread: &str,
) -> Vec<(String, u64)> {
    let mut forks = children.get(thread).cloned().unwrap_or_default();
    forks.sort_by_key(|(id, fork_step)| (*fork_step, id.clone()));
    forks
}

fn tree_node(
    children: &HashMap<String, Vec<(String, u64)>>,
    thread: &str,
    forked_at: Option<u64>,
) -> TreeNode {
    TreeNode {
        thread: thread.to_owned(),
        forked_at,
        forks: sorted_forks(children, thread)
            .into_iter()
            .map(|(child, at)| tree_node(children, &child, Some(at)))
            .collect(),
    }
}

fn print_children(children: &HashMap<String, Vec<(String, u64)>>, thread: &str, indent: &str) {
    let forks = sorted_forks(children, thread);
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
