//! Where a full run's user ranges come from when no stored user can say:
//! a tenant's first sync (or one with too few stored users to split).
//!
//! Okta's rate budget for listing users (600 a minute; our share less the
//! reserve is 270) allows several chains side by side, while one chain of
//! 150–400 ms pages makes at most 2–6 requests a second: 100,000 users (500
//! pages) take minutes one after another. So a first sync splits too, by
//! two questions to Okta before the chains are planned:
//!
//! 1. **The first page of the plain listing** (`lastUpdated gt` the epoch,
//!    the very first page of a one-chain plan). No `next` link: the org
//!    fits one page, and stays one chain. Otherwise its users are a sample
//!    of `lastUpdated`: Okta lists users in id order, which is not
//!    `lastUpdated` order, so the page spans the whole range, and its
//!    quantiles cut the org into ranges of about equal size (what
//!    `Runs::user_split_points` takes of stored users, from a sample).
//!    Equal time ranges would not do: `lastUpdated` is skewed (a bulk
//!    import stamps thousands of users within seconds, daily HR updates
//!    crowd the recent end), so one range would hold most users.
//! 2. **Everyone's `usersCount`** (`GET /api/v1/groups?filter=type eq
//!    "BUILT_IN"&expand=stats`, one request in the groups family, not the
//!    users one): a page cannot tell 201 users from 100,000, and
//!    `worker.min_users_per_slice` needs a count. Everyone holds every
//!    user, so its count is the org's size; without it the run stays one
//!    chain, as before.
//!
//! The number of ranges is then bounded exactly as for stored users
//! (`worker.user_slices`, each of at least `worker.min_users_per_slice`).
//!
//! Correctness does not rest on the sample: whatever the split points, the
//! ranges (epoch, p₁], (p₁, p₂], …, (pₖ, now) cover every user of every
//! status (any filter brings DEPROVISIONED users in), and the catch-up
//! chain, listed after them, brings whoever changed since the run began
//! (a user updated mid-run moves to the last range, possibly behind its
//! cursor). A poor sample (ids that follow creation, say) only makes the
//! ranges uneven.
//!
//! Cost: when the run stays one chain, the probe page is that chain's
//! first page (published and checkpointed as such), so a small org costs
//! no extra listing request (and a one-page org not even the count). When
//! it splits, the probe page is spent: one request of the 20 or more the
//! listing needs, and the count request.
//!
//! Takeover: both questions are asked before any chain is stored. A worker
//! that dies before the plan is stored leaves nothing behind, and the next
//! one asks again; once stored, every chain resumes from its stored URL,
//! which carries the range it was planned with, never a new sample.

use super::{RunExecutor, page::Fetched};
use crate::RunError;
use dirsync_domain::{Chain, PagePayload, everyone};
use time::OffsetDateTime;

/// How a first sync pages its users.
pub(super) struct FirstSplit {
    /// `lastUpdated` instants between the ranges (empty: one chain).
    pub(super) points: Vec<OffsetDateTime>,
    /// The probe page, when the plan is one chain whose first page it is.
    pub(super) first_page: Option<Fetched>,
}

impl FirstSplit {
    fn one_chain(first_page: Fetched) -> Self {
        FirstSplit {
            points: Vec::new(),
            first_page: Some(first_page),
        }
    }
}

impl RunExecutor<'_> {
    /// Asks Okta how to split the users of a full run that knows no stored
    /// split points (the module's doc says how and why).
    pub(super) async fn split_first_sync(&self) -> Result<FirstSplit, RunError> {
        let chain = Chain::UsersSlice { index: 0 };
        let url = self.first_url(&chain);
        let page = tokio::select! {
            _ = self.stop.cancelled() => return Err(RunError::Cancelled),
            page = self.fetch(&chain, &url) => page?,
        };
        if page.next.is_none() {
            return Ok(FirstSplit::one_chain(page));
        }
        let Some(users) = self.everyone_count().await? else {
            tracing::warn!(
                tenant_id = %self.run.tenant_id,
                run_id = %self.run.run_id,
                "Okta sent no usersCount for Everyone: the users are listed in one chain"
            );
            return Ok(FirstSplit::one_chain(page));
        };
        let slices = slice_count(users, self.ctx.config.user_slices, self.ctx.config.min_users_per_slice);
        let sample = match &page.payload {
            Some(PagePayload::Users { users }) => users.iter().filter_map(|u| u.last_updated).collect(),
            _ => Vec::new(),
        };
        let points = split_points(sample, slices);
        if points.is_empty() {
            return Ok(FirstSplit::one_chain(page));
        }
        tracing::info!(
            tenant_id = %self.run.tenant_id,
            run_id = %self.run.run_id,
            users,
            ranges = points.len() + 1,
            "first sync: users listed in lastUpdated ranges side by side"
        );
        Ok(FirstSplit {
            points,
            first_page: None,
        })
    }

    /// Everyone's `usersCount`: how many users the org has.
    async fn everyone_count(&self) -> Result<Option<u64>, RunError> {
        let filter = format!(r#"type eq "{}""#, everyone::BUILT_IN);
        let url = self
            .client
            .groups_url(Some(&filter), true, self.ctx.config.groups_page_size);
        let page = tokio::select! {
            _ = self.stop.cancelled() => return Err(RunError::Cancelled),
            page = self.client.groups_page(&url) => page?,
        };
        Ok(page
            .items
            .iter()
            .find(|g| everyone::is_everyone(g.group_type.as_str(), g.name()))
            .and_then(|g| g.users_count))
    }
}

/// How many ranges `users` users are listed in: `slices` at most, each of
/// at least `min_per_slice` users, at least one (the rule
/// `Runs::user_split_points` applies to stored users).
fn slice_count(users: u64, slices: u16, min_per_slice: i64) -> usize {
    let by_size = users / min_per_slice.max(1) as u64;
    by_size.min(u64::from(slices)).max(1) as usize
}

/// The instants that cut `sample` into `slices` parts of about equal
/// count: for i in 1..slices, the smallest value with at least i/slices of
/// the sample at or below it (PostgreSQL's `percentile_disc`, as for stored
/// users). Repeated instants are kept once (fewer ranges), and so is the
/// sample's largest: a range above it would be empty in the sample.
fn split_points(mut sample: Vec<OffsetDateTime>, slices: usize) -> Vec<OffsetDateTime> {
    sample.sort_unstable();
    let Some(&largest) = sample.last() else {
        return Vec::new();
    };
    let n = sample.len();
    let mut points: Vec<OffsetDateTime> = (1..slices)
        .map(|i| sample[(i * n).div_ceil(slices).max(1) - 1])
        .filter(|p| *p < largest)
        .collect();
    points.dedup();
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn minutes(values: &[i64]) -> Vec<OffsetDateTime> {
        values
            .iter()
            .map(|m| datetime!(2026-01-01 0:00 UTC) + time::Duration::minutes(*m))
            .collect()
    }

    #[test]
    fn the_count_of_ranges_is_bounded_by_the_slices_and_the_users_per_slice() {
        assert_eq!(slice_count(100_000, 4, 2_000), 4);
        assert_eq!(slice_count(5_000, 4, 2_000), 2);
        assert_eq!(slice_count(3_999, 4, 2_000), 1);
        assert_eq!(slice_count(0, 4, 2_000), 1);
        assert_eq!(slice_count(100_000, 1, 2_000), 1);
        assert_eq!(slice_count(10, 4, 0), 4);
    }

    #[test]
    fn a_sample_is_cut_at_its_quantiles() {
        let sample = minutes(&[7, 1, 5, 3, 8, 2, 6, 4]);
        assert_eq!(split_points(sample, 4), minutes(&[2, 4, 6]));
    }

    #[test]
    fn one_range_has_no_split_point() {
        assert!(split_points(minutes(&[1, 2, 3]), 1).is_empty());
        assert!(split_points(Vec::new(), 4).is_empty());
    }

    #[test]
    fn users_stamped_at_one_instant_give_fewer_ranges_never_an_empty_one() {
        // A bulk import: most users share one lastUpdated.
        let sample = minutes(&[5, 5, 5, 5, 5, 5, 9, 9]);
        assert_eq!(split_points(sample, 4), minutes(&[5]));
        assert!(split_points(minutes(&[5, 5, 5, 5]), 4).is_empty());
    }

    #[test]
    fn a_sample_smaller_than_the_ranges_still_gives_increasing_points() {
        let points = split_points(minutes(&[3, 1]), 4);
        assert_eq!(points, minutes(&[1]));
    }
}
