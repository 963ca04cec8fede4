//! The oracle: every page of the pattern corpus (`tests/fixtures/patterns`, one real-app
//! pattern each) is checked by baton and by Playwright (playwright-core driving the same
//! Chromium through `tests/oracle/playwright_oracle.js`). Both must reach the verdict the
//! corpus states, and fail at the same check. With `BATON_REQUIRE_MODEL=1` (CI) a missing
//! Node.js or playwright-core fails the test instead of skipping it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use baton_verify::{BrowserOptions, BrowserRunner, FeatureList, Outcome};
use serde_json::Value;

const ACTION_TIMEOUT: Duration = Duration::from_secs(3);

fn playwright_dir() -> PathBuf {
    std::env::var_os("BATON_PLAYWRIGHT_DIR").map_or_else(
        || Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(".cache/baton/playwright"),
        PathBuf::from,
    )
}

/// Why the oracle cannot run here, if it cannot.
fn missing_oracle() -> Option<String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|out| out.status.success()) {
        return Some("node is not on PATH (install Node.js 18+)".to_owned());
    }
    let package = playwright_dir().join("node_modules/playwright-core/package.json");
    if !package.is_file() {
        return Some(format!(
            "{} is missing; run scripts/setup-playwright.sh (or set BATON_PLAYWRIGHT_DIR)",
            package.display()
        ));
    }
    None
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Verdict {
    passed: bool,
    /// The failing check's index in `checks`.
    index: Option<u64>,
    detail: String,
}

fn playwright_verdicts(features: &Path, url: &str) -> Vec<(String, Verdict)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/playwright_oracle.js");
    let output = Command::new("node")
        .arg(&script)
        .arg(features)
        .arg(url)
        .arg(ACTION_TIMEOUT.as_millis().to_string())
        .env("BATON_PLAYWRIGHT_DIR", playwright_dir())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the Playwright oracle failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let verdicts: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    verdicts
        .into_iter()
        .map(|v| {
            (
                v["id"].as_str().unwrap().to_owned(),
                Verdict {
                    passed: v["outcome"] == "passed",
                    index: v["index"].as_u64(),
                    detail: v["error"].as_str().unwrap_or_default().to_owned(),
                },
            )
        })
        .collect()
}

#[test]
fn baton_agrees_with_playwright_on_every_pattern() {
    if let Some(why) = missing_oracle() {
        assert!(
            std::env::var("BATON_REQUIRE_MODEL").as_deref() != Ok("1"),
            "the Playwright oracle cannot run: {why}. CI (BATON_REQUIRE_MODEL=1) never skips it."
        );
        eprintln!("skipping the Playwright oracle: {why}");
        return;
    }
    let features_path = common::fixture_patterns().join("features.json");
    let list = FeatureList::load(&features_path).unwrap();
    assert!(list.features.len() >= 20, "the corpus shrank");
    let url = common::serve_dir(common::fixture_patterns());

    // Playwright runs in its own process while baton checks the same pages.
    let oracle = {
        let (features_path, url) = (features_path.clone(), url.clone());
        std::thread::spawn(move || playwright_verdicts(&features_path, &url))
    };
    let runner = BrowserRunner::launch(&BrowserOptions {
        action_timeout: ACTION_TIMEOUT,
        ..BrowserOptions::default()
    })
    .unwrap();
    let evidence = tempfile::tempdir().unwrap();
    let baton: Vec<Verdict> = list
        .features
        .iter()
        .map(|feature| {
            let result = runner.run_feature(feature, &url, &evidence.path().join(&feature.id));
            Verdict {
                passed: result.outcome == Outcome::Passed,
                index: result.failure.as_ref().map(|f| f.index as u64),
                detail: result.failure.map(|f| f.to_string()).unwrap_or_default(),
            }
        })
        .collect();
    let playwright = oracle.join().unwrap();

    let mut disagreements = Vec::new();
    for ((feature, ours), (id, theirs)) in list.features.iter().zip(&baton).zip(&playwright) {
        assert_eq!(&feature.id, id, "the oracle answered out of order");
        let stated = feature.extra["expect"] == "passed";
        if ours.passed != stated || theirs.passed != stated || ours.index != theirs.index {
            disagreements.push(format!(
                "{id}: corpus says {}, baton {} (at {:?}: {}), Playwright {} (at {:?}: {})",
                if stated { "passed" } else { "failed" },
                if ours.passed { "passed" } else { "failed" },
                ours.index,
                ours.detail,
                if theirs.passed { "passed" } else { "failed" },
                theirs.index,
                theirs.detail,
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} patterns disagree:\n{}",
        disagreements.len(),
        list.features.len(),
        disagreements.join("\n")
    );
}
