//! Processes baton starts (Chromium, the app under test) must not outlive it. A normal exit
//! stops them through their guards' `Drop`, but a `kill -9` or a crash runs no destructor,
//! and every killed run would leave a browser and a server behind. So each such child gets
//! a watcher: a detached `sh` loop that checks once a second whether baton and the child
//! are alive, kills the child when baton is gone, and ends by itself as soon as the child
//! ends first.

use std::process::{Command, Stdio};

/// What a watcher kills when baton is gone.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Orphan {
    /// One process (Chromium's browser process; its renderers exit with it).
    Process(u32),
    /// A whole process group (the app's start command and whatever it forked).
    Group(u32),
}

/// Starts a watcher for `orphan`. Failing to start one is logged, not fatal: the child
/// still stops on every exit that runs destructors.
pub(crate) fn kill_when_baton_dies(orphan: Orphan) {
    if let Err(error) = watcher(std::process::id(), orphan).status() {
        tracing::warn!(%error, ?orphan, "could not start the watcher that stops this child if baton is killed");
    }
}

/// The command that starts a watcher of `orphan` on behalf of process `owner`. The outer
/// shell starts the loop in the background and exits at once, so the loop is adopted by
/// init and the owner keeps no zombie per watcher.
fn watcher(owner: u32, orphan: Orphan) -> Command {
    // `kill -0 -N` and `kill -9 -N` address process group N in every POSIX sh (dash has no `--`).
    let target = match orphan {
        Orphan::Process(pid) => pid.to_string(),
        Orphan::Group(group) => format!("-{group}"),
    };
    let watch = format!(
        "while kill -0 {owner} && kill -0 {target}; do sleep 1; done 2>/dev/null; \
         kill -0 {owner} 2>/dev/null || kill -9 {target} 2>/dev/null"
    );
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("({watch}) </dev/null >/dev/null 2>&1 &"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};

    use super::*;

    fn alive(pid: u32) -> bool {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ")
    }

    #[test]
    fn a_child_outlives_a_killed_owner_by_at_most_a_few_seconds() {
        // The owner is a separate `sh` standing in for baton; it starts a long sleep in its own
        // process group and a watcher for it, then is killed with SIGKILL.
        // `setsid` gives the sleep a process group of its own, as `start_app` does.
        let script = "setsid sleep 300 & echo $!; sleep 300";
        let mut owner = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(owner.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let child: u32 = line.trim().parse().unwrap();
        // `setsid` runs in the background: wait until the group exists (a watcher gives up on
        // a target that is not there, as it should).
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child).unwrap());
        let deadline = Instant::now() + Duration::from_secs(5);
        while nix::unistd::getpgid(Some(pid)).ok() != Some(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        watcher(owner.id(), Orphan::Group(child)).status().unwrap();
        assert!(alive(child));
        // The owner's whole group (its own `sleep` too), as a `kill -9` of baton leaves it.
        let group = nix::unistd::Pid::from_raw(i32::try_from(owner.id()).unwrap());
        nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL).unwrap();
        owner.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(child) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(!alive(child), "the child outlived its killed owner");
    }
}
