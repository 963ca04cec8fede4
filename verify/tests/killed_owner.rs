//! baton killed with SIGKILL at any point leaves neither Chromium nor the app behind. A
//! stand-in for baton (this test binary, re-run as `killed_baton`) launches Chromium or the
//! app through the public API and is killed at one point each; afterwards no live process
//! may name it in `BATON_OWNER_PID` (or, for a watcher, `BATON_WATCHER_OF`), nor share a
//! process group with one that did (Chromium's zygotes and renderers get a cleaned
//! environment, but stay in its group); nor may its temporary files remain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use baton_verify::{AppConfig, BrowserOptions, BrowserRunner, BrowserSession, Feature, start_app};

/// Set for the stand-in: which point to run to.
const MODE_ENV: &str = "BATON_KILL_TEST_MODE";
/// Set for the stand-in: where it leaves its marker files and its log.
const DIR_ENV: &str = "BATON_KILL_TEST_DIR";
/// Processes may take this long to go; the watchers look once a second.
const GONE_WITHIN: Duration = Duration::from_secs(20);
/// A point that is never reached within this long is a failure of its own.
const REACHED_WITHIN: Duration = Duration::from_mins(1);

/// One Chromium at a time on a small, shared machine.
static CHROMIUM: Mutex<()> = Mutex::new(());

/// The stand-in for baton. It runs only as the child of the tests below, which say how far to
/// go in `BATON_KILL_TEST_MODE`; it leaves a marker file at each point and then waits to be
/// killed.
#[test]
#[ignore = "the killed baton of the other tests in this file; does nothing on its own"]
fn killed_baton() {
    let (Ok(mode), Some(dir)) = (std::env::var(MODE_ENV), std::env::var_os(DIR_ENV)) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let mark = |name: &str| std::fs::write(dir.join(name), "").unwrap();
    match mode.as_str() {
        // The shims behind BATON_CHROMIUM decide where this stops inside the launch.
        "launch" => {
            let _runner = BrowserRunner::launch(&BrowserOptions::default()).unwrap();
            mark("launched");
            wait_for_the_kill();
        }
        "page" => {
            let page = dir.join("page.html");
            std::fs::write(&page, "<title>open</title><p>a page</p>").unwrap();
            let session = BrowserSession::new(BrowserOptions::default());
            session
                .navigate(&format!("file://{}", page.display()))
                .unwrap();
            mark("navigated");
            wait_for_the_kill();
        }
        "feature" => {
            std::fs::write(dir.join("page.html"), "<title>open</title><p>a page</p>").unwrap();
            let url = format!("file://{}/", dir.display());
            let feature = |id: &str, checks: serde_json::Value| -> Feature {
                serde_json::from_value(serde_json::json!({
                    "id": id, "category": "functional", "description": id,
                    "steps": [], "checks": checks, "passes": false,
                }))
                .unwrap()
            };
            let runner = BrowserRunner::launch(&BrowserOptions::default()).unwrap();
            // One feature done (its context given back), then one that never ends: the kill
            // comes with a context open and another just disposed of.
            let done = feature("done", serde_json::json!([{ "goto": "page.html" }]));
            runner.run_feature(&done, &url, &dir.join("done"));
            let endless = feature(
                "endless",
                serde_json::json!([
                    { "goto": "page.html" },
                    { "wait_for": { "selector": "#never", "timeout_ms": 600_000 } },
                ]),
            );
            std::thread::scope(|scope| {
                scope.spawn(|| runner.run_feature(&endless, &url, &dir.join("endless")));
                // Ample time to open the context and load the page, on a loaded machine too.
                std::thread::sleep(Duration::from_secs(2));
                mark("checking");
                wait_for_the_kill();
            });
        }
        "app" => {
            // `start_app` returns once the app answers; the tests choose a command that does,
            // or one that never does, which keeps this inside `start_app`.
            let command = std::fs::read_to_string(dir.join("command")).unwrap();
            let app = AppConfig {
                start: Some(command),
                ready_timeout_secs: Some(300),
                ..AppConfig::default()
            };
            let _app = start_app(&dir, &app, &dir.join("app.log")).unwrap();
            mark("ready");
            wait_for_the_kill();
        }
        other => panic!("unknown {MODE_ENV} {other}"),
    }
}

fn wait_for_the_kill() -> ! {
    loop {
        std::thread::park();
    }
}

/// A stand-in baton, its directory, and what it left behind.
struct Baton {
    child: Child,
    dir: tempfile::TempDir,
}

impl Baton {
    /// Start it in `mode`; `prepare` fills its directory and may return a `BATON_CHROMIUM`.
    fn start(mode: &str, prepare: impl FnOnce(&Path) -> Option<PathBuf>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let chromium = prepare(dir.path());
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let log = std::fs::File::create(dir.path().join("baton.log")).unwrap();
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["killed_baton", "--exact", "--ignored", "--nocapture"])
            .env(MODE_ENV, mode)
            .env(DIR_ENV, dir.path())
            // Chromium's launcher and profile go here, to be counted after the kill.
            .env("TMPDIR", &tmp)
            .env_remove("BATON_OWNER_PID")
            .stdin(Stdio::null())
            // Not the test's own stdout: nothing left behind may hold the harness's pipes.
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // Its own group, so that whatever stays in it is its leftover, not the harness.
            .process_group(0);
        if let Some(chromium) = chromium {
            command.env("BATON_CHROMIUM", chromium);
        }
        Self {
            child: command.spawn().unwrap(),
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("baton.log")).unwrap_or_default()
    }

    /// Wait until `reached` holds; fails if the stand-in exits or never gets there.
    fn wait_until(&mut self, what: &str, mut reached: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + REACHED_WITHIN;
        while !reached(self) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("baton exited with {status} before {what}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "baton never reached {what}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Live processes that name it as their baton, and every live process in a group that
    /// one of those was ever seen in (`groups` gathers them across calls).
    fn owned(&self, groups: &mut BTreeSet<u32>) -> Vec<u32> {
        let owner = self.child.id();
        let live = live_processes();
        groups.insert(owner);
        groups.extend(
            live.iter()
                .filter(|process| process.names_owner(owner))
                .map(|process| process.group),
        );
        live.into_iter()
            .filter(|process| process.names_owner(owner) || groups.contains(&process.group))
            .map(|process| process.pid)
            .collect()
    }

    /// `kill -9` it, then require every process it owned to be gone, and the temporary
    /// files it would have removed.
    fn kill_and_expect_no_leftovers(mut self) {
        let mut groups = BTreeSet::new();
        let before = self.owned(&mut groups);
        assert!(!before.is_empty(), "nothing to watch:\n{}", self.log());
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        // The gate shim waits for this; everywhere else it is unread.
        std::fs::write(self.path("go"), "").unwrap();
        let deadline = Instant::now() + GONE_WITHIN;
        loop {
            let left = self.owned(&mut groups);
            if left.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                let described: Vec<String> = left.iter().map(|&pid| describe(pid)).collect();
                panic!(
                    "{} processes outlived their killed baton {}:\n{}",
                    left.len(),
                    self.child.id(),
                    described.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // The watchers are gone, so they are done removing. Chromium's own singleton-socket
        // directory is left by every SIGKILL of Chromium, headless_chrome's normal stop
        // included, so it is not a sign of a killed baton.
        let left: Vec<_> = std::fs::read_dir(self.path("tmp"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .filter(|name| !name.to_string_lossy().starts_with("org.chromium.Chromium."))
            .collect();
        assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    }
}

impl Drop for Baton {
    /// A failed test must not leave its stand-in running (its watchers then clean up).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A live (not zombie) process: its pid, process group and environment.
struct Process {
    pid: u32,
    group: u32,
    environ: Vec<u8>,
}

impl Process {
    /// Whether it names `owner` as its baton, or is a watcher of `owner`.
    fn names_owner(&self, owner: u32) -> bool {
        let environ = [b"\0", self.environ.as_slice()].concat();
        ["BATON_OWNER_PID", "BATON_WATCHER_OF"].iter().any(|name| {
            let needle = format!("\0{name}={owner}\0");
            environ
                .windows(needle.len())
                .any(|window| window == needle.as_bytes())
        })
    }
}

fn live_processes() -> Vec<Process> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The fields after the command name, which may hold spaces: state, ppid, pgrp.
            let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
            let state = fields.next()?;
            let group = fields.nth(1)?.parse().ok()?;
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            (state != "Z").then_some(Process {
                pid,
                group,
                environ,
            })
        })
        .collect()
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
        .unwrap_or_default()
}

fn describe(pid: u32) -> String {
    let line = cmdline(pid);
    format!("{pid}: {}", line.chars().take(160).collect::<String>())
}

/// The Chromium the crate would find (`BATON_CHROMIUM`, else Debian's), for the shims.
fn real_chromium() -> PathBuf {
    let path = std::env::var_os("BATON_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.is_file(),
        "no Chromium at {} (set BATON_CHROMIUM)",
        path.display()
    );
    path
}

/// A `BATON_CHROMIUM` stand-in in the stand-in baton's `dir` that runs `body` (a `sh`
/// snippet; `$CHROMIUM` is the real binary, `$DIR` is `dir`).
fn shim(dir: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("chromium-shim");
    let text = format!(
        "#!/bin/sh\nCHROMIUM='{}' DIR='{}'\n{body}\n",
        real_chromium().display(),
        dir.display()
    );
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
    path
}

fn chromium_lock() -> std::sync::MutexGuard<'static, ()> {
    CHROMIUM.lock().unwrap_or_else(PoisonError::into_inner)
}

#[test]
fn killed_after_chromium_was_spawned_but_before_it_ran() {
    let _one = chromium_lock();
    // Stops between the launcher and Chromium; it runs Chromium only once baton is dead.
    // Chromium's stderr must not be the dead baton's pipe: an early write to it could kill
    // Chromium with SIGPIPE and pass this test without any watcher.
    let gate = "touch \"$DIR/spawned\"\nwhile [ ! -e \"$DIR/go\" ]; do sleep 0.05; done\nexec \"$CHROMIUM\" \"$@\" 2>\"$DIR/chromium.log\"";
    let mut baton = Baton::start("launch", |dir| Some(shim(dir, gate)));
    baton.wait_until("the launch", |baton| baton.path("spawned").exists());
    baton.kill_and_expect_no_leftovers();
}

#[test]
fn killed_while_waiting_for_chromiums_address() {
    let _one = chromium_lock();
    // Chromium's stderr goes nowhere, so `Browser::new` waits for an address it never sees.
    let muted = "exec \"$CHROMIUM\" \"$@\" 2>/dev/null";
    let mut baton = Baton::start("launch", |dir| Some(shim(dir, muted)));
    baton.wait_until("Chromium listening", |baton| {
        baton.owned(&mut BTreeSet::new()).into_iter().any(|pid| {
            cmdline(pid)
                .split(' ')
                .find_map(|arg| arg.strip_prefix("--remote-debugging-port="))
                .and_then(|port| port.parse::<u16>().ok())
                .is_some_and(|port| TcpStream::connect(("127.0.0.1", port)).is_ok())
        })
    });
    assert!(!baton.path("launched").exists());
    baton.kill_and_expect_no_leftovers();
}

#[test]
fn killed_after_chromium_was_launched() {
    let _one = chromium_lock();
    let mut baton = Baton::start("launch", |_| None);
    baton.wait_until("the launch", |baton| baton.path("launched").exists());
    baton.kill_and_expect_no_leftovers();
}

#[test]
fn killed_with_a_page_open() {
    let _one = chromium_lock();
    let mut baton = Baton::start("page", |_| None);
    baton.wait_until("the navigation", |baton| baton.path("navigated").exists());
    // Chromium's children are found through its group: the check below covers them.
    let renderers = baton
        .owned(&mut BTreeSet::new())
        .into_iter()
        .filter(|&pid| cmdline(pid).contains("--type=renderer"))
        .count();
    assert!(renderers > 0, "no renderer found:\n{}", baton.log());
    baton.kill_and_expect_no_leftovers();
}

#[test]
fn killed_during_a_features_checks() {
    let _one = chromium_lock();
    let mut baton = Baton::start("feature", |_| None);
    baton.wait_until("the feature's checks", |baton| {
        baton.path("checking").exists()
    });
    let renderers = baton
        .owned(&mut BTreeSet::new())
        .into_iter()
        .filter(|&pid| cmdline(pid).contains("--type=renderer"))
        .count();
    assert!(renderers > 0, "no renderer found:\n{}", baton.log());
    baton.kill_and_expect_no_leftovers();
}

#[test]
fn killed_while_the_app_is_starting() {
    let mut baton = Baton::start("app", |dir| {
        std::fs::write(dir.join("command"), "touch spawned; sleep 300 & wait").unwrap();
        None
    });
    baton.wait_until("the app's start", |baton| baton.path("spawned").exists());
    assert!(!baton.path("ready").exists());
    baton.kill_and_expect_no_leftovers();
}

#[test]
fn killed_while_the_app_is_serving() {
    let mut baton = Baton::start("app", |dir| {
        // A server that leaves the app's group, as daemonizing dev servers do.
        let command = "setsid python3 -m http.server $PORT --bind 127.0.0.1 & wait";
        std::fs::write(dir.join("command"), command).unwrap();
        None
    });
    baton.wait_until("the app's readiness", |baton| baton.path("ready").exists());
    baton.kill_and_expect_no_leftovers();
}
