//! `baton bench agent-loop`: the harness's own time per step — tool dispatch, tape frames,
//! fsync, state delta, worktree snapshot — with the model's latency taken out. The model is a
//! script served over real HTTP on 127.0.0.1; each step asks for three tool calls (write a
//! note, read it back, grep the notes folder, which grows by a file a step).
//!
//! The tools' own work is reported apart as well: a grep over 500 files takes what it takes
//! in any harness, and it grows with the project, not with baton. So is what the bash
//! sandbox adds to a call: the same trivial command timed through the `bash` tool with the
//! sandbox on and off.

use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_tools::{Jail, SandboxStatus, ToolBox, ToolConfig};

use serde::Serialize;
use serde_json::json;

use super::percentile_us;
use crate::config::Settings;
use crate::config::{LimitArgs, ModelArgs};
use crate::connection::connect_model;
use crate::error::HarnessError;
use crate::runner::{NewThread, ThreadRunner};

#[derive(Debug, Serialize)]
pub struct AgentLoopReport {
    /// Steps measured: those with tool calls, after the warm-up.
    pub steps: usize,
    /// First steps left out of the figures (thread pools and caches filling up).
    pub warmup_steps: usize,
    pub tool_calls_per_step: usize,
    /// How long the scripted model was told to take per answer (`--model-delay-ms`).
    pub model_delay_ms: u64,
    /// The harness's time per step: everything but the wait for the model.
    pub harness_p50_us: f64,
    pub harness_p99_us: f64,
    pub harness_max_us: f64,
    /// The worktree snapshot's own time (git objects and a ref written per step). It runs
    /// while the model is asked for the next step; only waiting for it counts above.
    pub snapshot_p50_us: f64,
    pub snapshot_p99_us: f64,
    /// The part of the harness's time spent waiting for a snapshot to finish.
    pub snapshot_wait_p50_us: f64,
    pub snapshot_wait_p99_us: f64,
    /// The tools' own work (inside the tool, in the blocking pool), summed over the step.
    pub tools_p50_us: f64,
    pub tools_p99_us: f64,
    /// What baton adds to the model and the tools: dispatch, feature-list guard, tape
    /// frames and fsyncs, state delta, snapshot. The goal applies to this figure.
    pub overhead_p50_us: f64,
    pub overhead_p99_us: f64,
    pub model_p50_us: f64,
    pub goal_p99_us: f64,
    /// The bash sandbox's cost per call (`--bash-calls`; absent when 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bash: Option<BashSandboxReport>,
}

/// One `bash` call of a trivial command (`true`), sandboxed and not.
#[derive(Debug, Serialize)]
pub struct BashSandboxReport {
    pub calls: u32,
    /// `on`, or why the sandbox could not start (then only the plain figures mean anything).
    pub sandbox: String,
    pub plain_p50_us: f64,
    pub plain_p99_us: f64,
    pub sandboxed_p50_us: f64,
    pub sandboxed_p99_us: f64,
    /// Sandboxed minus plain, at the median. The goal applies to this figure.
    pub added_p50_us: f64,
    pub goal_added_p50_us: f64,
}

/// One coding node between a start and a terminal node, a session per `sessions_left`
/// (also the runner's in-process tests' workflow).
pub(crate) const WORKFLOW: &str = r#"
name = "bench"
[[nodes]]
name = "start"
kind = "start"
[[nodes]]
name = "work"
kind = "session"
prompt = "coding"
max_turns = 100000
[[nodes]]
name = "done"
kind = "terminal"
[[edges]]
from = "start"
to = "work"
when = ["sessions_left"]
[[edges]]
from = "work"
to = "done"
"#;

/// Steps at the start left out of the figures: the blocking pool's threads are spawned and
/// allocator and page caches fill during the first few.
const WARMUP_STEPS: usize = 10;

/// Runs `steps` scripted steps of three tool calls each, the model answering after
/// `model_delay_ms`, and reports the harness's share.
pub async fn agent_loop(
    steps: u32,
    model_delay_ms: u64,
    bash_calls: u32,
) -> Result<AgentLoopReport, HarnessError> {
    let dir =
        tempfile::tempdir().map_err(|e| HarnessError::io(std::env::temp_dir().as_path(), e))?;
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("notes")).map_err(|e| HarnessError::io(&project, e))?;
    std::fs::write(project.join("app_spec.md"), "A benchmark project.\n")
        .map_err(|e| HarnessError::io(&project, e))?;
    let delay_ms = (model_delay_ms > 0).then_some(model_delay_ms);
    let mut turns: Vec<serde_json::Value> = (0..steps)
        .map(|i| {
            json!({"delay_ms": delay_ms, "tool_calls": [
                {"name": "write_file", "arguments": {"path": format!("notes/{i}.txt"), "content": format!("note {i}\nline {i}\n")}},
                {"name": "read_file", "arguments": {"path": format!("notes/{i}.txt")}},
                {"name": "grep", "arguments": {"pattern": format!("line {i}$"), "path": "notes"}}
            ]})
        })
        .collect();
    turns.push(json!({"content": "done"}));
    let script = json!({"model": "bench", "sessions": [{"node": "work", "turns": turns}]});
    let script_path = dir.path().join("script.json");
    std::fs::write(&script_path, script.to_string())
        .map_err(|e| HarnessError::io(&script_path, e))?;
    let workflow_path = dir.path().join("bench.toml");
    std::fs::write(&workflow_path, WORKFLOW).map_err(|e| HarnessError::io(&workflow_path, e))?;

    let settings = Settings::resolve(
        &project,
        &ModelArgs {
            script: Some(script_path),
            ..ModelArgs::default()
        },
        &LimitArgs {
            max_sessions: Some(1),
            no_memory: true,
            no_verify: true,
            no_sandbox: false,
        },
        Some(&workflow_path.display().to_string()),
    )?;
    let connection = connect_model(&settings).await?;
    let mut runner = ThreadRunner::create(
        NewThread {
            project: &project,
            thread: Some("bench"),
            parent: None,
        },
        settings,
        connection.model.clone(),
    )
    .await?;
    runner.enable_timings();
    runner.run().await?;
    // The answer that ends the session runs no tool and is followed by the session's
    // commit: not a step of the kind measured here.
    let timings: Vec<_> = runner
        .timings()
        .iter()
        .skip(WARMUP_STEPS)
        .filter(|timing| timing.tool_calls > 0)
        .collect();
    let sorted = |part: &dyn Fn(&crate::runner::StepTiming) -> Duration| {
        let mut samples: Vec<Duration> = timings.iter().copied().map(part).collect();
        samples.sort();
        samples
    };
    let harness = sorted(&|t| t.total.saturating_sub(t.model));
    let snapshot = sorted(&|t| t.snapshot);
    let snapshot_wait = sorted(&|t| t.snapshot_wait);
    let tools = sorted(&|t| t.tools);
    let overhead = sorted(&|t| t.total.saturating_sub(t.model + t.tools));
    let model = sorted(&|t| t.model);
    let bash = if bash_calls == 0 {
        None
    } else {
        let project = project.clone();
        Some(
            tokio::task::spawn_blocking(move || bash_sandbox(&project, bash_calls))
                .await
                .map_err(|e| HarnessError::BadInput(format!("the bash bench stopped: {e}")))??,
        )
    };
    Ok(AgentLoopReport {
        steps: harness.len(),
        warmup_steps: WARMUP_STEPS,
        tool_calls_per_step: 3,
        model_delay_ms,
        harness_p50_us: percentile_us(&harness, 50.0),
        harness_p99_us: percentile_us(&harness, 99.0),
        harness_max_us: percentile_us(&harness, 100.0),
        snapshot_p50_us: percentile_us(&snapshot, 50.0),
        snapshot_p99_us: percentile_us(&snapshot, 99.0),
        snapshot_wait_p50_us: percentile_us(&snapshot_wait, 50.0),
        snapshot_wait_p99_us: percentile_us(&snapshot_wait, 99.0),
        tools_p50_us: percentile_us(&tools, 50.0),
        tools_p99_us: percentile_us(&tools, 99.0),
        overhead_p50_us: percentile_us(&overhead, 50.0),
        overhead_p99_us: percentile_us(&overhead, 99.0),
        model_p50_us: percentile_us(&model, 50.0),
        goal_p99_us: 2000.0,
        bash,
    })
}

/// Times `calls` bash calls of `true` in `project` through the tool, the sandbox off and on,
/// taking turns so that both see the same machine load.
fn bash_sandbox(project: &std::path::Path, calls: u32) -> Result<BashSandboxReport, HarnessError> {
    let jail = Arc::new(Jail::new(project).map_err(|e| HarnessError::BadInput(e.to_string()))?);
    let tools = |enabled: bool| {
        let mut config = ToolConfig::default();
        config.sandbox.enabled = enabled;
        ToolBox::standard(Arc::clone(&jail), config)
    };
    let (plain, sandboxed) = (tools(false), tools(true));
    let time = |tools: &ToolBox| {
        let started = Instant::now();
        let output = tools.call("bash", r#"{"command": "true"}"#);
        (started.elapsed(), output.ok)
    };
    let (mut plain_times, mut sandboxed_times) = (Vec::new(), Vec::new());
    for _ in 0..calls {
        for (tools, times) in [
            (&plain, &mut plain_times),
            (&sandboxed, &mut sandboxed_times),
        ] {
            let (took, ok) = time(tools);
            if !ok {
                return Err(HarnessError::BadInput(
                    "a bash call in the sandbox bench failed".to_owned(),
                ));
            }
            times.push(took);
        }
    }
    plain_times.sort();
    sandboxed_times.sort();
    let sandbox = match ToolConfig::default().sandbox.status() {
        SandboxStatus::On => "on".to_owned(),
        other => format!("{other:?}"),
    };
    let plain_p50 = percentile_us(&plain_times, 50.0);
    let sandboxed_p50 = percentile_us(&sandboxed_times, 50.0);
    Ok(BashSandboxReport {
        calls,
        sandbox,
        plain_p50_us: plain_p50,
        plain_p99_us: percentile_us(&plain_times, 99.0),
        sandboxed_p50_us: sandboxed_p50,
        sandboxed_p99_us: percentile_us(&sandboxed_times, 99.0),
        added_p50_us: sandboxed_p50 - plain_p50,
        goal_added_p50_us: 15_000.0,
    })
}
