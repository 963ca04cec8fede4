//! The browser as tools for the agent, to explore the app (never to decide `passes`): one
//! lazily launched Chromium and one tab kept across calls, every call bounded by a timeout.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use headless_chrome::{Browser, Tab};

use crate::browser::{self, BrowserOptions, Page, PointerAction, StepError, within};
use crate::error::VerifyError;

/// Chromium's connection closes after this long without traffic; the session relaunches then.
const IDLE_LIMIT: Duration = Duration::from_mins(30);
/// Relaunch a little before the connection would close on its own.
const RELAUNCH_AFTER: Duration = Duration::from_mins(29);
/// Longest text `visible_text` returns.
const TEXT_CAP: usize = 8_000;

struct Live {
    // Kept so the browser process lives as long as the page.
    _browser: Browser,
    page: Page,
    last_used: Instant,
}

/// A browser for the agent's tools.
pub struct BrowserSession {
    opts: BrowserOptions,
    live: Mutex<Option<Live>>,
}

impl BrowserSession {
    /// A session that starts Chromium on first use.
    pub fn new(opts: BrowserOptions) -> Self {
        Self {
            opts,
            live: Mutex::new(None),
        }
    }

    fn with_page<T>(
        &self,
        action: &str,
        work: impl FnOnce(&Page) -> Result<T, StepError>,
    ) -> Result<T, VerifyError> {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let stale = live
            .as_ref()
            .is_some_and(|live| live.last_used.elapsed() > RELAUNCH_AFTER);
        if stale {
            tracing::info!("browser session idle too long, relaunching");
            *live = None;
        }
        if live.is_none() {
            *live = Some(self.launch()?);
        }
        let Some(current) = live.as_mut() else {
            return Err(VerifyError::Browser {
                detail: "the browser session could not start".to_owned(),
            });
        };
        current.last_used = Instant::now();
        let outcome =
            work(&current.page).map_err(|StepError { expected, found }| VerifyError::Action {
                action: action.to_owned(),
                expected,
                found,
            });
        // A timed-out call usually means a wedged page or browser: start afresh next time.
        if matches!(&outcome, Err(VerifyError::Action { found, .. }) if found.contains("did not finish within"))
        {
            *live = None;
        }
        outcome
    }

    fn launch(&self) -> Result<Live, VerifyError> {
        let browser = browser::launch(&self.opts, IDLE_LIMIT)?;
        let opener = browser.clone();
        let tab: Arc<Tab> = within("opening a tab", self.opts.navigation_timeout, move || {
            opener.new_tab().map_err(|error| format!("{error:#}"))
        })?
        .map_err(|detail| VerifyError::Browser { detail })?;
        let page = Page::attach(&browser, tab.get_target_id(), &self.opts)?;
        Ok(Live {
            _browser: browser,
            page,
            last_used: Instant::now(),
        })
    }

    /// Open an absolute URL and return the page title.
    pub fn navigate(&self, url: &str) -> Result<String, VerifyError> {
        if !(url.starts_with("http://")
            || url.starts_with("https://")
            || url.starts_with("file://"))
        {
            return Err(VerifyError::InvalidInput(format!(
                "navigate needs an absolute http(s):// or file:// URL, got {url:?}"
            )));
        }
        self.with_page(&format!("navigate {url:?}"), |page| {
            page.goto(url)?;
            Ok(page.title())
        })
    }

    /// Click the first visible element matching `selector`.
    pub fn click(&self, selector: &str) -> Result<(), VerifyError> {
        self.with_page(&format!("click {selector:?}"), |page| {
            page.pointer(selector, PointerAction::Click)
        })
    }

    /// Replace the text of the first visible field matching `selector`.
    pub fn fill(&self, selector: &str, text: &str) -> Result<(), VerifyError> {
        self.with_page(&format!("fill {selector:?}"), |page| {
            page.fill(selector, text)
        })
    }

    /// The visible text of the page, or of the first element matching `selector`, capped.
    pub fn visible_text(&self, selector: Option<&str>) -> Result<String, VerifyError> {
        self.with_page("visible_text", |page| page.visible_text(selector, TEXT_CAP))
    }

    /// Save a PNG of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) -> Result<PathBuf, VerifyError> {
        self.with_page("screenshot", |page| page.screenshot(path))
    }

    /// Console messages and uncaught exceptions of the current tab, as `[level] text`.
    pub fn console_log(&self) -> Vec<String> {
        let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.as_ref().map_or_else(Vec::new, |live| {
            live.page
                .console()
                .into_iter()
                .map(|entry| format!("[{}] {}", entry.level, entry.text))
                .collect()
        })
    }
}
