//! The crate's error type: every way a workflow can fail to load, parse or validate.

use std::path::PathBuf;

use crate::graph::NodeKind;

/// Why a workflow could not be loaded. Variants about a TOML file carry the 1-based
/// `line` of the offending item so the message points at what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// The text is not TOML, or not shaped like a workflow (missing field, wrong type,
    /// unknown key).
    #[error("line {line}: {message}")]
    Toml {
        /// Line of the error (1 when the parser gave no position).
        line: usize,
        /// The parser's short message.
        message: String,
        /// The parser's full error, with the source snippet.
        #[source]
        source: toml::de::Error,
    },

    /// A workflow file could not be read.
    #[error(
        "cannot read workflow file {}: pass a built-in workflow name ({}) or the path of a TOML workflow file",
        path.display(),
        crate::builtin::BUILTIN_NAMES.join(", ")
    )]
    Read {
        /// The path tried.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A workflow file was read but is invalid; the source says where and why.
    #[error("invalid workflow file {}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        #[source]
        source: Box<WorkflowError>,
    },

    /// A workflow, node, prompt or tool name uses characters that are not allowed.
    /// Names end up in prompt file paths and diagram ids, so they are kept plain.
    #[error(
        "line {line}: {what} {value:?} is not allowed: use 1 to 64 ASCII letters, digits, '-' or '_'"
    )]
    InvalidName {
        /// Line of the name.
        line: usize,
        /// Which kind of name ("node name", "prompt", ...).
        what: &'static str,
        /// The rejected name.
        value: String,
    },

    /// A node's `kind` is not one of the known kinds.
    #[error(
        "line {line}: node {node:?}: unknown kind {kind:?} (known kinds: start, session, terminal)"
    )]
    UnknownNodeKind {
        /// Line of the `kind` value.
        line: usize,
        /// The node.
        node: String,
        /// The rejected kind.
        kind: String,
    },

    /// Two nodes share a name.
    #[error(
        "line {line}: duplicate node name {node:?} (first declared on line {first_line}); rename one of them"
    )]
    DuplicateNode {
        /// Line of the second declaration.
        line: usize,
        /// The repeated name.
        node: String,
        /// Line of the first declaration.
        first_line: usize,
    },

    /// A start or terminal node sets a field only session nodes use.
    #[error("line {line}: node {node:?} is a {kind} node; only session nodes take `{field}`")]
    SessionOnlyField {
        /// Line of the field.
        line: usize,
        /// The node.
        node: String,
        /// Its kind.
        kind: NodeKind,
        /// The field ("prompt", "tools" or "max_turns").
        field: &'static str,
    },

    /// A session node allows zero turns, so it could never do anything.
    #[error("line {line}: node {node:?}: max_turns must be at least 1")]
    ZeroMaxTurns {
        /// Line of the `max_turns` value.
        line: usize,
        /// The node.
        node: String,
    },

    /// An edge names a node that is not declared.
    #[error("line {line}: edge {from:?} -> {to:?}: unknown node {name:?} (known nodes: {known})")]
    UnknownNode {
        /// Line of the unknown name.
        line: usize,
        /// The edge's `from` as written.
        from: String,
        /// The edge's `to` as written.
        to: String,
        /// The name that matches no node.
        name: String,
        /// The declared node names, in order, comma separated.
        known: String,
    },

    /// An edge's `when` uses a guard that does not exist.
    #[error(
        "line {line}: edge {from:?} -> {to:?}: unknown guard {guard:?} (known guards: {}; prefix one with \"!\" to negate it)",
        crate::guard::Guard::known_names()
    )]
    UnknownGuard {
        /// Line of the guard.
        line: usize,
        /// The edge's source node.
        from: String,
        /// The edge's target node.
        to: String,
        /// The rejected guard text.
        guard: String,
    },

    /// A guard name given outside a workflow file (e.g. on the command line) is unknown.
    #[error(
        "unknown guard {name:?} (known guards: {}; prefix one with \"!\" to negate it)",
        crate::guard::Guard::known_names()
    )]
    GuardName {
        /// The rejected text.
        name: String,
    },

    /// The `start` key names no declared node.
    #[error("line {line}: start = {name:?} names no node (known nodes: {known})")]
    UnknownStart {
        /// Line of the `start` value.
        line: usize,
        /// The rejected name.
        name: String,
        /// The declared node names, comma separated.
        known: String,
    },

    /// The `start` key names a node whose kind is not `start`.
    #[error(
        "line {line}: start = {name:?} is a {kind} node; the start node must have kind \"start\""
    )]
    StartKind {
        /// Line of the `start` value.
        line: usize,
        /// The named node.
        name: String,
        /// Its kind.
        kind: NodeKind,
    },

    /// No node has kind `start`.
    #[error("the workflow has no start node: add a [[nodes]] entry with kind = \"start\"")]
    NoStartNode,

    /// More than one node has kind `start`.
    #[error(
        "line {line}: node {node:?} is a second start node ({first:?} is the first); a workflow has exactly one"
    )]
    MultipleStartNodes {
        /// Line of the second start node.
        line: usize,
        /// The second start node.
        node: String,
        /// The first start node.
        first: String,
    },

    /// No node has kind `terminal`, so no thread could ever finish.
    #[error(
        "the workflow has no terminal node: add a [[nodes]] entry with kind = \"terminal\" and an edge to it"
    )]
    NoTerminalNode,

    /// A terminal node has an outgoing edge; terminal means the thread is finished.
    #[error(
        "line {line}: edge {node:?} -> {to:?} leaves terminal node {node:?}; terminal nodes end the thread, remove the edge"
    )]
    TerminalHasEdges {
        /// Line of the edge's `from`.
        line: usize,
        /// The terminal node.
        node: String,
        /// Where the edge goes.
        to: String,
    },

    /// A start or session node has no outgoing edge, so the thread would stop there.
    #[error(
        "line {line}: {kind} node {node:?} has no outgoing edge; add an [[edges]] entry with from = {node:?}"
    )]
    NoOutgoingEdge {
        /// Line of the node's name.
        line: usize,
        /// The node.
        node: String,
        /// Its kind.
        kind: NodeKind,
    },

    /// No path of edges leads from the start node to this node.
    #[error(
        "line {line}: node {node:?} is unreachable from start node {start:?}; add an edge to it or remove it"
    )]
    Unreachable {
        /// Line of the node's name.
        line: usize,
        /// The unreachable node.
        node: String,
        /// The start node.
        start: String,
    },

    /// No path of edges leads from this node to any terminal node, so a thread that
    /// enters it can never finish.
    #[error(
        "line {line}: node {node:?} has no path to a terminal node; a thread entering it could never finish"
    )]
    NoWayOut {
        /// Line of the node's name.
        line: usize,
        /// The node.
        node: String,
    },

    /// A render format name is not known.
    #[error("unknown render format {name:?} (known formats: text, dot, mermaid)")]
    UnknownRenderFormat {
        /// The rejected name.
        name: String,
    },
}
