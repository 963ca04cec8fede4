//! Snapshots of the three renderings of the built-in two-agent workflow.

use baton_workflows::{RenderFormat, Workflow};

fn two_agent(format: RenderFormat) -> String {
    Workflow::builtin("two-agent").unwrap().render(format)
}

#[test]
fn two_agent_text() {
    insta::assert_snapshot!(two_agent(RenderFormat::Text));
}

#[test]
fn two_agent_dot() {
    insta::assert_snapshot!(two_agent(RenderFormat::Dot));
}

#[test]
fn two_agent_mermaid() {
    insta::assert_snapshot!(two_agent(RenderFormat::Mermaid));
}

#[test]
fn rendering_is_deterministic() {
    for format in [RenderFormat::Text, RenderFormat::Dot, RenderFormat::Mermaid] {
        assert_eq!(two_agent(format), two_agent(format));
    }
}
