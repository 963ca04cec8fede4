//! Launching headless Chromium: finding the binary, the flags baton relies on, and the
//! deadline wrapper that keeps every call to the browser within its timeout.

mod fast_lane;
mod incognito;
mod keys;
mod page;
pub(crate) mod scripts;

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use headless_chrome::{Browser, LaunchOptions};

pub(crate) use incognito::{Incognito, IncognitoPage};
pub(crate) use page::{Attempt, Page, PointerAction, StepError};

use crate::error::VerifyError;
use crate::reaper::{self, ChromiumLauncher};

const DEBIAN_CHROMIUM: &str = "/usr/bin/chromium";
/// Added to headless_chrome's defaults. The network ones keep Chromium from reaching out at
/// start (on a closed network each attempt fails slowly); the rest are Playwright's choices
/// that skip start-up work (field trials, services, media routing) and paint holding, which
/// delays a new document's first frames. `--disable-features` repeats headless_chrome's
/// list: Chromium keeps only the last occurrence of a switch. `SpareRendererForSitePerProcess`
/// is baton's own: Chromium keeps a renderer process warm for the context that navigated
/// last, and each feature's context is disposed of after its checks, so that spare (a third
/// renderer per feature, beside the blank tab's and the app's) was started for nothing.
const CHROMIUM_FLAGS: [&str; 12] = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-field-trial-config",
    "--no-service-autorun",
    "--no-default-browser-check",
    "--mute-audio",
    "--allow-pre-commit-input",
    "--disable-features=TranslateUI,BlinkGenPropertyTrees,Translate,MediaRouter,\
     OptimizationHints,CertificateTransparencyComponentUpdater,PaintHolding,LensOverlay,\
     DestroyProfileOnBrowserClose,AutofillServerCommunication,SpareRendererForSitePerProcess",
];

/// How Chromium is found and how long each step may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserOptions {
    /// The Chromium binary; when `None`, `BATON_CHROMIUM`, then `/usr/bin/chromium`, then `$PATH`.
    pub chromium_path: Option<PathBuf>,
    /// How long one action or expectation may retry.
    pub action_timeout: Duration,
    /// How long a navigation, reload or screenshot may take.
    pub navigation_timeout: Duration,
    /// How long Chromium may take to start.
    pub launch_timeout: Duration,
    /// Viewport size in CSS pixels.
    pub window_size: (u32, u32),
}

impl Default for BrowserOptions {
    fn default() -> Self {
        Self {
            chromium_path: None,
            action_timeout: Duration::from_secs(3),
            navigation_timeout: Duration::from_secs(10),
            launch_timeout: Duration::from_secs(30),
            window_size: (1280, 800),
        }
    }
}

impl BrowserOptions {
    fn resolve_chromium(&self) -> Result<PathBuf, VerifyError> {
        let configured = self
            .chromium_path
            .clone()
            .map(|path| {
                (
                    path,
                    "the configured Chromium (verify.chromium in baton.toml, or BATON_CHROMIUM)",
                )
            })
            .or_else(|| {
                std::env::var_os("BATON_CHROMIUM")
                    .map(|path| (PathBuf::from(path), "BATON_CHROMIUM"))
            });
        if let Some((path, source)) = configured {
            return if path.is_file() {
                Ok(path)
            } else {
                Err(VerifyError::BrowserMissing {
                    detail: format!(
                        "{source} points at {}, which does not exist",
                        path.display()
                    ),
                })
            };
        }
        if Path::new(DEBIAN_CHROMIUM).is_file() {
            return Ok(PathBuf::from(DEBIAN_CHROMIUM));
        }
        headless_chrome::browser::default_executable().map_err(|_| VerifyError::BrowserMissing {
            detail: format!("not at {DEBIAN_CHROMIUM} nor on $PATH as chromium or google-chrome"),
        })
    }
}

/// Start a headless Chromium with a fresh temporary profile.
pub(crate) fn launch(
    opts: &BrowserOptions,
    idle_timeout: Duration,
) -> Result<Browser, VerifyError> {
    let path = opts.resolve_chromium()?;
    // Chromium starts through the launcher, already watched, so that it dies with baton.
    let launcher = ChromiumLauncher::create(&path)?;
    let window_size = opts.window_size;
    let started = within("launching Chromium", opts.launch_timeout, move || {
        let args: Vec<&OsStr> = CHROMIUM_FLAGS.iter().map(OsStr::new).collect();
        let options = LaunchOptions {
            headless: true,
            // Chromium refuses to run as root with its sandbox on.
            sandbox: !running_as_root(),
            path: Some(launcher.path().to_owned()),
            process_envs: Some(reaper::owner_env()),
            window_size: Some(window_size),
            idle_browser_timeout: idle_timeout,
            args,
            ..LaunchOptions::default()
        };
        // `launcher` lives until here, in this thread: `Browser::new` may run past the
        // deadline and still need it.
        Browser::new(options).map_err(|error| format!("cannot start {}: {error:#}", path.display()))
    })?;
    started.map_err(|detail| VerifyError::Browser { detail })
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// Run `work` on its own thread and give up after `timeout`; the browser layer blocks
/// without a deadline of its own, so this is what keeps every step bounded.
pub(crate) fn within<T: Send + 'static>(
    what: &str,
    timeout: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, VerifyError> {
    let (sender, receiver) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("baton-verify-cdp".to_owned())
        .spawn(move || {
            let _ = sender.send(work());
        })
        .map_err(VerifyError::browser)?;
    receiver.recv_timeout(timeout).map_err(|error| match error {
        mpsc::RecvTimeoutError::Timeout => VerifyError::Timeout {
            action: what.to_owned(),
            timeout_ms: timeout.as_millis() as u64,
        },
        mpsc::RecvTimeoutError::Disconnected => VerifyError::Browser {
            detail: format!("{what}: the browser call stopped without an answer"),
        },
    })
}
