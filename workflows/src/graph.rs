//! The workflow graph: nodes, guarded edges, and choosing the next node for a thread.

use std::fmt;

use petgraph::Direction;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::{Deserialize, Serialize};

use crate::guard::{GuardTerm, ThreadFacts};

/// Turn budget of a session node that does not set `max_turns`.
pub const DEFAULT_MAX_TURNS: u32 = 60;

/// A node of a [`Workflow`]; an index into its graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub NodeIndex);

/// What happens when a thread reaches a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// Where every thread begins; runs nothing, only picks the first session.
    Start,
    /// Runs one agent session with the node's prompt, tools and turn budget.
    Session,
    /// The thread is finished.
    Terminal,
}

impl NodeKind {
    /// The snake_case name used in TOML files and renderings.
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Start => "start",
            NodeKind::Session => "session",
            NodeKind::Terminal => "terminal",
        }
    }

    /// The kind with this snake_case name, if any.
    pub fn from_name(name: &str) -> Option<NodeKind> {
        [NodeKind::Start, NodeKind::Session, NodeKind::Terminal]
            .into_iter()
            .find(|kind| kind.name() == name)
    }
}

impl fmt::Display for NodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One node: a session kind the harness can run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Unique name within the workflow.
    pub name: String,
    /// What the node does.
    pub kind: NodeKind,
    /// Prompt file stem (e.g. `"coding"`); always set for session nodes (the node name
    /// when the file gives none), `None` for start and terminal nodes.
    pub prompt: Option<String>,
    /// Tools the session may use; empty means all tools.
    pub tools: Vec<String>,
    /// Turn budget of one session at this node.
    pub max_turns: u32,
}

/// An edge's condition: every term must hold; no terms means always.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Edge {
    /// The terms, all of which must hold.
    pub guards: Vec<GuardTerm>,
}

impl Edge {
    /// Whether every term holds on `facts`.
    pub fn holds(&self, facts: &ThreadFacts) -> bool {
        self.guards.iter().all(|term| term.holds(facts))
    }
}

impl fmt::Display for Edge {
    /// The guard expression, e.g. `features_failing && sessions_left`, or `always`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.guards.is_empty() {
            return f.write_str("always");
        }
        for (i, term) in self.guards.iter().enumerate() {
            if i > 0 {
                f.write_str(" && ")?;
            }
            write!(f, "{term}")?;
        }
        Ok(())
    }
}

/// The edge a thread takes next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The node to run next.
    pub to: NodeId,
    /// The taken edge's guard expression, e.g. `"features_failing && sessions_left"`;
    /// recorded on the tape to explain the step.
    pub guard: String,
}

/// A validated workflow graph. Build one with [`Workflow::builtin`],
/// [`Workflow::from_toml_str`] or [`Workflow::load`]; every constructor validates, so a
/// `Workflow` always has one start node, a terminal node, and no dead ends.
#[derive(Clone, Debug)]
pub struct Workflow {
    pub(crate) name: String,
    pub(crate) graph: DiGraph<Node, Edge>,
    pub(crate) start: NodeIndex,
}

impl Workflow {
    /// The workflow's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The start node.
    pub fn start(&self) -> NodeId {
        NodeId(self.start)
    }

    /// The node `id`. Ids come from this workflow; an id from another workflow with
    /// more nodes is a caller bug and panics like slice indexing.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.graph[id.0]
    }

    /// The node called `name`.
    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        self.nodes()
            .find(|(_, node)| node.name == name)
            .map(|(id, _)| id)
    }

    /// Every node, in declaration order.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeId, &Node)> {
        self.graph
            .node_indices()
            .map(|index| (NodeId(index), &self.graph[index]))
    }

    /// Every edge as `(from, to, edge)`, in declaration order.
    pub fn edges(&self) -> impl Iterator<Item = (NodeId, NodeId, &Edge)> {
        self.graph
            .edge_references()
            .map(|edge| (NodeId(edge.source()), NodeId(edge.target()), edge.weight()))
    }

    /// The underlying petgraph graph, for algorithms this crate does not offer.
    pub fn graph(&self) -> &DiGraph<Node, Edge> {
        &self.graph
    }

    /// The edge to take from `from` given `facts`: outgoing edges are tried in
    /// declaration order and the first whose guards all hold wins. `None` from a
    /// non-terminal node means the thread cannot go on (budget exhausted or stuck).
    pub fn next(&self, from: NodeId, facts: &ThreadFacts) -> Option<Transition> {
        self.outgoing(from)
            .find(|(_, _, edge)| edge.holds(facts))
            .map(|(_, to, edge)| Transition {
                to,
                guard: edge.to_string(),
            })
    }

    /// Outgoing edges of `from` in declaration order. petgraph lists a node's edges
    /// newest first, and edge indices grow with insertion, so sorting restores the
    /// order of the file.
    pub(crate) fn outgoing(
        &self,
        from: NodeId,
    ) -> impl Iterator<Item = (EdgeIndex, NodeId, &Edge)> {
        let mut edges: Vec<_> = self
            .graph
            .edges_directed(from.0, Direction::Outgoing)
            .map(|edge| (edge.id(), NodeId(edge.target()), edge.weight()))
            .collect();
        edges.sort_by_key(|(index, _, _)| *index);
        edges.into_iter()
    }
}
