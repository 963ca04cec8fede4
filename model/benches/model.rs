//! Figures for the model layer, printed rather than asserted: a scripted completion
//! over real HTTP on 127.0.0.1 (client parse + server + protocol), and the context
//! budget on a long conversation. Run: `cargo bench -p baton-model --bench model`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use baton_model::script::{Script, serve, session_marker};
use baton_model::{
    ChatMessage, Model, ModelRequest, OpenAiModel, OpenAiSettings, estimate_tokens, fit_to_context,
};

const CALLS: usize = 500;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{what}: n={} p50={:?} p99={:?} max={:?}",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples[samples.len() - 1]
    );
}

/// A conversation of `steps` tool round trips, each output `output_chars` long.
fn conversation(steps: usize, output_chars: usize) -> Vec<ChatMessage> {
    let mut messages = vec![
        ChatMessage::system(format!(
            "You are a coding agent.\n{}",
            session_marker(1, "coding")
        )),
        ChatMessage::user("Implement the next failing feature."),
    ];
    for i in 0..steps {
        messages.push(ChatMessage::assistant(format!(
            "step {i}: running the tests"
        )));
        messages.push(ChatMessage::tool_result(
            format!("call_{i}"),
            "test output line ok\n".repeat(output_chars / 20),
        ));
    }
    messages
}

async fn scripted_round_trip() {
    let dir = std::env::temp_dir();
    let script = Script::from_json_str(
        r#"{"sessions":[{"turns":[{"content":"ok","tool_calls":[{"name":"bash","arguments":{"cmd":"cargo test"}}]}]}]}"#,
        &dir,
    )
    .unwrap();
    let server = serve(script, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let model = OpenAiModel::new(OpenAiSettings::new(server.base_url(), "scripted")).unwrap();
    for (label, output_chars) in [
        ("small request (2 KB)", 100),
        ("large request (200 KB)", 10_000),
    ] {
        let mut messages = conversation(10, output_chars);
        // The script's only turn answers requests without assistant messages.
        messages.retain(|m| m.role != baton_model::Role::Assistant);
        let request = ModelRequest {
            messages: messages.into(),
            ..ModelRequest::default()
        };
        let mut samples = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let started = Instant::now();
            let response = model.complete(&request).await.unwrap();
            samples.push(started.elapsed());
            assert_eq!(response.message.tool_calls.len(), 1);
        }
        report(&format!("scripted completion over HTTP, {label}"), samples);
    }
    server.shutdown().await.unwrap();
}

fn context_budget() {
    let messages = conversation(200, 8_000);
    let before = estimate_tokens(&messages);
    let limit = before / 4;
    let mut samples = Vec::new();
    let mut last = None;
    for _ in 0..30 {
        let started = Instant::now();
        let (fitted, report) = fit_to_context(&messages, limit);
        samples.push(started.elapsed());
        last = Some((fitted.len(), report));
    }
    let (kept, fit) = last.unwrap();
    println!(
        "fit_to_context: {} messages, {before} → {} tokens (limit {limit}), {} outputs shortened, {kept} messages kept",
        messages.len(),
        fit.after_tokens,
        fit.shortened
    );
    report("fit_to_context on 1.6 MB of tool output", samples);
    let started = Instant::now();
    for _ in 0..30 {
        std::hint::black_box(estimate_tokens(&messages));
    }
    println!(
        "estimate_tokens on 1.6 MB: {:?} per call",
        started.elapsed() / 30
    );
}

fn main() {
    context_budget();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(scripted_round_trip());
}
