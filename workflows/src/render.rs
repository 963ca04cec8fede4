//! Rendering a workflow as plain text, Graphviz DOT or Mermaid, always in declaration
//! order so the output is stable enough to snapshot and diff.

use std::fmt::Write as _;
use std::str::FromStr;

use crate::error::WorkflowError;
use crate::graph::{Node, NodeKind, Workflow};

/// Output format of [`Workflow::render`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RenderFormat {
    /// One line per node, then one line per edge: `from -> to [guards]`.
    Text,
    /// A Graphviz `digraph`.
    Dot,
    /// A Mermaid `flowchart TD`.
    Mermaid,
}

impl FromStr for RenderFormat {
    type Err = WorkflowError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(RenderFormat::Text),
            "dot" => Ok(RenderFormat::Dot),
            "mermaid" => Ok(RenderFormat::Mermaid),
            _ => Err(WorkflowError::UnknownRenderFormat { name: s.to_owned() }),
        }
    }
}

// Writing into a String cannot fail, hence the `let _ = write!(..)` below.

pub(crate) fn text(workflow: &Workflow) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "workflow {} (start: {})",
        workflow.name(),
        workflow.node(workflow.start()).name
    );
    for (_, node) in workflow.nodes() {
        let _ = write!(out, "{}: {}", node.name, node.kind);
        if node.kind == NodeKind::Session {
            let _ = write!(
                out,
                ", prompt {}, max_turns {}, tools {}",
                node.prompt.as_deref().unwrap_or(&node.name),
                node.max_turns,
                tools_summary(node)
            );
        }
        out.push('\n');
    }
    for (from, to, edge) in workflow.edges() {
        let _ = writeln!(
            out,
            "{} -> {} [{edge}]",
            workflow.node(from).name,
            workflow.node(to).name
        );
    }
    out
}

pub(crate) fn dot(workflow: &Workflow) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", workflow.name());
    out.push_str("  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for (_, node) in workflow.nodes() {
        let attrs = match node.kind {
            NodeKind::Start => "shape=circle".to_owned(),
            NodeKind::Terminal => "shape=doublecircle".to_owned(),
            NodeKind::Session => format!(
                "shape=box, style=rounded, label=\"{}\\nprompt {}, max {} turns\\ntools {}\"",
                node.name,
                node.prompt.as_deref().unwrap_or(&node.name),
                node.max_turns,
                tools_summary(node)
            ),
        };
        let _ = writeln!(out, "  \"{}\" [{attrs}];", node.name);
    }
    for (from, to, edge) in workflow.edges() {
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{edge}\"];",
            workflow.node(from).name,
            workflow.node(to).name
        );
    }
    out.push_str("}\n");
    out
}

/// Mermaid ids are `n<index>` rather than node names: names such as `end` are
/// Mermaid keywords and would break the chart.
pub(crate) fn mermaid(workflow: &Workflow) -> String {
    let mut out = String::from("flowchart TD\n");
    for (id, node) in workflow.nodes() {
        let index = id.0.index();
        let name = &node.name;
        let _ = match node.kind {
            NodeKind::Start => writeln!(out, "  n{index}((\"{name}\"))"),
            NodeKind::Session => writeln!(out, "  n{index}[\"{name}\"]"),
            NodeKind::Terminal => writeln!(out, "  n{index}(((\"{name}\")))"),
        };
    }
    for (from, to, edge) in workflow.edges() {
        let _ = writeln!(
            out,
            "  n{} -->|\"{edge}\"| n{}",
            from.0.index(),
            to.0.index()
        );
    }
    out
}

fn tools_summary(node: &Node) -> String {
    if node.tools.is_empty() {
        "all".to_owned()
    } else {
        node.tools.join(" ")
    }
}
