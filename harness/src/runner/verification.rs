//! The harness decides `passes`: it starts the app, runs features' checks in headless
//! Chromium (in a blocking thread), and writes the outcome into `feature_list.json` itself.
//! A feature that passed before and fails now is a regression: `passes` goes back to false.

use baton_verify::{FeatureList, FeatureResult, Outcome, VerifyError};

use super::ThreadRunner;
use crate::error::HarnessError;
use crate::events::Event;

/// What the check of a session's target feature found.
#[derive(Debug, Clone)]
pub(crate) struct TargetVerdict {
    pub passed: bool,
    /// One line for the progress notes and the commit body.
    pub line: String,
    pub failure: Option<String>,
}

impl ThreadRunner {
    /// Runs the checks of `ids`; the features that fail are run once more in a fresh browser
    /// and app, and only a second failure counts. A loaded machine can time out opening a tab
    /// or starting the app, and such a hiccup must not flip `passes` or derail a thread.
    async fn run_checks(
        &self,
        list: &FeatureList,
        ids: Vec<String>,
    ) -> Result<Vec<FeatureResult>, HarnessError> {
        let mut results = self.run_checks_once(list, ids).await?;
        let failed: Vec<String> = results
            .iter()
            .filter(|r| r.outcome == Outcome::Failed)
            .map(|r| r.feature_id.clone())
            .collect();
        if failed.is_empty() {
            return Ok(results);
        }
        let again = self.run_checks_once(list, failed).await?;
        for result in again {
            if let Some(slot) = results
                .iter_mut()
                .find(|r| r.feature_id == result.feature_id)
            {
                *slot = result;
            }
        }
        Ok(results)
    }

    /// One verification run: one app, one browser. Errors that are the app's fault come back
    /// as failed results; errors of the machine (no Chromium) stop the run.
    async fn run_checks_once(
        &self,
        list: &FeatureList,
        ids: Vec<String>,
    ) -> Result<Vec<FeatureResult>, HarnessError> {
        let project = self.project.clone();
        let list = list.clone();
        let options = self.settings.browser_options();
        let ids_for_run = ids.clone();
        let report = tokio::task::spawn_blocking(move || {
            baton_verify::verify_features(&project, &list, Some(&ids_for_run), None, &options)
        })
        .await
        .map_err(|join| HarnessError::BadInput(format!("verification thread failed: {join}")))?;
        match report {
            Ok(report) => Ok(report.results),
            Err(error @ VerifyError::BrowserMissing { .. }) => Err(error.into()),
            Err(error) => Ok(ids
                .into_iter()
                .map(|id| FeatureResult {
                    feature_id: id,
                    outcome: Outcome::Failed,
                    duration_ms: 0,
                    failure: Some(baton_verify::ActionFailure {
                        index: 0,
                        action: "start the app".to_owned(),
                        expected: "the app answers".to_owned(),
                        found: error.to_string(),
                        screenshot: None,
                    }),
                    screenshots: Vec::new(),
                    transcripts: Vec::new(),
                    console_errors: Vec::new(),
                    step_ms: Vec::new(),
                    evidence_dir: std::path::PathBuf::new(),
                })
                .collect()),
        }
    }

    /// Closes a session's verification in one browser run: the target feature's checks decide
    /// its `passes`, and every other feature that passed is checked again, so a session that
    /// breaks an earlier feature cannot end the thread as done. Regressions flip `passes` back
    /// and are kept for the next session's prompt.
    pub(super) async fn verify_session(
        &mut self,
        mut list: FeatureList,
        target: &str,
    ) -> Result<TargetVerdict, HarnessError> {
        if !self.settings.verify_enabled {
            return Ok(TargetVerdict {
                passed: false,
                line: "not verified (verification is off)".to_owned(),
                failure: None,
            });
        }
        let Some(feature) = list.get(target) else {
            return Ok(TargetVerdict {
                passed: false,
                line: format!("feature {target} is no longer in the list"),
                failure: None,
            });
        };
        let target_has_checks = !feature.checks.is_empty();
        let mut ids = passing_with_checks(&list);
        ids.retain(|id| id != target);
        if target_has_checks {
            ids.insert(0, target.to_owned());
        }
        let results = if ids.is_empty() {
            Vec::new()
        } else {
            self.run_checks(&list, ids).await?
        };
        let verdict = if target_has_checks {
            let result = results.iter().find(|r| r.feature_id == target);
            let passed = result.is_some_and(|r| r.outcome == Outcome::Passed);
            let failure = match result {
                Some(result) => failure_text(result),
                None => Some("no result".to_owned()),
            };
            self.record(Event::Verification {
                feature: target.to_owned(),
                outcome: if passed { "passed" } else { "failed" }.to_owned(),
                failure: failure.clone(),
                evidence: result.map(|r| r.evidence_dir.display().to_string()),
                millis: result.map_or(0, |r| r.duration_ms),
            })?;
            list.set_passes(target, passed);
            let line = match &failure {
                None => "checks passed in headless Chromium".to_owned(),
                Some(failure) => format!("checks failed: {failure}"),
            };
            TargetVerdict {
                passed,
                line,
                failure,
            }
        } else {
            // A manual feature (no machine can check it): the session's word ends its turn,
            // and the counts show it apart, never as verified.
            list.set_passes(target, true);
            TargetVerdict {
                passed: true,
                line: "manual (no checks): done on the session's word, not verified by baton"
                    .to_owned(),
                failure: None,
            }
        };
        let others: Vec<FeatureResult> = results
            .into_iter()
            .filter(|r| r.feature_id != target)
            .collect();
        let regressions = self.flip_regressions(&mut list, &others).await?;
        self.state.regressions.extend(regressions);
        self.guard.accept(list)?;
        Ok(verdict)
    }

    /// Re-runs the checks of every passing feature at a session's start, unless the worktree
    /// is exactly what the last session's closing verification saw. Returns the list as it is
    /// afterwards and one line per regression for the prompt.
    pub(super) async fn recheck_passing(
        &mut self,
        mut list: FeatureList,
    ) -> Result<(FeatureList, Vec<String>), HarnessError> {
        let mut regressions = std::mem::take(&mut self.state.regressions);
        let ids = passing_with_checks(&list);
        if ids.is_empty() || !self.settings.verify_enabled {
            return Ok((list, regressions));
        }
        let tree = self.current_tree()?;
        if self.state.verified_tree.as_deref() == Some(tree.as_str()) {
            return Ok((list, regressions));
        }
        let results = self.run_checks(&list, ids).await?;
        let found = self.flip_regressions(&mut list, &results).await?;
        if !found.is_empty() {
            let path = self.project.join(crate::feature_guard::FEATURE_LIST);
            std::fs::write(&path, list.to_json_pretty())
                .map_err(|source| HarnessError::io(&path, source))?;
        }
        regressions.extend(found);
        Ok((list, regressions))
    }

    /// Sets `passes` back to false for each failed result, recording and remembering it.
    async fn flip_regressions(
        &mut self,
        list: &mut FeatureList,
        results: &[FeatureResult],
    ) -> Result<Vec<String>, HarnessError> {
        let mut regressions = Vec::new();
        for result in results.iter().filter(|r| r.outcome == Outcome::Failed) {
            let failure = failure_text(result).unwrap_or_else(|| "failed".to_owned());
            list.set_passes(&result.feature_id, false);
            self.record(Event::Regression {
                feature: result.feature_id.clone(),
                failure: failure.clone(),
            })?;
            self.remember_regression(&result.feature_id, &failure).await;
            regressions.push(format!("{}: {failure}", result.feature_id));
        }
        Ok(regressions)
    }

    /// The git tree of the worktree as it is now (a snapshot; cheap when little changed).
    pub(super) fn current_tree(&self) -> Result<String, HarnessError> {
        let snapshot = self
            .snapshotter()?
            .snapshot(baton_tape::StepNo(self.state.step), "verification")?;
        Ok(snapshot.tree)
    }
}

fn passing_with_checks(list: &FeatureList) -> Vec<String> {
    list.features
        .iter()
        .filter(|f| f.passes && !f.checks.is_empty())
        .map(|f| f.id.clone())
        .collect()
}

/// One line saying which check failed, what it wanted and what it found.
pub(crate) fn failure_text(result: &FeatureResult) -> Option<String> {
    result.failure.as_ref().map(ToString::to_string)
}
