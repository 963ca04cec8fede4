//! The token and cost ledger of a thread: per session and in total, with cost only
//! where a price is known ("tokens only" otherwise).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::Usage;

/// Prices in a currency unit (USD by convention) per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

impl Prices {
    pub fn cost(&self, usage: &Usage) -> f64 {
        (usage.prompt_tokens as f64 * self.input_per_mtok
            + usage.completion_tokens as f64 * self.output_per_mtok)
            / 1_000_000.0
    }
}

/// Totals over some model calls.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub calls: u32,
    /// Calls whose usage baton estimated because the server reported none.
    #[serde(default)]
    pub estimated_calls: u32,
    /// `None` as soon as one call had no known price: a partial sum would mislead.
    pub cost: Option<f64>,
    /// Time spent waiting for the model, retries included.
    pub latency_ms: u64,
}

impl LedgerEntry {
    fn add(&mut self, usage: &Usage, latency_ms: u64, prices: Option<&Prices>) {
        self.cost = match (self.calls, self.cost, prices) {
            (0, _, Some(prices)) => Some(prices.cost(usage)),
            (_, Some(so_far), Some(prices)) => Some(so_far + prices.cost(usage)),
            _ => None,
        };
        self.prompt_tokens += usage.prompt_tokens;
        self.completion_tokens += usage.completion_tokens;
        self.calls += 1;
        self.estimated_calls += u32::from(usage.estimated);
        self.latency_ms += latency_ms;
    }

    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// Per-session entries (keyed by the 1-based session number) and the thread's totals.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Ledger {
    sessions: BTreeMap<u32, LedgerEntry>,
    total: LedgerEntry,
}

impl Ledger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sessions that made at least one model call, in session order.
    pub fn sessions(&self) -> impl Iterator<Item = (u32, &LedgerEntry)> {
        self.sessions
            .iter()
            .map(|(session, entry)| (*session, entry))
    }

    pub fn session(&self, session: u32) -> Option<&LedgerEntry> {
        self.sessions.get(&session)
    }

    pub fn total(&self) -> &LedgerEntry {
        &self.total
    }

    pub fn total_tokens(&self) -> u64 {
        self.total.total_tokens()
    }

    /// `None` when some call had no known price ("tokens only").
    pub fn total_cost(&self) -> Option<f64> {
        self.total.cost
    }

    /// Adds one model call to `session` and to the totals.
    pub fn record(
        &mut self,
        session: u32,
        usage: &Usage,
        latency_ms: u64,
        prices: Option<&Prices>,
    ) {
        self.sessions
            .entry(session)
            .or_default()
            .add(usage, latency_ms, prices);
        self.total.add(usage, latency_ms, prices);
    }

    /// A table for the CLI: one line per session and a total line.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{:<9} {:>6} {:>12} {:>12} {:>12} {:>10}\n",
            "session", "calls", "tokens in", "tokens out", "cost", "model time"
        );
        let rows = self
            .sessions
            .iter()
            .map(|(session, entry)| (session.to_string(), entry))
            .chain(std::iter::once(("total".to_owned(), &self.total)));
        for (label, entry) in rows {
            let estimated = if entry.estimated_calls > 0 {
                " (≈)"
            } else {
                ""
            };
            // Writing to a String cannot fail.
            let _ = writeln!(
                out,
                "{label:<9} {:>6} {:>12} {:>12} {:>12} {:>9.1}s{estimated}",
                entry.calls,
                entry.prompt_tokens,
                entry.completion_tokens,
                entry
                    .cost
                    .map_or_else(|| "tokens only".to_owned(), |c| format!("${c:.4}")),
                entry.latency_ms as f64 / 1000.0,
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(prompt: u64, completion: u64) -> Usage {
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            estimated: false,
        }
    }

    #[test]
    fn priced_calls_sum_cost_per_session_and_total() {
        let prices = Prices {
            input_per_mtok: 2.0,
            output_per_mtok: 8.0,
        };
        let mut ledger = Ledger::new();
        ledger.record(1, &usage(1_000_000, 500_000), 1_200, Some(&prices));
        ledger.record(1, &usage(250_000, 0), 300, Some(&prices));
        ledger.record(2, &usage(0, 125_000), 50, Some(&prices));
        let first = *ledger.session(1).unwrap();
        assert_eq!(first.calls, 2);
        assert_eq!(first.prompt_tokens, 1_250_000);
        assert_eq!(first.completion_tokens, 500_000);
        assert_eq!(first.latency_ms, 1_500);
        assert!((first.cost.unwrap() - (2.0 + 4.0 + 0.5)).abs() < 1e-9);
        assert!((ledger.session(2).unwrap().cost.unwrap() - 1.0).abs() < 1e-9);
        assert!((ledger.total_cost().unwrap() - 7.5).abs() < 1e-9);
        assert_eq!(ledger.total_tokens(), 1_875_000);
    }

    #[test]
    fn unknown_price_means_tokens_only() {
        let prices = Prices {
            input_per_mtok: 1.0,
            output_per_mtok: 1.0,
        };
        let mut ledger = Ledger::new();
        ledger.record(1, &usage(10, 20), 5, None);
        ledger.record(2, &usage(10, 20), 5, Some(&prices));
        ledger.record(
            2,
            &Usage {
                estimated: true,
                ..usage(1, 1)
            },
            5,
            Some(&prices),
        );
        assert_eq!(ledger.session(1).unwrap().cost, None);
        assert!(ledger.session(2).unwrap().cost.is_some());
        assert_eq!(
            ledger.total_cost(),
            None,
            "one unpriced call voids the total"
        );
        assert_eq!(ledger.total().estimated_calls, 1);
        let summary = ledger.summary();
        assert!(summary.contains("tokens only"), "{summary}");
        assert!(
            summary.lines().last().unwrap().starts_with("total"),
            "{summary}"
        );
        assert_eq!(summary.lines().count(), 4);
        assert_eq!(
            ledger.sessions().map(|(n, _)| n).collect::<Vec<_>>(),
            [1, 2]
        );
    }

    #[test]
    fn ledger_round_trips_through_json() {
        let mut ledger = Ledger::new();
        ledger.record(3, &usage(7, 9), 11, None);
        let text = serde_json::to_string(&ledger).unwrap();
        let back: Ledger = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ledger);
    }
}
