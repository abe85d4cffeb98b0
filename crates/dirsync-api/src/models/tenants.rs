//! Tenants, their token health, and what `verify` found.

use super::{CredentialKindDto, Run};
use dirsync_store::TenantView;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

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
    /// What the tenant syncs with: an API token or a service app.
    pub credential_kind: CredentialKindDto,
    /// The service app's client ID, once given (`GET
    /// /v1/tenants/{id}/service-app` has its keys and setup steps).
    pub service_app_client_id: Option<String>,
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
    pub deletion_max_percent_groups: f64,
    pub deletion_min_groups: i32,
    pub deletion_max_percent_memberships: f64,
    pub deletion_min_memberships: i32,
    /// Runs whose per-row events would pass this percentage of the
    /// directory's rows publish one `directory.synced` event instead.
    pub event_summary_percent: f64,
    /// The minute of the day (UTC, 0 to 1439) dirsync assigned to the daily
    /// sync so that tenants are spread over the day. Read-only.
    #[schema(minimum = 0, maximum = 1439)]
    pub schedule_minute: i32,
}

/// Okta revokes a token unused for 30 days; the daily sync keeps it alive.
/// A service app does not lapse: `token_lapses_at` is null and no warning
/// is raised for one.
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
        TokenHealth {
            last_okta_success_at: last_success,
            token_lapses_at: dirsync_domain::token_lapses_at(last_success),
            token_lapse_warning: dirsync_domain::token_lapse_warning(last_success, now),
        }
    }
}

impl Tenant {
    pub fn new(view: TenantView, next_sync_at: Option<OffsetDateTime>, now: OffsetDateTime) -> Tenant {
        let kind = if view.credential_kind == "service_app" {
            CredentialKindDto::ServiceApp
        } else {
            CredentialKindDto::ApiToken
        };
        let token_health = match kind {
            CredentialKindDto::ApiToken => TokenHealth::new(view.last_okta_success_at, now),
            CredentialKindDto::ServiceApp => TokenHealth {
                last_okta_success_at: view.last_okta_success_at,
                token_lapses_at: None,
                token_lapse_warning: false,
            },
        };
        Tenant {
            id: view.id.into(),
            name: view.name,
            okta_url: view.okta_url,
            okta_org_id: view.okta_org_id,
            credential_kind: kind,
            service_app_client_id: view.service_app_client_id,
            settings: TenantSettings {
                preferred_hour: view.preferred_hour,
                time_zone: view.time_zone,
                deletion_max_percent: view.deletion_max_percent,
                deletion_min_users: view.deletion_min_users,
                deletion_max_percent_groups: view.deletion_max_percent_groups,
                deletion_min_groups: view.deletion_min_groups,
                deletion_max_percent_memberships: view.deletion_max_percent_memberships,
                deletion_min_memberships: view.deletion_min_memberships,
                event_summary_percent: view.event_summary_percent,
                schedule_minute: view.schedule_minute,
            },
            token_health,
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
    /// The service app's client ID or public key does not match Okta's.
    InvalidClient,
    /// The service app lacks a scope it needs (the message names it).
    MissingScope,
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
}
