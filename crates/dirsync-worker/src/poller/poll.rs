//! One poll of one tenant: the next page of its System Log, the reads by
//! id its events ask for (within the tenant's budget), and one
//! transaction that applies them and moves the cursor
//! (`Directory::apply_log_changes`).

use super::{Poller, budget::TenantBudget, events::EVENT_TYPES, events::Wanted};
use crate::convert::{group_record, user_record};
use dirsync_okta::{OktaClient, OktaError};
use dirsync_store::{ClaimedCursor, LogApplied, LogBatch, LogChange, StoreError};
use url::Url;

/// What one poll did.
#[derive(Debug, Clone, PartialEq)]
pub struct PollReport {
    /// Log events read (0: an empty poll, the interval grows).
    pub events: u64,
    /// Okta requests made.
    pub requests: u64,
    pub applied: LogApplied,
}

/// Why a poll ended without applying anything.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Okta(#[from] OktaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The tenant's client cannot be built (credentials, instance URL).
    #[error("{0}")]
    Client(String),
}

impl PollError {
    /// The tenant's credentials may not read the System Log (a token of
    /// an admin without the report role, a service app without
    /// `okta.logs.read`): polling it again cannot help until they change.
    pub fn forbidden(&self) -> bool {
        matches!(
            self,
            PollError::Okta(
                OktaError::Forbidden { .. }
                    | OktaError::AdminRoleMissing { .. }
                    | OktaError::InvalidScope { .. }
                    | OktaError::MissingScope { .. }
            )
        )
    }
}

/// Polls `cursor`'s tenant once with `client`, spending `budget`.
pub async fn poll_tenant(
    poller: &Poller,
    client: &OktaClient,
    budget: &mut TenantBudget,
    cursor: &ClaimedCursor,
) -> Result<PollReport, PollError> {
    let url = match (&cursor.next_url, cursor.since) {
        (Some(next), _) => Url::parse(next).map_err(|e| PollError::Client(format!("stored log cursor: {e}")))?,
        (None, since) => {
            // Never synced since the cursor was made: start from now.
            let since = since.unwrap_or_else(time::OffsetDateTime::now_utc);
            client.first_log_page_url(since, &EVENT_TYPES, poller.config.page_size)
        }
    };
    let page = client.log_page(&url).await?;
    let mut requests = 1u64;
    let next_url = page.next.as_ref().unwrap_or(&url).to_string();
    let mut wanted = Wanted::default();
    wanted.add(&page.items);
    let last_event_at = page.items.iter().map(|e| e.published).max();
    let events = page.items.len() as u64;
    let store = &poller.deps.store;
    let (member_users, member_groups) = wanted.member_ids();
    let (unknown_users, unknown_groups) = store
        .directory()
        .unknown_ids(cursor.tenant_id, &member_users, &member_groups)
        .await?;
    wanted.users.extend(unknown_users);
    wanted.groups.extend(unknown_groups);
    if wanted.everyone {
        wanted
            .groups
            .extend(store.directory().everyone_groups(cursor.tenant_id).await?);
    }
    let mut changes = Vec::with_capacity(wanted.users.len() + wanted.groups.len() + wanted.members.len());
    let mut gone = Vec::new();
    for id in &wanted.users {
        budget.take(true).await;
        requests += 1;
        changes.push(match client.get_user(id).await? {
            Some(user) => LogChange::User(user_record(user)),
            None => {
                gone.push(id.as_str());
                LogChange::UserGone(id.as_str().into())
            }
        });
    }
    // Okta drops a deleted user from its groups without a membership event.
    if !gone.is_empty() {
        let left = store.directory().groups_of_users(cursor.tenant_id, &gone).await?;
        wanted.groups.extend(left);
    }
    for id in &wanted.groups {
        budget.take(false).await;
        requests += 1;
        changes.push(match client.get_group(id).await? {
            Some(group) => LogChange::Group(group_record(group)),
            None => LogChange::GroupGone(id.as_str().into()),
        });
    }
    for (added, group, user) in wanted.members {
        let (group, user) = (group.as_str().into(), user.as_str().into());
        changes.push(if added {
            LogChange::MemberAdded { group, user }
        } else {
            LogChange::MemberRemoved { group, user }
        });
    }
    let batch = LogBatch {
        tenant_id: cursor.tenant_id,
        owner: &poller.owner,
        changes,
        next_url,
        events_read: events,
        last_event_at,
    };
    let applied = store.directory().apply_log_changes(&batch).await?;
    Ok(PollReport {
        events,
        requests,
        applied,
    })
}
