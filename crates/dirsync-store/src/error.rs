use crate::{cipher::CipherError, config::redact_url};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The first connection failed: names the setting and the address so an
    /// operator can fix it from one line.
    #[error("cannot reach PostgreSQL at {address} (setting `database.url` / DATABASE_URL): {source}")]
    Unreachable {
        address: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Cipher(#[from] CipherError),
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },
    #[error("stored value is invalid: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn unreachable(url: &str, source: sqlx::Error) -> StoreError {
        StoreError::Unreachable {
            address: redact_url(url),
            source,
        }
    }

    pub(crate) fn corrupt(err: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt(err.to_string())
    }
}
