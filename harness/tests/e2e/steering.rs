//! Stepping into a running thread from another process: pause, instruct, continue, stop and
//! status through the control channel; a pause that survives kill -9; auto-pause on a
//! loop. The scripted model checks that the instruction reached the model's request.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{baton, baton_bin, describe, head_state, tape, write_script};
use baton::events::Event;
use serde_json::{Value, json};

const LIST: &str = r#"{"features": [
  {"id": "one", "category": "functional", "description": "The first thing", "steps": ["look"], "checks": [{"goto": "/"}], "passes": false}
]}"#;
const INSTRUCTION: &str = "Use a <ul> for the list";

/// A project and a script: the initializer writes the list, then takes `slow_turns` slow
/// steps (distinct calls, so no loop), and its last turn expects `expect` in the request.
fn setup(slow_turns: usize, expect: Option<&str>) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let project = root.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("app_spec.md"), "One small thing.\n").unwrap();
    let mut turns = vec![json!({"tool_calls": [{"name": "write_file",
        "arguments": {"path": "feature_list.json", "content": LIST}}]})];
    for i in 0..slow_turns {
        turns.push(json!({"delay_ms": 250, "tool_calls": [{"name": "bash",
            "arguments": {"command": format!("echo step {i}")}}]}));
    }
    let mut last = json!({"content": "Set up one feature."});
    if let Some(expect) = expect {
        last["expect_in_request"] = json!(expect);
    }
    turns.push(last);
    let script = write_script(
        root.path(),
        "script.json",
        &json!({"model": "scripted-test", "sessions": [{"node": "initializer", "turns": turns}]}),
    );
    (root, project, script)
}

/// `baton ARGS` started in the background, its output going to files in `root`.
fn spawn(root: &Path, args: &[&str]) -> Child {
    let log = |name: &str| std::fs::File::create(root.join(name)).unwrap();
    Command::new(baton_bin())
        .args(args)
        .current_dir(root)
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env_remove("BATON_FAILPOINT")
        .stdout(Stdio::from(log("run.out")))
        .stderr(Stdio::from(log("run.err")))
        .spawn()
        .unwrap()
}

fn run_args<'a>(project: &'a str, script: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        project,
        "--script",
        script,
        "--thread",
        "t",
        "--max-sessions",
        "1",
        "--no-memory",
        "--no-verify",
    ]
}

/// `baton status t --json`.
fn status(project: &Path) -> Value {
    let output = baton(
        project,
        &[
            "status",
            "t",
            "--json",
            "--project",
            project.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Polls `baton status` until `ready` holds (a running thread answers in milliseconds).
fn wait_for(project: &Path, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        if project.join(".baton").exists() {
            let output = baton(
                project,
                &[
                    "status",
                    "t",
                    "--json",
                    "--project",
                    project.to_str().unwrap(),
                ],
            );
            if output.status.success() {
                let status: Value = serde_json::from_slice(&output.stdout).unwrap();
                if ready(&status) {
                    return status;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; the run said:\n{}",
            std::fs::read_to_string(project.join("..").join("run.err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn running_and_paused(status: &Value) -> bool {
    status["running"] == true && status["paused"].is_string()
}

fn control(project: &Path, args: &[&str]) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--project", project.to_str().unwrap()]);
    baton(project, &all)
}

fn finish(mut child: Child, root: &Path) -> (i32, String) {
    let deadline = Instant::now() + Duration::from_mins(2);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the run did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = std::fs::read_to_string(root.join("run.err")).unwrap_or_default();
    (code, err)
}

fn events(project: &Path) -> Vec<Event> {
    tape(project, "t")
        .records()
        .iter()
        .filter_map(|r| r.event().cloned())
        .collect()
}

fn position(events: &[Event], matches: impl Fn(&Event) -> bool) -> usize {
    events
        .iter()
        .position(matches)
        .unwrap_or_else(|| panic!("event missing from {events:?}"))
}

#[test]
fn a_running_thread_pauses_takes_an_instruction_and_goes_on() {
    let (root, project, script) = setup(10, Some(INSTRUCTION));
    let (p, s) = (project.to_str().unwrap(), script.to_str().unwrap());
    let child = spawn(root.path(), &run_args(p, s));
    wait_for(&project, "the thread to run", |s| s["running"] == true);

    let paused = control(&project, &["pause", "t"]);
    assert!(paused.status.success(), "{}", describe(&paused));
    let at = wait_for(&project, "the pause", running_and_paused);
    // Paused means no step is taken until a person lets it go on.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(status(&project)["step"], at["step"]);

    let told = control(&project, &["instruct", "t", INSTRUCTION]);
    assert!(told.status.success(), "{}", describe(&told));
    let went_on = control(&project, &["continue", "t"]);
    assert!(went_on.status.success(), "{}", describe(&went_on));

    // The last turn's script refuses a request without the instruction (exit 1 is the
    // session budget of one session, not a failure of the model call).
    let (code, err) = finish(child, root.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("session budget exhausted"), "{err}");
    let events = events(&project);
    let paused = position(&events, |e| matches!(e, Event::Paused { .. }));
    let instructed = position(
        &events,
        |e| matches!(e, Event::Instructed { text, .. } if text == INSTRUCTION),
    );
    let continued = position(&events, |e| matches!(e, Event::Continued));
    assert!(paused < instructed && instructed < continued, "{events:?}");
    assert!(
        !events.iter().any(|e| matches!(e, Event::Error { .. })),
        "{events:?}"
    );
    let history = control(&project, &["history", "t"]);
    let history = String::from_utf8_lossy(&history.stdout);
    assert!(history.contains("instruction: Use a <ul>"), "{history}");
}

#[test]
fn a_paused_thread_killed_resumes_paused_with_its_instruction() {
    let (root, project, script) = setup(10, Some(INSTRUCTION));
    let (p, s) = (project.to_str().unwrap(), script.to_str().unwrap());
    let mut child = spawn(root.path(), &run_args(p, s));
    wait_for(&project, "the thread to run", |s| s["running"] == true);
    assert!(control(&project, &["pause", "t"]).status.success());
    wait_for(&project, "the pause", running_and_paused);
    let told = control(&project, &["instruct", "t", INSTRUCTION, "--as", "system"]);
    assert!(told.status.success(), "{}", describe(&told));
    // The paused runner applies the instruction at once: wait until nothing is pending.
    wait_for(&project, "the instruction to be applied", |s| {
        s["pending_requests"] == 0
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id().cast_signed()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    assert!(head_state(&project, "t").paused.is_some());

    let resumed = spawn(
        root.path(),
        &[
            "resume",
            "t",
            "--project",
            p,
            "--script",
            s,
            "--max-sessions",
            "1",
            "--no-memory",
            "--no-verify",
        ],
    );
    let status = wait_for(&project, "the resumed thread", |s| s["running"] == true);
    assert!(status["paused"].is_string(), "{status}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(self::status(&project)["paused"], status["paused"]);
    assert!(control(&project, &["continue", "t"]).status.success());
    let (code, err) = finish(resumed, root.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("session budget exhausted"), "{err}");
}

#[test]
fn stop_ends_the_run_resumably_and_a_loop_auto_pauses() {
    let (root, project, script) = setup(10, None);
    let (p, s) = (project.to_str().unwrap(), script.to_str().unwrap());
    let child = spawn(root.path(), &run_args(p, s));
    wait_for(&project, "the thread to run", |s| s["running"] == true);
    let stopped = control(&project, &["stop", "t"]);
    assert!(stopped.status.success(), "{}", describe(&stopped));
    let (code, err) = finish(child, root.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("stopped by a person"), "{err}");
    let after = status(&project);
    assert_eq!(after["running"], false);
    assert_eq!(after["phase"], "unfinished");
    // With no process, pause and stop say so (exit 1); an instruction waits in the inbox.
    let output = control(&project, &["pause", "t"]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no process runs thread t"));
    let queued = control(&project, &["instruct", "t", "later"]);
    assert!(queued.status.success(), "{}", describe(&queued));
    assert_eq!(status(&project)["pending_requests"], 1);
}

#[test]
fn a_session_ended_by_a_loop_auto_pauses_until_continued() {
    let (root, project, _) = setup(0, None);
    let p = project.to_str().unwrap();
    let script = looping_script(root.path());
    std::fs::write(project.join("baton.toml"), "[pause]\non_loop = true\n").unwrap();
    let child = spawn(
        root.path(),
        &[
            "run",
            p,
            "--script",
            script.to_str().unwrap(),
            "--thread",
            "loop",
            "--max-sessions",
            "1",
            "--no-memory",
            "--no-verify",
        ],
    );
    let deadline = Instant::now() + Duration::from_mins(1);
    let reason = loop {
        let output = control(&project, &["status", "loop", "--json"]);
        if output.status.success() {
            let status: Value = serde_json::from_slice(&output.stdout).unwrap();
            if status["running"] == true
                && let Some(reason) = status["paused"].as_str()
            {
                break reason.to_owned();
            }
        }
        assert!(Instant::now() < deadline, "no auto-pause");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(reason.contains("loop"), "{reason}");
    assert!(control(&project, &["continue", "loop"]).status.success());
    let (code, err) = finish(child, root.path());
    assert_eq!(code, 1, "{err}");
}

/// A script whose initializer repeats one call until loop detection ends the session.
fn looping_script(root: &Path) -> PathBuf {
    let same = json!({"tool_calls": [{"name": "bash", "arguments": {"command": "ls"}}]});
    write_script(
        root,
        "loop.json",
        &json!({"model": "scripted-test", "sessions": [{"node": "initializer",
            "turns": [same.clone(), same.clone(), same.clone(), same]}]}),
    )
}

/// The real binary's TUI in tmux: open a thread, move, diff two steps, quit.
#[test]
fn the_tui_opens_a_thread_moves_diffs_and_quits_in_a_real_terminal() {
    let (root, project, script) = setup(3, None);
    let (p, s) = (project.to_str().unwrap(), script.to_str().unwrap());
    let output = baton(root.path(), &run_args(p, s));
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let socket = format!("baton-test-{}", std::process::id());
    let _server = TmuxServer(socket.clone());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &socket])
            .args(args)
            .output()
            .expect("tmux (apt-get install tmux)")
    };
    let command = format!("{} tui t --project {p}", baton_bin().display());
    let started = tmux(&["new-session", "-d", "-x", "160", "-y", "40", &command]);
    assert!(started.status.success(), "{}", describe(&started));
    let screen = || String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).into_owned();
    let wait_screen = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = screen();
            if text.contains(what) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no {what:?} on the screen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let first = wait_screen("steps");
    assert!(first.contains("write_file"), "{first}");
    tmux(&["send-keys", "Home"]);
    tmux(&["send-keys", "m"]);
    tmux(&["send-keys", "End"]);
    tmux(&["send-keys", "d"]);
    let diff = wait_screen("file changes from step");
    assert!(diff.contains("feature_list.json"), "{diff}");
    tmux(&["send-keys", "q"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux(&["has-session"]).status.success() {
        assert!(
            Instant::now() < deadline,
            "the TUI did not quit:\n{}",
            screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kills the test's tmux server however the test ends (a panic must not leave a TUI running).
struct TmuxServer(String);

impl Drop for TmuxServer {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .output();
    }
}
