//! The schedule's SQL agrees with the domain's rules
//! (`dirsync_domain::schedule`, `ErrorCode::retried_by_schedule`): the store
//! spells them set-based for thousands of tenants, the domain decides.

use crate::harness::{TestEnv, spec};
use dirsync_domain::{ErrorCode, SyncMode, schedule};
use dirsync_domain::{RunId, TenantId};
use dirsync_okta_sim::SimConfig;
use dirsync_store::{SchedulePolicy, Store};
use std::time::Duration;
use time::OffsetDateTime;

const DAY: time::Duration = time::Duration::DAY;

fn policy() -> SchedulePolicy {
    SchedulePolicy {
        full_every: Duration::from_secs(7 * 24 * 3600),
        retry_after: Duration::from_secs(1800),
        max_retries_per_day: 3,
    }
}

/// Whole seconds: PostgreSQL keeps microseconds, and "exactly `full_every`
/// ago" must be exact on both sides.
fn clock() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() + DAY
}

async fn history(store: &Store, tenant: TenantId, last: Option<OffsetDateTime>, full: Option<OffsetDateTime>) {
    sqlx::query("UPDATE tenants SET last_success_at = $2, last_full_success_at = $3 WHERE id = $1")
        .bind(tenant)
        .bind(last)
        .bind(full)
        .execute(store.pool())
        .await
        .unwrap();
}

async fn changed_since(store: &Store, run: RunId) -> Option<OffsetDateTime> {
    let (since,): (Option<OffsetDateTime>,) = sqlx::query_as("SELECT changed_since FROM sync_runs WHERE id = $1")
        .bind(run)
        .fetch_one(store.pool())
        .await
        .unwrap();
    since
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_runs_take_the_mode_and_window_the_domain_decides() {
    let env = TestEnv::start_without_roles("sched_rules", spec(1, 1, 1), SimConfig::default()).await;
    let store = &env.store;
    let at = clock();
    let week = policy().full_every;
    let yesterday = Some(at - DAY);
    let cases = [
        (None, None),
        (yesterday, None),
        (None, yesterday),
        (yesterday, yesterday),
        (yesterday, Some(at - week)),
        (yesterday, Some(at - week - time::Duration::SECOND)),
        (yesterday, Some(at - 8 * DAY)),
        (yesterday, Some(at + time::Duration::HOUR)),
    ];
    let mut tenants = Vec::new();
    for (n, (last, full)) in cases.iter().enumerate() {
        let tenant = env.tenant(&format!("m{n}"), "tok").await;
        history(store, tenant, *last, *full).await;
        tenants.push(tenant);
    }
    sqlx::query("UPDATE tenants SET next_run_at = $1 - interval '1 minute'")
        .bind(at)
        .execute(store.pool())
        .await
        .unwrap();

    let runs = store.runs().schedule_due_runs(at, &policy()).await.unwrap();

    assert_eq!(runs.len(), cases.len());
    let mut modes = Vec::new();
    for (tenant, (last, full)) in tenants.iter().zip(cases) {
        let run = runs.iter().find(|r| r.tenant_id == *tenant).expect("a run per tenant");
        assert_eq!(
            run.mode,
            schedule::scheduled_mode(last, full, at, week),
            "last success {last:?}, last full {full:?}"
        );
        assert_eq!(changed_since(store, run.run_id).await, schedule::changed_since(last));
        modes.push(run.mode);
    }
    // The cases reach both sides of every condition.
    use SyncMode::{Full, Incremental};
    assert_eq!(
        modes,
        [Full, Full, Full, Incremental, Incremental, Full, Full, Incremental]
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_within_the_day_exactly_when_the_domain_says_so() {
    let env = TestEnv::start_without_roles("retry_rules", spec(1, 1, 1), SimConfig::default()).await;
    let store = &env.store;
    let at = clock();
    let mut tenants = Vec::new();
    for code in ErrorCode::ALL {
        let tenant = env.tenant(code.as_str(), "tok").await;
        // A week-old full success: the retry is full, as a daily run would be.
        history(store, tenant, Some(at - DAY), Some(at - 8 * DAY)).await;
        sqlx::query(
            "INSERT INTO sync_runs (id, tenant_id, mode, trigger, state, error_code, created_at, finished_at)
             VALUES (gen_random_uuid(), $1, 'incremental', 'scheduled', 'failed', $2, $3, $3)",
        )
        .bind(tenant)
        .bind(code.as_str())
        .bind(at)
        .execute(store.pool())
        .await
        .unwrap();
        tenants.push((tenant, *code));
    }
    // No daily slot in the way.
    sqlx::query("UPDATE tenants SET next_run_at = $1 + interval '1 day'")
        .bind(at)
        .execute(store.pool())
        .await
        .unwrap();

    let later = at + time::Duration::try_from(policy().retry_after).unwrap() + time::Duration::MINUTE;
    let runs = store.runs().schedule_due_runs(later, &policy()).await.unwrap();

    for (tenant, code) in tenants {
        let retry = runs.iter().find(|r| r.tenant_id == tenant);
        assert_eq!(retry.is_some(), code.retried_by_schedule(), "{code}");
        if let Some(run) = retry {
            assert_eq!(
                run.mode,
                schedule::scheduled_mode(Some(at - DAY), Some(at - 8 * DAY), later, policy().full_every)
            );
        }
    }
    assert_eq!(runs.len(), 2, "okta_unavailable and internal");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_slot_falls_on_the_minute_of_day_the_domain_computes() {
    let env = TestEnv::start_without_roles("slot_rules", spec(1, 1, 1), SimConfig::default()).await;
    let store = &env.store;
    let tenant = env.tenant("slot", "tok").await;
    for (minute, hour) in [
        (517, None),
        (517, Some(6)),
        (1439, Some(0)),
        (0, Some(23)),
        (1439, None),
    ] {
        // The trigger moves next_run_at whenever the slot's inputs change.
        sqlx::query("UPDATE tenants SET schedule_minute = $2, preferred_hour = $3, time_zone = NULL WHERE id = $1")
            .bind(tenant)
            .bind(minute)
            .bind(hour)
            .execute(store.pool())
            .await
            .unwrap();
        let next = store.runs().next_scheduled_run(tenant).await.unwrap().unwrap();
        let at = i32::from(next.hour()) * 60 + i32::from(next.minute());
        assert_eq!(
            at,
            schedule::minute_of_day(minute, hour),
            "minute {minute}, hour {hour:?}"
        );
    }
    env.stop().await;
}
