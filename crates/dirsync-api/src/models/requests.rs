//! Request bodies and query strings.

use super::{KeyAlgorithmDto, SyncModeDto, UserStatus};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};
use utoipa::{IntoParams, ToSchema};

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
    /// returned. Give this or `service_app`, not both.
    #[schema(value_type = Option<String>, format = Password, write_only, min_length = 1, max_length = 512, pattern = r"^[ \t\r\n]*[!-~]+[ \t\r\n]*$")]
    pub api_token: Option<SecretString>,
    /// Sync through an OAuth 2.0 service app instead of a token: dirsync
    /// makes a key pair, whose public key (`GET
    /// /v1/tenants/{id}/service-app`) the admin adds to an API Services app
    /// in Okta. Give this or `api_token`, not both.
    pub service_app: Option<ServiceAppInput>,
}

/// The OAuth 2.0 service app a tenant syncs through.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceAppInput {
    /// The app's client ID as Okta shows it (`0oa…`). May be given later
    /// (`PUT /v1/tenants/{id}/credentials`): a tenant without one is not
    /// synced yet.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[A-Za-z0-9_-]+$",
        example = "0oa1b2c3d4e5f6g7h8i9"
    )]
    pub client_id: Option<String>,
    /// The key pair's algorithm when one is made here (registration):
    /// `ES256` (default) or `RS256`.
    pub key_algorithm: Option<KeyAlgorithmDto>,
}

/// Makes a new key pair for a tenant's service app.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServiceAppKeyRequest {
    /// `ES256` (default) or `RS256`.
    pub algorithm: Option<KeyAlgorithmDto>,
}

/// Replaces a tenant's credentials.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceCredentials {
    /// A new instance URL; the current one is kept when absent.
    #[schema(min_length = 1, max_length = 2048, example = "https://acme.okta.com")]
    pub okta_url: Option<String>,
    /// A new Okta API token (the tenant then syncs with it). Stored
    /// encrypted; never returned. Give this or `service_app`, not both.
    #[schema(value_type = Option<String>, format = Password, write_only, min_length = 1, max_length = 512, pattern = r"^[ \t\r\n]*[!-~]+[ \t\r\n]*$")]
    pub api_token: Option<SecretString>,
    /// Sync through the tenant's service app: its client ID (needed the
    /// first time), with the newest key made for it
    /// (`POST /v1/tenants/{id}/service-app/keys`). The directory is kept.
    pub service_app: Option<ServiceAppInput>,
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
    /// The same guard for groups: more than this percentage of the groups...
    #[schema(minimum = 0.0, maximum = 100.0)]
    pub deletion_max_percent_groups: Option<f64>,
    /// ...and at least this many.
    #[schema(minimum = 0, maximum = 1000000)]
    pub deletion_min_groups: Option<i64>,
    /// The same guard for memberships: more than this percentage of them...
    #[schema(minimum = 0.0, maximum = 100.0)]
    pub deletion_max_percent_memberships: Option<f64>,
    /// ...and at least this many.
    #[schema(minimum = 0, maximum = 1000000)]
    pub deletion_min_memberships: Option<i64>,
    /// A run whose per-row change events would be more than this percentage
    /// of the directory's rows publishes one `directory.synced` event
    /// instead (a tenant's first sync always does; 100 keeps per-row events
    /// for every later run). See docs/EVENTS.md.
    #[schema(minimum = 0.0, maximum = 100.0)]
    pub event_summary_percent: Option<f64>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percent_just_over_100_is_read_as_over_100() {
        // Parsed exactly (serde_json's float_roundtrip), so the bound check
        // refuses it; the fast path read it as 100.0.
        let body: serde_json::Value = serde_json::from_str(r#"{"p": 100.00000000000001}"#).unwrap();
        assert!(body["p"].as_f64().unwrap() > 100.0);
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
