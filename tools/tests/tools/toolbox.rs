//! ToolBox dispatch: unknown tools, malformed arguments, specs, registered tools.

use std::sync::Arc;

use baton_tools::{Tool, ToolBox, ToolOutput, ToolSpec, parse_args};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::common::Project;

/// A tool written outside the crate, as the harness does, using `parse_args`.
struct Echo;

#[derive(Deserialize)]
struct EchoArgs {
    text: Option<String>,
}

impl Tool for Echo {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "echo".to_owned(),
            description: "Echo text.".to_owned(),
            parameters: json!({ "type": "object", "properties": { "text": { "type": "string" } } }),
        }
    }

    fn call(&self, args: &Value) -> ToolOutput {
        match parse_args::<EchoArgs>(args) {
            Ok(args) => ToolOutput::success(args.text.unwrap_or_else(|| "(nothing)".to_owned())),
            Err(error) => error.into(),
        }
    }
}

struct Panics;

impl Tool for Panics {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "panics".to_owned(),
            description: String::new(),
            parameters: json!({ "type": "object" }),
        }
    }

    fn call(&self, _args: &Value) -> ToolOutput {
        panic!("boom")
    }
}

#[test]
fn unknown_tool_lists_the_available_ones() {
    let project = Project::new();
    let output = project.tools.call("rm_rf", "{}");
    assert!(!output.ok);
    assert_eq!(
        output.content,
        "unknown tool \"rm_rf\"; available tools: bash, bash_output, bash_stop, edit_file, glob, grep, read_file, write_file"
    );
}

#[test]
fn malformed_json_quotes_the_parse_error_and_the_parameters() {
    let project = Project::new();
    let output = project.tools.call("read_file", "{\"path\": ");
    assert!(!output.ok);
    assert!(
        output.content.contains("not valid JSON (EOF while parsing"),
        "{}",
        output.content
    );
    assert!(
        output
            .content
            .contains("required parameters: path; optional: "),
        "{}",
        output.content
    );
    assert!(
        output.content.contains("offset") && output.content.contains("limit"),
        "{}",
        output.content
    );
}

#[test]
fn argument_shape_errors_name_the_field() {
    let project = Project::new();
    let cases = [
        (
            "read_file",
            "[\"a.txt\"]",
            "expected a JSON object of named parameters, got array",
        ),
        ("read_file", "{}", "missing required field \"path\""),
        (
            "edit_file",
            "{\"path\": \"a\"}",
            "missing required field \"old_string\", \"new_string\"",
        ),
        (
            "read_file",
            "{\"path\": 7}",
            "field \"path\" must be a string, got integer",
        ),
        (
            "read_file",
            "{\"path\": \"a\", \"limit\": \"ten\"}",
            "field \"limit\" must be an integer, got string",
        ),
        (
            "read_file",
            "{\"path\": \"a\", \"file_path\": \"a\"}",
            "unknown field \"file_path\"",
        ),
    ];
    for (tool, raw, expected) in cases {
        let output = project.tools.call(tool, raw);
        assert!(!output.ok, "{tool} {raw}");
        assert!(
            output.content.contains(expected),
            "{tool} {raw}: {}",
            output.content
        );
    }
}

#[test]
fn empty_arguments_count_as_an_empty_object() {
    let project = Project::new();
    let output = project.tools.call("glob", "");
    assert!(
        output
            .content
            .contains("missing required field \"pattern\""),
        "{}",
        output.content
    );
    let mut tools = ToolBox::new();
    tools.register(Arc::new(Echo));
    assert_eq!(tools.call("echo", "  ").content, "(nothing)");
}

#[test]
fn null_for_an_optional_parameter_means_left_out() {
    let project = Project::new();
    project.write("a.txt", "one\n");
    let output = project.tools.call(
        "read_file",
        r#"{"path": "a.txt", "offset": null, "limit": null}"#,
    );
    assert!(output.ok, "{}", output.content);
}

#[test]
fn specs_are_sorted_filtered_and_carry_schemas() {
    let project = Project::new();
    let names: Vec<String> = project
        .tools
        .specs(&[])
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        names,
        [
            "bash",
            "bash_output",
            "bash_stop",
            "edit_file",
            "glob",
            "grep",
            "read_file",
            "write_file"
        ]
    );
    let allowed = [
        "write_file".to_owned(),
        "read_file".to_owned(),
        "not_a_tool".to_owned(),
    ];
    let names: Vec<String> = project
        .tools
        .specs(&allowed)
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["read_file", "write_file"]);
    for spec in project.tools.specs(&[]) {
        assert_eq!(spec.parameters["type"], "object", "{}", spec.name);
        assert!(
            spec.parameters["required"]
                .as_array()
                .is_some_and(|r| !r.is_empty()),
            "{}",
            spec.name
        );
        for (name, property) in spec.parameters["properties"].as_object().unwrap() {
            assert!(
                property["description"]
                    .as_str()
                    .is_some_and(|d| d.len() > 10),
                "{}.{name}",
                spec.name
            );
        }
    }
}

#[test]
fn registered_tools_are_called_and_panics_are_contained() {
    let mut tools = ToolBox::new();
    tools.register(Arc::new(Echo));
    tools.register(Arc::new(Panics));
    assert_eq!(tools.call("echo", r#"{"text": "hi"}"#).content, "hi");
    let output = tools.call("panics", "{}");
    assert!(!output.ok);
    assert!(
        output.content.contains("failed internally (boom)"),
        "{}",
        output.content
    );
}

#[test]
fn parse_args_names_the_field_for_tools_written_elsewhere() {
    let error = parse_args::<EchoArgs>(&json!({ "text": 5 }))
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("field \"text\""), "{error}");
}
