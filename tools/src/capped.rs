//! Bounded capture of long output: the head and the tail are kept, the middle is
//! counted and replaced by a marker, so the model sees how a command started and how
//! it ended without a chatty command filling memory or the context window.

use std::collections::VecDeque;

/// Collects a byte stream keeping at most `keep` bytes at each end.
#[derive(Debug)]
pub(crate) struct HeadTail {
    keep: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    /// Characters (UTF-8 sequence starts) pushed out of the tail.
    dropped_chars: usize,
}

impl HeadTail {
    /// Keeps enough bytes at each end to render `max_chars` characters of any UTF-8.
    pub(crate) fn for_chars(max_chars: usize) -> Self {
        let keep = max_chars.saturating_mul(4).max(4);
        Self {
            keep,
            head: Vec::new(),
            tail: VecDeque::new(),
            dropped_chars: 0,
        }
    }

    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        if self.head.len() < self.keep {
            let take = bytes.len().min(self.keep - self.head.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        self.tail.extend(bytes);
        let excess = self.tail.len().saturating_sub(self.keep);
        self.dropped_chars += self
            .tail
            .drain(..excess)
            .filter(|b| !is_continuation(*b))
            .count();
    }

    /// Renders at most `max_chars` characters (plus the marker), decoding lossily.
    pub(crate) fn render(&self, max_chars: usize) -> String {
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        if self.dropped_chars == 0 {
            let mut all = self.head.clone();
            all.extend_from_slice(&tail);
            return cap_middle(&String::from_utf8_lossy(&all), max_chars);
        }
        let head = String::from_utf8_lossy(&self.head);
        let tail = String::from_utf8_lossy(&tail);
        join_with_marker(&head, self.dropped_chars, &tail, max_chars)
    }
}

/// Shortens `text` to `max_chars` characters by cutting out its middle.
pub(crate) fn cap_middle(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    join_with_marker(text, 0, "", max_chars)
}

/// Joins `head`, `omitted` unseen characters and `tail`, keeping `max_chars` in all:
/// half from the start of `head`, the rest from the end of `tail` (or of `head` when
/// there is no tail).
fn join_with_marker(head: &str, omitted: usize, tail: &str, max_chars: usize) -> String {
    let head_chars = head.chars().count();
    let tail_chars = tail.chars().count();
    let keep_head = (max_chars / 2).min(head_chars);
    let keep_tail = (max_chars - keep_head).min(head_chars + tail_chars - keep_head);
    let whole: String;
    let (source, source_chars) = if tail.is_empty() {
        (head, head_chars)
    } else if keep_tail <= tail_chars {
        (tail, tail_chars)
    } else {
        whole = format!("{head}{tail}");
        (whole.as_str(), head_chars + tail_chars)
    };
    let kept_start: String = head.chars().take(keep_head).collect();
    let kept_end: String = source.chars().skip(source_chars - keep_tail).collect();
    let total = head_chars + omitted + tail_chars;
    let cut = total - keep_head - keep_tail;
    format!("{kept_start}\n[… {cut} chars omitted …]\n{kept_end}")
}

fn is_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched() {
        assert_eq!(cap_middle("hello", 5), "hello");
    }

    #[test]
    fn long_text_keeps_head_and_tail_and_counts_the_cut() {
        let text: String = (0..100)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let capped = cap_middle(&text, 10);
        assert!(capped.starts_with("abcde\n"), "{capped}");
        assert!(capped.ends_with(&format!("\n{}", &text[95..])), "{capped}");
        assert!(capped.contains("[… 90 chars omitted …]"), "{capped}");
    }

    #[test]
    fn head_tail_counts_multibyte_characters_it_drops() {
        let mut capture = HeadTail::for_chars(4);
        let text = "é".repeat(1000);
        for chunk in text.as_bytes().chunks(7) {
            capture.push(chunk);
        }
        let rendered = capture.render(4);
        assert!(rendered.starts_with("éé\n"), "{rendered}");
        assert!(rendered.ends_with("\néé"), "{rendered}");
        assert!(rendered.contains("[… 996 chars omitted …]"), "{rendered}");
    }

    #[test]
    fn head_tail_without_overflow_is_the_whole_stream() {
        let mut capture = HeadTail::for_chars(100);
        capture.push(b"one ");
        capture.push(b"two");
        assert_eq!(capture.render(100), "one two");
    }
}
