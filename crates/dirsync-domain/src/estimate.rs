//! When a run will end: the Okta requests it still needs, at the rate its
//! limiter allows, plus what writing and the removal check still take.
//!
//! The worker knows the first part while it fetches: each chain's pages so
//! far and, once listed, how much each chain holds (a group's `usersCount`,
//! Everyone's for the org's users). [`requests_left`] turns that into the
//! requests each endpoint family still needs, or `None` while the run
//! cannot know (the groups listing has not ended, so member chains are
//! unknown; a full run has no user count yet). [`finish_at`] adds the
//! rest at read time. Retries and 429s are not foreseen: a storm moves the
//! estimate out as `rate_limited_until` moves.

use crate::Chain;
use std::time::Duration;
use time::OffsetDateTime;

/// Items per page each kind of chain asks for (`limit=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSizes {
    pub users: u32,
    pub groups: u32,
    pub members: u32,
}

/// One chain of a run as far as it went.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainWork {
    pub chain: Chain,
    /// Pages fetched so far.
    pub pages: u64,
    pub done: bool,
    /// Items the chain lists in all, when Okta said (`usersCount`).
    pub expected_rows: Option<u64>,
}

/// Requests still needed, per endpoint family (each has its own budget).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestsLeft {
    pub list_users: u64,
    pub list_groups: u64,
}

impl RequestsLeft {
    pub fn total(self) -> u64 {
        self.list_users + self.list_groups
    }

    /// How long the fetch still takes at each family's per-minute
    /// allowance; the families run side by side, so the slower one counts.
    pub fn fetch_time(self, allowance: Allowance) -> Duration {
        let minutes = |n: u64, rpm: u32| n as f64 / f64::from(rpm.max(1));
        let m = minutes(self.list_users, allowance.list_users).max(minutes(self.list_groups, allowance.list_groups));
        Duration::from_secs_f64(m * 60.0)
    }

    /// The one rate that takes all the requests left in [`Self::fetch_time`]:
    /// what a person reads as "allowed requests per minute". `None` when
    /// nothing is left.
    pub fn effective_rpm(self, allowance: Allowance) -> Option<u32> {
        let minutes = self.fetch_time(allowance).as_secs_f64() / 60.0;
        (self.total() > 0 && minutes > 0.0).then(|| (self.total() as f64 / minutes).round().max(1.0) as u32)
    }
}

/// Requests a minute the limiter lets the run make, per family (Okta's
/// limit for the token, less the reserve kept for other integrations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub list_users: u32,
    pub list_groups: u32,
}

/// The requests each family still needs, or `None` while the run cannot
/// tell: the groups listing has not ended (member chains are unknown), or a
/// full run does not know how many users the org has (`org_users`:
/// Everyone's `usersCount`). An incremental run lists only what changed,
/// which nobody can count beforehand: each open users chain counts one page.
pub fn requests_left(
    chains: &[ChainWork],
    org_users: Option<u64>,
    full: bool,
    sizes: PageSizes,
) -> Option<RequestsLeft> {
    let groups = chains.iter().find(|c| c.chain == Chain::Groups)?;
    if !groups.done {
        return None;
    }
    let mut left = RequestsLeft::default();
    for chain in chains.iter().filter(|c| !c.done) {
        if let Chain::Members { .. } = chain.chain {
            let pages = chain.expected_rows.map_or(1, |rows| pages_for(rows, sizes.members));
            left.list_groups += pages.saturating_sub(chain.pages).max(1);
        }
    }
    let slices: Vec<&ChainWork> = chains
        .iter()
        .filter(|c| matches!(c.chain, Chain::Users | Chain::UsersSlice { .. }))
        .collect();
    let open = slices.iter().filter(|c| !c.done).count() as u64;
    if open > 0 {
        left.list_users += if full {
            // Each range ends on a page of its own, seldom a full one.
            let total = pages_for(org_users?, sizes.users) + slices.len() as u64 - 1;
            let fetched: u64 = slices.iter().map(|c| c.pages).sum();
            total.saturating_sub(fetched).max(open)
        } else {
            open
        };
    }
    // Whoever changed while the run listed: most often one page.
    left.list_users += chains
        .iter()
        .filter(|c| c.chain == Chain::UsersCatchUp && !c.done)
        .count() as u64;
    Some(left)
}

/// Pages a listing of `rows` items takes: at least one (an empty listing
/// still answers once).
fn pages_for(rows: u64, size: u32) -> u64 {
    rows.div_ceil(u64::from(size.max(1))).max(1)
}

/// What a run still has to do after its fetch, to be added to the fetch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Remaining {
    /// Requests still to make (`requests_expected - requests_done`).
    pub requests: u64,
    /// The rate they go at; `None`: no estimate.
    pub allowed_rpm: Option<u32>,
    /// The limiter holds requests until then.
    pub held_until: Option<OffsetDateTime>,
    /// Pages fetched but not yet written.
    pub pages_behind: u64,
    /// Stored users and groups the run has not seen, each asked for by id
    /// once every page is written (full runs); unknown while fetching.
    pub removal_checks: u64,
}

/// How long the writers take per page once the fetch has ended (a batch of
/// 200 users, upserted with its events): about 20 ms a page in `bench
/// writer` on this machine, rounded up for a loaded database.
pub const WRITE_TIME_PER_PAGE: Duration = Duration::from_millis(40);

/// Lookups by id go one at a time (one request in flight, ~100–300 ms at
/// Okta), far below the get-user budget: latency, not the rate, paces them.
pub const REMOVAL_CHECK_TIME: Duration = Duration::from_millis(150);

/// When the run should end: after any hold, the requests left at the
/// allowed rate, then the pages still to write and the removal checks.
/// `None` without a rate to go by while requests are left.
pub fn finish_at(now: OffsetDateTime, left: Remaining) -> Option<OffsetDateTime> {
    let fetch = match (left.requests, left.allowed_rpm) {
        (0, _) => Duration::ZERO,
        (n, Some(rpm)) => Duration::from_secs_f64(n as f64 * 60.0 / f64::from(rpm.max(1))),
        (_, None) => return None,
    };
    let held = left
        .held_until
        .filter(|until| *until > now && left.requests > 0)
        .map_or(Duration::ZERO, |until| (until - now).unsigned_abs());
    let write = WRITE_TIME_PER_PAGE * u32::try_from(left.pages_behind).unwrap_or(u32::MAX);
    let check = REMOVAL_CHECK_TIME * u32::try_from(left.removal_checks).unwrap_or(u32::MAX);
    Some(now + held + fetch + write + check)
}

#[cfg(test)]
#[path = "estimate_tests.rs"]
mod tests;
