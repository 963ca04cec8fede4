//! A whole `verify_features` run: baton starts the fixture app with its start command,
//! runs the checks in one Chromium, stops the app, and leaves evidence in the project.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use baton_verify::{BrowserOptions, FeatureList, Outcome, evidence_root, verify_features};

#[test]
fn verify_features_starts_the_app_and_writes_evidence() {
    let project = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(common::fixture_app()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), project.path().join(entry.file_name())).unwrap();
    }
    let list = FeatureList::load(&project.path().join("features.json")).unwrap();
    let ids = vec!["details-toggle".to_owned(), "about-route".to_owned()];
    let report = verify_features(
        project.path(),
        &list,
        Some(&ids),
        None,
        &BrowserOptions::default(),
    )
    .unwrap();

    assert_eq!(report.results.len(), 2);
    for result in &report.results {
        assert_eq!(result.outcome, Outcome::Passed, "{:?}", result.failure);
        let expected_dir = evidence_root(project.path())
            .join(&result.feature_id)
            .join(&report.run);
        assert_eq!(result.evidence_dir, expected_dir);
        assert!(expected_dir.join("result.json").is_file());
    }
    let shot = &report.results[0].screenshots[0];
    assert!(shot.ends_with("panel-shown.png"), "{shot:?}");
    assert!(std::fs::read(shot).unwrap().starts_with(b"\x89PNG"));
    assert_eq!(report.passed_ids(), ["details-toggle", "about-route"]);

    // The app was stopped: its port no longer accepts connections.
    let port: u16 = report
        .base_url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "app still listening on {port}"
    );
    let log = std::fs::read_to_string(report.app_log.as_ref().unwrap()).unwrap();
    assert!(log.contains("GET /"), "{log}");

    let unknown = vec!["nope".to_owned()];
    let error = verify_features(
        project.path(),
        &list,
        Some(&unknown),
        None,
        &BrowserOptions::default(),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("no feature with id nope"),
        "{error}"
    );
}
