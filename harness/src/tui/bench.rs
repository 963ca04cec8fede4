//! `baton bench tui`: how long the TUI takes to open a long thread (read the tape, build the
//! step list, draw the first frame) and how long a running thread takes to acknowledge a
//! pause through its control channel. Also the synthetic thread the TUI's tests draw.

use std::path::Path;
use std::time::{Duration, Instant};

use baton_model::{ChatMessage, ModelResponse, ToolCall, Usage};
use baton_tape::{StepNo, TapeHeader, TapeWriter, ThreadId, ThreadPaths};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde::Serialize;

use super::{App, ThreadData, view};
use crate::bench::percentile_us;
use crate::control::{self, ControlServer, Request};
use crate::error::HarnessError;
use crate::events::Event;
use crate::state::{Phase, ThreadState};

/// Steps per session of the synthetic thread.
const SESSION_STEPS: u64 = 50;

/// The figures `baton bench tui` prints.
#[derive(Debug, Serialize)]
pub struct TuiBenchReport {
    pub steps: usize,
    pub tape_bytes: u64,
    /// Reading the tape and building the step list, best and median of the runs.
    pub load_ms_min: f64,
    pub load_ms_p50: f64,
    /// Load plus the first frame drawn (160 × 48 cells), best and median.
    pub first_frame_ms_min: f64,
    pub first_frame_ms_p50: f64,
    /// Moving the selection by one and drawing again.
    pub redraw_ms_p50: f64,
    /// `pause` sent over the control socket until its reply is read (inbox fsync included).
    pub pause_ack_ms_p50: f64,
    pub pause_ack_ms_p99: f64,
    /// `status` round trips.
    pub status_ms_p50: f64,
    pub status_ms_p99: f64,
}

/// Runs the benchmark on a synthetic thread of `steps` steps in a temporary project.
pub async fn run(steps: usize) -> Result<TuiBenchReport, HarnessError> {
    let dir =
        tempfile::tempdir().map_err(|source| HarnessError::io(Path::new("temp dir"), source))?;
    let project = dir.path().join("project");
    let thread = "bench";
    {
        let project = project.clone();
        tokio::task::spawn_blocking(move || write_synthetic_thread(&project, thread, steps))
            .await
            .map_err(|error| HarnessError::BadInput(error.to_string()))??;
    }
    let paths = ThreadPaths::new(
        &project,
        &ThreadId::new(thread).map_err(HarnessError::Tape)?,
    );
    let tape_bytes = std::fs::metadata(&paths.tape).map_or(0, |m| m.len());

    let mut loads = Vec::new();
    let mut frames = Vec::new();
    let mut redraws = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let data = ThreadData::load(&project, thread)?;
        loads.push(started.elapsed());
        let mut app = App::new(project.clone(), Vec::new());
        app.show_thread(data);
        let mut terminal = Terminal::new(TestBackend::new(160, 48))
            .map_err(|error| HarnessError::BadInput(error.to_string()))?;
        terminal
            .draw(|frame| view::draw(frame, &app))
            .map_err(|error| HarnessError::BadInput(error.to_string()))?;
        frames.push(started.elapsed());
        for _ in 0..20 {
            let started = Instant::now();
            app.step_selected = app.step_selected.saturating_sub(1);
            terminal
                .draw(|frame| view::draw(frame, &app))
                .map_err(|error| HarnessError::BadInput(error.to_string()))?;
            redraws.push(started.elapsed());
        }
    }

    std::fs::create_dir_all(&paths.dir).map_err(|source| HarnessError::io(&paths.dir, source))?;
    let server = ControlServer::start(&paths.dir)?;
    let mut pauses = Vec::new();
    let mut statuses = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        control::send(&paths.dir, &Request::Pause).await?;
        pauses.push(started.elapsed());
        let started = Instant::now();
        control::send(&paths.dir, &Request::Status).await?;
        statuses.push(started.elapsed());
    }
    drop(server);
    for list in [
        &mut loads,
        &mut frames,
        &mut redraws,
        &mut pauses,
        &mut statuses,
    ] {
        list.sort();
    }
    let ms = |list: &[Duration], p: f64| percentile_us(list, p) / 1000.0;
    Ok(TuiBenchReport {
        steps,
        tape_bytes,
        load_ms_min: ms(&loads, 0.0),
        load_ms_p50: ms(&loads, 50.0),
        first_frame_ms_min: ms(&frames, 0.0),
        first_frame_ms_p50: ms(&frames, 50.0),
        redraw_ms_p50: ms(&redraws, 50.0),
        pause_ack_ms_p50: ms(&pauses, 50.0),
        pause_ack_ms_p99: ms(&pauses, 99.0),
        status_ms_p50: ms(&statuses, 50.0),
        status_ms_p99: ms(&statuses, 99.0),
    })
}

/// Writes a thread of `steps` coding steps (a model answer with one tool call and its
/// result each, checkpointed), shaped like a real one, into `project`.
pub fn write_synthetic_thread(
    project: &Path,
    thread: &str,
    steps: usize,
) -> Result<(), HarnessError> {
    crate::project::ensure_repo(project)?;
    let id = ThreadId::new(thread).map_err(HarnessError::Tape)?;
    let paths = ThreadPaths::new(project, &id);
    let header = TapeHeader::new(id, "two-agent", project.display().to_string());
    let mut tape = TapeWriter::<Event>::create(&paths, &header, crate::runner::tape_options())?;
    let mut state = ThreadState::new(thread, "two-agent", "coding", 50);
    state.phase = Phase::InSession;
    state.session = 1;
    state.feature = Some("add-todo".to_owned());
    tape.append(
        StepNo(0),
        Event::SessionStarted {
            session: 1,
            node: "coding".to_owned(),
            feature: Some("add-todo".to_owned()),
            memories: 2,
        },
    )?;
    tape.checkpoint(StepNo(0), &state.to_value()?, None)?;
    for step in 1..=steps as u64 {
        // Sessions of 50 steps, each a fresh conversation, as a real thread has.
        let turn = ((step - 1) % SESSION_STEPS) as u32 + 1;
        let session = ((step - 1) / SESSION_STEPS) as u32 + 1;
        if turn == 1 && session > 1 {
            tape.append(
                StepNo(step),
                Event::SessionEnded {
                    session: session - 1,
                    end: crate::events::SessionEnd::TurnLimit { turns: 50 },
                    summary: None,
                },
            )?;
            tape.append(
                StepNo(step),
                Event::SessionStarted {
                    session,
                    node: "coding".to_owned(),
                    feature: Some("add-todo".to_owned()),
                    memories: 2,
                },
            )?;
            state.session = session;
            state.conversation.clear();
        }
        let failed = step % 7 == 0;
        let call = ToolCall {
            id: format!("call_{step}"),
            name: if step % 3 == 0 { "bash" } else { "edit_file" }.to_owned(),
            arguments: format!(r#"{{"path": "src/app{}.js", "step": {step}}}"#, step % 11),
        };
        let message = ChatMessage::assistant_with_tools(
            Some(format!(
                "Step {step}: changing app{}.js so the list keeps its order.",
                step % 11
            )),
            vec![call.clone()],
        );
        state.step = step;
        state.turn = turn;
        state.conversation.push(message.clone());
        let result = if failed {
            format!("error: src/app{}.js: no match for the old text", step % 11)
        } else {
            format!("edited src/app{}.js (+3 −1 lines)", step % 11)
        };
        state
            .conversation
            .push(ChatMessage::tool_result(call.id.clone(), result.clone()));
        tape.append(
            StepNo(step),
            Event::ModelResponse {
                session,
                turn,
                response: ModelResponse {
                    message,
                    finish_reason: Some("tool_calls".to_owned()),
                    usage: Usage {
                        prompt_tokens: 1_000 + step,
                        completion_tokens: 60,
                        estimated: false,
                    },
                    latency_ms: 900 + step % 300,
                    attempts: 1,
                    model: "bench".to_owned(),
                    notes: Vec::new(),
                    unreadable_call: None,
                },
                replayed: false,
            },
        )?;
        tape.append(
            StepNo(step),
            Event::ToolResult {
                session,
                call_id: call.id,
                name: call.name,
                arguments: call.arguments,
                ok: !failed,
                content: result,
                touched: Vec::new(),
                millis: 3,
            },
        )?;
        tape.checkpoint_unsynced(StepNo(step), &state.to_value()?, None)?;
    }
    tape.sync()?;
    Ok(())
}
