//! read_file, write_file and edit_file.

use baton_tools::ToolConfig;
use serde_json::json;

use crate::common::Project;

#[test]
fn read_file_numbers_lines_like_cat_n() {
    let project = Project::new();
    project.write("src/a.txt", "first\nsecond\r\nthird");
    let text = project.ok("read_file", &json!({ "path": "src/a.txt" }));
    assert_eq!(text, "     1\tfirst\n     2\tsecond\n     3\tthird\n");
}

#[test]
fn read_file_ranges_say_where_they_are() {
    let project = Project::new();
    let body = (1..=10)
        .map(|n| format!("line {n}\n"))
        .collect::<Vec<_>>()
        .concat();
    project.write("ten.txt", &body);
    let text = project.ok(
        "read_file",
        &json!({ "path": "ten.txt", "offset": 4, "limit": 2 }),
    );
    assert_eq!(text, "     4\tline 4\n     5\tline 5\n[lines 4–5 of 10]");
    let tail = project.ok("read_file", &json!({ "path": "ten.txt", "offset": 9 }));
    assert_eq!(tail, "     9\tline 9\n    10\tline 10\n[lines 9–10 of 10]");
    let error = project.err("read_file", &json!({ "path": "ten.txt", "offset": 11 }));
    assert!(
        error.contains("has 10 lines; offset 11 is past the end"),
        "{error}"
    );
    let error = project.err("read_file", &json!({ "path": "ten.txt", "offset": 0 }));
    assert!(error.contains("1-based"), "{error}");
}

#[test]
fn read_file_refuses_big_files_unless_a_range_is_asked() {
    let project = Project::with_config(ToolConfig {
        read_max_bytes: 100,
        ..ToolConfig::default()
    });
    let body = (1..=50)
        .map(|n| format!("row {n:02}\n"))
        .collect::<Vec<_>>()
        .concat();
    project.write("big.txt", &body);
    let error = project.err("read_file", &json!({ "path": "big.txt" }));
    assert!(
        error.contains("350 bytes, more than the 100-byte limit"),
        "{error}"
    );
    assert!(error.contains("offset and limit"), "{error}");
    let part = project.ok(
        "read_file",
        &json!({ "path": "big.txt", "offset": 2, "limit": 3 }),
    );
    assert_eq!(
        part,
        "     2\trow 02\n     3\trow 03\n     4\trow 04\n[lines 2–4 of 50]"
    );
    let capped = project.ok("read_file", &json!({ "path": "big.txt", "offset": 1 }));
    assert!(capped.ends_with("continue with offset: 15]"), "{capped}");
    assert!(
        capped.contains("    14\trow 14\n") && !capped.contains("row 15"),
        "{capped}"
    );
}

#[test]
fn read_file_explains_binary_missing_folder_and_empty() {
    let project = Project::new();
    project.write("img.png", b"\x89PNG\0\0\x01");
    project.write("empty.txt", "");
    project.write("dir/x.txt", "x");
    assert!(
        project
            .err("read_file", &json!({ "path": "img.png" }))
            .contains("binary")
    );
    let missing = project.err("read_file", &json!({ "path": "src/nope.rs" }));
    assert!(
        missing.contains("\"src/nope.rs\" does not exist") && missing.contains("glob"),
        "{missing}"
    );
    assert!(
        project
            .err("read_file", &json!({ "path": "dir" }))
            .contains("is a folder")
    );
    assert!(
        project
            .ok("read_file", &json!({ "path": "empty.txt" }))
            .contains("is empty")
    );
}

#[test]
fn write_file_creates_folders_and_reports_bytes() {
    let project = Project::new();
    let output = project.call(
        "write_file",
        &json!({ "path": "./deep/er/new.txt", "content": "héllo" }),
    );
    assert!(output.ok, "{}", output.content);
    assert_eq!(output.content, "created deep/er/new.txt (6 bytes)");
    assert_eq!(output.touched, vec!["deep/er/new.txt".to_owned()]);
    assert!(!output.may_have_touched_anything);
    assert_eq!(project.read("deep/er/new.txt"), "héllo");
    let again = project.ok(
        "write_file",
        &json!({ "path": "deep/er/new.txt", "content": "" }),
    );
    assert_eq!(again, "replaced deep/er/new.txt (0 bytes)");
    assert_eq!(project.read("deep/er/new.txt"), "");
    assert!(
        project
            .err("write_file", &json!({ "path": "deep", "content": "x" }))
            .contains("is a folder")
    );
}

#[test]
fn edit_file_replaces_a_unique_match() {
    let project = Project::new();
    project.write("a.rs", "fn a() {}\nfn b() {}\n");
    let output = project.call(
        "edit_file",
        &json!({ "path": "a.rs", "old_string": "fn b", "new_string": "fn c" }),
    );
    assert!(output.ok, "{}", output.content);
    assert_eq!(
        output.content,
        "edited a.rs: replaced 1 occurrence (at line 2)"
    );
    assert_eq!(output.touched, vec!["a.rs".to_owned()]);
    assert_eq!(project.read("a.rs"), "fn a() {}\nfn c() {}\n");
}

#[test]
fn edit_file_zero_matches_is_an_error_with_hints() {
    let project = Project::new();
    project.write("a.py", "def f():\n    return 1\n");
    let error = project.err(
        "edit_file",
        &json!({ "path": "a.py", "old_string": "def g()", "new_string": "x" }),
    );
    assert!(error.contains("was not found in \"a.py\""), "{error}");
    let error = project.err(
        "edit_file",
        &json!({ "path": "a.py", "old_string": "def f():\n  return 1", "new_string": "x" }),
    );
    assert!(
        error.contains("differs only in whitespace exists at line 1"),
        "{error}"
    );
    let error = project.err(
        "edit_file",
        &json!({ "path": "a.py", "old_string": "     2\t    return 1", "new_string": "x" }),
    );
    assert!(error.contains("line-number prefixes"), "{error}");
    assert_eq!(
        project.read("a.py"),
        "def f():\n    return 1\n",
        "a failed edit changes nothing"
    );
}

#[test]
fn edit_file_several_matches_needs_replace_all() {
    let project = Project::new();
    project.write("a.txt", "x = 1\ny = 2\nx = 1\n\nx = 1\n");
    let error = project.err(
        "edit_file",
        &json!({ "path": "a.txt", "old_string": "x = 1", "new_string": "x = 9" }),
    );
    assert!(
        error.contains("occurs 3 times") && error.contains("lines 1, 3, 5"),
        "{error}"
    );
    assert!(error.contains("replace_all"), "{error}");
    let done = project.ok("edit_file", &json!({ "path": "a.txt", "old_string": "x = 1", "new_string": "x = 9", "replace_all": true }));
    assert!(done.contains("replaced 3 occurrences"), "{done}");
    assert_eq!(project.read("a.txt"), "x = 9\ny = 2\nx = 9\n\nx = 9\n");
}

#[test]
fn edit_file_refuses_no_op_and_empty_edits() {
    let project = Project::new();
    project.write("a.txt", "same");
    assert!(
        project
            .err(
                "edit_file",
                &json!({ "path": "a.txt", "old_string": "same", "new_string": "same" })
            )
            .contains("are the same")
    );
    assert!(
        project
            .err(
                "edit_file",
                &json!({ "path": "a.txt", "old_string": "", "new_string": "x" })
            )
            .contains("empty")
    );
}

#[test]
fn edit_file_keeps_windows_line_endings() {
    let project = Project::new();
    project.write("w.txt", "one\r\ntwo\r\nthree\r\n");
    project.ok(
        "edit_file",
        &json!({ "path": "w.txt", "old_string": "one\ntwo", "new_string": "uno\ndos" }),
    );
    assert_eq!(project.read("w.txt"), "uno\r\ndos\r\nthree\r\n");
}

#[test]
fn read_and_edit_refuse_pipes_instead_of_blocking() {
    let project = Project::new();
    let made = std::process::Command::new("mkfifo")
        .arg(project.path("pipe"))
        .status()
        .unwrap();
    assert!(made.success());
    let error = project.err("read_file", &json!({ "path": "pipe" }));
    assert!(error.contains("not a regular file"), "{error}");
    let error = project.err(
        "edit_file",
        &json!({ "path": "pipe", "old_string": "a", "new_string": "b" }),
    );
    assert!(error.contains("not a regular file"), "{error}");
}
