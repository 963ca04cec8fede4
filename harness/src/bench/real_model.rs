//! `baton bench real-model`: what a real OpenAI-compatible server does under baton. Two parts:
//!
//! - **Probes**: a few streamed completions posted straight to the server, timed by baton:
//!   time to first token, prompt tokens/s (prompt tokens over the time to the first token)
//!   and generation tokens/s (the other tokens over the rest), from the server's own usage.
//! - **A run**: the counter-app spec (`examples/counter-app`) driven by the real runner
//!   within a session budget, with a tight workflow; it reports sessions, steps, features
//!   passed and blocked, the harness's own time per step (step minus model minus the tools'
//!   own work), and how the model behaved: tool calls read from text, repaired arguments,
//!   unreadable calls, tool errors, loops, turn limits.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use super::percentile_us;
use crate::config::Settings;
use crate::config::{LimitArgs, ModelArgs};
use crate::connection::connect_model;
use crate::error::HarnessError;
use crate::events::{Event, SessionEnd};
use crate::runner::{NewThread, RunOutcome, ThreadRunner};

/// The spec the run builds.
const COUNTER_SPEC: &str = include_str!("../../../examples/counter-app/app_spec.md");

/// What `baton bench real-model` is asked to do.
#[derive(Debug, Clone)]
pub struct RealModelOptions {
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    /// Streamed probe requests.
    pub probes: u32,
    /// Sessions of the run (initializer included); 0 skips the run.
    pub sessions: u32,
    /// Turns per session in the run's workflow.
    pub max_turns: u32,
    /// The run's context limit (fit it to the server's context size).
    pub context_limit_tokens: usize,
    /// Check features in Chromium (without it none can pass).
    pub verify: bool,
}

#[derive(Debug, Serialize)]
pub struct RealModelReport {
    pub model: String,
    pub base_url: String,
    pub probe: ProbeReport,
    pub run: Option<RunReport>,
}

#[derive(Debug, Serialize, Default)]
pub struct ProbeReport {
    pub requests: u32,
    pub ttft_p50_ms: f64,
    pub ttft_max_ms: f64,
    pub prompt_tokens_per_s: f64,
    pub generation_tokens_per_s: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Debug, Serialize, Default)]
pub struct RunReport {
    /// done, stopped, blocked or failed (with the error).
    pub status: String,
    pub session_budget: u32,
    pub sessions_run: u32,
    pub steps: u64,
    pub features_total: usize,
    pub features_passed: usize,
    pub features_blocked: usize,
    pub model_calls: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Tokens over the time baton waited for the model (non-streamed calls).
    pub tokens_per_s_of_model_time: f64,
    pub model_time_s: f64,
    pub wall_s: f64,
    /// Step time minus the model and the tools' own work, over the steps that ran tools and
    /// did not close a session: what baton adds (tape frames, fsyncs, guards, snapshot wait).
    pub harness_overhead_p50_us: f64,
    pub harness_overhead_p99_us: f64,
    pub tool_calls: u32,
    pub tool_errors: u32,
    /// Answers whose tool calls were read from the message text (the server gave none).
    pub text_tool_call_answers: u32,
    /// Answers with arguments baton had to repair.
    pub repaired_argument_answers: u32,
    /// Answers with a tool call written as text that could not be read.
    pub unreadable_call_answers: u32,
    pub sessions_ended_by_loop: u32,
    pub sessions_ended_by_turn_limit: u32,
    pub sessions_finished_by_model: u32,
    pub project: String,
}

/// Runs the probes, then the counter-app run.
pub async fn real_model(options: RealModelOptions) -> Result<RealModelReport, HarnessError> {
    let probe = probe(&options).await?;
    let run = if options.sessions > 0 {
        Some(run_counter_app(&options).await?)
    } else {
        None
    };
    Ok(RealModelReport {
        model: options.model.clone(),
        base_url: options.base_url.clone(),
        probe,
        run,
    })
}

/// One streamed completion: time to the first token, whole time, the server's usage.
struct ProbeSample {
    ttft: Duration,
    total: Duration,
    prompt_tokens: u64,
    completion_tokens: u64,
}

async fn probe(options: &RealModelOptions) -> Result<ProbeReport, HarnessError> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_mins(10))
        .build()
        .map_err(|e| HarnessError::BadInput(format!("cannot build an HTTP client: {e}")))?;
    let url = format!(
        "{}/chat/completions",
        options.base_url.trim_end_matches('/')
    );
    let mut samples = Vec::new();
    for i in 0..options.probes {
        // A different first line each time, so a server's prompt cache does not answer it.
        let body = json!({
            "model": options.model,
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_tokens": 96,
            "messages": [
                {"role": "system", "content": format!("Probe {i} at {:?}. You are a careful JavaScript programmer.", Instant::now())},
                {"role": "user", "content": "Write a JavaScript function that counts the words in a string, with a one-line comment. Code only."}
            ]
        });
        samples.push(probe_once(&http, &url, options.api_key.as_deref(), &body).await?);
    }
    let mut ttft: Vec<Duration> = samples.iter().map(|s| s.ttft).collect();
    ttft.sort();
    let prompt_tokens: u64 = samples.iter().map(|s| s.prompt_tokens).sum();
    let completion_tokens: u64 = samples.iter().map(|s| s.completion_tokens).sum();
    let prompt_time: f64 = samples.iter().map(|s| s.ttft.as_secs_f64()).sum();
    let generation_time: f64 = samples
        .iter()
        .map(|s| s.total.saturating_sub(s.ttft).as_secs_f64())
        .sum();
    // The first token comes with the prompt's time; the rest are generation.
    let generated_after_first = completion_tokens.saturating_sub(samples.len() as u64);
    Ok(ProbeReport {
        requests: options.probes,
        ttft_p50_ms: percentile_us(&ttft, 50.0) / 1000.0,
        ttft_max_ms: percentile_us(&ttft, 100.0) / 1000.0,
        prompt_tokens_per_s: rate(prompt_tokens, prompt_time),
        generation_tokens_per_s: rate(generated_after_first, generation_time),
        prompt_tokens,
        completion_tokens,
    })
}

fn rate(tokens: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        tokens as f64 / secs
    } else {
        0.0
    }
}

async fn probe_once(
    http: &reqwest::Client,
    url: &str,
    api_key: Option<&str>,
    body: &Value,
) -> Result<ProbeSample, HarnessError> {
    let failed = |what: String| HarnessError::BadInput(format!("probe of {url}: {what}"));
    let started = Instant::now();
    let mut request = http.post(url).json(body);
    if let Some(key) = api_key {
        request = request.bearer_auth(key);
    }
    let mut response = request.send().await.map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(failed(format!("HTTP {status}: {text}")));
    }
    let mut ttft = None;
    let mut usage = (0, 0);
    let mut pending = String::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            let Some(data) = line.trim().strip_prefix("data:") else {
                continue;
            };
            let Ok(event) = serde_json::from_str::<Value>(data.trim()) else {
                continue;
            };
            let delta = event.pointer("/choices/0/delta");
            let has_token = delta.is_some_and(|d| {
                d.get("content")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.is_empty())
                    || d.get("tool_calls").is_some()
            });
            if has_token && ttft.is_none() {
                ttft = Some(started.elapsed());
            }
            if let Some(u) = event.get("usage").filter(|u| u.is_object()) {
                usage = (
                    u.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
                    u.get("completion_tokens")
                        .and_then(Value::as_u64)
                        .unwrap_or(0),
                );
            }
        }
    }
    let total = started.elapsed();
    Ok(ProbeSample {
        ttft: ttft.unwrap_or(total),
        total,
        prompt_tokens: usage.0,
        completion_tokens: usage.1,
    })
}

/// The two-agent workflow with `max_turns` per session.
fn workflow(max_turns: u32) -> String {
    baton_workflows::Workflow::builtin_source("two-agent")
        .unwrap_or_default()
        .replace("max_turns = 60", &format!("max_turns = {max_turns}"))
        .replace("max_turns = 80", &format!("max_turns = {max_turns}"))
}

async fn run_counter_app(options: &RealModelOptions) -> Result<RunReport, HarnessError> {
    let root = std::env::temp_dir().join(format!("baton-bench-real-{}", std::process::id()));
    let project = root.join("counter-app");
    std::fs::create_dir_all(&project).map_err(|e| HarnessError::io(&project, e))?;
    let spec = project.join("app_spec.md");
    std::fs::write(&spec, COUNTER_SPEC).map_err(|e| HarnessError::io(&spec, e))?;
    let workflow_path = root.join("bench-real.toml");
    std::fs::write(&workflow_path, workflow(options.max_turns))
        .map_err(|e| HarnessError::io(&workflow_path, e))?;
    let mut settings = Settings::resolve(
        &project,
        &ModelArgs {
            model: Some(options.model.clone()),
            base_url: Some(options.base_url.clone()),
            api_key: options.api_key.clone(),
            script: None,
        },
        &LimitArgs {
            max_sessions: Some(options.sessions),
            no_memory: true,
            no_verify: !options.verify,
            no_sandbox: false,
        },
        Some(&workflow_path.display().to_string()),
    )?;
    settings.context_limit_tokens = options.context_limit_tokens;
    let connection = connect_model(&settings).await?;
    let started = Instant::now();
    let mut runner = ThreadRunner::create(
        NewThread {
            project: &project,
            thread: Some("bench-real"),
            parent: None,
        },
        settings,
        connection.model.clone(),
    )
    .await?;
    runner.enable_timings();
    let status = match runner.run().await {
        Ok(RunOutcome::Done) => "done".to_owned(),
        Ok(RunOutcome::Stopped(_)) => "stopped".to_owned(),
        Ok(RunOutcome::Blocked(_)) => "blocked".to_owned(),
        Err(error) => format!("failed: {error}"),
    };
    let wall = started.elapsed();
    // Steps that ran tools and did not close their session: closing runs the Chromium
    // checks and the commit, the session's work rather than the step's.
    let mut overhead: Vec<Duration> = runner
        .timings()
        .iter()
        .filter(|t| t.tool_calls > 0 && !t.ended_session)
        .map(|t| t.total.saturating_sub(t.model + t.tools))
        .collect();
    overhead.sort();
    let model_time: Duration = runner.timings().iter().map(|t| t.model).sum();
    let state = runner.state().clone();
    drop(runner);
    let mut report = RunReport {
        status,
        session_budget: options.sessions,
        sessions_run: state.sessions_run,
        steps: state.step,
        features_total: state.features_total,
        features_passed: state.features_passing,
        features_blocked: state.blocked.len(),
        prompt_tokens: state.ledger.total().prompt_tokens,
        completion_tokens: state.ledger.total().completion_tokens,
        model_time_s: model_time.as_secs_f64(),
        wall_s: wall.as_secs_f64(),
        harness_overhead_p50_us: percentile_us(&overhead, 50.0),
        harness_overhead_p99_us: percentile_us(&overhead, 99.0),
        project: project.display().to_string(),
        ..RunReport::default()
    };
    report.tokens_per_s_of_model_time = rate(
        report.prompt_tokens + report.completion_tokens,
        report.model_time_s,
    );
    count_behaviour(&project, &mut report)?;
    Ok(report)
}

/// Reads the model's behaviour off the run's tape.
fn count_behaviour(project: &std::path::Path, report: &mut RunReport) -> Result<(), HarnessError> {
    let id = baton_tape::ThreadId::new("bench-real")?;
    let paths = baton_tape::ThreadPaths::new(project, &id);
    let (tape, _) = baton_tape::Tape::<Event>::open(&paths.tape)?;
    for event in tape.records().iter().filter_map(baton_tape::Record::event) {
        match event {
            Event::ModelResponse { response, .. } => {
                report.model_calls += 1;
                let notes = &response.notes;
                if notes
                    .iter()
                    .any(|n| n.contains("parsed from the message text"))
                {
                    report.text_tool_call_answers += 1;
                }
                if notes.iter().any(|n| n.contains("repaired")) {
                    report.repaired_argument_answers += 1;
                }
                if response.unreadable_call.is_some() {
                    report.unreadable_call_answers += 1;
                }
            }
            Event::ToolResult { ok, .. } => {
                report.tool_calls += 1;
                if !ok {
                    report.tool_errors += 1;
                }
            }
            Event::SessionEnded { end, .. } => match end {
                SessionEnd::LoopDetected { .. } => report.sessions_ended_by_loop += 1,
                SessionEnd::TurnLimit { .. } => report.sessions_ended_by_turn_limit += 1,
                SessionEnd::Finished => report.sessions_finished_by_model += 1,
                _ => {}
            },
            _ => {}
        }
    }
    Ok(())
}
