//! The bash sandbox end to end: a scripted model's bash calls in a real run cannot read the
//! folder next to the project, plant a git hook, forge `.baton/` or reach a port the test
//! serves on 127.0.0.1, while work in the project goes on; `--no-sandbox` is recorded with the
//! thread and lets the same commands through. Without bwrap the tests skip with a reason,
//! except in CI (`CI` set), where they fail.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::Path;

use crate::support::{baton_run, describe, head_state, tape, write_script};
use baton::events::Event;
use serde_json::json;

fn bwrap_installed() -> bool {
    let installed = std::process::Command::new("bwrap")
        .arg("--version")
        .output()
        .is_ok();
    assert!(
        installed || std::env::var_os("CI").is_none(),
        "bubblewrap is not installed; scripts/setup.sh installs it"
    );
    if !installed {
        eprintln!("skipped: bubblewrap (bwrap) is not installed; apt-get install bubblewrap");
    }
    installed
}

const LIST: &str = r#"{"features": [{"id": "one", "category": "functional", "description": "A thing", "steps": ["look"], "checks": [], "verify": "manual", "passes": false}]}"#;

/// Runs one initializer session whose bash calls try to get out; returns each call's
/// (ok, output) in order.
fn run_escapes(root: &Path, extra: &[&str], port: u16) -> Vec<(bool, String)> {
    let project = root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("app_spec.md"), "A thing.\n").unwrap();
    std::fs::write(root.join("secret.txt"), "outside secret\n").unwrap();
    let bash = |command: String| json!({"name": "bash", "arguments": {"command": command}});
    let script = write_script(
        root,
        "script.json",
        &json!({"model": "scripted-test", "sessions": [{"node": "initializer", "turns": [
            {"tool_calls": [
                bash("cat ../secret.txt".to_owned()),
                bash("mkdir -p .git/hooks; printf '#!/bin/sh\\nexit 0\\n' > .git/hooks/pre-commit".to_owned()),
                bash("echo forged > .baton/forged".to_owned()),
                bash(format!("echo hello > /dev/tcp/127.0.0.1/{port}")),
                bash("echo made > made.txt && git status --short && ls".to_owned())
            ]},
            {"tool_calls": [{"name": "write_file", "arguments": {"path": "feature_list.json", "content": LIST}}]},
            {"content": "Set up."}
        ]}]}),
    );
    let mut flags = vec!["--max-sessions", "1", "--no-memory", "--no-verify"];
    flags.extend_from_slice(extra);
    let output = baton_run(root, &project, &script, "t", &flags);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    tape(&project, "t")
        .records()
        .iter()
        .filter_map(|record| match record.event() {
            Some(Event::ToolResult {
                name, ok, content, ..
            }) if name == "bash" => Some((*ok, content.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_run_s_bash_calls_stay_in_the_sandbox() {
    if !bwrap_installed() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let results = run_escapes(root.path(), &[], port);
    assert_eq!(results.len(), 5, "{results:?}");
    for (ok, content) in &results[..4] {
        assert!(!ok, "went through: {content}");
        assert!(!content.contains("outside secret"), "{content}");
    }
    let project = root.path().join("project");
    assert!(!project.join(".git/hooks/pre-commit").exists());
    assert!(!project.join(".baton/forged").exists());
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "a connection from the sandbox arrived"
    );
    let (ok, content) = &results[4];
    assert!(ok, "{content}");
    assert!(content.contains("made.txt"), "{content}");
    assert_eq!(
        std::fs::read_to_string(project.join("made.txt")).unwrap(),
        "made\n"
    );
    assert!(head_state(&project, "t").connection.unwrap().sandbox);
}

#[test]
fn no_sandbox_is_recorded_and_lets_commands_out() {
    if !bwrap_installed() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let results = run_escapes(root.path(), &["--no-sandbox"], port);
    let (ok, content) = &results[0];
    assert!(*ok && content.contains("outside secret"), "{content}");
    let project = root.path().join("project");
    assert!(!head_state(&project, "t").connection.unwrap().sandbox);
}

/// A `PATH` of links to every program on this one but bwrap, as on a machine without it.
fn path_without_bwrap(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = std::env::var_os("PATH").unwrap();
    for folder in std::env::split_paths(&path) {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let name = entry.file_name();
            if name != "bwrap" && !bin.join(&name).exists() {
                let _ = std::os::unix::fs::symlink(entry.path(), bin.join(&name));
            }
        }
    }
    bin.display().to_string()
}

#[test]
fn without_bwrap_a_run_warns_once_and_a_required_sandbox_refuses() {
    let root = tempfile::tempdir().unwrap();
    let path = path_without_bwrap(root.path());
    let project = root.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("app_spec.md"), "A thing.\n").unwrap();
    let bash =
        json!({"tool_calls": [{"name": "bash", "arguments": {"command": "cat ../secret.txt"}}]});
    let script = write_script(
        root.path(),
        "script.json",
        &json!({"model": "scripted-test", "sessions": [{"node": "initializer", "turns": [
            bash, bash, {"content": "Set up."}
        ]}]}),
    );
    std::fs::write(root.path().join("secret.txt"), "outside secret\n").unwrap();
    let run = |thread: &str| {
        crate::support::baton_env(
            root.path(),
            &[
                "run",
                project.to_str().unwrap(),
                "--script",
                script.to_str().unwrap(),
                "--thread",
                thread,
                "--max-sessions",
                "1",
                "--no-memory",
                "--no-verify",
            ],
            &[("PATH", &path)],
        )
    };
    let warned = run("warned");
    let stderr = String::from_utf8_lossy(&warned.stderr);
    assert_eq!(
        stderr.matches("bash runs without a sandbox").count(),
        1,
        "{}",
        describe(&warned)
    );
    assert!(stderr.contains("apt-get install bubblewrap"), "{stderr}");
    assert!(stderr.contains("--no-sandbox"), "{stderr}");

    std::fs::write(project.join("baton.toml"), "[sandbox]\nrequired = true\n").unwrap();
    let refused = run("refused");
    assert_eq!(refused.status.code(), Some(2), "{}", describe(&refused));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("required = true"), "{stderr}");
    assert!(
        !project.join(".baton/threads/refused").exists(),
        "a refused run leaves no thread"
    );
}
