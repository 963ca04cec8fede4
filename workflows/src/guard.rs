//! Guards: the conditions on workflow edges, and the thread facts they are judged on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::WorkflowError;

/// What the harness knows about a thread when it picks the next node.
///
/// Guards read only these numbers, so a transition can be replayed from the tape
/// without re-running anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadFacts {
    /// Whether `feature_list.json` exists and parses.
    pub feature_list_present: bool,
    /// Number of features in the list (0 when the list is missing).
    pub features_total: usize,
    /// Number of features whose `passes` is true.
    pub features_passing: usize,
    /// Sessions already run on this thread.
    pub sessions_run: u32,
    /// The thread's session budget.
    pub max_sessions: u32,
}

/// A named condition on [`ThreadFacts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Guard {
    /// Always holds.
    Always,
    /// No feature list yet: the initializer has not (successfully) run.
    FeatureListMissing,
    /// A feature list exists and some feature does not pass. An empty list counts as
    /// failing: it has not been written properly yet.
    FeaturesFailing,
    /// A non-empty feature list exists and every feature passes.
    AllFeaturesPass,
    /// The thread has run fewer sessions than its budget allows.
    SessionsLeft,
}

impl Guard {
    /// Every guard, in the order error messages list them.
    pub const ALL: [Guard; 5] = [
        Guard::Always,
        Guard::FeatureListMissing,
        Guard::FeaturesFailing,
        Guard::AllFeaturesPass,
        Guard::SessionsLeft,
    ];

    /// The snake_case name used in TOML files and renderings.
    pub fn name(self) -> &'static str {
        match self {
            Guard::Always => "always",
            Guard::FeatureListMissing => "feature_list_missing",
            Guard::FeaturesFailing => "features_failing",
            Guard::AllFeaturesPass => "all_features_pass",
            Guard::SessionsLeft => "sessions_left",
        }
    }

    /// The guard with this snake_case name, if any.
    pub fn from_name(name: &str) -> Option<Guard> {
        Guard::ALL.into_iter().find(|guard| guard.name() == name)
    }

    /// The known guard names joined for error messages.
    pub(crate) fn known_names() -> String {
        Guard::ALL.map(Guard::name).join(", ")
    }

    /// Whether the guard holds on `facts`.
    pub fn holds(self, facts: &ThreadFacts) -> bool {
        match self {
            Guard::Always => true,
            Guard::FeatureListMissing => !facts.feature_list_present,
            Guard::FeaturesFailing => {
                facts.feature_list_present
                    && (facts.features_total == 0 || facts.features_passing < facts.features_total)
            }
            Guard::AllFeaturesPass => {
                facts.feature_list_present
                    && facts.features_total > 0
                    && facts.features_passing == facts.features_total
            }
            Guard::SessionsLeft => facts.sessions_run < facts.max_sessions,
        }
    }
}

impl fmt::Display for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Guard {
    type Err = WorkflowError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Guard::from_name(s).ok_or_else(|| WorkflowError::GuardName { name: s.to_owned() })
    }
}

/// One term of an edge's condition: a guard, possibly negated (`!sessions_left`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GuardTerm {
    /// The guard tested.
    pub guard: Guard,
    /// Whether the term holds when the guard does *not*.
    pub negated: bool,
}

impl GuardTerm {
    /// Whether the term holds on `facts`.
    pub fn holds(self, facts: &ThreadFacts) -> bool {
        self.guard.holds(facts) != self.negated
    }
}

impl From<Guard> for GuardTerm {
    fn from(guard: Guard) -> Self {
        GuardTerm {
            guard,
            negated: false,
        }
    }
}

impl fmt::Display for GuardTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("!")?;
        }
        f.write_str(self.guard.name())
    }
}

impl FromStr for GuardTerm {
    type Err = WorkflowError;

    /// Parses `name` or `!name`; surrounding whitespace is ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let (negated, name) = match trimmed.strip_prefix('!') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, trimmed),
        };
        let guard = Guard::from_name(name)
            .ok_or_else(|| WorkflowError::GuardName { name: s.to_owned() })?;
        Ok(GuardTerm { guard, negated })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(present: bool, total: usize, passing: usize, run: u32, max: u32) -> ThreadFacts {
        ThreadFacts {
            feature_list_present: present,
            features_total: total,
            features_passing: passing,
            sessions_run: run,
            max_sessions: max,
        }
    }

    #[test]
    fn guard_table() {
        // (facts, missing, failing, all_pass, sessions_left)
        let table = [
            (facts(false, 0, 0, 0, 5), true, false, false, true),
            (facts(true, 0, 0, 1, 5), false, true, false, true),
            (facts(true, 3, 0, 1, 5), false, true, false, true),
            (facts(true, 3, 2, 4, 5), false, true, false, true),
            (facts(true, 3, 3, 5, 5), false, false, true, false),
            (facts(true, 1, 1, 9, 5), false, false, true, false),
            (facts(false, 0, 0, 0, 0), true, false, false, false),
        ];
        for (row, (f, missing, failing, all_pass, left)) in table.into_iter().enumerate() {
            assert!(Guard::Always.holds(&f), "row {row}");
            assert_eq!(
                Guard::FeatureListMissing.holds(&f),
                missing,
                "row {row}: missing"
            );
            assert_eq!(
                Guard::FeaturesFailing.holds(&f),
                failing,
                "row {row}: failing"
            );
            assert_eq!(
                Guard::AllFeaturesPass.holds(&f),
                all_pass,
                "row {row}: all pass"
            );
            assert_eq!(
                Guard::SessionsLeft.holds(&f),
                left,
                "row {row}: sessions left"
            );
        }
    }

    #[test]
    fn negation_flips_the_guard() {
        let spent = facts(true, 2, 1, 5, 5);
        let term: GuardTerm = "!sessions_left".parse().unwrap();
        assert_eq!(
            term,
            GuardTerm {
                guard: Guard::SessionsLeft,
                negated: true
            }
        );
        assert!(term.holds(&spent));
        assert!(!GuardTerm::from(Guard::SessionsLeft).holds(&spent));
        assert!(!"!always".parse::<GuardTerm>().unwrap().holds(&spent));
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for guard in Guard::ALL {
            assert_eq!(guard.to_string().parse::<Guard>().unwrap(), guard);
            let negated = GuardTerm {
                guard,
                negated: true,
            };
            assert_eq!(negated.to_string().parse::<GuardTerm>().unwrap(), negated);
        }
        let err = "feature_failing"
            .parse::<GuardTerm>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown guard \"feature_failing\""), "{err}");
        assert!(err.contains("features_failing"), "{err}");
        assert!("!!always".parse::<GuardTerm>().is_err());
        assert!("".parse::<GuardTerm>().is_err());
    }
}
