//! Tests that need no Chromium: the app launcher's lifecycle, the missing-browser error,
//! and the published JSON Schema against the fixture feature list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use baton_verify::{
    AppConfig, BrowserOptions, BrowserRunner, BrowserSession, FeatureList, VerifyError, start_app,
};

fn app(start: &str, timeout_secs: u64) -> AppConfig {
    AppConfig {
        start: Some(start.to_owned()),
        ready_timeout_secs: Some(timeout_secs),
        ..AppConfig::default()
    }
}

#[test]
fn an_app_that_never_answers_fails_with_url_timeout_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("logs/app.log");
    let started = Instant::now();
    let error = start_app(
        dir.path(),
        &app("echo warming up on $PORT; sleep 30", 2),
        &log,
    )
    .unwrap_err();
    let elapsed = started.elapsed();
    let VerifyError::AppNotReady {
        ref url,
        timeout_secs,
        ref log_tail,
    } = error
    else {
        panic!("expected AppNotReady, got {error:?}");
    };
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(timeout_secs, 2);
    assert!(log_tail.contains("warming up on"), "{log_tail}");
    let message = error.to_string();
    assert!(
        message.contains("within 2 s") && message.contains("$PORT"),
        "{message}"
    );
    // Bounded, not a benchmark: the 2 s timeout plus one probe, never the 30 s sleep.
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

#[test]
fn an_app_that_exits_early_reports_status_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let error = start_app(
        dir.path(),
        &app("echo missing dependency >&2; exit 3", 10),
        &log,
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, VerifyError::AppExited { .. }), "{error:?}");
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(message.contains("missing dependency"), "{message}");
}

#[test]
fn a_running_app_is_served_and_its_whole_group_dies_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<p>hi</p>").unwrap();
    // The server runs in the background of a script that then waits: two processes in the group.
    let script = "python3 -m http.server $PORT --bind 127.0.0.1 & echo $! > server.pid; wait";
    let running = start_app(dir.path(), &app(script, 15), &dir.path().join("app.log")).unwrap();
    assert_eq!(running.url, format!("http://127.0.0.1:{}/", running.port));
    let pid: i32 = std::fs::read_to_string(dir.path().join("server.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = |pid: i32| {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ")
    };
    assert!(alive(pid));
    drop(running);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !alive(pid),
        "the background server {pid} outlived the app guard"
    );
}

#[test]
fn missing_chromium_names_the_fix() {
    let opts = BrowserOptions {
        chromium_path: Some("/nonexistent/chromium".into()),
        ..BrowserOptions::default()
    };
    let Err(error) = BrowserRunner::launch(&opts) else {
        panic!("launched a browser that does not exist")
    };
    assert!(
        matches!(error, VerifyError::BrowserMissing { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("apt-get install -y chromium"), "{message}");
    assert!(message.contains("BATON_CHROMIUM"), "{message}");
    assert!(message.contains("/nonexistent/chromium"), "{message}");

    let session = BrowserSession::new(opts);
    let error = session.navigate("http://127.0.0.1:1/").unwrap_err();
    assert!(
        matches!(error, VerifyError::BrowserMissing { .. }),
        "{error:?}"
    );
    assert!(session.console_log().is_empty());
}

#[test]
fn session_rejects_relative_urls_before_launching() {
    let session = BrowserSession::new(BrowserOptions {
        chromium_path: Some("/nonexistent/chromium".into()),
        ..BrowserOptions::default()
    });
    let error = session.navigate("/todos").unwrap_err();
    assert!(error.to_string().contains("absolute"), "{error}");
}

#[test]
fn schema_is_json_and_the_fixture_list_conforms_to_its_required_keys() {
    let schema: serde_json::Value = serde_json::from_str(baton_verify::json_schema()).unwrap();
    let defs = &schema["$defs"];
    let required = |def: &serde_json::Value| -> Vec<String> {
        def["required"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect()
    };
    let feature_required = required(&defs["feature"]);
    assert_eq!(
        feature_required,
        ["id", "category", "description", "steps", "passes"]
    );
    let check_kinds = defs["check"]["properties"].as_object().unwrap();

    let text = std::fs::read_to_string(common::fixture_app().join("features.json")).unwrap();
    let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
    let list = FeatureList::parse(&text).unwrap();
    list.validate().unwrap();
    let mut seen_kinds = std::collections::BTreeSet::new();
    for feature in raw["features"].as_array().unwrap() {
        for key in &feature_required {
            assert!(feature.get(key).is_some(), "feature lacks {key}");
        }
        for check in feature["checks"].as_array().unwrap() {
            let object = check.as_object().unwrap();
            assert_eq!(object.len(), 1, "{check}");
            let (kind, body) = object.iter().next().unwrap();
            let kind_schema = check_kinds
                .get(kind)
                .unwrap_or_else(|| panic!("{kind} not in schema"));
            for key in required(kind_schema) {
                assert!(body.get(&key).is_some(), "{check} lacks {key}");
            }
            seen_kinds.insert(kind.clone());
        }
    }
    // Every kind the fixture uses is in the schema, and the schema lists nothing serde rejects.
    for kind in check_kinds.keys() {
        let sample = match kind.as_str() {
            "goto" | "click" | "expect_visible" | "expect_hidden" | "screenshot" | "wait_for"
            | "dblclick" | "hover" | "check" | "uncheck" | "expect_checked" | "expect_enabled"
            | "expect_disabled" => serde_json::json!({ kind: "#x" }),
            "expect_value" => serde_json::json!({ kind: { "selector": "#x", "equals": "v" } }),
            "expect_attribute" => {
                serde_json::json!({ kind: { "selector": "#x", "name": "n", "equals": "v" } })
            }
            "run" => serde_json::json!({ kind: { "command": "true" } }),
            "http" => serde_json::json!({ kind: { "path": "/" } }),
            "reload" | "expect_no_console_errors" => serde_json::json!({ kind: true }),
            "fill" => serde_json::json!({ kind: { "selector": "#x", "text": "t" } }),
            "press" => serde_json::json!({ kind: { "key": "Enter" } }),
            "select" => serde_json::json!({ kind: { "selector": "#x", "value": "v" } }),
            "expect_text" => serde_json::json!({ kind: { "selector": "#x", "contains": "v" } }),
            "expect_count" => serde_json::json!({ kind: { "selector": "#x", "equals": 1 } }),
            "expect_url" => serde_json::json!({ kind: { "contains": "#/" } }),
            other => panic!("schema lists {other}, which this test does not know"),
        };
        serde_json::from_value::<baton_verify::Check>(sample).unwrap();
    }
    assert!(seen_kinds.len() >= 12, "{seen_kinds:?}");
}
