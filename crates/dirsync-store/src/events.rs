//! Change events: what a write changed, as the product wants to hear it.
//! Written in the writer's transaction (the outbox), relayed afterwards.

use dirsync_domain::{GroupRecord, UserRecord};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// One outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub tenant_id: Uuid,
    pub run_id: Uuid,
    pub event_type: &'static str,
    pub okta_id: String,
    pub payload: Value,
}

/// A user as stored before this write.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct StoredUser {
    pub tenant_id: Uuid,
    pub okta_id: String,
    pub status: String,
    pub activated: Option<time::OffsetDateTime>,
    pub status_changed: Option<time::OffsetDateTime>,
    pub last_login: Option<time::OffsetDateTime>,
    pub password_changed: Option<time::OffsetDateTime>,
    pub user_type_id: Option<String>,
    pub profile: Value,
    pub deleted: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct StoredGroup {
    pub tenant_id: Uuid,
    pub okta_id: String,
    pub group_type: String,
    pub object_class: Vec<String>,
    pub profile: Value,
    pub deleted: bool,
}

/// The event for a user row the write changed, if the change is one the
/// product cares about (a move of `lastUpdated` alone is not).
pub(crate) fn user_event(old: Option<&StoredUser>, new: &UserRecord) -> Option<(&'static str, Value)> {
    let Some(old) = old.filter(|o| !o.deleted) else {
        return Some(("user.created", json!({ "status": new.status })));
    };
    let mut fields = Vec::new();
    let mut note = |name: &str, changed: bool| {
        if changed {
            fields.push(name.to_owned());
        }
    };
    note("status", old.status != new.status);
    note("activated", old.activated != new.activated);
    note("statusChanged", old.status_changed != new.status_changed);
    note("lastLogin", old.last_login != new.last_login);
    note("passwordChanged", old.password_changed != new.password_changed);
    note("type", old.user_type_id != new.user_type_id);
    fields.extend(profile_changes(&old.profile, &new.profile));
    if fields.is_empty() {
        return None;
    }
    let kind = match (old.status.as_str(), new.status.as_str()) {
        (a, b) if a == b => "user.updated",
        (_, "DEPROVISIONED") => "user.deactivated",
        ("DEPROVISIONED", _) => "user.reactivated",
        (_, "SUSPENDED") => "user.suspended",
        ("SUSPENDED", _) => "user.unsuspended",
        _ => "user.updated",
    };
    Some((
        kind,
        json!({ "changed_fields": fields, "status": new.status, "previous_status": old.status }),
    ))
}

pub(crate) fn group_event(old: Option<&StoredGroup>, new: &GroupRecord) -> Option<(&'static str, Value)> {
    let Some(old) = old.filter(|o| !o.deleted) else {
        return Some(("group.created", json!({ "type": new.group_type })));
    };
    let mut fields = Vec::new();
    if old.group_type != new.group_type {
        fields.push("type".to_owned());
    }
    if old.object_class != new.object_class {
        fields.push("objectClass".to_owned());
    }
    fields.extend(profile_changes(&old.profile, &new.profile));
    // lastUpdated / lastMembershipUpdated alone: membership events say it.
    if fields.is_empty() {
        return None;
    }
    Some(("group.updated", json!({ "changed_fields": fields })))
}

/// `profile.<attr>` for every attribute added, removed or changed.
fn profile_changes(old: &Value, new: &Value) -> Vec<String> {
    let empty = Map::new();
    let old = old.as_object().unwrap_or(&empty);
    let new = new.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| format!("profile.{k}"))
        .collect()
}

/// A membership change: the group is the subject, the user in the payload.
pub(crate) fn membership_event(
    kind: &'static str,
    tenant_id: Uuid,
    run_id: Uuid,
    group_id: String,
    user_id: String,
) -> EventRow {
    EventRow {
        tenant_id,
        run_id,
        event_type: kind,
        payload: json!({ "user_id": user_id }),
        okta_id: group_id,
    }
}

/// Appends rows to the outbox in one statement.
pub(crate) async fn insert_events(conn: &mut sqlx::PgConnection, events: &[EventRow]) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = events.iter().map(|e| e.tenant_id).collect();
    let runs: Vec<Uuid> = events.iter().map(|e| e.run_id).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type).collect();
    let ids: Vec<&str> = events.iter().map(|e| e.okta_id.as_str()).collect();
    let payloads: Vec<&Value> = events.iter().map(|e| &e.payload).collect();
    sqlx::query(
        // Ids in the order given: a membership's removal before its user's
        // deletion (docs/EVENTS.md, "Delivery and order").
        "INSERT INTO change_events (tenant_id, run_id, event_type, okta_id, payload)
         SELECT t, r, e, o, p FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::jsonb[])
             WITH ORDINALITY AS x(t, r, e, o, p, n)
         ORDER BY n",
    )
    .bind(tenants)
    .bind(runs)
    .bind(types)
    .bind(ids)
    .bind(payloads)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(status: &str, profile: Value) -> UserRecord {
        UserRecord {
            okta_id: "00u1".into(),
            status: status.into(),
            created: None,
            activated: None,
            status_changed: None,
            last_login: None,
            last_updated: None,
            password_changed: None,
            user_type_id: None,
            profile,
        }
    }

    fn stored(status: &str, profile: Value) -> StoredUser {
        StoredUser {
            tenant_id: Uuid::nil(),
            okta_id: "00u1".into(),
            status: status.into(),
            activated: None,
            status_changed: None,
            last_login: None,
            password_changed: None,
            user_type_id: None,
            profile,
            deleted: false,
        }
    }

    #[test]
    fn a_profile_edit_names_the_changed_attributes() {
        let (kind, payload) = user_event(
            Some(&stored("ACTIVE", json!({"title": "A", "city": "X"}))),
            &user("ACTIVE", json!({"title": "B", "city": "X", "pronouns": "they"})),
        )
        .unwrap();
        assert_eq!(kind, "user.updated");
        assert_eq!(payload["changed_fields"], json!(["profile.pronouns", "profile.title"]));
    }

    #[test]
    fn status_transitions_have_their_own_events() {
        let p = json!({});
        let cases = [
            ("ACTIVE", "DEPROVISIONED", "user.deactivated"),
            ("DEPROVISIONED", "ACTIVE", "user.reactivated"),
            ("ACTIVE", "SUSPENDED", "user.suspended"),
            ("SUSPENDED", "ACTIVE", "user.unsuspended"),
            ("ACTIVE", "LOCKED_OUT", "user.updated"),
        ];
        for (from, to, expected) in cases {
            assert_eq!(
                user_event(Some(&stored(from, p.clone())), &user(to, p.clone()))
                    .unwrap()
                    .0,
                expected
            );
        }
    }

    #[test]
    fn nothing_but_last_updated_is_no_event() {
        assert!(
            user_event(
                Some(&stored("ACTIVE", json!({"a": 1}))),
                &user("ACTIVE", json!({"a": 1}))
            )
            .is_none()
        );
    }

    #[test]
    fn a_user_seen_again_after_deletion_is_created() {
        let mut old = stored("ACTIVE", json!({}));
        old.deleted = true;
        assert_eq!(
            user_event(Some(&old), &user("ACTIVE", json!({}))).unwrap().0,
            "user.created"
        );
        assert_eq!(user_event(None, &user("STAGED", json!({}))).unwrap().0, "user.created");
    }
}

/// An outbox row on its way to the broker.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct ChangeEvent {
    pub id: i64,
    pub tenant_id: Uuid,
    pub run_id: Option<Uuid>,
    #[serde(rename = "type")]
    pub event_type: String,
    pub okta_id: String,
    pub payload: Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

/// A batch of unpublished events, locked (`SKIP LOCKED`: several relays
/// share the outbox) until [`PendingEvents::mark_published`] commits.
pub struct PendingEvents {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    pub events: Vec<ChangeEvent>,
}

impl crate::Store {
    pub async fn pending_events(&self, limit: i64) -> Result<PendingEvents, crate::StoreError> {
        let mut tx = self.pool.begin().await?;
        let events = sqlx::query_as::<_, ChangeEvent>(
            "SELECT id, tenant_id, run_id, event_type, okta_id, payload, created_at FROM change_events
             WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        Ok(PendingEvents { tx, events })
    }

    /// Events of a tenant after `after_id`, oldest first (tests and audits).
    pub async fn events_since(&self, tenant_id: Uuid, after_id: i64) -> Result<Vec<ChangeEvent>, crate::StoreError> {
        Ok(sqlx::query_as::<_, ChangeEvent>(
            "SELECT id, tenant_id, run_id, event_type, okta_id, payload, created_at FROM change_events
             WHERE tenant_id = $1 AND id > $2 ORDER BY id",
        )
        .bind(tenant_id)
        .bind(after_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn last_event_id(&self) -> Result<i64, crate::StoreError> {
        let (id,): (Option<i64>,) = sqlx::query_as("SELECT max(id) FROM change_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }
}

impl PendingEvents {
    pub async fn mark_published(mut self) -> Result<(), crate::StoreError> {
        let ids: Vec<i64> = self.events.iter().map(|e| e.id).collect();
        sqlx::query("UPDATE change_events SET published_at = now() WHERE id = ANY($1)")
            .bind(ids)
            .execute(&mut *self.tx)
            .await?;
        self.tx.commit().await?;
        Ok(())
    }
}
