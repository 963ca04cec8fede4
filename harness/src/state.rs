//! The thread's state: everything needed to go on from a checkpoint. It is serialised to
//! JSON for the tape, which stores it as deltas; the conversation only ever grows within a
//! session, which is what keeps those deltas small.

use std::collections::BTreeMap;

use baton_model::{ChatMessage, Ledger};
use serde::{Deserialize, Serialize};

/// Where a thread is in its workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Between sessions: the workflow picks the next node.
    Between,
    /// Inside a session of node `ThreadState::node`.
    InSession,
    /// A terminal node was reached.
    Done,
    /// Stopped before the end (budget exhausted, no edge fired).
    Stopped { reason: String },
    /// Every feature left failing is blocked: each used its attempt budget (see
    /// `ThreadState::blocked`). A resume with a larger `feature_attempts` goes on.
    Blocked { reason: String },
}

/// A feature that used up its coding sessions without passing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedFeature {
    /// Coding sessions it had in all.
    pub sessions: u32,
    /// Why its last session's checks failed (or how that session ended).
    pub failure: String,
    /// Features passing when it was (last) blocked: the thread comes back to it once more
    /// when others have passed since, as the project it builds on has moved on.
    pub passing_then: usize,
}

/// One tool call of the session, as loop detection and the next session's handoff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentCall {
    /// The call's identity (runner/loops.rs `signature`).
    pub signature: String,
    /// The call as a person reads it.
    pub call: String,
    /// The start of its result (empty until it ran).
    pub result: String,
}

/// The state recorded at every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadState {
    pub thread: String,
    pub workflow: String,
    /// The current workflow node's name.
    pub node: String,
    pub phase: Phase,
    /// Number of the current (or last) session, 1-based; 0 before the first.
    pub session: u32,
    /// Sessions that ran to their end.
    pub sessions_run: u32,
    pub max_sessions: u32,
    /// Steps taken in the whole thread (one model turn and its tool calls each).
    pub step: u64,
    /// Model turns taken in the current session.
    pub turn: u32,
    /// True in a session that opened without a feature list: it is drafting one.
    pub drafting: bool,
    /// The feature the current coding session works on.
    pub feature: Option<String>,
    /// The current session's conversation; empty between sessions.
    pub conversation: Vec<ChatMessage>,
    /// The session's last tool calls, newest last, for loop detection (runner/loops.rs).
    #[serde(default)]
    pub recent_calls: Vec<RecentCall>,
    /// What the last session left undone (a loop, an initializer without a feature list),
    /// told to the next session in its first message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<String>,
    /// Initializer sessions in a row that ended without a valid feature list.
    #[serde(default)]
    pub failed_initializers: u32,
    pub features_total: usize,
    pub features_passing: usize,
    /// An instruction a person gave (fork `--instruct`), for the next session's prompt.
    pub instruction: Option<String>,
    /// The commit the project's branch pointed at after this thread's last commit: a rewind
    /// moves the branch back here, so git history follows the live branch of the tape.
    pub git_head: Option<String>,
    /// Regressions found when the last session closed, for the next session's prompt.
    #[serde(default)]
    pub regressions: Vec<String>,
    /// The worktree tree the last closing verification saw: a session starting on the same
    /// tree need not run the same checks again.
    #[serde(default)]
    pub verified_tree: Option<String>,
    /// Why the thread is paused (by a person or a pause rule); it waits until continued,
    /// across a kill and resume too.
    #[serde(default)]
    pub paused: Option<String>,
    /// How many entries of the thread's control inbox have been applied.
    #[serde(default)]
    pub inbox_applied: u64,
    /// Budget pause rules that fired already (each fires once, so `continue` goes on).
    #[serde(default)]
    pub budgets_paused: Vec<String>,
    pub ledger: Ledger,
    /// How the thread is run (model, endpoint, limits), reused by resume; `None` on tapes
    /// written before threads recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<crate::connection::Connection>,
    /// Coding sessions each feature has had (its attempt budget is `feature_attempts`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attempts: BTreeMap<String, u32>,
    /// Features that used their budget without passing, with their last failure.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub blocked: BTreeMap<String, BlockedFeature>,
}

impl ThreadState {
    pub fn new(thread: &str, workflow: &str, start_node: &str, max_sessions: u32) -> ThreadState {
        ThreadState {
            thread: thread.to_owned(),
            workflow: workflow.to_owned(),
            node: start_node.to_owned(),
            phase: Phase::Between,
            session: 0,
            sessions_run: 0,
            max_sessions,
            step: 0,
            turn: 0,
            drafting: false,
            feature: None,
            conversation: Vec::new(),
            recent_calls: Vec::new(),
            handoff: None,
            failed_initializers: 0,
            features_total: 0,
            features_passing: 0,
            instruction: None,
            git_head: None,
            regressions: Vec::new(),
            verified_tree: None,
            paused: None,
            inbox_applied: 0,
            budgets_paused: Vec::new(),
            ledger: Ledger::default(),
            connection: None,
            attempts: BTreeMap::new(),
            blocked: BTreeMap::new(),
        }
    }

    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }

    pub fn from_value(value: serde_json::Value) -> Result<ThreadState, serde_json::Error> {
        serde_json::from_value(value)
    }

    /// Whether the thread has nothing left to do.
    pub fn is_finished(&self) -> bool {
        matches!(
            self.phase,
            Phase::Done | Phase::Stopped { .. } | Phase::Blocked { .. }
        )
    }

    /// A one-word status for listings.
    pub fn status_word(&self) -> &'static str {
        match self.phase {
            Phase::Done => "done",
            Phase::Stopped { .. } => "stopped",
            Phase::Blocked { .. } => "blocked",
            Phase::Between | Phase::InSession => "unfinished",
        }
    }
}
