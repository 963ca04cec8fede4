//! `baton bench verify`: how long Chromium takes to start and how long a ten-action feature
//! check takes once it runs, against a page served by a tiny HTTP server on 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::browser::BrowserOptions;
use crate::check::Check;
use crate::error::VerifyError;
use crate::feature_list::Feature;
use crate::runner::{BrowserRunner, Outcome};

const PAGE: &str = r#"<!doctype html><html><head><title>bench</title></head><body>
<input id="item" placeholder="item"><button id="add">Add</button>
<label><input type="checkbox" id="all"> all done</label>
<ul id="list"></ul><p id="count">0 items</p>
<script>
const list = document.getElementById('list'), input = document.getElementById('item');
function add() {
  if (!input.value.trim()) return;
  const li = document.createElement('li'); li.textContent = input.value; list.appendChild(li);
  input.value = '';
  document.getElementById('count').textContent = list.children.length + ' items';
}
document.getElementById('add').addEventListener('click', add);
input.addEventListener('keydown', e => { if (e.key === 'Enter') add(); });
</script></body></html>"#;

/// What `bench::run` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchOptions {
    /// How many times the ten-action check runs after the browser is up.
    pub runs: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self { runs: 20 }
    }
}

/// Figures printed by `baton bench verify`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyBench {
    /// Chromium launch until it accepts commands.
    pub browser_start_ms: f64,
    /// Steps in the measured check.
    pub check_steps: usize,
    /// Runs measured.
    pub runs: usize,
    /// Median time of one check run (fresh incognito tab included).
    pub check_p50_ms: f64,
    /// 90th percentile.
    pub check_p90_ms: f64,
    /// 99th percentile.
    pub check_p99_ms: f64,
    /// Slowest run.
    pub check_max_ms: f64,
    /// Median time of each step, in the check's order (`goto`, `fill`, ...): where a run's
    /// time goes.
    pub step_p50_ms: Vec<(String, f64)>,
    /// Target for `browser_start_ms`.
    pub target_start_ms: f64,
    /// Target for `check_p50_ms`.
    pub target_check_p50_ms: f64,
}

/// Serve the bench page, launch Chromium, and time `runs` runs of a ten-action check.
pub fn run(opts: &BenchOptions, browser: &BrowserOptions) -> Result<VerifyBench, VerifyError> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|source| VerifyError::BenchServer { source })?;
    let port = listener
        .local_addr()
        .map_err(|source| VerifyError::BenchServer { source })?
        .port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = serve(stream);
        }
    });
    let base_url = format!("http://127.0.0.1:{port}/");
    let evidence = std::env::temp_dir().join(format!("baton-verify-bench-{}", std::process::id()));

    let started = Instant::now();
    let runner = BrowserRunner::launch(browser)?;
    let browser_start_ms = started.elapsed().as_secs_f64() * 1000.0;

    let feature = bench_feature();
    let mut times = Vec::with_capacity(opts.runs);
    let mut step_times: Vec<Vec<f64>> = vec![Vec::new(); feature.checks.len()];
    for run in 0..opts.runs.max(1) {
        let dir: PathBuf = evidence.join(run.to_string());
        let started = Instant::now();
        let result = runner.run_feature(&feature, &base_url, &dir);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        if result.outcome != Outcome::Passed {
            let _ = std::fs::remove_dir_all(&evidence);
            return Err(VerifyError::Browser {
                detail: format!("the bench check failed: {:?}", result.failure),
            });
        }
        for (times, ms) in step_times.iter_mut().zip(&result.step_ms) {
            times.push(*ms as f64);
        }
    }
    let _ = std::fs::remove_dir_all(&evidence);
    times.sort_by(f64::total_cmp);
    let step_p50_ms = feature
        .checks
        .iter()
        .zip(&mut step_times)
        .map(|(check, times)| {
            times.sort_by(f64::total_cmp);
            (check.kind(), percentile(times, 0.5))
        })
        .collect();
    Ok(VerifyBench {
        browser_start_ms,
        check_steps: feature.checks.len(),
        runs: times.len(),
        check_p50_ms: percentile(&times, 0.5),
        check_p90_ms: percentile(&times, 0.9),
        check_p99_ms: percentile(&times, 0.99),
        check_max_ms: times.last().copied().unwrap_or_default(),
        step_p50_ms,
        target_start_ms: 1_500.0,
        target_check_p50_ms: 500.0,
    })
}

fn bench_feature() -> Feature {
    Feature {
        id: "bench-add-item".to_owned(),
        category: "functional".to_owned(),
        description: "Add an item to the list".to_owned(),
        steps: vec!["Type an item and press Enter".to_owned()],
        checks: vec![
            Check::Goto("/".to_owned()),
            Check::Fill {
                selector: "#item".to_owned(),
                text: "Buy milk".to_owned(),
            },
            Check::Press {
                selector: Some("#item".to_owned()),
                key: "Enter".to_owned(),
            },
            Check::Fill {
                selector: "#item".to_owned(),
                text: "Walk the dog".to_owned(),
            },
            Check::Click("#add".to_owned()),
            Check::ExpectCount {
                selector: "#list li".to_owned(),
                equals: 2,
            },
            Check::Check("#all".to_owned()),
            Check::ExpectChecked(crate::check::ExpectChecked::Selector("#all".to_owned())),
            Check::ExpectValue(crate::check::ExpectText {
                selector: "#item".to_owned(),
                matcher: crate::check::TextMatch::Equals(String::new()),
            }),
            Check::ExpectText(crate::check::ExpectText {
                selector: "#count".to_owned(),
                matcher: crate::check::TextMatch::Equals("2 items".to_owned()),
            }),
        ],
        passes: false,
        extra: serde_json::Map::new(),
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let (status, body) = if line.is_empty() {
        ("400 Bad Request", "")
    } else {
        ("200 OK", PAGE)
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
