//! An HTTP API, not a web page: `baton demo --example notes-api` builds a JSON API whose
//! features are verified by `http` checks only, against the app its `init.sh` starts, with
//! no browser; every feature ends passing, with each request and answer kept as evidence.

use crate::support::{demo_example, feature_list};

#[test]
fn the_api_example_is_built_and_verified_by_http_checks() {
    let root = tempfile::tempdir().unwrap();
    let (out, stdout) = demo_example(root.path(), "notes-api", "notes");
    assert!(stdout.contains("features   4/4 passing"), "{stdout}");

    let list = feature_list(&out);
    assert_eq!(list.summary(), "4/4 passing");
    assert!(list.features.iter().all(|f| f.passes && f.is_checked()));
    let checks: Vec<_> = list.features.iter().flat_map(|f| &f.checks).collect();
    assert!(
        checks
            .iter()
            .all(|check| !check.needs_browser() && check.needs_app()),
        "every check is an http check"
    );
    // Evidence: the exchange of each http check, linked from result.json.
    let runs = std::fs::read_dir(out.join(".baton/evidence/delete-note")).unwrap();
    let newest = runs.flatten().map(|e| e.path()).max().unwrap();
    let result = std::fs::read_to_string(newest.join("result.json")).unwrap();
    assert!(
        result.contains("\"passed\"") && result.contains("check-2-http.txt"),
        "{result}"
    );
    let exchange = std::fs::read_to_string(newest.join("check-2-http.txt")).unwrap();
    assert!(
        exchange.contains("GET /notes/scratch")
            && exchange.contains("404")
            && exchange.contains("no note named scratch"),
        "{exchange}"
    );
    // The app was started for the checks, and its log kept.
    let logs = std::fs::read_dir(out.join(".baton/logs")).unwrap().count();
    assert!(logs > 0, "the app's log is kept");
}
