//! A throwaway database per test (the `testing` feature): created from a
//! server URL, migrated, and dropped by [`TestDatabase::drop_database`] or,
//! when a test panics or forgets, by `Drop`. Set
//! `DIRSYNC_TEST_KEEP_DATABASES=1` to keep the ones not dropped explicitly
//! (a failed test's) for a look; the name says which test made it.
//!
//! Only tests, `dirsync bench` and `dirsync demo` use it: the `dirsync`
//! binary enables the feature through its `dev-tools` feature, which the
//! release build leaves out.

use crate::{Store, StoreError};
use sqlx::{Connection, PgConnection};
use std::time::Duration;
use uuid::Uuid;

/// Keeps the databases that `Drop` would remove (a failed test's).
const KEEP_ENV: &str = "DIRSYNC_TEST_KEEP_DATABASES";

/// Longest the `Drop` of a database waits for the server.
const DROP_TIMEOUT: Duration = Duration::from_secs(15);

pub struct TestDatabase {
    pub name: String,
    pub url: String,
    server_url: String,
    /// `drop_database` ran: `Drop` has nothing left to do.
    dropped: bool,
}

impl TestDatabase {
    /// `server_url` points at any existing database on the server (the
    /// `postgres` one); the new database lives beside it.
    pub async fn create(server_url: &str, label: &str) -> Result<(TestDatabase, Store), StoreError> {
        let name = format!("dirsync_test_{}_{}", label, Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(server_url)
            .await
            .map_err(|e| StoreError::unreachable(server_url, e))?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        // From here on, an error drops the new database on the way out.
        let db = TestDatabase {
            url: with_database(server_url, &name),
            name,
            server_url: server_url.to_owned(),
            dropped: false,
        };
        let config = crate::StoreConfig {
            url: db.url.clone(),
            max_connections: 8,
            ..Default::default()
        };
        let store = Store::connect(&config).await?;
        store.migrate().await?;
        Ok((db, store))
    }

    pub async fn drop_database(mut self, store: Store) -> Result<(), StoreError> {
        store.pool().close().await;
        // Tried once: a failure is the caller's to report, not `Drop`'s to repeat.
        self.dropped = true;
        drop_named(&self.server_url, &self.name).await
    }
}

impl Drop for TestDatabase {
    /// Drops the database of a test that panicked or never called
    /// `drop_database`, so failed runs do not pile up databases.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        if std::env::var_os(KEEP_ENV).is_some() {
            eprintln!("keeping test database {} ({KEEP_ENV} is set)", self.name);
            return;
        }
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        // Its own thread and runtime: this usually runs on a test runtime's
        // thread, where `block_on` panics and waiting for a task of that
        // runtime could deadlock a current-thread one. The test's pool needs
        // no help from its runtime: `WITH (FORCE)` ends its connections.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                match tokio::time::timeout(DROP_TIMEOUT, drop_named(&server_url, &name)).await {
                    Ok(dropped) => dropped.map_err(|e| e.to_string()),
                    Err(_) => Err(format!("no answer within {DROP_TIMEOUT:?}")),
                }
            })
        })
        .join();
        // Never panic here: this may run while a test is already panicking.
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("cannot drop test database {}: {e}", self.name),
            Err(_) => eprintln!("cannot drop test database {}: the dropping thread panicked", self.name),
        }
    }
}

async fn drop_named(server_url: &str, name: &str) -> Result<(), StoreError> {
    let mut admin = PgConnection::connect(server_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    let _ = admin.close().await;
    Ok(())
}

/// The same server URL with another database name.
pub fn with_database(server_url: &str, database: &str) -> String {
    let mut url = url::Url::parse(server_url).expect("a valid PostgreSQL URL");
    url.set_path(database);
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_test_database_is_dropped_when_its_test_panics() {
        if std::env::var_os(KEEP_ENV).is_some() {
            return;
        }
        let server = std::env::var("DIRSYNC_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let (name_tx, name_rx) = tokio::sync::oneshot::channel();

        // A "test" that panics holding its database and a pool on it, on
        // this current-thread runtime (the `Drop` must not wait on it).
        let task_server = server.clone();
        let failed = tokio::spawn(async move {
            let (db, _store) = TestDatabase::create(&task_server, "drop_on_panic").await.unwrap();
            name_tx.send(db.name.clone()).unwrap();
            panic!("a failing test");
        })
        .await;

        assert!(failed.unwrap_err().is_panic());
        let name = name_rx.await.unwrap();
        let mut admin = PgConnection::connect(&server).await.unwrap();
        let (exists,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        assert!(!exists, "{name} is still there");
    }
}
