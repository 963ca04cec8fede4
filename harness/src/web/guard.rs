//! Who may talk to the dashboard. Loopback by default; any other address only with a token.
//! Every request's `Host` must name the address served (a page of another site that DNS
//! rebinding pointed at 127.0.0.1 sends its own host name), a request that carries an
//! `Origin` must come from the dashboard's own origin, and requests that change something
//! (POST) must carry the token, which only the dashboard's own page can read.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng as _;

use crate::error::HarnessError;

/// The header (or `token` query parameter) a request carries the token in.
pub const TOKEN_HEADER: &str = "x-baton-token";

/// The rules for one served address.
#[derive(Debug, Clone)]
pub struct Guard {
    pub addr: SocketAddr,
    pub token: String,
    /// Off loopback, every request needs the token, reads included.
    pub token_for_reads: bool,
}

impl Guard {
    /// The guard for `addr`. Off loopback a token is required: the one in
    /// `~/.config/baton/web-token` (made, 0600, on first use). On loopback a fresh token is
    /// made for this process, given to the dashboard's page only.
    pub fn for_addr(
        addr: SocketAddr,
        allow_remote: bool,
    ) -> Result<(Guard, Option<PathBuf>), HarnessError> {
        if addr.ip().is_loopback() {
            return Ok((
                Guard {
                    addr,
                    token: fresh_token(),
                    token_for_reads: false,
                },
                None,
            ));
        }
        if !allow_remote {
            return Err(HarnessError::BadInput(format!(
                "baton web serves loopback only by default; {addr} is reachable from other machines, where tapes (tool outputs, file contents) would be exposed. To serve it anyway, add --allow-remote: every request must then carry the token stored in ~/.config/baton/web-token"
            )));
        }
        let path = token_path()?;
        let token = load_or_create_token(&path)?;
        Ok((
            Guard {
                addr,
                token,
                token_for_reads: true,
            },
            Some(path),
        ))
    }

    /// The `host:port` names this dashboard answers to.
    fn allowed_hosts(&self) -> Vec<String> {
        let port = self.addr.port();
        let mut allowed = vec![self.addr.to_string()];
        if self.addr.ip().is_loopback() {
            allowed.push(format!("localhost:{port}"));
            allowed.push(format!("127.0.0.1:{port}"));
            allowed.push(format!("[::1]:{port}"));
        }
        allowed
    }

    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        self.allowed_hosts()
            .iter()
            .any(|a| a.eq_ignore_ascii_case(host))
    }

    /// No `Origin` (a same-origin GET, curl) or the dashboard's own origin.
    fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok()) else {
            return true;
        };
        origin.strip_prefix("http://").is_some_and(|host| {
            self.allowed_hosts()
                .iter()
                .any(|a| a.eq_ignore_ascii_case(host))
        })
    }

    fn has_token(&self, request: &Request) -> bool {
        let from_header = request
            .headers()
            .get(TOKEN_HEADER)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|t| constant_time_eq(t, &self.token));
        let from_query = request.uri().query().is_some_and(|query| {
            query.split('&').any(|pair| {
                pair.strip_prefix("token=")
                    .is_some_and(|t| constant_time_eq(t, &self.token))
            })
        });
        from_header || from_query
    }
}

/// The middleware: refuses what the rules above do not allow.
pub async fn check(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    if !guard.host_allowed(request.headers()) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "refused: the Host header does not name this dashboard",
        );
    }
    if !guard.origin_allowed(request.headers()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "refused: requests from another origin are not served",
        );
    }
    let writes = request.method() != Method::GET && request.method() != Method::HEAD;
    if (writes || guard.token_for_reads) && !guard.has_token(&request) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "refused: this request needs the dashboard's token (header x-baton-token or ?token=)",
        );
    }
    next.run(request).await
}

fn refuse(status: StatusCode, message: &'static str) -> Response {
    (status, message).into_response()
}

fn fresh_token() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    hex::encode(bytes)
}

fn token_path() -> Result<PathBuf, HarnessError> {
    dirs::config_dir()
        .map(|dir| dir.join("baton").join("web-token"))
        .ok_or_else(|| {
            HarnessError::BadInput(
                "no config folder to keep the web token in: set $HOME (or $XDG_CONFIG_HOME)"
                    .to_owned(),
            )
        })
}

fn load_or_create_token(path: &Path) -> Result<String, HarnessError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Ok(token) = std::fs::read_to_string(path)
        && token.trim().len() >= 32
    {
        return Ok(token.trim().to_owned());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| HarnessError::io(parent, source))?;
    }
    let token = fresh_token();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| HarnessError::io(path, source))?;
    file.write_all(token.as_bytes())
        .map_err(|source| HarnessError::io(path, source))?;
    Ok(token)
}

/// Compares without stopping at the first difference (no timing hint about the token).
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
