//! Runs the tape benchmark and prints its report as JSON:
//! `cargo run -p baton-tape --release --example tape_bench [steps]`.

use baton_tape::bench::{self, BenchOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = BenchOptions::default();
    if let Some(steps) = std::env::args().nth(1) {
        opts.steps = steps.parse()?;
    }
    let report = bench::run(&opts)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    std::fs::remove_dir_all(&opts.dir)?;
    Ok(())
}
