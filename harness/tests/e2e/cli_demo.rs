//! A project that is not a web page: `baton demo --example wordy-cli` builds a command-line
//! tool whose features are verified by `run` checks only, so no app is started and no
//! browser is launched; every feature ends passing on its checks, with transcripts as evidence.

use crate::support::{demo_example, feature_list};

#[test]
fn the_cli_example_is_built_and_verified_by_run_checks() {
    let root = tempfile::tempdir().unwrap();
    let (out, stdout) = demo_example(root.path(), "wordy-cli", "wordy");
    assert!(stdout.contains("features   3/3 passing"), "{stdout}");

    let list = feature_list(&out);
    assert_eq!(list.summary(), "3/3 passing");
    assert!(list.features.iter().all(|f| f.passes && f.is_checked()));
    assert!(
        list.features
            .iter()
            .flat_map(|f| &f.checks)
            .all(|check| !check.needs_browser() && !check.needs_app())
    );
    // Evidence: a transcript of the command per check, linked from result.json.
    let runs = std::fs::read_dir(out.join(".baton/evidence/top-words")).unwrap();
    let newest = runs.flatten().map(|e| e.path()).max().unwrap();
    let result = std::fs::read_to_string(newest.join("result.json")).unwrap();
    assert!(
        result.contains("\"passed\"") && result.contains("check-0-run.txt"),
        "{result}"
    );
    let transcript = std::fs::read_to_string(newest.join("check-0-run.txt")).unwrap();
    assert!(
        transcript.contains("$ python3 wordy.py top 2 sample.txt") && transcript.contains("the 3"),
        "{transcript}"
    );
    assert!(
        !out.join(".baton/logs").exists()
            || std::fs::read_dir(out.join(".baton/logs"))
                .unwrap()
                .next()
                .is_none(),
        "no app may be started for run-only features"
    );
}
