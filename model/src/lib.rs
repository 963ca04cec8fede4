//! baton-model: the `Model` trait and the conversation types, the OpenAI-compatible
//! client (retries, quirk-tolerant parsing), the token/cost ledger, the context budget,
//! and the scripted model server used to test everything over real HTTP.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod budget;
mod error;
mod ledger;
mod openai;
pub mod script;
mod types;

pub use budget::{FitReport, estimate_message_tokens, estimate_tokens, fit_to_context};
pub use error::{BoxedSource, ModelError};
pub use ledger::{Ledger, LedgerEntry, Prices};
pub use openai::{OpenAiModel, OpenAiSettings, RetryPolicy};
pub use types::{
    ChatMessage, Model, ModelRequest, ModelResponse, Role, ToolCall, ToolDefinition, Usage,
};
