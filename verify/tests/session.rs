//! The agent's browser tools against the fixture app: one tab kept across calls.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use baton_verify::{BrowserOptions, BrowserSession, VerifyError};

#[test]
fn browser_tools_keep_one_tab_across_calls() {
    let url = common::serve_dir(common::fixture_app());
    let session = BrowserSession::new(BrowserOptions::default());
    assert_eq!(session.navigate(&url).unwrap(), "Fixture app");

    session.click("#inc").unwrap();
    session.click("#inc").unwrap();
    assert_eq!(session.visible_text(Some("#count")).unwrap(), "Count: 2");

    session.fill("#email", "not-an-email").unwrap();
    session.click("#submit").unwrap();
    let page = session.visible_text(None).unwrap();
    assert!(page.contains("Please enter a valid email"), "{page}");

    let dir = tempfile::tempdir().unwrap();
    let shot = session
        .screenshot(&dir.path().join("shots/page.png"))
        .unwrap();
    assert!(std::fs::read(shot).unwrap().starts_with(b"\x89PNG"));

    let error = session.click("#missing").unwrap_err();
    assert!(matches!(error, VerifyError::Action { .. }), "{error:?}");
    assert!(error.to_string().contains("no element matches"), "{error}");
    let error = session.fill("#count", "x").unwrap_err();
    assert!(error.to_string().contains("not an input"), "{error}");

    session.navigate(&format!("{url}errors.html")).unwrap();
    let log = session.console_log();
    assert!(
        log.iter().any(|line| line == "[error] boom during load"),
        "{log:?}"
    );
    assert!(
        log.iter().any(|line| line.starts_with("[exception]")),
        "{log:?}"
    );
}
