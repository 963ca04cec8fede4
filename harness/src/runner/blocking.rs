//! The per-feature attempt budget. A feature gets `feature_attempts` coding sessions (3 by
//! default, `baton.toml`); if its checks still fail it is blocked — recorded on the tape with
//! its last failure — and the thread moves on to the next failing feature instead of
//! spending every session left on it. Once no other feature is left to try, the thread comes
//! back to a blocked feature for one more session if features have passed since it was
//! blocked (the project it builds on has moved on). When every feature left is blocked the
//! thread ends as `blocked`, naming the features and why.
//!
//! The budget is the harness's: it lives in the thread's state on the tape, which the model's
//! tools cannot reach, and `input_guard` keeps the model from editing `baton.toml`.

use std::fmt::Write as _;

use baton_verify::{Feature, FeatureList};

use super::{TargetVerdict, ThreadRunner};
use crate::error::HarnessError;
use crate::events::Event;
use crate::state::{BlockedFeature, Phase};

/// What the next coding session works on.
pub(super) enum Target {
    /// This feature (failing and not blocked, or blocked and due for another try).
    Feature(Feature),
    /// Features are failing, but every one of them is blocked: the thread ends.
    AllBlocked(String),
    /// Nothing is failing (or there is no list yet).
    Nothing,
}

impl ThreadRunner {
    /// The first failing feature that is not blocked; else a blocked one features have passed
    /// since; else, when failing features remain, why the thread is blocked.
    pub(super) fn pick_target(&mut self, list: &FeatureList) -> Target {
        // A blocked feature that passes now (its work came with another's) is blocked no more.
        self.state
            .blocked
            .retain(|id, _| list.get(id).is_some_and(|feature| !feature.passes));
        let failing: Vec<&Feature> = list.features.iter().filter(|f| !f.passes).collect();
        if let Some(feature) = failing
            .iter()
            .find(|f| !self.state.blocked.contains_key(&f.id))
        {
            return Target::Feature((*feature).clone());
        }
        let passing = list.passing();
        if let Some(feature) = failing.iter().find(|f| {
            self.state
                .blocked
                .get(&f.id)
                .is_some_and(|blocked| blocked.passing_then < passing)
        }) {
            return Target::Feature((*feature).clone());
        }
        if failing.is_empty() {
            return Target::Nothing;
        }
        Target::AllBlocked(self.blocked_reason())
    }

    /// Counts a verified coding session against its feature's budget, blocking the feature
    /// when it is spent (or when a second chance after being blocked failed too).
    pub(super) fn count_attempt(
        &mut self,
        feature: &str,
        verdict: &TargetVerdict,
        end: &str,
    ) -> Result<(), HarnessError> {
        let sessions = {
            let count = self.state.attempts.entry(feature.to_owned()).or_insert(0);
            *count += 1;
            *count
        };
        if verdict.passed {
            self.state.blocked.remove(feature);
            return Ok(());
        }
        let second_chance = self.state.blocked.contains_key(feature);
        if !second_chance && sessions < self.settings.feature_attempts {
            return Ok(());
        }
        let failure = verdict
            .failure
            .clone()
            .unwrap_or_else(|| format!("{}; the session ended: {end}", verdict.line));
        let passing_then = self.read_feature_list().map_or(0, |l| l.passing());
        self.state.blocked.insert(
            feature.to_owned(),
            BlockedFeature {
                sessions,
                failure: failure.clone(),
                passing_then,
            },
        );
        self.record(Event::FeatureBlocked {
            feature: feature.to_owned(),
            sessions,
            failure,
        })
    }

    /// Ends the thread as blocked.
    pub(super) async fn end_blocked(&mut self, reason: String) -> Result<(), HarnessError> {
        self.state.phase = Phase::Blocked {
            reason: reason.clone(),
        };
        self.record(Event::ThreadFinished {
            status: format!("blocked: {reason}"),
        })?;
        self.checkpoint().await
    }

    /// Which features are blocked and why, for the end status.
    fn blocked_reason(&self) -> String {
        let mut out = format!(
            "every feature left is blocked ({} after {} coding sessions each without passing):",
            self.state.blocked.len(),
            self.settings.feature_attempts
        );
        for (id, blocked) in &self.state.blocked {
            let _ = write!(
                out,
                " {id} ({} sessions; last failure: {});",
                blocked.sessions, blocked.failure
            );
        }
        out.push_str(
            " raise feature_attempts in baton.toml and resume to try them again, or fix them by hand",
        );
        out
    }
}
