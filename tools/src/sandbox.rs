//! The OS sandbox `bash` runs in on Linux: bubblewrap (`bwrap`) with the project folder
//! writable, the rest of the filesystem read-only, the project's `.git` and `.baton`
//! read-only on top, a private `/tmp`, the user's home hidden (a tmpfs) but for the
//! configured paths, `/proc` and `/dev` of its own and, unless asked otherwise, no network.
//!
//! Whether the sandbox can start is probed once per process (bwrap missing, or the kernel
//! does not let it make namespaces) and the answer cached: [`SandboxPolicy::status`] says
//! what `bash` will do, and the harness prints its warning or refuses to start with it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The program the sandbox is made with.
const BWRAP: &str = "bwrap";

/// What the user asked for (`[sandbox]` in `baton.toml`, `--no-sandbox`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPolicy {
    /// Run `bash` in the sandbox where it can start.
    pub enabled: bool,
    /// Refuse to run `bash` at all when the sandbox cannot start.
    pub required: bool,
    /// Keep the network (otherwise the command gets a network namespace with only loopback).
    pub network: bool,
    /// Paths under the user's home that stay visible, read-only (relative to the home
    /// folder, or absolute inside it), e.g. the Rust toolchain.
    pub home_allow: Vec<PathBuf>,
}

impl Default for SandboxPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            required: false,
            network: false,
            home_allow: [".cargo/bin", ".rustup", ".pyenv", ".nvm", ".local/bin"]
                .map(PathBuf::from)
                .to_vec(),
        }
    }
}

/// What `bash` does under a policy on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxStatus {
    /// Commands run in the sandbox.
    On,
    /// The user turned the sandbox off.
    Off,
    /// The sandbox cannot start here: commands run without it (the warning says why and
    /// names the fix).
    Unavailable(String),
    /// The sandbox cannot start and the policy requires it: `bash` refuses every command.
    Refused(String),
}

impl SandboxPolicy {
    /// What `bash` will do, probing the machine once per process.
    pub fn status(&self) -> SandboxStatus {
        if !self.enabled {
            return SandboxStatus::Off;
        }
        self.status_given(probe())
    }

    /// What `bash` does when the probe answered `probed`.
    fn status_given(&self, probed: Result<(), String>) -> SandboxStatus {
        match probed {
            Ok(()) => SandboxStatus::On,
            Err(why) if self.required => SandboxStatus::Refused(format!(
                "the bash sandbox is required ([sandbox] required = true) but cannot start: {why}; \
                 or set required = false"
            )),
            Err(why) => SandboxStatus::Unavailable(format!(
                "bash runs without a sandbox: {why}; or pass --no-sandbox / set [sandbox] enabled = false \
                 to silence this"
            )),
        }
    }

    /// `bash -c COMMAND` in `root`, inside the sandbox when `sandboxed`.
    pub(crate) fn command(&self, root: &Path, command: &str, sandboxed: bool) -> Command {
        if !sandboxed {
            let mut plain = Command::new("bash");
            plain.arg("-c").arg(command).current_dir(root);
            return plain;
        }
        let mut bwrap = Command::new(BWRAP);
        bwrap
            .args(self.bwrap_args(root, home().as_deref()))
            .arg("--")
            .arg("bash")
            .arg("-c")
            .arg(command)
            .current_dir(root);
        bwrap
    }

    /// bwrap's arguments; later mounts go on top of earlier ones, so the order matters:
    /// the read-only root first, then what hides parts of it, then the project on top.
    fn bwrap_args(&self, root: &Path, home: Option<&Path>) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |items: &[&dyn AsRef<std::ffi::OsStr>]| {
            args.extend(items.iter().map(|item| item.as_ref().to_owned()));
        };
        push(&[&"--ro-bind", &"/", &"/"]);
        push(&[&"--dev", &"/dev"]);
        // Without a session of its own the command shares baton's terminal; with /dev/tty
        // pointing nowhere it cannot open it to push keystrokes into the user's shell.
        push(&[&"--dev-bind", &"/dev/null", &"/dev/tty"]);
        push(&[&"--proc", &"/proc"]);
        push(&[&"--tmpfs", &"/tmp"]);
        if let Some(home) = home.filter(|home| *home != Path::new("/")) {
            push(&[&"--tmpfs", &home]);
            for allowed in &self.home_allow {
                let climbs = allowed
                    .components()
                    .any(|part| matches!(part, std::path::Component::ParentDir));
                let path = home.join(allowed);
                if path.starts_with(home) && !climbs {
                    push(&[&"--ro-bind-try", &path, &path]);
                }
            }
        }
        push(&[&"--bind", &root, &root]);
        for state in [".git", ".baton"] {
            let path = root.join(state);
            push(&[&"--ro-bind-try", &path, &path]);
        }
        // A pid namespace gives the command a /proc without baton's processes (whose
        // /proc/PID/root would lead out); the command stays in baton's process group, so
        // killing the group at the deadline still ends everything.
        push(&[&"--unshare-pid", &"--unshare-ipc", &"--die-with-parent"]);
        if !self.network {
            push(&[&"--unshare-net"]);
        }
        // A TMPDIR outside /tmp would be read-only in here.
        push(&[&"--setenv", &"TMPDIR", &"/tmp"]);
        push(&[&"--chdir", &root]);
        args
    }

    /// What the model is told about the sandbox, for the bash tool's description.
    pub(crate) fn describe(&self, sandboxed: bool) -> String {
        if !sandboxed {
            return String::new();
        }
        let network = if self.network {
            "The network is available."
        } else {
            "There is no network (only loopback of its own: a server started by one command cannot be reached by the next; \
             installing packages from the internet fails)."
        };
        format!(
            " Commands run in a sandbox: the project folder is writable, the rest of the filesystem is read-only, \
             `.git` and `.baton` are read-only (commits are the harness's job: do not run git commit), \
             /tmp is private to each command, the home folder is empty. {network} \
             Processes left in the background (`cmd &`) end with the command: run a server in the foreground \
             and it goes on as a background job."
        )
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|home| home.is_absolute())
        .and_then(|home| home.canonicalize().ok())
}

/// Whether bwrap can make a sandbox here (cached: the answer does not change while baton runs).
fn probe() -> Result<(), String> {
    static PROBED: OnceLock<Result<(), String>> = OnceLock::new();
    PROBED
        .get_or_init(|| {
            let root = std::env::temp_dir();
            let policy = SandboxPolicy::default();
            let output = policy
                .command(&root, "true", true)
                .stdin(Stdio::null())
                .output();
            match output {
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    Err("bubblewrap is not installed (apt-get install bubblewrap)".to_owned())
                }
                Err(error) => Err(format!(
                    "bwrap does not start ({error}; reinstall it: apt-get install --reinstall bubblewrap)"
                )),
                Ok(output) if output.status.success() => Ok(()),
                Ok(output) => {
                    let said = String::from_utf8_lossy(&output.stderr);
                    Err(format!(
                        "bwrap cannot make namespaces here ({}; allow unprivileged user namespaces, \
                         e.g. sysctl kernel.apparmor_restrict_unprivileged_userns=0, or run in a VM or container that does)",
                        said.trim().lines().next().unwrap_or("no message")
                    ))
                }
            }
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn the_project_is_mounted_after_what_hides_it_and_its_state_after_it() {
        let policy = SandboxPolicy::default();
        let args =
            strings(&policy.bwrap_args(Path::new("/home/u/app"), Some(Path::new("/home/u"))));
        let position = |needle: &[&str]| {
            args.windows(needle.len())
                .position(|window| window == needle)
                .unwrap_or_else(|| panic!("{needle:?} not in {args:?}"))
        };
        let home = position(&["--tmpfs", "/home/u"]);
        let toolchain = position(&["--ro-bind-try", "/home/u/.rustup", "/home/u/.rustup"]);
        let project = position(&["--bind", "/home/u/app", "/home/u/app"]);
        let git = position(&["--ro-bind-try", "/home/u/app/.git", "/home/u/app/.git"]);
        let baton = position(&["--ro-bind-try", "/home/u/app/.baton", "/home/u/app/.baton"]);
        assert!(position(&["--ro-bind", "/", "/"]) < home);
        assert!(home < toolchain && toolchain < project && project < git && project < baton);
        assert!(args.contains(&"--unshare-net".to_owned()));
    }

    #[test]
    fn network_on_keeps_the_network_and_home_paths_cannot_climb_out() {
        let policy = SandboxPolicy {
            network: true,
            home_allow: vec![
                PathBuf::from("/etc"),
                PathBuf::from("../etc"),
                PathBuf::from(".config/x"),
            ],
            ..SandboxPolicy::default()
        };
        let args = strings(&policy.bwrap_args(Path::new("/srv/app"), Some(Path::new("/home/u"))));
        assert!(!args.contains(&"--unshare-net".to_owned()));
        assert!(!args.iter().any(|arg| arg.ends_with("/etc")), "{args:?}");
        assert!(args.contains(&"/home/u/.config/x".to_owned()));
    }

    #[test]
    fn a_sandbox_that_cannot_start_warns_or_refuses_naming_the_fix() {
        let missing = || Err("bubblewrap is not installed (apt-get install bubblewrap)".to_owned());
        let SandboxStatus::Unavailable(warning) = SandboxPolicy::default().status_given(missing())
        else {
            panic!("not a warning");
        };
        for fix in [
            "apt-get install bubblewrap",
            "--no-sandbox",
            "enabled = false",
        ] {
            assert!(warning.contains(fix), "{warning}");
        }
        let required = SandboxPolicy {
            required: true,
            ..SandboxPolicy::default()
        };
        let SandboxStatus::Refused(refusal) = required.status_given(missing()) else {
            panic!("not refused");
        };
        assert!(refusal.contains("required = true"), "{refusal}");
        assert_eq!(required.status_given(Ok(())), SandboxStatus::On);
    }

    #[test]
    fn turned_off_is_off_whatever_the_machine() {
        let policy = SandboxPolicy {
            enabled: false,
            required: true,
            ..SandboxPolicy::default()
        };
        assert_eq!(policy.status(), SandboxStatus::Off);
    }
}
