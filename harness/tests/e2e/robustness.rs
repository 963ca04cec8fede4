//! What a weak model did to baton in its first fifteen minutes, each replayed by a script:
//! it overwrote the user's spec, deleted `.baton/` (memory store included), alternated two
//! near-identical failing calls, and ended initializer sessions without a feature list.
//! baton must take each in stride: the spec is put back, memory is rebuilt without a
//! panic on the terminal, the cycle ends the session and is handed on, and initializers
//! that keep failing stop the thread with exit 1.

use std::path::{Path, PathBuf};

use crate::support::{baton_run, describe, head_state, memory_total, tape, write_script};
use baton::events::{Event, SessionEnd};
use serde_json::{Value, json};

const SPEC: &str = "# Two things\n\nA page with two small things.\n";

const LIST: &str = r#"{"features": [
  {"id": "one", "category": "functional", "description": "The first thing", "steps": ["look"], "checks": [], "verify": "manual", "passes": false}
]}"#;

fn setup(sessions: &[Value]) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let project = root.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("app_spec.md"), SPEC).unwrap();
    let script = write_script(
        root.path(),
        "script.json",
        &json!({"model": "scripted-test", "sessions": sessions}),
    );
    (root, project, script)
}

fn events(project: &Path) -> Vec<Event> {
    tape(project, "t")
        .records()
        .iter()
        .filter_map(|r| r.event().cloned())
        .collect()
}

fn tool_results(project: &Path) -> Vec<(String, bool, String)> {
    events(project)
        .into_iter()
        .filter_map(|e| match e {
            Event::ToolResult {
                name, ok, content, ..
            } => Some((name, ok, content)),
            _ => None,
        })
        .collect()
}

fn session_ends(project: &Path) -> Vec<SessionEnd> {
    events(project)
        .into_iter()
        .filter_map(|e| match e {
            Event::SessionEnded { end, .. } => Some(end),
            _ => None,
        })
        .collect()
}

fn write_list_turn() -> Value {
    json!({"tool_calls": [{"name": "write_file", "arguments": {"path": "feature_list.json", "content": LIST}}]})
}

fn bash(command: &str) -> Value {
    json!({"tool_calls": [{"name": "bash", "arguments": {"command": command}}]})
}

#[test]
fn the_spec_cannot_be_changed_by_file_tools_and_a_bash_change_is_put_back() {
    let (root, project, script) = setup(&[json!({"node": "initializer", "turns": [
        {"tool_calls": [
            {"name": "write_file", "arguments": {"path": "app_spec.md", "content": "# truncated"}},
            {"name": "edit_file", "arguments": {"path": "./app_spec.md", "old_string": "two small", "new_string": "no"}}
        ]},
        bash("printf 'truncated\\n' > app_spec.md && echo 'feature_attempts = 99' > baton.toml"),
        bash("rm -f app_spec.md"),
        write_list_turn(),
        {"content": "Set up."}
    ]})]);
    let output = baton_run(
        root.path(),
        &project,
        &script,
        "t",
        &["--max-sessions", "1", "--no-memory", "--no-verify"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let results = tool_results(&project);
    for (name, ok, content) in &results[..2] {
        assert!(!ok, "{name}: {content}");
        assert!(
            content.contains("read-only") && content.contains("user's specification"),
            "{name}: {content}"
        );
    }
    let (_, _, overwrite) = &results[2];
    assert!(
        overwrite.contains("your change to app_spec.md was reverted")
            && overwrite.contains("your change to baton.toml was reverted"),
        "{overwrite}"
    );
    assert!(
        results[3].2.contains("app_spec.md was reverted"),
        "{results:?}"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("app_spec.md")).unwrap(),
        SPEC
    );
    assert!(!project.join("baton.toml").exists());
    assert_eq!(
        std::fs::read_to_string(project.join(".baton/inputs/app_spec.md")).unwrap(),
        SPEC,
        "the original is kept under .baton/"
    );
    let reverted = events(&project)
        .iter()
        .filter(|e| matches!(e, Event::InputReverted { .. }))
        .count();
    assert_eq!(reverted, 2);
    // The session's commit holds the spec as the user wrote it.
    let committed = std::process::Command::new("git")
        .args(["show", "HEAD:app_spec.md"])
        .current_dir(&project)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&committed.stdout), SPEC);
}

#[test]
fn a_protected_file_is_guarded_like_the_spec() {
    let (root, project, script) = setup(&[json!({"node": "initializer", "turns": [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "data/seed.json", "content": "[]"}}]},
        bash("echo '[1]' > data/seed.json"),
        write_list_turn(),
        {"content": "Set up."}
    ]})]);
    std::fs::create_dir_all(project.join("data")).unwrap();
    std::fs::write(project.join("data/seed.json"), "[1, 2, 3]\n").unwrap();
    std::fs::write(
        project.join("baton.toml"),
        "protected = [\"data/seed.json\"]\n",
    )
    .unwrap();
    let output = baton_run(
        root.path(),
        &project,
        &script,
        "t",
        &["--max-sessions", "1", "--no-memory", "--no-verify"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let results = tool_results(&project);
    assert!(
        !results[0].1 && results[0].2.contains("protected by the user"),
        "{results:?}"
    );
    assert!(
        results[1].2.contains("data/seed.json was reverted"),
        "{results:?}"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("data/seed.json")).unwrap(),
        "[1, 2, 3]\n"
    );
}

#[test]
fn rm_rf_dot_baton_rebuilds_memory_without_a_panic_on_the_terminal() {
    let (root, project, script) = setup(&[
        json!({"node": "initializer", "turns": [write_list_turn(), {"content": "Set up one feature."}]}),
        json!({"node": "coding", "turns": [
            bash("rm -rf .baton"),
            bash("echo one > one.txt"),
            bash("echo two > two.txt"),
            bash("ls"),
            {"content": "Worked on one."}
        ]}),
    ]);
    let output = baton_run(
        root.path(),
        &project,
        &script,
        "t",
        // The sandbox keeps `.baton/` read-only; this is the repair where none can start.
        &["--max-sessions", "2", "--no-verify", "--no-sandbox"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("backtrace"), "{stderr}");
    assert_eq!(
        stderr.matches("being rebuilt in the background").count(),
        1,
        "reported once: {stderr}"
    );
    assert!(stderr.contains("memory rebuilt:"), "{stderr}");
    let results = tool_results(&project);
    let rm = results
        .iter()
        .find(|(_, _, content)| content.contains("memory store"))
        .expect("the model is told");
    assert!(rm.2.contains("Leave .baton/ alone"), "{rm:?}");
    // The rebuilt store holds the first session's commit, from git history.
    assert!(memory_total(&project) > 0);
    assert_eq!(head_state(&project, "t").sessions_run, 2);
}

#[test]
fn an_alternating_pair_of_calls_ends_the_session_and_the_next_one_hears_of_it() {
    let a = json!({"tool_calls": [{"name": "bash", "arguments": {"command": "cat  missing.txt"}}]});
    let b = json!({"tool_calls": [{"name": "read_file", "arguments": {"path": "missing.txt"}}]});
    let (root, project, script) = setup(&[
        json!({"node": "initializer", "turns": [
            write_list_turn(), a.clone(), b.clone(), a.clone(), b.clone(), a, b,
            {"content": "never reached"}
        ]}),
        json!({"node": "coding", "turns": [
            {"content": "I will not repeat it.", "expect_in_request": "missing.txt: No such file or directory"}
        ]}),
    ]);
    let output = baton_run(
        root.path(),
        &project,
        &script,
        "t",
        &["--max-sessions", "2", "--no-memory", "--no-verify"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let ends = session_ends(&project);
    let SessionEnd::LoopDetected {
        period, pattern, ..
    } = &ends[0]
    else {
        panic!("{ends:?}");
    };
    assert_eq!(*period, 2);
    assert_eq!(pattern.len(), 2, "{pattern:?}");
    assert_eq!(
        ends[1],
        SessionEnd::Finished,
        "the second session was answered"
    );
    // The second session's first message named the loop (the script's `expect_in_request`
    // answers only then), with the calls' last results.
    let state = head_state(&project, "t");
    assert!(state.handoff.is_none(), "handed on once");
    let told = describe(&output);
    assert!(told.contains("loop detected (a cycle of 2 calls"), "{told}");
}

#[test]
fn a_call_repeated_with_only_its_timeout_changed_is_a_loop() {
    let call = |timeout: u64| json!({"tool_calls": [{"name": "bash", "arguments": {"command": "init.sh", "timeout_secs": timeout}}]});
    let (root, project, script) = setup(&[json!({"node": "initializer", "turns": [
        write_list_turn(), call(0), call(1), call(0), {"content": "never reached"}
    ]})]);
    let output = baton_run(
        root.path(),
        &project,
        &script,
        "t",
        &["--max-sessions", "1", "--no-memory", "--no-verify"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let ends = session_ends(&project);
    assert!(
        matches!(
            &ends[0],
            SessionEnd::LoopDetected {
                period: 1,
                repeats: 3,
                ..
            }
        ),
        "{ends:?}"
    );
}

#[test]
fn initializers_without_a_feature_list_are_told_what_is_missing_then_the_thread_stops() {
    let (root, project, script) = setup(&[
        json!({"node": "initializer", "turns": [
            {"tool_calls": [{"name": "write_file", "arguments": {"path": "notes.md", "content": "todo"}}]},
            {"content": "I looked around."}
        ]}),
        json!({"node": "initializer", "turns": [
            {"tool_calls": [{"name": "write_file", "arguments": {"path": "feature_list.json", "content": "{\"features\": ["}}],
             "expect_in_request": "feature_list.json does not exist"},
            {"content": "Wrote part of it."}
        ]}),
        json!({"node": "initializer", "turns": [
            {"content": "Still nothing.", "expect_in_request": "exists but is not a valid feature list"}
        ]}),
        json!({"node": "initializer", "turns": [{"content": "never reached"}]}),
    ]);
    let output = baton_run(
        root.path(),
        &project,
        &script,
        "t",
        &["--max-sessions", "10", "--no-memory", "--no-verify"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("3 initializer sessions in a row ended without a valid feature_list.json"),
        "{stderr}"
    );
    let state = head_state(&project, "t");
    assert_eq!(state.sessions_run, 3);
    assert_eq!(state.status_word(), "stopped");
}

#[test]
fn a_foreground_server_goes_to_the_background_and_progress_lines_say_what_runs() {
    // The server is found by its command line: in the sandbox, `$$` is a pid of its own.
    let marker = format!("served-{}", std::process::id());
    let (root, project, script) = setup(&[json!({"node": "initializer", "turns": [
        write_list_turn(),
        {"tool_calls": [{"name": "bash", "arguments": {
            "command": format!("mkdir -p {marker}; exec python3 -m http.server 0 --bind 127.0.0.1 --directory {marker}"),
            "timeout_secs": 600}}]},
        {"tool_calls": [{"name": "bash", "arguments": {"command": "sleep 3; echo slept"}}]},
        // Asked 2 s (the cap) + 6 s after it started: 5 s of slack for a loaded machine to
        // see the sandboxed job end (1 s was not always enough on 2 busy cores).
        {"tool_calls": [{"name": "bash_output", "arguments": {"job": 2}}], "delay_ms": 6000},
        {"tool_calls": [{"name": "bash_stop", "arguments": {"job": 1}}]},
        {"content": "Set up."}
    ]})]);
    std::fs::write(
        project.join("baton.toml"),
        "bash_timeout_cap_secs = 2\nprogress_interval_secs = 1\n",
    )
    .unwrap();
    let began = std::time::Instant::now();
    let output = baton_run(
        root.path(),
        &project,
        &script,
        "t",
        &["--max-sessions", "1", "--no-memory", "--no-verify"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(
        began.elapsed() < std::time::Duration::from_mins(1),
        "the run did not wait for the server's 600 s"
    );
    let results = tool_results(&project);
    assert!(
        results[1].1 && results[1].2.contains("listening on port"),
        "{results:?}"
    );
    assert!(results[1].2.contains("job 1"), "{results:?}");
    assert!(
        results[2].2.contains("still running after 2 s"),
        "{results:?}"
    );
    assert!(results[3].2.contains("slept"), "{results:?}");
    assert!(
        results[3].2.contains("[job 2: exited with code 0]"),
        "{results:?}"
    );
    assert!(results[4].2.contains("[job 1 stopped"), "{results:?}");
    let alive = std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        String::from_utf8_lossy(&cmdline).contains(&marker) && !stat.contains(") Z")
    });
    assert!(!alive, "the server was stopped");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("waiting for the model · "), "{stderr}");
    assert!(stderr.contains("running bash "), "{stderr}");
}

#[test]
fn a_corrupt_memory_store_is_set_aside_and_rebuilt_on_resume() {
    let (root, project, script) = setup(&[
        json!({"node": "initializer", "turns": [write_list_turn(), {"content": "Set up one feature."}]}),
        json!({"node": "coding", "turns": [{"content": "Looked at one."}]}),
    ]);
    let first = baton_run(
        root.path(),
        &project,
        &script,
        "t",
        &["--max-sessions", "1", "--no-verify"],
    );
    assert_eq!(first.status.code(), Some(1), "{}", describe(&first));
    std::fs::write(project.join(".baton/memory/edge_config.json"), "{ not json").unwrap();
    let resumed = crate::support::baton(
        root.path(),
        &[
            "resume",
            "t",
            "--project",
            project.to_str().unwrap(),
            "--script",
            script.to_str().unwrap(),
            "--max-sessions",
            "2",
            "--no-verify",
        ],
    );
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(1), "{}", describe(&resumed));
    assert!(stderr.contains("the memory store did not open"), "{stderr}");
    assert!(stderr.contains("memory rebuilt:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let set_aside = std::fs::read_dir(project.join(".baton"))
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("memory.broken-")
        });
    assert!(set_aside, "the broken store is kept for a look");
    assert!(memory_total(&project) > 0);
    assert_eq!(head_state(&project, "t").sessions_run, 2);
}
