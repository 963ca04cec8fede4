//! `baton bench tape`: the peers' workload (a state growing by one ~400-byte message of
//! random words per step plus a 50-entry feature list) measured on this disk: fsync floor,
//! record+checkpoint per step at 1,000 and 10,000 steps, bytes on disk, state-at-step
//! latency, resume time and worktree snapshot time.
//!
//! The fsync floor is sampled between the steps, one probe per step, so that floor and
//! steps see the same disk: a 1,000-step window lasts about 0.1 s, and one stall of the
//! virtual disk during it would otherwise decide a ratio taken against a floor measured
//! at another moment.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Result, TapeError};
use crate::ids::{StepNo, ThreadId};
use crate::index::StateReader;
use crate::paths::ThreadPaths;
use crate::record::TapeHeader;
use crate::snapshot::Snapshotter;
use crate::tape::Tape;
use crate::writer::{TapeOptions, TapeWriter};

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Steps of the long thread (the per-step figures are taken at 1,000 and at the end).
    pub steps: usize,
    /// Scratch folder (created; its contents are left for inspection).
    pub dir: PathBuf,
    /// Bytes of each conversation message.
    pub message_bytes: usize,
    /// Random steps asked for in the state-at-step measurement.
    pub state_queries: usize,
    /// Files in the project used for worktree snapshots (0 skips that part).
    pub snapshot_files: usize,
    /// Snapshots measured, one changed file each.
    pub snapshots: usize,
    /// Seed of the random words and choices.
    pub seed: u64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            steps: 10_000,
            dir: std::env::temp_dir().join(format!("baton-bench-{}", std::process::id())),
            message_bytes: 400,
            state_queries: 200,
            snapshot_files: 1_000,
            snapshots: 50,
            seed: 7,
        }
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Samples taken.
    pub samples: usize,
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Slowest.
    pub max_us: f64,
}

impl Latency {
    fn of(samples: &[Duration]) -> Self {
        let mut us: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        us.sort_by(f64::total_cmp);
        let pick = |p: f64| {
            us.get(((p * us.len() as f64).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or(0.0)
        };
        Self {
            samples: us.len(),
            p50_us: pick(0.50),
            p99_us: pick(0.99),
            max_us: us.last().copied().unwrap_or(0.0),
        }
    }
}

/// The figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Steps of the long thread.
    pub steps: usize,
    /// A 100-byte append + fdatasync on this disk, one before each step: the floor of a
    /// durable step.
    pub fsync: Latency,
    /// The floor over steps 1..=1,000 only.
    pub fsync_first_1k: Latency,
    /// The floor over the last 1,000 steps only.
    pub fsync_last_1k: Latency,
    /// `step_first_1k.p99 / fsync_first_1k.p99` (goal: at most 2).
    pub step_over_fsync_p99_first_1k: f64,
    /// `step_last_1k.p99 / fsync_last_1k.p99` (goal: at most 2, the same as at 1,000).
    pub step_over_fsync_p99_last_1k: f64,
    /// One event append + one checkpoint (durable) per step, steps 1..=1,000.
    pub step_first_1k: Latency,
    /// The same over the last 1,000 steps of the long thread (flatness check).
    pub step_last_1k: Latency,
    /// The same over all steps.
    pub step_all: Latency,
    /// Tape bytes after 1,000 steps.
    pub tape_bytes_1k: u64,
    /// Index bytes after 1,000 steps.
    pub index_bytes_1k: u64,
    /// Tape + index bytes at the end.
    pub total_bytes_end: u64,
    /// Full states written over the long thread.
    pub full_states: usize,
    /// State at a random step through the index (seek, parse the nearest full state and
    /// the deltas after it), reader already open.
    pub state_at_indexed: Latency,
    /// The same including opening the reader (loading and checking the index) each time.
    pub state_at_indexed_cold: Latency,
    /// State at a random step read lazily ([`crate::RawState`]: subtrees no delta touched
    /// stay JSON text), reader already open.
    pub state_at_lazy: Latency,
    /// The same including opening the reader each time.
    pub state_at_lazy_cold: Latency,
    /// The floor under any state read: parsing the final state's JSON (`serde_json::Value`)
    /// once, in milliseconds, and its size.
    pub json_parse_final_state_ms: f64,
    /// Size of the final state's JSON.
    pub final_state_bytes: usize,
    /// State at a random step from a tape already in memory.
    pub state_at_in_memory: Latency,
    /// Opening the index and reading the latest state, in milliseconds.
    pub resume_indexed_ms: f64,
    /// `TapeWriter::open` (read the whole tape, repair, rebuild the index, head state), ms.
    pub resume_writer_ms: f64,
    /// Worktree snapshot with one changed file.
    pub snapshot: Latency,
    /// Files in the snapshot project.
    pub snapshot_files: usize,
}

/// Runs the benchmark.
pub fn run(opts: &BenchOptions) -> Result<BenchReport> {
    fs::create_dir_all(&opts.dir).map_err(TapeError::io("create", &opts.dir))?;
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut fsync_probe = FsyncProbe::create(opts)?;
    let thread = ThreadId::new("bench")?;
    let project = opts.dir.join("tape-project");
    let _ = fs::remove_dir_all(&project);
    let paths = ThreadPaths::new(&project, &thread);
    let options = TapeOptions {
        append_only: vec!["/conversation".into()],
        ..TapeOptions::default()
    };
    let header = TapeHeader::new(thread.clone(), "two-agent", project.display().to_string());
    let mut writer = TapeWriter::<Value>::create(&paths, &header, options.clone())?;
    let words = vocabulary(&mut rng, 3_000);
    let mut state = json!({
        "conversation": [],
        "features": (0..50).map(|i| json!({"id": format!("F{i:03}"), "passes": false})).collect::<Vec<_>>(),
        "step": 0,
    });
    let mut per_step = Vec::with_capacity(opts.steps);
    let mut fsyncs = Vec::with_capacity(opts.steps);
    let (mut tape_bytes_1k, mut index_bytes_1k) = (0, 0);
    for step in 1..=opts.steps as u64 {
        let message = sentence(&mut rng, &words, opts.message_bytes);
        push_message(&mut state, step, &message);
        if rng.random_ratio(1, 10) {
            let i = rng.random_range(0..50);
            let passes = state["features"][i]["passes"].as_bool().unwrap_or(false);
            state["features"][i]["passes"] = Value::Bool(!passes);
        }
        state["step"] = json!(step);
        let event = json!({"kind": "model", "usage": {"prompt_tokens": 900 + step, "completion_tokens": 100}});
        fsyncs.push(fsync_probe.sample()?);
        let started = Instant::now();
        writer.append(StepNo(step), event)?;
        writer.checkpoint(StepNo(step), &state, None)?;
        per_step.push(started.elapsed());
        if step == 1_000 {
            tape_bytes_1k = file_len(&paths.tape);
            index_bytes_1k = file_len(&paths.index);
        }
    }
    drop(writer);
    fsync_probe.remove();
    let last = per_step.len().saturating_sub(1_000);
    let first = per_step.len().min(1_000);
    let total_bytes_end = file_len(&paths.tape) + file_len(&paths.index);

    let started = Instant::now();
    let reader = StateReader::open(&paths)?;
    if let Some(head) = reader.head() {
        reader.state_at(head)?;
    }
    let resume_indexed_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let resumed = TapeWriter::<Value>::open(&paths, options)?;
    let resume_writer_ms = started.elapsed().as_secs_f64() * 1e3;
    drop(resumed);
    let (tape, _) = Tape::<Value>::open(&paths.tape)?;
    let full_states = tape
        .checkpoints()
        .filter(|cp| matches!(cp.state, crate::record::StateBlob::Full(_)))
        .count();

    let queries: Vec<u64> = (0..opts.state_queries)
        .map(|_| rng.random_range(1..=opts.steps as u64))
        .collect();
    let mut indexed = Vec::new();
    let mut indexed_cold = Vec::new();
    let mut lazy = Vec::new();
    let mut lazy_cold = Vec::new();
    let mut in_memory = Vec::new();
    let reader = StateReader::open(&paths)?;
    for &step in &queries {
        let started = Instant::now();
        StateReader::open(&paths)?.state_at(StepNo(step))?;
        indexed_cold.push(started.elapsed());
        let started = Instant::now();
        let value = reader.state_at(StepNo(step))?;
        indexed.push(started.elapsed());
        let started = Instant::now();
        let again = tape.state_at(StepNo(step))?;
        in_memory.push(started.elapsed());
        let started = Instant::now();
        StateReader::open(&paths)?.raw_state_at(StepNo(step))?;
        lazy_cold.push(started.elapsed());
        let started = Instant::now();
        let raw = reader.raw_state_at(StepNo(step))?;
        lazy.push(started.elapsed());
        if value != again || value != raw.to_value()? || value["step"] != json!(step) {
            return Err(TapeError::DeltaMismatch {
                path: format!("state at step {step}"),
                reason: "bench read back a wrong state",
            });
        }
    }
    let final_json = serde_json::to_vec(&state).map_err(TapeError::Encode)?;
    let started = Instant::now();
    let parsed: Value = serde_json::from_slice(&final_json).map_err(TapeError::Encode)?;
    let json_parse_final_state_ms = started.elapsed().as_secs_f64() * 1e3;
    drop(parsed);
    let snapshot = if opts.snapshot_files > 0 {
        measure_snapshots(opts, &mut rng)?
    } else {
        Latency::default()
    };
    let (step_first_1k, step_last_1k) = (
        Latency::of(&per_step[..first]),
        Latency::of(&per_step[last..]),
    );
    let (fsync_first_1k, fsync_last_1k) =
        (Latency::of(&fsyncs[..first]), Latency::of(&fsyncs[last..]));
    Ok(BenchReport {
        steps: opts.steps,
        fsync: Latency::of(&fsyncs),
        step_over_fsync_p99_first_1k: step_first_1k.p99_us / fsync_first_1k.p99_us,
        step_over_fsync_p99_last_1k: step_last_1k.p99_us / fsync_last_1k.p99_us,
        fsync_first_1k,
        fsync_last_1k,
        step_first_1k,
        step_last_1k,
        step_all: Latency::of(&per_step),
        tape_bytes_1k,
        index_bytes_1k,
        total_bytes_end,
        full_states,
        state_at_indexed: Latency::of(&indexed),
        state_at_indexed_cold: Latency::of(&indexed_cold),
        state_at_lazy: Latency::of(&lazy),
        state_at_lazy_cold: Latency::of(&lazy_cold),
        json_parse_final_state_ms,
        final_state_bytes: final_json.len(),
        state_at_in_memory: Latency::of(&in_memory),
        resume_indexed_ms,
        resume_writer_ms,
        snapshot,
        snapshot_files: opts.snapshot_files,
    })
}

fn push_message(state: &mut Value, step: u64, content: &str) {
    let role = if step.is_multiple_of(2) {
        "assistant"
    } else {
        "user"
    };
    if let Some(conversation) = state["conversation"].as_array_mut() {
        conversation.push(json!({"role": role, "content": content}));
    }
}

/// The disk's floor: a 100-byte append to a file of its own, then fdatasync.
struct FsyncProbe {
    path: PathBuf,
    file: fs::File,
}

impl FsyncProbe {
    fn create(opts: &BenchOptions) -> Result<Self> {
        let path = opts.dir.join("fsync-probe");
        let file = fs::File::create(&path).map_err(TapeError::io("create", &path))?;
        Ok(Self { path, file })
    }

    fn sample(&mut self) -> Result<Duration> {
        let started = Instant::now();
        self.file
            .write_all(&[b'x'; 100])
            .and_then(|()| self.file.sync_data())
            .map_err(TapeError::io("fsync", &self.path))?;
        Ok(started.elapsed())
    }

    fn remove(self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn measure_snapshots(opts: &BenchOptions, rng: &mut StdRng) -> Result<Latency> {
    let project = opts.dir.join("snapshot-project");
    let _ = fs::remove_dir_all(&project);
    fs::create_dir_all(&project).map_err(TapeError::io("create", &project))?;
    git2::Repository::init(&project).map_err(TapeError::git("init bench repository"))?;
    let words = vocabulary(rng, 500);
    for i in 0..opts.snapshot_files {
        let dir = project.join(format!("src/m{:02}", i % 40));
        fs::create_dir_all(&dir).map_err(TapeError::io("create", &dir))?;
        let file = dir.join(format!("f{i:04}.rs"));
        fs::write(&file, sentence(rng, &words, 1_000)).map_err(TapeError::io("write", &file))?;
    }
    let snapshotter = Snapshotter::open(&project, &ThreadId::new("bench")?)?;
    snapshotter.snapshot(StepNo(0), "baseline")?;
    let mut samples = Vec::with_capacity(opts.snapshots);
    for step in 1..=opts.snapshots {
        let i = rng.random_range(0..opts.snapshot_files);
        let file = project.join(format!("src/m{:02}/f{i:04}.rs", i % 40));
        fs::write(&file, sentence(rng, &words, 1_000)).map_err(TapeError::io("write", &file))?;
        let started = Instant::now();
        snapshotter.snapshot(StepNo(step as u64), "bench")?;
        samples.push(started.elapsed());
    }
    Ok(Latency::of(&samples))
}

fn vocabulary(rng: &mut StdRng, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let len = rng.random_range(2..=10);
            (0..len)
                .map(|_| char::from(rng.random_range(b'a'..=b'z')))
                .collect()
        })
        .collect()
}

fn sentence(rng: &mut StdRng, words: &[String], bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 12);
    while out.len() < bytes {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&words[rng.random_range(0..words.len())]);
    }
    out
}

fn file_len(path: &std::path::Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}
