//! Keeps the model from changing how baton runs it. `baton.toml` holds the thread's limits
//! (its attempt budget, turn and context limits, timeouts); a model that could edit it could
//! give itself more attempts on a blocked feature. After any tool call that may have touched
//! it, the file is compared with the version the session started with and put back.

use std::path::{Path, PathBuf};

use crate::config::PROJECT_CONFIG;
use crate::error::HarnessError;

/// The project's `baton.toml` as the session found it (`None`: there was none).
#[derive(Debug)]
pub struct ConfigGuard {
    path: PathBuf,
    accepted: Option<Vec<u8>>,
}

impl ConfigGuard {
    pub fn load(project: &Path) -> ConfigGuard {
        let path = project.join(PROJECT_CONFIG);
        let accepted = std::fs::read(&path).ok();
        ConfigGuard { path, accepted }
    }

    /// Puts the file back if it changed; returns what to tell the model when it did.
    pub fn inspect(&self) -> Result<Option<String>, HarnessError> {
        let now = std::fs::read(&self.path).ok();
        if now == self.accepted {
            return Ok(None);
        }
        match &self.accepted {
            Some(bytes) => std::fs::write(&self.path, bytes)
                .map_err(|source| HarnessError::io(&self.path, source))?,
            None => std::fs::remove_file(&self.path)
                .map_err(|source| HarnessError::io(&self.path, source))?,
        }
        Ok(Some(format!(
            "{PROJECT_CONFIG} is baton's configuration (limits, attempt budget), not part of the app; your change to it was reverted. Leave it alone."
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_is_put_back_and_a_new_file_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PROJECT_CONFIG);
        let guard = ConfigGuard::load(dir.path());
        std::fs::write(&path, "feature_attempts = 99\n").unwrap();
        assert!(guard.inspect().unwrap().is_some());
        assert!(!path.exists());

        std::fs::write(&path, "feature_attempts = 3\n").unwrap();
        let guard = ConfigGuard::load(dir.path());
        assert_eq!(guard.inspect().unwrap(), None);
        std::fs::write(&path, "feature_attempts = 99\n").unwrap();
        assert!(guard.inspect().unwrap().is_some());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "feature_attempts = 3\n"
        );
    }
}
