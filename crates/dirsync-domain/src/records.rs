use crate::{OktaGroupId, OktaUserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A user as the writer stores it: Okta's lifecycle fields and the whole
/// profile. The typed signature columns (title, department, phones...) are
/// derived from `profile` by the database, so they can never disagree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub okta_id: OktaUserId,
    pub status: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub created: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub activated: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub status_changed: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_updated: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub password_changed: Option<OffsetDateTime>,
    pub user_type_id: Option<String>,
    /// Every profile attribute Okta returned, custom ones and nulls included.
    pub profile: serde_json::Value,
}

/// A group as the writer stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub okta_id: OktaGroupId,
    /// `OKTA_GROUP`, `APP_GROUP` or `BUILT_IN`.
    pub group_type: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub created: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_updated: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_membership_updated: Option<OffsetDateTime>,
    pub object_class: Vec<String>,
    /// `name`, `description` and, for app groups, the app's extra attributes.
    pub profile: serde_json::Value,
}
