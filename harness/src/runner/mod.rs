//! The thread runner: walks the workflow graph session by session, and inside a session runs
//! the agent loop step by step. Every step ends in a durable checkpoint (state delta + a
//! worktree snapshot, written as the next step's answer arrives: see `checkpoint`), so the
//! runner can be killed anywhere and `resume` goes on from the last checkpoint, reusing the
//! model answers already on the tape.

mod blocking;
mod checkpoint;
mod control;
mod encode;
mod loops;
mod memory_watch;
mod remember;
mod session;
mod step;
mod verification;

pub(crate) use verification::{TargetVerdict, failure_text};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_model::{Model, ModelResponse};
use baton_tape::{Snapshotter, StepNo, TapeHeader, TapeWriter, ThreadId, ThreadLock, ThreadPaths};
use baton_workflows::Workflow;

use crate::config::Settings;
use crate::connection::Connection;
use crate::error::HarnessError;
use crate::events::Event;
use crate::feature_guard::FeatureGuard;

use crate::observe::Observer;
use crate::project;
use crate::state::{Phase, ThreadState};
use crate::tools::HarnessTools;

/// How a run ended, for the exit code and the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// The workflow reached a terminal node: every feature passes.
    Done,
    /// The thread stopped unfinished (budget exhausted, no edge fired).
    Stopped(String),
    /// Every feature left failing used its attempt budget (which ones and why).
    Blocked(String),
}

/// Why an answer is on hand without asking the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerSource {
    /// Recorded by this thread before a crash: the tokens were spent but not yet checkpointed.
    Resume,
    /// Recorded by another thread and replayed: it costs no tokens.
    Replay,
}

/// Model answers already recorded, keyed by (session, turn), used before the live model.
#[derive(Debug, Default)]
pub struct Recorded {
    answers: HashMap<(u32, u32), (ModelResponse, AnswerSource)>,
}

impl Recorded {
    pub fn new(
        answers: impl IntoIterator<Item = ((u32, u32), ModelResponse)>,
        source: AnswerSource,
    ) -> Recorded {
        Recorded {
            answers: answers
                .into_iter()
                .map(|(key, response)| (key, (response, source)))
                .collect(),
        }
    }

    /// Drops the answers of `session`: its conversation changed (an instruction came), so
    /// they no longer answer it.
    fn forget_session(&mut self, session: u32) {
        self.answers.retain(|(s, _), _| *s != session);
    }

    fn take(&mut self, session: u32, turn: u32) -> Option<(ModelResponse, AnswerSource)> {
        self.answers.remove(&(session, turn))
    }
}

/// Wall time of one step and the parts of it reported apart: waiting for the model, the
/// tools doing their work (a grep's time grows with the project, not with the harness) and
/// the worktree snapshot (git hashing and writing objects), which mostly runs while the
/// model is asked for the next step.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepTiming {
    /// The whole step; read only by `baton bench agent-loop`.
    #[cfg_attr(not(feature = "bench"), allow(dead_code))]
    pub total: Duration,
    pub model: Duration,
    pub tools: Duration,
    /// The snapshot's own time, wherever it ran.
    pub snapshot: Duration,
    /// The part of the step spent waiting for a snapshot (on the step's critical path).
    pub snapshot_wait: Duration,
    /// Tool calls the step ran (none for the answer that ends a session).
    pub tool_calls: u32,
    /// The step closed its session (Chromium checks, commit, memories ran in it).
    pub ended_session: bool,
}

/// A thread being run by this process.
pub struct ThreadRunner {
    /// The project folder (the thread's worktree).
    pub(crate) project: PathBuf,
    /// Settings resolved once for the run (command line > env > baton.toml > user file).
    pub(crate) settings: Settings,
    /// The graph the thread walks (the one stored in its tape header).
    workflow: Workflow,
    /// Answers each step: a live model, or recorded answers first (`recorded`).
    model: Arc<dyn Model>,
    /// The tools the model calls, jailed to the project (bash in the sandbox).
    tools: HarnessTools,
    /// The tape and the thread's lock.
    recording: Recording,
    /// Snapshots, the pending checkpoint, the state encoder, the touched paths.
    checkpoints: checkpoint::Checkpoints,
    /// The project's memory and the rebuilds this run started (`memory_watch`).
    memory: memory_watch::RunMemory,
    /// The thread's state as of the current step (what each checkpoint stores).
    pub(crate) state: ThreadState,
    /// Keeps the feature list's rules (the model may only flip what it is allowed to).
    guard: FeatureGuard,
    /// Puts the user's inputs (app spec, `baton.toml`, `protected` files) back when a tool
    /// changed them.
    inputs: crate::input_guard::InputGuard,
    /// Model answers already on a tape, used before asking the live model.
    recorded: Recorded,
    /// Replay `--mode mock`: recorded tool results by call id, used instead of running tools.
    mock_results: Option<HashMap<String, baton_tools::ToolOutput>>,
    /// When this run started (wall time in the run's summary).
    started: Instant,
    /// The current step's timed parts, and every step's when a bench asked for them.
    timing: StepTimes,
    /// The control socket and the pause rules' counters.
    steering: control::Steering,
    /// Who hears each recorded fact as it happens (the terminal's progress lines).
    observers: Vec<Box<dyn Observer>>,
}

/// The thread's tape and the lock that keeps a second runner off it.
struct Recording {
    tape: TapeWriter<crate::events::Event>,
    lock: ThreadLock,
}

impl Recording {
    /// Writes the tape and the lock back when a tool deleted or replaced them; true when it
    /// had to.
    fn relink(&mut self) -> Result<bool, HarnessError> {
        if !self.tape.relink()? {
            return Ok(false);
        }
        self.lock.relink()?;
        Ok(true)
    }
}

/// Step timings: the current step's parts, and every finished step's when kept.
#[derive(Default)]
struct StepTimes {
    current: StepTiming,
    kept: Option<Vec<StepTiming>>,
}

/// What a new thread starts from.
pub struct NewThread<'a> {
    pub project: &'a Path,
    pub thread: Option<&'a str>,
    pub parent: Option<baton_tape::ParentRef>,
}

/// What `create` (a new tape) and `resume` (an existing one) open before the runner is
/// assembled around it.
struct Opened {
    project: PathBuf,
    settings: Settings,
    workflow: Workflow,
    model: Arc<dyn Model>,
    tape: TapeWriter<crate::events::Event>,
    snapshots: Snapshotter,
    lock: ThreadLock,
    state: ThreadState,
    recorded: Recorded,
    steering_dir: PathBuf,
}

impl ThreadRunner {
    /// Where on the tape something made now stands (the next record's sequence number):
    /// memories carry it, so recall can tell a live step from a rewound one.
    pub(crate) fn tape_position(&self) -> u64 {
        self.recording.tape.next_seq().0
    }

    /// Creates a thread in `project` (a git repository is made when there is none) and records
    /// its first checkpoint: the starting project.
    pub async fn create(
        new: NewThread<'_>,
        settings: Settings,
        model: Arc<dyn Model>,
    ) -> Result<ThreadRunner, HarnessError> {
        crate::tools::check_sandbox(&settings)?;
        let project = absolute(new.project)?;
        let repo = project::ensure_repo(&project)?;
        let git_head = project::head_commit(&repo);
        drop(repo);
        let workflow = Workflow::load(&settings.workflow)?;
        let thread = match new.thread {
            Some(id) => ThreadId::new(id).map_err(HarnessError::Tape)?,
            None => ThreadId::generate(),
        };
        let paths = ThreadPaths::new(&project, &thread);
        if paths.tape.exists() {
            return Err(HarnessError::BadInput(format!(
                "thread {thread} already exists in {}: use `baton resume {thread}` to continue it",
                project.display()
            )));
        }
        let lock = ThreadLock::acquire(&paths)?;
        let mut header = TapeHeader::new(
            thread.clone(),
            workflow.name(),
            project.display().to_string(),
        );
        header.parent = new.parent;
        header.meta = workflow_meta(&workflow);
        let mut tape = TapeWriter::create(&paths, &header, tape_options())?;
        let snapshots = Snapshotter::open_locked(&project, &thread, &lock)?;
        let mut state = fresh_state(&thread, &workflow, &settings, git_head);
        state.connection = Some(Connection::of(&settings, model.name()));
        tape.append(
            StepNo(0),
            thread_started(&project, &workflow, model.as_ref(), &settings),
        )?;
        // Boxed: the runner is large, and both callers' futures would carry it twice.
        let mut runner = Box::pin(ThreadRunner::assemble(Opened {
            project,
            settings,
            workflow,
            model,
            tape,
            snapshots,
            lock,
            state,
            recorded: Recorded::default(),
            steering_dir: paths.dir.clone(),
        }))
        .await?;
        runner.checkpoint().await?;
        Ok(runner)
    }

    /// Takes an existing thread up again: the state of its last checkpoint, the worktree reset
    /// to that checkpoint's snapshot, and the model answers recorded after it kept for reuse.
    pub async fn resume(
        project: &Path,
        thread: &str,
        settings: Settings,
        model: Arc<dyn Model>,
    ) -> Result<ThreadRunner, HarnessError> {
        crate::tools::check_sandbox(&settings)?;
        let project = absolute(project)?;
        let thread = ThreadId::new(thread).map_err(HarnessError::Tape)?;
        let paths = ThreadPaths::new(&project, &thread);
        if !paths.tape.exists() {
            return Err(HarnessError::ThreadNotFound {
                thread: thread.to_string(),
                project,
            });
        }
        let lock = ThreadLock::acquire(&paths)?;
        let baton_tape::Resumed {
            writer: mut tape,
            header,
            tail,
            recovery,
        } = TapeWriter::<Event>::open(&paths, tape_options())?;
        if let Some(recovery) = recovery {
            tracing::warn!(
                "the tape of {thread} had a torn tail ({} bytes in {} lines); it was cut back to the last whole frame",
                recovery.dropped_bytes,
                recovery.dropped_lines
            );
        }
        let snapshots = Snapshotter::open_locked(&project, &thread, &lock)?;
        let workflow = workflow_from_header(&header)?;
        // No checkpoint yet: killed before `create` wrote its first one.
        let unstarted = tape.head().is_none();
        let mut state = if let Some(head) = tape.head().cloned() {
            if let Some(snapshot) = head.snapshot.as_ref() {
                keep_what_resume_resets(&snapshots, &head, snapshot)?;
                snapshots.restore(snapshot)?;
            }
            ThreadState::from_value(head.state)?
        } else {
            // Opening memory takes seconds, so a kill often lands before the first
            // checkpoint: the thread starts over from its header, as `create` would have.
            let git_head = project::head_commit(&project::ensure_repo(&project)?);
            fresh_state(&thread, &workflow, &settings, git_head)
        };
        let answers = tail
            .iter()
            .filter_map(|record| match record.event() {
                Some(Event::ModelResponse {
                    session,
                    turn,
                    response,
                    ..
                }) => Some(((*session, *turn), response.clone())),
                _ => None,
            })
            .collect::<Vec<_>>();
        // A larger budget on the command line lets a stopped thread go on.
        if settings.max_sessions > state.max_sessions {
            state.max_sessions = settings.max_sessions;
            if matches!(state.phase, Phase::Stopped { .. }) {
                state.phase = Phase::Between;
            }
        }
        // A larger initializer_attempts lets a thread whose initializers failed go on.
        if matches!(state.phase, Phase::Stopped { .. })
            && state.failed_initializers > 0
            && state.failed_initializers < settings.initializer_attempts
            && state.sessions_run < state.max_sessions
        {
            state.phase = Phase::Between;
        }
        // A larger attempt budget gives blocked features their sessions back.
        let budget = settings.feature_attempts;
        if matches!(state.phase, Phase::Blocked { .. })
            && state.blocked.values().any(|b| b.sessions < budget)
        {
            state
                .blocked
                .retain(|_, blocked| blocked.sessions >= budget);
            state.phase = Phase::Between;
        }
        tape.append(
            StepNo(state.step),
            Event::Resumed {
                from_step: state.step,
                pid: std::process::id(),
            },
        )?;
        let started_recorded = tail
            .iter()
            .any(|record| matches!(record.event(), Some(Event::ThreadStarted { .. })));
        if unstarted && !started_recorded {
            tape.append(
                StepNo(0),
                thread_started(&project, &workflow, model.as_ref(), &settings),
            )?;
        }
        // Flags given to this resume (or a fork's or replay's first run) that change how the
        // thread is run are recorded, and later resumes go on with them.
        let mut connection = Connection::of(&settings, model.name());
        connection.max_sessions = state.max_sessions;
        if let Some(old) = &state.connection
            && old.script.is_some()
            && old.script == connection.script
        {
            // The same script names the same model (a replay's stand-in model has no name).
            connection.model.clone_from(&old.model);
        }
        if state.connection.as_ref() != Some(&connection) {
            let recorded_here = tail.iter().rev().find_map(|record| match record.event() {
                Some(Event::SettingsChanged { connection }) => Some(connection),
                _ => None,
            });
            // A thread that only now records its start has the connection in that event.
            let started_now = unstarted && !started_recorded;
            if recorded_here != Some(&connection) && !started_now {
                tape.append(
                    StepNo(state.step),
                    Event::SettingsChanged {
                        connection: connection.clone(),
                    },
                )?;
            }
            state.connection = Some(connection);
        }
        tape.sync()?;
        // Boxed: the runner is large, and both callers' futures would carry it twice.
        let mut runner = Box::pin(ThreadRunner::assemble(Opened {
            project,
            settings,
            workflow,
            model,
            tape,
            snapshots,
            lock,
            state,
            recorded: Recorded::new(answers, AnswerSource::Resume),
            steering_dir: paths.dir.clone(),
        }))
        .await?;
        if unstarted {
            // The first checkpoint `create` did not get to: the project as the thread found it.
            runner.checkpoint().await?;
        }
        Ok(runner)
    }

    /// The runner around what `create` and `resume` opened: memory, the user's inputs, the
    /// tools, the guards and the per-run counters are set up the same way for both.
    async fn assemble(opened: Opened) -> Result<ThreadRunner, HarnessError> {
        let Opened {
            project,
            settings,
            workflow,
            model,
            tape,
            snapshots,
            lock,
            state,
            recorded,
            steering_dir,
        } = opened;
        let (memory, memory_rebuild) =
            crate::memory_repair::open_if_enabled(&project, &settings).await?;
        let inputs = crate::input_guard::InputGuard::load(&project, &settings.protected)?;
        let tools = HarnessTools::new(
            &project,
            &state.thread,
            memory.clone(),
            &settings,
            inputs.read_only(),
        )?;
        Ok(ThreadRunner {
            guard: FeatureGuard::load(&project, state.drafting),
            project,
            settings,
            workflow,
            model,
            tools,
            recording: Recording { tape, lock },
            checkpoints: checkpoint::Checkpoints::new(snapshots),
            memory: memory_watch::RunMemory::new(memory, memory_rebuild),
            inputs,
            state,
            recorded,
            mock_results: None,
            started: Instant::now(),
            timing: StepTimes::default(),
            steering: control::Steering::new(steering_dir),
            observers: vec![Box::new(crate::display::ProgressLines::default())],
        })
    }

    /// Adds answers to reuse before asking the live model (replay).
    #[must_use]
    pub fn with_recorded(mut self, recorded: Recorded) -> ThreadRunner {
        for (key, answer) in recorded.answers {
            self.recorded.answers.entry(key).or_insert(answer);
        }
        self
    }

    pub fn thread(&self) -> &str {
        &self.state.thread
    }

    pub fn state(&self) -> &ThreadState {
        &self.state
    }

    pub fn project(&self) -> &Path {
        &self.project
    }

    /// Runs the thread until the workflow ends or stops.
    pub async fn run(&mut self) -> Result<RunOutcome, HarnessError> {
        let outcome = self.run_inner().await;
        self.finish_memory_rebuild().await;
        outcome
    }

    async fn run_inner(&mut self) -> Result<RunOutcome, HarnessError> {
        loop {
            if !self.state.is_finished()
                && let Some(outcome) = self.control_point().await?
            {
                return Ok(outcome);
            }
            match self.state.phase.clone() {
                Phase::Done => return Ok(RunOutcome::Done),
                Phase::Stopped { reason } => return Ok(RunOutcome::Stopped(reason)),
                Phase::Blocked { reason } => return Ok(RunOutcome::Blocked(reason)),
                Phase::Between => self.next_node().await?,
                Phase::InSession => self.step().await?,
            }
        }
    }

    /// Replays tool results recorded on `tape` instead of running the tools (replay `--mode mock`).
    pub fn mock_tools_from(&mut self, tape: &baton_tape::Tape<Event>) {
        let results = tape
            .records()
            .iter()
            .filter_map(|record| match record.event() {
                Some(Event::ToolResult {
                    call_id,
                    ok,
                    content,
                    touched,
                    ..
                }) => {
                    let mut output = if *ok {
                        baton_tools::ToolOutput::success(content.clone())
                    } else {
                        baton_tools::ToolOutput::error(content.clone())
                    };
                    output.touched.clone_from(touched);
                    Some((call_id.clone(), output))
                }
                _ => None,
            })
            .collect();
        self.mock_results = Some(results);
    }

    /// Starts recording per-step timings (for `baton bench agent-loop`).
    #[cfg(feature = "bench")]
    pub fn enable_timings(&mut self) {
        self.timing.kept = Some(Vec::new());
    }

    /// The timings recorded since `enable_timings`.
    #[cfg(feature = "bench")]
    pub fn timings(&self) -> &[StepTiming] {
        self.timing.kept.as_deref().unwrap_or_default()
    }

    /// Seconds since this process took the thread.
    pub fn elapsed_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn record(&mut self, event: Event) -> Result<(), HarnessError> {
        self.steering.observe(&event);
        for observer in &mut self.observers {
            observer.recorded(&self.state, &event);
        }
        self.recording.tape.append(StepNo(self.state.step), event)?;
        Ok(())
    }
}

/// Resume puts the worktree back to the head checkpoint's snapshot. Whatever differs (files
/// an interrupted step half wrote, or edits made by hand while the thread was stopped) is
/// first kept as a snapshot commit of its own, and the user is told how to get it back.
/// The state of a thread before its first step: at the workflow's start node.
fn fresh_state(
    thread: &ThreadId,
    workflow: &Workflow,
    settings: &Settings,
    git_head: Option<String>,
) -> ThreadState {
    let start = workflow.node(workflow.start()).name.clone();
    let mut state = ThreadState::new(
        thread.as_str(),
        workflow.name(),
        &start,
        settings.max_sessions,
    );
    state.git_head = git_head;
    state
}

/// The event that opens a thread's tape.
fn thread_started(
    project: &Path,
    workflow: &Workflow,
    model: &dyn Model,
    settings: &Settings,
) -> Event {
    Event::ThreadStarted {
        project: project.display().to_string(),
        workflow: workflow.name().to_owned(),
        model: model.name().to_owned(),
        connection: Some(Connection::of(settings, model.name())),
    }
}

fn keep_what_resume_resets(
    snapshots: &Snapshotter,
    head: &baton_tape::Head,
    snapshot: &baton_tape::SnapshotRef,
) -> Result<(), HarnessError> {
    let kept =
        snapshots.snapshot_if_changed(snapshot, head.step, "the worktree as resume found it")?;
    if let Some(found) = kept {
        tracing::warn!(
            "the worktree had changed since step {} (an interrupted step, or edits by hand); it is put back to that step. What was there is kept in commit {}: `git diff {} {}` shows the changes, `git checkout {} -- FILE` takes a file back",
            head.step,
            found.commit,
            snapshot.commit,
            found.commit,
            found.commit
        );
    }
    Ok(())
}

/// How threads store their state: the conversation only grows within a session, so the
/// tape diffs it in time proportional to what was appended.
pub fn tape_options() -> baton_tape::TapeOptions {
    baton_tape::TapeOptions {
        append_only: vec!["/conversation".to_owned()],
        ..baton_tape::TapeOptions::default()
    }
}

/// The header's copy of the workflow, so a thread resumes with the graph it started with
/// even when the TOML file it came from has changed or gone.
fn workflow_meta(workflow: &Workflow) -> serde_json::Value {
    serde_json::json!({ "workflow_toml": workflow.to_toml() })
}

/// The workflow a tape was recorded with.
pub fn workflow_from_header(header: &TapeHeader) -> Result<Workflow, HarnessError> {
    match header
        .meta
        .get("workflow_toml")
        .and_then(serde_json::Value::as_str)
    {
        Some(toml) => Ok(Workflow::from_toml_str(toml)?),
        None => Ok(Workflow::load(&header.workflow)?),
    }
}

/// Writes the first frames of a thread that starts from a recorded state (a fork or a
/// replay): its tape with the parent named in the header, an event, and a checkpoint of the
/// state with a snapshot of `project`'s worktree.
pub fn seed_thread(
    project: &Path,
    thread: &ThreadId,
    parent: baton_tape::ParentRef,
    source: &TapeHeader,
    state: &ThreadState,
    event: Event,
) -> Result<(), HarnessError> {
    project::ensure_repo(project)?;
    let paths = ThreadPaths::new(project, thread);
    let mut header = TapeHeader::new(
        thread.clone(),
        state.workflow.clone(),
        project.display().to_string(),
    );
    header.parent = Some(parent);
    header.meta = source.meta.clone();
    let mut tape = TapeWriter::<Event>::create(&paths, &header, tape_options())?;
    tape.append(StepNo(state.step), event)?;
    let snapshot = Snapshotter::open(project, thread)?
        .snapshot(StepNo(state.step), &format!("step {}", state.step))?;
    tape.checkpoint(StepNo(state.step), &state.to_value()?, Some(snapshot))?;
    Ok(())
}

fn absolute(path: &Path) -> Result<PathBuf, HarnessError> {
    std::fs::create_dir_all(path).map_err(|source| HarnessError::io(path, source))?;
    path.canonicalize()
        .map_err(|source| HarnessError::io(path, source))
}

#[cfg(test)]
mod tests;
