//! The harness's own benchmarks, run by `baton bench …`: the agent loop with a scripted model
//! (`agent_loop`) and a real local model (`real_model`), and the timeline filter of recall
//! (`timeline`). The TUI's and the dashboard's benches
//! live beside the views they measure.

pub mod agent_loop;
pub mod memory;
pub mod real_model;
pub mod timeline;

use std::time::Duration;

/// Percentile of sorted durations, in microseconds.
pub fn percentile_us(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1e6
}
