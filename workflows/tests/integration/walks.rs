//! Walks threads through the built-in and example workflows with `Workflow::next`.

use baton_workflows::{NodeKind, ThreadFacts, Workflow};

fn facts(present: bool, total: usize, passing: usize, run: u32, max: u32) -> ThreadFacts {
    ThreadFacts {
        feature_list_present: present,
        features_total: total,
        features_passing: passing,
        sessions_run: run,
        max_sessions: max,
    }
}

/// Runs `flow` from start: `session` is called for each session node with the facts
/// before it, and returns the facts after it. Returns the node names visited, ending
/// with the terminal node or with "<stopped>" when `next` gave up.
fn walk(
    flow: &Workflow,
    mut before: ThreadFacts,
    mut session: impl FnMut(&str, ThreadFacts) -> ThreadFacts,
) -> Vec<String> {
    let mut at = flow.start();
    let mut visited = vec![flow.node(at).name.clone()];
    for _ in 0..100 {
        if flow.node(at).kind == NodeKind::Session {
            before = session(&flow.node(at).name, before);
            before.sessions_run += 1;
        }
        if flow.node(at).kind == NodeKind::Terminal {
            return visited;
        }
        let Some(step) = flow.next(at, &before) else {
            visited.push("<stopped>".to_owned());
            return visited;
        };
        at = step.to;
        visited.push(flow.node(at).name.clone());
    }
    panic!("walk did not end: {visited:?}");
}

#[test]
fn two_agent_shape_matches_the_contract() {
    let flow = Workflow::builtin("two-agent").unwrap();
    assert_eq!(Workflow::builtin_names(), &["two-agent"]);
    assert_eq!(flow.name(), "two-agent");
    let nodes: Vec<_> = flow
        .nodes()
        .map(|(_, n)| {
            (
                n.name.as_str(),
                n.kind,
                n.prompt.as_deref(),
                n.max_turns,
                n.tools.len(),
            )
        })
        .collect();
    assert_eq!(
        nodes,
        [
            ("start", NodeKind::Start, None, 60, 0),
            ("initializer", NodeKind::Session, Some("initializer"), 60, 0),
            ("coding", NodeKind::Session, Some("coding"), 80, 0),
            ("done", NodeKind::Terminal, None, 60, 0),
        ]
    );
    let edges: Vec<_> = flow
        .edges()
        .map(|(from, to, edge)| {
            format!(
                "{} -> {} [{edge}]",
                flow.node(from).name,
                flow.node(to).name
            )
        })
        .collect();
    assert_eq!(
        edges,
        [
            "start -> done [all_features_pass]",
            "start -> initializer [feature_list_missing && sessions_left]",
            "start -> coding [features_failing && sessions_left]",
            "initializer -> done [all_features_pass]",
            "initializer -> coding [features_failing && sessions_left]",
            "initializer -> initializer [feature_list_missing && sessions_left]",
            "coding -> done [all_features_pass]",
            "coding -> coding [features_failing && sessions_left]",
        ]
    );
    assert_eq!(
        flow.node_by_name("coding")
            .map(|id| flow.node(id).name.as_str()),
        Some("coding")
    );
    assert_eq!(flow.node_by_name("review"), None);
}

#[test]
fn two_agent_missing_list_then_one_feature_per_session_until_done() {
    let flow = Workflow::builtin("two-agent").unwrap();
    let visited = walk(&flow, facts(false, 0, 0, 0, 20), |node, mut f| {
        match node {
            "initializer" => {
                f.feature_list_present = true;
                f.features_total = 4;
            }
            "coding" => f.features_passing += 1,
            other => panic!("unexpected session {other}"),
        }
        f
    });
    assert_eq!(
        visited,
        [
            "start",
            "initializer",
            "coding",
            "coding",
            "coding",
            "coding",
            "done"
        ]
    );
}

#[test]
fn two_agent_retries_a_failed_initializer() {
    let flow = Workflow::builtin("two-agent").unwrap();
    let mut attempts = 0;
    let visited = walk(&flow, facts(false, 0, 0, 0, 20), |node, mut f| {
        if node == "initializer" {
            attempts += 1;
            if attempts == 2 {
                f.feature_list_present = true;
                f.features_total = 1;
            }
        } else {
            f.features_passing = 1;
        }
        f
    });
    assert_eq!(
        visited,
        ["start", "initializer", "initializer", "coding", "done"]
    );
}

#[test]
fn two_agent_stops_unfinished_when_the_budget_runs_out() {
    let flow = Workflow::builtin("two-agent").unwrap();
    let visited = walk(&flow, facts(false, 0, 0, 0, 3), |node, mut f| {
        if node == "initializer" {
            f.feature_list_present = true;
            f.features_total = 10;
        } else {
            f.features_passing += 1;
        }
        f
    });
    assert_eq!(
        visited,
        ["start", "initializer", "coding", "coding", "<stopped>"]
    );

    let coding = flow.node_by_name("coding").unwrap();
    assert_eq!(flow.next(coding, &facts(true, 10, 2, 3, 3)), None);
    // The last session finished the job: done wins even with no budget left.
    let done = flow.next(coding, &facts(true, 10, 10, 3, 3)).unwrap();
    assert_eq!(flow.node(done.to).name, "done");
    assert_eq!(done.guard, "all_features_pass");
}

#[test]
fn two_agent_resumed_thread_goes_straight_to_coding_or_done() {
    let flow = Workflow::builtin("two-agent").unwrap();
    let step = flow.next(flow.start(), &facts(true, 5, 2, 4, 10)).unwrap();
    assert_eq!(flow.node(step.to).name, "coding");
    assert_eq!(step.guard, "features_failing && sessions_left");
    let step = flow.next(flow.start(), &facts(true, 5, 5, 4, 4)).unwrap();
    assert_eq!(flow.node(step.to).name, "done");
    // An empty list counts as failing, so coding (not done) follows it.
    let step = flow.next(flow.start(), &facts(true, 0, 0, 1, 4)).unwrap();
    assert_eq!(flow.node(step.to).name, "coding");
}

#[test]
fn review_loop_example_goes_back_to_coding_when_a_feature_fails_again() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/review-loop.toml");
    let flow = Workflow::load(path).unwrap();
    assert_eq!(flow.name(), "review-loop");
    let review = flow.node(flow.node_by_name("review").unwrap());
    assert_eq!(review.tools, ["read_file", "glob", "grep", "recall"]);
    assert_eq!(review.max_turns, 40);
    // No prompt key: the prompt stem defaults to the node name.
    let coding = flow.node(flow.node_by_name("coding").unwrap());
    assert_eq!(coding.prompt.as_deref(), Some("coding"));

    let mut reviews = 0;
    let visited = walk(&flow, facts(false, 0, 0, 0, 20), |node, mut f| {
        match node {
            "initializer" => {
                f.feature_list_present = true;
                f.features_total = 2;
            }
            "coding" => f.features_passing = f.features_total,
            "review" => {
                reviews += 1;
                if reviews == 1 {
                    f.features_passing = 1;
                }
            }
            other => panic!("unexpected session {other}"),
        }
        f
    });
    assert_eq!(
        visited,
        [
            "start",
            "initializer",
            "coding",
            "review",
            "coding",
            "review",
            "done"
        ]
    );
}
