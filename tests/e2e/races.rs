//! Okta changing under a running sync, and the evidence a removal needs:
//! a group deleted between its listing and its members, member listings
//! cut short, a review confirmed after later runs, Okta's clock apart from
//! ours, and a daily run that meets a run already in progress.
//!
//! One file per concern (`mid_run`, `removal_evidence`, `clock_skew`,
//! `daily_run`, `deleted_group`, `fresh_chains`); this one holds what they share.

mod clock_skew;
mod daily_run;
mod deleted_group;
mod fresh_chains;
mod mid_run;
mod removal_evidence;

use dirsync_okta_sim::Org;

const TOKEN: &str = "tok-races";

/// A group with members (not Everyone), chosen by position.
fn group_with_members(org: &Org, nth: usize) -> String {
    org.groups()
        .iter()
        .filter(|g| g.name() != "Everyone" && g.member_count() >= 3)
        .nth(nth)
        .expect("the org has groups with members")
        .id()
        .to_owned()
}
