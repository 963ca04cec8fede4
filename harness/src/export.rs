//! Training data from a thread's fork tree (`baton export`) and the ratings that steer it
//! (`baton rate`). Formats are documented, with a JSON Schema each, in docs/EXPORT.md.
//!
//! A *branch* is one thread of the tree: the root, or a fork/replay that names its parent and
//! the step it left it at in its tape header. At each fork point the parent's steps after
//! the point and each fork's steps are sibling continuations of one prompt (the parent's
//! conversation at that step): DPO pairs come from them. A branch is preferred by its
//! rating (good > unrated > bad), then by features passing at its head, then by fewer
//! failed tool calls; siblings equal on all three give no pair.
//!
//! Ratings live next to the tape, `<thread dir>/ratings.jsonl`, one appended, fsynced line
//! each; the latest rating of a step in a continuation counts.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

use baton_model::{ChatMessage, Role};
use baton_tape::{Redactor, StateReader, StepNo, ThreadPaths};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::HarnessError;
use crate::events::Event;
use crate::state::ThreadState;
use crate::threads::{fork_children, locate_thread};
use crate::tui::ThreadData;

/// What `baton export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per branch of the fork tree, with its steps.
    Trajectory,
    /// Preference pairs from sibling branches at each fork point.
    Dpo,
    /// Chat samples, one per session, of the branches that succeeded.
    Sft,
}

/// A person's verdict on a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Good,
    Bad,
}

/// One line of `ratings.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rating {
    pub step: u64,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

/// Records a rating of `step` of `thread`; the step must be on the thread's live branch.
pub fn rate(
    project: &Path,
    thread: &str,
    step: u64,
    verdict: Verdict,
    note: Option<String>,
) -> Result<Rating, HarnessError> {
    let data = ThreadData::load(project, thread)?;
    if !(0..data.len()).any(|i| data.step_at(i) == Some(step)) {
        let last = data.len().checked_sub(1).and_then(|i| data.step_at(i));
        return Err(HarnessError::BadInput(format!(
            "thread {thread} has no live step {step} (its steps end at {}); `baton history {thread}` lists them",
            last.map_or_else(|| "none".to_owned(), |s| s.to_string())
        )));
    }
    let rating = Rating {
        step,
        verdict,
        note,
        at: Utc::now(),
    };
    let mut line = serde_json::to_string(&rating)?;
    line.push('\n');
    let path = ratings_path(&data.paths);
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| HarnessError::io(&path, e))?;
    // A rating is a person's judgement: it must survive a crash right after the command.
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| HarnessError::io(&path, e))?;
    Ok(rating)
}

fn ratings_path(paths: &ThreadPaths) -> std::path::PathBuf {
    paths.dir.join("ratings.jsonl")
}

/// The ratings of a thread, oldest first; lines that do not parse are skipped.
fn ratings(paths: &ThreadPaths) -> Vec<Rating> {
    std::fs::read_to_string(ratings_path(paths))
        .map(|text| {
            text.lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// A verification of a feature in a step.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub feature: String,
    pub outcome: String,
}

/// One live step of a branch.
#[derive(Debug, Clone, Serialize)]
pub struct BranchStep {
    pub step: u64,
    pub session: u32,
    pub node: String,
    /// The model's messages, tool results (role `tool`) and people's instructions (role
    /// `user`), in the order they happened.
    pub messages: Vec<ChatMessage>,
    pub failed_tool_calls: usize,
    pub checks: Vec<Check>,
    pub outcome: String,
    pub failed: bool,
    /// Threads forked from this step.
    pub forks: Vec<String>,
}

/// One thread of the fork tree.
#[derive(Debug, Clone, Serialize)]
pub struct Branch {
    pub thread: String,
    pub parent: Option<String>,
    /// The parent's step this branch starts from.
    pub fork_step: Option<u64>,
    /// The instruction given when it was forked (`fork --instruct`).
    pub instruction: Option<String>,
    pub status: String,
    pub head_step: u64,
    pub features_passing: usize,
    pub features_total: usize,
    pub failed_tool_calls: usize,
    pub ratings: Vec<Rating>,
    pub steps: Vec<BranchStep>,
    #[serde(skip)]
    paths: ThreadPaths,
}

/// The fork tree of `root`, root first, each branch after its parent.
pub fn branches(project: &Path, root: &str) -> Result<Vec<Branch>, HarnessError> {
    let mut children = fork_children(project);
    let mut out = Vec::new();
    let mut queue = std::collections::VecDeque::from([(root.to_owned(), None, None)]);
    while let Some((thread, parent, fork_step)) = queue.pop_front() {
        let data = ThreadData::load(project, &thread)?;
        out.push(branch(&data, parent, fork_step));
        let mut kids = children.remove(&thread).unwrap_or_default();
        kids.sort();
        for (child, step) in kids {
            queue.push_back((child, Some(thread.clone()), Some(step)));
        }
    }
    Ok(out)
}

fn branch(data: &ThreadData, parent: Option<String>, fork_step: Option<u64>) -> Branch {
    let mut instruction = None;
    let steps: Vec<BranchStep> = data
        .all_rows()
        .iter()
        .map(|row| {
            let mut messages = Vec::new();
            let mut checks = Vec::new();
            for event in &row.events {
                match event {
                    Event::ModelResponse { response, .. } => {
                        messages.push(response.message.clone());
                    }
                    Event::ToolResult {
                        call_id, content, ..
                    } => messages.push(ChatMessage {
                        role: Role::Tool,
                        content: Some(content.clone()),
                        tool_calls: Vec::new(),
                        tool_call_id: Some(call_id.clone()),
                    }),
                    Event::HumanEdit {
                        instruction: Some(text),
                        ..
                    } => {
                        instruction.get_or_insert_with(|| text.clone());
                        messages.push(instruction_message(text));
                    }
                    Event::Instructed { text, .. } => messages.push(instruction_message(text)),
                    Event::Verification {
                        feature, outcome, ..
                    } => checks.push(Check {
                        feature: feature.clone(),
                        outcome: outcome.clone(),
                    }),
                    _ => {}
                }
            }
            BranchStep {
                step: row.step,
                session: row.session,
                node: row.node.clone(),
                messages,
                failed_tool_calls: row.tools.iter().filter(|(_, ok)| !ok).count(),
                checks,
                outcome: row.outcome.clone(),
                failed: row.failed,
                forks: row.forks.clone(),
            }
        })
        .collect();
    let head = data.head.as_ref();
    Branch {
        thread: data.thread.clone(),
        parent,
        fork_step,
        instruction,
        status: head.map_or("unknown", ThreadState::status_word).to_owned(),
        head_step: steps.last().map_or(0, |s| s.step),
        features_passing: head.map_or(0, |s| s.features_passing),
        features_total: head.map_or(0, |s| s.features_total),
        failed_tool_calls: steps.iter().map(|s| s.failed_tool_calls).sum(),
        ratings: ratings(&data.paths),
        steps,
        paths: data.paths.clone(),
    }
}

/// The words a forked or instructed thread's model reads (see `fork --instruct`).
fn instruction_message(text: &str) -> ChatMessage {
    ChatMessage::user(format!("Instruction from a person: {text}"))
}

/// One side of a DPO pair: a branch's continuation from the fork point.
#[derive(Debug, Serialize)]
pub struct Side {
    pub thread: String,
    pub messages: Vec<ChatMessage>,
    pub features_passing: usize,
    pub failed_tool_calls: usize,
    pub rating: Option<Verdict>,
}

/// One DPO sample.
#[derive(Debug, Serialize)]
pub struct Pair {
    /// The thread the branches part from, and the step.
    pub thread: String,
    pub step: u64,
    /// The parent's conversation at the fork step (empty between sessions).
    pub prompt: Vec<ChatMessage>,
    pub chosen: Side,
    pub rejected: Side,
    /// What decided: `rating`, `features` or `failed_tool_calls`.
    pub reason: &'static str,
}

/// The DPO pairs of the tree: every two siblings at a fork point that are not equal.
pub fn pairs(branches: &[Branch]) -> Result<Vec<Pair>, HarnessError> {
    let mut points: BTreeMap<(String, u64), Vec<&Branch>> = BTreeMap::new();
    for b in branches {
        if let (Some(parent), Some(step)) = (&b.parent, b.fork_step) {
            points.entry((parent.clone(), step)).or_default().push(b);
        }
    }
    let mut out = Vec::new();
    for ((parent, step), forks) in points {
        let Some(origin) = branches.iter().find(|b| b.thread == parent) else {
            continue;
        };
        let mut sides = vec![side(origin, |s| s > step)];
        sides.extend(forks.iter().map(|b| side(b, |_| true)));
        sides.retain(|s| !s.messages.is_empty());
        if sides.len() < 2 {
            continue;
        }
        let prompt = StateReader::open(&origin.paths)?
            .state_at(StepNo(step))
            .ok()
            .and_then(|value| ThreadState::from_value(value).ok())
            .map(|state| state.conversation)
            .unwrap_or_default();
        for i in 0..sides.len() {
            for j in i + 1..sides.len() {
                let Some((winner, reason)) = prefer(&sides[i], &sides[j]) else {
                    continue;
                };
                let (a, b) = (clone_side(&sides[i]), clone_side(&sides[j]));
                let (chosen, rejected) = if winner { (a, b) } else { (b, a) };
                out.push(Pair {
                    thread: parent.clone(),
                    step,
                    prompt: prompt.clone(),
                    chosen,
                    rejected,
                    reason,
                });
            }
        }
    }
    Ok(out)
}

fn clone_side(side: &Side) -> Side {
    Side {
        thread: side.thread.clone(),
        messages: side.messages.clone(),
        features_passing: side.features_passing,
        failed_tool_calls: side.failed_tool_calls,
        rating: side.rating,
    }
}

/// A branch's steps that `keep` selects, as one continuation.
fn side(branch: &Branch, keep: impl Fn(u64) -> bool) -> Side {
    let steps: Vec<&BranchStep> = branch.steps.iter().filter(|s| keep(s.step)).collect();
    let rating = branch
        .ratings
        .iter()
        .rev()
        .find(|r| keep(r.step))
        .map(|r| r.verdict);
    Side {
        thread: branch.thread.clone(),
        messages: steps.iter().flat_map(|s| s.messages.clone()).collect(),
        features_passing: branch.features_passing,
        failed_tool_calls: steps.iter().map(|s| s.failed_tool_calls).sum(),
        rating,
    }
}

/// Whether `a` is preferred to `b` (`Some(true)`), `b` to `a`, or neither, and why.
fn prefer(a: &Side, b: &Side) -> Option<(bool, &'static str)> {
    let rank = |s: &Side| match s.rating {
        Some(Verdict::Good) => 2,
        None => 1,
        Some(Verdict::Bad) => 0,
    };
    if rank(a) != rank(b) {
        return Some((rank(a) > rank(b), "rating"));
    }
    if a.features_passing != b.features_passing {
        return Some((a.features_passing > b.features_passing, "features"));
    }
    if a.failed_tool_calls != b.failed_tool_calls {
        return Some((
            a.failed_tool_calls < b.failed_tool_calls,
            "failed_tool_calls",
        ));
    }
    None
}

/// One SFT sample: a session's conversation as the model saw it.
#[derive(Debug, Serialize)]
pub struct Sample {
    pub thread: String,
    pub session: u32,
    pub messages: Vec<ChatMessage>,
}

/// The sessions of the branches that succeeded: the latest rating says so, or (unrated)
/// every feature passes at the head.
pub fn samples(branches: &[Branch]) -> Result<Vec<Sample>, HarnessError> {
    let mut out = Vec::new();
    for b in branches {
        let succeeded = match b.ratings.last().map(|r| r.verdict) {
            Some(verdict) => verdict == Verdict::Good,
            None => b.features_total > 0 && b.features_passing == b.features_total,
        };
        if !succeeded {
            continue;
        }
        // A session's conversation only grows until the session ends and clears it, so the
        // last non-empty one a session's checkpoints hold is the whole conversation.
        let reader = StateReader::open(&b.paths)?;
        let mut sessions: BTreeMap<u32, Vec<ChatMessage>> = BTreeMap::new();
        for checkpoint in reader.live_checkpoints() {
            if let Ok(state) = ThreadState::from_value(reader.state_at(checkpoint.id)?)
                && !state.conversation.is_empty()
            {
                sessions.insert(state.session, state.conversation);
            }
        }
        out.extend(sessions.into_iter().map(|(session, messages)| Sample {
            thread: b.thread.clone(),
            session,
            messages,
        }));
    }
    Ok(out)
}

/// The export of `thread`'s tree in `format`, as JSON lines with secrets redacted.
pub fn export(project: &Path, thread: &str, format: Format) -> Result<Vec<String>, HarnessError> {
    // A clear error for a thread that does not exist, before walking the project.
    locate_thread(project, thread)?;
    let tree = branches(project, thread)?;
    let values: Vec<serde_json::Value> = match format {
        Format::Trajectory => tree
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()?,
        Format::Dpo => pairs(&tree)?
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()?,
        Format::Sft => samples(&tree)?
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()?,
    };
    // The tape was redacted when written; the secrets of this process may differ.
    let redactor = Redactor::from_env();
    values
        .iter()
        .map(|value| Ok(redactor.redact(&serde_json::to_string(value)?).into_owned()))
        .collect()
}
