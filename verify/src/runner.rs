//! Running a feature's checks: one Chromium per verification run, a fresh incognito
//! context and tab per feature (disposed of after it), expectations retried until they hold
//! or time out, and the evidence (screenshots, `failure.png`, `result.json`) written beside
//! the result.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::browser::{
    self, Attempt, BrowserOptions, Incognito, IncognitoPage, Page, PointerAction, StepError,
    scripts,
};
use crate::check::{Check, ExpectText, TextMatch};
use crate::command_checks;
use crate::error::VerifyError;
use crate::feature_list::Feature;

/// Longest text quoted back in a failure message.
const FOUND_CAP: usize = 200;

/// How a feature's checks ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every check held.
    Passed,
    /// A check failed; see `failure`.
    Failed,
    /// The feature has no checks, so nothing was verified.
    NoChecks,
}

/// The check that failed and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionFailure {
    /// Index of the check in the feature's `checks`.
    pub index: usize,
    /// The check as compact JSON.
    pub action: String,
    /// What the check wanted.
    pub expected: String,
    /// What the page showed last.
    pub found: String,
    /// `failure.png`, when it could be taken.
    pub screenshot: Option<PathBuf>,
}

impl std::fmt::Display for ActionFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "check #{} {}: expected {}; found {}",
            self.index, self.action, self.expected, self.found
        )
    }
}

/// The result of one feature's checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureResult {
    /// The feature's id.
    pub feature_id: String,
    /// Passed, failed, or no checks.
    pub outcome: Outcome,
    /// Wall time of the whole run, tab set-up included.
    pub duration_ms: u64,
    /// The failing check, if any.
    pub failure: Option<ActionFailure>,
    /// PNGs written by `screenshot` checks (and `failure.png`).
    pub screenshots: Vec<PathBuf>,
    /// Transcripts of `run` checks (command, exit, output) and `http` checks (the exchange).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transcripts: Vec<PathBuf>,
    /// `console.error` calls and uncaught exceptions seen on the page.
    pub console_errors: Vec<String>,
    /// Wall time of each step run, in milliseconds, in order (an implicit opening `goto`
    /// first): where a slow check spends its time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_ms: Vec<u64>,
    /// Where this run's evidence is.
    pub evidence_dir: PathBuf,
}

/// One headless Chromium (none when no selected feature drives a browser) that runs features
/// one after another.
pub struct BrowserRunner {
    /// Chromium and the contexts opened in it, one per feature.
    browser: Option<Incognito>,
    /// Where `run` checks run their commands.
    project_dir: PathBuf,
    opts: BrowserOptions,
}

impl BrowserRunner {
    /// Start Chromium; `BrowserMissing` when there is none.
    pub fn launch(opts: &BrowserOptions) -> Result<Self, VerifyError> {
        // Every CDP call is bounded by `within`; the idle limit only has to outlast a run's pauses.
        let idle = opts.navigation_timeout.max(opts.action_timeout) * 6;
        let browser = browser::launch(opts, idle)?;
        Ok(Self {
            browser: Some(Incognito::new(browser, opts)?),
            ..Self::without_browser(opts)
        })
    }

    /// A runner for features whose checks are all `run` and `http`: no Chromium is started.
    pub fn without_browser(opts: &BrowserOptions) -> Self {
        Self {
            browser: None,
            project_dir: PathBuf::from("."),
            opts: opts.clone(),
        }
    }

    /// Run `run` checks in `dir` (the current directory otherwise).
    #[must_use]
    pub fn in_project(mut self, dir: &Path) -> Self {
        dir.clone_into(&mut self.project_dir);
        self
    }

    /// Run one feature's checks against the app at `base_url`, writing evidence to `evidence_dir`.
    pub fn run_feature(
        &self,
        feature: &Feature,
        base_url: &str,
        evidence_dir: &Path,
    ) -> FeatureResult {
        let started = Instant::now();
        let mut result = FeatureResult {
            feature_id: feature.id.clone(),
            outcome: Outcome::Passed,
            duration_ms: 0,
            failure: None,
            screenshots: Vec::new(),
            transcripts: Vec::new(),
            console_errors: Vec::new(),
            step_ms: Vec::new(),
            evidence_dir: evidence_dir.to_path_buf(),
        };
        if feature.checks.is_empty() {
            result.outcome = Outcome::NoChecks;
        } else if let Err(error) = std::fs::create_dir_all(evidence_dir) {
            result.outcome = Outcome::Failed;
            result.failure = Some(ActionFailure {
                index: 0,
                action: "(write evidence)".to_owned(),
                expected: format!("a writable evidence directory {}", evidence_dir.display()),
                found: error.to_string(),
                screenshot: None,
            });
        } else if !feature.checks.iter().any(Check::needs_browser) {
            self.run_checks(None, feature, base_url, &mut result);
        } else {
            match self.open_page() {
                Ok((incognito, opened)) => {
                    self.run_checks(Some(&opened.page), feature, base_url, &mut result);
                    result.console_errors = opened.page.console_errors();
                    incognito.close(opened);
                }
                Err(error) => {
                    result.outcome = Outcome::Failed;
                    result.failure = Some(ActionFailure {
                        index: 0,
                        action: "(open a fresh tab)".to_owned(),
                        expected: "a new incognito tab".to_owned(),
                        found: error.to_string(),
                        screenshot: None,
                    });
                }
            }
        }
        result.duration_ms = started.elapsed().as_millis() as u64;
        write_result(&result);
        result
    }

    /// A fresh incognito context with one tab, opened when the feature starts. Opening takes
    /// two round trips; a tab prepared ahead, while the previous feature ran, started its
    /// renderer beside that feature's page and slowed it more than it saved (on two cores
    /// the bench's `goto` took 180 ms instead of 50).
    fn open_page(&self) -> Result<(&Incognito, IncognitoPage), VerifyError> {
        let Some(incognito) = &self.browser else {
            return Err(VerifyError::Browser {
                detail: "this run started no browser".to_owned(),
            });
        };
        Ok((incognito, incognito.open(&self.opts)?))
    }

    fn run_checks(
        &self,
        page: Option<&Page>,
        feature: &Feature,
        base_url: &str,
        result: &mut FeatureResult,
    ) {
        let steps = page
            .and_then(|_| implicit_open(&feature.checks))
            .into_iter()
            .chain(feature.checks.iter().cloned().enumerate());
        for (index, check) in steps {
            let started = Instant::now();
            let outcome = match (&check, page) {
                (Check::Run(run), _) => {
                    let (verdict, transcript) = command_checks::run(run, &self.project_dir);
                    Self::keep_transcript(index, "run", &transcript, result);
                    verdict.map(|()| None)
                }
                (Check::Http(http), _) => {
                    let (verdict, transcript) =
                        command_checks::http(http, base_url, self.opts.navigation_timeout);
                    Self::keep_transcript(index, "http", &transcript, result);
                    verdict.map(|()| None)
                }
                (_, Some(page)) => run_check(page, &check, base_url, &result.evidence_dir),
                (_, None) => Err(StepError::new("a browser", "this feature has no page")),
            };
            result.step_ms.push(started.elapsed().as_millis() as u64);
            match outcome {
                Ok(Some(screenshot)) => result.screenshots.push(screenshot),
                Ok(None) => {}
                Err(StepError { expected, found }) => {
                    let screenshot = page.and_then(|page| {
                        page.screenshot(&result.evidence_dir.join("failure.png"))
                            .ok()
                    });
                    result.screenshots.extend(screenshot.clone());
                    result.outcome = Outcome::Failed;
                    result.failure = Some(ActionFailure {
                        index,
                        action: check.to_compact_json(),
                        expected,
                        found: cap(&found),
                        screenshot,
                    });
                    return;
                }
            }
        }
    }

    /// Write a `run`/`http` transcript (secrets redacted) as `check-<index>-<kind>.txt`.
    fn keep_transcript(index: usize, kind: &str, text: &str, result: &mut FeatureResult) {
        let path = result
            .evidence_dir
            .join(format!("check-{index}-{kind}.txt"));
        match std::fs::write(&path, redact(text)) {
            Ok(()) => result.transcripts.push(path),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot write a transcript");
            }
        }
    }
}

/// Values of `Authorization` headers and of `*KEY*`/`*TOKEN*`/`*SECRET*`/`*PASSWORD*`
/// assignments are replaced before a transcript is written.
fn redact(text: &str) -> String {
    static SECRET: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"(?i)(authorization\s*[:=]\s*(?:(?:bearer|basic|token)\s+)?|bearer\s+|[A-Z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD)[A-Z0-9_]*["']?\s*[:=]\s*["']?)[^\s"',}]+"#,
        )
        .ok()
    });
    match &*SECRET {
        Some(re) => re.replace_all(text, "${1}[redacted]").into_owned(),
        None => text.to_owned(),
    }
}

/// A feature whose first check is not a `goto` starts at the app URL (reported as check #0).
fn implicit_open(checks: &[Check]) -> Option<(usize, Check)> {
    match checks.first() {
        Some(Check::Goto(_)) | None => None,
        Some(_) => Some((0, Check::Goto("/".to_owned()))),
    }
}

/// Run one check; a `screenshot` check returns the file it wrote.
fn run_check(
    page: &Page,
    check: &Check,
    base_url: &str,
    evidence_dir: &Path,
) -> Result<Option<PathBuf>, StepError> {
    match check {
        Check::Goto(target) => page.goto(&join_url(base_url, target)).map(|()| None),
        Check::Click(selector) => page.pointer(selector, PointerAction::Click).map(|()| None),
        Check::Dblclick(selector) => page
            .pointer(selector, PointerAction::DoubleClick)
            .map(|()| None),
        Check::Hover(selector) => page.pointer(selector, PointerAction::Hover).map(|()| None),
        Check::Check(selector) => page.pointer(selector, PointerAction::Check).map(|()| None),
        Check::Uncheck(selector) => page
            .pointer(selector, PointerAction::Uncheck)
            .map(|()| None),
        Check::ExpectValue(expect) => expect_state(
            page,
            &expect.selector,
            None,
            &format!("value of {:?} {}", expect.selector, expect.matcher),
            |state| match state["value"].as_str() {
                Some(value) if expect.matcher.matches(value) => Ok(()),
                Some(value) => Err(format!("value {:?}", cap(value))),
                None => Err(format!("{} has no value", state["describe"])),
            },
        )
        .map(|()| None),
        Check::ExpectChecked(expect) => {
            let want = expect.checked();
            expect_state(
                page,
                expect.selector(),
                None,
                &format!(
                    "{:?} {}",
                    expect.selector(),
                    if want { "checked" } else { "unchecked" }
                ),
                |state| match state["checked"].as_bool() {
                    Some(checked) if checked == want => Ok(()),
                    Some(checked) => Err(if checked { "checked" } else { "unchecked" }.to_owned()),
                    None => Err(format!(
                        "{} is not a checkbox or radio button",
                        state["describe"]
                    )),
                },
            )
            .map(|()| None)
        }
        Check::ExpectEnabled(selector) | Check::ExpectDisabled(selector) => {
            let want_disabled = matches!(check, Check::ExpectDisabled(_));
            let word = |disabled: bool| if disabled { "disabled" } else { "enabled" };
            expect_state(
                page,
                selector,
                None,
                &format!("{selector:?} {}", word(want_disabled)),
                |state| {
                    let disabled = state["disabled"] == true;
                    if disabled == want_disabled {
                        Ok(())
                    } else {
                        Err(format!("{} is {}", state["describe"], word(disabled)))
                    }
                },
            )
            .map(|()| None)
        }
        Check::ExpectAttribute(expect) => expect_state(
            page,
            &expect.selector,
            Some(&expect.name),
            &format!(
                "attribute {} of {:?} {}",
                expect.name, expect.selector, expect.matcher
            ),
            |state| match state["attribute"].as_str() {
                Some(value) if expect.matcher.matches(value) => Ok(()),
                Some(value) => Err(format!("{}={:?}", expect.name, cap(value))),
                None => Err(format!(
                    "{} has no attribute {}",
                    state["describe"], expect.name
                )),
            },
        )
        .map(|()| None),
        Check::Fill { selector, text } => page.fill(selector, text).map(|()| None),
        Check::Press { selector, key } => page.press(selector.as_deref(), key).map(|()| None),
        Check::Select { selector, value } => page.select(selector, value).map(|()| None),
        Check::WaitFor(wait) => {
            let timeout = wait
                .timeout_ms()
                .map_or(page.action_timeout, Duration::from_millis);
            expect_visibility(page, wait.selector(), true, timeout).map(|()| None)
        }
        Check::Reload(true) => page.reload().map(|()| None),
        // `run` and `http` are run by `run_checks` itself: they need no page.
        Check::Reload(false)
        | Check::ExpectNoConsoleErrors(false)
        | Check::Run(_)
        | Check::Http(_) => Ok(None),
        Check::ExpectText(expect) => expect_text(page, expect).map(|()| None),
        Check::ExpectVisible(selector) => {
            expect_visibility(page, selector, true, page.action_timeout).map(|()| None)
        }
        Check::ExpectHidden(selector) => {
            expect_visibility(page, selector, false, page.action_timeout).map(|()| None)
        }
        Check::ExpectCount { selector, equals } => {
            expect_count(page, selector, *equals).map(|()| None)
        }
        Check::ExpectUrl(matcher) => expect_url(page, matcher).map(|()| None),
        Check::ExpectNoConsoleErrors(true) => {
            let errors = page.console_errors();
            if errors.is_empty() {
                Ok(None)
            } else {
                Err(StepError::new("no console errors", errors.join(" | ")))
            }
        }
        Check::Screenshot(name) => page
            .screenshot(&evidence_dir.join(format!("{}.png", file_stem(name))))
            .map(Some),
    }
}

fn expect_text(page: &Page, expect: &ExpectText) -> Result<(), StepError> {
    let expected = format!("{:?} {}", expect.selector, expect.matcher);
    let script = scripts::texts(&expect.selector);
    page.retry(page.action_timeout, |page, remaining| {
        match page.eval(&script, remaining) {
            Attempt::Done(value) => {
                let texts: Vec<&str> = value["texts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if texts.iter().any(|text| expect.matcher.matches(text)) {
                    Attempt::Done(())
                } else if texts.is_empty() {
                    Attempt::Again(format!("no element matches {:?}", expect.selector))
                } else {
                    Attempt::Again(quote_texts(
                        &texts,
                        value["count"].as_u64().unwrap_or_default(),
                    ))
                }
            }
            Attempt::Again(found) => Attempt::Again(found),
            Attempt::Fatal(found) => Attempt::Fatal(found),
        }
    })
    .map_err(|found| StepError::new(expected, found))
}

/// Retry until the first match's state (see `scripts::state`) satisfies `judge`.
fn expect_state(
    page: &Page,
    selector: &str,
    attribute: Option<&str>,
    expected: &str,
    judge: impl Fn(&Value) -> Result<(), String>,
) -> Result<(), StepError> {
    let script = scripts::state(selector, attribute);
    page.retry(page.action_timeout, |page, remaining| {
        match page.eval(&script, remaining) {
            Attempt::Done(state) if state["found"] == true => match judge(&state) {
                Ok(()) => Attempt::Done(()),
                Err(found) => Attempt::Again(found),
            },
            Attempt::Done(_) => Attempt::Again(format!("no element matches {selector:?}")),
            Attempt::Again(found) => Attempt::Again(found),
            Attempt::Fatal(found) => Attempt::Fatal(found),
        }
    })
    .map_err(|found| StepError::new(expected, found))
}

fn expect_visibility(
    page: &Page,
    selector: &str,
    want_visible: bool,
    timeout: Duration,
) -> Result<(), StepError> {
    let expected = if want_visible {
        format!("{selector:?} visible")
    } else {
        format!("{selector:?} hidden")
    };
    let script = scripts::visibility(selector);
    page.retry(timeout, |page, remaining| {
        match page.eval(&script, remaining) {
            Attempt::Done(value) => {
                let count = value["count"].as_u64().unwrap_or_default();
                let visible = value["visible"].as_u64().unwrap_or_default();
                if (visible > 0) == want_visible {
                    Attempt::Done(())
                } else if count == 0 {
                    Attempt::Again(format!("no element matches {selector:?}"))
                } else if want_visible {
                    Attempt::Again(format!("{count} matching element(s), none visible"))
                } else {
                    Attempt::Again(format!("{visible} visible: {}", value["sample"]))
                }
            }
            Attempt::Again(found) => Attempt::Again(found),
            Attempt::Fatal(found) => Attempt::Fatal(found),
        }
    })
    .map_err(|found| StepError::new(expected, found))
}

fn expect_count(page: &Page, selector: &str, equals: usize) -> Result<(), StepError> {
    let expected = format!("{equals} element(s) matching {selector:?}");
    let script = scripts::visibility(selector);
    page.retry(page.action_timeout, |page, remaining| {
        match page.eval(&script, remaining) {
            Attempt::Done(value) => {
                let count = value["count"].as_u64().unwrap_or_default();
                if count == equals as u64 {
                    Attempt::Done(())
                } else {
                    Attempt::Again(format!("{count} element(s)"))
                }
            }
            Attempt::Again(found) => Attempt::Again(found),
            Attempt::Fatal(found) => Attempt::Fatal(found),
        }
    })
    .map_err(|found| StepError::new(expected, found))
}

fn expect_url(page: &Page, matcher: &TextMatch) -> Result<(), StepError> {
    let expected = format!("URL {matcher}");
    let script = scripts::location();
    page.retry(page.action_timeout, |page, remaining| {
        match page.eval(&script, remaining) {
            Attempt::Done(Value::String(url)) if matcher.matches(&url) => Attempt::Done(()),
            Attempt::Done(value) => Attempt::Again(
                value
                    .as_str()
                    .map_or_else(|| value.to_string(), |url| format!("{url:?}")),
            ),
            Attempt::Again(found) => Attempt::Again(found),
            Attempt::Fatal(found) => Attempt::Fatal(found),
        }
    })
    .map_err(|found| StepError::new(expected, found))
}

fn quote_texts(texts: &[&str], count: u64) -> String {
    let shown: Vec<String> = texts
        .iter()
        .take(3)
        .map(|text| format!("{:?}", cap(text.trim())))
        .collect();
    if count <= 1 {
        shown.join("")
    } else {
        format!(
            "{count} elements: {}{}",
            shown.join(", "),
            if count > 3 { ", …" } else { "" }
        )
    }
}

fn cap(text: &str) -> String {
    if text.chars().count() <= FOUND_CAP {
        text.to_owned()
    } else {
        let head: String = text.chars().take(FOUND_CAP).collect();
        format!("{head}…")
    }
}

/// `goto` targets: absolute http(s) URLs as they are; `#…` and `?…` appended to the app URL;
/// paths joined below the app URL (so an app served under `/app/` keeps its prefix).
pub(crate) fn join_url(base: &str, target: &str) -> String {
    if target.starts_with("http://") || target.starts_with("https://") {
        return target.to_owned();
    }
    if target.starts_with('#') || target.starts_with('?') {
        let base = base.split('#').next().unwrap_or(base);
        return format!("{base}{target}");
    }
    let base = base.split(['#', '?']).next().unwrap_or(base);
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        target.trim_start_matches('/')
    )
}

/// A screenshot name made safe as a file name.
fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let stem = stem.trim_matches('.').to_owned();
    if stem.is_empty() {
        "screenshot".to_owned()
    } else {
        stem
    }
}

fn write_result(result: &FeatureResult) {
    let path = result.evidence_dir.join("result.json");
    let written = serde_json::to_vec_pretty(result)
        .map_err(std::io::Error::other)
        .and_then(|json| {
            std::fs::create_dir_all(&result.evidence_dir)?;
            std::fs::write(&path, json)
        });
    if let Err(error) = written {
        tracing::warn!(path = %path.display(), %error, "cannot write result.json");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_goto_targets() {
        let base = "http://127.0.0.1:8000/app/";
        assert_eq!(join_url(base, "/"), "http://127.0.0.1:8000/app/");
        assert_eq!(
            join_url(base, "/about.html"),
            "http://127.0.0.1:8000/app/about.html"
        );
        assert_eq!(
            join_url(base, "#/active"),
            "http://127.0.0.1:8000/app/#/active"
        );
        assert_eq!(join_url("http://h:1/#/x", "?q=1"), "http://h:1/?q=1");
        assert_eq!(
            join_url(base, "https://example.test/x"),
            "https://example.test/x"
        );
        assert_eq!(join_url("http://h:1", "a"), "http://h:1/a");
    }

    #[test]
    fn transcripts_are_redacted() {
        let text = "API_KEY=abc123 Authorization: Bearer xyz {\"token\": \"t0k\"} plain";
        let clean = redact(text);
        assert!(
            !clean.contains("abc123") && !clean.contains("xyz") && !clean.contains("t0k"),
            "{clean}"
        );
        assert!(clean.contains("plain"), "{clean}");
    }

    #[test]
    fn screenshot_names_are_safe() {
        assert_eq!(file_stem("after add"), "after-add");
        assert_eq!(file_stem("../../etc/passwd"), "-..-etc-passwd");
        assert_eq!(file_stem(""), "screenshot");
    }

    #[test]
    fn found_texts_are_quoted_and_capped() {
        assert_eq!(quote_texts(&["1 item left"], 1), "\"1 item left\"");
        assert_eq!(
            quote_texts(&["a", "b", "c", "d"], 4),
            "4 elements: \"a\", \"b\", \"c\", …"
        );
        assert!(cap(&"x".repeat(500)).ends_with('…'));
    }

    #[test]
    fn implicit_open_only_without_leading_goto() {
        assert!(implicit_open(&[Check::Goto("/".into())]).is_none());
        assert_eq!(
            implicit_open(&[Check::Click("#a".into())]),
            Some((0, Check::Goto("/".into())))
        );
    }
}
