//! A throwaway database per test: created from a server URL, migrated,
//! dropped by [`TestDatabase::drop_database`] (tests that fail keep theirs
//! for a look; the name says which test made it).

use crate::{Store, StoreError};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

pub struct TestDatabase {
    pub name: String,
    pub url: String,
    server_url: String,
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
        let url = with_database(server_url, &name);
        let config = crate::StoreConfig {
            url: url.clone(),
            max_connections: 8,
            ..Default::default()
        };
        let store = Store::connect(&config).await?;
        store.migrate().await?;
        Ok((
            TestDatabase {
                name,
                url,
                server_url: server_url.to_owned(),
            },
            store,
        ))
    }

    pub async fn drop_database(self, store: Store) -> Result<(), StoreError> {
        store.pool().close().await;
        let mut admin = PgConnection::connect(&self.server_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await?;
        Ok(())
    }
}

/// The same server URL with another database name.
pub fn with_database(server_url: &str, database: &str) -> String {
    let mut url = url::Url::parse(server_url).expect("a valid PostgreSQL URL");
    url.set_path(database);
    url.to_string()
}
