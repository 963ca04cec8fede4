//! Bad input from the model is data, not a crash: malformed and unknown tool calls get error
//! results and the run goes on; an illegal feature-list edit is reverted; a session that
//! repeats itself is ended; a 500 is retried; an unreachable server ends the run with exit 1
//! naming the URL. Each test drives the real binary through a script served over HTTP.

use std::path::{Path, PathBuf};

use crate::support::{baton, baton_run, describe, tape, write_script};
use baton::events::{Event, SessionEnd};
use serde_json::{Value, json};

const LIST: &str = r#"{"features": [
  {"id": "one", "category": "functional", "description": "The first thing", "steps": ["look"], "checks": [], "verify": "manual", "passes": false},
  {"id": "two", "category": "functional", "description": "The second thing", "steps": ["look again"], "checks": [], "verify": "manual", "passes": false}
]}"#;

/// A project with a spec, and a script whose session 1 runs `turns` then writes the list.
fn setup(sessions: &[Value]) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let project = root.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("app_spec.md"), "Two small things.\n").unwrap();
    let script = write_script(
        root.path(),
        "script.json",
        &json!({"model": "scripted-test", "sessions": sessions}),
    );
    (root, project, script)
}

fn run(root: &Path, project: &Path, script: &Path, max_sessions: &str) -> std::process::Output {
    baton_run(
        root,
        project,
        script,
        "t",
        &["--max-sessions", max_sessions, "--no-memory", "--no-verify"],
    )
}

fn events(project: &Path) -> Vec<Event> {
    tape(project, "t")
        .records()
        .iter()
        .filter_map(|r| r.event().cloned())
        .collect()
}

fn write_list_turn() -> Value {
    json!({"tool_calls": [{"name": "write_file", "arguments": {"path": "feature_list.json", "content": LIST}}]})
}

#[test]
fn malformed_and_unknown_tool_calls_get_errors_and_the_run_goes_on() {
    let (root, project, script) = setup(&[json!({"node": "initializer", "turns": [
        {"tool_calls": [
            {"name": "bash", "arguments_raw": "{\"command\": \"ls"},
            {"name": "frobnicate", "arguments": {}},
            {"name": "write_file", "arguments": {"path": "../escape.txt", "content": "x"}},
            {"name": "write_file", "arguments": {"path": "/tmp/baton-absolute-escape.txt", "content": "x"}}
        ]},
        write_list_turn(),
        {"content": "Set up two features."}
    ]})]);
    let output = run(root.path(), &project, &script, "1");
    // One session of budget and features that cannot pass: stopped unfinished, exit 1.
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let results: Vec<(String, bool, String)> = events(&project)
        .into_iter()
        .filter_map(|e| match e {
            Event::ToolResult {
                name, ok, content, ..
            } => Some((name, ok, content)),
            _ => None,
        })
        .collect();
    assert!(
        !results[0].1 && results[0].2.contains("JSON"),
        "{results:?}"
    );
    assert!(
        !results[1].1 && results[1].2.contains("unknown tool"),
        "{results:?}"
    );
    assert!(!results[2].1, "{results:?}");
    assert!(!results[3].1, "{results:?}");
    assert!(!root.path().join("escape.txt").exists());
    assert!(!Path::new("/tmp/baton-absolute-escape.txt").exists());
    assert!(results[4].1, "the run went on: {results:?}");
    assert!(project.join("feature_list.json").exists());
}

#[test]
fn resume_keeps_what_it_puts_back() {
    let (root, project, script) = setup(&[
        json!({"node": "initializer", "turns": [write_list_turn(), {"content": "Set up."}]}),
        json!({"node": "coding", "turns": [{"content": "Nothing to do."}]}),
    ]);
    let first = run(root.path(), &project, &script, "1");
    assert_eq!(first.status.code(), Some(1), "{}", describe(&first));
    std::fs::write(project.join("notes.txt"), "written by hand\n").unwrap();
    let (project_arg, script_arg) = (project.to_str().unwrap(), script.to_str().unwrap());
    let resumed = baton(
        root.path(),
        &[
            "resume",
            "t",
            "--project",
            project_arg,
            "--script",
            script_arg,
            "--max-sessions",
            "2",
            "--no-memory",
            "--no-verify",
        ],
    );
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    let kept = stderr
        .split("kept in commit ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no word of what resume put back: {stderr}"));
    // The thread's record wins in the worktree; the hand edit is in the commit named.
    assert!(!project.join("notes.txt").exists());
    let repo = git2::Repository::open(&project).unwrap();
    let tree = repo
        .find_commit(git2::Oid::from_str(kept).unwrap())
        .unwrap()
        .tree()
        .unwrap();
    let entry = tree.get_path(Path::new("notes.txt")).unwrap();
    let blob = repo.find_blob(entry.id()).unwrap();
    assert_eq!(blob.content(), b"written by hand\n");
}

#[test]
fn an_illegal_feature_list_edit_is_reverted() {
    let (root, project, script) = setup(&[
        json!({"node": "initializer", "turns": [write_list_turn(), {"content": "Set up."}]}),
        json!({"node": "coding", "turns": [
            {"tool_calls": [{"name": "write_file", "arguments": {"path": "feature_list.json",
                "content": LIST.replace("\"passes\": false}\n]", "\"passes\": true}\n]")}}]},
            {"tool_calls": [{"name": "bash", "arguments": {"command": "python3 -c \"import json;d=json.load(open('feature_list.json'));d['features'].pop();json.dump(d,open('feature_list.json','w'))\""}}]},
            {"content": "Done."}
        ]}),
    ]);
    let output = run(root.path(), &project, &script, "2");
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let reverted: Vec<Vec<String>> = events(&project)
        .into_iter()
        .filter_map(|e| match e {
            Event::FeatureListReverted { violations } => Some(violations),
            _ => None,
        })
        .collect();
    assert_eq!(reverted.len(), 2, "{reverted:?}");
    assert!(
        reverted[0].iter().any(|v| v.contains("passes")),
        "{reverted:?}"
    );
    assert!(
        reverted[1].iter().any(|v| v.contains("two")),
        "{reverted:?}"
    );
    let list = crate::support::feature_list(&project);
    assert_eq!(list.features.len(), 2);
    assert!(list.features.iter().all(|f| !f.passes));
}

#[test]
fn an_initializer_list_with_an_unchecked_feature_is_refused_and_the_model_is_told_why() {
    let unchecked = LIST.replacen(r#""checks": [], "verify": "manual", "#, "", 1);
    let manual_word = LIST.replacen(r#""verify": "manual""#, r#""verify": "by eye""#, 1);
    let write = |content: &str| json!({"tool_calls": [{"name": "write_file", "arguments": {"path": "feature_list.json", "content": content}}]});
    let (root, project, script) = setup(&[json!({"node": "initializer", "turns": [
        write(&unchecked),
        write(&manual_word),
        write(LIST),
        {"content": "Set up."}
    ]})]);
    let output = run(root.path(), &project, &script, "1");
    let told: Vec<String> = events(&project)
        .into_iter()
        .filter_map(|e| match e {
            Event::ToolResult { name, content, .. } if name == "write_file" => Some(content),
            _ => None,
        })
        .collect();
    assert_eq!(told.len(), 3, "{told:?}\n{}", describe(&output));
    assert!(
        told[0].contains("was reverted")
            && told[0].contains("feature \"one\" has no checks")
            && told[0].contains("\"verify\": \"manual\""),
        "the model must learn why and what to do: {}",
        told[0]
    );
    assert!(!told[0].contains("\"two\""), "{}", told[0]);
    assert!(
        told[1].contains("\"verify\": \"by eye\"") && told[1].contains("the only value"),
        "{}",
        told[1]
    );
    assert!(!told[2].contains("reverted"), "{}", told[2]);
    let list = crate::support::feature_list(&project);
    assert!(list.features.iter().all(baton_verify::Feature::is_manual));
    assert_eq!(list.summary(), "0/2 passing, 2 manual");
}

#[test]
fn a_session_that_repeats_itself_is_ended() {
    let same = json!({"tool_calls": [{"name": "bash", "arguments": {"command": "ls"}}]});
    let (root, project, script) = setup(&[json!({"node": "initializer", "turns": [
        write_list_turn(), same.clone(), same.clone(), same, {"content": "never reached"}
    ]})]);
    let output = run(root.path(), &project, &script, "1");
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let ends: Vec<SessionEnd> = events(&project)
        .into_iter()
        .filter_map(|e| match e {
            Event::SessionEnded { end, .. } => Some(end),
            _ => None,
        })
        .collect();
    assert_eq!(
        ends,
        vec![SessionEnd::LoopDetected {
            tool: "bash".to_owned(),
            repeats: 3,
            period: 1,
            pattern: vec![r#"bash {"command":"ls"}"#.to_owned()],
        }]
    );
}

#[test]
fn a_500_then_a_200_is_retried() {
    let (root, project, script) = setup(&[json!({"node": "initializer", "turns": [
        write_list_turn(),
        {"fail": {"status": 500, "times": 1}, "content": "Set up after a hiccup."}
    ]})]);
    let output = run(root.path(), &project, &script, "1");
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let attempts: Vec<u32> = events(&project)
        .into_iter()
        .filter_map(|e| match e {
            Event::ModelResponse { response, .. } => Some(response.attempts),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, vec![1, 2]);
}

#[test]
fn an_unreachable_server_ends_the_run_naming_the_url() {
    let root = tempfile::tempdir().unwrap();
    let project = root.path().join("p");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("app_spec.md"), "Anything.\n").unwrap();
    // Port 9 (discard) is closed on loopback.
    let output = baton(
        root.path(),
        &[
            "run",
            project.to_str().unwrap(),
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "--no-memory",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("127.0.0.1:9"), "{stderr}");
    assert!(stderr.contains("resum"), "says how to go on: {stderr}");
}

#[test]
fn a_command_that_deletes_baton_s_folder_loses_nothing() {
    let (root, project, script) = setup(&[json!({"node": "initializer", "turns": [
        write_list_turn(),
        {"tool_calls": [{"name": "bash", "arguments": {"command": "rm -rf .baton && git clean -fdxq"}}]},
        {"content": "Set up two features."}
    ]})]);
    // The sandbox keeps `.baton/` read-only; this is the repair where none can start.
    let output = baton_run(
        root.path(),
        &project,
        &script,
        "t",
        &[
            "--max-sessions",
            "1",
            "--no-memory",
            "--no-verify",
            "--no-sandbox",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let results: Vec<String> = events(&project)
        .into_iter()
        .filter_map(|e| match e {
            Event::ToolResult { name, content, .. } if name == "bash" => Some(content),
            _ => None,
        })
        .collect();
    assert!(results[0].contains("baton wrote them back"), "{results:?}");
    // The whole thread is on the tape: its start, the cleaning step and the session's end.
    let events = events(&project);
    assert!(
        matches!(events.first(), Some(Event::ThreadStarted { .. })),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::SessionEnded { .. })),
        "{events:?}"
    );
    let threads = baton(
        root.path(),
        &["threads", "--project", project.to_str().unwrap()],
    );
    assert!(
        String::from_utf8_lossy(&threads.stdout).contains('t'),
        "{}",
        describe(&threads)
    );
}

#[test]
fn an_answer_cut_at_the_token_limit_does_not_end_the_session() {
    let (root, project, script) = setup(&[json!({"node": "initializer", "turns": [
        {"content": "I will now write the feature list with", "finish_reason": "length"},
        write_list_turn(),
        {"content": "Set up two features."}
    ]})]);
    let output = run(root.path(), &project, &script, "1");
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(
        project.join("feature_list.json").exists(),
        "the session went on after the cut answer: {}",
        describe(&output)
    );
    let ended: Vec<Event> = events(&project)
        .into_iter()
        .filter(|e| matches!(e, Event::SessionEnded { .. }))
        .collect();
    assert_eq!(ended.len(), 1, "{ended:?}");
}

/// A model whose server returns no `tool_calls` but writes them as text (a local model
/// behind a mismatched chat template): the calls are read from the text and run, the tape
/// notes it, and a call that cannot be read is sent back as an error instead of ending the
/// session.
#[test]
fn tool_calls_written_as_text_are_run_and_unreadable_ones_are_sent_back() {
    let list_call =
        json!({"name": "write_file", "arguments": {"path": "feature_list.json", "content": LIST}});
    let (root, project, script) = setup(&[json!({"node": "initializer", "turns": [
        {"content": "<tool_call>\n{\"name\": \"bash\", \"arguments\": {\"command\": \"echo from-tags\"}}\n</tool_call>"},
        {"content": "Now the list.\n```json\n{\"name\": \"write_file\", \"arguments\": {\"path\": \"notes.txt\", \"content\": \"a\",},}\n```"},
        {"content": "<tool_call>{\"name\": \"bash\", \"arguments\": {\"command\": \"ls\"</tool_call>"},
        {"content": list_call.to_string()},
        {"content": "Set up two features."}
    ]})]);
    let output = run(root.path(), &project, &script, "1");
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let events = events(&project);
    let results: Vec<(String, bool, String)> = events
        .iter()
        .filter_map(|e| match e {
            Event::ToolResult {
                name, ok, content, ..
            } => Some((name.clone(), *ok, content.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(
        results[0].1 && results[0].2.contains("from-tags"),
        "{results:?}"
    );
    assert!(results[1].1 && results[1].0 == "write_file", "{results:?}");
    assert_eq!(
        std::fs::read_to_string(project.join("notes.txt")).unwrap(),
        "a"
    );
    assert!(project.join("feature_list.json").exists());
    let notes: Vec<Vec<String>> = events
        .iter()
        .filter_map(|e| match e {
            Event::ModelResponse { response, .. } => Some(response.notes.clone()),
            _ => None,
        })
        .collect();
    assert!(notes[0][0].contains("<tool_call> tags"), "{notes:?}");
    assert!(notes[1][0].contains("fenced JSON block"), "{notes:?}");
    assert!(notes[1][1].contains("trailing commas"), "{notes:?}");
    assert!(notes[3][0].contains("bare JSON object"), "{notes:?}");
    // The unreadable call went back to the model, and the session went on to its last turn.
    let state = crate::support::head_state(&project, "t");
    assert_eq!(state.sessions_run, 1);
    let ended = events.iter().find_map(|e| match e {
        Event::SessionEnded { end, .. } => Some(end.clone()),
        _ => None,
    });
    assert_eq!(ended, Some(SessionEnd::Finished));
    let unreadable = events.iter().any(|e| match e {
        Event::ModelResponse { response, .. } => response
            .unreadable_call
            .as_deref()
            .is_some_and(|m| m.contains("could not be read")),
        _ => false,
    });
    assert!(unreadable);
}

/// A feature that can never pass gets three coding sessions, is blocked (on the tape, with
/// its last failure), and the thread builds the next feature; it then comes back to the
/// blocked one once, since a feature passed meanwhile, and ends `blocked` with exit 1 naming it.
#[test]
fn a_feature_that_never_passes_is_blocked_and_the_next_one_gets_built() {
    let list = json!({
        "app": {"start": "bash init.sh", "url": "http://127.0.0.1:{port}/"},
        "features": [
            {"id": "impossible", "category": "functional", "description": "Shows a text nobody writes",
             "steps": ["open"], "checks": [{"goto": "/"}, {"expect_text": {"selector": "h1", "equals": "never there"}}],
             "passes": false},
            {"id": "greeting", "category": "functional", "description": "Says hello",
             "steps": ["open"], "checks": [{"goto": "/"}, {"expect_text": {"selector": "h1", "equals": "Hello"}}],
             "passes": false}
        ]
    });
    let init = "#!/usr/bin/env bash\ncd \"$(dirname \"$0\")\"\nexec python3 -m http.server \"${PORT:-8000}\" --bind 127.0.0.1\n";
    let coding = |text: &str| json!({"node": "coding", "turns": [{"content": text}]});
    let greeting = json!({"node": "coding", "turns": [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "index.html", "content": "<h1>Hello</h1>\n"}}]},
        {"content": "Hello is there."}
    ]});
    let (root, project, script) = setup(&[
        json!({"node": "initializer", "turns": [
            {"tool_calls": [
                {"name": "write_file", "arguments": {"path": "feature_list.json", "content": list.to_string()}},
                {"name": "write_file", "arguments": {"path": "init.sh", "content": init}},
                {"name": "write_file", "arguments": {"path": "index.html", "content": "<h1>Soon</h1>\n"}}
            ]},
            {"content": "Two features."}
        ]}),
        coding("Tried."),
        coding("Tried again."),
        coding("Tried a third time."),
        greeting,
        coding("One more try."),
        coding("Should not be asked."),
    ]);
    let output = baton_run(
        root.path(),
        &project,
        &script,
        "t",
        &["--max-sessions", "10", "--no-memory"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("status     blocked"),
        "{}",
        describe(&output)
    );
    assert!(
        stderr.contains("blocked: every feature left is blocked"),
        "{}",
        describe(&output)
    );
    assert!(stderr.contains("impossible"), "{}", describe(&output));

    let events = events(&project);
    let targets: Vec<Option<String>> = events
        .iter()
        .filter_map(|e| match e {
            Event::SessionStarted { feature, .. } => Some(feature.clone()),
            _ => None,
        })
        .collect();
    let impossible = Some("impossible".to_owned());
    let greeting = Some("greeting".to_owned());
    assert_eq!(
        targets,
        vec![
            None,
            impossible.clone(),
            impossible.clone(),
            impossible.clone(),
            greeting,
            impossible
        ]
    );
    let blocked: Vec<(String, u32, String)> = events
        .iter()
        .filter_map(|e| match e {
            Event::FeatureBlocked {
                feature,
                sessions,
                failure,
            } => Some((feature.clone(), *sessions, failure.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(blocked.len(), 2, "{blocked:?}");
    assert_eq!((blocked[0].0.as_str(), blocked[0].1), ("impossible", 3));
    assert!(blocked[0].2.contains("never there"), "{blocked:?}");
    assert_eq!(blocked[1].1, 4);
    let list = crate::support::feature_list(&project);
    assert!(list.get("greeting").unwrap().passes);
    assert!(!list.get("impossible").unwrap().passes);
    let state = crate::support::head_state(&project, "t");
    assert_eq!(state.status_word(), "blocked");
    assert!(state.blocked.contains_key("impossible"));
    let (status, _) = crate::support::thread_status(&project, "t");
    assert_eq!(status, "blocked");
}
