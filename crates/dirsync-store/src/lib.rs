#![doc = include_str!("../README.md")]

mod cipher;
mod config;
mod directory;
mod error;
mod events;
mod log_cursors;
mod retention;
mod runs;
mod tenants;
#[cfg(feature = "testing")]
pub mod testing;

pub use cipher::{CipherError, SecretsConfig, TokenCipher};
pub use config::StoreConfig;
pub use directory::{
    DirectoryCounts, DirectoryQuery, GroupRow, LogApplied, LogBatch, LogChange, PageBatch, RowCounts, UserRow,
    WrittenBatch,
};
pub use error::StoreError;
pub use events::{ChangeEvent, EventRow, PendingEvents};
pub use log_cursors::{ClaimedCursor, LogCursorView, PollEnd};
pub use runs::{
    ChainState, Checkpoint, ClaimedRun, ConfirmedGone, FetchedSweep, Finalize, INCREMENTAL_OVERLAP, Lease, ModeText,
    NewChain, NewRun, RowKind, RunKey, RunRecord, SchedulePolicy, ScheduledRun, StateText, TriggerText, WorkRequest,
};
pub use runs::{ProgressReport, RunEstimate, RunStatus};
pub use tenants::{
    CredentialKind, FleetHealth, KeyRotation, NewCredentials, NewServiceAppKey, NewTenant, ServiceAppPublicKey, Tenant,
    TenantHealth, TenantSecret, TenantSettingsPatch, TenantView,
};

use sqlx::{PgPool, migrate::Migrator, postgres::PgPoolOptions};

/// The schema, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// A handle on dirsync's database; cheap to clone. Its queries are
/// grouped by what they are about, one repository per aggregate:
/// [`Store::tenants`], [`Store::runs`], [`Store::directory`] and
/// [`Store::events`].
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
}

macro_rules! repository {
    ($(#[$doc:meta])* $name:ident, $accessor:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name {
            pool: PgPool,
        }

        impl Store {
            $(#[$doc])*
            pub fn $accessor(&self) -> $name {
                $name { pool: self.pool.clone() }
            }
        }
    };
}

repository!(
    /// Tenants: registration, credentials (sealed), settings, views for the
    /// API, key rotation and fleet health.
    Tenants,
    tenants
);
repository!(
    /// Sync runs: requests, the schedule, leases, chains and checkpoints,
    /// the removal check, finalize, redelivery, views for the API.
    Runs,
    runs
);
repository!(
    /// The synced directory: pages applied exactly once, and read back one
    /// keyset page at a time.
    Directory,
    directory
);
repository!(
    /// Change events: the outbox the writers fill and relay.
    Events,
    events
);
repository!(
    /// Each tenant's place in Okta's System Log: cursors leased to the
    /// pollers, and the Event Hook secrets that prompt a poll.
    SystemLog,
    system_log
);

impl Store {
    /// Connects and checks that the database answers, so a wrong address is
    /// one clear error at start-up rather than a failure on first use.
    pub async fn connect(config: &StoreConfig) -> Result<Store, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout())
            .connect(config.url.as_str())
            .await
            .map_err(|source| StoreError::unreachable(&config.url, source))?;
        Ok(Store { pool })
    }

    pub fn from_pool(pool: PgPool) -> Store {
        Store { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// A round trip, for readiness probes.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Creates the database named in `url` if it does not exist yet (the demo
/// and first-time operators need no `createdb`).
pub async fn ensure_database(url: &str) -> Result<bool, StoreError> {
    use sqlx::{Connection, PgConnection};
    let parsed = url::Url::parse(url)
        .map_err(|_| StoreError::Corrupt(format!("`database.url` is not a URL: {}", config::redact_url(url))))?;
    let name = parsed.path().trim_start_matches('/').to_owned();
    if name.is_empty() || name == "postgres" {
        return Ok(false);
    }
    let mut server = parsed.clone();
    server.set_path("postgres");
    let mut admin = PgConnection::connect(server.as_str())
        .await
        .map_err(|e| StoreError::unreachable(url, e))?;
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await?;
    if exists.is_some() {
        return Ok(false);
    }
    let quoted = name.replace('"', "\"\"");
    let created = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{quoted}\"")))
        .execute(&mut admin)
        .await;
    match created {
        Ok(_) => Ok(true),
        // Another process created it meanwhile.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(false),
        Err(e) => Err(e.into()),
    }
}
