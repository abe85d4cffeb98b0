//! The synced directory, and the pages every listing answers with.

use super::{Run, Tenant};
use dirsync_store::{GroupRow, UserRow};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

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
