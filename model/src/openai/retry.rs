//! When to try a model call again and how long to wait: the retry policy, exponential
//! backoff with jitter, and the server's `Retry-After` (seconds or HTTP date).

use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

/// How many times to try a call and how long to wait in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Requests in total, the first one included (1 = no retry).
    pub max_attempts: u32,
    /// Wait before the second attempt when the server names none; doubles each time.
    pub base_delay: Duration,
    /// Upper bound of any wait, the server's `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based). A server-named wait is
    /// honoured as is (capped); otherwise the exponential wait gets "equal jitter"
    /// (between half and all of it) so that parallel threads do not retry in lockstep.
    pub fn delay(&self, attempt: u32, server_asked: Option<Duration>) -> Duration {
        if let Some(asked) = server_asked {
            return asked.min(self.max_delay);
        }
        let exponent = attempt.saturating_sub(1).min(20);
        let full = self
            .base_delay
            .saturating_mul(2_u32.saturating_pow(exponent))
            .min(self.max_delay);
        let factor: f64 = rand::rng().random_range(0.5..=1.0);
        full.mul_f64(factor)
    }
}

/// The wait a server asked for: `retry-after-ms` (OpenAI), else `Retry-After` as
/// seconds (integer or decimal) or as an HTTP date. Unparseable values are ignored.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return seconds(ms / 1000.0);
    }
    parse_retry_after(text("retry-after")?, now)
}

pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return seconds(secs);
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let when = SystemTime::from(date.with_timezone(&chrono::Utc));
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

fn seconds(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for _ in 0..50 {
            let first = policy.delay(1, None);
            assert!((50..=100).contains(&first.as_millis()), "{first:?}");
            let third = policy.delay(3, None);
            assert!((200..=400).contains(&third.as_millis()), "{third:?}");
            let late = policy.delay(30, None);
            assert!(late <= Duration::from_secs(1));
        }
    }

    #[test]
    fn server_wait_is_honoured_but_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_mins(10))),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470);
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after("0.5", now),
            Some(Duration::from_millis(500))
        );
        // 2015-10-21T07:28:00Z is 1_445_412_480: ten seconds after `now`.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn retry_after_ms_header_wins() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after-ms", "250".parse().unwrap());
        headers.insert("retry-after", "9".parse().unwrap());
        assert_eq!(
            retry_after(&headers, SystemTime::now()),
            Some(Duration::from_millis(250))
        );
    }
}
