//! Integrity rules between the feature list before and after a session: the model may only
//! do what the policy allows, so `passes` is earned by the harness, not claimed.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::feature_list::{Feature, FeatureList};

/// What a session may change in the feature list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PassesPolicy {
    /// The model may flip `passes` itself (only before the harness verifies features).
    pub model_may_set_passes: bool,
    /// The model may append new features.
    pub allow_additions: bool,
}

/// Which field of a feature was edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureField {
    /// `description`.
    Description,
    /// `category`.
    Category,
    /// `steps`.
    Steps,
    /// `checks`.
    Checks,
}

impl fmt::Display for FeatureField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Description => "description",
            Self::Category => "category",
            Self::Steps => "steps",
            Self::Checks => "checks",
        })
    }
}

/// One broken rule; its Display text is told to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// A feature present before is gone.
    Removed {
        /// Its id.
        id: String,
    },
    /// A feature with a new id appeared and additions are not allowed.
    Added {
        /// Its id.
        id: String,
    },
    /// A feature's id changed at the same position.
    Renamed {
        /// The id before.
        from: String,
        /// The id after.
        to: String,
    },
    /// The features are all there but in another order.
    Reordered {
        /// The first id found out of place.
        id: String,
        /// Its position before.
        was: usize,
        /// Its position now.
        now: usize,
    },
    /// A field of a feature other than `passes` changed.
    Edited {
        /// The feature's id.
        id: String,
        /// The field that changed.
        field: FeatureField,
    },
    /// `passes` changed although the model may not set it.
    PassesChanged {
        /// The feature's id.
        id: String,
        /// The value before.
        from: bool,
        /// The value after.
        to: bool,
    },
    /// The `app` header (or the file's other top-level fields) changed.
    AppEdited,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Removed { id } => write!(
                f,
                "feature \"{id}\" was removed from feature_list.json; features may never be removed"
            ),
            Self::Added { id } => write!(
                f,
                "feature \"{id}\" was added to feature_list.json; only the initializer session may add features"
            ),
            Self::Renamed { from, to } => write!(
                f,
                "feature \"{from}\" was renamed to \"{to}\"; feature ids may never change"
            ),
            Self::Reordered { id, was, now } => write!(
                f,
                "feature \"{id}\" moved from position {was} to {now}; features may not be reordered"
            ),
            Self::Edited { id, field } => write!(
                f,
                "the {field} of feature \"{id}\" was edited; only the harness may change a feature, and never its {field}"
            ),
            Self::PassesChanged { id, from, to } => write!(
                f,
                "\"passes\" of feature \"{id}\" was changed from {from} to {to}; passes is set by the harness after its browser checks succeed, not by the model"
            ),
            Self::AppEdited => f.write_str(
                "the \"app\" header of feature_list.json was edited; it may not change after the initializer session",
            ),
        }
    }
}

/// Every rule `new` breaks relative to `old` under `policy`.
pub fn check_integrity(
    old: &FeatureList,
    new: &FeatureList,
    policy: PassesPolicy,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    if old.app != new.app || old.extra != new.extra {
        violations.push(Violation::AppEdited);
    }

    let old_ids: HashSet<&str> = old.features.iter().map(|f| f.id.as_str()).collect();
    let new_ids: HashSet<&str> = new.features.iter().map(|f| f.id.as_str()).collect();
    let removed: Vec<&Feature> = old
        .features
        .iter()
        .filter(|f| !new_ids.contains(f.id.as_str()))
        .collect();
    let added: Vec<&Feature> = new
        .features
        .iter()
        .filter(|f| !old_ids.contains(f.id.as_str()))
        .collect();

    // A feature whose id vanished and whose position now holds an unknown id was renamed.
    let mut renamed_from = HashSet::new();
    let mut renamed_to = HashSet::new();
    for (index, before) in old.features.iter().enumerate() {
        if let Some(after) = new.features.get(index)
            && !new_ids.contains(before.id.as_str())
            && !old_ids.contains(after.id.as_str())
        {
            violations.push(Violation::Renamed {
                from: before.id.clone(),
                to: after.id.clone(),
            });
            renamed_from.insert(before.id.as_str());
            renamed_to.insert(after.id.as_str());
        }
    }
    violations.extend(
        removed
            .iter()
            .filter(|f| !renamed_from.contains(f.id.as_str()))
            .map(|f| Violation::Removed { id: f.id.clone() }),
    );
    if !policy.allow_additions {
        violations.extend(
            added
                .iter()
                .filter(|f| !renamed_to.contains(f.id.as_str()))
                .map(|f| Violation::Added { id: f.id.clone() }),
        );
    }

    if let Some(reordered) = first_reordered(old, new, &old_ids, &new_ids) {
        violations.push(reordered);
    }

    let new_by_id: HashMap<&str, &Feature> =
        new.features.iter().map(|f| (f.id.as_str(), f)).collect();
    for before in &old.features {
        let Some(after) = new_by_id.get(before.id.as_str()) else {
            continue;
        };
        violations.extend(edited_fields(before, after).map(|field| Violation::Edited {
            id: before.id.clone(),
            field,
        }));
        if before.passes != after.passes && !policy.model_may_set_passes {
            violations.push(Violation::PassesChanged {
                id: before.id.clone(),
                from: before.passes,
                to: after.passes,
            });
        }
    }
    violations
}

/// Compares the relative order of the ids both lists share; additions may only be appended.
fn first_reordered(
    old: &FeatureList,
    new: &FeatureList,
    old_ids: &HashSet<&str>,
    new_ids: &HashSet<&str>,
) -> Option<Violation> {
    let common_old = old
        .features
        .iter()
        .map(|f| f.id.as_str())
        .filter(|id| new_ids.contains(id));
    let common_new = new
        .features
        .iter()
        .map(|f| f.id.as_str())
        .filter(|id| old_ids.contains(id));
    let moved = common_old
        .zip(common_new)
        .find(|(before, after)| before != after)?;
    let position =
        |list: &FeatureList, id: &str| list.features.iter().position(|f| f.id == id).unwrap_or(0);
    Some(Violation::Reordered {
        id: moved.0.to_owned(),
        was: position(old, moved.0),
        now: position(new, moved.0),
    })
}

fn edited_fields<'a>(
    before: &'a Feature,
    after: &'a Feature,
) -> impl Iterator<Item = FeatureField> + 'a {
    [
        (
            before.description != after.description,
            FeatureField::Description,
        ),
        (before.category != after.category, FeatureField::Category),
        (before.steps != after.steps, FeatureField::Steps),
        (before.checks != after.checks, FeatureField::Checks),
    ]
    .into_iter()
    .filter_map(|(changed, field)| changed.then_some(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCKED: PassesPolicy = PassesPolicy {
        model_may_set_passes: false,
        allow_additions: false,
    };

    fn list() -> FeatureList {
        FeatureList::parse(
            r##"{"app": {"start": "bash init.sh"}, "features": [
            {"id":"a","category":"functional","description":"A","steps":["s"],"checks":[{"click":"#a"}],"passes":false},
            {"id":"b","category":"functional","description":"B","steps":["s"],"passes":false},
            {"id":"c","category":"style","description":"C","steps":["s"],"passes":true}
        ]}"##,
        )
        .unwrap()
    }

    fn violations(edit: impl FnOnce(&mut FeatureList), policy: PassesPolicy) -> Vec<Violation> {
        let old = list();
        let mut new = old.clone();
        edit(&mut new);
        check_integrity(&old, &new, policy)
    }

    #[test]
    fn unchanged_list_has_no_violation() {
        assert!(violations(|_| {}, LOCKED).is_empty());
    }

    #[test]
    fn removal_is_reported_by_id() {
        let found = violations(
            |l| {
                l.features.remove(1);
            },
            LOCKED,
        );
        assert_eq!(found, vec![Violation::Removed { id: "b".into() }]);
        assert!(found[0].to_string().contains("\"b\" was removed"));
    }

    #[test]
    fn addition_depends_on_policy() {
        let add = |l: &mut FeatureList| {
            let mut extra = l.features[0].clone();
            extra.id = "d".into();
            l.features.push(extra);
        };
        assert_eq!(
            violations(add, LOCKED),
            vec![Violation::Added { id: "d".into() }]
        );
        let open = PassesPolicy {
            allow_additions: true,
            ..LOCKED
        };
        assert!(violations(add, open).is_empty());
    }

    #[test]
    fn reorder_is_reported() {
        let found = violations(|l| l.features.swap(0, 2), LOCKED);
        assert_eq!(
            found,
            vec![Violation::Reordered {
                id: "a".into(),
                was: 0,
                now: 2
            }]
        );
        assert!(found[0].to_string().contains("may not be reordered"));
    }

    #[test]
    fn rename_is_reported_once() {
        let found = violations(|l| l.features[1].id = "b2".into(), LOCKED);
        assert_eq!(
            found,
            vec![Violation::Renamed {
                from: "b".into(),
                to: "b2".into()
            }]
        );
        assert!(found[0].to_string().contains("\"b\" was renamed to \"b2\""));
    }

    #[test]
    fn each_field_edit_is_reported() {
        let found = violations(
            |l| {
                l.features[0].description = "changed".into();
                l.features[0].category = "style".into();
                l.features[1].steps.push("more".into());
                l.features[0].checks.clear();
            },
            LOCKED,
        );
        let fields: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(found.len(), 4, "{fields:?}");
        for field in ["description", "category", "checks"] {
            assert!(
                fields
                    .iter()
                    .any(|m| m.contains(&format!("the {field} of feature \"a\""))),
                "{fields:?}"
            );
        }
        assert!(
            fields
                .iter()
                .any(|m| m.contains("the steps of feature \"b\"")),
            "{fields:?}"
        );
    }

    #[test]
    fn passes_change_depends_on_policy() {
        let flip = |l: &mut FeatureList| l.features[0].passes = true;
        let found = violations(flip, LOCKED);
        assert_eq!(
            found,
            vec![Violation::PassesChanged {
                id: "a".into(),
                from: false,
                to: true
            }]
        );
        assert!(found[0].to_string().contains("set by the harness"));
        let open = PassesPolicy {
            model_may_set_passes: true,
            ..LOCKED
        };
        assert!(violations(flip, open).is_empty());
    }

    #[test]
    fn app_header_edit_is_reported() {
        let found = violations(|l| l.app = None, LOCKED);
        assert_eq!(found, vec![Violation::AppEdited]);
    }

    #[test]
    fn extra_fields_on_a_feature_may_change() {
        // Notes the model keeps on a feature are not part of the contract.
        let found = violations(
            |l| {
                l.features[0]
                    .extra
                    .insert("note".into(), "tried twice".into());
            },
            LOCKED,
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn writing_old_back_restores_it() {
        let old = list();
        let mut tampered = old.clone();
        tampered.features.remove(0);
        let restored = FeatureList::parse(&old.to_json_pretty()).unwrap();
        assert!(check_integrity(&old, &restored, LOCKED).is_empty());
        assert!(!check_integrity(&old, &tampered, LOCKED).is_empty());
    }
}
