//! Kill -9 anywhere, resume, and end with exactly what an uninterrupted run ends with: the
//! same feature list, the same commit trees, the same files, and the same steps on the tape
//! (none twice, none lost). The kills are real SIGKILLs: at named failpoints (during a model
//! call, in the middle of a tool call, between frames, inside the git commit) and at random
//! moments.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use baton_tests::{
    baton_bin, commit_trees, describe, examples_dir, feature_list, project_from_example, tape,
    worktree_files,
};

const THREAD: &str = "k";

fn run_args(project: &Path) -> Vec<String> {
    let script = examples_dir().join("counter-app").join("script.json");
    vec![
        "run".into(),
        project.display().to_string(),
        "--script".into(),
        script.display().to_string(),
        "--thread".into(),
        THREAD.into(),
        "--no-memory".into(),
    ]
}

fn resume_args(project: &Path) -> Vec<String> {
    let script = examples_dir().join("counter-app").join("script.json");
    vec![
        "resume".into(),
        THREAD.into(),
        "--project".into(),
        project.display().to_string(),
        "--script".into(),
        script.display().to_string(),
        "--no-memory".into(),
    ]
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

    let baseline = project_from_example(&root.path().join("baseline"), "counter-app");
    let output = command(&run_args(&baseline)).output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));

    let project = project_from_example(&root.path().join("killed"), "counter-app");
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
            resume_args(&project)
        } else {
            run_args(&project)
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
        let mut child = command(&resume_args(&project)).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        let _ = child.wait();
    }
    let output = command(&resume_args(&project)).output().unwrap();
    assert!(
        output.status.success(),
        "final resume: {}",
        describe(&output)
    );
    assert!(killed >= 20, "only {killed} kills landed");

    assert_eq!(
        feature_list(&project).to_json_pretty(),
        feature_list(&baseline).to_json_pretty()
    );
    assert_eq!(
        commit_trees(&project),
        commit_trees(&baseline),
        "commit trees differ"
    );
    assert_eq!(
        worktree_files(&project),
        worktree_files(&baseline),
        "final files differ"
    );
    assert_eq!(
        live_steps(&project),
        live_steps(&baseline),
        "steps on the tape differ"
    );
}
