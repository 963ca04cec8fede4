//! baton: a harness that runs an LLM coding agent on a software project over many sessions,
//! unattended, and never loses its place. This crate is the runner (workflow walk, sessions,
//! the agent loop), the harness-side tools, configuration and the CLI; the parts it drives
//! live in `baton-model`, `baton-tools`, `baton-tape`, `baton-memory`, `baton-verify` and
//! `baton-workflows`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod adopt;
mod bench;
mod bench_memory;
mod bench_real;
pub mod cli;
pub mod commands;
mod compare;
pub mod config;
pub mod connection;
pub mod control;
mod display;
pub mod error;
pub mod events;
mod export;
pub mod failpoint;
pub mod feature_guard;
pub mod input_guard;
pub mod logging;
pub mod memory;
pub mod memory_queue;
mod memory_repair;
pub mod progress;
pub mod project;
pub mod project_id;
pub mod prompt;
pub mod runner;
pub mod state;
pub mod tools;
mod tui;
mod web;
