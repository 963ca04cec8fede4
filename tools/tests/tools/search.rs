//! glob and grep over the gitignore-aware walk.

use baton_tools::ToolConfig;
use serde_json::json;

use crate::common::Project;

fn sample(project: &Project) {
    project.write(".gitignore", "target/\n*.log\n");
    project.write("a.rs", "fn main() {\n    println!(\"Hello\");\n}\n");
    project.write(
        "src/lib.rs",
        "// TODO: first\npub fn one() {}\n\npub fn two() {}\n// todo: second\n",
    );
    project.write("src/deep/mod.rs", "pub fn deep() {}\n");
    project.write(".hidden/tool.rs", "fn hidden() {}\n");
    project.write("target/debug/gen.rs", "fn generated() {}\n");
    project.write("run.log", "fn logged() {}\n");
    project.write(".git/hooks/hook.rs", "fn hook() {}\n");
    project.write("notes.md", "TODO: docs\n");
}

#[test]
fn glob_honours_gitignore_and_skips_harness_state() {
    let project = Project::new();
    sample(&project);
    let listing = project.ok("glob", &json!({ "pattern": "**/*.rs" }));
    assert_eq!(
        listing,
        ".hidden/tool.rs\na.rs\nsrc/deep/mod.rs\nsrc/lib.rs"
    );
}

#[test]
fn glob_star_stays_in_one_folder_and_path_narrows() {
    let project = Project::new();
    sample(&project);
    assert_eq!(project.ok("glob", &json!({ "pattern": "*.rs" })), "a.rs");
    assert_eq!(
        project.ok("glob", &json!({ "pattern": "*.rs", "path": "src" })),
        "src/lib.rs"
    );
    assert_eq!(
        project.ok("glob", &json!({ "pattern": "{*.md,*.rs}" })),
        "a.rs\nnotes.md"
    );
    let none = project.ok("glob", &json!({ "pattern": "*.ts" }));
    assert!(
        none.contains("no files match") && none.contains("**/*.ts"),
        "{none}"
    );
    assert!(
        project
            .err("glob", &json!({ "pattern": "a[" }))
            .contains("invalid glob")
    );
}

#[test]
fn glob_caps_results_with_a_note() {
    let project = Project::with_config(ToolConfig {
        glob_max_results: 2,
        ..ToolConfig::default()
    });
    sample(&project);
    let listing = project.ok("glob", &json!({ "pattern": "**/*.rs" }));
    assert_eq!(
        listing,
        ".hidden/tool.rs\na.rs\n[… 2 more matches not shown; narrow the pattern or pass a path]"
    );
}

#[test]
fn grep_prints_path_line_text_and_skips_ignored_files() {
    let project = Project::new();
    sample(&project);
    let text = project.ok("grep", &json!({ "pattern": r"fn \w+\(\)" }));
    assert_eq!(
        text,
        ".hidden/tool.rs:1:fn hidden() {}\na.rs:1:fn main() {\nsrc/deep/mod.rs:1:pub fn deep() {}\n\
         src/lib.rs:2:pub fn one() {}\nsrc/lib.rs:4:pub fn two() {}\n"
    );
}

#[test]
fn grep_case_glob_and_path_filters() {
    let project = Project::new();
    sample(&project);
    let text = project.ok(
        "grep",
        &json!({ "pattern": "todo", "case_insensitive": true, "glob": "*.rs" }),
    );
    assert_eq!(
        text,
        "src/lib.rs:1:// TODO: first\nsrc/lib.rs:5:// todo: second\n"
    );
    let text = project.ok("grep", &json!({ "pattern": "TODO", "path": "notes.md" }));
    assert_eq!(text, "notes.md:1:TODO: docs\n");
    let text = project.ok("grep", &json!({ "pattern": "fn", "glob": "src/deep/*.rs" }));
    assert_eq!(text, "src/deep/mod.rs:1:pub fn deep() {}\n");
    let none = project.ok("grep", &json!({ "pattern": "nothing-like-this" }));
    assert!(none.starts_with("no matches for"), "{none}");
}

#[test]
fn grep_shows_context_lines_and_group_breaks() {
    let project = Project::new();
    project.write("c.txt", "a\nb\nHIT one\nc\nd\ne\nf\nHIT two\ng\n");
    project.write("d.txt", "HIT three\nh\n");
    let text = project.ok("grep", &json!({ "pattern": "HIT", "context": 1 }));
    assert_eq!(
        text,
        "c.txt-2-b\nc.txt:3:HIT one\nc.txt-4-c\n--\nc.txt-7-f\nc.txt:8:HIT two\nc.txt-9-g\n--\nd.txt:1:HIT three\nd.txt-2-h\n"
    );
}

#[test]
fn grep_invalid_regex_shows_the_regex_error() {
    let project = Project::new();
    let error = project.err("grep", &json!({ "pattern": "fn (" }));
    assert!(error.starts_with("invalid regex \"fn (\""), "{error}");
    assert!(error.contains("unclosed group"), "{error}");
}

#[test]
fn grep_caps_matches_with_a_note() {
    let project = Project::with_config(ToolConfig {
        grep_max_results: 3,
        ..ToolConfig::default()
    });
    project.write("many.txt", "x\n".repeat(10));
    let text = project.ok("grep", &json!({ "pattern": "x" }));
    assert_eq!(
        text,
        "many.txt:1:x\nmany.txt:2:x\nmany.txt:3:x\n[stopped after 3 matching lines; narrow the pattern, path or glob]"
    );
}

#[test]
fn grep_skips_binary_files_and_cuts_long_lines() {
    let project = Project::new();
    project.write("blob.bin", b"needle\0\0binary");
    project.write("min.js", format!("{}needle\n", "x".repeat(1000)));
    let text = project.ok("grep", &json!({ "pattern": "needle" }));
    assert!(!text.contains("blob.bin"), "{text}");
    assert!(
        text.starts_with("min.js:1:xxxx") && text.ends_with("…[line cut]\n"),
        "{text}"
    );
}
