//! Loading workflows from names and paths, and writing them back as TOML.

use std::error::Error as _;

use baton_workflows::{RenderFormat, Workflow, WorkflowError};

fn example(name: &str) -> String {
    format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn same_workflow(a: &Workflow, b: &Workflow) {
    assert_eq!(a.name(), b.name());
    assert_eq!(a.node(a.start()).name, b.node(b.start()).name);
    assert_eq!(
        a.nodes().map(|(_, n)| n.clone()).collect::<Vec<_>>(),
        b.nodes().map(|(_, n)| n.clone()).collect::<Vec<_>>()
    );
    let edges = |w: &Workflow| {
        w.edges()
            .map(|(from, to, edge)| {
                (
                    w.node(from).name.clone(),
                    w.node(to).name.clone(),
                    edge.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(edges(a), edges(b));
}

#[test]
fn to_toml_round_trips_builtins_and_examples() {
    let mut flows: Vec<Workflow> = Workflow::builtin_names()
        .iter()
        .map(|name| Workflow::builtin(name).unwrap())
        .collect();
    flows.push(Workflow::load(&example("review-loop.toml")).unwrap());
    for flow in flows {
        let written = flow.to_toml();
        let read =
            Workflow::from_toml_str(&written).unwrap_or_else(|err| panic!("{err}\n{written}"));
        same_workflow(&flow, &read);
        assert_eq!(read.to_toml(), written, "writing is deterministic");
    }
}

#[test]
fn to_toml_keeps_negations_tools_and_defaults() {
    let src = r#"
name = "tiny"
[[nodes]]
name = "go"
kind = "start"
[[nodes]]
name = "work"
kind = "session"
tools = ["bash"]
[[nodes]]
name = "end"
kind = "terminal"
[[edges]]
from = "go"
to = "work"
[[edges]]
from = "work"
to = "end"
when = ["!sessions_left"]
[[edges]]
from = "work"
to = "work"
when = ["always"]
"#;
    let flow = Workflow::from_toml_str(src).unwrap();
    let written = flow.to_toml();
    assert!(written.contains("when = [\"!sessions_left\"]"), "{written}");
    assert!(written.contains("tools = [\"bash\"]"), "{written}");
    assert!(written.contains("max_turns = 60"), "{written}");
    same_workflow(&flow, &Workflow::from_toml_str(&written).unwrap());
}

#[test]
fn load_takes_a_builtin_name_or_a_path() {
    assert_eq!(Workflow::load("two-agent").unwrap().name(), "two-agent");
    assert_eq!(
        Workflow::load(&example("review-loop.toml")).unwrap().name(),
        "review-loop"
    );

    // A copy of a built-in written to disk loads from its path too.
    let path = std::env::temp_dir().join(format!("baton-workflows-{}.toml", std::process::id()));
    std::fs::write(&path, Workflow::builtin_source("two-agent").unwrap()).unwrap();
    let loaded = Workflow::load(path.to_str().unwrap());
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        loaded.unwrap().render(RenderFormat::Text),
        Workflow::builtin("two-agent")
            .unwrap()
            .render(RenderFormat::Text)
    );
}

#[test]
fn load_of_a_missing_file_names_the_builtins() {
    let err = Workflow::load("no-such-flow").unwrap_err();
    assert!(matches!(err, WorkflowError::Read { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("no-such-flow"), "{message}");
    assert!(message.contains("two-agent"), "{message}");
    assert!(err.source().is_some(), "the io error is kept");
}

#[test]
fn broken_example_names_the_file_the_line_and_the_unknown_node() {
    let path = example("broken.toml");
    let err = Workflow::load(&path).unwrap_err();
    let WorkflowError::InFile {
        path: in_path,
        source,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(in_path.to_str(), Some(path.as_str()));
    assert!(
        matches!(**source, WorkflowError::UnknownNode { line: 23, .. }),
        "{source:?}"
    );
    assert_eq!(
        source.to_string(),
        r#"line 23: edge "coding" -> "review": unknown node "review" (known nodes: start, coding, done)"#
    );
    let chain = format!("{err}: {}", err.source().unwrap());
    assert!(chain.contains("broken.toml: line 23"), "{chain}");
}
