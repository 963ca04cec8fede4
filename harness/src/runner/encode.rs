//! The thread state as JSON for checkpoints, kept up to date step by step.
//!
//! Serialising the whole state at every checkpoint would cost time proportional to the
//! session's conversation, which grows every step. The conversation only grows within a
//! session, so its messages are encoded once and kept; each checkpoint encodes the small
//! rest of the state and the messages added since the last one. The kept messages are
//! trusted only while the session number matches, the conversation has not shrunk and the
//! last kept message still encodes the same; otherwise they are encoded again.

use serde_json::Value;

use crate::state::ThreadState;

/// Encoded conversation messages carried from one checkpoint to the next.
#[derive(Debug, Default)]
pub(super) struct StateEncoder {
    /// The session `messages` belong to.
    session: u32,
    messages: Vec<Value>,
}

impl StateEncoder {
    /// Hands `use_value` the state as JSON, equal to `serde_json::to_value(state)`.
    pub fn with_value<R>(
        &mut self,
        state: &mut ThreadState,
        use_value: impl FnOnce(&Value) -> R,
    ) -> Result<R, serde_json::Error> {
        // The rest of the state is encoded without the conversation, which is put back at
        // once whatever happens.
        let conversation = std::mem::take(&mut state.conversation);
        let rest = serde_json::to_value(&*state);
        state.conversation = conversation;
        let mut value = rest?;
        self.catch_up(state)?;
        let Some(slot) = value.get_mut("conversation") else {
            return Ok(use_value(&value));
        };
        *slot = Value::Array(std::mem::take(&mut self.messages));
        let result = use_value(&value);
        if let Some(Value::Array(messages)) = value.get_mut("conversation").map(Value::take) {
            self.messages = messages;
        }
        Ok(result)
    }

    /// Encodes the messages added since the last call (all of them when the kept ones no
    /// longer describe the conversation's start).
    fn catch_up(&mut self, state: &ThreadState) -> Result<(), serde_json::Error> {
        let conversation = &state.conversation;
        let kept = self.messages.len();
        let still_valid = self.session == state.session
            && conversation.len() >= kept
            && match kept.checked_sub(1) {
                None => true,
                Some(last) => serde_json::to_value(&conversation[last])? == self.messages[last],
            };
        if !still_valid {
            self.messages.clear();
            self.session = state.session;
        }
        for message in &conversation[self.messages.len()..] {
            self.messages.push(serde_json::to_value(message)?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use baton_model::ChatMessage;

    use super::*;

    fn encoded(encoder: &mut StateEncoder, state: &mut ThreadState) -> Value {
        encoder.with_value(state, Value::clone).unwrap()
    }

    #[test]
    fn matches_a_whole_encoding_through_growth_new_sessions_and_edits() {
        let mut state = ThreadState::new("t", "two-agent", "start", 5);
        let mut encoder = StateEncoder::default();
        let check = |encoder: &mut StateEncoder, state: &mut ThreadState| {
            assert_eq!(
                encoded(encoder, state),
                serde_json::to_value(&*state).unwrap()
            );
        };
        check(&mut encoder, &mut state);
        state.session = 1;
        for i in 0..5 {
            state
                .conversation
                .push(ChatMessage::user(format!("message {i}")));
            state.step += 1;
            check(&mut encoder, &mut state);
        }
        // A new session that already has more messages than the old one had.
        state.session = 2;
        state.conversation = (0..7)
            .map(|i| ChatMessage::user(format!("other {i}")))
            .collect();
        check(&mut encoder, &mut state);
        // The last message edited in place.
        state.conversation[6] = ChatMessage::user("edited");
        check(&mut encoder, &mut state);
        // Shrunk (a rewind or fork that set the conversation).
        state.conversation.truncate(2);
        check(&mut encoder, &mut state);
        assert_eq!(
            state.conversation.len(),
            2,
            "the conversation was not put back"
        );
    }
}
