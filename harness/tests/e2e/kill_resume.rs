//! Kill -9 anywhere, resume, and end with exactly what an uninterrupted run ends with: the
//! same feature list, the same commit trees, the same files, and the same steps on the tape
//! (none twice, none lost). The kills are real SIGKILLs: at named failpoints (during a model
//! call, in the middle of a tool call, between frames, inside the git commit) and at random
//! moments, without memory; and at the points memory and the Chromium checks add, with both
//! on as users run.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{
    baton_bin, commit_trees, describe, examples_dir, feature_list, memory_total,
    project_from_example, tape, thread_status, worktree_files,
};

const THREAD: &str = "k";
const EXAMPLE: &str = "counter-app";
const NO_MEMORY: &[&str] = &["--no-memory"];

fn run_args(project: &Path, flags: &[&str]) -> Vec<String> {
    let script = examples_dir().join(EXAMPLE).join("script.json");
    let mut args: Vec<String> = vec![
        "run".into(),
        project.display().to_string(),
        "--script".into(),
        script.display().to_string(),
        "--thread".into(),
        THREAD.into(),
    ];
    args.extend(flags.iter().map(|flag| (*flag).to_owned()));
    args
}

fn resume_args(project: &Path, flags: &[&str]) -> Vec<String> {
    let script = examples_dir().join(EXAMPLE).join("script.json");
    let mut args: Vec<String> = vec![
        "resume".into(),
        THREAD.into(),
        "--project".into(),
        project.display().to_string(),
        "--script".into(),
        script.display().to_string(),
    ];
    args.extend(flags.iter().map(|flag| (*flag).to_owned()));
    args
}

fn command(args: &[String]) -> Command {
    let mut command = Command::new(baton_bin());
    command
        .args(args)
        .env_remove("BATON_FAILPOINT")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// What the comparison looks at: the steps of the live branch with their sessions.
fn live_steps(project: &Path) -> Vec<(u64, u32)> {
    let tape = tape(project, THREAD);
    tape.live_branch()
        .into_iter()
        .map(|checkpoint| {
            let state =
                baton::state::ThreadState::from_value(tape.state_at(checkpoint.id).unwrap())
                    .unwrap();
            (checkpoint.step.0, state.session)
        })
        .collect()
}

#[test]
fn killed_anywhere_and_resumed_ends_like_an_uninterrupted_run() {
    let root = tempfile::tempdir().unwrap();

    let baseline = project_from_example(&root.path().join("baseline"), EXAMPLE);
    let output = command(&run_args(&baseline, NO_MEMORY)).output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));

    let project = project_from_example(&root.path().join("killed"), EXAMPLE);
    // Kills that land at once in a resumed process (a model call, a tool call, the frames of
    // a checkpoint), then ones that let it get further (a recorded answer, a finished tool,
    // the session's commit), round after round, so the kills spread over the sessions.
    let quick = [
        "step.before_model_call:1",
        "step.after_model_call:1",
        "tool.before:1",
        "checkpoint.before_snapshot:1",
        "checkpoint.before_frame:1",
        "checkpoint.after_frame:1",
    ];
    let further = [
        "step.after_model_response:1",
        "tool.after:1",
        "session.before_commit:1",
        "session.after_commit:1",
    ];
    let failpoints: Vec<&str> = quick
        .iter()
        .chain(&further)
        .chain(&quick)
        .chain(&further)
        .chain(&quick[..3])
        .chain(&further[3..])
        .copied()
        .collect();
    let mut killed = 0;
    let mut started = false;
    for (i, point) in failpoints.iter().enumerate() {
        let args = if started {
            resume_args(&project, NO_MEMORY)
        } else {
            run_args(&project, NO_MEMORY)
        };
        started = true;
        let output = command(&args)
            .env("BATON_FAILPOINT", point)
            .output()
            .unwrap();
        match output.status.signal() {
            Some(9) => killed += 1,
            _ => assert!(
                output.status.success() || output.status.code() == Some(1),
                "attempt {i} at {point}: {}",
                describe(&output)
            ),
        }
    }
    // And a few kills at random moments, whatever the process is doing then.
    for delay_ms in [150_u64, 400, 900, 1700] {
        let mut child = command(&resume_args(&project, NO_MEMORY)).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        let _ = child.wait();
    }
    let output = command(&resume_args(&project, NO_MEMORY)).output().unwrap();
    assert!(
        output.status.success(),
        "final resume: {}",
        describe(&output)
    );
    assert!(killed >= 20, "only {killed} kills landed");
    assert_ends_alike(&project, &baseline);
}

/// What an interrupted-and-resumed run must share with the uninterrupted one: the feature
/// list, the commit trees, the final files and the steps on the tape.
fn assert_ends_alike(project: &Path, baseline: &Path) {
    assert_eq!(
        feature_list(project).to_json_pretty(),
        feature_list(baseline).to_json_pretty()
    );
    assert_eq!(
        commit_trees(project),
        commit_trees(baseline),
        "commit trees differ"
    );
    assert_eq!(
        worktree_files(project),
        worktree_files(baseline),
        "final files differ"
    );
    assert_eq!(
        live_steps(project),
        live_steps(baseline),
        "steps on the tape differ"
    );
}

/// The default path, with semantic memory (the embedding model and the embedded Qdrant Edge
/// store) and the Chromium checks on: killed before the first checkpoint (opening memory
/// takes seconds, so a kill early in a run lands there), right after a session's checks
/// (`passes` already written, not yet committed) and right after its memories were stored,
/// it ends like an uninterrupted run, with as many memories.
#[test]
fn with_memory_and_verification_killed_and_resumed_ends_like_an_uninterrupted_run() {
    let root = tempfile::tempdir().unwrap();

    let baseline = project_from_example(&root.path().join("baseline"), EXAMPLE);
    let output = command(&run_args(&baseline, &[])).output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));

    let project = project_from_example(&root.path().join("killed"), EXAMPLE);
    // Each count is the n-th pass in that process: session 1 is the initializer, whose
    // end has no checks, so `:2` is the first coding session's.
    let failpoints = [
        "checkpoint.before_frame:1",
        "session.after_verify:2",
        "session.after_remember:1",
        "session.after_verify:2",
        "session.after_remember:1",
    ];
    for (i, point) in failpoints.iter().enumerate() {
        let args = if i == 0 {
            run_args(&project, &[])
        } else {
            resume_args(&project, &[])
        };
        let output = command(&args)
            .env("BATON_FAILPOINT", point)
            .output()
            .unwrap();
        assert_eq!(
            output.status.signal(),
            Some(9),
            "attempt {i} was to be killed at {point}: {}",
            describe(&output)
        );
    }
    let output = command(&resume_args(&project, &[])).output().unwrap();
    assert!(
        output.status.success(),
        "final resume: {}",
        describe(&output)
    );

    assert_ends_alike(&project, &baseline);
    assert_eq!(memory_total(&project), memory_total(&baseline));
    assert_eq!(thread_status(&project, THREAD), ("done".to_owned(), false));
}

/// A free TCP port on 127.0.0.1 other than the scripted server's default.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `baton script-server` on `port`, up and answering, killed when dropped.
struct ScriptServer(std::process::Child);

impl ScriptServer {
    fn start(port: u16) -> ScriptServer {
        let script = examples_dir().join(EXAMPLE).join("script.json");
        let mut child = Command::new(baton_bin())
            .args(["script-server", "--script"])
            .arg(&script)
            .args(["--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return ScriptServer(child);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the script server did not listen on port {port}");
    }
}

impl Drop for ScriptServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A thread started against a server on a non-default port with `--base-url`, killed during
/// a model call, goes on with `baton resume THREAD` alone: the thread remembers its model,
/// its endpoint and its `--no-memory`, and ends as an uninterrupted run does.
#[test]
fn resume_without_flags_goes_on_against_the_recorded_server() {
    let root = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = ScriptServer::start(port);
    let base_url = format!("http://127.0.0.1:{port}/v1");
    let project = project_from_example(root.path(), EXAMPLE);
    let run: Vec<String> = [
        "run",
        project.to_str().unwrap(),
        "--base-url",
        &base_url,
        "--model",
        "scripted-counter",
        "--thread",
        THREAD,
        "--no-memory",
        "--max-sessions",
        "9",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let output = command(&run)
        .env("BATON_FAILPOINT", "step.before_model_call:4")
        .output()
        .unwrap();
    assert_eq!(output.status.signal(), Some(9), "{}", describe(&output));

    let resume: Vec<String> = vec![
        "resume".into(),
        THREAD.into(),
        "--project".into(),
        project.display().to_string(),
    ];
    let output = command(&resume).output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let state = crate::support::head_state(&project, THREAD);
    let connection = state.connection.expect("the thread records its connection");
    assert_eq!(connection.base_url.as_deref(), Some(base_url.as_str()));
    assert_eq!(connection.model, "scripted-counter");
    assert!(!connection.memory, "--no-memory is remembered");
    assert_eq!(connection.max_sessions, 9);
    let list = feature_list(&project);
    assert_eq!(list.passing(), list.features.len(), "{}", describe(&output));

    let threads = command(&[
        "threads".into(),
        "--project".into(),
        project.display().to_string(),
    ])
    .output()
    .unwrap();
    assert!(
        String::from_utf8_lossy(&threads.stdout).contains("scripted-counter"),
        "{}",
        describe(&threads)
    );
}

/// A thread started with `--script` resumes with its script and no flags; a flag given to
/// resume overrides what was recorded and is recorded in its turn.
#[test]
fn resume_reuses_the_script_and_records_what_its_flags_change() {
    let root = tempfile::tempdir().unwrap();
    let project = project_from_example(root.path(), EXAMPLE);
    let output = command(&run_args(&project, &["--no-memory", "--max-sessions", "2"]))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let resume: Vec<String> = vec![
        "resume".into(),
        THREAD.into(),
        "--project".into(),
        project.display().to_string(),
        "--max-sessions".into(),
        "9".into(),
    ];
    let output = command(&resume).output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let changed = tape(&project, THREAD)
        .records()
        .iter()
        .filter_map(|record| match record.event() {
            Some(baton::events::Event::SettingsChanged { connection }) => {
                Some(connection.max_sessions)
            }
            _ => None,
        })
        .collect::<Vec<_>>();
    assert_eq!(changed, vec![9]);
    let state = crate::support::head_state(&project, THREAD);
    let connection = state.connection.unwrap();
    assert!(connection.script.is_some());
    assert!(!connection.memory);
}
