//! baton: a harness that runs an LLM coding agent on a software project over many sessions,
//! unattended, and never loses its place. This crate is the runner (workflow walk, sessions,
//! the agent loop), the harness-side tools, configuration and the CLI; the parts it drives
//! live in `baton-model`, `baton-tools`, `baton-tape`, `baton-memory`, `baton-verify` and
//! `baton-workflows`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod adopt;
#[cfg(feature = "bench")]
mod bench;
pub mod cli;
pub mod commands;
mod compare;
mod config;
pub mod connection;
pub mod control;
mod display;
mod env_vars;
pub mod error;
pub mod events;
pub mod exit;
mod export;
mod failpoint;
mod feature_guard;
mod input_guard;
mod layout;
pub mod logging;
mod memory;
mod memory_index;
mod memory_queue;
mod memory_repair;
mod observe;
mod progress;
mod project;
mod project_id;
mod prompt;
mod runner;
pub mod state;
mod threads;
mod timeline;
mod tools;
mod tui;
mod web;
