//! Every stored column reaches the event rules and the unchanged check.

use super::*;
use time::macros::datetime;

// The rules are the domain's (`dirsync_domain::changes`, tested there);
// these check that every stored column reaches them.

fn record() -> UserRecord {
    UserRecord {
        okta_id: "00u1".into(),
        status: "ACTIVE".into(),
        created: None,
        activated: Some(datetime!(2026-01-01 0:00 UTC)),
        status_changed: Some(datetime!(2026-01-02 0:00 UTC)),
        last_login: Some(datetime!(2026-01-03 0:00 UTC)),
        last_updated: Some(datetime!(2026-11-29 0:00 UTC)),
        password_changed: Some(datetime!(2026-01-04 0:00 UTC)),
        user_type_id: Some("oty1".into()),
        profile: json!({"title": "A"}),
    }
}

fn stored(r: &UserRecord) -> StoredUser {
    StoredUser {
        tenant_id: TenantId::nil(),
        okta_id: r.okta_id.clone(),
        status: r.status.clone(),
        created: r.created,
        activated: r.activated,
        status_changed: r.status_changed,
        last_login: r.last_login,
        last_updated: r.last_updated,
        password_changed: r.password_changed,
        user_type_id: r.user_type_id.clone(),
        profile: r.profile.clone(),
        deleted: false,
    }
}

#[test]
fn every_stored_user_column_reaches_the_event_rules() {
    let new = record();
    assert_eq!(user_event(Some(&stored(&new)), &new), None);
    type Edit = fn(&mut StoredUser);
    let edits: [(&str, Edit); 7] = [
        ("status", |s| s.status = "SUSPENDED".into()),
        ("activated", |s| s.activated = None),
        ("statusChanged", |s| s.status_changed = None),
        ("lastLogin", |s| s.last_login = None),
        ("passwordChanged", |s| s.password_changed = None),
        ("type", |s| s.user_type_id = None),
        ("profile.title", |s| s.profile = json!({"title": "B"})),
    ];
    for (field, edit) in edits {
        let mut old = stored(&new);
        edit(&mut old);
        let (_, payload) = user_event(Some(&old), &new).unwrap();
        assert_eq!(payload["changed_fields"], json!([field]));
    }
    let mut deleted = stored(&new);
    deleted.deleted = true;
    assert_eq!(user_event(Some(&deleted), &new).unwrap().0, "user.created");
}

/// A row left out of the upsert as unchanged must be equal in every
/// column the upsert's `IS DISTINCT FROM` compares: one column missed
/// here would lose that column's updates.
#[test]
fn a_stored_user_is_the_same_only_when_every_column_the_upsert_compares_is() {
    let new = record();
    assert!(stored(&new).same_as(&new));
    type Edit = fn(&mut StoredUser);
    let edits: [(&str, Edit); 11] = [
        ("status", |s| s.status = "SUSPENDED".into()),
        ("created", |s| s.created = Some(datetime!(2020-01-01 0:00 UTC))),
        ("activated", |s| s.activated = None),
        ("status_changed", |s| s.status_changed = None),
        ("last_login", |s| s.last_login = None),
        ("last_updated", |s| s.last_updated = None),
        ("password_changed", |s| s.password_changed = None),
        ("user_type_id", |s| s.user_type_id = None),
        ("profile", |s| s.profile = json!({"title": "B"})),
        ("profile null attribute", |s| {
            s.profile = json!({"title": "A", "nickName": null})
        }),
        ("deleted", |s| s.deleted = true),
    ];
    for (column, edit) in edits {
        let mut old = stored(&new);
        edit(&mut old);
        assert!(!old.same_as(&new), "{column}");
    }
}

#[test]
fn every_stored_group_column_reaches_the_event_rules() {
    let new = GroupRecord {
        okta_id: "00g1".into(),
        group_type: "OKTA_GROUP".into(),
        created: None,
        last_updated: None,
        last_membership_updated: None,
        object_class: vec!["okta:user_group".into()],
        profile: json!({"name": "Sales"}),
    };
    let stored = StoredGroup {
        tenant_id: TenantId::nil(),
        okta_id: "00g1".into(),
        group_type: "APP_GROUP".into(),
        created: None,
        last_updated: None,
        last_membership_updated: None,
        object_class: vec![],
        profile: json!({"name": "Sales EMEA"}),
        deleted: false,
    };
    let (kind, payload) = group_event(Some(&stored), &new).unwrap();
    assert_eq!(kind, "group.updated");
    assert_eq!(
        payload["changed_fields"],
        json!(["type", "objectClass", "profile.name"])
    );
    let deleted = StoredGroup {
        deleted: true,
        ..stored
    };
    assert_eq!(group_event(Some(&deleted), &new).unwrap().0, "group.created");
}

/// As for users: every column the groups upsert compares.
#[test]
fn a_stored_group_is_the_same_only_when_every_column_the_upsert_compares_is() {
    let new = GroupRecord {
        okta_id: "00g1".into(),
        group_type: "OKTA_GROUP".into(),
        created: Some(datetime!(2026-01-01 0:00 UTC)),
        last_updated: Some(datetime!(2026-01-02 0:00 UTC)),
        last_membership_updated: Some(datetime!(2026-01-03 0:00 UTC)),
        object_class: vec!["okta:user_group".into()],
        profile: json!({"name": "Sales"}),
    };
    let same = StoredGroup {
        tenant_id: TenantId::nil(),
        okta_id: "00g1".into(),
        group_type: new.group_type.clone(),
        created: new.created,
        last_updated: new.last_updated,
        last_membership_updated: new.last_membership_updated,
        object_class: new.object_class.clone(),
        profile: new.profile.clone(),
        deleted: false,
    };
    assert!(same.same_as(&new));
    type Edit = fn(&mut StoredGroup);
    let edits: [(&str, Edit); 7] = [
        ("group_type", |s| s.group_type = "APP_GROUP".into()),
        ("created", |s| s.created = None),
        ("last_updated", |s| s.last_updated = None),
        ("last_membership_updated", |s| s.last_membership_updated = None),
        ("object_class", |s| s.object_class = vec![]),
        ("profile", |s| s.profile = json!({"name": "Sales EMEA"})),
        ("deleted", |s| s.deleted = true),
    ];
    for (column, edit) in edits {
        let mut old = same.clone();
        edit(&mut old);
        assert!(!old.same_as(&new), "{column}");
    }
}
