//! The workflows crate's integration tests, in one test binary: loading files, rendering,
//! validation with line numbers, and walks through the graphs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod files;
mod render;
mod validation;
mod walks;
