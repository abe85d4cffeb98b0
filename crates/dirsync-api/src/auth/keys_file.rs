//! One reading of `api.keys_file`: the lines that are usable keys, and the
//! numbers of those that are not (reported by number only: a line may be a
//! key).

use std::path::Path;

use super::{Digest32, KeyMetrics, KeysError, MIN_KEY_LEN, checked};

/// What one reading of the keys file found.
pub(super) struct KeysFile {
    pub(super) keys: Vec<Digest32>,
    /// Line numbers (from 1) of the lines that are not usable keys.
    invalid: Vec<usize>,
}

impl KeysFile {
    pub(super) fn read(path: &Path) -> Result<KeysFile, KeysError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeysError::File {
            path: path.display().to_string(),
            source,
        })?;
        let mut file = KeysFile {
            keys: Vec::new(),
            invalid: Vec::new(),
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match checked(line, "api.keys_file") {
                Ok(digest) => file.keys.push(digest),
                Err(_) => file.invalid.push(n + 1),
            }
        }
        Ok(file)
    }

    /// Logs the skipped lines (by number only: a line may be a key) and
    /// counts them.
    pub(super) fn report(&self, path: &Path, metrics: &KeyMetrics) {
        metrics.invalid_lines.set(self.invalid.len() as i64);
        if !self.invalid.is_empty() {
            tracing::warn!(
                path = %path.display(),
                lines = ?self.invalid,
                "lines of the API keys file skipped: keys need at least {MIN_KEY_LEN} visible ASCII \
                 characters and no spaces"
            );
        }
    }

    pub(super) fn no_valid_key(&self, path: &Path) -> KeysError {
        KeysError::NoValidKeyInFile {
            path: path.display().to_string(),
            invalid: self.invalid.len(),
        }
    }
}
