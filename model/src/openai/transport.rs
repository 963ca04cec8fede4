//! The HTTP transport under async-openai. Its default transport retries by itself
//! (3 times, its own backoff) and drops the response headers from errors, so
//! `Retry-After` never reaches the caller. Installing this tower service through the
//! `middleware` feature (`Client::with_http_service`) removes its retries (baton owns
//! them) and turns every non-2xx answer into an [`HttpFailure`] that keeps the status,
//! the wait the server asked for and the body.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;

use super::retry::retry_after;

/// A non-2xx answer, carried through async-openai inside `OpenAIError::Boxed`.
#[derive(Debug)]
pub(crate) struct HttpFailure {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

impl std::fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.body)
    }
}

impl std::error::Error for HttpFailure {}

#[derive(Clone, Debug)]
pub(crate) struct Transport {
    client: reqwest::Client,
}

impl Transport {
    pub(crate) fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send + 'static>>;

impl tower::Service<HttpRequestFactory> for Transport {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let client = self.client.clone();
        Box::pin(async move {
            let request = factory.build().await?;
            let response = client.execute(request).await?;
            if response.status().is_success() {
                return Ok(response);
            }
            let status = response.status().as_u16();
            let retry_after = retry_after(response.headers(), SystemTime::now());
            let body = response.text().await?;
            Err(OpenAIError::Boxed(Box::new(HttpFailure {
                status,
                retry_after,
                body,
            })))
        })
    }
}
