//! A daily run that meets a run already in progress: none is created beside
//! it, the tenant stays due, and the daily run follows once it ends.

use crate::harness::{TestEnv, spec};
use dirsync_domain::SyncMode;
use dirsync_okta_sim::SimConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_daily_run_that_meets_a_run_in_progress_follows_it() {
    let env = TestEnv::start_without_roles("daily", spec(10, 2, 38), SimConfig::default()).await;
    let tenant = env.tenant("acme", "tok").await;
    let policy = dirsync_store::SchedulePolicy {
        full_every: std::time::Duration::from_secs(7 * 24 * 3600),
        retry_after: std::time::Duration::from_secs(1800),
        max_retries_per_day: 3,
    };
    let (manual, _) = env
        .store
        .runs()
        .request(dirsync_store::NewRun {
            tenant_id: tenant,
            mode: SyncMode::Full,
            trigger: dirsync_domain::Trigger::Manual,
        })
        .await
        .unwrap();
    let slot = env.store.runs().next_scheduled_run(tenant).await.unwrap().unwrap();
    let at = slot + time::Duration::minutes(1);
    assert!(
        env.store
            .runs()
            .schedule_due_runs(at, &policy)
            .await
            .unwrap()
            .is_empty(),
        "no daily run beside the active one"
    );
    assert_eq!(
        env.store.runs().next_scheduled_run(tenant).await.unwrap(),
        Some(slot),
        "the tenant stays due"
    );
    sqlx::query("UPDATE sync_runs SET state = 'succeeded', finished_at = now() WHERE id = $1")
        .bind(manual.id)
        .execute(env.store.pool())
        .await
        .unwrap();
    let runs = env
        .store
        .runs()
        .schedule_due_runs(at + time::Duration::minutes(1), &policy)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1, "the daily run follows the one that was active");
    let daily = env.store.runs().get(runs[0].run_id).await.unwrap();
    assert_eq!(daily.scheduled_for, Some(slot), "and says which slot it fills");
    env.stop().await;
}
