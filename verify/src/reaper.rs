//! Processes baton starts (Chromium, the app under test) must not outlive it. A normal exit
//! stops them through their guards' `Drop`, but a `kill -9` or a crash runs no destructor,
//! and every killed run would leave a browser and a server behind.
//!
//! So each such child starts as a guard: a few lines of `sh` that lead the child's own
//! process group, start a watcher of that group, and only then `exec` the real program (same
//! pid, same group). There is no instant at which the child runs unwatched, however early
//! baton is killed: if baton is already gone when the watcher starts, it kills the group at
//! once. The watcher is a detached `sh` loop in a session of its own, so that a signal to
//! baton's group or to the child's does not take it down and it never counts itself as part
//! of the group it watches. Once a second it checks that baton and the group are alive; when
//! baton is gone it kills the whole group (Chromium's zygotes and renderers, whatever the
//! app forked), and it ends by itself once the group is gone.
//!
//! The app is spawned as `sh -c GUARD` directly. headless_chrome only takes a binary path,
//! so Chromium is spawned through a launcher script in a private temporary directory, which
//! first moves into a session of its own with `setsid` (headless_chrome spawns it inside
//! baton's group) and then runs the guard. For a killed baton the watcher also removes what
//! baton would have: the launcher's directory and Chromium's temporary profile (6 MB each).
//!
//! Every guarded process carries `BATON_OWNER_PID` in its environment, which names the baton
//! process it belongs to (`grep -lxz BATON_OWNER_PID=N /proc/*/environ`); watchers carry
//! `BATON_WATCHER_OF` instead.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::statvfs::{FsFlags, statvfs};

use crate::error::VerifyError;

/// Names the baton process a guarded child belongs to, for the guard and for people.
const OWNER_ENV: &str = "BATON_OWNER_PID";
/// Names the baton process a watcher watches (tests look for leftover watchers by it).
#[cfg(test)]
const WATCHER_ENV: &str = "BATON_WATCHER_OF";

/// Run as `sh -c GUARD baton-guard SETSID N LEFTOVER... PROGRAM ARGS...` by the leader of
/// a process group, with the owner's pid in `BATON_OWNER_PID`. The N leftovers are what the
/// owner would have removed after the program (a temporary profile, say): the watcher
/// removes them once it has killed the group for a dead owner.
///
/// Besides the group, the watcher kills every process whose environment still names the
/// owner: processes that left the group (Chromium's crash handler, a dev server that
/// daemonizes) usually keep their environment. The watcher itself carries the owner as
/// `BATON_WATCHER_OF` instead, so that no watcher kills another before it has removed its
/// leftovers.
///
/// `kill -0 -N` / `kill -9 -N` address process group N in every POSIX sh (dash's `kill` has
/// no `--`). The watcher is started through a subshell that exits at once, so it is adopted
/// by init and the program (which takes over this pid) never has a zombie of it. The watcher
/// gets the program's arguments too (sh cannot pass on only the first N) and ignores them.
const GUARD: &str = r#"setsid=$1 n=$2; shift 2
case $BATON_OWNER_PID in ''|*[!0-9]*) echo "baton-guard: BATON_OWNER_PID is not a pid: '$BATON_OWNER_PID'" >&2; exit 125;; esac
( export BATON_WATCHER_OF="$BATON_OWNER_PID"; unset BATON_OWNER_PID
"$setsid" /bin/sh -c '
owner=$BATON_WATCHER_OF group=$1 n=$2; shift 2
while kill -0 "$owner" && kill -0 "-$group"; do sleep 1; done 2>/dev/null
kill -0 "$owner" 2>/dev/null && exit
kill -9 "-$group" 2>/dev/null
for environ in $(grep -lsxz "BATON_OWNER_PID=$owner" /proc/[0-9]*/environ); do
  pid=${environ#/proc/}; kill -9 "${pid%/environ}"
done 2>/dev/null
# Killed processes finish dying before their files go.
[ "$n" -gt 0 ] && sleep 1
while [ "$n" -gt 0 ]; do [ -n "$1" ] && rm -rf -- "$1"; shift; n=$((n - 1)); done
' baton-watch "$$" "$n" "$@" </dev/null >/dev/null 2>&1 & )
shift "$n"
exec "$@""#;

/// A command that runs `program` in a process group of its own that dies with baton.
/// Add `program`'s arguments with `arg`/`args`.
pub(crate) fn guarded(program: impl AsRef<OsStr>) -> Result<Command, VerifyError> {
    let setsid = find_setsid()?;
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(GUARD)
        .arg("baton-guard")
        .arg(setsid)
        .arg("0")
        .arg(program)
        .envs(owner_env())
        // The guard watches the group it leads.
        .process_group(0);
    Ok(command)
}

/// The environment a guarded child needs (headless_chrome's `process_envs`).
pub(crate) fn owner_env() -> HashMap<String, String> {
    HashMap::from([(OWNER_ENV.to_owned(), std::process::id().to_string())])
}

/// A launcher script for one Chromium launch: headless_chrome runs it in place of Chromium,
/// with `owner_env()` set. It lives in a private temporary directory removed on drop; keep
/// it until `Browser::new` has returned (headless_chrome may relaunch on a taken port).
#[derive(Debug)]
pub(crate) struct ChromiumLauncher {
    _dir: tempfile::TempDir,
    script: PathBuf,
}

impl ChromiumLauncher {
    /// A launcher for `chromium` in `$TMPDIR` (or `/tmp`).
    pub(crate) fn create(chromium: &Path) -> Result<Self, VerifyError> {
        Self::create_in(&std::env::temp_dir(), chromium)
    }

    fn create_in(parent: &Path, chromium: &Path) -> Result<Self, VerifyError> {
        let setsid = find_setsid()?;
        let failed = |detail: String| VerifyError::ChromiumLauncher {
            dir: parent.to_path_buf(),
            detail,
        };
        // A script on a noexec mount would make every launch fail with a bare EACCES.
        let flags = statvfs(parent).map_err(|error| failed(error.to_string()))?;
        if flags.flags().contains(FsFlags::ST_NOEXEC) {
            return Err(failed("it is mounted noexec".to_owned()));
        }
        // Private, so that no one else can swap the script baton is about to run.
        let dir = tempfile::Builder::new()
            .prefix("baton-chromium-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(parent)
            .map_err(|error| failed(error.to_string()))?;
        let script = dir.path().join("chromium");
        // The profile is headless_chrome's temporary one (never a user's: only that name
        // is passed on for removal).
        let mut text = b"#!/bin/sh
# Written by baton (verify/src/reaper.rs): starts Chromium in a session of its own, watched
# so that it dies with baton; if baton is killed, the watcher also removes this directory
# and Chromium's temporary profile.
profile=
for arg; do
  case $arg in --user-data-dir=*/rust-headless-chrome-profile*) profile=${arg#--user-data-dir=};; esac
done
exec "
            .to_vec();
        for word in [
            setsid.as_os_str(),
            OsStr::new("/bin/sh"),
            OsStr::new("-c"),
            OsStr::new(GUARD),
            OsStr::new("baton-guard"),
            setsid.as_os_str(),
            OsStr::new("2"),
            dir.path().as_os_str(),
        ] {
            text.extend(sh_quote(word.as_bytes()));
            text.push(b' ');
        }
        text.extend(b"\"$profile\" ");
        text.extend(sh_quote(chromium.as_os_str().as_bytes()));
        text.extend(b" \"$@\"\n");
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o700)
            .open(&script)
            .and_then(|mut file| file.write_all(&text))
            .map_err(|error| failed(format!("{}: {error}", script.display())))?;
        Ok(Self { _dir: dir, script })
    }

    /// The path to give headless_chrome as Chromium's.
    pub(crate) fn path(&self) -> &Path {
        &self.script
    }
}

/// `word` as one single-quoted sh word.
fn sh_quote(word: &[u8]) -> Vec<u8> {
    let mut quoted = vec![b'\''];
    for &byte in word {
        if byte == b'\'' {
            quoted.extend(b"'\\''");
        } else {
            quoted.push(byte);
        }
    }
    quoted.push(b'\'');
    quoted
}

/// util-linux's `setsid`, looked up once per guard so that a missing one fails here with
/// the fix, not later as a child that exits 127 before Chromium prints its address.
fn find_setsid() -> Result<PathBuf, VerifyError> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("setsid"))
        .find(|path| {
            path.metadata()
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
        .ok_or(VerifyError::SetsidMissing)
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Stdio};
    use std::time::{Duration, Instant};

    use super::*;

    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "))
    }

    /// Live processes whose environment names `owner` as their baton or watched baton.
    fn owned_by(owner: u32) -> Vec<u32> {
        let needles = [OWNER_ENV, WATCHER_ENV].map(|name| format!("\0{name}={owner}\0"));
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| {
                std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
                    let environ = [b"\0", environ.as_slice()].concat();
                    needles.iter().any(|needle| {
                        environ
                            .windows(needle.len())
                            .any(|window| window == needle.as_bytes())
                    })
                })
            })
            .filter(|&pid| alive(pid))
            .collect()
    }

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting: {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A stand-in for baton: a process whose death the guard watches.
    fn owner() -> Child {
        Command::new("sleep").arg("300").spawn().unwrap()
    }

    /// `guarded`, but owned by `owner` instead of this test process.
    fn guarded_for(owner: &Child, script: &str) -> Child {
        guarded("/bin/sh")
            .unwrap()
            .arg("-c")
            .arg(script)
            .env(OWNER_ENV, owner.id().to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn first_line(child: &mut Child) -> String {
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        line.trim().to_owned()
    }

    #[test]
    fn a_guarded_group_dies_with_its_owner() {
        let mut owner = owner();
        // The program forks: its background sleep must die too, not only the group leader.
        let mut child = guarded_for(&owner, "sleep 300 & echo $!; wait");
        let forked: u32 = first_line(&mut child).parse().unwrap();
        assert!(alive(child.id()) && alive(forked));
        // The leader, its fork and the watcher: what `owned_by` finds is what must go. The
        // watcher may still be between fork and exec (its environment not yet its own), so
        // it is waited for rather than expected at once.
        wait_until("the leader, its fork and the watcher are found", || {
            owned_by(owner.id()).len() >= 3
        });
        owner.kill().unwrap();
        owner.wait().unwrap();
        wait_until("the leader dies", || child.try_wait().unwrap().is_some());
        wait_until("the forked sleep dies", || !alive(forked));
        wait_until("the watcher ends", || owned_by(owner.id()).is_empty());
    }

    #[test]
    fn a_process_that_left_the_group_dies_with_its_owner_too() {
        let mut owner = owner();
        // `setsid` in the background keeps its pid: `$!` is the escaped sleep.
        let mut child = guarded_for(&owner, "setsid sleep 300 & echo $!; wait");
        let escaped: u32 = first_line(&mut child).parse().unwrap();
        wait_until("the sleep leaves the group", || {
            std::fs::read_to_string(format!("/proc/{escaped}/stat"))
                .is_ok_and(|stat| stat.contains(&format!(" {escaped} {escaped} ")))
        });
        owner.kill().unwrap();
        owner.wait().unwrap();
        wait_until("the escaped sleep dies", || !alive(escaped));
        wait_until("the leader dies", || child.try_wait().unwrap().is_some());
        wait_until("the watcher ends", || owned_by(owner.id()).is_empty());
    }

    #[test]
    fn a_guarded_program_whose_owner_is_already_gone_dies_at_once() {
        let mut owner = owner();
        owner.kill().unwrap();
        owner.wait().unwrap();
        let mut child = guarded_for(&owner, "exec sleep 300");
        wait_until("the program dies", || child.try_wait().unwrap().is_some());
        wait_until("the watcher ends", || owned_by(owner.id()).is_empty());
    }

    #[test]
    fn the_watcher_ends_with_its_group_and_leaves_the_owner_alone() {
        let mut owner = owner();
        let mut child = guarded_for(&owner, "echo $$ $(cut -d' ' -f5 /proc/$$/stat)");
        let line = first_line(&mut child);
        assert_eq!(
            line,
            format!("{0} {0}", child.id()),
            "pid and process group"
        );
        assert!(child.wait().unwrap().success());
        wait_until("the watcher ends", || owned_by(owner.id()).is_empty());
        assert!(alive(owner.id()));
        owner.kill().unwrap();
        owner.wait().unwrap();
    }

    /// Runs `script` as /bin/sh through a launcher in `parent`, owned by `owner`, with
    /// `profile` as Chromium's profile argument (which sh ignores); returns it and the first
    /// line it printed.
    fn launch_sh(parent: &Path, owner: &Child, profile: &Path, script: &str) -> (Child, String) {
        let launcher = ChromiumLauncher::create_in(parent, Path::new("/bin/sh")).unwrap();
        let mut child = Command::new(launcher.path())
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(format!("--user-data-dir={}", profile.display()))
            .env(OWNER_ENV, owner.id().to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let line = first_line(&mut child);
        // As after `Browser::new` (once the program runs): the launcher's directory goes.
        drop(launcher);
        (child, line)
    }

    #[test]
    fn the_launcher_runs_its_program_in_a_session_of_its_own_under_the_same_pid() {
        let parent = tempfile::tempdir().unwrap();
        let launcher = ChromiumLauncher::create_in(parent.path(), Path::new("/bin/sh")).unwrap();
        let mode = |path: &Path| path.metadata().unwrap().permissions().mode() & 0o777;
        let dir = launcher.path().parent().unwrap();
        assert_eq!((mode(dir), mode(launcher.path())), (0o700, 0o700));
        drop(launcher);
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);

        let mut owner = owner();
        let profile = parent.path().join("rust-headless-chrome-profileA");
        std::fs::create_dir(&profile).unwrap();
        let script = "echo $$ $(cut -d' ' -f6 /proc/$$/stat)";
        let (mut child, line) = launch_sh(parent.path(), &owner, &profile, script);
        assert_eq!(line, format!("{0} {0}", child.id()), "pid and session");
        assert!(child.wait().unwrap().success());
        wait_until("the watcher ends", || owned_by(owner.id()).is_empty());
        // baton is alive: the profile is headless_chrome's to remove, not the watcher's.
        assert!(profile.exists());
        owner.kill().unwrap();
        owner.wait().unwrap();
    }

    #[test]
    fn a_killed_owners_launcher_and_profile_are_removed_by_the_watcher() {
        let parent = tempfile::tempdir().unwrap();
        let mut owner = owner();
        let profile = parent.path().join("rust-headless-chrome-profileB");
        std::fs::create_dir(&profile).unwrap();
        let (mut child, line) = launch_sh(parent.path(), &owner, &profile, "echo up; sleep 300");
        assert_eq!(line, "up");
        // A launcher baton never got to remove: killed during `Browser::new`.
        let stale = ChromiumLauncher::create_in(parent.path(), Path::new("/bin/sh")).unwrap();
        let mut killed = Command::new(stale.path())
            .arg("-c")
            .arg("echo up; sleep 300")
            .arg("sh")
            .arg(format!("--user-data-dir={}", profile.display()))
            .env(OWNER_ENV, owner.id().to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        assert_eq!(first_line(&mut killed), "up");
        std::mem::forget(stale);
        owner.kill().unwrap();
        owner.wait().unwrap();
        wait_until("the programs die", || {
            child.try_wait().unwrap().is_some() && killed.try_wait().unwrap().is_some()
        });
        wait_until("the watchers end", || owned_by(owner.id()).is_empty());
        let left: Vec<_> = std::fs::read_dir(parent.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_profile_not_named_as_headless_chromes_is_never_removed() {
        let parent = tempfile::tempdir().unwrap();
        let mut owner = owner();
        let profile = parent.path().join("my-profile");
        std::fs::create_dir(&profile).unwrap();
        let (mut child, line) = launch_sh(parent.path(), &owner, &profile, "echo up; sleep 300");
        assert_eq!(line, "up");
        owner.kill().unwrap();
        owner.wait().unwrap();
        wait_until("the program dies", || child.try_wait().unwrap().is_some());
        wait_until("the watcher ends", || owned_by(owner.id()).is_empty());
        assert!(profile.exists());
    }

    #[test]
    fn a_launcher_that_cannot_be_written_names_the_fix() {
        let error = ChromiumLauncher::create_in(Path::new("/nonexistent"), Path::new("/bin/sh"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("/nonexistent") && error.contains("TMPDIR"),
            "{error}"
        );
    }

    #[test]
    fn sh_quote_keeps_quotes_and_spaces() {
        let word = "it's a \"path\" $HOME";
        let quoted = String::from_utf8(sh_quote(word.as_bytes())).unwrap();
        let output = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("printf %s {quoted}"))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(output.stdout).unwrap(), word);
    }
}
