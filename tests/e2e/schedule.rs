//! The daily schedule against the real database, on a simulated clock.

use crate::harness::{TestEnv, spec};
use dirsync_domain::SyncMode;
use dirsync_domain::TenantId;
use dirsync_okta_sim::SimConfig;
use dirsync_store::{SchedulePolicy, Store};
use std::{collections::BTreeMap, time::Duration};
use time::OffsetDateTime;

fn policy() -> SchedulePolicy {
    SchedulePolicy {
        full_every: Duration::from_secs(7 * 24 * 3600),
        retry_after: Duration::from_secs(1800),
        max_retries_per_day: 3,
    }
}

async fn tenants(env: &TestEnv, n: usize) -> Vec<TenantId> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(env.tenant(&format!("s{i}"), "tok").await);
    }
    ids
}

async fn set(store: &Store, sql: &'static str, tenant: TenantId) {
    sqlx::query(sql).bind(tenant).execute(store.pool()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_schedulers_create_each_due_run_once_and_catch_up_with_one_run_per_tenant() {
    let env = TestEnv::start_without_roles("sched", spec(10, 2, 1), SimConfig::default()).await;
    let ids = tenants(&env, 48).await;
    let minutes: Vec<(i32,)> = sqlx::query_as("SELECT schedule_minute FROM tenants")
        .fetch_all(env.store.pool())
        .await
        .unwrap();
    let distinct: std::collections::BTreeSet<i32> = minutes.iter().map(|(m,)| *m).collect();
    assert_eq!(distinct.len(), 48, "new tenants take the least-loaded minutes");

    // Nothing is due before a tenant's first slot after it was created.
    let now = OffsetDateTime::now_utc();
    assert!(
        env.store
            .runs()
            .schedule_due_runs(now, &policy())
            .await
            .unwrap()
            .is_empty()
    );

    // Three days later (two slots missed): three schedulers at once.
    let at = now + time::Duration::days(3);
    let runs = futures_join(&env.store, at).await;
    assert_eq!(
        runs.len(),
        ids.len(),
        "one run per tenant, however many replicas and missed slots"
    );
    let per_tenant: BTreeMap<TenantId, usize> = runs.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.tenant_id).or_default() += 1;
        m
    });
    assert!(per_tenant.values().all(|n| *n == 1));
    assert!(runs.iter().all(|r| r.mode == SyncMode::Full), "never synced: full");
    assert!(
        env.store
            .runs()
            .schedule_due_runs(at, &policy())
            .await
            .unwrap()
            .is_empty(),
        "and only once"
    );
    env.stop().await;
}

async fn futures_join(store: &Store, at: OffsetDateTime) -> Vec<dirsync_store::ScheduledRun> {
    let (p, runs) = (policy(), store.runs());
    let (a, b, c) = tokio::join!(
        runs.schedule_due_runs(at, &p),
        runs.schedule_due_runs(at, &p),
        runs.schedule_due_runs(at, &p)
    );
    [a.unwrap(), b.unwrap(), c.unwrap()].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn runs_are_incremental_between_weekly_full_ones_and_only_passing_failures_are_retried() {
    let env = TestEnv::start_without_roles("sched2", spec(10, 2, 1), SimConfig::default()).await;
    let ids = tenants(&env, 4).await;
    let store = &env.store;
    // Every slot two hours before the clock's time of day, so the hour this
    // test moves the clock by crosses no new day's slot.
    let now = OffsetDateTime::now_utc();
    let minute = (i32::from(now.hour()) * 60 + i32::from(now.minute()) + 1440 - 120) % 1440;
    sqlx::query("UPDATE tenants SET schedule_minute = $1")
        .bind(minute)
        .execute(store.pool())
        .await
        .unwrap();
    // 0: fully synced yesterday -> incremental. 1: last full 8 days ago -> full.
    set(store, "UPDATE tenants SET last_success_at = now() - interval '1 day', last_full_success_at = now() - interval '1 day' WHERE id = $1", ids[0]).await;
    set(store, "UPDATE tenants SET last_success_at = now() - interval '1 day', last_full_success_at = now() - interval '8 days' WHERE id = $1", ids[1]).await;
    let at = now + time::Duration::days(1);
    let runs = store.runs().schedule_due_runs(at, &policy()).await.unwrap();
    let mode_of = |t: TenantId| runs.iter().find(|r| r.tenant_id == t).map(|r| r.mode);
    assert_eq!(mode_of(ids[0]), Some(SyncMode::Incremental));
    assert_eq!(mode_of(ids[1]), Some(SyncMode::Full));

    // Their runs fail: 2 with invalid_token, 3 with okta_unavailable.
    for (tenant, code) in [(ids[2], "invalid_token"), (ids[3], "okta_unavailable")] {
        sqlx::query("UPDATE sync_runs SET state = 'failed', error_code = $2, finished_at = $3 WHERE tenant_id = $1")
            .bind(tenant)
            .bind(code)
            .bind(at)
            .execute(store.pool())
            .await
            .unwrap();
    }
    let later = at + time::Duration::hours(1);
    let retried: Vec<TenantId> = store
        .runs()
        .schedule_due_runs(later, &policy())
        .await
        .unwrap()
        .iter()
        .map(|r| r.tenant_id)
        .collect();
    assert_eq!(
        retried,
        vec![ids[3]],
        "okta_unavailable is retried within the day; invalid_token waits for tomorrow"
    );
    let next = store.runs().next_scheduled_run(ids[2]).await.unwrap().unwrap();
    assert!(next > later && next <= later + time::Duration::days(1));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pruning_drops_published_events_and_finished_runs_bookkeeping_but_keeps_the_runs() {
    let env = TestEnv::start("prune", spec(120, 4, 3), SimConfig::default().with_token("tok-prune")).await;
    let tenant = env.tenant("acme", "tok-prune").await;
    let run = env.sync(tenant).await;
    assert_eq!(run.state(), dirsync_domain::RunState::Succeeded);
    let store = env.store.clone();
    let count = |sql: &'static str| {
        let store = store.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(store.pool()).await.unwrap();
            n
        }
    };
    // The writer's relay publishes the run's events within a moment.
    for _ in 0..100 {
        if count("SELECT count(*) FROM change_events WHERE published_at IS NULL").await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(count("SELECT count(*) FROM change_events").await > 0);
    assert!(count("SELECT count(*) FROM sync_pages").await > 0);

    let mut pruned = 0;
    loop {
        let n = env.store.prune(Duration::ZERO).await.unwrap();
        if n == 0 {
            break;
        }
        pruned += n;
    }

    assert!(pruned > 0);
    assert_eq!(count("SELECT count(*) FROM change_events").await, 0);
    assert_eq!(count("SELECT count(*) FROM sync_pages").await, 0);
    let kept = env.store.runs().get(run.id).await.unwrap();
    assert_eq!(
        kept.pages_written, run.pages_written,
        "a pruned run still tells its pages"
    );
    assert_eq!(kept.users_seen, run.users_seen);
    env.stop().await;
}
