//! The tape crate's integration tests, in one test binary: the tape and its index, and
//! worktree snapshots.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod snapshot;
mod tape;
