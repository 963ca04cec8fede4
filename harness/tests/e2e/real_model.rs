//! baton against a real model: an OpenAI-compatible server named by `BATON_REAL_MODEL_URL`
//! (and `BATON_REAL_MODEL`, the model name), e.g. llama.cpp's llama-server with
//! Qwen2.5-Coder-1.5B-Instruct from `../shared/realmodel` (`scripts/realmodel.sh` sets it up,
//! starts it and runs these tests). Ignored without a server: run them with `--ignored`.
//!
//! A small model does what it does; what is asserted holds whatever that is: every request
//! and answer on the tape, usage counted from the server's own numbers, a clear end status
//! and exit code, no panic; and after a `kill -9` during a model call, `baton resume` with no
//! model flag goes on against the same server.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{baton_bin, describe, head_state, tape};
use baton::events::Event;

const SPEC: &str = "# Greeting page\n\nA single static page, `index.html`, served by `python3 -m http.server`.\n\
It shows a heading `<h1 id=\"greeting\">Hello, baton</h1>`. Nothing else.\n";

/// Tight limits: few turns, a context that fits the server's `-c 8192` with the tools'
/// definitions on top, timeouts for a slow model on a loaded 2-core machine.
const CONFIG: &str = "context_limit_tokens = 5000\nstep_timeout_secs = 900\nrequest_timeout_secs = 900\nmax_attempts = 2\nfeature_attempts = 1\n";

/// A whole run may take this long before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_mins(25);

fn server() -> (String, String) {
    let url = std::env::var("BATON_REAL_MODEL_URL")
        .expect("BATON_REAL_MODEL_URL names the server (scripts/realmodel.sh sets it)");
    let model = std::env::var("BATON_REAL_MODEL")
        .unwrap_or_else(|_| "qwen2.5-coder-1.5b-instruct".to_owned());
    (url, model)
}

/// A project with the tiny spec, tight limits and a workflow of few turns.
fn project(root: &Path, name: &str, turns: u32) -> (PathBuf, PathBuf) {
    let project = root.join(name);
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("app_spec.md"), SPEC).unwrap();
    std::fs::write(project.join("baton.toml"), CONFIG).unwrap();
    let workflow = baton_workflows::Workflow::builtin_source("two-agent")
        .unwrap()
        .replace("max_turns = 60", &format!("max_turns = {turns}"))
        .replace("max_turns = 80", &format!("max_turns = {turns}"));
    let workflow_path = root.join(format!("{name}-workflow.toml"));
    std::fs::write(&workflow_path, workflow).unwrap();
    (project, workflow_path)
}

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(baton_bin());
    command
        .args(args)
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env_remove("BATON_MODEL")
        .env_remove("BATON_SCRIPT")
        .env_remove("BATON_FAILPOINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for a child within the run limit, killing it past that.
fn finish(mut child: Child) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!("baton ran past {RUN_LIMIT:?}: {}", describe(&output));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    child.wait_with_output().unwrap()
}

fn events(project: &Path, thread: &str) -> Vec<Event> {
    tape(project, thread)
        .records()
        .iter()
        .filter_map(|r| r.event().cloned())
        .collect()
}

/// What holds whatever the model did: a clear status and exit code, no panic, every
/// request answered on the tape, usage from the server, the ledger equal to the answers.
fn assert_sound_run(output: &Output, project: &Path, thread: &str, model: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{}", describe(output));
    let code = output.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "exit 0 or 1 expected: {}",
        describe(output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let status = stdout
        .lines()
        .find_map(|line| line.strip_prefix("status"))
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    assert!(
        ["done", "stopped", "blocked"].contains(&status.as_str()),
        "status {status:?}: {}",
        describe(output)
    );
    assert_eq!(code == Some(0), status == "done", "{}", describe(output));

    let events = events(project, thread);
    let requests = events
        .iter()
        .filter(|e| matches!(e, Event::ModelRequest { .. }))
        .count();
    let answers: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::ModelResponse { response, .. } => Some(response),
            _ => None,
        })
        .collect();
    assert!(!answers.is_empty(), "no model answer: {}", describe(output));
    assert_eq!(requests, answers.len(), "every request has its answer");
    for answer in &answers {
        // An answer that stands in for a request the server failed (it could not parse the
        // model's tool call) came with no usage: baton's estimate is counted for it.
        let server_failed = answer.finish_reason.as_deref() == Some("error");
        assert!(
            server_failed || !answer.usage.estimated,
            "usage must be the server's: {answer:?}"
        );
        assert!(answer.usage.prompt_tokens > 0, "{answer:?}");
        assert_eq!(answer.model, model, "{answer:?}");
    }
    let state = head_state(project, thread);
    let spent: u64 = answers.iter().map(|a| a.usage.total()).sum();
    assert_eq!(state.ledger.total_tokens(), spent);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::ThreadFinished { .. })),
        "the end is on the tape"
    );
    eprintln!(
        "real model run {thread}: status {status}, {} sessions, {} steps, {} answers, {} tokens, features {}/{} ({} blocked)",
        state.sessions_run,
        state.step,
        answers.len(),
        spent,
        state.features_passing,
        state.features_total,
        state.blocked.len()
    );
}

#[test]
#[ignore = "needs a real model server: BATON_REAL_MODEL_URL (scripts/realmodel.sh)"]
fn a_tiny_spec_runs_to_a_clear_end_against_a_real_model() {
    let (url, model) = server();
    let root = tempfile::tempdir().unwrap();
    let (project, workflow) = project(root.path(), "greeting", 5);
    let child = command(&[
        "run",
        project.to_str().unwrap(),
        "--base-url",
        &url,
        "--model",
        &model,
        "--thread",
        "real",
        "--max-sessions",
        "2",
        "--no-memory",
        "--workflow",
        workflow.to_str().unwrap(),
    ])
    .spawn()
    .unwrap();
    let output = finish(child);
    assert_sound_run(&output, &project, "real", &model);
}

#[test]
#[ignore = "needs a real model server: BATON_REAL_MODEL_URL (scripts/realmodel.sh)"]
fn killed_during_a_model_call_and_resumed_without_flags_goes_on_against_the_same_server() {
    let (url, model) = server();
    let root = tempfile::tempdir().unwrap();
    let (project, workflow) = project(root.path(), "killed", 4);
    let child = command(&[
        "run",
        project.to_str().unwrap(),
        "--base-url",
        &url,
        "--model",
        &model,
        "--thread",
        "k",
        "--max-sessions",
        "1",
        "--no-memory",
        "--workflow",
        workflow.to_str().unwrap(),
    ])
    .spawn()
    .unwrap();
    // The first model call starts right after the session opens and takes seconds (the
    // prompt alone is a few thousand tokens): kill it then.
    let started = Instant::now();
    let opened = loop {
        let paths =
            baton_tape::ThreadPaths::new(&project, &baton_tape::ThreadId::new("k").unwrap());
        if paths.tape.exists()
            && events(&project, "k")
                .iter()
                .any(|e| matches!(e, Event::SessionStarted { .. }))
        {
            break true;
        }
        if started.elapsed() > Duration::from_mins(5) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(opened, "the session did not open within 5 minutes");
    std::thread::sleep(Duration::from_secs(2));
    let mut child = child;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let killed = child.wait().unwrap();
    assert_eq!(killed.signal(), Some(9));
    let answers_before = events(&project, "k")
        .iter()
        .filter(|e| matches!(e, Event::ModelResponse { .. }))
        .count();

    let child = command(&["resume", "k", "--project", project.to_str().unwrap()])
        .spawn()
        .unwrap();
    let output = finish(child);
    assert_sound_run(&output, &project, "k", &model);
    let events = events(&project, "k");
    let resumed_at = events
        .iter()
        .position(|e| matches!(e, Event::Resumed { .. }))
        .expect("a resumed event");
    let answered_after = events[resumed_at..]
        .iter()
        .filter(|e| matches!(e, Event::ModelResponse { .. }))
        .count();
    assert!(
        answered_after > 0,
        "the resumed thread asked the server ({answers_before} answers before the kill): {}",
        describe(&output)
    );
    let connection = head_state(&project, "k").connection.unwrap();
    assert_eq!(connection.base_url.as_deref(), Some(url.as_str()));
    assert_eq!(connection.model, model);
}
