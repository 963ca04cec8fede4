//! Finding and loading the ONNX Runtime shared library before fastembed touches ort.
//!
//! ort built with `load-dynamic` panics on first use when it cannot find the library;
//! baton looks for it itself and turns absence into [`MemoryError::OrtMissing`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::MemoryError;

/// The library loaded by the first successful [`ensure_loaded`]; ort keeps it for the process.
static LOADED: OnceLock<PathBuf> = OnceLock::new();

/// Loads ONNX Runtime once per process: `explicit`, else `ORT_DYLIB_PATH`, else discovery.
pub(crate) fn ensure_loaded(explicit: Option<&Path>) -> Result<PathBuf, MemoryError> {
    if let Some(path) = LOADED.get() {
        return Ok(path.clone());
    }
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match std::env::var_os("ORT_DYLIB_PATH") {
            Some(p) => PathBuf::from(p),
            None => discover().ok_or_else(|| MemoryError::OrtMissing {
                reason:
                    "no libonnxruntime.so found in ORT_DYLIB_PATH or the Python onnxruntime package"
                        .into(),
            })?,
        },
    };
    if !path.is_file() {
        return Err(MemoryError::OrtMissing {
            reason: format!("{} does not exist", path.display()),
        });
    }
    // init_from only loads the library and checks its version; the environment builder
    // it returns is not needed because fastembed creates the default environment.
    let _builder = ort::init_from(&path).map_err(|e| MemoryError::OrtMissing {
        reason: e.to_string(),
    })?;
    Ok(LOADED.get_or_init(|| path).clone())
}

/// Where a pip-installed onnxruntime keeps its library: the usual site-packages folders
/// first, then python3 is asked. Asking first cost every `baton recall` ~0.3 s: python3
/// imports onnxruntime to answer.
fn discover() -> Option<PathBuf> {
    site_packages_candidates()
        .iter()
        .find_map(|dir| newest_library_in(&dir.join("capi")))
        .or_else(|| python_package_dir().and_then(|dir| newest_library_in(&dir.join("capi"))))
}

fn python_package_dir() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import onnxruntime,os;print(os.path.dirname(onnxruntime.__file__))",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?;
    Some(PathBuf::from(dir.trim()))
}

/// `<prefix>/lib/python3.*/site-packages/onnxruntime` under the usual prefixes.
fn site_packages_candidates() -> Vec<PathBuf> {
    let mut prefixes = vec![PathBuf::from("/usr/local/lib"), PathBuf::from("/usr/lib")];
    if let Some(home) = dirs::home_dir() {
        prefixes.push(home.join(".local/lib"));
        if let Ok(versions) = std::fs::read_dir(home.join(".pyenv/versions")) {
            prefixes.extend(versions.flatten().map(|v| v.path().join("lib")));
        }
    }
    let mut found = Vec::new();
    for prefix in prefixes {
        let Ok(entries) = std::fs::read_dir(&prefix) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with("python3") {
                for sub in ["site-packages", "dist-packages"] {
                    found.push(entry.path().join(sub).join("onnxruntime"));
                }
            }
        }
    }
    found
}

/// The highest-versioned `libonnxruntime.so.X.Y.Z` in `dir`.
fn newest_library_in(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so."))
        })
        .max_by_key(|p| version_key(p))
}

fn version_key(path: &Path) -> Vec<u32> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .trim_start_matches("libonnxruntime.so.")
        .split('.')
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_library_wins_by_numeric_version() {
        let dir = tempfile::tempdir().unwrap();
        for v in ["1.9.0", "1.31.1", "1.24.0"] {
            std::fs::write(dir.path().join(format!("libonnxruntime.so.{v}")), b"").unwrap();
        }
        std::fs::write(dir.path().join("libonnxruntime_providers_shared.so"), b"").unwrap();
        let newest = newest_library_in(dir.path()).unwrap();
        assert!(
            newest.ends_with("libonnxruntime.so.1.31.1"),
            "{}",
            newest.display()
        );
    }

    #[test]
    fn a_missing_explicit_library_is_a_clear_error() {
        if LOADED.get().is_some() {
            return;
        }
        let err =
            ensure_loaded(Some(Path::new("/nonexistent/libonnxruntime.so.1.31.1"))).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("setup-model.sh") && text.contains("ORT_DYLIB_PATH"),
            "{text}"
        );
    }
}
