//! Waiting for a run, with progress, and saying how it ended.

use dirsync_domain::RunId;
use dirsync_domain::{ErrorCode, RunState};
use dirsync_store::{RunRecord, RunStatus, Store, StoreError};
use std::time::Duration;
use time::OffsetDateTime;

/// Polls the run until it leaves `queued`/`running` or `timeout` passes;
/// `on_progress` sees every poll.
///
/// The database going away for a while (a restart, a failover) is not the
/// run's end: while it cannot be reached, polls back off (up to 5 s apart)
/// until `timeout`, after a note on stderr; only then is the error returned.
pub async fn wait_for_run(
    store: &Store,
    run_id: RunId,
    timeout: Duration,
    mut on_progress: impl FnMut(&RunRecord),
) -> Result<Option<RunRecord>, StoreError> {
    follow(store, run_id, timeout, false, |run, _| on_progress(run)).await
}

/// [`wait_for_run`], with what the run waits for and its estimate at every
/// poll (`Runs::status`: a query more while it is queued).
pub async fn wait_for_run_status(
    store: &Store,
    run_id: RunId,
    timeout: Duration,
    on_progress: impl FnMut(&RunRecord, Option<&RunStatus>),
) -> Result<Option<RunRecord>, StoreError> {
    follow(store, run_id, timeout, true, on_progress).await
}

async fn follow(
    store: &Store,
    run_id: RunId,
    timeout: Duration,
    with_status: bool,
    mut on_progress: impl FnMut(&RunRecord, Option<&RunStatus>),
) -> Result<Option<RunRecord>, StoreError> {
    const POLL: Duration = Duration::from_millis(250);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut backoff = POLL;
    loop {
        let run = match store.runs().get(run_id).await {
            Ok(run) => run,
            Err(e) if is_connection_problem(&e) && tokio::time::Instant::now() < deadline => {
                if backoff == POLL {
                    eprintln!("note: cannot reach the database to follow sync {run_id} ({e}); retrying");
                }
                tokio::time::sleep(backoff.min(deadline - tokio::time::Instant::now())).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
            Err(e) => return Err(e),
        };
        if backoff != POLL {
            eprintln!("note: the database answers again");
            backoff = POLL;
        }
        // A status the database could not give is only left out this poll.
        let status = match with_status {
            true => store.runs().status(&run).await.ok(),
            false => None,
        };
        on_progress(&run, status.as_ref());
        if !run.state().is_active() {
            return Ok(Some(run));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The database could not be reached or dropped the connection (it is
/// restarting, failing over, or the network is down), as opposed to an
/// error in what was asked.
pub fn is_connection_problem(err: &StoreError) -> bool {
    let sqlx = match err {
        StoreError::Unreachable { .. } => return true,
        StoreError::Database(e) => e,
        _ => return false,
    };
    match sqlx {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed => true,
        // Class 08: connection exception; 57P01-03: the server is shutting
        // down or starting up.
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")),
        _ => false,
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

/// The line `sync --wait` prints when what the run waits for changes:
/// `fetching: Reading from Okta: 120 of about 410 requests done (~2 min
/// left, ends about 14:05 UTC)`. `None` once the run has ended.
pub fn waiting_line(status: &RunStatus, now: OffsetDateTime) -> Option<String> {
    let waiting = status.waiting_for.as_ref()?;
    let mut line = format!("{}: {}", waiting.code(), waiting.sentence());
    if let Some(estimate) = &status.estimate {
        line.push_str(&format!(" ({})", time_left(now, estimate.finish_at)));
    }
    Some(line)
}

/// `~2 min left, ends about 14:05 UTC`, minutes rounded up.
pub fn time_left(now: OffsetDateTime, finish: OffsetDateTime) -> String {
    let seconds = (finish - now).whole_seconds().max(0);
    let ends = finish.to_offset(time::UtcOffset::UTC);
    let at = format!("ends about {:02}:{:02} UTC", ends.hour(), ends.minute());
    match seconds {
        0..60 => format!("under a minute left, {at}"),
        _ => {
            let minutes = (seconds + 59) / 60;
            match minutes {
                0..90 => format!("~{minutes} min left, {at}"),
                _ => format!("~{} h {} min left, {at}", minutes / 60, minutes % 60),
            }
        }
    }
}

/// How a finished run is told to a person, and the exit code that goes with it.
pub fn outcome(run: &RunRecord) -> (String, u8) {
    match run.state() {
        RunState::Succeeded => {
            let mut line = format!(
                "sync {} succeeded: {} users ({} changed), {} groups ({} changed), {} memberships ({} added), {} Okta requests",
                run.id,
                run.users_seen,
                run.users_changed,
                run.groups_seen,
                run.groups_changed,
                run.memberships_seen,
                run.memberships_added,
                run.okta_requests
            );
            if run.records_rejected > 0 {
                line.push_str(&format!(
                    "; {} records Okta could not have sent were left out (first: {})",
                    run.records_rejected,
                    run.rejected_sample.first().map(String::as_str).unwrap_or("-")
                ));
            }
            if run.memberships_unverified > 0 {
                line.push_str(&format!(
                    "; {} memberships kept because their group's member listing came back short",
                    run.memberships_unverified
                ));
            }
            if let Some(newer) = run.superseded_by {
                line.push_str(&format!("; its held removals were superseded by run {newer}"));
            }
            (line, 0)
        }
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

#[cfg(test)]
mod tests {
    use super::time_left;
    use time::macros::datetime;

    #[test]
    fn time_left_is_told_in_rounded_up_minutes_with_the_finish_in_utc() {
        let now = datetime!(2026-11-30 14:03:10 UTC);
        let at = |s: i64| now + time::Duration::seconds(s);
        assert_eq!(time_left(now, at(100)), "~2 min left, ends about 14:04 UTC");
        assert_eq!(time_left(now, at(20)), "under a minute left, ends about 14:03 UTC");
        assert_eq!(time_left(now, at(-5)), "under a minute left, ends about 14:03 UTC");
        assert_eq!(time_left(now, at(2 * 3600)), "~2 h 0 min left, ends about 16:03 UTC");
    }
}
