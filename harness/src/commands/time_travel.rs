//! Time travel: `baton rewind`, `fork`, `replay`, `gc`. All of them read the log up to a
//! step; none deletes a recorded step.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use baton_model::{Model, ModelError, ModelRequest, ModelResponse};
use baton_tape::{ParentRef, Snapshotter, StepNo, TapeWriter, ThreadId, ThreadLock};
use serde_json::Value;

use super::ExitCode;
use crate::cli::{ForkArgs, GcArgs, ReplayArgs, ReplayMode, RewindArgs};
use crate::config::LimitArgs;
use crate::config::Settings;
use crate::connection::connect_model;
use crate::error::HarnessError;
use crate::events::Event;
use crate::layout::ProjectLayout;
use crate::runner::{AnswerSource, Recorded, ThreadRunner, seed_thread};
use crate::state::{Phase, ThreadState};
use crate::threads::{all_threads, open_thread};

pub fn rewind(args: &RewindArgs) -> anyhow::Result<ExitCode> {
    let opened = open_thread(&args.project, &args.thread)?;
    let id = ThreadId::new(&args.thread).map_err(|e| HarnessError::BadInput(e.to_string()))?;
    let lock = ThreadLock::acquire(&opened.paths)?;
    let target = opened.tape.resolve(StepNo(args.to))?;
    let mut writer =
        TapeWriter::<Event>::open(&opened.paths, crate::runner::tape_options())?.writer;
    let head = writer.rewind(target)?.clone();
    writer.append(
        head.step,
        Event::HumanEdit {
            sets: vec![format!("rewind to step {}", args.to)],
            instruction: None,
        },
    )?;
    writer.sync()?;
    if let Some(snapshot) = &head.snapshot {
        Snapshotter::open_locked(&opened.project, &id, &lock)?.restore(snapshot)?;
    }
    let state = crate::state::ThreadState::from_value(head.state.clone())?;
    if let Some(sha) = &state.git_head {
        let repo = crate::project::ensure_repo(&opened.project)?;
        if crate::project::move_branch_back(&repo, sha)? {
            println!(
                "the branch is back at {} (later commits of the thread are abandoned)",
                &sha[..7]
            );
        }
    }
    println!(
        "thread {} rewound to step {} (checkpoint {}); later steps stay on the tape as an abandoned branch",
        args.thread, head.step, head.checkpoint
    );
    println!(
        "go on with: baton resume {} --project {}",
        args.thread,
        opened.project.display()
    );
    Ok(ExitCode::Ok)
}

/// Applies `PATH=JSON` edits (JSON pointers) to a state.
fn apply_sets(state: &mut Value, sets: &[String]) -> Result<(), HarnessError> {
    for set in sets {
        let (path, json) = set.split_once('=').ok_or_else(|| {
            HarnessError::BadInput(format!(
                "--set {set}: expected PATH=JSON, e.g. --set /max_sessions=12"
            ))
        })?;
        let value: Value = serde_json::from_str(json).map_err(|e| {
            HarnessError::BadInput(format!(
                "--set {set}: the value is not JSON ({e}); quote strings: '/feature=\"x\"'"
            ))
        })?;
        let slot = state.pointer_mut(path).ok_or_else(|| {
            HarnessError::BadInput(format!(
                "--set {set}: no field at {path} in the thread state (see `baton show`)"
            ))
        })?;
        *slot = value;
    }
    Ok(())
}

pub fn fork(args: &ForkArgs) -> anyhow::Result<ExitCode> {
    let opened = open_thread(&args.project, &args.thread)?;
    let source_id =
        ThreadId::new(&args.thread).map_err(|e| HarnessError::BadInput(e.to_string()))?;
    let checkpoint_id = opened.tape.resolve(StepNo(args.at))?;
    let checkpoint = opened.tape.checkpoint(checkpoint_id)?.clone();
    let mut value = opened.tape.state_at(checkpoint_id)?;
    apply_sets(&mut value, &args.sets)?;
    let mut state = ThreadState::from_value(value).map_err(|e| {
        HarnessError::BadInput(format!("the edited state is not a valid thread state: {e}"))
    })?;
    let new_id = match &args.new_thread {
        Some(id) => ThreadId::new(id).map_err(|e| HarnessError::BadInput(e.to_string()))?,
        None => ThreadId::generate(),
    };
    state.thread = new_id.to_string();
    if let Some(instruction) = &args.instruct {
        inject_instruction(&mut state, instruction);
    }
    let dir = ProjectLayout::of(&opened.project).fork(new_id.as_str());
    let snapshot = checkpoint.snapshot.as_ref().ok_or_else(|| {
        HarnessError::BadInput(format!(
            "step {} has no worktree snapshot to fork from",
            checkpoint.step
        ))
    })?;
    Snapshotter::open(&opened.project, &source_id)?.fork_worktree(snapshot, &dir)?;
    let parent = ParentRef {
        thread: source_id,
        step: checkpoint.step,
        checkpoint: Some(checkpoint.id),
    };
    seed_thread(
        &dir,
        &new_id,
        parent,
        opened.tape.header(),
        &state,
        Event::HumanEdit {
            sets: args.sets.clone(),
            instruction: args.instruct.clone(),
        },
    )?;
    println!(
        "forked {} at step {} into thread {new_id}",
        args.thread, checkpoint.step
    );
    println!("its worktree: {}", dir.display());
    println!(
        "run it with:  baton resume {new_id} --project {}",
        dir.display()
    );
    Ok(ExitCode::Ok)
}

/// An instruction goes into the running conversation, or into the next session's prompt.
fn inject_instruction(state: &mut ThreadState, instruction: &str) {
    if state.phase == Phase::InSession {
        state
            .conversation
            .push(baton_model::ChatMessage::user(format!(
                "Instruction from a person: {instruction}"
            )));
    } else {
        state.instruction = Some(instruction.to_owned());
    }
}

/// The model of a replay that must not go past its recording: asking it is an error.
struct RecordingOnly;

#[async_trait::async_trait]
impl Model for RecordingOnly {
    fn name(&self) -> &'static str {
        "recording"
    }

    async fn complete(&self, request: &ModelRequest<'_>) -> Result<ModelResponse, ModelError> {
        Err(ModelError::Permanent {
            detail: format!(
                "the replay went past its recording ({} messages into a session the original never had); \
                 use --mode live to ask the model from here",
                request.messages.len()
            ),
        })
    }
}

pub async fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let opened = open_thread(&args.project, &args.thread)?;
    let source_id =
        ThreadId::new(&args.thread).map_err(|e| HarnessError::BadInput(e.to_string()))?;
    let from = args.from.unwrap_or(0);
    let checkpoint_id = opened.tape.resolve(StepNo(from))?;
    let checkpoint = opened.tape.checkpoint(checkpoint_id)?.clone();
    let mut state = ThreadState::from_value(opened.tape.state_at(checkpoint_id)?)?;
    let original = ThreadState::from_value(
        opened
            .tape
            .state_at(opened.tape.resolve(StepNo(u64::MAX))?)?,
    )?;
    let answers: HashMap<(u32, u32), ModelResponse> = opened
        .tape
        .records()
        .iter()
        .filter_map(|r| match r.event() {
            Some(Event::ModelResponse {
                session,
                turn,
                response,
                ..
            }) => Some(((*session, *turn), response.clone())),
            _ => None,
        })
        .collect();
    let new_id = ThreadId::new(format!(
        "{}-replay-{}",
        args.thread,
        chrono::Utc::now().format("%H%M%S")
    ))
    .map_err(|e| HarnessError::BadInput(e.to_string()))?;
    state.thread = new_id.to_string();
    let dir: PathBuf = args
        .out
        .clone()
        .unwrap_or_else(|| ProjectLayout::of(&opened.project).replay(new_id.as_str()));
    let snapshot = checkpoint.snapshot.as_ref().ok_or_else(|| {
        HarnessError::BadInput(format!(
            "step {} has no worktree snapshot to replay from",
            checkpoint.step
        ))
    })?;
    Snapshotter::open(&opened.project, &source_id)?.fork_worktree(snapshot, &dir)?;
    seed_thread(
        &dir,
        &new_id,
        ParentRef {
            thread: source_id,
            step: checkpoint.step,
            checkpoint: Some(checkpoint.id),
        },
        opened.tape.header(),
        &state,
        Event::HumanEdit {
            sets: vec![format!(
                "replay of {} from step {from} ({:?})",
                args.thread, args.mode
            )],
            instruction: None,
        },
    )?;
    let mut limits = LimitArgs::default();
    if args.mode == ReplayMode::Mock {
        limits.no_verify = true;
    }
    let mut settings = Settings::resolve(&dir, &args.model, &limits, None)?;
    if let Some(recorded) = &state.connection {
        recorded.apply(&mut settings, &args.model, &limits);
    }
    let (model, _server): (Arc<dyn Model>, _) = match args.mode {
        ReplayMode::Live => {
            let connection = connect_model(&settings).await?;
            (connection.model.clone(), Some(connection))
        }
        ReplayMode::Replay | ReplayMode::Mock => (Arc::new(RecordingOnly), None),
    };
    let recorded = match args.mode {
        ReplayMode::Live => Recorded::default(),
        ReplayMode::Replay | ReplayMode::Mock => Recorded::new(answers, AnswerSource::Replay),
    };
    let mut runner = ThreadRunner::resume(&dir, new_id.as_str(), settings, model)
        .await?
        .with_recorded(recorded);
    if args.mode == ReplayMode::Mock {
        runner.mock_tools_from(&opened.tape);
    }
    eprintln!(
        "baton: replaying {} as {new_id} in {}",
        args.thread,
        dir.display()
    );
    let code = super::run::drive(&mut runner).await?;
    let replay_state = runner.state().clone();
    let original_wall = wall_time(&opened.tape);
    println!();
    println!(
        "{:<10} {:>12} {:>12} {:>12}",
        "", "tokens", "cost", "wall time"
    );
    println!(
        "{:<10} {:>12} {:>12} {:>11.1}s",
        "original",
        original.ledger.total_tokens(),
        cost(original.ledger.total_cost()),
        original_wall.as_secs_f64()
    );
    println!(
        "{:<10} {:>12} {:>12} {:>11.1}s",
        "replay",
        replay_state.ledger.total_tokens(),
        cost(replay_state.ledger.total_cost()),
        runner.elapsed_secs()
    );
    Ok(code)
}

fn cost(cost: Option<f64>) -> String {
    cost.map_or_else(|| "-".to_owned(), |c| format!("${c:.4}"))
}

fn wall_time(tape: &baton_tape::Tape<Event>) -> Duration {
    let records = tape.records();
    match (records.first(), records.last()) {
        (Some(first), Some(last)) => (last.at - first.at).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    }
}

fn parse_age(text: &str) -> Result<Duration, HarnessError> {
    let (number, unit) = text.split_at(text.trim_end_matches(char::is_alphabetic).len());
    let n: u64 = number.parse().map_err(|_| {
        HarnessError::BadInput(format!("--keep-age {text}: expected e.g. 7d, 12h, 30m"))
    })?;
    let seconds = match unit {
        "d" => n * 86_400,
        "h" => n * 3_600,
        "m" => n * 60,
        "s" | "" => n,
        _ => {
            return Err(HarnessError::BadInput(format!(
                "--keep-age {text}: units are d, h, m, s"
            )));
        }
    };
    Ok(Duration::from_secs(seconds))
}

pub fn gc(args: &GcArgs) -> anyhow::Result<ExitCode> {
    if args.keep_last.is_none() && args.keep_age.is_none() && args.milestones.is_none() {
        return Err(HarnessError::BadInput(
            "say what to keep: --keep-last N, --keep-age D (e.g. 7d) and/or --milestones N"
                .to_owned(),
        )
        .into());
    }
    let policy = baton_tape::GcPolicy {
        keep_last: args.keep_last,
        keep_age: args.keep_age.as_deref().map(parse_age).transpose()?,
        milestones: args.milestones,
    };
    let threads = all_threads(&args.project);
    // Fork points are protected: a fork depends on its parent's snapshot there.
    let mut fork_points: HashMap<String, Vec<baton_tape::CheckpointId>> = HashMap::new();
    for (dir, id) in &threads {
        let paths = baton_tape::ThreadPaths::new(dir, id);
        if let Ok((tape, _)) = baton_tape::Tape::<Event>::open(&paths.tape)
            && let Some(parent) = &tape.header().parent
            && let Some(checkpoint) = parent.checkpoint
        {
            fork_points
                .entry(parent.thread.to_string())
                .or_default()
                .push(checkpoint);
        }
    }
    let mut total_dropped = 0;
    let mut total_freed = 0;
    for (dir, id) in &threads {
        if args.thread.as_deref().is_some_and(|t| t != id.as_str()) {
            continue;
        }
        let paths = baton_tape::ThreadPaths::new(dir, id);
        let (tape, _) = baton_tape::Tape::<Event>::open(&paths.tape)?;
        let mut protected = fork_points.get(id.as_str()).cloned().unwrap_or_default();
        protected.extend(tape.head().map(|c| c.id));
        let report = Snapshotter::open(dir, id)?.gc(&tape, &policy, &protected)?;
        println!(
            "{id}: dropped {} snapshots, freed {} bytes",
            report.snapshots_dropped, report.bytes_freed
        );
        total_dropped += report.snapshots_dropped;
        total_freed += report.bytes_freed;
    }
    println!("in all: dropped {total_dropped} snapshots, freed {total_freed} bytes");
    Ok(ExitCode::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_edit_the_state_and_bad_ones_say_why() {
        let mut state = serde_json::json!({"max_sessions": 3, "feature": null});
        apply_sets(
            &mut state,
            &["/max_sessions=12".into(), "/feature=\"x\"".into()],
        )
        .unwrap();
        assert_eq!(state["max_sessions"], 12);
        assert_eq!(state["feature"], "x");
        assert!(
            apply_sets(&mut state, &["/nope=1".into()])
                .unwrap_err()
                .to_string()
                .contains("no field")
        );
        assert!(
            apply_sets(&mut state, &["/max_sessions=twelve".into()])
                .unwrap_err()
                .to_string()
                .contains("not JSON")
        );
    }

    #[test]
    fn ages_parse() {
        assert_eq!(parse_age("7d").unwrap(), Duration::from_hours(7 * 24));
        assert!(parse_age("soon").is_err());
    }
}
