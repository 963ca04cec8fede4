//! Prints `baton bench verify`'s figures: Chromium start time, a ten-step check's
//! p50/p90/p99 over 20 runs and each step's median. Run with
//! `cargo run --release -p baton-verify --example verify_bench` (a release build of this crate only).

use std::process::ExitCode;

use baton_verify::BrowserOptions;
use baton_verify::bench::{self, BenchOptions};

fn main() -> ExitCode {
    match bench::run(&BenchOptions::default(), &BrowserOptions::default()) {
        Ok(figures) => {
            println!(
                "browser start      {:>8.1} ms (target ≤ {:.0} ms)",
                figures.browser_start_ms, figures.target_start_ms
            );
            println!(
                "{}-step check p50   {:>8.1} ms (target ≤ {:.0} ms)",
                figures.check_steps, figures.check_p50_ms, figures.target_check_p50_ms
            );
            println!(
                "{}-step check p90   {:>8.1} ms",
                figures.check_steps, figures.check_p90_ms
            );
            println!(
                "{}-step check p99   {:>8.1} ms",
                figures.check_steps, figures.check_p99_ms
            );
            for (kind, ms) in &figures.step_p50_ms {
                println!("  {kind:<16} p50 {ms:>8.1} ms");
            }
            println!(
                "{}-step check max   {:>8.1} ms over {} runs",
                figures.check_steps, figures.check_max_ms, figures.runs
            );
            match serde_json::to_string(&figures) {
                Ok(json) => println!("{json}"),
                Err(error) => eprintln!("cannot print JSON: {error}"),
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("bench failed: {error}");
            ExitCode::FAILURE
        }
    }
}
