//! The model crate's integration tests, in one test binary: the OpenAI protocol against the
//! scripted server, and servers' quirks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod protocol;
mod quirks;
