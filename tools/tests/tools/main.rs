//! Integration tests of baton-tools through the public API, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bash;
mod common;
mod files;
mod hostile;
mod jail;
mod sandbox;
mod search;
mod toolbox;
