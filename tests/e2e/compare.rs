//! The synced database against the simulator's org, field by field.

use dirsync_domain::TenantId;
use dirsync_okta_sim::Org;
use dirsync_store::Store;
use serde_json::Value;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

fn ts(v: &Value) -> Option<OffsetDateTime> {
    v.as_str()
        .map(|s| OffsetDateTime::parse(s, &Rfc3339).expect("okta-sim timestamps are RFC 3339"))
}

/// The typed signature columns and the profile attribute each comes from.
const TYPED: &[(&str, &str)] = &[
    ("login", "login"),
    ("email", "email"),
    ("first_name", "firstName"),
    ("last_name", "lastName"),
    ("display_name", "displayName"),
    ("title", "title"),
    ("department", "department"),
    ("organization", "organization"),
    ("mobile_phone", "mobilePhone"),
    ("primary_phone", "primaryPhone"),
    ("street_address", "streetAddress"),
    ("city", "city"),
    ("state", "state"),
    ("zip_code", "zipCode"),
    ("country_code", "countryCode"),
    ("manager", "manager"),
    ("manager_id", "managerId"),
];

pub async fn assert_users_equal(store: &Store, tenant: TenantId, org: &Org, base: &url::Url) {
    assert_users_equal_but(store, tenant, org, base, &BTreeSet::new()).await
}

/// As [`assert_users_equal`], tolerating stored users in `stale` that the org
/// no longer has (hard deletes, which only a full sync can see).
pub async fn assert_users_equal_but(
    store: &Store,
    tenant: TenantId,
    org: &Org,
    base: &url::Url,
    stale: &BTreeSet<String>,
) {
    let rows = sqlx::query("SELECT * FROM users WHERE tenant_id = $1 AND deleted_at IS NULL")
        .bind(tenant)
        .fetch_all(store.pool())
        .await
        .unwrap();
    let mut by_id: BTreeMap<String, sqlx::postgres::PgRow> =
        rows.into_iter().map(|r| (r.get::<String, _>("okta_id"), r)).collect();
    let extra: BTreeSet<String> = by_id.keys().filter(|id| org.user(id).is_none()).cloned().collect();
    assert!(
        extra.is_subset(stale),
        "stored users the org does not have: {:?}",
        extra.difference(stale).collect::<Vec<_>>()
    );
    by_id.retain(|id, _| !stale.contains(id));
    assert_eq!(
        by_id.len(),
        org.users().len(),
        "every user of the org, every status, is stored once"
    );
    for user in org.users() {
        let json = user.to_json(base);
        let row = by_id
            .remove(user.id())
            .unwrap_or_else(|| panic!("user {} missing", user.id()));
        let id = user.id();
        assert_eq!(
            row.get::<String, _>("status"),
            json["status"].as_str().unwrap(),
            "{id} status"
        );
        for (column, field) in [
            ("created", "created"),
            ("activated", "activated"),
            ("status_changed", "statusChanged"),
            ("last_login", "lastLogin"),
            ("last_updated", "lastUpdated"),
            ("password_changed", "passwordChanged"),
        ] {
            assert_eq!(
                row.get::<Option<OffsetDateTime>, _>(column),
                ts(&json[field]),
                "{id} {field}"
            );
        }
        assert_eq!(
            row.get::<Option<String>, _>("user_type_id").as_deref(),
            json["type"]["id"].as_str(),
            "{id} type"
        );
        assert_eq!(
            row.get::<Value, _>("profile"),
            json["profile"],
            "{id} profile, every attribute"
        );
        for (column, attr) in TYPED {
            assert_eq!(
                row.get::<Option<String>, _>(*column).as_deref(),
                json["profile"][attr].as_str(),
                "{id} {column}"
            );
        }
    }
}

pub async fn assert_groups_equal(store: &Store, tenant: TenantId, org: &Org, base: &url::Url) {
    assert_groups_equal_but(store, tenant, org, base, &BTreeSet::new()).await
}

pub async fn assert_groups_equal_but(
    store: &Store,
    tenant: TenantId,
    org: &Org,
    base: &url::Url,
    stale: &BTreeSet<String>,
) {
    let rows = sqlx::query("SELECT * FROM groups WHERE tenant_id = $1 AND deleted_at IS NULL")
        .bind(tenant)
        .fetch_all(store.pool())
        .await
        .unwrap();
    let mut by_id: BTreeMap<String, sqlx::postgres::PgRow> =
        rows.into_iter().map(|r| (r.get::<String, _>("okta_id"), r)).collect();
    by_id.retain(|id, _| !stale.contains(id));
    assert_eq!(by_id.len(), org.groups().len(), "every group is stored once");
    for group in org.groups() {
        let json = group.to_json(base, false);
        let id = group.id();
        let row = by_id.remove(id).unwrap_or_else(|| panic!("group {id} missing"));
        assert_eq!(
            row.get::<String, _>("group_type"),
            json["type"].as_str().unwrap(),
            "{id} type"
        );
        assert_eq!(row.get::<Value, _>("profile"), json["profile"], "{id} profile");
        assert_eq!(
            row.get::<Option<String>, _>("name").as_deref(),
            json["profile"]["name"].as_str(),
            "{id} name"
        );
        for (column, field) in [
            ("created", "created"),
            ("last_updated", "lastUpdated"),
            ("last_membership_updated", "lastMembershipUpdated"),
        ] {
            assert_eq!(
                row.get::<Option<OffsetDateTime>, _>(column),
                ts(&json[field]),
                "{id} {field}"
            );
        }
        let classes: Vec<String> = serde_json::from_value(json["objectClass"].clone()).unwrap();
        assert_eq!(row.get::<Vec<String>, _>("object_class"), classes, "{id} objectClass");
    }
}

pub async fn assert_memberships_equal(store: &Store, tenant: TenantId, org: &Org) {
    assert_memberships_equal_but(store, tenant, org, &BTreeSet::new(), &BTreeSet::new()).await
}

/// Tolerates the memberships of groups in `stale_groups` (deleted in Okta,
/// seen only by a full sync).
/// and the (group, user) pairs in `stale_pairs`.
pub async fn assert_memberships_equal_but(
    store: &Store,
    tenant: TenantId,
    org: &Org,
    stale_groups: &BTreeSet<String>,
    stale_pairs: &BTreeSet<(String, String)>,
) {
    let mut stored: BTreeSet<(String, String)> =
        sqlx::query_as("SELECT group_id, user_id FROM group_members WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_all(store.pool())
            .await
            .unwrap()
            .into_iter()
            .collect();
    let expected: BTreeSet<(String, String)> = org
        .groups()
        .iter()
        .flat_map(|g| {
            org.members(g.id())
                .into_iter()
                .map(move |u| (g.id().to_owned(), u.to_owned()))
        })
        .collect();
    assert!(!expected.is_empty());
    stored.retain(|pair| !stale_groups.contains(&pair.0) && !stale_pairs.contains(pair));
    assert_eq!(stored.len(), expected.len(), "membership count");
    assert!(stored == expected, "every membership of every group, and no other");
}

/// Every directory row's physical version: equal before and after means no
/// row was rewritten.
pub async fn row_versions(store: &Store, tenant: TenantId) -> BTreeMap<String, String> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT 'u:' || okta_id, xmin::text FROM users WHERE tenant_id = $1
         UNION ALL SELECT 'g:' || okta_id, xmin::text FROM groups WHERE tenant_id = $1
         UNION ALL SELECT 'm:' || group_id || '/' || user_id, xmin::text FROM group_members WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_all(store.pool())
    .await
    .unwrap();
    rows.into_iter().collect()
}
