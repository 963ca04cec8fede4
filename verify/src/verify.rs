//! A whole verification run: start the app (unless a URL is given, or only `run` checks are
//! selected), one Chromium (when a check drives a browser), the selected features' checks, evidence under `<project>/.baton/evidence/<feature>/<run>/`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::app::{RunningApp, start_app};
use crate::browser::BrowserOptions;
use crate::check::Check;
use crate::error::VerifyError;
use crate::feature_list::{Feature, FeatureList};
use crate::runner::{BrowserRunner, FeatureResult, Outcome};

/// Everything one verification run found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// One result per feature run, in list order.
    pub results: Vec<FeatureResult>,
    /// The app's log, when baton started the app.
    pub app_log: Option<PathBuf>,
    /// The URL the checks ran against.
    pub base_url: String,
    /// The run's name (a directory under each feature's evidence directory).
    pub run: String,
}

impl VerifyReport {
    /// Ids of the features whose checks all held.
    pub fn passed_ids(&self) -> Vec<&str> {
        self.results
            .iter()
            .filter(|result| result.outcome == Outcome::Passed)
            .map(|result| result.feature_id.as_str())
            .collect()
    }
}

/// `<project>/.baton/evidence`.
pub fn evidence_root(project_dir: &Path) -> PathBuf {
    project_dir.join(".baton").join("evidence")
}

/// A run name unique under `project_dir`'s evidence: UTC time to the millisecond, plus a
/// counter if two runs start within the same millisecond.
pub fn new_run_name(project_dir: &Path) -> String {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    let root = evidence_root(project_dir);
    let taken = |name: &str| {
        std::fs::read_dir(&root).is_ok_and(|features| {
            features
                .flatten()
                .any(|feature| feature.path().join(name).exists())
        })
    };
    let mut name = stamp.clone();
    let mut counter = 1;
    while taken(&name) {
        counter += 1;
        name = format!("{stamp}-{counter}");
    }
    name
}

/// Run the checks of the selected features (all when `ids` is `None`) against the app.
pub fn verify_features(
    project_dir: &Path,
    list: &FeatureList,
    ids: Option<&[String]>,
    url: Option<&str>,
    opts: &BrowserOptions,
) -> Result<VerifyReport, VerifyError> {
    let selected = select(list, ids)?;
    let run = new_run_name(project_dir);
    let checks = || selected.iter().flat_map(|feature| &feature.checks);
    // A CLI or a library has no app to start: features with only `run` checks need none.
    let needs_app = checks().any(Check::needs_app);
    let (app, base_url, app_log): (Option<RunningApp>, String, Option<PathBuf>) =
        if let Some(url) = url {
            (None, url.to_owned(), None)
        } else if !needs_app {
            (None, String::new(), None)
        } else {
            let log = project_dir
                .join(".baton")
                .join("logs")
                .join(format!("app-{run}.log"));
            let config = list.app.clone().unwrap_or_default();
            let app = start_app(project_dir, &config, &log)?;
            let base_url = app.url.clone();
            (Some(app), base_url, Some(log))
        };
    let runner = if checks().any(Check::needs_browser) {
        Some(BrowserRunner::launch(opts)?.in_project(project_dir))
    } else if checks().next().is_some() {
        Some(BrowserRunner::without_browser(opts).in_project(project_dir))
    } else {
        None
    };
    let root = evidence_root(project_dir);
    let results = selected
        .iter()
        .map(|feature| {
            let dir = root.join(&feature.id).join(&run);
            match &runner {
                Some(runner) => runner.run_feature(feature, &base_url, &dir),
                None => no_checks(feature, dir),
            }
        })
        .collect();
    drop(runner);
    drop(app);
    Ok(VerifyReport {
        results,
        app_log,
        base_url,
        run,
    })
}

fn select<'a>(
    list: &'a FeatureList,
    ids: Option<&[String]>,
) -> Result<Vec<&'a Feature>, VerifyError> {
    let Some(ids) = ids else {
        return Ok(list.features.iter().collect());
    };
    let unknown: Vec<&str> = ids
        .iter()
        .filter(|id| list.get(id).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(VerifyError::InvalidInput(format!(
            "no feature with id {} in feature_list.json; known ids: {}",
            unknown.join(", "),
            list.features
                .iter()
                .map(|f| f.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(list
        .features
        .iter()
        .filter(|feature| ids.contains(&feature.id))
        .collect())
}

fn no_checks(feature: &Feature, evidence_dir: PathBuf) -> FeatureResult {
    FeatureResult {
        feature_id: feature.id.clone(),
        outcome: Outcome::NoChecks,
        duration_ms: 0,
        failure: None,
        screenshots: Vec::new(),
        transcripts: Vec::new(),
        console_errors: Vec::new(),
        step_ms: Vec::new(),
        evidence_dir,
    }
}
