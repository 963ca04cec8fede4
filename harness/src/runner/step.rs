//! One step of the agent loop: ask the model (or reuse the answer already on the tape), run
//! the tool calls it asked for, guard the feature list, detect loops, checkpoint.

use std::time::Instant;

use baton_model::{ChatMessage, ModelRequest, ModelResponse, ToolCall, fit_to_context};

use super::{AnswerSource, StepTiming, ThreadRunner};
use crate::error::HarnessError;
use crate::events::{Event, SessionEnd};
use crate::failpoint::failpoint;
use crate::feature_guard::GuardVerdict;

/// Tools that report every file they write in `touched` (the others, bash and the browser
/// among them, may change anything, directly or through the app they drive).
const TOOLS_THAT_NAME_THEIR_WRITES: [&str; 6] = [
    "read_file",
    "write_file",
    "edit_file",
    "glob",
    "grep",
    "recall",
];

/// Told to the model after an answer that hit the output-token limit.
const CUT_OFF_NOTE: &str = "baton: your last answer was cut off at the output token limit (finish_reason \"length\"), \
so it was not taken as the end of the session, and a tool call in it may have lost the end of its arguments. \
Go on in smaller pieces: write big files in parts (write_file, then edit_file to append).";

/// How much of a call's result loop detection keeps, for the next session's handoff.
const RESULT_KEPT_CHARS: usize = 400;

/// What a step's tool calls may have changed in the worktree.
#[derive(Debug, Default)]
pub(super) enum Touched {
    /// Unknown: the snapshot scans the whole worktree.
    #[default]
    Anything,
    /// Only these project-relative paths.
    Paths(Vec<String>),
}

impl Touched {
    fn note(&mut self, tool: &str, output: &baton_tools::ToolOutput) {
        match self {
            Self::Paths(paths)
                if TOOLS_THAT_NAME_THEIR_WRITES.contains(&tool)
                    && !output.may_have_touched_anything =>
            {
                paths.extend(output.touched.iter().cloned());
            }
            _ => *self = Self::Anything,
        }
    }
}

impl ThreadRunner {
    /// Takes one step of the current session, timing the harness's share when asked to.
    pub(super) async fn step(&mut self) -> Result<(), HarnessError> {
        let started = Instant::now();
        self.timing.current = StepTiming::default();
        self.step_inner().await?;
        if let Some(timings) = &mut self.timing.kept {
            timings.push(StepTiming {
                total: started.elapsed(),
                ..self.timing.current
            });
        }
        Ok(())
    }

    async fn step_inner(&mut self) -> Result<(), HarnessError> {
        let session = self.state.session;
        let turn = self.state.turn + 1;
        // The state is left as the last step ended until the answer is in and that step's
        // checkpoint written (see `checkpoint`): the model is asked while the snapshot runs.
        let (response, source) = match self.recorded.take(session, turn) {
            Some((response, source)) => {
                self.settle().await?;
                self.begin_step(turn);
                (response, Some(source))
            }
            None => (self.ask_model(session, turn).await?, None),
        };
        let replayed = source == Some(AnswerSource::Replay);
        if !replayed {
            let price = self.settings.price().copied();
            self.state.ledger.record(
                session,
                &response.usage,
                response.latency_ms,
                price.as_ref(),
            );
        }
        self.record(Event::ModelResponse {
            session,
            turn,
            response: response.clone(),
            replayed,
        })?;
        // The answer is durable before any tool runs: a crash from here on reuses it.
        self.recording.tape.sync()?;
        failpoint("step.after_model_response");
        self.state.conversation.push(response.message.clone());

        // An answer cut at the output-token limit is not the model saying it is done, and
        // its last tool call's arguments are likely cut too: say so, and let it go on.
        let cut_off = response.finish_reason.as_deref() == Some("length");
        // A tool call written as text that could not be read is not the model saying it is
        // done either: tell it what was wrong, and let it call again.
        if response.message.tool_calls.is_empty()
            && let Some(problem) = &response.unreadable_call
        {
            self.state.conversation.push(ChatMessage::user(problem));
            self.checkpoints.touched = Touched::Paths(Vec::new());
            return self.end_turn().await;
        }
        if response.message.tool_calls.is_empty() && !cut_off {
            let summary = response.message.content.clone();
            return self.finish_session(SessionEnd::Finished, summary).await;
        }
        self.checkpoints.touched = Touched::Paths(Vec::new());
        let mut loop_end = None;
        for call in &response.message.tool_calls {
            if loop_end.is_some() {
                self.answer_unrun(call, "not run: the session is ending (a loop was detected)");
                continue;
            }
            if let Some(end) = self.note_call(call) {
                self.answer_unrun(call, &format!("not run: {}", end.describe()));
                loop_end = Some(end);
                continue;
            }
            self.run_tool(session, call).await?;
        }
        if let Some(end) = loop_end {
            return self.finish_session(end, None).await;
        }
        if cut_off {
            self.state
                .conversation
                .push(ChatMessage::user(CUT_OFF_NOTE));
        }
        self.end_turn().await
    }

    /// The end of a turn that goes on: the session ends at its node's turn limit.
    async fn end_turn(&mut self) -> Result<(), HarnessError> {
        let max_turns = self.node_max_turns();
        if self.state.turn >= max_turns {
            return self
                .finish_session(SessionEnd::TurnLimit { turns: max_turns }, None)
                .await;
        }
        self.checkpoint_step()
    }

    /// Numbers the step that has begun.
    fn begin_step(&mut self, turn: u32) {
        self.state.step += 1;
        self.state.turn = turn;
    }

    /// Asks the live model, then settles the last step's checkpoint and begins this step.
    /// A failure that retries did not cure ends the run with the error (the thread stays
    /// resumable from its last checkpoint).
    async fn ask_model(&mut self, session: u32, turn: u32) -> Result<ModelResponse, HarnessError> {
        let (messages, fit) =
            fit_to_context(&self.state.conversation, self.settings.context_limit_tokens);
        let request = ModelRequest {
            messages,
            tools: self.tools.definitions(&self.node().tools),
            temperature: None,
            max_tokens: None,
        };
        failpoint("step.before_model_call");
        let asked = Instant::now();
        let ticker = crate::display::Ticker::start(
            crate::display::head(&self.state),
            "waiting for the model".to_owned(),
            self.settings.progress_interval,
        );
        let answer =
            tokio::time::timeout(self.settings.step_timeout, self.model.complete(&request)).await;
        drop(ticker);
        self.timing.current.model = asked.elapsed();
        failpoint("step.after_model_call");
        let messages = request.messages.len();
        drop(request);
        self.settle().await?;
        self.begin_step(turn);
        self.record(Event::ModelRequest {
            session,
            turn,
            messages,
            estimated_tokens: fit.after_tokens,
            shortened: fit.shortened,
        })?;
        match answer {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => {
                self.record(Event::Error {
                    message: format!("model call failed: {error}"),
                })?;
                self.recording.tape.sync()?;
                Err(HarnessError::Model(error))
            }
            Err(_) => {
                let message = format!(
                    "the model did not answer within the step timeout ({} s); raise step_timeout_secs in baton.toml if the model is slow",
                    self.settings.step_timeout.as_secs()
                );
                self.record(Event::Error {
                    message: message.clone(),
                })?;
                self.recording.tape.sync()?;
                Err(HarnessError::StepTimeout(message))
            }
        }
    }

    /// Runs one tool call in a blocking thread and appends its result to the conversation.
    async fn run_tool(&mut self, session: u32, call: &ToolCall) -> Result<(), HarnessError> {
        let started = Instant::now();
        failpoint("tool.before");
        let allowed = &self.node().tools;
        let mut output = if !allowed.is_empty() && !allowed.contains(&call.name) {
            baton_tools::ToolOutput::error(format!(
                "tool \"{}\" is not available in this session; available: {}",
                call.name,
                allowed.join(", ")
            ))
        } else if let Some(recorded) = self.mock_results.as_ref().and_then(|m| m.get(&call.id)) {
            recorded.clone()
        } else {
            let ticker = crate::display::Ticker::start(
                crate::display::head(&self.state),
                format!("running {}", super::loops::describe(call)),
                self.settings.progress_interval,
            );
            let (output, working) = self.tools.call(&call.name, &call.arguments).await;
            drop(ticker);
            self.timing.current.tools += working;
            self.timing.current.tool_calls += 1;
            output
        };
        failpoint("tool.after");
        self.checkpoints.touched.note(&call.name, &output);
        // Only tools that may touch anything (bash, the browser) can reach .baton/.
        if output.may_have_touched_anything && self.recording.relink()? {
            output.content.push_str(
                "\n\nbaton: this command deleted or replaced baton's own files in .baton/ (the thread's tape); \
                 baton wrote them back. Leave .baton/ alone: never delete it, and do not run `git clean -x`.",
            );
        }
        if output.may_have_touched_anything
            && let Some(note) = self.repair_memory_if_gone()
        {
            output.content.push_str("\n\n");
            output.content.push_str(&note);
        }
        if output.may_have_touched_anything
            || output
                .touched
                .iter()
                .any(|path| path == crate::feature_guard::FEATURE_LIST)
        {
            match self.guard.inspect()? {
                GuardVerdict::Accepted => {}
                GuardVerdict::Invalid(message) => {
                    output.content.push_str("\n\nbaton: ");
                    output.content.push_str(&message);
                }
                GuardVerdict::Reverted(violations) => {
                    output
                        .content
                        .push_str("\n\nbaton: your change to feature_list.json was reverted: ");
                    output.content.push_str(&violations.join("; "));
                    self.record(Event::FeatureListReverted { violations })?;
                }
            }
        }
        if output.may_have_touched_anything || !output.touched.is_empty() {
            let reverted = self.inputs.inspect()?;
            for message in &reverted {
                output.content.push_str("\n\nbaton: ");
                output.content.push_str(message);
            }
            if !reverted.is_empty() {
                self.record(Event::InputReverted { messages: reverted })?;
            }
        }
        let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.record(Event::ToolResult {
            session,
            call_id: call.id.clone(),
            name: call.name.clone(),
            arguments: call.arguments.clone(),
            ok: output.ok,
            content: output.content.clone(),
            touched: output.touched.clone(),
            millis,
        })?;
        if !output.ok {
            self.remember_tool_error(call, &output.content).await;
        }
        if let Some(last) = self.state.recent_calls.last_mut() {
            last.result = output.content.chars().take(RESULT_KEPT_CHARS).collect();
        }
        self.state
            .conversation
            .push(ChatMessage::tool_result(&call.id, &output.content));
        Ok(())
    }

    /// Answers a call without running it, so the conversation stays well-formed.
    fn answer_unrun(&mut self, call: &ToolCall, why: &str) {
        self.state
            .conversation
            .push(ChatMessage::tool_result(&call.id, why));
    }

    /// Adds a call to the session's history; returns the loop it completes, if any.
    fn note_call(&mut self, call: &ToolCall) -> Option<SessionEnd> {
        let recent = &mut self.state.recent_calls;
        recent.push(crate::state::RecentCall {
            signature: super::loops::signature(call),
            call: super::loops::describe(call),
            result: String::new(),
        });
        let keep = super::loops::history_len(self.settings.loop_repeat_limit);
        if recent.len() > keep {
            recent.drain(..recent.len() - keep);
        }
        let signatures: Vec<String> = recent.iter().map(|c| c.signature.clone()).collect();
        let cycle = super::loops::detect(&signatures, self.settings.loop_repeat_limit)?;
        let pattern = recent[recent.len() - cycle.period..]
            .iter()
            .map(|c| c.call.clone())
            .collect();
        Some(SessionEnd::LoopDetected {
            tool: call.name.clone(),
            repeats: cycle.repeats,
            period: u32::try_from(cycle.period).unwrap_or(u32::MAX),
            pattern,
        })
    }

    fn node_max_turns(&self) -> u32 {
        self.node().max_turns.max(1)
    }

    pub(super) fn node(&self) -> &baton_workflows::Node {
        let id = self
            .workflow
            .node_by_name(&self.state.node)
            .unwrap_or_else(|| self.workflow.start());
        self.workflow.node(id)
    }
}
