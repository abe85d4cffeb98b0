use crate::{cipher::CipherError, config::redact_url};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The first connection failed: names the setting and the address so an
    /// operator can fix it from one line. The cause is in the message, not
    /// also a `source()` (a chain would say it twice).
    #[error("cannot reach PostgreSQL at {address} (setting `database.url` / DATABASE_URL): {}", describe(.error))]
    Unreachable { address: String, error: sqlx::Error },
    #[error("database error: {}", describe(.0))]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Cipher(#[from] CipherError),
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },
    #[error("stored value is invalid: {0}")]
    Corrupt(String),
    /// The request cannot be done in the tenant's present state (the
    /// message says why and what to do first).
    #[error("{0}")]
    Conflict(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> StoreError {
        StoreError::Database(err)
    }
}

/// What PostgreSQL said and its SQLSTATE. sqlx's own text for a database
/// error adds "error returned from database:" and "at line N", a line of
/// PostgreSQL's C source that an operator would take for one of theirs.
fn describe(err: &sqlx::Error) -> String {
    match err.as_database_error() {
        Some(db) => match db.code() {
            Some(code) => format!("{} (SQLSTATE {code})", db.message()),
            None => db.message().to_owned(),
        },
        None => err.to_string(),
    }
}

impl StoreError {
    pub(crate) fn unreachable(url: &str, error: sqlx::Error) -> StoreError {
        StoreError::Unreachable {
            address: redact_url(url),
            error,
        }
    }

    /// Whether the same statement may succeed if tried again soon: the
    /// database was unreachable, restarting, or chose this transaction as a
    /// deadlock or serialization victim. Anything else (a value PostgreSQL
    /// refuses, a constraint) fails the same way every time.
    pub fn is_transient(&self) -> bool {
        let err = match self {
            StoreError::Unreachable { .. } => return true,
            StoreError::Database(err) => err,
            _ => return false,
        };
        match err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                // 08: connection exception; 57P0x: admin/crash shutdown,
                // cannot connect now; 40001/40P01: serialization, deadlock;
                // 53: insufficient resources.
                code.starts_with("08")
                    || code.starts_with("57P0")
                    || code == "40001"
                    || code == "40P01"
                    || code.starts_with("53")
            }),
            _ => false,
        }
    }

    pub(crate) fn corrupt(err: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt(err.to_string())
    }
}
