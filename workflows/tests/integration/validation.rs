//! Every validation error of `Workflow::from_toml_str`, each with the line it names.
//! The offending line in each source is marked with a trailing `# <-`.

use baton_workflows::{RenderFormat, Workflow, WorkflowError};

const NODES: &str = r#"name = "flow"

[[nodes]]
name = "start"
kind = "start"

[[nodes]]
name = "coding"
kind = "session"

[[nodes]]
name = "done"
kind = "terminal"
"#;

const EDGES: &str = r#"
[[edges]]
from = "start"
to = "coding"

[[edges]]
from = "coding"
to = "done"
when = ["all_features_pass"]
"#;

fn marked_line(src: &str) -> usize {
    src.lines()
        .position(|line| line.ends_with("# <-"))
        .expect("source has a `# <-` marker")
        + 1
}

/// Parses `src`, expects an error whose message starts with the marked line.
fn error_at_mark(src: &str) -> (WorkflowError, String) {
    let err = Workflow::from_toml_str(src).expect_err("source is invalid");
    let message = err.to_string();
    let expected = format!("line {}: ", marked_line(src));
    assert!(
        message.starts_with(&expected),
        "expected {expected:?} in: {message}\n---\n{src}"
    );
    (err, message)
}

#[test]
fn the_base_workflow_is_valid() {
    let flow = Workflow::from_toml_str(&format!("{NODES}{EDGES}")).unwrap();
    assert_eq!(flow.render(RenderFormat::Text).lines().count(), 1 + 3 + 2);
}

#[test]
fn toml_syntax_error() {
    // An unterminated string: the error is on its own line, not the next one.
    let src = format!("{NODES}\n[[edges]]\nfrom = \"start # <-\nto = \"coding\"\n");
    let (err, _) = error_at_mark(&src);
    assert!(matches!(err, WorkflowError::Toml { .. }), "{err:?}");
    let src = "name = \"x\"\n[[nodes]]\nname = # <-\n";
    let (err, _) = error_at_mark(src);
    assert!(matches!(err, WorkflowError::Toml { .. }), "{err:?}");
}

#[test]
fn unknown_key_is_an_error_not_ignored() {
    let src = format!(
        "{NODES}\n[[edges]]\nfrom = \"start\"\nto = \"coding\"\nwehn = [\"always\"] # <-\n"
    );
    let (err, message) = error_at_mark(&src);
    assert!(matches!(err, WorkflowError::Toml { .. }), "{err:?}");
    assert!(message.contains("wehn"), "{message}");
}

#[test]
fn unknown_node_kind() {
    let src = NODES.replace("kind = \"session\"", "kind = \"sesion\" # <-");
    let (err, message) = error_at_mark(&format!("{src}{EDGES}"));
    assert!(
        matches!(err, WorkflowError::UnknownNodeKind { .. }),
        "{err:?}"
    );
    assert!(
        message.contains("\"sesion\"") && message.contains("start, session, terminal"),
        "{message}"
    );
}

#[test]
fn duplicate_node_name() {
    let src = format!("{NODES}\n[[nodes]]\nname = \"coding\" # <-\nkind = \"session\"\n{EDGES}");
    let (err, message) = error_at_mark(&src);
    assert!(
        matches!(err, WorkflowError::DuplicateNode { first_line: 8, .. }),
        "{err:?}"
    );
    assert!(message.contains("first declared on line 8"), "{message}");
}

#[test]
fn invalid_names() {
    let src = NODES.replace("name = \"coding\"", "name = \"../coding\" # <-");
    let (err, _) = error_at_mark(&format!("{src}{EDGES}"));
    assert!(
        matches!(
            err,
            WorkflowError::InvalidName {
                what: "node name",
                ..
            }
        ),
        "{err:?}"
    );

    let src = NODES.replace(
        "kind = \"session\"",
        "kind = \"session\"\nprompt = \"a/b\" # <-",
    );
    let (err, _) = error_at_mark(&format!("{src}{EDGES}"));
    assert!(
        matches!(err, WorkflowError::InvalidName { what: "prompt", .. }),
        "{err:?}"
    );

    let src = NODES.replace("name = \"flow\"", "name = \"\" # <-");
    let (err, _) = error_at_mark(&format!("{src}{EDGES}"));
    assert!(
        matches!(
            err,
            WorkflowError::InvalidName {
                what: "workflow name",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn session_only_fields_and_zero_turns() {
    let src = NODES.replace(
        "kind = \"terminal\"",
        "kind = \"terminal\"\nprompt = \"done\" # <-",
    );
    let (err, message) = error_at_mark(&format!("{src}{EDGES}"));
    assert!(
        matches!(
            err,
            WorkflowError::SessionOnlyField {
                field: "prompt",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(message.contains("terminal node"), "{message}");

    let src = NODES.replace(
        "kind = \"session\"",
        "kind = \"session\"\nmax_turns = 0 # <-",
    );
    let (err, _) = error_at_mark(&format!("{src}{EDGES}"));
    assert!(matches!(err, WorkflowError::ZeroMaxTurns { .. }), "{err:?}");
}

#[test]
fn edge_to_unknown_node_names_it_and_the_known_ones() {
    let src = format!("{NODES}{EDGES}\n[[edges]]\nfrom = \"coding\"\nto = \"review\" # <-\n");
    let (err, message) = error_at_mark(&src);
    assert!(matches!(err, WorkflowError::UnknownNode { .. }), "{err:?}");
    let line = marked_line(&src);
    assert_eq!(
        message,
        format!(
            r#"line {line}: edge "coding" -> "review": unknown node "review" (known nodes: start, coding, done)"#
        )
    );

    let src = format!("{NODES}{EDGES}\n[[edges]]\nfrom = \"codng\" # <-\nto = \"done\"\n");
    let (err, _) = error_at_mark(&src);
    assert!(
        matches!(err, WorkflowError::UnknownNode { ref name, .. } if name == "codng"),
        "{err:?}"
    );
}

#[test]
fn unknown_guard_lists_the_known_ones() {
    let src = format!("{NODES}{EDGES}").replace(
        "when = [\"all_features_pass\"]",
        "when = [\"all_features_pass\",\n  \"features_done\"] # <-",
    );
    let (err, message) = error_at_mark(&src);
    assert!(matches!(err, WorkflowError::UnknownGuard { .. }), "{err:?}");
    assert!(
        message.contains(
            "unknown guard \"features_done\" (known guards: always, feature_list_missing, features_failing, all_features_pass, sessions_left"
        ),
        "{message}"
    );
}

#[test]
fn no_start_node() {
    let src = format!("{NODES}{EDGES}").replace("kind = \"start\"", "kind = \"session\"");
    let err = Workflow::from_toml_str(&src).unwrap_err();
    assert!(matches!(err, WorkflowError::NoStartNode), "{err:?}");
    assert!(err.to_string().contains("kind = \"start\""));
}

#[test]
fn second_start_node() {
    let src = format!("{NODES}\n[[nodes]]\nname = \"again\" # <-\nkind = \"start\"\n{EDGES}");
    let (err, _) = error_at_mark(&src);
    assert!(
        matches!(err, WorkflowError::MultipleStartNodes { ref first, .. } if first == "start"),
        "{err:?}"
    );
}

#[test]
fn start_key_must_name_the_start_node() {
    let src = format!("{NODES}{EDGES}").replacen(
        "name = \"flow\"",
        "name = \"flow\"\nstart = \"begin\" # <-",
        1,
    );
    let (err, _) = error_at_mark(&src);
    assert!(matches!(err, WorkflowError::UnknownStart { .. }), "{err:?}");

    let src = format!("{NODES}{EDGES}").replacen(
        "name = \"flow\"",
        "name = \"flow\"\nstart = \"coding\" # <-",
        1,
    );
    let (err, _) = error_at_mark(&src);
    assert!(matches!(err, WorkflowError::StartKind { .. }), "{err:?}");
}

#[test]
fn no_terminal_node() {
    let src = r#"name = "loop"
[[nodes]]
name = "start"
kind = "start"
[[nodes]]
name = "coding"
kind = "session"
[[edges]]
from = "start"
to = "coding"
[[edges]]
from = "coding"
to = "coding"
"#;
    let err = Workflow::from_toml_str(src).unwrap_err();
    assert!(matches!(err, WorkflowError::NoTerminalNode), "{err:?}");
}

#[test]
fn terminal_node_with_outgoing_edge() {
    let src = format!("{NODES}{EDGES}\n[[edges]]\nfrom = \"done\" # <-\nto = \"coding\"\n");
    let (err, _) = error_at_mark(&src);
    assert!(
        matches!(err, WorkflowError::TerminalHasEdges { .. }),
        "{err:?}"
    );
}

#[test]
fn session_node_with_no_outgoing_edge() {
    let src = format!(
        "{NODES}\n[[nodes]]\nname = \"review\" # <-\nkind = \"session\"\n{EDGES}\n[[edges]]\nfrom = \"coding\"\nto = \"review\"\n"
    );
    let (err, message) = error_at_mark(&src);
    assert!(
        matches!(err, WorkflowError::NoOutgoingEdge { .. }),
        "{err:?}"
    );
    assert!(
        message.contains("session node \"review\" has no outgoing edge"),
        "{message}"
    );
}

#[test]
fn node_unreachable_from_start() {
    let src = format!(
        "{NODES}\n[[nodes]]\nname = \"orphan\" # <-\nkind = \"session\"\n{EDGES}\n[[edges]]\nfrom = \"orphan\"\nto = \"done\"\n"
    );
    let (err, message) = error_at_mark(&src);
    assert!(
        matches!(err, WorkflowError::Unreachable { ref node, .. } if node == "orphan"),
        "{err:?}"
    );
    assert!(
        message.contains("unreachable from start node \"start\""),
        "{message}"
    );
}

#[test]
fn node_that_can_never_finish() {
    let src = format!(
        "{NODES}\n[[nodes]]\nname = \"trap\" # <-\nkind = \"session\"\n{EDGES}\n[[edges]]\nfrom = \"coding\"\nto = \"trap\"\n[[edges]]\nfrom = \"trap\"\nto = \"trap\"\n"
    );
    let (err, _) = error_at_mark(&src);
    assert!(
        matches!(err, WorkflowError::NoWayOut { ref node, .. } if node == "trap"),
        "{err:?}"
    );
}

#[test]
fn hostile_inputs_get_errors_not_panics() {
    for src in [
        "",
        "\u{feff}",
        "name = 3",
        "nodes = \"x\"",
        "name = \"x\"\nnodes = [1, 2]",
        "name = \"x\"\n[[nodes]]\nname = \"a\"\nkind = \"session\"\nmax_turns = -1",
        "name = \"x\"\n[[nodes]]\nname = \"a\"\nkind = \"session\"\nmax_turns = 99999999999",
        "name = \"x\"\n[[edges]]\nfrom = \"a\"\nto = \"b\"",
        "name = \"ünï\"",
    ] {
        let err = Workflow::from_toml_str(src).expect_err(src);
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn render_format_parses_its_three_names() {
    for (name, format) in [
        ("text", RenderFormat::Text),
        ("dot", RenderFormat::Dot),
        ("mermaid", RenderFormat::Mermaid),
    ] {
        assert_eq!(name.parse::<RenderFormat>().unwrap(), format);
    }
    let err = "svg".parse::<RenderFormat>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown render format \"svg\" (known formats: text, dot, mermaid)"
    );
}
