//! Feature checks in real headless Chromium against the fixture app: the correct app
//! passes, each injected bug fails at the right check with a PNG left behind. One browser
//! is shared by every test in this file (launches cost seconds).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use baton_verify::{BrowserOptions, BrowserRunner, Check, Feature, FeatureList, Outcome};

fn runner() -> &'static BrowserRunner {
    static RUNNER: OnceLock<BrowserRunner> = OnceLock::new();
    RUNNER.get_or_init(|| BrowserRunner::launch(&BrowserOptions::default()).unwrap())
}

fn fixture_features() -> FeatureList {
    FeatureList::load(&common::fixture_app().join("features.json")).unwrap()
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );
}

#[test]
fn correct_app_passes_every_feature() {
    let url = common::serve_dir(common::fixture_app());
    let evidence = tempfile::tempdir().unwrap();
    for feature in &fixture_features().features {
        let dir = evidence.path().join(&feature.id);
        let result = runner().run_feature(feature, &url, &dir);
        assert_eq!(
            result.outcome,
            Outcome::Passed,
            "{}: {:?}",
            feature.id,
            result.failure
        );
        assert!(
            result.console_errors.is_empty(),
            "{:?}",
            result.console_errors
        );
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("result.json")).unwrap()).unwrap();
        assert_eq!(saved["outcome"], "passed");
        for shot in &result.screenshots {
            assert_png(shot);
        }
    }
    // Run the counter again in the same browser: a fresh context starts at "Count: 0".
    let list = fixture_features();
    let again = runner().run_feature(
        list.get("counter").unwrap(),
        &url,
        &evidence.path().join("again"),
    );
    assert_eq!(again.outcome, Outcome::Passed, "{:?}", again.failure);
}

#[test]
fn each_injected_bug_fails_at_the_right_check() {
    let bugs = [
        ("counter", "count += 1;", "count += 2;", 4, "Count: 4"),
        (
            "signup-validation",
            "error.classList.remove('hidden');",
            "",
            3,
            "none visible",
        ),
        (
            "todo-add-remove",
            "items.appendChild(li);",
            "",
            5,
            "0 element(s)",
        ),
        (
            "details-toggle",
            "panel.hidden = !panel.hidden;",
            "panel.hidden = panel.hidden;",
            3,
            "1 visible",
        ),
        (
            "about-route",
            "href=\"#/about\"",
            "href=\"#/abuot\"",
            2,
            "#/abuot",
        ),
    ];
    let list = fixture_features();
    for (id, from, to, index, found) in bugs {
        let app = common::buggy_copy(from, to);
        let url = common::serve_dir(app.path().to_path_buf());
        let evidence = tempfile::tempdir().unwrap();
        let result = runner().run_feature(list.get(id).unwrap(), &url, evidence.path());
        assert_eq!(result.outcome, Outcome::Failed, "{id} should fail");
        let failure = result.failure.as_ref().unwrap();
        assert_eq!(failure.index, index, "{id}: {failure:?}");
        assert!(failure.found.contains(found), "{id}: {failure:?}");
        let expected_action: Check = list.get(id).unwrap().checks[index].clone();
        assert_eq!(failure.action, expected_action.to_compact_json());
        let shot = failure.screenshot.as_ref().unwrap();
        assert_eq!(shot, &evidence.path().join("failure.png"));
        assert_png(shot);
        assert!(result.screenshots.contains(shot));
    }
}

#[test]
fn failure_message_says_expected_and_found() {
    let url = common::serve_dir(common::fixture_app());
    let feature = feature(
        "count-message",
        r##"[{"goto":"/"},{"click":"#inc"},
        {"expect_text":{"selector":"#count","contains":"2 items"}}]"##,
    );
    let evidence = tempfile::tempdir().unwrap();
    let failure = runner()
        .run_feature(&feature, &url, evidence.path())
        .failure
        .unwrap();
    assert_eq!(
        failure.to_string(),
        r##"check #2 {"expect_text":{"selector":"#count","contains":"2 items"}}: expected "#count" contains "2 items"; found "Count: 1""##
    );
}

#[test]
fn a_selector_that_never_appears_fails_within_the_action_timeout() {
    let url = common::serve_dir(common::fixture_app());
    let feature = feature(
        "never",
        r##"[{"goto":"/"},{"click":"#inc"},{"click":"#does-not-exist"},{"click":"#inc"}]"##,
    );
    let evidence = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let result = runner().run_feature(&feature, &url, evidence.path());
    let elapsed = started.elapsed();
    let failure = result.failure.unwrap();
    assert_eq!(failure.index, 2);
    assert!(failure.found.contains("no element matches"), "{failure:?}");
    // Bounded, not a benchmark: the 3 s action timeout plus set-up, far from a hang.
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    assert_png(&evidence.path().join("failure.png"));
}

#[test]
fn console_errors_during_load_are_collected() {
    let url = common::serve_dir(common::fixture_app());
    let feature = feature(
        "errors",
        r##"[{"goto":"/errors.html"},{"expect_text":{"selector":"#status","equals":"loaded"}},{"expect_no_console_errors":true}]"##,
    );
    let evidence = tempfile::tempdir().unwrap();
    let result = runner().run_feature(&feature, &url, evidence.path());
    let failure = result.failure.unwrap();
    assert_eq!(failure.index, 2);
    assert!(failure.found.contains("boom during load"), "{failure:?}");
    assert!(
        result
            .console_errors
            .iter()
            .any(|e| e.contains("undefinedFunction")),
        "{:?}",
        result.console_errors
    );
}

#[test]
fn unreachable_app_and_bad_selector_fail_clearly() {
    let closed_port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = format!("http://127.0.0.1:{closed_port}/");
    let feature_a = feature("down", r#"[{"goto":"/"}]"#);
    let evidence = tempfile::tempdir().unwrap();
    let failure = runner()
        .run_feature(&feature_a, &down, evidence.path())
        .failure
        .unwrap();
    assert!(
        failure.found.contains("ERR_CONNECTION_REFUSED"),
        "{failure:?}"
    );

    let url = common::serve_dir(common::fixture_app());
    let feature_b = feature("bad-selector", r##"[{"goto":"/"},{"click":"#inc["}]"##);
    let failure = runner()
        .run_feature(&feature_b, &url, evidence.path())
        .failure
        .unwrap();
    assert!(
        failure.found.contains("invalid CSS selector"),
        "{failure:?}"
    );
}

#[test]
fn feature_without_checks_is_not_verified() {
    let evidence = tempfile::tempdir().unwrap();
    let result = runner().run_feature(
        &feature("none", "[]"),
        "http://127.0.0.1:9/",
        evidence.path(),
    );
    assert_eq!(result.outcome, Outcome::NoChecks);
}

fn feature(id: &str, checks: &str) -> Feature {
    Feature {
        id: id.to_owned(),
        category: "functional".to_owned(),
        description: id.to_owned(),
        steps: vec!["step".to_owned()],
        checks: serde_json::from_str(checks).unwrap(),
        passes: false,
        extra: serde_json::Map::new(),
    }
}
