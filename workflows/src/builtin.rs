//! Built-in workflows, kept as TOML files under `workflows/builtin/` so users can copy
//! one as the starting point of their own.

use crate::graph::Workflow;

/// Names of the built-in workflows, in the order `baton workflows` lists them.
pub(crate) const BUILTIN_NAMES: &[&str] = &["two-agent"];

const BUILTIN_SOURCES: [(&str, &str); 1] =
    [("two-agent", include_str!("../builtin/two-agent.toml"))];

/// The TOML source of a built-in workflow.
pub(crate) fn source(name: &str) -> Option<&'static str> {
    BUILTIN_SOURCES
        .iter()
        .find(|(builtin, _)| *builtin == name)
        .map(|(_, src)| *src)
}

/// Parses a built-in. Every built-in is parsed in the tests, so `None` here means only
/// "no such name".
pub(crate) fn load(name: &str) -> Option<Workflow> {
    source(name).and_then(|src| Workflow::from_toml_str(src).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_and_is_listed() {
        assert_eq!(BUILTIN_NAMES.len(), BUILTIN_SOURCES.len());
        for name in BUILTIN_NAMES {
            let src = source(name).unwrap();
            let workflow =
                Workflow::from_toml_str(src).unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(workflow.name(), *name);
        }
    }
}
