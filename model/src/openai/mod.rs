//! `OpenAiModel`: the `Model` for any OpenAI-compatible chat-completions server
//! (OpenAI, Ollama, vLLM, llama.cpp, LiteLLM, the scripted server), built on
//! async-openai's bring-your-own-types calls with baton's own retries.

mod classify;
mod lenient;
mod retry;
mod text_calls;
mod transport;
mod wire;

use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use serde_json::Value;

pub use retry::RetryPolicy;

use crate::{Model, ModelError, ModelRequest, ModelResponse, Role};

/// Where the model is and how to talk to it.
#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    /// Up to and including `/v1`, e.g. `https://api.openai.com/v1` or
    /// `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// `None` sends no key (local servers rarely want one).
    pub api_key: Option<String>,
    pub model: String,
    /// Limit on one HTTP request, response body included.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl OpenAiSettings {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            model: model.into(),
            request_timeout: Duration::from_mins(10),
            retry: RetryPolicy::default(),
        }
    }
}

/// A chat model behind an OpenAI-compatible HTTP API.
pub struct OpenAiModel {
    client: Client<OpenAIConfig>,
    settings: OpenAiSettings,
    completions_url: String,
}

impl std::fmt::Debug for OpenAiModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiModel")
            .field("model", &self.settings.model)
            .field("url", &self.completions_url)
            .finish_non_exhaustive()
    }
}

impl OpenAiModel {
    pub fn new(settings: OpenAiSettings) -> Result<Self, ModelError> {
        let base_url = settings.base_url.trim_end_matches('/').to_owned();
        check_settings(&base_url, &settings)?;
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(settings.request_timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|source| ModelError::Settings {
                detail: format!("cannot build the HTTP client: {source}"),
            })?;
        let config = OpenAIConfig::new()
            .with_api_base(base_url.clone())
            .with_api_key(settings.api_key.clone().unwrap_or_default());
        let client = Client::with_config(config)
            .with_http_client(http.clone())
            .with_http_service(transport::Transport::new(http));
        Ok(Self {
            client,
            completions_url: format!("{base_url}/chat/completions"),
            settings: OpenAiSettings {
                base_url,
                ..settings
            },
        })
    }

    pub fn settings(&self) -> &OpenAiSettings {
        &self.settings
    }

    /// The URL every completion is posted to.
    pub fn completions_url(&self) -> &str {
        &self.completions_url
    }
}

fn check_settings(base_url: &str, settings: &OpenAiSettings) -> Result<(), ModelError> {
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(ModelError::Settings {
            detail: format!(
                "base URL {base_url:?} must start with http:// or https:// (e.g. http://127.0.0.1:11434/v1); set OPENAI_BASE_URL"
            ),
        });
    }
    if settings.model.trim().is_empty() {
        return Err(ModelError::Settings {
            detail: "the model name is empty; name the model the server serves".into(),
        });
    }
    // async-openai turns the key into a header and panics on characters a header cannot hold.
    if let Some(key) = &settings.api_key
        && key.chars().any(|c| c.is_control() || !c.is_ascii())
    {
        return Err(ModelError::Settings {
            detail: "the API key holds control or non-ASCII characters (a stray newline?); fix OPENAI_API_KEY".into(),
        });
    }
    if settings.retry.max_attempts == 0 {
        return Err(ModelError::Settings {
            detail: "retry.max_attempts is 0; it counts the first request, so use at least 1"
                .into(),
        });
    }
    Ok(())
}

#[async_trait::async_trait]
impl Model for OpenAiModel {
    fn name(&self) -> &str {
        &self.settings.model
    }

    #[tracing::instrument(skip_all, fields(model = %self.settings.model))]
    async fn complete(&self, req: &ModelRequest<'_>) -> Result<ModelResponse, ModelError> {
        let started = Instant::now();
        let body = wire::request_body(&self.settings.model, req);
        let turn = req
            .messages
            .iter()
            .filter(|m| m.role == Role::Assistant)
            .count();
        let policy = self.settings.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.client.chat().create_byot::<_, Value>(&body).await {
                Ok(json) => {
                    let parsed = wire::parse_response(&json, req, turn)?;
                    return Ok(ModelResponse {
                        message: parsed.message,
                        finish_reason: parsed.finish_reason,
                        usage: parsed.usage,
                        latency_ms: u64::try_from(started.elapsed().as_millis())
                            .unwrap_or(u64::MAX),
                        attempts: attempt,
                        model: parsed.model.unwrap_or_else(|| self.settings.model.clone()),
                        notes: parsed.notes,
                        unreadable_call: parsed.unreadable_call,
                    });
                }
                Err(error) => {
                    classify::classify(error, &self.completions_url, self.settings.request_timeout)
                }
            };
            if let Some(detail) = classify::unparsable_tool_call(&failure.error) {
                // The model's own output was broken: asking again gets the same, telling it may not.
                return Ok(server_rejected_tool_call(
                    req,
                    &detail,
                    started.elapsed(),
                    attempt,
                    &self.settings.model,
                ));
            }
            if !failure.error.retryable() || attempt >= policy.max_attempts {
                return Err(failure.error);
            }
            let wait = policy.delay(attempt, failure.retry_after);
            tracing::warn!(attempt, wait_ms = wait.as_millis(), error = %failure.error, "model call failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

/// Told to the model when the server could not read the tool call it generated.
const SERVER_REJECTED_CALL: &str = "baton: the server could not read the tool call you wrote \
(its arguments were not valid JSON, or the answer was cut off at the output token limit), so nothing was run. \
Send the call again with complete, valid JSON arguments, and keep each call small: write big files in parts \
(write_file, then edit_file), and never repeat the same item over and over.";

/// The answer recorded when a server (llama.cpp among them) fails a request because the
/// model's tool call does not parse: an empty answer carrying the error for the model, so
/// the session goes on instead of the thread failing on a retry that gets the same output.
/// The server reported no usage: it is estimated.
fn server_rejected_tool_call(
    req: &ModelRequest<'_>,
    detail: &str,
    elapsed: Duration,
    attempts: u32,
    model: &str,
) -> ModelResponse {
    let shown: String = detail.chars().take(300).collect();
    ModelResponse {
        message: crate::ChatMessage::assistant(""),
        finish_reason: Some("error".to_owned()),
        usage: crate::Usage {
            prompt_tokens: crate::estimate_tokens(&req.messages) as u64,
            completion_tokens: 0,
            estimated: true,
        },
        latency_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        attempts,
        model: model.to_owned(),
        notes: vec![format!(
            "the server could not parse the model's tool call: {shown}"
        )],
        unreadable_call: Some(SERVER_REJECTED_CALL.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let bad = OpenAiModel::new(OpenAiSettings::new("localhost:8080", "m")).unwrap_err();
        assert!(bad.to_string().contains("OPENAI_BASE_URL"), "{bad}");
        let mut key = OpenAiSettings::new("http://h/v1", "m");
        key.api_key = Some("sk-abc\n".into());
        assert!(matches!(
            OpenAiModel::new(key).unwrap_err(),
            ModelError::Settings { .. }
        ));
        let ok = OpenAiModel::new(OpenAiSettings::new("http://h/v1/", "m")).unwrap();
        assert_eq!(ok.completions_url(), "http://h/v1/chat/completions");
    }
}
