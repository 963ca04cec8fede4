//! `baton bench timeline`: what timeline-aware recall adds to a recall. A thread of `steps`
//! steps, rewound halfway back to a quarter (so half its checkpoints are on an abandoned
//! branch), one commit per step in a real git repository (the abandoned half off the
//! branch), and a note and a commit memory per step; then the cost of opening the thread's
//! line and of judging the memories one recall fetches. Embedding and store search are
//! measured by `baton bench memory`; this is only the filter on top of them.

use std::time::{Duration, Instant};

use baton_memory::{MemoryKind, MemoryRecord};
use baton_tape::{StepNo, TapeHeader, TapeWriter, ThreadId, ThreadPaths};
use chrono::Utc;
use git2::{Repository, Signature};
use serde::Serialize;
use serde_json::json;

use super::percentile_us;
use crate::error::HarnessError;
use crate::events::Event;
use crate::timeline::{Timeline, Visibility};

/// Memories judged per simulated recall: the most one fetch asks for at the default limit.
const FETCHED: usize = 100;

#[derive(Debug, Serialize)]
pub struct TimelineReport {
    pub steps: u64,
    pub checkpoints_abandoned: u64,
    pub memories: usize,
    pub hidden: usize,
    /// Opening the thread's line (tape index, live branch, repository): once per recall.
    pub open_p50_ms: f64,
    /// Judging the memories of one fetch (half commits, half notes).
    pub judge_fetch_p50_ms: f64,
    pub judge_fetch_p99_ms: f64,
    /// The first commit memory judged in a recall: the walk of the history from HEAD.
    pub first_commit_p50_ms: f64,
}

pub fn run(steps: u64) -> Result<TimelineReport, HarnessError> {
    let dir = tempfile::tempdir().map_err(|e| HarnessError::io(&std::env::temp_dir(), e))?;
    let project = dir.path();
    let repo = Repository::init(project)?;
    let thread = ThreadId::new("bench").map_err(|e| HarnessError::BadInput(e.to_string()))?;
    let paths = ThreadPaths::new(project, &thread);
    let header = TapeHeader::new(thread.clone(), "two-agent", project.display().to_string());
    let mut tape = TapeWriter::<Event>::create(&paths, &header, crate::runner::tape_options())?;
    let signature = Signature::now("bench", "bench@example.invalid")?;
    let tree = repo.find_tree(repo.index()?.write_tree()?)?;
    let (quarter, half) = (steps / 4, steps / 2);
    let mut commits = Vec::new();
    let mut records = Vec::new();
    let mut checkpoints = Vec::new();
    // Steps 1..=half, then a rewind to the quarter and steps on from there.
    let mut schedule: Vec<u64> = (1..=half).collect();
    schedule.extend(quarter + 1..=quarter + (steps - half));
    for (done, step) in schedule.into_iter().enumerate() {
        if done as u64 == half && quarter > 0 {
            let at = usize::try_from(quarter - 1).unwrap_or(0);
            repo.set_head_detached(commits[at])?;
            tape.rewind(checkpoints[at])?;
        }
        let seq = tape.next_seq().0;
        tape.append(
            StepNo(step),
            Event::HumanEdit {
                sets: Vec::new(),
                instruction: Some(format!("step {step}")),
            },
        )?;
        let parent = repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .into_iter()
            .collect::<Vec<_>>();
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        let oid = repo.commit(
            Some("HEAD"),
            &signature,
            &signature,
            &format!("step {step}"),
            &tree,
            &parents,
        )?;
        commits.push(oid);
        checkpoints.push(tape.checkpoint(StepNo(step), &json!({ "step": step }), None)?);
        for kind in [MemoryKind::Commit, MemoryKind::Error] {
            records.push(MemoryRecord {
                kind,
                text: format!("step {step}"),
                project: "bench".to_owned(),
                thread: thread.to_string(),
                session: None,
                step: Some(step),
                tape_seq: Some(seq),
                feature: None,
                commit: (kind == MemoryKind::Commit).then(|| oid.to_string()),
                file: None,
                at: Utc::now(),
            });
        }
    }
    tape.sync()?;
    drop(tape);

    let mut opens = Vec::new();
    let mut fetches = Vec::new();
    let mut first_commits = Vec::new();
    let mut hidden = 0;
    let stride = (records.len() / FETCHED).max(1);
    for round in 0..20 {
        let started = Instant::now();
        let mut timeline = Timeline::for_thread(project, thread.as_str())?;
        opens.push(started.elapsed());
        // One fetch's worth, spread over the whole history.
        let fetch: Vec<&MemoryRecord> = records
            .iter()
            .skip(round % stride)
            .step_by(stride)
            .take(FETCHED)
            .collect();
        let started = Instant::now();
        hidden = fetch
            .iter()
            .filter(|r| timeline.judge(r) != Visibility::Live)
            .count();
        fetches.push(started.elapsed());
        let mut fresh = Timeline::for_thread(project, thread.as_str())?;
        let started = Instant::now();
        let _ = fresh.judge(&records[0]);
        first_commits.push(started.elapsed());
    }
    let ms = |sorted: &[Duration], p: f64| percentile_us(sorted, p) / 1e3;
    for samples in [&mut opens, &mut fetches, &mut first_commits] {
        samples.sort();
    }
    Ok(TimelineReport {
        steps,
        checkpoints_abandoned: half - quarter,
        memories: records.len(),
        hidden,
        open_p50_ms: ms(&opens, 50.0),
        judge_fetch_p50_ms: ms(&fetches, 50.0),
        judge_fetch_p99_ms: ms(&fetches, 99.0),
        first_commit_p50_ms: ms(&first_commits, 50.0),
    })
}
