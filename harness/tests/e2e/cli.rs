//! The CLI's contract: exit codes (0 ok, 1 failure, 2 bad input) and the workflow commands.

use std::process::Command;

fn baton(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .output()
        .unwrap()
}

fn examples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows/examples")
}

#[test]
fn workflow_show_draws_the_two_agent_graph_in_mermaid() {
    let output = baton(&["workflow", "show", "two-agent", "--format", "mermaid"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("flowchart"), "{text}");
    for node in ["initializer", "coding", "done"] {
        assert!(text.contains(node), "{node} missing: {text}");
    }
}

#[test]
fn workflow_check_accepts_a_good_file_and_names_the_problem_in_a_broken_one() {
    let good = baton(&[
        "workflow",
        "check",
        examples().join("review-loop.toml").to_str().unwrap(),
    ]);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let broken = baton(&[
        "workflow",
        "check",
        examples().join("broken.toml").to_str().unwrap(),
    ]);
    assert_eq!(broken.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(stderr.contains("line 23"), "{stderr}");
    assert!(stderr.contains("review"), "{stderr}");
}

#[test]
fn a_project_without_a_spec_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let output = baton(&["run", dir.path().to_str().unwrap(), "--no-memory"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--spec"));
}

#[test]
fn resuming_an_unknown_thread_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let output = baton(&[
        "resume",
        "nope",
        "--project",
        dir.path().to_str().unwrap(),
        "--no-memory",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("baton threads"));
}
