//! One browser tab driven step by step: navigation that waits for the page's load event,
//! real mouse and keyboard input, JSON probes evaluated in the page, screenshots, and the
//! console messages and uncaught exceptions the page produced (including during load).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::Page as Cdp;
use headless_chrome::{Browser, Tab};
use serde_json::{Value, json};

use super::fast_lane::FastLane;
use super::{BrowserOptions, keys, scripts, within};
use crate::error::VerifyError;

/// Pauses between attempts of a retried probe, as Playwright's actionability retries: the
/// first retry at once, then slower and slower, the last one repeated.
const RETRY_BACKOFF_MS: [u64; 6] = [0, 20, 50, 100, 100, 500];
const MAX_CONSOLE_ENTRIES: usize = 500;
/// The last probe of an action still gets this long to answer, so a loaded machine does
/// not turn a clear finding into a timeout.
const MIN_CALL_TIMEOUT: Duration = Duration::from_millis(500);
const NO_ANSWER: &str = "the page did not answer: ";
/// How often `Page::tab` looks for headless_chrome's handle to a new tab.
const TAB_POLL: Duration = Duration::from_millis(5);

/// A step that did not succeed: what it wanted and what the page showed last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepError {
    pub expected: String,
    pub found: String,
}

impl StepError {
    pub(crate) fn new(expected: impl Into<String>, found: impl Into<String>) -> Self {
        Self {
            expected: expected.into(),
            found: found.into(),
        }
    }
}

/// One outcome of a retried probe.
pub(crate) enum Attempt<T> {
    /// The condition holds.
    Done(T),
    /// Not yet; this is what was found.
    Again(String),
    /// Retrying cannot help (bad selector, wrong element type).
    Fatal(String),
}

/// The pointer actions, each a mouse move and then its clicks at the action point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PointerAction {
    Click,
    DoubleClick,
    Hover,
    Check,
    Uncheck,
}

impl PointerAction {
    fn verb(self) -> &'static str {
        match self {
            Self::Click => "click",
            Self::DoubleClick => "double click",
            Self::Hover => "hover",
            Self::Check => "check",
            Self::Uncheck => "uncheck",
        }
    }
}

/// A console message or uncaught exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConsoleEntry {
    /// `error`, `warning`, `log`, ..., `exception` or `dialog`.
    pub level: String,
    pub text: String,
}

#[derive(Default)]
struct PageEvents {
    console: Vec<ConsoleEntry>,
    loaded: Vec<String>,
    dom_ready: Vec<String>,
    load_count: u64,
}

pub(crate) struct Page {
    /// The tab's DevTools target id.
    target_id: String,
    /// headless_chrome's list of the tabs it has attached to, where `tab` is looked up.
    tabs: Arc<Mutex<Vec<Arc<Tab>>>>,
    /// headless_chrome's handle to this tab, once it has one (see `Page::tab`).
    tab: OnceLock<Arc<Tab>>,
    lane: FastLane,
    /// What the tab's events said; the condvar wakes `wait_for_load` at each lifecycle event.
    events: Arc<(Mutex<PageEvents>, Condvar)>,
    pub(crate) action_timeout: Duration,
    navigation_timeout: Duration,
}

impl Page {
    /// Start listening to the console and lifecycle of the tab `target_id` before anything
    /// is loaded in it.
    pub(crate) fn attach(
        browser: &Browser,
        target_id: &str,
        opts: &BrowserOptions,
    ) -> Result<Self, VerifyError> {
        let events = Arc::new((Mutex::new(PageEvents::default()), Condvar::new()));
        let main_frame = target_id.to_owned();
        let sink = Arc::clone(&events);
        let lane = FastLane::attach(
            &browser.get_ws_url(),
            target_id,
            opts.navigation_timeout,
            Box::new(move |method, params| record_event(method, params, &main_frame, &sink)),
        )
        .map_err(|detail| VerifyError::Browser { detail })?;
        // The three calls are in flight together: one round trip, not three.
        let enabling = [
            "Page.enable",
            "Page.setLifecycleEventsEnabled",
            "Runtime.enable",
        ]
        .map(|method| {
            let params = if method == "Page.setLifecycleEventsEnabled" {
                json!({ "enabled": true })
            } else {
                json!({})
            };
            lane.begin(method, &params)
        });
        for call in enabling {
            call.and_then(|call| lane.finish(call, opts.navigation_timeout))
                .map_err(|detail| VerifyError::Browser { detail })?;
        }
        Ok(Self {
            target_id: target_id.to_owned(),
            tabs: Arc::clone(browser.get_tabs()),
            tab: OnceLock::new(),
            lane,
            events,
            action_timeout: opts.action_timeout,
            navigation_timeout: opts.navigation_timeout,
        })
    }

    fn lock_events(&self) -> std::sync::MutexGuard<'_, PageEvents> {
        self.events.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tab's DevTools target id.
    pub(crate) fn target_id(&self) -> &str {
        &self.target_id
    }

    /// headless_chrome's handle to this tab, for the few calls that go through it (screenshots,
    /// keys outside baton's table). headless_chrome attaches to every new tab on its own
    /// event thread, over its slow transport, some 100–500 ms after the tab exists; the calls
    /// baton makes most go over `lane` and never wait for that.
    fn tab(&self, timeout: Duration) -> Result<Arc<Tab>, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(tab) = self.tab.get() {
                return Ok(Arc::clone(tab));
            }
            let found = self
                .tabs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .find(|tab| *tab.get_target_id() == self.target_id)
                .cloned();
            if let Some(tab) = found {
                return Ok(Arc::clone(self.tab.get_or_init(|| tab)));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the browser did not register the tab within {} ms",
                    timeout.as_millis()
                ));
            }
            std::thread::sleep(TAB_POLL);
        }
    }

    /// Run one call through headless_chrome's handle to the tab within `timeout`.
    fn call<T: Send + 'static>(
        &self,
        what: &str,
        timeout: Duration,
        work: impl FnOnce(&Tab) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let started = Instant::now();
        let tab = self.tab(timeout)?;
        let remaining = timeout.saturating_sub(started.elapsed());
        match within(what, remaining, move || work(&tab)) {
            Ok(result) => result,
            Err(error) => Err(error.to_string()),
        }
    }

    /// Evaluate an expression and return its JSON value; `Err(Fatal)` for a script exception.
    pub(crate) fn eval(&self, expression: &str, timeout: Duration) -> Attempt<Value> {
        let params = json!({
            "expression": expression,
            "returnByValue": true,
            "awaitPromise": true,
            "userGesture": true,
            "silent": true,
        });
        match self.lane.call("Runtime.evaluate", &params, timeout) {
            Ok(answer) => match answer.get("exceptionDetails") {
                Some(details) => Attempt::Fatal(json_exception_text(details)),
                None => Attempt::Done(answer["result"]["value"].clone()),
            },
            // Evaluations during a navigation fail until the new document exists: retry.
            Err(detail) => Attempt::Again(format!("{NO_ANSWER}{detail}")),
        }
    }

    /// Retry `attempt` every few milliseconds until it is done, fatal, or `timeout` has passed.
    pub(crate) fn retry<T>(
        &self,
        timeout: Duration,
        mut attempt: impl FnMut(&Self, Duration) -> Attempt<T>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + timeout;
        let mut last_seen: Option<String> = None;
        let mut pauses = RETRY_BACKOFF_MS
            .into_iter()
            .chain(std::iter::repeat(
                RETRY_BACKOFF_MS[RETRY_BACKOFF_MS.len() - 1],
            ))
            .map(Duration::from_millis);
        loop {
            let remaining = deadline
                .saturating_duration_since(Instant::now())
                .max(MIN_CALL_TIMEOUT);
            match attempt(self, remaining) {
                Attempt::Done(value) => return Ok(value),
                Attempt::Fatal(found) => return Err(found),
                Attempt::Again(found) => {
                    // What the page showed says more than a late answer on a busy machine.
                    if !found.starts_with(NO_ANSWER) || last_seen.is_none() {
                        last_seen = Some(found);
                    }
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(last_seen.unwrap_or_default());
                    }
                    let pause = pauses.next().unwrap_or_default();
                    std::thread::sleep(pause.min(deadline - now));
                }
            }
        }
    }

    /// Evaluate a probe repeatedly until its `ready` field is true.
    fn retry_probe(&self, script: &str, timeout: Duration) -> Result<Value, String> {
        self.retry(timeout, |page, remaining| {
            match page.eval(script, remaining) {
                Attempt::Done(value) if value["ready"] == true => Attempt::Done(value),
                Attempt::Done(value) => {
                    let why = value["why"].as_str().unwrap_or("not ready").to_owned();
                    if value["fatal"] == true {
                        Attempt::Fatal(why)
                    } else {
                        Attempt::Again(why)
                    }
                }
                Attempt::Again(found) => Attempt::Again(found),
                Attempt::Fatal(found) => Attempt::Fatal(found),
            }
        })
    }

    /// Navigate and wait for the new document's load event (DOMContentLoaded is enough when
    /// a slow subresource holds `load` back past the timeout).
    pub(crate) fn goto(&self, url: &str) -> Result<(), StepError> {
        let expected = format!("{url} loads");
        let timeout = self.navigation_timeout;
        let deadline = Instant::now() + timeout;
        let navigated = self
            .lane
            .call("Page.navigate", &json!({ "url": url }), timeout)
            .map_err(|found| StepError::new(&expected, found))?;
        if let Some(error_text) = navigated["errorText"]
            .as_str()
            .filter(|text| !text.is_empty())
        {
            return Err(StepError::new(
                expected,
                format!("navigation failed: {error_text}"),
            ));
        }
        // Same-document navigations (a new #hash) have no loader and no load event.
        let Some(loader) = navigated["loaderId"].as_str().map(str::to_owned) else {
            return Ok(());
        };
        self.wait_for_load(
            deadline,
            |events| events.loaded.contains(&loader),
            |events| events.dom_ready.contains(&loader),
        )
        .map_err(|found| StepError::new(expected, found))
    }

    /// Reload and wait for the next load event of the main frame.
    pub(crate) fn reload(&self) -> Result<(), StepError> {
        let expected = "the page reloads";
        let deadline = Instant::now() + self.navigation_timeout;
        let before = self.lock_events().load_count;
        self.lane
            .call("Page.reload", &json!({}), self.navigation_timeout)
            .map_err(|found| StepError::new(expected, found))?;
        self.wait_for_load(deadline, |events| events.load_count > before, |_| false)
            .map_err(|found| StepError::new(expected, found))
    }

    fn wait_for_load(
        &self,
        deadline: Instant,
        loaded: impl Fn(&PageEvents) -> bool,
        interactive: impl Fn(&PageEvents) -> bool,
    ) -> Result<(), String> {
        let (lock, changed) = &*self.events;
        let mut events = lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if loaded(&events) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return if interactive(&events) {
                    Ok(())
                } else {
                    Err(format!(
                        "no load event within {} ms",
                        self.navigation_timeout.as_millis()
                    ))
                };
            }
            events = changed
                .wait_timeout(events, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// A pointer action on the first visible match with real mouse events, once it passes
    /// the actionability checks (see `scripts::action_target`); retried until the action timeout.
    pub(crate) fn pointer(&self, selector: &str, action: PointerAction) -> Result<(), StepError> {
        let expected = format!("{} on an element matching {selector:?}", action.verb());
        let want_checked = match action {
            PointerAction::Check => Some(true),
            PointerAction::Uncheck => Some(false),
            _ => None,
        };
        let need_enabled = action != PointerAction::Hover;
        let target = self
            .retry_probe(
                &scripts::action_target(selector, need_enabled, want_checked),
                self.action_timeout,
            )
            .map_err(|found| StepError::new(&expected, found))?;
        if target["done"] == true {
            return Ok(());
        }
        let (x, y) = (
            target["x"].as_f64().unwrap_or_default(),
            target["y"].as_f64().unwrap_or_default(),
        );
        let clicks: &[u32] = match action {
            PointerAction::Hover => &[],
            PointerAction::DoubleClick => &[1, 2],
            _ => &[1],
        };
        let mut events = vec![json!({ "type": "mouseMoved", "x": x, "y": y })];
        for &count in clicks {
            for kind in ["mousePressed", "mouseReleased"] {
                events.push(
                    json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": count }),
                );
            }
        }
        self.dispatch("Input.dispatchMouseEvent", &events)
            .map_err(|found| StepError::new(&expected, found))?;
        if let Some(want) = want_checked {
            // As Playwright does: a click that does not change the state is a failure, not a retry.
            let state = match self.eval(&scripts::checked_of_visible(selector), self.action_timeout)
            {
                Attempt::Done(value) => value["checked"].as_bool(),
                _ => None,
            };
            if state != Some(want) {
                return Err(StepError::new(
                    expected,
                    "clicking the element did not change its state",
                ));
            }
        }
        Ok(())
    }

    /// Send input events in one go and wait for all their answers: Chromium handles a
    /// session's calls in order, so this is the same input as one call after another,
    /// at the cost of one round trip.
    fn dispatch(&self, method: &str, events: &[Value]) -> Result<(), String> {
        let calls: Vec<_> = events
            .iter()
            .map(|event| self.lane.begin(method, event))
            .collect::<Result<_, _>>()?;
        for call in calls {
            self.lane.finish(call, self.action_timeout)?;
        }
        Ok(())
    }

    /// Replace the content of the first visible editable match by typing `text`.
    pub(crate) fn fill(&self, selector: &str, text: &str) -> Result<(), StepError> {
        self.retry_probe(&scripts::fill(selector, text), self.action_timeout)
            .map(|_| ())
            .map_err(|found| {
                StepError::new(format!("an editable element matching {selector:?}"), found)
            })
    }

    /// Press a key in the first visible match, or in whatever has focus.
    pub(crate) fn press(&self, selector: Option<&str>, key: &str) -> Result<(), StepError> {
        let expected = format!("key {key:?} pressed");
        if let Some(selector) = selector {
            self.retry_probe(&scripts::focus(selector), self.action_timeout)
                .map_err(|found| {
                    StepError::new(format!("a visible element matching {selector:?}"), found)
                })?;
        }
        let Some(definition) = keys::definition(key) else {
            // Keys outside baton's small table go through headless_chrome's full US layout.
            let key_name = key.to_owned();
            return self
                .call("pressing a key", self.action_timeout, move |tab| {
                    tab.press_key(&key_name).map(|_| ()).map_err(|error| {
                        format!(
                            "{error:#} (use DOM key names such as Enter, Escape, Tab, ArrowDown, a)"
                        )
                    })
                })
                .map_err(|found| StepError::new(expected, found));
        };
        self.dispatch("Input.dispatchKeyEvent", &definition.events())
            .map_err(|found| StepError::new(expected, found))
    }

    /// Choose an option of the first visible `<select>` match by value or label.
    pub(crate) fn select(&self, selector: &str, value: &str) -> Result<(), StepError> {
        self.retry_probe(
            &scripts::select_option(selector, value),
            self.action_timeout,
        )
        .map(|_| ())
        .map_err(|found| StepError::new(format!("option {value:?} chosen in {selector:?}"), found))
    }

    /// Save a PNG of the viewport.
    pub(crate) fn screenshot(&self, path: &Path) -> Result<PathBuf, StepError> {
        let expected = format!("a screenshot saved to {}", path.display());
        let png = self
            .call("taking a screenshot", self.navigation_timeout, |tab| {
                tab.capture_screenshot(Cdp::CaptureScreenshotFormatOption::Png, None, None, true)
                    .map_err(|error| format!("{error:#}"))
            })
            .map_err(|found| StepError::new(&expected, found))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|error| StepError::new(&expected, error.to_string()))?;
        }
        std::fs::write(path, png).map_err(|error| StepError::new(&expected, error.to_string()))?;
        Ok(path.to_path_buf())
    }

    /// The first match's (or the body's) visible text, capped at `cap` characters.
    pub(crate) fn visible_text(
        &self,
        selector: Option<&str>,
        cap: usize,
    ) -> Result<String, StepError> {
        let expected = match selector {
            Some(selector) => format!("an element matching {selector:?}"),
            None => "a page body".to_owned(),
        };
        let value = self
            .retry(self.action_timeout, |page, remaining| {
                match page.eval(&scripts::visible_text(selector, cap), remaining) {
                    Attempt::Done(value) if value["found"] == true => Attempt::Done(value),
                    Attempt::Done(_) => Attempt::Again("no element matches".to_owned()),
                    other => other,
                }
            })
            .map_err(|found| StepError::new(&expected, found))?;
        let mut text = value["text"].as_str().unwrap_or_default().to_owned();
        let total = value["total"].as_u64().unwrap_or_default();
        if total > cap as u64 {
            let _ = write!(text, "\n… ({total} characters in all, first {cap} shown)");
        }
        Ok(text)
    }

    /// The document title.
    pub(crate) fn title(&self) -> String {
        match self.eval("document.title", self.action_timeout) {
            Attempt::Done(Value::String(title)) => title,
            _ => String::new(),
        }
    }

    /// Every console message and uncaught exception so far.
    pub(crate) fn console(&self) -> Vec<ConsoleEntry> {
        self.lock_events().console.clone()
    }

    /// `console.error` calls and uncaught exceptions so far.
    pub(crate) fn console_errors(&self) -> Vec<String> {
        self.lock_events()
            .console
            .iter()
            .filter(|entry| entry.level == "error" || entry.level == "exception")
            .map(|entry| entry.text.clone())
            .collect()
    }
}

fn json_exception_text(details: &Value) -> String {
    details["exception"]["description"]
        .as_str()
        .and_then(|description| description.lines().next())
        .or_else(|| details["text"].as_str())
        .unwrap_or("uncaught exception")
        .to_owned()
}

fn remote_object_text(object: &Value) -> String {
    match object.get("value") {
        Some(Value::String(text)) => text.clone(),
        Some(value) => value.to_string(),
        None => object["description"]
            .as_str()
            .or_else(|| object["type"].as_str())
            .unwrap_or("undefined")
            .to_owned(),
    }
}

/// Keep what a tab event says about the page; an open dialog is answered (accepted).
fn record_event(
    method: &str,
    params: &Value,
    main_frame: &str,
    sink: &(Mutex<PageEvents>, Condvar),
) -> Option<(&'static str, Value)> {
    let mut events = sink.0.lock().unwrap_or_else(PoisonError::into_inner);
    let mut push = |level: &str, text: String| {
        if events.console.len() < MAX_CONSOLE_ENTRIES {
            events.console.push(ConsoleEntry {
                level: level.to_owned(),
                text,
            });
        }
    };
    match method {
        "Runtime.consoleAPICalled" => {
            let text: Vec<String> = params["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(remote_object_text)
                .collect();
            push(params["type"].as_str().unwrap_or("log"), text.join(" "));
        }
        "Runtime.exceptionThrown" => {
            push(
                "exception",
                json_exception_text(&params["exceptionDetails"]),
            );
        }
        "Page.javascriptDialogOpening" => {
            push(
                "dialog",
                params["message"].as_str().unwrap_or_default().to_owned(),
            );
            // An open alert() blocks every script in the page; accept it so checks go on.
            return Some(("Page.handleJavaScriptDialog", json!({ "accept": true })));
        }
        "Page.lifecycleEvent" if params["frameId"] == main_frame => {
            let loader = params["loaderId"].as_str().unwrap_or_default().to_owned();
            match params["name"].as_str() {
                Some("load") => {
                    events.loaded.push(loader);
                    events.load_count += 1;
                }
                Some("DOMContentLoaded") => events.dom_ready.push(loader),
                _ => return None,
            }
            sink.1.notify_all();
        }
        _ => {}
    }
    None
}
