//! The runner's control point: where a person's requests (from the control channel's inbox)
//! and the automatic pause rules take effect, before every step and between sessions.
//!
//! Everything applied here is recorded on the tape and checkpointed before the thread goes
//! on or waits: a paused thread that is killed resumes paused, and an instruction applied
//! is in the checkpointed conversation. Requests not yet applied stay in the inbox, and the
//! count applied (`ThreadState::inbox_applied`) says which.

use std::time::{Duration, Instant};

use baton_memory::MemoryKind;
use baton_model::ChatMessage;

use super::{RunOutcome, ThreadRunner};
use crate::config::PauseRules;
use crate::control::{ControlServer, Inbox, InstructionRole, Request, Status};
use crate::error::HarnessError;
use crate::events::{Event, SessionEnd};
use crate::state::Phase;

/// How often a paused thread looks at its inbox even when nobody wakes it (requests written
/// by a process that could not reach the socket).
const PAUSED_POLL: Duration = Duration::from_millis(500);

/// The runner's side of steering: the control socket and what the pause rules watch.
#[derive(Debug)]
pub(crate) struct Steering {
    /// The thread's folder (inbox and socket).
    thread_dir: std::path::PathBuf,
    server: Option<ControlServer>,
    /// The socket could not be opened; said once, not retried.
    server_failed: bool,
    /// Tool calls that failed in a row.
    failing_streak: u32,
    /// A session just ended on a loop.
    loop_ended: Option<String>,
    /// A feature just used its attempt budget.
    feature_blocked: Option<String>,
    /// When this process took the thread (the wall-time budget counts from here).
    since: Option<Instant>,
    /// The thread is waiting and has said so on the terminal.
    announced_pause: bool,
}

impl Steering {
    pub(super) fn new(thread_dir: std::path::PathBuf) -> Steering {
        Steering {
            thread_dir,
            server: None,
            server_failed: false,
            failing_streak: 0,
            loop_ended: None,
            feature_blocked: None,
            since: None,
            announced_pause: false,
        }
    }

    /// Sees every event the runner records (the pause rules count from them).
    pub(super) fn observe(&mut self, event: &Event) {
        match event {
            Event::ToolResult { ok: false, .. } => self.failing_streak += 1,
            Event::ToolResult { ok: true, .. } => self.failing_streak = 0,
            Event::SessionEnded {
                end: end @ SessionEnd::LoopDetected { .. },
                ..
            } => self.loop_ended = Some(end.describe()),
            Event::FeatureBlocked {
                feature, sessions, ..
            } => {
                self.feature_blocked = Some(format!(
                    "{feature} failed its checks in {sessions} sessions"
                ));
            }
            _ => {}
        }
    }
}

impl ThreadRunner {
    /// Applies what was asked of the thread and waits while it is paused. `Some` when a
    /// person asked the run to stop (the thread stays resumable where it is).
    pub(super) async fn control_point(&mut self) -> Result<Option<RunOutcome>, HarnessError> {
        self.open_control_socket();
        let since = *self.steering.since.get_or_insert_with(Instant::now);
        loop {
            let applied = self.apply_inbox().await?;
            let mut changed = applied.changed;
            if self.state.paused.is_none()
                && let Some(reason) = self.auto_pause_reason(since.elapsed())
            {
                self.state.paused = Some(reason.clone());
                self.record(Event::Paused { reason })?;
                changed = true;
            }
            if changed {
                self.checkpoint().await?;
            }
            self.publish_status();
            if applied.stop {
                return Ok(Some(RunOutcome::Stopped(format!(
                    "stopped by a person at step {}; `baton resume {} --project {}` goes on",
                    self.state.step,
                    self.state.thread,
                    self.project.display()
                ))));
            }
            let Some(reason) = self.state.paused.clone() else {
                self.steering.announced_pause = false;
                return Ok(None);
            };
            if !self.steering.announced_pause {
                self.steering.announced_pause = true;
                crate::display::paused(&self.state, &reason);
            }
            match self.steering.server.as_ref().map(ControlServer::wake) {
                Some(wake) => {
                    let _ = tokio::time::timeout(PAUSED_POLL, wake.notified()).await;
                }
                None => tokio::time::sleep(PAUSED_POLL).await,
            }
        }
    }

    /// Takes a paused thread out of its pause (`resume --continue`).
    pub fn continue_if_paused(&mut self) -> Result<(), HarnessError> {
        if self.state.paused.take().is_some() {
            self.record(Event::Continued)?;
        }
        Ok(())
    }

    fn open_control_socket(&mut self) {
        if self.steering.server.is_some() || self.steering.server_failed {
            return;
        }
        match ControlServer::start(&self.steering.thread_dir) {
            Ok(server) => self.steering.server = Some(server),
            Err(error) => {
                self.steering.server_failed = true;
                tracing::warn!(
                    "the control socket could not be opened ({error}); pause, instruct and status reach this thread only through its inbox, applied between steps"
                );
            }
        }
    }

    /// Applies the inbox entries not applied yet, in order.
    async fn apply_inbox(&mut self) -> Result<Applied, HarnessError> {
        let entries = Inbox::new(&self.steering.thread_dir).read_from(self.state.inbox_applied)?;
        let mut applied = Applied::default();
        for (number, entry) in entries {
            self.state.inbox_applied = number + 1;
            applied.changed = true;
            match entry.request {
                Request::Pause => {
                    if self.state.paused.is_none() {
                        let reason = "paused by a person".to_owned();
                        self.state.paused = Some(reason.clone());
                        self.record(Event::Paused { reason })?;
                    }
                }
                Request::Continue => self.continue_if_paused()?,
                Request::Instruct { text, role } => self.deliver_instruction(text, role).await?,
                Request::Stop => applied.stop = true,
                Request::Status => {}
            }
        }
        Ok(applied)
    }

    /// Puts an instruction where the model reads it next: the running conversation, or the
    /// next session's first message between sessions.
    async fn deliver_instruction(
        &mut self,
        text: String,
        role: InstructionRole,
    ) -> Result<(), HarnessError> {
        if self.state.phase == Phase::InSession {
            self.recorded.forget_session(self.state.session);
            self.state.conversation.push(match role {
                InstructionRole::User => {
                    ChatMessage::user(format!("Instruction from a person: {text}"))
                }
                InstructionRole::System => ChatMessage::system(text.clone()),
            });
        } else {
            let next = match self.state.instruction.take() {
                Some(earlier) => format!("{earlier}\n\n{text}"),
                None => text.clone(),
            };
            self.state.instruction = Some(next);
        }
        self.record(Event::Instructed {
            text: text.clone(),
            role,
        })?;
        if let Some(handle) = &self.memory.handle {
            let mut record = handle.record(MemoryKind::Instruction, &self.state.thread, text);
            record.session = Some(self.state.session);
            record.step = Some(self.state.step);
            record.feature.clone_from(&self.state.feature);
            handle.remember(vec![record]).await;
        }
        Ok(())
    }

    /// The first pause rule that holds now, as the reason shown to the person. A budget
    /// rule fires once per thread (recorded in the state), so `continue` goes on past it.
    fn auto_pause_reason(&mut self, elapsed: Duration) -> Option<String> {
        let rules: PauseRules = self.settings.pause;
        if let Some(limit) = rules.failing_tool_calls
            && self.steering.failing_streak >= limit
        {
            let streak = self.steering.failing_streak;
            self.steering.failing_streak = 0;
            return Some(format!("auto-pause: {streak} tool calls failed in a row"));
        }
        if let Some(what) = self.steering.loop_ended.take()
            && rules.on_loop
        {
            return Some(format!("auto-pause: the session ended on a loop ({what})"));
        }
        if let Some(what) = self.steering.feature_blocked.take()
            && rules.on_blocked
        {
            return Some(format!("auto-pause: a feature is blocked ({what})"));
        }
        let tokens = self.state.ledger.total_tokens();
        let cost = self.state.ledger.total_cost();
        let budgets = [
            (
                "tokens",
                rules.max_tokens.is_some_and(|max| tokens >= max),
                format!("{tokens} tokens used"),
            ),
            (
                "cost",
                rules
                    .max_cost_usd
                    .zip(cost)
                    .is_some_and(|(max, cost)| cost >= max),
                format!("${:.4} spent", cost.unwrap_or(0.0)),
            ),
            (
                "steps",
                rules.max_steps.is_some_and(|max| self.state.step >= max),
                format!("{} steps taken", self.state.step),
            ),
            (
                "wall time",
                rules
                    .max_wall_secs
                    .is_some_and(|max| elapsed.as_secs() >= max),
                format!("{} s of wall time in this run", elapsed.as_secs()),
            ),
        ];
        for (budget, reached, what) in budgets {
            if reached && !self.state.budgets_paused.iter().any(|b| b == budget) {
                self.state.budgets_paused.push(budget.to_owned());
                return Some(format!(
                    "auto-pause: the {budget} budget is reached ({what})"
                ));
            }
        }
        None
    }

    /// Puts the thread's live status where `baton status` reads it.
    fn publish_status(&self) {
        let Some(server) = &self.steering.server else {
            return;
        };
        let state = &self.state;
        let phase = match &state.phase {
            Phase::Between => "between sessions",
            Phase::InSession => "in session",
            Phase::Done => "done",
            Phase::Stopped { .. } => "stopped",
            Phase::Blocked { .. } => "blocked",
        };
        server.board().set(Status {
            thread: state.thread.clone(),
            pid: std::process::id(),
            node: state.node.clone(),
            phase: phase.to_owned(),
            session: state.session,
            step: state.step,
            feature: state.feature.clone(),
            features_passing: state.features_passing,
            features_total: state.features_total,
            tokens: state.ledger.total_tokens(),
            cost: state.ledger.total_cost(),
            paused: state.paused.clone(),
            pending_requests: Inbox::new(&self.steering.thread_dir)
                .entries()
                .saturating_sub(state.inbox_applied),
        });
    }
}

/// What one pass over the inbox did.
#[derive(Debug, Default)]
struct Applied {
    changed: bool,
    stop: bool,
}
