//! The harness crate's top-level modules form no circle: a module names another through
//! `crate::name` (or `crate::{a, b}`) outside its `#[cfg(test)]` part, and following those
//! names never comes back to where it started. A circle is how a crate stops having layers
//! (docs/ARCHITECTURE.md, "Inside the harness crate"); this test names the modules in one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file of a top-level module: `name.rs`, or everything under `name/`.
fn modules(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            modules.insert(name, rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "main" {
            modules.insert(name, vec![path]);
        }
    }
    modules
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
            files.push(path);
        }
    }
    files
}

/// The modules `source` names through `crate::`.
fn named_modules(source: &str, known: &BTreeMap<String, Vec<PathBuf>>) -> BTreeSet<String> {
    let source = source.split("#[cfg(test)]").next().unwrap_or_default();
    let word = |text: &str| -> String {
        text.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut named = BTreeSet::new();
    for rest in source.split("crate::").skip(1) {
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or_default();
            named.extend(group.split(',').map(|item| word(item.trim())));
        } else {
            named.insert(word(rest));
        }
    }
    named.retain(|name| known.contains_key(name));
    named
}

#[test]
fn the_harness_modules_form_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    let graph: BTreeMap<&str, BTreeSet<String>> = modules
        .iter()
        .map(|(name, files)| {
            let mut named = BTreeSet::new();
            for file in files {
                named.extend(named_modules(
                    &std::fs::read_to_string(file).unwrap(),
                    &modules,
                ));
            }
            named.remove(name);
            (name.as_str(), named)
        })
        .collect();
    assert!(graph.len() > 20, "the harness's modules were not found");
    // A module is in a circle when it can reach itself.
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut to_visit: Vec<&str> = graph[start].iter().map(String::as_str).collect();
        while let Some(module) = to_visit.pop() {
            assert_ne!(
                module, *start,
                "{start} reaches itself through crate:: imports; its imports: {:?}",
                graph[start]
            );
            if seen.insert(module) {
                to_visit.extend(graph[module].iter().map(String::as_str));
            }
        }
    }
}
