//! The context budget: a cheap token estimate and `fit_to_context`, which shortens the
//! oldest tool outputs of a request until it fits. Pure: the harness keeps the full
//! conversation and applies this to each request it sends.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::{ChatMessage, Role};

/// Tokens every message costs beyond its text (role, separators).
const MESSAGE_OVERHEAD_TOKENS: usize = 4;
/// Characters of a shortened tool output that are always kept (head plus tail).
const MIN_KEPT_CHARS: usize = 240;
/// Room the marker line takes, so shortening never grows a message.
const MARKER_CHARS: usize = 90;

/// ≈ tokens of one message: bytes of text / 4, rounded up, plus a fixed overhead.
pub fn estimate_message_tokens(message: &ChatMessage) -> usize {
    message.text_len().div_ceil(4) + MESSAGE_OVERHEAD_TOKENS
}

/// ≈ tokens of a conversation (bytes of text / 4 plus a per-message overhead). Good to a
/// few tens of percent for English and code; meant for budgets, not billing.
pub fn estimate_tokens(messages: &[ChatMessage]) -> usize {
    messages.iter().map(estimate_message_tokens).sum()
}

/// What `fit_to_context` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FitReport {
    /// Tool outputs shortened.
    pub shortened: usize,
    /// Characters taken out of them.
    pub chars_removed: usize,
    pub before_tokens: usize,
    pub after_tokens: usize,
    /// False when even shortening every eligible tool output was not enough.
    pub fits: bool,
}

/// Returns `messages` shortened to fit `limit_tokens` (by [`estimate_tokens`]), borrowed
/// as they are when they fit already (the usual case: no copy of the conversation).
///
/// Only tool outputs are shortened, the oldest first, each only as much as still needed
/// (never below a head and tail of [`MIN_KEPT_CHARS`] together), with a marker saying
/// how much went. System messages, the first user message (the task) and the last two
/// messages (what the model must answer now) are never touched.
pub fn fit_to_context(
    messages: &[ChatMessage],
    limit_tokens: usize,
) -> (Cow<'_, [ChatMessage]>, FitReport) {
    let mut out = Cow::Borrowed(messages);
    let before_tokens = estimate_tokens(messages);
    let mut tokens = before_tokens;
    let mut report = FitReport {
        before_tokens,
        ..FitReport::default()
    };
    let protected_first_user = messages.iter().position(|m| m.role == Role::User);
    let protected_tail = messages.len().saturating_sub(2);
    for (index, message) in messages.iter().enumerate() {
        if tokens <= limit_tokens {
            break;
        }
        let eligible = message.role == Role::Tool
            && Some(index) != protected_first_user
            && index < protected_tail;
        let Some(text) = message.content.as_deref().filter(|_| eligible) else {
            continue;
        };
        let excess_chars = (tokens - limit_tokens) * 4;
        let length = text.chars().count();
        let keep = length
            .saturating_sub(excess_chars + MARKER_CHARS)
            .max(MIN_KEPT_CHARS);
        if keep + MARKER_CHARS >= length {
            continue;
        }
        let before = estimate_message_tokens(message);
        let shortened = shorten(text, length, keep);
        report.chars_removed += length - keep;
        report.shortened += 1;
        let message = &mut out.to_mut()[index];
        message.content = Some(shortened);
        tokens = tokens - before + estimate_message_tokens(message);
    }
    report.after_tokens = tokens;
    report.fits = tokens <= limit_tokens;
    (out, report)
}

/// Keeps the first 3/5 and the last 2/5 of `keep` characters: the head says what ran,
/// the tail holds the result or the error.
fn shorten(text: &str, length: usize, keep: usize) -> String {
    let head_chars = keep * 3 / 5;
    let tail_chars = keep - head_chars;
    let byte_at = |char_index: usize| {
        text.char_indices()
            .nth(char_index)
            .map_or(text.len(), |(byte, _)| byte)
    };
    let head = &text[..byte_at(head_chars)];
    let tail = &text[byte_at(length - tail_chars)..];
    format!(
        "{head}\n[… {} chars of tool output shortened by baton to fit the context …]\n{tail}",
        thousands(length - keep)
    )
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation(outputs: &[usize]) -> Vec<ChatMessage> {
        let mut messages = vec![
            ChatMessage::system("s".repeat(4_000)),
            ChatMessage::user("u".repeat(4_000)),
        ];
        for (i, size) in outputs.iter().enumerate() {
            messages.push(ChatMessage::assistant(format!("step {i}")));
            messages.push(ChatMessage::tool_result(
                format!("c{i}"),
                format!("{i}").repeat(*size),
            ));
        }
        messages
    }

    #[test]
    fn estimate_is_bytes_over_four_plus_overhead() {
        assert_eq!(estimate_tokens(&[ChatMessage::user("abcdefgh")]), 2 + 4);
        assert_eq!(estimate_tokens(&[ChatMessage::user("abcdefghi")]), 3 + 4);
        assert_eq!(estimate_tokens(&[]), 0);
    }

    #[test]
    fn under_the_limit_nothing_changes() {
        let messages = conversation(&[1_000, 1_000]);
        let (out, report) = fit_to_context(&messages, 1_000_000);
        assert_eq!(out, messages);
        assert_eq!(report.shortened, 0);
        assert!(report.fits);
        assert_eq!(report.before_tokens, report.after_tokens);
    }

    #[test]
    fn oldest_tool_output_goes_first_and_only_as_far_as_needed() {
        let messages = conversation(&[20_000, 20_000, 20_000]);
        let before = estimate_tokens(&messages);
        let limit = before - 2_000; // ≈ 8,000 chars must go: the oldest output alone can give them
        let (out, report) = fit_to_context(&messages, limit);
        assert_eq!(report.shortened, 1);
        assert!(report.fits);
        assert!(report.after_tokens <= limit);
        assert_eq!(report.after_tokens, estimate_tokens(&out));
        let first = out[3].content.as_deref().unwrap();
        assert!(
            first.contains("chars of tool output shortened by baton"),
            "{first}"
        );
        assert!(first.starts_with("000") && first.ends_with("000"));
        assert_eq!(out[5], messages[5]);
        assert_eq!(out[7], messages[7]);
    }

    #[test]
    fn protected_messages_are_never_touched() {
        let mut messages = conversation(&[20_000, 20_000]);
        // A tool output among the last two messages must survive even a hopeless limit.
        messages.push(ChatMessage::tool_result("late", "z".repeat(20_000)));
        let (out, report) = fit_to_context(&messages, 10);
        assert!(!report.fits);
        assert_eq!(out[0], messages[0]);
        assert_eq!(out[1], messages[1]);
        let last = out.len() - 1;
        assert_eq!(out[last], messages[last]);
        assert_eq!(out[last - 1], messages[last - 1]);
        assert_eq!(
            report.shortened, 1,
            "only the tool output at index 3 is eligible"
        );
        assert!(out[3].content.as_deref().unwrap().chars().count() < MIN_KEPT_CHARS + 100);
    }

    #[test]
    fn marker_counts_with_thousands_separators_and_multibyte_text_is_safe() {
        let mut messages = conversation(&[]);
        messages.push(ChatMessage::tool_result("c", "é".repeat(30_000)));
        messages.push(ChatMessage::assistant("a"));
        messages.push(ChatMessage::user("b"));
        let (out, report) = fit_to_context(&messages, 2_000);
        assert_eq!(report.shortened, 1);
        let text = out[2].content.as_deref().unwrap();
        assert!(
            text.contains(&format!("[… {} chars", thousands(report.chars_removed))),
            "{text}"
        );
        assert_eq!(thousands(12_345), "12,345");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
