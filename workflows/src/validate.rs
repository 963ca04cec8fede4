//! Whole-graph checks run after parsing: a terminal node exists, terminal nodes are
//! final, every other node has a way on, every node is reachable and can still finish.

use petgraph::Direction;
use petgraph::graph::NodeIndex;
use petgraph::visit::{Bfs, Reversed};

use crate::error::WorkflowError;
use crate::graph::{NodeKind, Workflow};

/// Source lines of the parsed items, indexed like the graph's nodes and edges.
#[derive(Default)]
pub(crate) struct Lines {
    pub(crate) nodes: Vec<usize>,
    pub(crate) edges: Vec<usize>,
}

impl Lines {
    pub(crate) fn node(&self, index: NodeIndex) -> usize {
        self.nodes.get(index.index()).copied().unwrap_or(1)
    }
}

/// Checks the parsed `workflow`; the first problem found is returned.
pub(crate) fn check(workflow: &Workflow, lines: &Lines) -> Result<(), WorkflowError> {
    let graph = &workflow.graph;
    let terminals: Vec<NodeIndex> = graph
        .node_indices()
        .filter(|index| graph[*index].kind == NodeKind::Terminal)
        .collect();
    if terminals.is_empty() {
        return Err(WorkflowError::NoTerminalNode);
    }

    for edge in graph.edge_indices() {
        let Some((from, to)) = graph.edge_endpoints(edge) else {
            continue;
        };
        if graph[from].kind == NodeKind::Terminal {
            return Err(WorkflowError::TerminalHasEdges {
                line: lines.edges.get(edge.index()).copied().unwrap_or(1),
                node: graph[from].name.clone(),
                to: graph[to].name.clone(),
            });
        }
    }

    for index in graph.node_indices() {
        let node = &graph[index];
        let stuck = node.kind != NodeKind::Terminal
            && graph
                .neighbors_directed(index, Direction::Outgoing)
                .next()
                .is_none();
        if stuck {
            return Err(WorkflowError::NoOutgoingEdge {
                line: lines.node(index),
                node: node.name.clone(),
                kind: node.kind,
            });
        }
    }

    let mut reachable = vec![false; graph.node_count()];
    let mut bfs = Bfs::new(graph, workflow.start);
    while let Some(index) = bfs.next(graph) {
        reachable[index.index()] = true;
    }
    if let Some(index) = graph.node_indices().find(|index| !reachable[index.index()]) {
        return Err(WorkflowError::Unreachable {
            line: lines.node(index),
            node: graph[index].name.clone(),
            start: graph[workflow.start].name.clone(),
        });
    }

    // Walking the reversed graph from every terminal finds the nodes that can finish.
    let mut can_finish = vec![false; graph.node_count()];
    let reversed = Reversed(graph);
    for terminal in terminals {
        let mut bfs = Bfs::new(reversed, terminal);
        while let Some(index) = bfs.next(reversed) {
            can_finish[index.index()] = true;
        }
    }
    if let Some(index) = graph
        .node_indices()
        .find(|index| !can_finish[index.index()])
    {
        return Err(WorkflowError::NoWayOut {
            line: lines.node(index),
            node: graph[index].name.clone(),
        });
    }
    Ok(())
}
