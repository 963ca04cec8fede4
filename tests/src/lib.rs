//! Shared helpers for baton end-to-end tests.
