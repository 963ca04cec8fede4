//! `passes` is earned and kept honest: a later session that breaks a feature which passed
//! is caught by the browser re-check (run when a session closes, and again when the next
//! one starts on a changed worktree), `passes` goes back to false, the next session is
//! told, and the feature becomes its target — the thread cannot end as done meanwhile.

use crate::support::{baton_run, describe, feature_list, head_state, tape, write_script};
use baton::events::Event;
use serde_json::json;

const LIST: &str = r##"{"app": {"start": "bash init.sh", "url": "http://127.0.0.1:{port}/"},
 "features": [
  {"id": "greeting", "category": "functional", "description": "The page greets the user",
   "steps": ["open the page", "see Hello"],
   "checks": [{"goto": "/"}, {"expect_text": {"selector": "#greeting", "contains": "Hello"}}],
   "passes": false},
  {"id": "farewell", "category": "functional", "description": "The page says goodbye",
   "steps": ["open the page", "see Goodbye"],
   "checks": [{"goto": "/"}, {"expect_text": {"selector": "#farewell", "contains": "Goodbye"}}],
   "passes": false}
 ]}"##;

const INIT: &str =
    "#!/usr/bin/env bash\nexec python3 -m http.server \"${PORT:-8000}\" --bind 127.0.0.1\n";

fn page(body: &str) -> String {
    format!(
        "<!doctype html><html><head><link rel=\"icon\" href=\"data:,\"><title>t</title></head><body>{body}</body></html>\n"
    )
}

fn write(path: &str, content: &str) -> serde_json::Value {
    json!({"name": "write_file", "arguments": {"path": path, "content": content}})
}

#[test]
fn a_broken_feature_is_caught_before_the_next_session() {
    let root = tempfile::tempdir().unwrap();
    let project = root.path().join("p");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("app_spec.md"),
        "A page that greets and says goodbye.\n",
    )
    .unwrap();
    let greeting = r#"<p id="greeting">Hello</p>"#;
    let farewell = r#"<p id="farewell">Goodbye</p>"#;
    let script = write_script(
        root.path(),
        "script.json",
        &json!({"model": "scripted-regression", "sessions": [
            {"node": "initializer", "turns": [
                {"tool_calls": [write("feature_list.json", LIST), write("init.sh", INIT),
                                write(".gitignore", ".baton/\n"), write("index.html", &page(""))]},
                {"content": "Set up two features."}]},
            {"node": "coding", "turns": [
                {"tool_calls": [write("index.html", &page(greeting))]},
                {"content": "greeting: added the Hello paragraph."}]},
            // Implements farewell and, by mistake, drops the greeting.
            {"node": "coding", "turns": [
                {"tool_calls": [write("index.html", &page(farewell))]},
                {"content": "farewell: added the Goodbye paragraph."}]},
            {"node": "coding", "turns": [
                {"tool_calls": [write("index.html", &page(&format!("{greeting}{farewell}")))]},
                {"content": "greeting: restored the Hello paragraph next to Goodbye."}]}
        ]}),
    );
    let output = baton_run(root.path(), &project, &script, "r", &["--no-memory"]);
    assert!(output.status.success(), "{}", describe(&output));

    let events: Vec<Event> = tape(&project, "r")
        .records()
        .iter()
        .filter_map(|r| r.event().cloned())
        .collect();
    let regressions: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Regression { feature, .. } => Some(feature.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(regressions, vec!["greeting"]);
    let session_four_target = events.iter().find_map(|e| match e {
        Event::SessionStarted {
            session: 4,
            feature,
            ..
        } => Some(feature.clone()),
        _ => None,
    });
    assert_eq!(session_four_target, Some(Some("greeting".to_owned())));
    assert!(feature_list(&project).features.iter().all(|f| f.passes));
    assert_eq!(head_state(&project, "r").sessions_run, 4);
}
