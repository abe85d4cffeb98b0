//! Waiting for a run, with progress, and saying how it ended.

use dirsync_domain::{ErrorCode, RunState};
use dirsync_store::{RunRecord, Store, StoreError};
use std::time::Duration;
use uuid::Uuid;

/// Polls the run until it leaves `queued`/`running` or `timeout` passes;
/// `on_progress` sees every poll.
pub async fn wait_for_run(
    store: &Store,
    run_id: Uuid,
    timeout: Duration,
    mut on_progress: impl FnMut(&RunRecord),
) -> Result<Option<RunRecord>, StoreError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let run = store.run(run_id).await?;
        on_progress(&run);
        if !run.state().is_active() {
            return Ok(Some(run));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One line of progress.
pub fn progress_line(run: &RunRecord) -> String {
    format!(
        "{} · pages {} fetched, {} written · users {} · groups {} · memberships {} · Okta requests {}",
        run.state(),
        run.pages_fetched,
        run.pages_written,
        run.users_seen,
        run.groups_seen,
        run.memberships_seen,
        run.okta_requests
    )
}

/// How a finished run is told to a person, and the exit code that goes with it.
pub fn outcome(run: &RunRecord) -> (String, u8) {
    match run.state() {
        RunState::Succeeded => (
            format!(
                "sync {} succeeded: {} users ({} changed), {} groups ({} changed), {} memberships ({} added), {} Okta requests",
                run.id,
                run.users_seen,
                run.users_changed,
                run.groups_seen,
                run.groups_changed,
                run.memberships_seen,
                run.memberships_added,
                run.okta_requests
            ),
            0,
        ),
        RunState::Failed => {
            let code = run.error().unwrap_or(ErrorCode::Internal);
            (format!("sync {} failed: {code}: {}", run.id, code.remedy()), 2)
        }
        RunState::NeedsReview => (
            format!(
                "sync {} needs review: it would remove more than the deletion threshold; confirm to apply it",
                run.id
            ),
            3,
        ),
        state => (format!("sync {} is still {state}", run.id), 4),
    }
}
