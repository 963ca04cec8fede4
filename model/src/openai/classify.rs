//! Turns what async-openai reports into a [`ModelError`] that says whether a retry can
//! help, plus the wait the server asked for.

use std::time::Duration;

use async_openai::error::OpenAIError;

use super::transport::HttpFailure;
use crate::ModelError;

/// One failed attempt: the error and the server's `Retry-After`, if it sent one.
pub(crate) struct Failure {
    pub error: ModelError,
    pub retry_after: Option<Duration>,
}

pub(crate) fn classify(error: OpenAIError, url: &str, timeout: Duration) -> Failure {
    let plain = |error| Failure {
        error,
        retry_after: None,
    };
    match error {
        OpenAIError::Boxed(boxed) => match boxed.downcast::<HttpFailure>() {
            Ok(failure) => classify_status(*failure, url),
            Err(other) => plain(ModelError::Permanent {
                detail: other.to_string(),
            }),
        },
        OpenAIError::Reqwest(source) => plain(classify_transport(source, url, timeout)),
        OpenAIError::JSONDeserialize(source, body) => plain(ModelError::Malformed {
            detail: format!(
                "the body is not JSON ({source}): {}",
                first_chars(&body, 300)
            ),
        }),
        OpenAIError::ApiError(api) => classify_status(
            HttpFailure {
                status: api.status_code.as_u16(),
                retry_after: None,
                body: api.api_error.to_string(),
            },
            url,
        ),
        other => plain(ModelError::Permanent {
            detail: format!("the OpenAI client failed: {other}"),
        }),
    }
}

fn classify_transport(source: reqwest::Error, url: &str, timeout: Duration) -> ModelError {
    if source.is_connect() {
        return ModelError::Unreachable {
            url: url.to_owned(),
            source: Box::new(source),
        };
    }
    let detail = if source.is_timeout() {
        format!(
            "no complete answer within {}s; raise the request timeout if the model is slow",
            timeout.as_secs_f64()
        )
    } else {
        format!("the connection failed midway: {source}")
    };
    ModelError::Transient {
        url: url.to_owned(),
        detail,
        source: Some(Box::new(source)),
    }
}

fn classify_status(failure: HttpFailure, url: &str) -> Failure {
    let HttpFailure {
        status,
        retry_after,
        body,
    } = failure;
    let error = match status {
        429 if body.contains("insufficient_quota") => ModelError::Permanent {
            detail: format!(
                "HTTP 429 insufficient_quota from {url}: {body}; add credit or use another API key"
            ),
        },
        429 => ModelError::RateLimited {
            url: url.to_owned(),
            retry_after,
            body,
        },
        400 | 413 if mentions_context_length(&body) => ModelError::ContextLength { detail: body },
        408 | 500..=599 => ModelError::Transient {
            url: url.to_owned(),
            detail: format!("HTTP {status}: {body}"),
            source: None,
        },
        _ => ModelError::Http { status, body },
    };
    Failure { error, retry_after }
}

/// The server's error when it failed to parse the tool call the model generated
/// (llama.cpp: HTTP 500 "Failed to parse tool call arguments as JSON"): the model's output,
/// not the server, is at fault, and the same request gets the same output.
pub(crate) fn unparsable_tool_call(error: &ModelError) -> Option<String> {
    let text = match error {
        ModelError::Transient { detail, .. } => detail,
        ModelError::Http { body, .. } => body,
        _ => return None,
    };
    let lower = text.to_lowercase();
    (lower.contains("parse tool call") || lower.contains("tool call arguments"))
        .then(|| text.clone())
}

/// The phrasings OpenAI, vLLM and llama.cpp use for an over-long prompt.
pub(crate) fn mentions_context_length(text: &str) -> bool {
    let lower = text.to_lowercase();
    [
        "context_length_exceeded",
        "maximum context length",
        "exceeds the available context size",
        "context window",
    ]
    .iter()
    .any(|phrase| lower.contains(phrase))
}

fn first_chars(text: &str, limit: usize) -> String {
    let mut shown: String = text.chars().take(limit).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, body: &str) -> ModelError {
        classify_status(
            HttpFailure {
                status,
                retry_after: Some(Duration::from_secs(1)),
                body: body.into(),
            },
            "http://h/v1/chat/completions",
        )
        .error
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert!(matches!(
            status(429, "slow down"),
            ModelError::RateLimited {
                retry_after: Some(_),
                ..
            }
        ));
        assert!(matches!(
            status(429, r#"{"error":{"type":"insufficient_quota"}}"#),
            ModelError::Permanent { .. }
        ));
        assert!(matches!(
            status(400, r#"{"error":{"code":"context_length_exceeded"}}"#),
            ModelError::ContextLength { .. }
        ));
        assert!(matches!(
            status(400, "bad request"),
            ModelError::Http { status: 400, .. }
        ));
        assert!(matches!(status(503, ""), ModelError::Transient { .. }));
        assert!(matches!(
            status(404, "no"),
            ModelError::Http { status: 404, .. }
        ));
    }
}
