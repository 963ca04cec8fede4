//! `baton web` in headless Chromium, checked by baton's own browser checks (`baton verify`
//! against the dashboard's URL): the demo thread's tree, a step, its diff and a feature's
//! screenshot; a scripted thread's new steps arriving live; Pause pressing pauses it; a tool
//! output holding markup shows as text.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::support::{baton, baton_bin, demo_example, describe, write_script};
use serde_json::{Value, json};

const MARKUP: &str = "<script>document.title='pwned'</script><b>bold</b>";

/// `baton web` on a free port; the child and its base URL.
fn serve(projects: &[&Path]) -> (Child, String) {
    let mut command = Command::new(baton_bin());
    command.args(["web", "--bind", "127.0.0.1:0"]);
    for project in projects {
        command.arg("--project").arg(project);
    }
    let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    (child, url)
}

/// Runs `checks` as one feature with `baton verify` against `url`; panics with the report.
fn verify(root: &Path, name: &str, url: &str, checks: &Value) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let list = json!({"features": [{"id": name, "category": "dashboard",
        "description": "the dashboard", "steps": ["look"], "checks": checks, "passes": false}]});
    std::fs::write(dir.join("feature_list.json"), list.to_string()).unwrap();
    let output = baton(root, &["verify", dir.to_str().unwrap(), "--url", url]);
    assert!(output.status.success(), "{}", describe(&output));
}

#[test]
fn the_dashboard_shows_the_demo_and_a_live_thread_and_pauses_it() {
    let root = tempfile::tempdir().unwrap();
    let (demo, _) = demo_example(root.path(), "counter-app", "demo");
    // A fork to compare the demo thread with.
    let output = baton(
        root.path(),
        &[
            "fork",
            "demo",
            "--at",
            "3",
            "--thread",
            "alt",
            "--project",
            demo.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));

    let live = root.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    std::fs::write(live.join("app_spec.md"), "One small thing.\n").unwrap();
    let mut turns = vec![json!({"tool_calls": [{"name": "bash",
        "arguments": {"command": format!("printf '%s' \"{MARKUP}\"")}}]})];
    for i in 0..80 {
        turns.push(json!({"delay_ms": 300, "tool_calls": [{"name": "bash",
            "arguments": {"command": format!("echo step {i}")}}]}));
    }
    turns.push(json!({"content": "done"}));
    let script = write_script(
        root.path(),
        "live.json",
        &json!({"model": "scripted-test", "sessions": [{"node": "initializer", "turns": turns}]}),
    );
    let (web, url) = serve(&[&demo, &live]);
    let _web = KillOnDrop(web);

    verify(
        root.path(),
        "demo-thread",
        &url,
        &json!([
            {"goto": "/#p/0/t/demo"},
            {"expect_text": {"selector": "#summary", "contains": "features 3/3"}},
            {"expect_visible": "#tree svg .lane"},
            {"click": "#steps tbody tr.step:nth-child(4)"},
            {"expect_text": {"selector": "#step-title", "contains": "step 2"}},
            {"fill": {"selector": "#diff-from", "text": "0"}},
            {"click": "#diff"},
            {"expect_text": {"selector": "#inspector", "contains": "file changes from step 0"}},
            {"expect_visible": ".feature img"},
            {"click": "#compare-form button"},
            {"expect_text": {"selector": "#compare", "contains": "part after step 3"}},
            {"expect_text": {"selector": "#compare table", "contains": "alt"}},
            {"expect_no_console_errors": true},
            {"screenshot": "dashboard"}
        ]),
    );

    let run = Command::new(baton_bin())
        .args([
            "run",
            live.to_str().unwrap(),
            "--script",
            script.to_str().unwrap(),
        ])
        .args([
            "--thread",
            "t",
            "--max-sessions",
            "1",
            "--no-memory",
            "--no-verify",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Paused first, so the page meets it at a known step; everything after `goto` arrives
    // over the live stream (no reload).
    let live_str = live.to_str().unwrap();
    let running = wait_status(root.path(), live_str, |s| s["running"] == true);
    assert!(running["running"] == true);
    let paused = baton(root.path(), &["pause", "t", "--project", live_str]);
    assert!(paused.status.success(), "{}", describe(&paused));
    let at = wait_status(root.path(), live_str, |s| s["paused"].is_string())["step"]
        .as_u64()
        .unwrap();
    let later: Vec<String> = (at + 2..at + 40).map(|n| n.to_string()).collect();
    verify(
        root.path(),
        "live-thread",
        &url,
        &json!([
            {"goto": "/#p/1/t/t"},
            {"expect_text": {"selector": "#summary", "contains": "PAUSED"}},
            {"expect_text": {"selector": "#summary", "contains": format!("step {at} ")}},
            // Follow off, so new steps do not move the selection away from the step read.
            {"click": "#follow"},
            {"click": "#steps tbody tr.step:nth-child(3)"},
            {"expect_text": {"selector": "#inspector", "contains": MARKUP}},
            {"expect_count": {"selector": "#inspector b", "equals": 0}},
            {"click": "#continue"},
            {"expect_text": {"selector": "#summary", "regex": format!("step ({}) ", later.join("|"))}},
            {"click": "#pause"},
            {"expect_text": {"selector": "#control-reply", "contains": "pause"}},
            {"expect_text": {"selector": "#summary", "contains": "PAUSED"}}
        ]),
    );
    let status = baton(
        root.path(),
        &["status", "t", "--json", "--project", live.to_str().unwrap()],
    );
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(status["paused"].is_string(), "{status}");
    let stopped = baton(
        root.path(),
        &["stop", "t", "--project", live.to_str().unwrap()],
    );
    assert!(stopped.status.success(), "{}", describe(&stopped));
    let mut run = run;
    let code = run.wait().unwrap().code();
    assert_eq!(code, Some(1));
}

/// Polls `baton status t --json` until `ready` holds.
fn wait_status(root: &Path, project: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    loop {
        let output = baton(root, &["status", "t", "--json", "--project", project]);
        if output.status.success() {
            let status: Value = serde_json::from_slice(&output.stdout).unwrap();
            if ready(&status) {
                return status;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "thread t never got there"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Stops the dashboard however the test ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
