//! The events a thread records on its tape, one per frame. The tape crate wraps each in a
//! record with its sequence number, step and time; checkpoints are the tape's own frames.

use baton_model::ModelResponse;
use serde::{Deserialize, Serialize};

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SessionEnd {
    /// The model answered without tool calls: it says it is done.
    Finished,
    /// The session used all the turns its node allows.
    TurnLimit { turns: u32 },
    /// The session's last calls repeated a pattern of `period` calls `repeats` times in a
    /// row (period 1: the same call; near-repeats that differ only in a timeout or
    /// whitespace count as the same). `tool` is the pattern's last call's tool.
    LoopDetected {
        tool: String,
        repeats: u32,
        #[serde(default = "one")]
        period: u32,
        /// The calls of one round, as a person reads them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pattern: Vec<String>,
    },
    /// A model call failed for good.
    ModelFailed { error: String },
}

impl SessionEnd {
    /// How the session ended, in words (progress notes, commit bodies, progress lines).
    pub fn describe(&self) -> String {
        match self {
            SessionEnd::Finished => "finished".to_owned(),
            SessionEnd::TurnLimit { turns } => format!("turn limit ({turns} turns)"),
            SessionEnd::LoopDetected {
                tool,
                repeats,
                period,
                pattern,
            } => match (period, pattern.as_slice()) {
                (_, []) => format!(
                    "loop detected ({tool} called {repeats} times in a row with the same arguments)"
                ),
                (1, [call, ..]) => {
                    format!("loop detected (the same call {repeats} times in a row: `{call}`)")
                }
                (_, calls) => format!(
                    "loop detected (a cycle of {period} calls repeated {repeats} times: {})",
                    calls
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(" → ")
                ),
            },
            SessionEnd::ModelFailed { error } => format!("model failed: {error}"),
        }
    }
}

fn one() -> u32 {
    1
}

/// One thing that happened in a thread.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The thread was created.
    ThreadStarted {
        project: String,
        workflow: String,
        model: String,
        /// The connection and limits the thread runs with (absent on older tapes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        connection: Option<crate::connection::Connection>,
    },
    /// A process took the thread up again from a checkpoint.
    Resumed { from_step: u64, pid: u32 },
    /// A resume, fork or live replay runs the thread with another model, endpoint or
    /// limits than it recorded (flags given on its command line); later resumes use these.
    SettingsChanged {
        connection: crate::connection::Connection,
    },
    /// The workflow moved from one node to another because a guard held.
    Transition {
        from: String,
        to: String,
        guard: String,
    },
    /// A session (one fresh conversation) began.
    SessionStarted {
        session: u32,
        node: String,
        feature: Option<String>,
        memories: usize,
    },
    /// What was sent to the model (the messages themselves are in the checkpointed state).
    ModelRequest {
        session: u32,
        turn: u32,
        messages: usize,
        estimated_tokens: usize,
        shortened: usize,
    },
    /// The model's answer, reused verbatim when a resumed or replayed thread reaches this turn.
    ModelResponse {
        session: u32,
        turn: u32,
        response: ModelResponse,
        replayed: bool,
    },
    /// A tool ran.
    ToolResult {
        session: u32,
        call_id: String,
        name: String,
        arguments: String,
        ok: bool,
        content: String,
        touched: Vec<String>,
        millis: u64,
    },
    /// An edit of feature_list.json broke its rules and was reverted.
    FeatureListReverted { violations: Vec<String> },
    /// A tool changed one of the user's inputs (app spec, `baton.toml`, a `protected` file);
    /// it was put back and the model told why.
    InputReverted { messages: Vec<String> },
    /// The harness ran a feature's checks.
    Verification {
        feature: String,
        outcome: String,
        failure: Option<String>,
        evidence: Option<String>,
        millis: u64,
    },
    /// A feature that passed before fails now; `passes` went back to false.
    Regression { feature: String, failure: String },
    /// The harness committed the session's work.
    Commit {
        session: u32,
        sha: String,
        message: String,
        files: Vec<String>,
    },
    /// A session ended.
    SessionEnded {
        session: u32,
        end: SessionEnd,
        summary: Option<String>,
    },
    /// A person edited the state or gave an instruction (fork, rewind).
    HumanEdit {
        sets: Vec<String>,
        instruction: Option<String>,
    },
    /// The thread paused before its next step: a person asked, or a pause rule held.
    Paused { reason: String },
    /// A person let a paused thread go on.
    Continued,
    /// A person's instruction, delivered before the next model turn (control channel).
    Instructed {
        text: String,
        role: crate::control::InstructionRole,
    },
    /// A feature used its attempt budget without passing: the thread moves on to others and
    /// comes back to it after them.
    FeatureBlocked {
        feature: String,
        sessions: u32,
        failure: String,
    },
    /// Something went wrong that did not stop the thread.
    Error { message: String },
    /// The thread reached its end.
    ThreadFinished { status: String },
}
