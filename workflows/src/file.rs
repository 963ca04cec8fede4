//! The TOML workflow format: reading a file into a validated [`Workflow`] (with line
//! numbers for every complaint) and writing a workflow back out.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;

use petgraph::graph::{DiGraph, NodeIndex};
use serde::Deserialize;
use toml::Spanned;

use crate::error::WorkflowError;
use crate::graph::{DEFAULT_MAX_TURNS, Edge, Node, NodeKind, Workflow};
use crate::guard::GuardTerm;
use crate::validate::{self, Lines};

/// Longest name accepted for a workflow, node, prompt or tool.
const MAX_NAME_LEN: usize = 64;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentToml {
    name: Spanned<String>,
    start: Option<Spanned<String>>,
    #[serde(default)]
    nodes: Vec<NodeToml>,
    #[serde(default)]
    edges: Vec<EdgeToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeToml {
    name: Spanned<String>,
    kind: Spanned<String>,
    prompt: Option<Spanned<String>>,
    tools: Option<Spanned<Vec<Spanned<String>>>>,
    max_turns: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EdgeToml {
    from: Spanned<String>,
    to: Spanned<String>,
    #[serde(default)]
    when: Vec<Spanned<String>>,
}

/// Maps byte offsets of one source text to 1-based line numbers.
struct Source<'a>(&'a str);

impl Source<'_> {
    fn line_at(&self, offset: usize) -> usize {
        let bytes = self.0.as_bytes();
        let end = offset.min(bytes.len());
        // n newlines split the prefix into n + 1 pieces: the line number.
        bytes[..end].split(|byte| *byte == b'\n').count()
    }

    fn line<T>(&self, spanned: &Spanned<T>) -> usize {
        self.line_at(spanned.span().start)
    }

    fn toml_error(&self, source: toml::de::Error) -> WorkflowError {
        let line = source
            .span()
            .map_or(1, |span: Range<usize>| self.line_at(span.start));
        WorkflowError::Toml {
            line,
            message: source.message().to_owned(),
            source,
        }
    }
}

/// Parses and validates a workflow file's text.
pub(crate) fn parse(src: &str) -> Result<Workflow, WorkflowError> {
    let source = Source(src);
    let doc: DocumentToml = toml::from_str(src).map_err(|err| source.toml_error(err))?;
    check_name(source.line(&doc.name), "workflow name", doc.name.get_ref())?;

    let mut graph = DiGraph::new();
    let mut lines = Lines::default();
    let mut declared: HashMap<String, (NodeIndex, usize)> = HashMap::new();
    for raw in &doc.nodes {
        let line = source.line(&raw.name);
        let node = parse_node(&source, raw)?;
        if let Some((_, first_line)) = declared.get(&node.name) {
            return Err(WorkflowError::DuplicateNode {
                line,
                node: node.name,
                first_line: *first_line,
            });
        }
        let name = node.name.clone();
        let index = graph.add_node(node);
        declared.insert(name, (index, line));
        lines.nodes.push(line);
    }

    for raw in &doc.edges {
        let (from, to) = (raw.from.get_ref(), raw.to.get_ref());
        let lookup = |end: &Spanned<String>| {
            declared
                .get(end.get_ref())
                .map(|(index, _)| *index)
                .ok_or_else(|| WorkflowError::UnknownNode {
                    line: source.line(end),
                    from: from.clone(),
                    to: to.clone(),
                    name: end.get_ref().clone(),
                    known: known_names(&doc.nodes),
                })
        };
        let (from_index, to_index) = (lookup(&raw.from)?, lookup(&raw.to)?);
        let guards = raw
            .when
            .iter()
            .map(|term| {
                term.get_ref()
                    .parse::<GuardTerm>()
                    .map_err(|_| WorkflowError::UnknownGuard {
                        line: source.line(term),
                        from: from.clone(),
                        to: to.clone(),
                        guard: term.get_ref().clone(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        graph.add_edge(from_index, to_index, Edge { guards });
        lines.edges.push(source.line(&raw.from));
    }

    let start = find_start(&source, &doc, &graph, &lines)?;
    let workflow = Workflow {
        name: doc.name.into_inner(),
        graph,
        start,
    };
    validate::check(&workflow, &lines)?;
    Ok(workflow)
}

/// The declared node names for error messages, in declaration order.
fn known_names(nodes: &[NodeToml]) -> String {
    if nodes.is_empty() {
        return "none declared".to_owned();
    }
    let names: Vec<&str> = nodes
        .iter()
        .map(|node| node.name.get_ref().as_str())
        .collect();
    names.join(", ")
}

fn parse_node(source: &Source<'_>, raw: &NodeToml) -> Result<Node, WorkflowError> {
    let name = raw.name.get_ref();
    check_name(source.line(&raw.name), "node name", name)?;
    let kind =
        NodeKind::from_name(raw.kind.get_ref()).ok_or_else(|| WorkflowError::UnknownNodeKind {
            line: source.line(&raw.kind),
            node: name.clone(),
            kind: raw.kind.get_ref().clone(),
        })?;
    if kind != NodeKind::Session {
        let session_only = [
            (raw.prompt.as_ref().map(|p| source.line(p)), "prompt"),
            (raw.tools.as_ref().map(|t| source.line(t)), "tools"),
            (raw.max_turns.as_ref().map(|m| source.line(m)), "max_turns"),
        ];
        if let Some((Some(line), field)) = session_only.into_iter().find(|(line, _)| line.is_some())
        {
            return Err(WorkflowError::SessionOnlyField {
                line,
                node: name.clone(),
                kind,
                field,
            });
        }
        return Ok(Node {
            name: name.clone(),
            kind,
            prompt: None,
            tools: Vec::new(),
            max_turns: DEFAULT_MAX_TURNS,
        });
    }

    let prompt = match &raw.prompt {
        Some(prompt) => {
            check_name(source.line(prompt), "prompt", prompt.get_ref())?;
            prompt.get_ref().clone()
        }
        None => name.clone(),
    };
    let mut tools = Vec::new();
    for tool in raw.tools.as_ref().map_or(&[][..], |tools| tools.get_ref()) {
        check_name(source.line(tool), "tool name", tool.get_ref())?;
        tools.push(tool.get_ref().clone());
    }
    let max_turns = match &raw.max_turns {
        Some(turns) if *turns.get_ref() == 0 => {
            return Err(WorkflowError::ZeroMaxTurns {
                line: source.line(turns),
                node: name.clone(),
            });
        }
        Some(turns) => *turns.get_ref(),
        None => DEFAULT_MAX_TURNS,
    };
    Ok(Node {
        name: name.clone(),
        kind,
        prompt: Some(prompt),
        tools,
        max_turns,
    })
}

/// The one node of kind `start`, cross-checked against the optional `start` key.
fn find_start(
    source: &Source<'_>,
    doc: &DocumentToml,
    graph: &DiGraph<Node, Edge>,
    lines: &Lines,
) -> Result<NodeIndex, WorkflowError> {
    if let Some(start) = &doc.start {
        let named = graph
            .node_indices()
            .find(|index| graph[*index].name == *start.get_ref());
        let Some(index) = named else {
            return Err(WorkflowError::UnknownStart {
                line: source.line(start),
                name: start.get_ref().clone(),
                known: known_names(&doc.nodes),
            });
        };
        if graph[index].kind != NodeKind::Start {
            return Err(WorkflowError::StartKind {
                line: source.line(start),
                name: start.get_ref().clone(),
                kind: graph[index].kind,
            });
        }
    }
    let mut starts = graph
        .node_indices()
        .filter(|index| graph[*index].kind == NodeKind::Start);
    let first = starts.next().ok_or(WorkflowError::NoStartNode)?;
    if let Some(second) = starts.next() {
        return Err(WorkflowError::MultipleStartNodes {
            line: lines.node(second),
            node: graph[second].name.clone(),
            first: graph[first].name.clone(),
        });
    }
    Ok(first)
}

/// Names become prompt file stems and diagram ids, so only plain ones are accepted.
fn check_name(line: usize, what: &'static str, value: &str) -> Result<(), WorkflowError> {
    let plain = !value.is_empty()
        && value.len() <= MAX_NAME_LEN
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if plain {
        Ok(())
    } else {
        Err(WorkflowError::InvalidName {
            line,
            what,
            value: value.to_owned(),
        })
    }
}

/// Writes `workflow` in the TOML format [`parse`] reads. Every name passed
/// [`check_name`] on the way in, so none needs escaping inside `"..."`.
pub(crate) fn write(workflow: &Workflow) -> String {
    let mut out = String::new();
    let start = &workflow.node(workflow.start()).name;
    // Writing into a String cannot fail; `let _` keeps the infallible path free of unwraps.
    let _ = writeln!(out, "name = \"{}\"", workflow.name());
    let _ = writeln!(out, "start = \"{start}\"");
    for (_, node) in workflow.nodes() {
        let _ = write!(
            out,
            "\n[[nodes]]\nname = \"{}\"\nkind = \"{}\"\n",
            node.name, node.kind
        );
        if node.kind == NodeKind::Session {
            if let Some(prompt) = &node.prompt {
                let _ = writeln!(out, "prompt = \"{prompt}\"");
            }
            if !node.tools.is_empty() {
                let _ = writeln!(out, "tools = [{}]", quoted_list(node.tools.iter()));
            }
            let _ = writeln!(out, "max_turns = {}", node.max_turns);
        }
    }
    for (from, to, edge) in workflow.edges() {
        let _ = write!(
            out,
            "\n[[edges]]\nfrom = \"{}\"\nto = \"{}\"\n",
            workflow.node(from).name,
            workflow.node(to).name
        );
        if !edge.guards.is_empty() {
            let terms: Vec<String> = edge.guards.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "when = [{}]", quoted_list(terms.iter()));
        }
    }
    out
}

fn quoted_list<'a>(items: impl Iterator<Item = &'a String>) -> String {
    items
        .map(|item| format!("\"{item}\""))
        .collect::<Vec<_>>()
        .join(", ")
}
