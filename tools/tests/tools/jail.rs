//! The jail: escapes refused by every path-taking tool, symlinks checked, and a
//! property test that no generated path resolves outside the root.

use std::cell::Cell;
use std::fs;
use std::path::{Component, Path};

use baton_tools::{Jail, ToolError};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;

use crate::common::Project;

/// Every way of naming something outside the project (or in harness state).
fn hostile_paths(project: &Project) -> Vec<String> {
    project.symlink(project.outside.path(), "link_out");
    project.symlink(&project.outside.path().join("secret.txt"), "link_out_file");
    project.symlink(&project.path(".git/config"), "link_git_config");
    vec![
        "../x".into(),
        "a/../../x".into(),
        "/etc/passwd".into(),
        project
            .outside
            .path()
            .join("secret.txt")
            .to_string_lossy()
            .into_owned(),
        "link_out/secret.txt".into(),
        "link_out_file".into(),
        "link_out/new.txt".into(),
        ".git/config".into(),
        "link_git_config".into(),
        ".baton/state.json".into(),
        String::new(),
        "a\0b".into(),
    ]
}

#[test]
fn every_file_tool_refuses_paths_outside_the_project() {
    let project = Project::new();
    project.write("a/keep.txt", "x");
    for path in hostile_paths(&project) {
        let calls = [
            ("read_file", json!({ "path": path })),
            ("write_file", json!({ "path": path, "content": "pwned" })),
            (
                "edit_file",
                json!({ "path": path, "old_string": "secret", "new_string": "pwned" }),
            ),
            ("glob", json!({ "pattern": "*", "path": path })),
            ("grep", json!({ "pattern": "secret", "path": path })),
        ];
        for (tool, args) in calls {
            let error = project.err(tool, &args);
            assert!(
                !error.contains("outside secret"),
                "{tool} {path:?} leaked: {error}"
            );
            let escaped = path.escape_debug().to_string();
            assert!(
                path.is_empty() || error.contains(&escaped),
                "{tool} {path:?}: error does not name the path: {error}"
            );
        }
    }
    assert_eq!(
        fs::read_to_string(project.outside.path().join("secret.txt")).unwrap(),
        "outside secret\n"
    );
    assert!(!project.outside.path().join("new.txt").exists());
    assert_eq!(project.read(".git/config"), "[core]\n");
}

#[test]
fn errors_say_why() {
    let project = Project::new();
    project.symlink(project.outside.path(), "link_out");
    let cases = [
        ("../x", "leaves the project"),
        ("/etc/passwd", "is absolute"),
        ("link_out/secret.txt", "symbolic link that points outside"),
        (".git/config", "belongs to the harness"),
        (".baton/x", "belongs to the harness"),
        ("", "path is empty"),
    ];
    for (path, why) in cases {
        let error = project.err("read_file", &json!({ "path": path }));
        assert!(error.contains(why), "{path:?}: {error}");
    }
}

#[test]
fn symlinks_that_stay_inside_are_followed() {
    let project = Project::new();
    project.write("real/file.txt", "inside\n");
    project.symlink(&project.path("real"), "alias");
    assert!(
        project
            .ok("read_file", &json!({ "path": "alias/file.txt" }))
            .contains("inside")
    );
    let output = project.call(
        "write_file",
        &json!({ "path": "alias/new.txt", "content": "n" }),
    );
    assert!(output.ok, "{}", output.content);
    assert_eq!(
        output.touched,
        vec!["real/new.txt".to_owned()],
        "touched names the real file"
    );
}

#[test]
fn writing_through_a_dangling_symlink_is_refused() {
    let project = Project::new();
    project.symlink(&project.outside.path().join("not-yet.txt"), "dangling");
    let error = project.err("write_file", &json!({ "path": "dangling", "content": "x" }));
    assert!(error.contains("does not exist"), "{error}");
    assert!(!project.outside.path().join("not-yet.txt").exists());
}

#[test]
fn a_file_used_as_a_folder_is_named() {
    let project = Project::new();
    project.write("notes.txt", "x");
    let error = project.err(
        "write_file",
        &json!({ "path": "notes.txt/inner.txt", "content": "x" }),
    );
    assert!(
        error.contains("\"notes.txt\" is a file, not a folder"),
        "{error}"
    );
}

#[test]
fn relative_uses_slashes_and_dot_for_the_root() {
    let project = Project::new();
    assert_eq!(project.jail.relative(project.root()), ".");
    assert_eq!(
        project
            .jail
            .relative(&project.root().join("a").join("b.rs")),
        "a/b.rs"
    );
}

#[test]
fn a_missing_root_is_a_clear_error() {
    let error = Jail::new(Path::new("/definitely/not/here")).unwrap_err();
    assert!(matches!(error, ToolError::BadRoot { .. }));
    assert!(error.to_string().contains("/definitely/not/here"));
}

/// A root full of traps: links inside, outside, up, to harness state, dangling, looping.
fn trap_root() -> (tempfile::TempDir, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let r = root.path();
    fs::create_dir_all(r.join("a/b")).unwrap();
    fs::create_dir_all(r.join(".git")).unwrap();
    fs::write(r.join("f"), "file").unwrap();
    fs::write(r.join("a/b/f"), "file").unwrap();
    fs::write(outside.path().join("f"), "outside").unwrap();
    let link =
        |target: &Path, name: &str| std::os::unix::fs::symlink(target, r.join(name)).unwrap();
    link(Path::new("a"), "in");
    link(Path::new(".."), "up");
    link(Path::new("../../.."), "a/b/up2");
    link(outside.path(), "out");
    link(Path::new(".git"), "gitlink");
    link(Path::new("/nonexistent/x"), "dangling");
    link(Path::new("loop"), "loop");
    (root, outside)
}

fn lies_inside(root: &Path, path: &Path) -> bool {
    path.starts_with(root)
        && !path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        && !path
            .strip_prefix(root)
            .unwrap()
            .components()
            .any(|c| c.as_os_str() == ".git")
}

#[test]
fn no_generated_path_resolves_outside_the_root() {
    let (root, _outside) = trap_root();
    let jail = Jail::new(root.path()).unwrap();
    let segment = prop::sample::select(vec![
        "..", ".", "a", "b", "f", "in", "up", "up2", "out", "gitlink", "dangling", "loop", "new",
        "",
    ]);
    let paths = prop::collection::vec(segment, 1..7).prop_map(|segments| segments.join("/"));
    // The traps work: each is refused when used directly, and in-project links resolve.
    for trap in ["out/f", "up", "a/b/up2", "gitlink", "dangling", "loop"] {
        assert!(jail.resolve_read(trap).is_err(), "read {trap}");
        assert!(
            jail.resolve_write(&format!("{trap}/new")).is_err(),
            "write {trap}/new"
        );
    }
    assert!(jail.resolve_write("dangling").is_err());
    assert_eq!(
        jail.resolve_read("in/b/f").unwrap(),
        jail.root().join("a/b/f")
    );
    let (reads, writes, refusals) = (Cell::new(0), Cell::new(0), Cell::new(0));
    let mut runner = TestRunner::new(Config {
        cases: 2000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&paths, |path| {
            let read = jail.resolve_read(&path);
            let write = jail.resolve_write(&path);
            refusals.set(refusals.get() + usize::from(read.is_err()) + usize::from(write.is_err()));
            if let Ok(resolved) = read {
                reads.set(reads.get() + 1);
                prop_assert!(
                    lies_inside(jail.root(), &resolved),
                    "read {path:?} -> {resolved:?}"
                );
                prop_assert!(resolved.exists());
            }
            if let Ok(resolved) = write {
                writes.set(writes.get() + 1);
                prop_assert!(
                    lies_inside(jail.root(), &resolved),
                    "write {path:?} -> {resolved:?}"
                );
                let existing = resolved
                    .ancestors()
                    .find(|p| p.exists())
                    .unwrap()
                    .canonicalize()
                    .unwrap();
                prop_assert!(
                    existing.starts_with(jail.root()),
                    "write {path:?} -> {resolved:?} via {existing:?}"
                );
            }
            Ok(())
        })
        .unwrap();
    // Guards against a generator that only ever produces refused paths.
    assert!(
        reads.get() > 100 && writes.get() > 100 && refusals.get() > 100,
        "reads {reads:?} writes {writes:?} refusals {refusals:?}"
    );
}
