//! The harness decides `passes`: it starts the app, runs features' checks in headless
//! Chromium (in a blocking thread), and writes the outcome into `feature_list.json` itself.
//! A feature that passed before and fails now is a regression: `passes` goes back to false.

use baton_verify::{BrowserOptions, FeatureList, FeatureResult, Outcome, VerifyError};

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
    fn browser_options(&self) -> BrowserOptions {
        let mut options = BrowserOptions::default();
        if let Some(path) = &self.settings.chromium {
            options.chromium_path = Some(path.clone());
        }
        options
    }

    /// Runs the checks of `ids` in one browser; errors that are the app's fault come back as
    /// failed results, errors of the machine (no Chromium) stop the run.
    async fn run_checks(
        &self,
        list: &FeatureList,
        ids: Vec<String>,
    ) -> Result<Vec<FeatureResult>, HarnessError> {
        let project = self.project.clone();
        let list = list.clone();
        let options = self.browser_options();
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
                    console_errors: Vec::new(),
                    evidence_dir: std::path::PathBuf::new(),
                })
                .collect()),
        }
    }

    /// Verifies the session's target feature and records the outcome in the feature list.
    pub(super) async fn verify_target(
        &mut self,
        mut list: FeatureList,
        id: &str,
    ) -> Result<TargetVerdict, HarnessError> {
        if !self.settings.verify_enabled {
            return Ok(TargetVerdict {
                passed: false,
                line: "not verified (verification is off)".to_owned(),
                failure: None,
            });
        }
        let Some(feature) = list.get(id) else {
            return Ok(TargetVerdict {
                passed: false,
                line: format!("feature {id} is no longer in the list"),
                failure: None,
            });
        };
        if feature.checks.is_empty() {
            // Nothing a browser can check (documentation, refactoring): the session's word stands.
            list.set_passes(id, true);
            self.guard.accept(list)?;
            return Ok(TargetVerdict {
                passed: true,
                line: "no checks: passes on the session's word".to_owned(),
                failure: None,
            });
        }
        let results = self.run_checks(&list, vec![id.to_owned()]).await?;
        let result = results.into_iter().find(|r| r.feature_id == id);
        let (passed, failure, evidence, millis) = match &result {
            Some(result) => (
                result.outcome == Outcome::Passed,
                failure_text(result),
                Some(result.evidence_dir.display().to_string()),
                result.duration_ms,
            ),
            None => (false, Some("no result".to_owned()), None, 0),
        };
        self.record(Event::Verification {
            feature: id.to_owned(),
            outcome: if passed { "passed" } else { "failed" }.to_owned(),
            failure: failure.clone(),
            evidence,
            millis,
        })?;
        if passed {
            list.set_passes(id, true);
            self.guard.accept(list)?;
        }
        let line = match &failure {
            None => "checks passed in headless Chromium".to_owned(),
            Some(failure) => format!("checks failed: {failure}"),
        };
        Ok(TargetVerdict {
            passed,
            line,
            failure,
        })
    }

    /// Re-runs the checks of every passing feature; a failure flips `passes` back to false.
    /// Returns the list as it is afterwards and one line per regression for the prompt.
    pub(super) async fn recheck_passing(
        &mut self,
        mut list: FeatureList,
    ) -> Result<(FeatureList, Vec<String>), HarnessError> {
        let ids: Vec<String> = list
            .features
            .iter()
            .filter(|f| f.passes && !f.checks.is_empty())
            .map(|f| f.id.clone())
            .collect();
        if ids.is_empty() || !self.settings.verify_enabled {
            return Ok((list, Vec::new()));
        }
        let results = self.run_checks(&list, ids).await?;
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
        if !regressions.is_empty() {
            let path = self.project.join(crate::feature_guard::FEATURE_LIST);
            std::fs::write(&path, list.to_json_pretty())
                .map_err(|source| HarnessError::io(&path, source))?;
            crate::display::regressions(&regressions);
        }
        Ok((list, regressions))
    }
}

/// One line saying which check failed, what it wanted and what it found.
pub(crate) fn failure_text(result: &FeatureResult) -> Option<String> {
    result.failure.as_ref().map(ToString::to_string)
}
