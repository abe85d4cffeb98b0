use serde::Deserialize;
use std::time::Duration;

/// `database.*` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `postgres://user[:password]@host:port/db`; also read from `DATABASE_URL`.
    pub url: String,
    pub max_connections: u32,
    /// How long a query waits for a free connection (and the first connect).
    pub acquire_timeout_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "postgres://postgres@127.0.0.1:5432/dirsync".into(),
            max_connections: 10,
            acquire_timeout_ms: 5_000,
        }
    }
}

impl StoreConfig {
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.acquire_timeout_ms)
    }
}

/// A database URL fit for an error message: the password replaced.
pub(crate) fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("****"));
            }
            url.to_string()
        }
        Err(_) => "<unparseable URL>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_an_error_message() {
        let shown = redact_url("postgres://app:hunter2@db:5432/dirsync");
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("db:5432"));
    }
}
