//! Sync runs.

use super::{ErrorCodeDto, RunStateDto, SyncModeDto, TriggerDto};
use dirsync_domain::waiting::WaitingFor as Waiting;
use dirsync_domain::{ErrorCode, RunState, Trigger};
use dirsync_store::{RunRecord, RunStatus};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A sync run.
#[derive(Debug, Serialize, ToSchema)]
pub struct Run {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub mode: SyncModeDto,
    pub trigger: TriggerDto,
    pub state: RunStateDto,
    /// How many times the run was handed to a worker.
    pub attempt: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// The daily slot a scheduled run fills.
    #[serde(with = "time::serde::rfc3339::option")]
    pub scheduled_for: Option<OffsetDateTime>,
    pub progress: RunProgress,
    pub counts: RunCounts,
    /// Set when `state` is `failed`.
    pub error: Option<RunError>,
    /// Set when the run stopped in `needs_review` (and after it was confirmed
    /// or superseded).
    pub deletion_review: Option<DeletionReview>,
    /// Okta's clock minus ours in milliseconds, measured when the run began
    /// (incremental windows follow Okta's clock).
    pub okta_clock_skew_ms: Option<i64>,
    /// What the run is waiting for right now; null once it has ended.
    pub waiting_for: Option<WaitingFor>,
    /// When the run should end; null until the worker knows enough to tell
    /// (the groups listing has ended and, for a full run, Okta said how
    /// many users the org has), and once it has ended. Not kept while it
    /// is queued.
    #[serde(with = "time::serde::rfc3339::option")]
    pub estimated_finish_at: Option<OffsetDateTime>,
    /// What `estimated_finish_at` rests on (null with it).
    pub estimate: Option<RunEstimate>,
}

/// Why a run is not done yet.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitingFor {
    pub code: WaitingCode,
    /// The same in a sentence for the customer, such as "Waiting for Okta's
    /// rate limit until 14:02:10 UTC; it then goes on by itself".
    pub message: String,
    /// `rate_limit`: when Okta's window resets and requests go on.
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub until: Option<OffsetDateTime>,
    /// `queued`: runs of its queue ahead of it (manual runs queue apart,
    /// ahead of scheduled ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs_ahead: Option<u64>,
}

/// What a run waits for, as a code a program can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaitingCode {
    /// Not started: other runs of its queue go first.
    Queued,
    /// Okta's rate limit holds its requests until `until`.
    RateLimit,
    /// Reading the directory from Okta.
    Fetching,
    /// Every page is read; the database is being written.
    Writing,
    /// Asking Okta by id about users and groups missing from the listing.
    VerifyingRemovals,
    /// `needs_review`: someone must confirm its deletions.
    Review,
}

/// What the finish estimate rests on: the Okta requests the run still
/// needs at the rate its share of Okta's limit allows, then what writing
/// and the removal check take.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunEstimate {
    /// Okta requests made so far.
    pub requests_done: u64,
    /// Okta requests the run should have made in all.
    pub requests_expected: u64,
    /// Requests a minute its remaining requests may go at; null when none
    /// are left.
    pub allowed_requests_per_minute: Option<u32>,
}

impl Run {
    /// The run with what it waits for and when it should end.
    pub fn with_status(mut self, status: RunStatus) -> Run {
        self.waiting_for = status.waiting_for.map(|w| WaitingFor {
            code: match w {
                Waiting::Queued { .. } => WaitingCode::Queued,
                Waiting::RateLimit { .. } => WaitingCode::RateLimit,
                Waiting::Fetching { .. } => WaitingCode::Fetching,
                Waiting::Writing { .. } => WaitingCode::Writing,
                Waiting::VerifyingRemovals { .. } => WaitingCode::VerifyingRemovals,
                Waiting::Review => WaitingCode::Review,
            },
            message: w.sentence(),
            until: match w {
                Waiting::RateLimit { until } => Some(until),
                _ => None,
            },
            runs_ahead: match w {
                Waiting::Queued { ahead } => Some(ahead),
                _ => None,
            },
        });
        self.estimated_finish_at = status.estimate.map(|e| e.finish_at);
        self.estimate = status.estimate.map(|e| RunEstimate {
            requests_done: e.requests_done,
            requests_expected: e.requests_expected,
            allowed_requests_per_minute: e.allowed_rpm,
        });
        self
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunProgress {
    /// Pages fetched from Okta so far.
    pub pages_fetched: i64,
    /// Pages written to the database so far.
    pub pages_written: i64,
    /// How many pages the run has in all, once every chain has ended.
    pub pages_total: Option<i64>,
    /// Every page has been fetched from Okta.
    pub fetch_complete: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunCounts {
    pub okta_requests: i64,
    pub users_seen: i64,
    pub users_changed: i64,
    pub users_removed: i64,
    pub groups_seen: i64,
    pub groups_changed: i64,
    pub groups_removed: i64,
    pub memberships_seen: i64,
    pub memberships_added: i64,
    pub memberships_removed: i64,
    /// Memberships left in place because their group's member listing came
    /// back shorter than the group's member count (not proof of removal).
    pub memberships_unverified: i64,
    /// Records Okta sent that it could not have sent (an id of the wrong
    /// shape, a NUL character, an oversized profile): left out, not stored.
    pub records_rejected: i64,
    /// The first of them, as "shortened id: reason".
    pub rejected_sample: Vec<String>,
    /// Times the run gave its worker slot back to let other tenants' runs
    /// go first (fair share), resuming where it stopped.
    pub slices: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunError {
    pub code: ErrorCodeDto,
    /// What happened, in words (for `internal`, only that it was ours). May
    /// quote Okta's error text, shortened to at most 600 characters: plain
    /// text, never markup.
    pub message: String,
    /// What the customer's admin can do about it.
    pub remedy: String,
}

/// Everything else the run found is applied; only its removals wait.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletionReview {
    /// Users the run would remove once confirmed.
    pub pending_user_removals: Option<i64>,
    /// Groups the run would remove once confirmed.
    pub pending_group_removals: Option<i64>,
    /// Memberships the run would remove once confirmed.
    pub pending_membership_removals: Option<i64>,
    /// When someone confirmed (`POST /v1/syncs/{run_id}/confirm-deletions`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub confirmed_at: Option<OffsetDateTime>,
    /// A newer full run reconciled the directory first; this review's
    /// removals were dropped and cannot be confirmed.
    pub superseded_by: Option<Uuid>,
}

impl From<RunRecord> for Run {
    fn from(r: RunRecord) -> Run {
        let state = match r.state.0 {
            RunState::Queued => RunStateDto::Queued,
            RunState::Running => RunStateDto::Running,
            RunState::Succeeded => RunStateDto::Succeeded,
            RunState::Failed => RunStateDto::Failed,
            RunState::NeedsReview => RunStateDto::NeedsReview,
        };
        let error = r.error_code.as_deref().map(|text| {
            let code = text.parse::<ErrorCode>().unwrap_or(ErrorCode::Internal);
            let message = match code {
                // Our own failures may name internals; the logs have them.
                ErrorCode::Internal => "the sync failed on our side".to_owned(),
                // Okta's text, through the worker: bounded, never markup.
                _ => r
                    .error_message
                    .as_deref()
                    .map(crate::okta_text::stored)
                    .unwrap_or_else(|| code.to_string()),
            };
            RunError {
                code: code.into(),
                message,
                remedy: code.remedy().to_owned(),
            }
        });
        let reviewed =
            state == RunStateDto::NeedsReview || r.deletions_confirmed_at.is_some() || r.superseded_by.is_some();
        let deletion_review = reviewed.then_some(DeletionReview {
            pending_user_removals: r.pending_user_removals,
            pending_group_removals: r.pending_group_removals,
            pending_membership_removals: r.pending_membership_removals,
            confirmed_at: r.deletions_confirmed_at,
            superseded_by: r.superseded_by.map(Into::into),
        });
        Run {
            id: r.id.into(),
            tenant_id: r.tenant_id.into(),
            mode: r.mode.0.into(),
            trigger: match r.trigger.0 {
                Trigger::Manual => TriggerDto::Manual,
                Trigger::Scheduled => TriggerDto::Scheduled,
            },
            state,
            attempt: r.attempt,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            scheduled_for: r.scheduled_for,
            progress: RunProgress {
                pages_fetched: r.pages_fetched,
                pages_written: r.pages_written,
                pages_total: r.pages_total.map(i64::from),
                fetch_complete: r.fetch_completed_at.is_some(),
            },
            counts: RunCounts {
                okta_requests: r.okta_requests,
                users_seen: r.users_seen,
                users_changed: r.users_changed,
                users_removed: r.users_removed,
                groups_seen: r.groups_seen,
                groups_changed: r.groups_changed,
                groups_removed: r.groups_removed,
                memberships_seen: r.memberships_seen,
                memberships_added: r.memberships_added,
                memberships_removed: r.memberships_removed,
                memberships_unverified: r.memberships_unverified,
                records_rejected: r.records_rejected,
                rejected_sample: r.rejected_sample,
                slices: r.slices,
            },
            error,
            deletion_review,
            okta_clock_skew_ms: r.clock_skew_ms,
            // Set by `with_status`, which asks the store.
            waiting_for: None,
            estimated_finish_at: None,
            estimate: None,
        }
    }
}

/// The answer to `POST /v1/tenants/{id}/syncs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncStarted {
    #[serde(flatten)]
    pub run: Run,
    /// True when the tenant already had a queued or running run, which is
    /// returned instead of starting another (status 200 instead of 202).
    pub already_active: bool,
}
