//! `baton run` on projects whose own files are broken: each is bad input (exit code 2)
//! with a message that names the fix, and the user's files are left as they were.

use std::path::Path;
use std::process::Command;

/// Runs `baton run` on `project` with no model reachable: every case here must be refused
/// before a model is asked for anything.
fn run(project: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("run")
        .arg(project)
        .args([
            "--no-memory",
            "--no-verify",
            "--base-url",
            "http://127.0.0.1:9/v1",
        ])
        .args(extra)
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn project_with(list: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app_spec.md"), "# A counter\n").unwrap();
    std::fs::write(dir.path().join("feature_list.json"), list).unwrap();
    dir
}

const FEATURE: &str = r#"{"id": "a", "category": "c", "description": "d", "steps": ["s"], "checks": [], "passes": false}"#;

#[test]
fn a_broken_feature_list_is_refused_and_kept() {
    let duplicated = format!("[{FEATURE}, {FEATURE}]");
    for (list, expected) in [
        ("{not json", "feature_list.json is invalid"),
        ("42", "expected `[`"),
        (r#"{"features": 3}"#, "feature_list.json is invalid"),
        (duplicated.as_str(), "repeated feature ids (\"a\")"),
    ] {
        let project = project_with(list);
        let (code, stderr) = run(project.path(), &[]);
        assert_eq!(code, Some(2), "{list}: {stderr}");
        assert!(stderr.contains(expected), "{list}: {stderr}");
        assert!(stderr.contains("move it away"), "{list}: {stderr}");
        let kept = std::fs::read_to_string(project.path().join("feature_list.json")).unwrap();
        assert_eq!(kept, list, "the user's list must not be touched");
        assert!(
            !project.path().join(".baton").exists(),
            "no thread is created for bad input"
        );
    }
}

#[test]
fn a_spec_that_is_not_text_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("app_spec.md");
    for (content, expected) in [
        (&b"\x7fELF\x02\x01\x01\0\0\0"[..], "binary file"),
        (&b"caf\xe9 au lait\n"[..], "not UTF-8"),
        (&b"  \n\n"[..], "is empty"),
    ] {
        std::fs::write(&spec, content).unwrap();
        let (code, stderr) = run(dir.path(), &[]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
    std::fs::remove_file(&spec).unwrap();
    std::fs::create_dir(&spec).unwrap();
    let (code, stderr) = run(dir.path(), &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("is a folder"), "{stderr}");
}

#[test]
fn a_missing_spec_file_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.md");
    let (code, stderr) = run(dir.path(), &["--spec", missing.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
}
