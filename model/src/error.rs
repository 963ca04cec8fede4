//! The crate's one error type: what went wrong talking to a model, loading a script or
//! serving one, with enough detail to tell a retry from a configuration fix.

use std::path::PathBuf;
use std::time::Duration;

/// A boxed source error, kept so `{:#}` shows the whole chain.
pub type BoxedSource = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The server said 429 (rate limit) and kept saying it through every retry.
    #[error(
        "rate limited by {url} (HTTP 429){}: {body}; wait, lower the request rate, or raise the retry budget",
        retry_after.map(|d| format!(", server asked to retry after {}s", d.as_secs())).unwrap_or_default()
    )]
    RateLimited {
        url: String,
        retry_after: Option<Duration>,
        body: String,
    },
    /// A failure that may pass by itself: 5xx, a timeout, a connection dropped midway.
    #[error("transient failure talking to {url}: {detail}")]
    Transient {
        url: String,
        detail: String,
        #[source]
        source: Option<BoxedSource>,
    },
    /// The conversation is longer than the model's context window.
    #[error(
        "the request does not fit the model's context window: {detail}; lower the context budget (fit_to_context) or use a model with a longer context"
    )]
    ContextLength { detail: String },
    /// Nothing answers at the URL (connection refused, DNS failure), after every retry.
    #[error(
        "cannot reach the model server at {url}: {source}; check OPENAI_BASE_URL (or the configured base URL) and that the server is running"
    )]
    Unreachable {
        url: String,
        #[source]
        source: BoxedSource,
    },
    /// The server refused the request with a status that retrying will not change.
    #[error("HTTP {status} from the model server: {body}{}", http_hint(*status))]
    Http { status: u16, body: String },
    /// The server answered 2xx with something that is not a usable chat completion.
    #[error("malformed response from the model server: {detail}")]
    Malformed { detail: String },
    /// A failure that will not go away by itself (e.g. quota exhausted).
    #[error("permanent failure from the model server: {detail}")]
    Permanent { detail: String },
    /// The client settings cannot work (bad base URL, unusable API key).
    #[error("invalid model settings: {detail}")]
    Settings { detail: String },
    /// A model script could not be read.
    #[error("cannot read script file {}: {source}", path.display())]
    ScriptIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A model script is not valid; the detail names the place and the fix.
    #[error("invalid script {}: {detail}", path.display())]
    ScriptInvalid { path: PathBuf, detail: String },
    /// The scripted server could not listen on the address.
    #[error("cannot listen on {addr}: {source}; pick another port or free this one")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The scripted server stopped with an I/O error.
    #[error("the scripted model server failed: {source}")]
    Serve {
        #[source]
        source: std::io::Error,
    },
}

fn http_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => "; check OPENAI_API_KEY",
        404 => {
            "; unless the body explains it, check the model name and that the base URL ends in /v1"
        }
        _ => "",
    }
}

impl ModelError {
    /// Whether the same request may succeed later without a change of configuration.
    /// `OpenAiModel` has already retried these within its policy; a caller that sees
    /// one can pause the thread and resume it later rather than fail it.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Transient { .. } | Self::Unreachable { .. }
        )
    }

    /// The delay the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_classification() {
        let rate = ModelError::RateLimited {
            url: "u".into(),
            retry_after: None,
            body: String::new(),
        };
        assert!(rate.retryable());
        assert!(!ModelError::Malformed { detail: "x".into() }.retryable());
        assert!(
            !ModelError::Http {
                status: 400,
                body: String::new()
            }
            .retryable()
        );
        assert!(!ModelError::ContextLength { detail: "x".into() }.retryable());
    }

    #[test]
    fn http_error_names_the_fix() {
        let msg = ModelError::Http {
            status: 401,
            body: "bad key".into(),
        }
        .to_string();
        assert!(msg.contains("OPENAI_API_KEY"), "{msg}");
    }
}
