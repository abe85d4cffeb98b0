//! The API's JSON shapes. Responses never carry a token: no response type
//! has a field that could hold one.

use dirsync_domain::{ErrorCode, RunState, SyncMode, Trigger};
use dirsync_store::{GroupRow, RunView, TenantView, UserRow};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// How long Okta keeps an unused API token alive.
pub const TOKEN_IDLE_LIFETIME: time::Duration = time::Duration::days(30);
/// How early `token_lapse_warning` turns on.
pub const TOKEN_WARNING: time::Duration = time::Duration::days(7);

// ---------------------------------------------------------------- requests

/// Registers a tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// A name for people (1 to 200 characters, not only spaces).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$",
        example = "Acme Corp"
    )]
    pub name: String,
    /// The org's instance URL: `https://<org>.okta.com` or a custom domain,
    /// not the `-admin` console. Normalised to the origin.
    #[schema(min_length = 1, max_length = 2048, example = "https://acme.okta.com")]
    pub okta_url: String,
    /// An Okta API token made by a Super Admin. Stored encrypted; never
    /// returned.
    #[schema(value_type = String, format = Password, write_only, min_length = 1, max_length = 512, pattern = r"^[ \t\r\n]*[!-~]+[ \t\r\n]*$")]
    pub api_token: SecretString,
}

/// Replaces a tenant's credentials.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceCredentials {
    /// A new instance URL; the current one is kept when absent.
    #[schema(min_length = 1, max_length = 2048, example = "https://acme.okta.com")]
    pub okta_url: Option<String>,
    /// The new Okta API token. Stored encrypted; never returned.
    #[schema(value_type = String, format = Password, write_only, min_length = 1, max_length = 512, pattern = r"^[ \t\r\n]*[!-~]+[ \t\r\n]*$")]
    pub api_token: SecretString,
}

/// Changes a tenant's settings; absent fields stay as they are, `null`
/// clears `preferred_hour` and `time_zone`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettings {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: Option<String>,
    /// The hour of the day (0 to 23, in `time_zone`) the daily sync should
    /// start in; `null` lets dirsync spread it over the day.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable, minimum = 0, maximum = 23)]
    pub preferred_hour: Option<Option<i64>>,
    /// An IANA time zone (`Europe/Berlin`) for `preferred_hour`; `null` is UTC.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, min_length = 1, max_length = 64, example = "Europe/Berlin")]
    pub time_zone: Option<Option<String>>,
    /// Deletion guard: a run that would remove more than this percentage of
    /// the users...
    #[schema(minimum = 0.0, maximum = 100.0)]
    pub deletion_max_percent: Option<f64>,
    /// ...and at least this many stops in `needs_review`.
    #[schema(minimum = 0, maximum = 1000000)]
    pub deletion_min_users: Option<i64>,
}

/// `Some(None)` for an explicit `null`, `None` (by `default`) when absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Starts a sync.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartSync {
    /// `full` (the default) lists everything and removes what disappeared;
    /// `incremental` asks Okta only for what changed since the last success.
    pub mode: Option<SyncModeDto>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Items per page (1 to 100, default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Users per page (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Only these Okta statuses, comma-separated (`ACTIVE,SUSPENDED`).
    #[param(style = Form, explode = false, value_type = Option<Vec<UserStatus>>)]
    pub status: Option<String>,
    /// Only users whose copy changed at or after this instant (RFC 3339):
    /// poll with the time of your previous poll to get what changed.
    #[param(value_type = Option<String>, format = DateTime)]
    pub updated_since: Option<String>,
    /// Also users that disappeared from Okta (with `deleted_at` set).
    pub include_deleted: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GroupsQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Groups per page (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Only groups whose copy changed at or after this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub updated_since: Option<String>,
    /// Also groups that disappeared from Okta.
    pub include_deleted: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Members per page (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Only members with these Okta statuses, comma-separated.
    #[param(style = Form, explode = false, value_type = Option<Vec<UserStatus>>)]
    pub status: Option<String>,
    /// Also members that disappeared from Okta.
    pub include_deleted: Option<bool>,
}

// ---------------------------------------------------------------- enums

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncModeDto {
    Full,
    Incremental,
}

impl From<SyncModeDto> for SyncMode {
    fn from(m: SyncModeDto) -> SyncMode {
        match m {
            SyncModeDto::Full => SyncMode::Full,
            SyncModeDto::Incremental => SyncMode::Incremental,
        }
    }
}

impl From<SyncMode> for SyncModeDto {
    fn from(m: SyncMode) -> SyncModeDto {
        match m {
            SyncMode::Full => SyncModeDto::Full,
            SyncMode::Incremental => SyncModeDto::Incremental,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerDto {
    Manual,
    Scheduled,
}

/// `queued → running → succeeded | failed | needs_review`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStateDto {
    Queued,
    Running,
    Succeeded,
    Failed,
    NeedsReview,
}

/// Why a run failed or a check did not pass; each has a remedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCodeDto {
    InvalidToken,
    AccessDenied,
    OrgNotFound,
    OktaUnavailable,
    Internal,
}

impl From<ErrorCode> for ErrorCodeDto {
    fn from(c: ErrorCode) -> ErrorCodeDto {
        match c {
            ErrorCode::InvalidToken => ErrorCodeDto::InvalidToken,
            ErrorCode::AccessDenied => ErrorCodeDto::AccessDenied,
            ErrorCode::OrgNotFound => ErrorCodeDto::OrgNotFound,
            ErrorCode::OktaUnavailable => ErrorCodeDto::OktaUnavailable,
            ErrorCode::Internal => ErrorCodeDto::Internal,
        }
    }
}

/// Okta's user statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    Staged,
    Provisioned,
    Active,
    Recovery,
    PasswordExpired,
    LockedOut,
    Suspended,
    Deprovisioned,
}

impl UserStatus {
    pub const ALL: [&'static str; 8] = [
        "STAGED",
        "PROVISIONED",
        "ACTIVE",
        "RECOVERY",
        "PASSWORD_EXPIRED",
        "LOCKED_OUT",
        "SUSPENDED",
        "DEPROVISIONED",
    ];
}

// ---------------------------------------------------------------- tenants

/// A tenant. Its API token is never part of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    /// The normalised instance URL.
    #[schema(example = "https://acme.okta.com")]
    pub okta_url: String,
    /// The Okta org id, once a sync or a verify has reached the org.
    pub okta_org_id: Option<String>,
    pub settings: TenantSettings,
    pub token_health: TokenHealth,
    /// When the next daily sync is due.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_sync_at: Option<OffsetDateTime>,
    /// When the last sync (of any mode) succeeded.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_success_at: Option<OffsetDateTime>,
    /// When the last full sync succeeded.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_full_success_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantSettings {
    /// The preferred local hour of the daily sync, if any.
    #[schema(minimum = 0, maximum = 23)]
    pub preferred_hour: Option<i32>,
    /// The IANA time zone of `preferred_hour` (UTC when null).
    pub time_zone: Option<String>,
    pub deletion_max_percent: f64,
    pub deletion_min_users: i32,
    /// The minute of the day (UTC, 0 to 1439) dirsync assigned to the daily
    /// sync so that tenants are spread over the day. Read-only.
    #[schema(minimum = 0, maximum = 1439)]
    pub schedule_minute: i32,
}

/// Okta revokes a token unused for 30 days; the daily sync keeps it alive.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenHealth {
    /// When Okta last accepted the token (a sync or a verify).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_okta_success_at: Option<OffsetDateTime>,
    /// When the token lapses if it is not used before: the last success
    /// plus 30 days.
    #[serde(with = "time::serde::rfc3339::option")]
    pub token_lapses_at: Option<OffsetDateTime>,
    /// True within 7 days of `token_lapses_at` (or after it).
    pub token_lapse_warning: bool,
}

impl TokenHealth {
    pub fn new(last_success: Option<OffsetDateTime>, now: OffsetDateTime) -> TokenHealth {
        let lapses = last_success.map(|t| t + TOKEN_IDLE_LIFETIME);
        TokenHealth {
            last_okta_success_at: last_success,
            token_lapses_at: lapses,
            token_lapse_warning: lapses.is_some_and(|l| l - now <= TOKEN_WARNING),
        }
    }
}

impl Tenant {
    pub fn new(view: TenantView, next_sync_at: Option<OffsetDateTime>, now: OffsetDateTime) -> Tenant {
        Tenant {
            id: view.id,
            name: view.name,
            okta_url: view.okta_url,
            okta_org_id: view.okta_org_id,
            settings: TenantSettings {
                preferred_hour: view.preferred_hour,
                time_zone: view.time_zone,
                deletion_max_percent: view.deletion_max_percent,
                deletion_min_users: view.deletion_min_users,
                schedule_minute: view.schedule_minute,
            },
            token_health: TokenHealth::new(view.last_okta_success_at, now),
            next_sync_at,
            last_success_at: view.last_success_at,
            last_full_success_at: view.last_full_success_at,
            created_at: view.created_at,
            updated_at: view.updated_at,
        }
    }
}

/// A tenant with its latest run and its active one.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantDetail {
    #[serde(flatten)]
    pub tenant: Tenant,
    /// The newest run, whatever its state.
    pub last_run: Option<Run>,
    /// The queued or running run, if there is one.
    pub active_run: Option<Run>,
}

// ---------------------------------------------------------------- runs

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
    /// Set when the run stopped in `needs_review` (and after it was confirmed).
    pub deletion_review: Option<DeletionReview>,
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
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunError {
    pub code: ErrorCodeDto,
    /// What happened, in words (for `internal`, only that it was ours).
    pub message: String,
    /// What the customer's admin can do about it.
    pub remedy: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletionReview {
    /// Users the run would remove once confirmed.
    pub pending_user_removals: Option<i64>,
    /// When someone confirmed (`POST /v1/syncs/{run_id}/confirm-deletions`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub confirmed_at: Option<OffsetDateTime>,
}

impl From<RunView> for Run {
    fn from(r: RunView) -> Run {
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
                _ => r.error_message.clone().unwrap_or_else(|| code.to_string()),
            };
            RunError {
                code: code.into(),
                message,
                remedy: code.remedy().to_owned(),
            }
        });
        let deletion_review =
            (state == RunStateDto::NeedsReview || r.deletions_confirmed_at.is_some()).then_some(DeletionReview {
                pending_user_removals: r.pending_user_removals,
                confirmed_at: r.deletions_confirmed_at,
            });
        Run {
            id: r.id,
            tenant_id: r.tenant_id,
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
            },
            error,
            deletion_review,
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

// ---------------------------------------------------------------- verify

/// What `POST /v1/tenants/{id}/verify` found.
#[derive(Debug, Serialize, ToSchema)]
pub struct Verification {
    pub status: VerifyStatus,
    /// What went wrong, in words (null when `ok`).
    pub message: Option<String>,
    /// What the customer's admin can do (null when `ok`).
    pub remedy: Option<String>,
    /// The Okta org id, when the org answered.
    pub org_id: Option<String>,
    /// The org's canonical Okta domain, when the org answered.
    pub okta_domain: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerifyStatus {
    Ok,
    InvalidToken,
    AccessDenied,
    OrgNotFound,
    OktaUnavailable,
}

// ---------------------------------------------------------------- directory

/// A synced user: the fields a signature uses, typed, and the whole profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    /// The Okta user id.
    #[schema(example = "00u1a2b3c4d5e6f7g8h9")]
    pub id: String,
    /// The Okta status (`ACTIVE`, `SUSPENDED`, `DEPROVISIONED`...).
    pub status: String,
    pub login: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub organization: Option<String>,
    pub mobile_phone: Option<String>,
    pub primary_phone: Option<String>,
    pub street_address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip_code: Option<String>,
    pub country_code: Option<String>,
    pub manager: Option<String>,
    pub manager_id: Option<String>,
    pub user_type_id: Option<String>,
    /// Every profile attribute Okta returned, custom ones included.
    #[schema(value_type = Object)]
    pub profile: serde_json::Value,
    #[serde(with = "time::serde::rfc3339::option")]
    pub created: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub activated: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub status_changed: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login: Option<OffsetDateTime>,
    /// Okta's `lastUpdated`.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_updated: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub password_changed: Option<OffsetDateTime>,
    /// When a sync found the user gone from Okta (only with `include_deleted`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub first_synced_at: OffsetDateTime,
    /// When a sync last changed this copy (what `updated_since` filters on).
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
}

impl From<UserRow> for User {
    fn from(u: UserRow) -> User {
        User {
            id: u.okta_id,
            status: u.status,
            login: u.login,
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            display_name: u.display_name,
            title: u.title,
            department: u.department,
            organization: u.organization,
            mobile_phone: u.mobile_phone,
            primary_phone: u.primary_phone,
            street_address: u.street_address,
            city: u.city,
            state: u.state,
            zip_code: u.zip_code,
            country_code: u.country_code,
            manager: u.manager,
            manager_id: u.manager_id,
            user_type_id: u.user_type_id,
            profile: u.profile,
            created: u.created,
            activated: u.activated,
            status_changed: u.status_changed,
            last_login: u.last_login,
            last_updated: u.last_updated,
            password_changed: u.password_changed,
            deleted_at: u.deleted_at,
            first_synced_at: u.first_synced_at,
            changed_at: u.changed_at,
        }
    }
}

/// A synced group.
#[derive(Debug, Serialize, ToSchema)]
pub struct Group {
    /// The Okta group id.
    pub id: String,
    /// `OKTA_GROUP`, `APP_GROUP` or `BUILT_IN`.
    #[serde(rename = "type")]
    pub group_type: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub object_class: Vec<String>,
    #[schema(value_type = Object)]
    pub profile: serde_json::Value,
    /// Members in the synced copy.
    pub member_count: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub created: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_updated: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_membership_updated: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub first_synced_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
}

impl From<GroupRow> for Group {
    fn from(g: GroupRow) -> Group {
        Group {
            id: g.okta_id,
            group_type: g.group_type,
            name: g.name,
            description: g.description,
            object_class: g.object_class,
            profile: g.profile,
            member_count: g.member_count,
            created: g.created,
            last_updated: g.last_updated,
            last_membership_updated: g.last_membership_updated,
            deleted_at: g.deleted_at,
            first_synced_at: g.first_synced_at,
            changed_at: g.changed_at,
        }
    }
}

macro_rules! page {
    ($name:ident, $item:ty, $what:literal) => {
        #[doc = concat!("A page of ", $what, ".")]
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Pass as `cursor` to get the next page; null on the last page.
            pub next_cursor: Option<String>,
        }
    };
}
page!(TenantPage, Tenant, "tenants");
page!(RunPage, Run, "runs, newest first");
page!(UserPage, User, "users, in id order");
page!(GroupPage, Group, "groups, in id order");

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

/// `GET /readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub database: bool,
    pub broker: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_token_lapses_thirty_days_after_its_last_use_and_warns_a_week_ahead() {
        let used = datetime!(2026-11-01 12:00 UTC);
        let fresh = TokenHealth::new(Some(used), datetime!(2026-11-20 12:00 UTC));
        assert_eq!(fresh.token_lapses_at, Some(datetime!(2026-12-01 12:00 UTC)));
        assert!(!fresh.token_lapse_warning);
        let close = TokenHealth::new(Some(used), datetime!(2026-11-24 12:00 UTC));
        assert!(close.token_lapse_warning);
        let lapsed = TokenHealth::new(Some(used), datetime!(2026-12-05 00:00 UTC));
        assert!(lapsed.token_lapse_warning);
        let never = TokenHealth::new(None, datetime!(2026-12-05 00:00 UTC));
        assert_eq!((never.token_lapses_at, never.token_lapse_warning), (None, false));
    }

    #[test]
    fn settings_tell_absent_from_null() {
        let absent: UpdateSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.preferred_hour, None);
        let null: UpdateSettings = serde_json::from_str(r#"{"preferred_hour":null}"#).unwrap();
        assert_eq!(null.preferred_hour, Some(None));
        let set: UpdateSettings = serde_json::from_str(r#"{"preferred_hour":7}"#).unwrap();
        assert_eq!(set.preferred_hour, Some(Some(7)));
    }

    #[test]
    fn debug_of_a_request_never_shows_the_token() {
        let body: CreateTenant =
            serde_json::from_str(r#"{"name":"a","okta_url":"https://acme.okta.com","api_token":"00SECRETtoken"}"#)
                .unwrap();
        assert!(!format!("{body:?}").contains("SECRET"));
    }
}
