//! `baton bench web`: how soon the dashboard has a long thread's page ready, and how long a
//! new step on the tape takes to reach a page listening on the live stream.

use std::path::Path;
use std::time::{Duration, Instant};

use baton_tape::{StepNo, TapeWriter, ThreadId, ThreadPaths};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

use super::{guard, router};
use crate::bench::percentile_us;
use crate::error::HarnessError;
use crate::events::Event;
use crate::tui::bench::write_synthetic_thread;

/// The figures `baton bench web` prints.
#[derive(Debug, Serialize)]
pub struct WebBenchReport {
    pub steps: usize,
    /// Everything the page asks for on opening the thread (threads, the last page of steps,
    /// the last step, the fork tree), first time (tape read) and again (cached).
    pub page_ready_cold_ms: f64,
    pub page_ready_warm_ms: f64,
    /// A step appended to the tape until the live stream's event is read.
    pub live_p50_ms: f64,
    pub live_p99_ms: f64,
    pub live_samples: usize,
}

/// Runs the benchmark on a synthetic thread of `steps` steps.
pub async fn run(steps: usize) -> Result<WebBenchReport, HarnessError> {
    let dir =
        tempfile::tempdir().map_err(|source| HarnessError::io(Path::new("temp dir"), source))?;
    let project = dir.path().join("project");
    {
        let project = project.clone();
        tokio::task::spawn_blocking(move || write_synthetic_thread(&project, "bench", steps))
            .await
            .map_err(|e| HarnessError::BadInput(e.to_string()))??;
    }
    let project = project
        .canonicalize()
        .map_err(|source| HarnessError::io(&project, source))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|source| HarnessError::io(Path::new("listener"), source))?;
    let addr = listener
        .local_addr()
        .map_err(|source| HarnessError::io(Path::new("listener"), source))?;
    let (guard, _) = guard::Guard::for_addr(addr, false)?;
    let app = router(vec![project.clone()], guard);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let last = steps;
    let paths = [
        "/api/threads".to_owned(),
        "/api/p/0/t/bench/steps?offset=0&limit=1".to_owned(),
        format!(
            "/api/p/0/t/bench/steps?offset={}&limit=200",
            (steps + 1).saturating_sub(200)
        ),
        format!("/api/p/0/t/bench/step/{last}"),
        "/api/p/0/t/bench/tree".to_owned(),
    ];
    let client = reqwest::Client::new();
    let mut ready = Vec::new();
    for _ in 0..2 {
        let started = Instant::now();
        for path in &paths {
            let response = client
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .map_err(|e| HarnessError::BadInput(format!("{path}: {e}")))?;
            let _ = response.bytes().await;
        }
        ready.push(started.elapsed());
    }

    let mut live = live_latencies(addr, &project).await?;
    live.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(WebBenchReport {
        steps,
        page_ready_cold_ms: ms(ready[0]),
        page_ready_warm_ms: ms(ready[1]),
        live_p50_ms: percentile_us(&live, 50.0) / 1000.0,
        live_p99_ms: percentile_us(&live, 99.0) / 1000.0,
        live_samples: live.len(),
    })
}

/// Appends 40 events to the thread's tape, one at a time, and times each until the live
/// stream reports it.
async fn live_latencies(
    addr: std::net::SocketAddr,
    project: &Path,
) -> Result<Vec<Duration>, HarnessError> {
    let io = |source| HarnessError::io(Path::new("live stream"), source);
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(io)?;
    let (read, mut write) = stream.into_split();
    write
        .write_all(format!("GET /api/p/0/t/bench/live HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n").as_bytes())
        .await
        .map_err(io)?;
    let mut lines = BufReader::new(read).lines();
    // Headers first.
    while let Some(line) = lines.next_line().await.map_err(io)? {
        if line.is_empty() {
            break;
        }
    }
    let paths = ThreadPaths::new(
        project,
        &ThreadId::new("bench").map_err(HarnessError::Tape)?,
    );
    let mut tape = TapeWriter::<Event>::open(&paths, crate::runner::tape_options())?.writer;
    let mut samples = Vec::new();
    for i in 0..40 {
        // Apart from the poll's phase, so samples spread over it.
        tokio::time::sleep(Duration::from_millis(37 + (i % 5) * 11)).await;
        tape.append(
            StepNo(0),
            Event::Error {
                message: format!("bench {i}"),
            },
        )?;
        tape.flush()?;
        let appended = Instant::now();
        let wait = async {
            while let Some(line) = lines.next_line().await.map_err(io)? {
                if line.starts_with("event: tape") {
                    return Ok::<_, HarnessError>(true);
                }
            }
            Ok(false)
        };
        match tokio::time::timeout(Duration::from_secs(5), wait).await {
            Ok(Ok(true)) => samples.push(appended.elapsed()),
            _ => break,
        }
    }
    Ok(samples)
}
