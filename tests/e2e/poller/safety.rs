//! What keeps the poller safe beside the daily run and other pollers: it
//! never writes under a running sync of the tenant (a run's older pages
//! could bring back what it removed, and its finalize would drop what it
//! added), and a tenant is polled by one poller at a time, taken over when
//! that poller's lease lapses.

use crate::harness::{TestEnv, spec};
use dirsync_domain::{SyncMode, TenantId, Trigger, UserRecord};
use dirsync_okta_sim::SimConfig;
use dirsync_store::{LogApplied, LogBatch, LogChange, NewRun, PollEnd};
use std::time::{Duration, Instant};

fn new_user(id: &str) -> UserRecord {
    UserRecord {
        okta_id: id.into(),
        status: "ACTIVE".into(),
        created: Some(time::OffsetDateTime::now_utc()),
        activated: None,
        status_changed: None,
        last_login: None,
        last_updated: Some(time::OffsetDateTime::now_utc()),
        password_changed: None,
        user_type_id: None,
        profile: serde_json::json!({"login": format!("{id}@example.com"), "title": "Fresh"}),
    }
}

async fn synced_tenant(env: &TestEnv, name: &str) -> TenantId {
    let tenant = env.tenant(name, env.sim.token()).await;
    env.synced_before(tenant, 100.0).await;
    tenant
}

async fn set_run_state(env: &TestEnv, tenant: TenantId, from: &str, to: &str) {
    sqlx::query(
        "UPDATE sync_runs SET state = $3, started_at = coalesce(started_at, now()) WHERE tenant_id = $1 AND state = $2",
    )
    .bind(tenant)
    .bind(from)
    .bind(to)
    .execute(env.store.pool())
    .await
    .unwrap();
}

#[tokio::test]
async fn a_poll_never_writes_under_a_running_sync_and_applies_once_it_has_ended() {
    let env = TestEnv::start_without_roles("poller_run", spec(10, 2, 7), SimConfig::default()).await;
    let tenant = synced_tenant(&env, "acme").await;
    let log = env.store.system_log();
    assert_eq!(log.enroll().await.unwrap(), 1, "a tenant synced once gets a cursor");
    let claimed = log
        .claim_due("poller-a", 10, Duration::from_secs(60), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(claimed[0].since.is_some(), "a first poll starts from the last sync");

    let new = new_user("00upolled1");
    let batch = LogBatch {
        tenant_id: tenant,
        owner: "poller-a",
        changes: vec![LogChange::User(new.clone())],
        next_url: "http://sim/api/v1/logs?after=1".into(),
        events_read: 1,
        last_event_at: None,
    };
    let run = NewRun {
        tenant_id: tenant,
        mode: SyncMode::Full,
        trigger: Trigger::Manual,
    };
    env.store.runs().request(run).await.unwrap();
    set_run_state(&env, tenant, "queued", "running").await;
    assert_eq!(
        env.store.directory().apply_log_changes(&batch).await.unwrap(),
        LogApplied::RunActive
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(env.store.pool())
        .await
        .unwrap();
    assert_eq!(stored, 0, "nothing written under the run");
    assert_eq!(
        log.cursor(tenant).await.unwrap().unwrap().next_url,
        None,
        "the cursor stays"
    );

    set_run_state(&env, tenant, "running", "succeeded").await;
    let applied = env.store.directory().apply_log_changes(&batch).await.unwrap();
    assert!(
        matches!(
            applied,
            LogApplied::Applied {
                rows_changed: 1,
                events: 1
            }
        ),
        "{applied:?}"
    );
    let cursor = log.cursor(tenant).await.unwrap().unwrap();
    assert_eq!(cursor.next_url.as_deref(), Some("http://sim/api/v1/logs?after=1"));
    let events = env.store.events().events_since(tenant, 0).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].event_type.as_str(), events[0].run_id),
        ("user.created", None)
    );
    // The same poll read again (a crash before the lease was given back)
    // changes nothing.
    let again = env.store.directory().apply_log_changes(&batch).await.unwrap();
    assert_eq!(
        again,
        LogApplied::Applied {
            rows_changed: 0,
            events: 0
        }
    );
    env.stop().await;
}

#[tokio::test]
async fn pollers_share_tenants_and_take_over_a_lapsed_lease() {
    let env = TestEnv::start_without_roles("poller_lease", spec(10, 2, 8), SimConfig::default()).await;
    let (a, b) = (synced_tenant(&env, "a").await, synced_tenant(&env, "b").await);
    let log = env.store.system_log();
    log.enroll().await.unwrap();
    let run_retry = Duration::from_secs(5);
    let first = log
        .claim_due("poller-1", 1, Duration::from_secs(1), run_retry)
        .await
        .unwrap();
    let second = log
        .claim_due("poller-2", 10, Duration::from_secs(60), run_retry)
        .await
        .unwrap();
    assert_eq!((first.len(), second.len()), (1, 1));
    assert_ne!(first[0].tenant_id, second[0].tenant_id, "each tenant to one poller");
    let mut both = [first[0].tenant_id, second[0].tenant_id];
    both.sort();
    let mut expected = [a, b];
    expected.sort();
    assert_eq!(both, expected);

    // poller-1 stops answering: its tenant goes to another once the lease lapses.
    let deadline = Instant::now() + Duration::from_secs(30);
    let taken = loop {
        let claimed = log
            .claim_due("poller-3", 10, Duration::from_secs(60), run_retry)
            .await
            .unwrap();
        if let Some(c) = claimed.first() {
            break c.clone();
        }
        assert!(Instant::now() < deadline, "the lapsed lease was never taken over");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(taken.tenant_id, first[0].tenant_id);
    let end = PollEnd {
        next_in: Duration::from_secs(10),
        idle_polls: 1,
        okta_requests: 1,
    };
    assert!(
        !log.finish_poll(taken.tenant_id, "poller-1", &end).await.unwrap(),
        "the old holder is fenced"
    );
    assert!(log.finish_poll(taken.tenant_id, "poller-3", &end).await.unwrap());
    env.stop().await;
}
