//! Why a run is not done yet and when it will be. The worker reports what
//! only it knows every few seconds while it fetches ([`ProgressReport`]:
//! never a write per request); a reader adds what the database knows (the
//! runs queued ahead, the removal candidates) and the rules in
//! `dirsync_domain::waiting` and `dirsync_domain::estimate` decide.

use super::Lease;
use crate::{RunRecord, Runs, StoreError};
use dirsync_domain::estimate::{self, Remaining};
use dirsync_domain::waiting::{self, RunFacts, WaitingFor};
use dirsync_domain::{RunId, RunState, Trigger};
use time::OffsetDateTime;

/// What the worker that fetches a run knows of its progress.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgressReport {
    /// Okta requests made since the previous report or checkpoint.
    pub okta_requests: u64,
    /// Requests the run still needs, once it can tell (the run's
    /// `requests_expected` is then its requests so far plus these).
    pub requests_left: Option<u64>,
    /// The rate its remaining requests may go at (requests a minute).
    pub allowed_rpm: Option<u32>,
    /// The limiter holds its requests until then.
    pub rate_limited_until: Option<OffsetDateTime>,
}

/// A run's status as a person asks for it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStatus {
    /// `None` once the run has ended.
    pub waiting_for: Option<WaitingFor>,
    /// `None` until the worker knows enough (or once the run has ended).
    pub estimate: Option<RunEstimate>,
}

/// When a run should end, and what that rests on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunEstimate {
    pub finish_at: OffsetDateTime,
    pub requests_done: u64,
    pub requests_expected: u64,
    pub allowed_rpm: Option<u32>,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Runs {
    /// Records a progress report under the lease (adding the requests).
    /// `false`: the lease is gone (the walk finds out on its own).
    pub async fn report_progress(
        &self,
        run_id: RunId,
        lease: &Lease,
        report: ProgressReport,
    ) -> Result<bool, StoreError> {
        // One autocommit statement, no transaction: the reporter runs beside
        // the walk and is dropped mid-await when the walk ends, and a
        // transaction dropped inside `begin()` would leave its pooled
        // connection in a transaction nobody ends (the next user's writes,
        // a run's failure among them, would never commit, and every run
        // created for the tenant would wait on them).
        let done = sqlx::query(
            "UPDATE sync_runs SET okta_requests = okta_requests + $4,
                    requests_expected = okta_requests + $4 + $5, allowed_rpm = $6, rate_limited_until = $7,
                    progress_reported_at = now()
             WHERE id = $1 AND lease_owner = $2 AND attempt = $3 AND state = 'running' AND fetch_completed_at IS NULL",
        )
        .bind(run_id)
        .bind(&lease.owner)
        .bind(lease.attempt as i32)
        .bind(report.okta_requests as i64)
        .bind(report.requests_left.map(|n| i64::try_from(n).unwrap_or(i64::MAX)))
        .bind(report.allowed_rpm.map(|n| i32::try_from(n).unwrap_or(i32::MAX)))
        .bind(report.rate_limited_until)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// What `run` waits for now and when it should end.
    pub async fn status(&self, run: &RunRecord) -> Result<RunStatus, StoreError> {
        let now = OffsetDateTime::now_utc();
        let state = run.state();
        let queued_ahead = match state {
            RunState::Queued => self.queued_ahead(run).await?,
            _ => 0,
        };
        let fetch_complete = run.fetch_completed_at.is_some();
        let verifying = state == RunState::Running
            && fetch_complete
            && run.removals_requested_at.is_some()
            && run.removals_checked_at.is_none();
        let (removal_users, removal_groups) = if verifying {
            let users = self.unseen_users(run.id, run.tenant_id).await?.len() as u64;
            let groups = self.unseen_groups(run.id, run.tenant_id).await?.len() as u64;
            (Some(users), Some(groups))
        } else {
            (None, None)
        };
        let requests_done = count(run.okta_requests);
        // Once every chain has ended no request is left to expect.
        let requests_expected = match fetch_complete {
            true => Some(requests_done),
            false => run.requests_expected.map(count),
        };
        let facts = RunFacts {
            state,
            now,
            queued_ahead,
            rate_limited_until: run.rate_limited_until,
            fetch_complete,
            removals_requested: run.removals_requested_at.is_some(),
            removals_checked: run.removals_checked_at.is_some(),
            requests_done,
            requests_expected,
            pages_fetched: count(run.pages_fetched),
            pages_written: count(run.pages_written),
            removal_users,
            removal_groups,
        };
        let waiting_for = waiting::waiting_for(&facts);
        let estimate = match (state, requests_expected) {
            (RunState::Running, Some(expected)) => {
                let expected = expected.max(requests_done);
                let allowed_rpm = run.allowed_rpm.and_then(|n| u32::try_from(n).ok());
                let remaining = Remaining {
                    requests: expected - requests_done,
                    allowed_rpm,
                    held_until: run.rate_limited_until,
                    pages_behind: facts.pages_fetched.saturating_sub(facts.pages_written),
                    removal_checks: removal_users.unwrap_or(0) + removal_groups.unwrap_or(0),
                };
                estimate::finish_at(now, remaining).map(|finish_at| RunEstimate {
                    finish_at,
                    requests_done,
                    requests_expected: expected,
                    allowed_rpm,
                })
            }
            _ => None,
        };
        Ok(RunStatus { waiting_for, estimate })
    }

    /// Runs of the same queue (manual and scheduled runs have a queue each,
    /// manual ones served first) queued before `run` and not started.
    async fn queued_ahead(&self, run: &RunRecord) -> Result<u64, StoreError> {
        let trigger: Trigger = run.trigger.0;
        let (ahead,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM sync_runs
             WHERE state = 'queued' AND started_at IS NULL AND trigger = $1 AND (created_at, id) < ($2, $3)",
        )
        .bind(trigger.as_str())
        .bind(run.created_at)
        .bind(run.id)
        .fetch_one(&self.pool)
        .await?;
        Ok(count(ahead))
    }
}
