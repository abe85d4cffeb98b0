//! Change events: what a write changed, as the product wants to hear it.
//! Written in the writer's transaction (the outbox), relayed afterwards.

use dirsync_domain::{GroupRecord, OktaGroupId, OktaUserId, UserRecord, changes};
use dirsync_domain::{RunId, TenantId};
use serde_json::{Value, json};

/// One outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub tenant_id: TenantId,
    pub run_id: RunId,
    pub event_type: &'static str,
    pub okta_id: String,
    pub payload: Value,
}

/// A user as stored before this write.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct StoredUser {
    pub tenant_id: TenantId,
    pub okta_id: OktaUserId,
    pub status: String,
    pub created: Option<time::OffsetDateTime>,
    pub activated: Option<time::OffsetDateTime>,
    pub status_changed: Option<time::OffsetDateTime>,
    pub last_login: Option<time::OffsetDateTime>,
    pub last_updated: Option<time::OffsetDateTime>,
    pub password_changed: Option<time::OffsetDateTime>,
    pub user_type_id: Option<String>,
    pub profile: Value,
    pub deleted: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct StoredGroup {
    pub tenant_id: TenantId,
    pub okta_id: OktaGroupId,
    pub group_type: String,
    pub created: Option<time::OffsetDateTime>,
    pub last_updated: Option<time::OffsetDateTime>,
    pub last_membership_updated: Option<time::OffsetDateTime>,
    pub object_class: Vec<String>,
    pub profile: Value,
    pub deleted: bool,
}

impl StoredUser {
    /// Whether writing `new` would change nothing: every column the upsert
    /// compares is equal and the row is not deleted.
    pub(crate) fn same_as(&self, new: &UserRecord) -> bool {
        !self.deleted
            && self.status == new.status
            && self.created == new.created
            && self.activated == new.activated
            && self.status_changed == new.status_changed
            && self.last_login == new.last_login
            && self.last_updated == new.last_updated
            && self.password_changed == new.password_changed
            && self.user_type_id == new.user_type_id
            && self.profile == new.profile
    }

    /// The row as the domain's event rules read it.
    fn before(&self) -> changes::UserBefore<'_> {
        changes::UserBefore {
            status: &self.status,
            activated: self.activated,
            status_changed: self.status_changed,
            last_login: self.last_login,
            password_changed: self.password_changed,
            user_type_id: self.user_type_id.as_deref(),
            profile: &self.profile,
            deleted: self.deleted,
        }
    }
}

impl StoredGroup {
    /// As [`StoredUser::same_as`].
    pub(crate) fn same_as(&self, new: &GroupRecord) -> bool {
        !self.deleted
            && self.group_type == new.group_type
            && self.created == new.created
            && self.last_updated == new.last_updated
            && self.last_membership_updated == new.last_membership_updated
            && self.object_class == new.object_class
            && self.profile == new.profile
    }

    fn before(&self) -> changes::GroupBefore<'_> {
        changes::GroupBefore {
            group_type: &self.group_type,
            object_class: &self.object_class,
            profile: &self.profile,
            deleted: self.deleted,
        }
    }
}

/// The event for a user row the write changed, as
/// [`changes::user_change`] decides (a move of `lastUpdated` alone is none).
pub(crate) fn user_event(old: Option<&StoredUser>, new: &UserRecord) -> Option<(&'static str, Value)> {
    changes::user_change(old.map(StoredUser::before), new).map(|c| (c.event_type, c.payload))
}

/// The event for a group row the write changed, as
/// [`changes::group_change`] decides.
pub(crate) fn group_event(old: Option<&StoredGroup>, new: &GroupRecord) -> Option<(&'static str, Value)> {
    changes::group_change(old.map(StoredGroup::before), new).map(|c| (c.event_type, c.payload))
}

/// A membership change: the group is the subject, the user in the payload.
pub(crate) fn membership_event(
    kind: &'static str,
    tenant_id: TenantId,
    run_id: RunId,
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
    let tenants: Vec<TenantId> = events.iter().map(|e| e.tenant_id).collect();
    let runs: Vec<RunId> = events.iter().map(|e| e.run_id).collect();
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
mod tests;

/// An outbox row on its way to the broker.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct ChangeEvent {
    pub id: i64,
    pub tenant_id: TenantId,
    pub run_id: Option<RunId>,
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

impl crate::Events {
    pub async fn pending_events(&self, limit: i64) -> Result<PendingEvents, crate::StoreError> {
        let mut tx = self.pool.begin().await?;
        let events = sqlx::query_as::<_, ChangeEvent>(
            // A run's events wait until it has ended: at finalize they may
            // become one `directory.synced` event (see `runs::finalize`).
            "SELECT e.id, e.tenant_id, e.run_id, e.event_type, e.okta_id, e.payload, e.created_at FROM change_events e
             WHERE e.published_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM sync_runs r WHERE r.id = e.run_id AND r.state IN ('queued', 'running'))
             ORDER BY e.id LIMIT $1 FOR UPDATE OF e SKIP LOCKED",
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        Ok(PendingEvents { tx, events })
    }

    /// Events of a tenant after `after_id`, oldest first (tests and audits).
    pub async fn events_since(
        &self,
        tenant_id: TenantId,
        after_id: i64,
    ) -> Result<Vec<ChangeEvent>, crate::StoreError> {
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
