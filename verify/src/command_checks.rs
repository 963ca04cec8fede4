//! The checks that need no browser: `run` (a shell command in the project) and `http` (one
//! request to the app). Each returns a transcript, written beside `result.json` as evidence.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::browser::StepError;
use crate::check::{HttpCheck, RunCheck};

/// Longest output kept in a transcript.
const OUTPUT_CAP: usize = 64 * 1024;
const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// Run `check.command` with `bash -c` in `project`; Ok holds the transcript.
pub(crate) fn run(check: &RunCheck, project: &Path) -> (Result<(), StepError>, String) {
    let timeout = check
        .timeout_ms
        .map_or(DEFAULT_RUN_TIMEOUT, Duration::from_millis);
    let want_exit = check.expect_exit.unwrap_or(0);
    let expected = format!("`{}` exits with {want_exit}", check.command);
    let started = Instant::now();
    let child = Command::new("bash")
        .arg("-c")
        .arg(&check.command)
        .current_dir(project)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            return (
                Err(StepError::new(expected, error.to_string())),
                String::new(),
            );
        }
    };
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe
                    .by_ref()
                    .take(OUTPUT_CAP as u64)
                    .read_to_end(&mut bytes);
                // Drain the rest so the command never blocks on a full pipe.
                let _ = std::io::copy(&mut pipe, &mut std::io::sink());
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let out = read(stdout.map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = read(stderr.map(|p| Box::new(p) as Box<dyn Read + Send>));
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                // The whole group: a command's own children must not outlive the check.
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(child.id().cast_signed()),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = child.wait();
                break None;
            }
        }
    };
    let (stdout, stderr) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    let code = status.and_then(|status| status.code());
    let transcript = format!(
        "$ {}\n[exit {}, {} ms]\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n",
        check.command,
        code.map_or_else(|| "none (killed)".to_owned(), |c| c.to_string()),
        started.elapsed().as_millis()
    );
    let verdict = match code {
        None if status.is_none() => Err(StepError::new(
            expected,
            format!(
                "still running after {} ms; it was killed",
                timeout.as_millis()
            ),
        )),
        Some(code) if code == want_exit => match &check.expect_stdout {
            Some(matcher) if !matcher.matches(&stdout) => Err(StepError::new(
                format!("stdout of `{}` {matcher}", check.command),
                format!("{:?}", tail(&stdout)),
            )),
            _ => Ok(()),
        },
        code => Err(StepError::new(
            expected,
            format!(
                "exit {}; stderr {:?}",
                code.map_or_else(|| "by signal".to_owned(), |c| c.to_string()),
                tail(&stderr)
            ),
        )),
    };
    (verdict, transcript)
}

/// Send `check`'s request to the app at `base_url` (http only); Ok holds the transcript.
pub(crate) fn http(
    check: &HttpCheck,
    base_url: &str,
    timeout: Duration,
) -> (Result<(), StepError>, String) {
    let method = check
        .method
        .as_deref()
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let url = crate::runner::join_url(base_url, &check.path);
    let expected = format!("{method} {url} answers");
    let Some((host, path)) = url.strip_prefix("http://").map(|rest| {
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        (host.to_owned(), format!("/{path}"))
    }) else {
        return (
            Err(StepError::new(
                expected,
                "http checks need an http:// app URL",
            )),
            String::new(),
        );
    };
    let body = match &check.body {
        None => None,
        Some(Value::String(text)) => Some(("text/plain; charset=utf-8", text.clone())),
        Some(json) => Some(("application/json", json.to_string())),
    };
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAccept: */*\r\n");
    if let Some((kind, text)) = &body {
        let _ = write!(
            request,
            "Content-Type: {kind}\r\nContent-Length: {}\r\n",
            text.len()
        );
    }
    request.push_str("\r\n");
    if let Some((_, text)) = &body {
        request.push_str(text);
    }
    let answer = exchange(&host, &request, timeout);
    let mut transcript = format!("> {method} {path}\n");
    if let Some((_, text)) = &body {
        let _ = writeln!(transcript, "> {}", tail(text));
    }
    let (status, response_body) = match answer {
        Ok(answer) => answer,
        Err(found) => return (Err(StepError::new(expected, found)), transcript),
    };
    let _ = writeln!(transcript, "< {status}\n< {}", tail(&response_body));
    if let Some(want) = check.expect_status
        && status != want
    {
        return (
            Err(StepError::new(
                format!("{method} {path} answers {want}"),
                format!("{status}: {:?}", tail(&response_body)),
            )),
            transcript,
        );
    }
    if let Some(expect) = &check.expect_json {
        let verdict = serde_json::from_str::<Value>(&response_body)
            .map_err(|error| format!("the body is not JSON ({error}): {:?}", tail(&response_body)))
            .and_then(|json| expect.judge(&json));
        if let Err(found) = verdict {
            return (
                Err(StepError::new(format!("{method} {path}: {expect}"), found)),
                transcript,
            );
        }
    }
    (Ok(()), transcript)
}

/// One request over a fresh connection; the status and the (de-chunked) body.
fn exchange(host: &str, request: &str, timeout: Duration) -> Result<(u16, String), String> {
    let mut stream =
        TcpStream::connect(host).map_err(|error| format!("connect {host}: {error}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    stream
        .take(OUTPUT_CAP as u64 * 16)
        .read_to_end(&mut raw)
        .map_err(|e| format!("no whole answer within {} ms: {e}", timeout.as_millis()))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP answer")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP status line: {:?}", head.lines().next()))?;
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    ))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
        else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

fn tail(text: &str) -> String {
    let count = text.chars().count();
    if count <= 300 {
        text.to_owned()
    } else {
        let skip: String = text.chars().skip(count - 300).collect();
        format!("…{skip}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"), "Wikipedia");
    }
}
