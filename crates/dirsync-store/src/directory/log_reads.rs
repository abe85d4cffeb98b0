//! What a System Log poll reads of the copy before it asks Okta: the
//! users and groups a membership names that the copy lacks, and the
//! Everyone group a user's creation or deletion changes.

use crate::{Directory, StoreError};
use dirsync_domain::TenantId;

impl Directory {
    /// The ids among `users` and `groups` the tenant's copy does not hold
    /// (or holds as deleted): a poll fetches them before applying a
    /// membership that names them.
    pub async fn unknown_ids(
        &self,
        tenant: TenantId,
        users: &[&str],
        groups: &[&str],
    ) -> Result<(Vec<String>, Vec<String>), StoreError> {
        let known: Vec<(String, String)> = sqlx::query_as(HELD_IDS)
            .bind(tenant)
            .bind(users)
            .bind(groups)
            .fetch_all(&self.pool)
            .await?;
        let has = |kind: &str, id: &str| known.iter().any(|(k, i)| k == kind && i == id);
        let users = users.iter().filter(|u| !has("u", u)).map(|u| (*u).to_owned()).collect();
        let groups = groups
            .iter()
            .filter(|g| !has("g", g))
            .map(|g| (*g).to_owned())
            .collect();
        Ok((users, groups))
    }
}

impl Directory {
    /// The tenant's stored Everyone group (`dirsync_domain::everyone`): a
    /// user created or deleted moves its `lastMembershipUpdated`.
    pub async fn everyone_groups(&self, tenant: TenantId) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT okta_id FROM groups
             WHERE tenant_id = $1 AND group_type = $2 AND name = $3 AND deleted_at IS NULL",
        )
        .bind(tenant)
        .bind(dirsync_domain::everyone::BUILT_IN)
        .bind(dirsync_domain::everyone::EVERYONE)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// The groups the copy holds these users in: a user deleted in Okta
    /// leaves them, and their `lastMembershipUpdated` moves.
    pub async fn groups_of_users(&self, tenant: TenantId, users: &[&str]) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT group_id FROM group_members WHERE tenant_id = $1 AND user_id = ANY($2) ORDER BY 1",
        )
        .bind(tenant)
        .bind(users)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}

/// Which of the ids (`$2` users, `$3` groups) the tenant (`$1`) holds and
/// has not marked deleted, tagged `u` or `g`.
pub(super) const HELD_IDS: &str =
    "SELECT 'u', okta_id FROM users WHERE tenant_id = $1 AND okta_id = ANY($2) AND deleted_at IS NULL
     UNION ALL
     SELECT 'g', okta_id FROM groups WHERE tenant_id = $1 AND okta_id = ANY($3) AND deleted_at IS NULL";
