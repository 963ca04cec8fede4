//! Starting the app under test: a free port, the start command in its own process group
//! with `$PORT`, a readiness probe over HTTP, and a guard that kills the whole group.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::error::VerifyError;
use crate::feature_list::AppConfig;

const PROBE_INTERVAL: Duration = Duration::from_millis(100);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
const STOP_GRACE: Duration = Duration::from_secs(2);
const LOG_TAIL_LINES: usize = 20;

/// The app while it runs; dropping it stops the whole process group.
#[derive(Debug)]
pub struct RunningApp {
    /// The URL it answers on.
    pub url: String,
    /// The port passed as `$PORT`.
    pub port: u16,
    /// Where its stdout and stderr go.
    pub log_path: PathBuf,
    child: Child,
}

/// Start the app and wait until its URL answers HTTP with a status below 500.
pub fn start_app(
    project_dir: &Path,
    app: &AppConfig,
    log_path: &Path,
) -> Result<RunningApp, VerifyError> {
    let port = free_port()?;
    let url = app.url_for_port(port);
    let command = app.start_command().to_owned();
    if let Some(parent) = log_path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| VerifyError::write(parent, source))?;
    }
    let log = File::create(log_path).map_err(|source| VerifyError::write(log_path, source))?;
    let log_for_stderr = log
        .try_clone()
        .map_err(|source| VerifyError::write(log_path, source))?;
    // In a process group of its own (the guard leads it), which dies with baton.
    let child = crate::reaper::guarded("bash")?
        .arg("-c")
        .arg(&command)
        .current_dir(project_dir)
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_for_stderr)
        .spawn()
        .map_err(|source| VerifyError::AppSpawn {
            command: command.clone(),
            dir: project_dir.to_path_buf(),
            source,
        })?;
    tracing::info!(%url, %command, pid = child.id(), "app started");
    let mut running = RunningApp {
        url,
        port,
        log_path: log_path.to_path_buf(),
        child,
    };
    running.wait_ready(&command, Duration::from_secs(app.ready_timeout_secs()))?;
    Ok(running)
}

impl RunningApp {
    fn wait_ready(&mut self, command: &str, timeout: Duration) -> Result<(), VerifyError> {
        let deadline = Instant::now() + timeout;
        loop {
            // A start script may fork the server and exit 0; only a failing exit is fatal early.
            if let Ok(Some(status)) = self.child.try_wait()
                && !status.success()
            {
                return Err(VerifyError::AppExited {
                    command: command.to_owned(),
                    url: self.url.clone(),
                    status: status.to_string(),
                    log_tail: log_tail(&self.log_path),
                });
            }
            if answers_http(&self.url, deadline) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(VerifyError::AppNotReady {
                    url: self.url.clone(),
                    timeout_secs: timeout.as_secs(),
                    log_tail: log_tail(&self.log_path),
                });
            }
            std::thread::sleep(PROBE_INTERVAL.min(deadline - now));
        }
    }

    fn stop(&mut self) {
        let Ok(raw_pid) = i32::try_from(self.child.id()) else {
            return;
        };
        let group = Pid::from_raw(raw_pid);
        if killpg(group, Signal::SIGTERM).is_err() {
            let _ = self.child.wait();
            return;
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            // Reap the leader so its zombie does not keep the group "alive".
            let _ = self.child.try_wait();
            if killpg(group, None).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> Result<u16, VerifyError> {
    let listener =
        TcpListener::bind(("127.0.0.1", 0)).map_err(|source| VerifyError::NoFreePort { source })?;
    let port = listener
        .local_addr()
        .map_err(|source| VerifyError::NoFreePort { source })?
        .port();
    Ok(port)
}

/// One HTTP/1.0 GET; https URLs count as ready once their port accepts TCP.
fn answers_http(url: &str, deadline: Instant) -> bool {
    let Some(target) = HttpTarget::parse(url) else {
        return false;
    };
    let remaining = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(50));
    let timeout = PROBE_TIMEOUT.min(remaining);
    let Some(address) = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addresses| addresses.next())
    else {
        return false;
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&address, timeout) else {
        return false;
    };
    if target.tls {
        return true;
    }
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nConnection: close\r\n\r\n",
        target.path, target.host_header
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut status_line = String::new();
    if BufReader::new(stream.take(1024))
        .read_line(&mut status_line)
        .is_err()
    {
        return false;
    }
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .is_some_and(|code| code < 500)
}

#[derive(Debug, PartialEq, Eq)]
struct HttpTarget {
    tls: bool,
    host: String,
    host_header: String,
    port: u16,
    path: String,
}

impl HttpTarget {
    fn parse(url: &str) -> Option<Self> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            (true, url.strip_prefix("https://")?)
        };
        let (authority, rest_path) = rest
            .find(['/', '?', '#'])
            .map_or((rest, ""), |at| rest.split_at(at));
        let without_fragment = rest_path.split('#').next().unwrap_or_default();
        let path = if without_fragment.starts_with('/') {
            without_fragment.to_owned()
        } else {
            format!("/{without_fragment}")
        };
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(port) => port.parse().ok()?,
                None => default_port,
            };
            (host, port)
        } else {
            match authority.split_once(':') {
                Some((host, port)) => (host, port.parse().ok()?),
                None => (authority, default_port),
            }
        };
        let host = host.to_owned();
        Some(Self {
            tls,
            host,
            host_header: authority.to_owned(),
            port,
            path,
        })
    }
}

/// The last lines of a log file, or a note that it is empty or unreadable.
pub(crate) fn log_tail(path: &Path) -> String {
    let Ok(text) = std::fs::read(path) else {
        return format!("(no log at {})", path.display());
    };
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return "(the app wrote nothing to its log)".to_owned();
    }
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_targets() {
        let target = HttpTarget::parse("http://127.0.0.1:8080/app/?x=1#/a").unwrap();
        assert_eq!(target.host, "127.0.0.1");
        assert_eq!(target.port, 8080);
        assert_eq!(target.path, "/app/?x=1");
        assert!(!target.tls);
        let target = HttpTarget::parse("http://localhost").unwrap();
        assert_eq!((target.port, target.path.as_str()), (80, "/"));
        let target = HttpTarget::parse("http://localhost:3000#/x").unwrap();
        assert_eq!((target.port, target.path.as_str()), (3000, "/"));
        assert!(HttpTarget::parse("https://example.test/").unwrap().tls);
        assert!(HttpTarget::parse("ftp://example.test/").is_none());
        let target = HttpTarget::parse("http://[::1]:9000/").unwrap();
        assert_eq!((target.host.as_str(), target.port), ("::1", 9000));
        let target = HttpTarget::parse("http://[::1]?q").unwrap();
        assert_eq!((target.port, target.path.as_str()), (80, "/?q"));
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let lines: Vec<String> = (0..50).map(|i| format!("line {i}")).collect();
        let text = lines.join("\n");
        std::fs::write(&path, text).unwrap();
        let tail = log_tail(&path);
        assert!(tail.starts_with("line 30"), "{tail}");
        assert!(tail.ends_with("line 49"), "{tail}");
    }
}
