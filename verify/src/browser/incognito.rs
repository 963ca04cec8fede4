//! A fresh incognito context with one tab per feature, as Playwright's `browser.newContext()`
//! and `context.close()`: created and disposed of over a DevTools connection of baton's own,
//! so a feature's tab is ready after two round trips rather than after headless_chrome's
//! transport has taken its turns (up to 100 ms each) and registered the tab.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use headless_chrome::Browser;
use serde_json::json;

use super::fast_lane::FastLane;
use super::{BrowserOptions, Page};
use crate::error::VerifyError;

/// Opens and disposes of incognito contexts in one Chromium, which it keeps running.
pub(crate) struct Incognito {
    browser: Browser,
    /// A browser-level connection (no tab attached) for the `Target.*` calls.
    lane: FastLane,
    /// Bound of each call, and of the wait for headless_chrome before a disposal.
    timeout: Duration,
    /// Contexts done with but not disposed of yet (see `dispose_done`).
    done: Mutex<Vec<Done>>,
}

/// A context no feature uses any more.
struct Done {
    context_id: String,
    /// Its tab, if one was made.
    target_id: Option<String>,
    since: Instant,
}

/// A feature's tab and the context that holds it (its cookies, storage and cache).
pub(crate) struct IncognitoPage {
    pub(crate) page: Page,
    context_id: String,
}

impl Incognito {
    /// Take charge of `browser`.
    pub(crate) fn new(browser: Browser, opts: &BrowserOptions) -> Result<Self, VerifyError> {
        let lane = FastLane::connect(
            &browser.get_ws_url(),
            opts.navigation_timeout,
            Box::new(|_, _| None),
        )
        .map_err(|detail| VerifyError::Browser { detail })?;
        Ok(Self {
            browser,
            lane,
            timeout: opts.navigation_timeout,
            done: Mutex::new(Vec::new()),
        })
    }

    /// A new context (fresh cookies and storage) with one blank tab, listened to from the start.
    pub(crate) fn open(&self, opts: &BrowserOptions) -> Result<IncognitoPage, VerifyError> {
        self.dispose_done();
        let created = self
            .lane
            .call_browser(
                "Target.createBrowserContext",
                // As Playwright's contexts: should baton's connection drop, Chromium disposes of it.
                &json!({ "disposeOnDetach": true }),
                self.timeout,
            )
            .map_err(|detail| VerifyError::Browser { detail })?;
        let Some(context_id) = created["browserContextId"].as_str().map(str::to_owned) else {
            return Err(VerifyError::Browser {
                detail: format!("createBrowserContext answered {created}"),
            });
        };
        let target_id = self
            .lane
            .call_browser(
                "Target.createTarget",
                &json!({ "url": "about:blank", "browserContextId": context_id }),
                self.timeout,
            )
            .and_then(|target| {
                target["targetId"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("createTarget answered {target}"))
            });
        let page = target_id
            .clone()
            .map_err(|detail| VerifyError::Browser { detail })
            .and_then(|target_id| Page::attach(&self.browser, &target_id, opts));
        match page {
            Ok(page) => Ok(IncognitoPage { page, context_id }),
            Err(error) => {
                self.retire(context_id, target_id.ok());
                Err(error)
            }
        }
    }

    /// Close the page's tab and dispose of its context, without waiting for Chromium.
    pub(crate) fn close(&self, page: IncognitoPage) {
        let target_id = page.page.target_id().to_owned();
        drop(page.page);
        self.retire(page.context_id, Some(target_id));
    }

    fn retire(&self, context_id: String, target_id: Option<String>) {
        self.lock_done().push(Done {
            context_id,
            target_id,
            since: Instant::now(),
        });
        self.dispose_done();
    }

    /// Dispose of the contexts done with, each once headless_chrome holds its tab: it
    /// attaches to every new tab on its own event thread, and that thread ends for good if
    /// the tab is gone before it has attached (its transport follows at the next browser
    /// event). A tab it has not taken within the timeout goes anyway: the thread has ended.
    fn dispose_done(&self) {
        let mut done = self.lock_done();
        let registered: Vec<String> = self
            .browser
            .get_tabs()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|tab| tab.get_target_id().clone())
            .collect();
        done.retain(|context| {
            let ready = context
                .target_id
                .as_ref()
                .is_none_or(|target| registered.contains(target))
                || context.since.elapsed() > self.timeout;
            if ready {
                self.dispose(&context.context_id);
            }
            !ready
        });
    }

    /// Ask Chromium to dispose of a context; its answer is not awaited (nothing depends on it).
    fn dispose(&self, context_id: &str) {
        let sent = self.lane.notify_browser(
            "Target.disposeBrowserContext",
            &json!({ "browserContextId": context_id }),
        );
        if let Err(detail) = sent {
            tracing::warn!(%detail, "cannot dispose of an incognito context");
        }
    }

    fn lock_done(&self) -> MutexGuard<'_, Vec<Done>> {
        self.done.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
