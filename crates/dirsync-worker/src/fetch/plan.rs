//! Planning a run's chains and the first page of each: a full run splits
//! its users into `lastUpdated` ranges paged side by side, plus a catch-up
//! chain (split by the stored users, or on a first sync by a sample Okta
//! gives: [`super::first_split`]); an incremental run lists only what
//! changed since its window.

use super::{RunExecutor, page::Fetched};
use crate::RunError;
use dirsync_domain::{Chain, SyncMode};
use std::time::Duration;
use time::OffsetDateTime;
use url::Url;

/// Every user, whatever the status: a plain listing leaves DEPROVISIONED
/// users out, any filter brings them in, and no user predates the epoch.
const EPOCH: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

/// How far the catch-up chain reaches back before the run began (on Okta's
/// clock, from its `Date` header, whose resolution is a second): a write
/// Okta stamped just before it answered is still seen.
const CATCH_UP_OVERLAP: Duration = Duration::from_secs(60);

/// Okta's filter timestamp format: `2024-03-01T12:34:56.000Z`.
fn okta_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A run's chains with the URL of the first page of each, and possibly
/// that first page of one of them, fetched while planning.
pub(super) struct Plan {
    pub(super) chains: Vec<(Chain, String)>,
    /// Page 0 of this chain, to be published and checkpointed once the
    /// chains are stored (the first-sync probe, when the run stays one
    /// chain: the page is that chain's first).
    pub(super) first_page: Option<(Chain, Fetched)>,
}

impl RunExecutor<'_> {
    /// The run's chains and the first page of each. A full run splits its
    /// users into `lastUpdated` ranges of about equal size (from the users
    /// stored by earlier runs, or, with none to go by, from a sample Okta
    /// gives), paged side by side; the last range is open, and a catch-up
    /// chain afterwards lists whoever changed since the run began, so a
    /// user who moves between ranges mid-run is never lost.
    pub(super) async fn plan(&self, okta_now: OffsetDateTime) -> Result<Plan, RunError> {
        let groups = (Chain::Groups, self.first_url(&Chain::Groups).to_string());
        if self.run.mode == SyncMode::Incremental {
            return Ok(Plan {
                chains: vec![(Chain::Users, self.first_url(&Chain::Users).to_string()), groups],
                first_page: None,
            });
        }
        let began = okta_now - CATCH_UP_OVERLAP;
        let mut points = self
            .ctx
            .deps
            .store
            .runs()
            .user_split_points(
                self.run.tenant_id,
                self.ctx.config.user_slices,
                self.ctx.config.min_users_per_slice,
            )
            .await?;
        let mut first_page = None;
        if points.is_empty() && self.ctx.config.user_slices > 1 {
            let split = self.split_first_sync().await?;
            points = split.points;
            first_page = split.first_page.map(|page| (Chain::UsersSlice { index: 0 }, page));
        }
        let size = self.ctx.config.users_page_size;
        let mut plan = Vec::with_capacity(points.len() + 3);
        for index in 0..=points.len() {
            let lower = if index == 0 { EPOCH } else { points[index - 1] };
            let filter = match points.get(index) {
                Some(upper) => format!(
                    r#"lastUpdated gt "{}" and lastUpdated le "{}""#,
                    okta_time(lower),
                    okta_time(*upper)
                ),
                None => format!(r#"lastUpdated gt "{}""#, okta_time(lower)),
            };
            let chain = Chain::UsersSlice { index: index as u16 };
            plan.push((chain, self.client.users_url(Some(&filter), size).to_string()));
        }
        if !points.is_empty() {
            let filter = format!(r#"lastUpdated gt "{}""#, okta_time(began));
            plan.push((
                Chain::UsersCatchUp,
                self.client.users_url(Some(&filter), size).to_string(),
            ));
        }
        plan.push(groups);
        Ok(Plan {
            chains: plan,
            first_page,
        })
    }

    /// Incremental runs list only what changed after this instant; full
    /// runs everything.
    pub(super) fn since(&self) -> Option<OffsetDateTime> {
        match self.run.mode {
            SyncMode::Full => None,
            SyncMode::Incremental => self.run.changed_since,
        }
    }

    pub(super) fn first_url(&self, chain: &Chain) -> Url {
        let since = okta_time(self.since().unwrap_or(EPOCH));
        match chain {
            Chain::Users | Chain::UsersSlice { .. } | Chain::UsersCatchUp => {
                let filter = format!(r#"lastUpdated gt "{since}""#);
                self.client.users_url(Some(&filter), self.ctx.config.users_page_size)
            }
            // Every run lists every group, an incremental one too: a group
            // deleted in Okta leaves no trace in a filtered listing, and the
            // whole list is a few pages (200 groups a page). Only the
            // members of groups whose members moved are paged again
            // (`page.rs`), and the writer leaves unchanged groups alone.
            Chain::Groups => self.client.groups_url(None, true, self.ctx.config.groups_page_size),
            Chain::Members { group_id } | Chain::Everyone { group_id } => self
                .client
                .group_members_url(group_id.as_str(), self.ctx.config.members_page_size),
        }
    }
}
