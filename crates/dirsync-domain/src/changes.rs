//! Which change event a write of a user or group means, if any: the
//! classification behind `docs/EVENTS.md`.
//!
//! The store reads the rows as they were (locked, in the writer's
//! transaction), hands them here as a [`UserBefore`] / [`GroupBefore`]
//! beside the new record, and writes whatever comes back to the outbox.
//!
//! The rules:
//! - no stored row, or a soft-deleted one (`deleted_at` set): `*.created`;
//! - only fields a consumer can use count: `lastUpdated` (and a group's
//!   `lastMembershipUpdated`, which membership events already say) moving
//!   alone is no event;
//! - a user's status transition names the event (`user.deactivated` into
//!   `DEPROVISIONED`, `user.reactivated` out of it, `user.suspended` /
//!   `user.unsuspended` likewise); any other change is `user.updated`;
//! - `changed_fields` lists the top-level fields that changed, then
//!   `profile.<attr>` for every profile attribute added, removed or changed,
//!   sorted by name.

use crate::{GroupRecord, UserRecord};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

/// A user as stored before this write: the fields whose change is an event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserBefore<'a> {
    pub status: &'a str,
    pub activated: Option<OffsetDateTime>,
    pub status_changed: Option<OffsetDateTime>,
    pub last_login: Option<OffsetDateTime>,
    pub password_changed: Option<OffsetDateTime>,
    pub user_type_id: Option<&'a str>,
    pub profile: &'a Value,
    /// Soft-deleted (`deleted_at` set): seen again, it is created anew.
    pub deleted: bool,
}

/// A group as stored before this write.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupBefore<'a> {
    pub group_type: &'a str,
    pub object_class: &'a [String],
    pub profile: &'a Value,
    pub deleted: bool,
}

/// The event a write means: its type (the routing key) and its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub event_type: &'static str,
    pub payload: Value,
}

/// The event for a user written over `before` (`None`: never stored), or
/// `None` when nothing a consumer uses changed.
pub fn user_change(before: Option<UserBefore<'_>>, after: &UserRecord) -> Option<Change> {
    let Some(old) = before.filter(|o| !o.deleted) else {
        return Some(Change {
            event_type: "user.created",
            payload: json!({ "status": after.status }),
        });
    };
    let mut fields: Vec<String> = [
        ("status", old.status != after.status),
        ("activated", old.activated != after.activated),
        ("statusChanged", old.status_changed != after.status_changed),
        ("lastLogin", old.last_login != after.last_login),
        ("passwordChanged", old.password_changed != after.password_changed),
        ("type", old.user_type_id != after.user_type_id.as_deref()),
    ]
    .into_iter()
    .filter(|(_, changed)| *changed)
    .map(|(name, _)| name.to_owned())
    .collect();
    fields.extend(profile_changes(old.profile, &after.profile));
    if fields.is_empty() {
        return None;
    }
    Some(Change {
        event_type: user_status_event(old.status, &after.status),
        payload: json!({ "changed_fields": fields, "status": after.status, "previous_status": old.status }),
    })
}

/// The event type of a changed user, from its status before and after.
pub fn user_status_event(before: &str, after: &str) -> &'static str {
    match (before, after) {
        (a, b) if a == b => "user.updated",
        (_, "DEPROVISIONED") => "user.deactivated",
        ("DEPROVISIONED", _) => "user.reactivated",
        (_, "SUSPENDED") => "user.suspended",
        ("SUSPENDED", _) => "user.unsuspended",
        _ => "user.updated",
    }
}

/// The event for a group written over `before`, or `None` when nothing a
/// consumer uses changed.
pub fn group_change(before: Option<GroupBefore<'_>>, after: &GroupRecord) -> Option<Change> {
    let Some(old) = before.filter(|o| !o.deleted) else {
        return Some(Change {
            event_type: "group.created",
            payload: json!({ "type": after.group_type }),
        });
    };
    let mut fields = Vec::new();
    if old.group_type != after.group_type {
        fields.push("type".to_owned());
    }
    if old.object_class != after.object_class.as_slice() {
        fields.push("objectClass".to_owned());
    }
    fields.extend(profile_changes(old.profile, &after.profile));
    if fields.is_empty() {
        return None;
    }
    Some(Change {
        event_type: "group.updated",
        payload: json!({ "changed_fields": fields }),
    })
}

/// `profile.<attr>` for every attribute added, removed or changed, sorted
/// by name. An attribute set to `null` differs from one absent (Okta sends
/// its nulls, so a `null` appearing or going is a schema change).
pub fn profile_changes(before: &Value, after: &Value) -> Vec<String> {
    let empty = Map::new();
    let old = before.as_object().unwrap_or(&empty);
    let new = after.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| format!("profile.{k}"))
        .collect()
}

/// Whether a run's changes reach consumers as one `directory.synced`
/// event instead of one event per row: on the tenant's first successful
/// sync (the whole directory arrives; nothing is a change yet), and when
/// the run's per-row events would be strictly more than `percent` of the
/// directory's rows (users, groups and memberships stored after the run);
/// at 100 a later run always keeps its per-row events (it may have more
/// events than rows: removals leave events, not rows). A consumer re-reads
/// the directory on `directory.synced`; smaller changes keep their
/// per-row events.
pub fn summarized(first_sync: bool, row_events: i64, directory_rows: i64, percent: f64) -> bool {
    first_sync || (percent < 100.0 && (row_events as f64) > (directory_rows as f64) * percent / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn record(status: &str, profile: Value) -> UserRecord {
        UserRecord {
            okta_id: "00u1".into(),
            status: status.into(),
            created: None,
            activated: None,
            status_changed: None,
            last_login: None,
            last_updated: Some(datetime!(2026-11-29 12:00 UTC)),
            password_changed: None,
            user_type_id: None,
            profile,
        }
    }

    fn before<'a>(status: &'a str, profile: &'a Value) -> UserBefore<'a> {
        UserBefore {
            status,
            activated: None,
            status_changed: None,
            last_login: None,
            password_changed: None,
            user_type_id: None,
            profile,
            deleted: false,
        }
    }

    fn group(profile: Value) -> GroupRecord {
        GroupRecord {
            okta_id: "00g1".into(),
            group_type: "OKTA_GROUP".into(),
            created: None,
            last_updated: Some(datetime!(2026-11-29 12:00 UTC)),
            last_membership_updated: Some(datetime!(2026-11-29 12:00 UTC)),
            object_class: vec!["okta:user_group".into()],
            profile,
        }
    }

    #[test]
    fn a_user_whose_last_updated_alone_moved_is_no_event() {
        let profile = json!({"title": "Engineer", "city": null});
        // The stored row has no lastUpdated at all: it is not compared.
        let after = record("ACTIVE", profile.clone());
        assert_eq!(user_change(Some(before("ACTIVE", &profile)), &after), None);
    }

    #[test]
    fn each_status_transition_has_its_event_type() {
        let p = json!({});
        let cases = [
            ("ACTIVE", "DEPROVISIONED", "user.deactivated"),
            ("SUSPENDED", "DEPROVISIONED", "user.deactivated"),
            ("DEPROVISIONED", "ACTIVE", "user.reactivated"),
            ("DEPROVISIONED", "PROVISIONED", "user.reactivated"),
            ("ACTIVE", "SUSPENDED", "user.suspended"),
            ("SUSPENDED", "ACTIVE", "user.unsuspended"),
            ("ACTIVE", "LOCKED_OUT", "user.updated"),
            ("STAGED", "ACTIVE", "user.updated"),
        ];
        for (from, to, expected) in cases {
            let change = user_change(Some(before(from, &p)), &record(to, p.clone())).unwrap();
            assert_eq!(change.event_type, expected, "{from} -> {to}");
            assert_eq!(change.payload["status"], to);
            assert_eq!(change.payload["previous_status"], from);
            assert_eq!(change.payload["changed_fields"], json!(["status"]));
        }
        assert_eq!(user_status_event("ACTIVE", "ACTIVE"), "user.updated");
        assert_eq!(user_status_event("SUSPENDED", "SUSPENDED"), "user.updated");
    }

    #[test]
    fn a_changed_field_with_the_same_status_is_an_update() {
        let p = json!({});
        let mut old = before("ACTIVE", &p);
        old.last_login = Some(datetime!(2026-11-01 08:00 UTC));
        old.user_type_id = Some("oty1");
        let mut after = record("ACTIVE", p.clone());
        after.last_login = Some(datetime!(2026-11-29 08:00 UTC));
        after.user_type_id = Some("oty2".into());
        let change = user_change(Some(old), &after).unwrap();
        assert_eq!(change.event_type, "user.updated");
        assert_eq!(change.payload["changed_fields"], json!(["lastLogin", "type"]));
    }

    #[test]
    fn a_soft_deleted_row_seen_again_is_created() {
        let p = json!({});
        let deleted = UserBefore {
            deleted: true,
            ..before("ACTIVE", &p)
        };
        let change = user_change(Some(deleted), &record("ACTIVE", p.clone())).unwrap();
        assert_eq!(change.event_type, "user.created");
        assert_eq!(change.payload, json!({"status": "ACTIVE"}));
        assert_eq!(
            user_change(None, &record("STAGED", p.clone())).unwrap().event_type,
            "user.created"
        );

        let classes = vec!["okta:user_group".to_owned()];
        let gone = GroupBefore {
            group_type: "OKTA_GROUP",
            object_class: &classes,
            profile: &p,
            deleted: true,
        };
        let change = group_change(Some(gone), &group(p.clone())).unwrap();
        assert_eq!(change.event_type, "group.created");
        assert_eq!(change.payload, json!({"type": "OKTA_GROUP"}));
        assert_eq!(
            group_change(None, &group(p.clone())).unwrap().event_type,
            "group.created"
        );
    }

    #[test]
    fn profile_attributes_added_removed_or_changed_are_listed_sorted() {
        let old = json!({"title": "A", "city": "X", "zip": "1", "nick": null});
        let new = json!({"title": "B", "city": "X", "pronouns": "they", "nick": null, "manager": null});
        assert_eq!(
            profile_changes(&old, &new),
            ["profile.manager", "profile.pronouns", "profile.title", "profile.zip"]
        );
        assert!(profile_changes(&old, &old).is_empty());
        // A profile that is not an object (never sent by Okta) reads as empty.
        assert_eq!(profile_changes(&Value::Null, &json!({"a": 1})), ["profile.a"]);

        let change = user_change(Some(before("ACTIVE", &old)), &record("ACTIVE", new.clone())).unwrap();
        assert_eq!(change.event_type, "user.updated");
        assert_eq!(
            change.payload["changed_fields"],
            json!(["profile.manager", "profile.pronouns", "profile.title", "profile.zip"])
        );
    }

    #[test]
    fn a_group_changes_on_type_object_class_or_profile_never_on_timestamps_alone() {
        let p = json!({"name": "Sales", "description": null});
        let classes = vec!["okta:user_group".to_owned()];
        let old = GroupBefore {
            group_type: "OKTA_GROUP",
            object_class: &classes,
            profile: &p,
            deleted: false,
        };
        assert_eq!(group_change(Some(old), &group(p.clone())), None);

        let mut renamed = group(json!({"name": "Sales EMEA", "description": null}));
        renamed.group_type = "APP_GROUP".into();
        renamed.object_class = vec!["okta:windows_security_principal".into()];
        let change = group_change(Some(old), &renamed).unwrap();
        assert_eq!(change.event_type, "group.updated");
        assert_eq!(
            change.payload,
            json!({"changed_fields": ["type", "objectClass", "profile.name"]})
        );
    }

    #[test]
    fn a_first_sync_is_always_one_summary_and_later_runs_only_past_their_share() {
        assert!(summarized(true, 0, 0, 20.0), "a first sync, even of an empty org");
        assert!(summarized(true, 1, 1_000, 100.0));
        // 20% of 1,000 rows is 200: 200 events stay per row, 201 are summarized.
        assert!(!summarized(false, 200, 1_000, 20.0));
        assert!(summarized(false, 201, 1_000, 20.0));
        assert!(!summarized(false, 0, 0, 20.0), "nothing changed, nothing to say");
        assert!(summarized(false, 1, 0, 20.0), "everything went");
        assert!(
            !summarized(false, 5_000, 1_000, 100.0),
            "at 100% a later run is never summarized"
        );
        assert!(summarized(false, 5_000, 1_000, 99.9));
    }
}
