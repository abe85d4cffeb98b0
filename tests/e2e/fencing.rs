//! The run's bookkeeping under takeovers and faults, at the store's and
//! the writer's entry points: fencing of stale holders, pages fetched again
//! after a takeover, pages of ended runs, the newest version of a record,
//! one tenant's bad page in a batch shared with another tenant, and the
//! sweep of fetched runs whose notices were lost.
//!
//! This file holds the runs and records the cases build; the cases are in
//! `leases`, `pages` and `sweep`.

mod leases;
mod pages;
mod sweep;

use dirsync_domain::{Chain, PageFetched, PagePayload, SyncMode, Trigger, UserRecord};
use dirsync_domain::{RunId, TenantId};
use dirsync_store::{Checkpoint, ClaimedRun, NewRun, Store};
use serde_json::json;
use std::time::Duration;

async fn claimed_run(store: &Store, tenant: TenantId, owner: &str) -> ClaimedRun {
    let (run, created) = store
        .runs()
        .request(NewRun {
            tenant_id: tenant,
            mode: SyncMode::Full,
            trigger: Trigger::Manual,
        })
        .await
        .unwrap();
    assert!(created);
    store
        .runs()
        .claim_run(run.id, owner, Duration::from_secs(30))
        .await
        .unwrap()
        .expect("a queued run is claimed")
}

async fn expire_lease(store: &Store, run: RunId) {
    sqlx::query("UPDATE sync_runs SET lease_expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(run)
        .execute(store.pool())
        .await
        .unwrap();
}

fn user(id: &str, title: &str, minute: u8) -> UserRecord {
    UserRecord {
        okta_id: id.into(),
        status: "ACTIVE".into(),
        created: None,
        activated: None,
        status_changed: None,
        last_login: None,
        last_updated: Some(time::macros::datetime!(2026-01-01 10:00 UTC) + time::Duration::minutes(minute.into())),
        password_changed: None,
        user_type_id: None,
        profile: json!({"login": format!("{id}@example.com"), "title": title}),
    }
}

fn users_page(run: &ClaimedRun, attempt: u32, seq: u32, users: Vec<UserRecord>) -> PageFetched {
    PageFetched {
        tenant_id: run.tenant_id,
        run_id: run.run_id,
        attempt,
        chain: Chain::UsersSlice { index: 0 },
        seq,
        payload: PagePayload::Users { users },
    }
}

/// The checkpoint of a chain's last page: `pages` in all, done.
fn last_page(chain: &Chain, pages: u32) -> Checkpoint<'_> {
    Checkpoint {
        chain,
        next_url: None,
        pages,
        done: true,
        gone: false,
        new_chains: &[],
        done_chains: &[],
        okta_requests: 1,
        rejected: &[],
    }
}

async fn title_of(store: &Store, tenant: TenantId, id: &str) -> Option<String> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT title FROM users WHERE tenant_id = $1 AND okta_id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_optional(store.pool())
            .await
            .unwrap();
    row.and_then(|(t,)| t)
}
