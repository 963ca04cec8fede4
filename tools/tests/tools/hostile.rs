//! Hostile inputs a model may send: odd files, odd paths, odd patterns. Each ends in a
//! clear error or a sane result, never a hang, a wrong file or a file read whole.

use baton_tools::ToolConfig;
use serde_json::json;

use crate::common::Project;

#[test]
fn device_symlinks_folders_and_ranges_past_the_end_are_refused() {
    let project = Project::new();
    project.symlink(std::path::Path::new("/dev/zero"), "zero");
    project.write("two.txt", "x\ny\n");
    let error = project.err("read_file", &json!({ "path": "zero" }));
    assert!(error.contains("points outside the project"), "{error}");
    let error = project.err("read_file", &json!({ "path": "." }));
    assert!(error.contains("is a folder"), "{error}");
    let error = project.err(
        "read_file",
        &json!({ "path": "two.txt", "offset": 5, "limit": 2 }),
    );
    assert!(
        error.contains("has 2 lines; offset 5 is past the end"),
        "{error}"
    );
    let error = project.err("read_file", &json!({ "path": "two.txt", "offset": -1 }));
    assert!(error.contains("offset"), "{error}");
}

#[test]
fn a_file_that_is_one_huge_line_is_cut_not_loaded() {
    let project = Project::with_config(ToolConfig {
        read_max_bytes: 1000,
        ..ToolConfig::default()
    });
    project.write("min.js", "a".repeat(200_000));
    let text = project.ok(
        "read_file",
        &json!({ "path": "min.js", "offset": 1, "limit": 5 }),
    );
    assert!(
        text.starts_with(&format!("     1\t{}", "a".repeat(1000))),
        "{text}"
    );
    assert!(
        text.ends_with(
            "[line 1 is longer than the read limit and was cut; see the rest with grep or bash]"
        ),
        "{text}"
    );
}

#[test]
fn a_file_that_is_not_utf8_is_shown_with_a_note() {
    let project = Project::new();
    project.write("latin1.txt", b"caf\xe9\nok\n");
    let text = project.ok("read_file", &json!({ "path": "latin1.txt" }));
    assert!(
        text.starts_with("     1\tcaf\u{FFFD}\n     2\tok\n"),
        "{text}"
    );
    assert!(text.contains("not valid UTF-8"), "{text}");
    project.write("utf8.txt", "café\n");
    let text = project.ok("read_file", &json!({ "path": "utf8.txt" }));
    assert!(!text.contains("UTF-8"), "{text}");
}

#[test]
fn write_file_refuses_a_path_that_names_a_folder() {
    let project = Project::new();
    let error = project.err("write_file", &json!({ "path": "src/", "content": "x" }));
    assert!(error.contains("names a folder"), "{error}");
    assert!(!project.path("src").exists(), "no file named src was made");
}

#[test]
fn edit_file_refuses_files_too_big_to_edit_in_memory() {
    let project = Project::new();
    project.write("huge.log", "");
    // A sparse file: the size is what matters, and it costs no disk.
    std::fs::File::options()
        .write(true)
        .open(project.path("huge.log"))
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let error = project.err(
        "edit_file",
        &json!({ "path": "huge.log", "old_string": "a", "new_string": "b" }),
    );
    assert!(
        error.contains("limit of edit_file") && error.contains("sed"),
        "{error}"
    );
}

#[test]
fn patterns_that_climb_out_are_explained() {
    let project = Project::new();
    project.write("a.txt", "x\n");
    for pattern in ["../*", "src/../../etc/*"] {
        let error = project.err("glob", &json!({ "pattern": pattern }));
        assert!(error.contains("contains `..`"), "{error}");
    }
    let error = project.err("grep", &json!({ "pattern": "x", "glob": "../*.txt" }));
    assert!(error.contains("contains `..`"), "{error}");
    assert_eq!(
        project.ok("glob", &json!({ "pattern": "..a*" })),
        "no files match \"..a*\" under . (`*` does not cross folders: use \"**/..a*\" to search every folder)"
    );
}

#[test]
fn a_symlink_loop_ends_the_walk() {
    let project = Project::new();
    project.write("a.txt", "needle\n");
    project.symlink(std::path::Path::new("."), "loop");
    assert_eq!(project.ok("glob", &json!({ "pattern": "**/*" })), "a.txt");
    assert_eq!(
        project.ok("grep", &json!({ "pattern": "needle" })),
        "a.txt:1:needle\n"
    );
}

#[test]
fn bash_output_that_is_not_utf8_and_exit_137_are_reported() {
    let project = Project::new();
    let error = project.err(
        "bash",
        &json!({ "command": "printf 'ok\\xff\\n'; cat; exit 137" }),
    );
    assert_eq!(error, "ok\u{FFFD}\nexit code: 137");
}
