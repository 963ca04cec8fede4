//! baton-verify: feature lists and their integrity rules, the app launcher, and feature
//! checks run in headless Chromium so that a feature's `passes` is earned, not claimed.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod app;
#[cfg(feature = "bench")]
pub mod bench;
mod browser;
mod check;
mod command_checks;
mod error;
mod feature_list;
mod integrity;
mod reaper;
mod runner;
mod session;
mod verify;

pub use app::{RunningApp, start_app};
pub use browser::BrowserOptions;
pub use check::{
    Check, ExpectAttribute, ExpectChecked, ExpectText, HttpCheck, JsonExpect, RunCheck, TextMatch,
    WaitFor,
};
pub use error::VerifyError;
pub use feature_list::{AppConfig, Feature, FeatureList};
pub use integrity::{FeatureField, PassesPolicy, Violation, check_integrity};
pub use runner::{ActionFailure, BrowserRunner, FeatureResult, Outcome};
pub use session::BrowserSession;
pub use verify::{VerifyReport, evidence_root, new_run_name, verify_features};

/// The JSON Schema (draft 2020-12) of `feature_list.json`, for prompts and editors.
pub fn json_schema() -> &'static str {
    include_str!("../schema.json")
}
