//! The harness's end-to-end tests, in one test binary (one link instead of one per file):
//! each module drives the `baton` binary (`CARGO_BIN_EXE_baton`) against real git, Chromium,
//! embeddings and a scripted model served over HTTP. `support` has the shared set-ups.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod agent_failures;
mod api_demo;
mod cli;
mod cli_demo;
mod export;
mod hostile_inputs;
mod kill_resume;
mod memory_and_demo;
mod memory_identity;
mod memory_reindex;
mod memory_server;
mod memory_timeline;
mod module_graph;
mod real_model;
mod regression;
mod robustness;
mod sandbox;
mod steering;
mod support;
mod time_travel;
mod web;
mod whole_run;
