//! A realistic day of changes to an org, for benchmarks of the daily
//! (incremental) sync: what changed is drawn from a seed, applied through
//! the same mutation methods the admin API uses (`mutate.rs`), and counted
//! in a [`ChurnReport`] so the caller can check that a sync saw all of it.
//!
//! Of the users share: most are profile edits (a new title or department),
//! some are deactivated, a few deleted (DEPROVISIONED ones first, as an
//! admin cleans up) and a few are new hires. Of the groups share: one group
//! is deleted, about a fifth are renamed, and the rest have members added
//! and removed.

use std::collections::BTreeSet;

use rand::seq::IndexedRandom;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use crate::model::{GroupType, UserStatus};
use crate::org::Org;

/// What [`Org::churn`] changed, counted per kind of change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChurnReport {
    /// Users whose profile changed (title or department).
    pub users_updated: usize,
    /// Users moved to DEPROVISIONED.
    pub users_deactivated: usize,
    /// Users hard-deleted (gone from every listing and group).
    pub users_deleted: usize,
    /// New hires (they join `Everyone`).
    pub users_created: usize,
    pub groups_renamed: usize,
    /// Groups deleted, with their memberships.
    pub groups_deleted: usize,
    /// Memberships added explicitly (not counting `Everyone`).
    pub memberships_added: usize,
    /// Memberships removed explicitly (not counting those that went with a
    /// deleted user or group).
    pub memberships_removed: usize,
}

impl ChurnReport {
    /// Users touched in any way.
    pub fn users_changed(&self) -> usize {
        self.users_updated + self.users_deactivated + self.users_deleted + self.users_created
    }
}

const TITLES: &[&str] = &[
    "Senior Software Engineer",
    "Staff Engineer",
    "Engineering Manager",
    "Account Executive",
    "Sales Director",
    "Customer Success Manager",
    "Product Manager",
    "Content Strategist",
    "Financial Analyst",
    "People Partner",
];
const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Marketing",
    "Customer Success",
    "Product",
    "Finance",
    "People",
];
const FIRST_NAMES: &[&str] = &["Ana", "Björn", "Chloé", "Dmitri", "Emeka", "Fatima", "Hiro", "Zoë"];
const LAST_NAMES: &[&str] = &["Okafor", "Müller", "García", "Nguyễn", "O'Brien", "Sato", "Kowalski"];

impl Org {
    /// Applies a day of changes to `users_percent` % of the users and
    /// `groups_percent` % of the groups (BUILT_IN ones excluded), the same
    /// changes for the same seed and org. Shares round to the nearest
    /// whole user or group.
    pub fn churn(&mut self, users_percent: f64, groups_percent: f64, seed: u64) -> ChurnReport {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut report = ChurnReport::default();
        self.churn_users(&mut rng, share(self.users.len(), users_percent), &mut report);
        let changeable = self
            .groups
            .iter()
            .filter(|g| g.group_type != GroupType::BuiltIn)
            .count();
        self.churn_groups(&mut rng, share(changeable, groups_percent), &mut report);
        report
    }

    fn churn_users(&mut self, rng: &mut ChaCha8Rng, n: usize, report: &mut ChurnReport) {
        let created = n / 20;
        let deleted = n / 20;
        let deactivated = n / 10;
        let updated = n - created - deleted - deactivated;
        let (gone, present): (Vec<&crate::SimUser>, Vec<&crate::SimUser>) =
            self.users.iter().partition(|u| u.status == UserStatus::Deprovisioned);
        let deprovisioned: Vec<String> = pick(rng, &gone, deleted).into_iter().map(|u| u.id.clone()).collect();
        // When too few users are DEPROVISIONED, others are deleted too.
        let extra = deleted - deprovisioned.len();
        let others: Vec<String> = pick(rng, &present, updated + deactivated + extra)
            .into_iter()
            .map(|u| u.id.clone())
            .collect();
        let (to_delete_too, rest) = others.split_at(extra);
        let (to_deactivate, to_update) = rest.split_at(deactivated.min(rest.len()));
        for id in to_update {
            self.edit_profile(rng, id);
            report.users_updated += 1;
        }
        for id in to_deactivate {
            if self.deactivate_user(id).is_ok() {
                report.users_deactivated += 1;
            }
        }
        for id in deprovisioned.iter().chain(to_delete_too) {
            if self.delete_user(id).is_ok() {
                report.users_deleted += 1;
            }
        }
        for _ in 0..created {
            self.hire(rng);
            report.users_created += 1;
        }
    }

    /// A new title or a move to another department (with a new title).
    fn edit_profile(&mut self, rng: &mut ChaCha8Rng, id: &str) {
        let profile = &self.user(id).expect("picked from the org").profile;
        let mut changes = Map::new();
        changes.insert("title".into(), json!(other_than(rng, TITLES, profile.get("title"))));
        if rng.random_bool(0.3) {
            let department = other_than(rng, DEPARTMENTS, profile.get("department"));
            changes.insert("department".into(), json!(department));
        }
        self.update_user(id, changes)
            .expect("the user exists and keeps its login");
    }

    fn hire(&mut self, rng: &mut ChaCha8Rng) -> String {
        let first = *FIRST_NAMES.choose(rng).expect("non-empty");
        let last = *LAST_NAMES.choose(rng).expect("non-empty");
        let status = if rng.random_bool(0.7) {
            UserStatus::Active
        } else {
            UserStatus::Provisioned
        };
        let local: String = format!("{first}.{last}")
            .to_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        for n in 1.. {
            let login = format!("{local}.{n}@{}", self.email_domain);
            let profile = json!({
                "firstName": first,
                "lastName": last,
                "displayName": format!("{first} {last}"),
                "login": login,
                "email": login,
                "title": TITLES.choose(rng).copied(),
                "department": DEPARTMENTS.choose(rng).copied(),
            });
            let Value::Object(profile) = profile else {
                unreachable!()
            };
            if let Ok(id) = self.create_user(profile, status) {
                return id;
            }
        }
        unreachable!("some suffix is free")
    }

    fn churn_groups(&mut self, rng: &mut ChaCha8Rng, n: usize, report: &mut ChurnReport) {
        let candidates: Vec<&crate::SimGroup> = self
            .groups
            .iter()
            .filter(|g| g.group_type != GroupType::BuiltIn)
            .collect();
        let picked: Vec<String> = pick(rng, &candidates, n).into_iter().map(|g| g.id.clone()).collect();
        let deleted = usize::from(n >= 2);
        let renamed = if n >= 3 { (n / 5).max(1) } else { 0 };
        let (to_delete, rest) = picked.split_at(deleted);
        let (to_rename, to_reshuffle) = rest.split_at(renamed.min(rest.len()));
        for id in to_delete {
            if self.delete_group(id).is_ok() {
                report.groups_deleted += 1;
            }
        }
        for id in to_rename {
            let name = format!(
                "{} ({})",
                self.group(id).expect("picked").name(),
                rng.random_range(2..99)
            );
            if self.rename_group(id, &name).is_ok() {
                report.groups_renamed += 1;
            }
        }
        for id in to_reshuffle {
            self.reshuffle_members(rng, id, report);
        }
    }

    /// Adds 1–5 members and removes 1–5 (as many as the group has).
    fn reshuffle_members(&mut self, rng: &mut ChaCha8Rng, group_id: &str, report: &mut ChurnReport) {
        let members: Vec<String> = self.members(group_id).into_iter().map(str::to_owned).collect();
        let leaving_count = rng.random_range(1..=5);
        let leaving: Vec<String> = pick(rng, &members, leaving_count).into_iter().cloned().collect();
        let mut joining = BTreeSet::new();
        let wanted = rng.random_range(1..=5);
        for _ in 0..wanted * 20 {
            if joining.len() == wanted || self.users.is_empty() {
                break;
            }
            let user = &self.users[rng.random_range(0..self.users.len())];
            if user.status != UserStatus::Deprovisioned && !members.contains(&user.id) {
                joining.insert(user.id.clone());
            }
        }
        for user_id in &leaving {
            if self.remove_member(group_id, user_id).is_ok() {
                report.memberships_removed += 1;
            }
        }
        for user_id in &joining {
            if self.add_member(group_id, user_id).is_ok() {
                report.memberships_added += 1;
            }
        }
    }
}

/// `percent` % of `total`, rounded.
fn share(total: usize, percent: f64) -> usize {
    let n = (total as f64 * percent.clamp(0.0, 100.0) / 100.0).round();
    (n as usize).min(total)
}

/// Up to `amount` distinct items, in random order.
fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T], amount: usize) -> Vec<&'a T> {
    let amount = amount.min(items.len());
    sample(rng, items.len(), amount)
        .into_iter()
        .map(|i| &items[i])
        .collect()
}

/// A value from `choices` that differs from `current`.
fn other_than(rng: &mut ChaCha8Rng, choices: &[&'static str], current: Option<&Value>) -> &'static str {
    let start = rng.random_range(0..choices.len());
    (0..choices.len())
        .map(|k| choices[(start + k) % choices.len()])
        .find(|c| current.and_then(Value::as_str) != Some(*c))
        .expect("at least two choices")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OrgSpec, generate};

    fn org() -> Org {
        generate(&OrgSpec {
            users: 2_000,
            groups: 100,
            seed: 3,
        })
    }

    fn memberships(org: &Org) -> usize {
        org.groups()
            .iter()
            .filter(|g| g.group_type() != GroupType::BuiltIn)
            .map(|g| g.member_count())
            .sum()
    }

    #[test]
    fn one_percent_of_users_and_two_of_groups_change_in_the_expected_mix() {
        let mut org = org();
        let before = org.clone();

        let report = org.churn(1.0, 2.0, 7);

        assert_eq!(report.users_changed(), 20);
        assert_eq!(report.users_created, 1);
        assert_eq!(report.users_deleted, 1);
        assert_eq!(report.users_deactivated, 2);
        assert_eq!(report.users_updated, 16);
        assert_eq!(report.groups_deleted, 1);
        assert_eq!(report.groups_renamed, 0, "two groups: one deleted, one reshuffled");
        assert!(report.memberships_added >= 1 && report.memberships_removed >= 1);
        assert_eq!(org.users().len(), before.users().len());
        assert_eq!(org.groups().len(), before.groups().len() - 1);
    }

    #[test]
    fn every_reported_user_change_is_visible_in_the_org() {
        let mut org = org();
        let before = org.clone();

        let report = org.churn(5.0, 10.0, 11);

        let edited = org
            .users()
            .iter()
            .filter(|u| before.user(u.id()).is_some_and(|b| b.profile() != u.profile()))
            .count();
        let deactivated = org
            .users()
            .iter()
            .filter(|u| u.status() == UserStatus::Deprovisioned)
            .filter(|u| {
                before
                    .user(u.id())
                    .is_some_and(|b| b.status() != UserStatus::Deprovisioned)
            })
            .count();
        let deleted = before.users().iter().filter(|u| org.user(u.id()).is_none()).count();
        let created = org.users().iter().filter(|u| before.user(u.id()).is_none()).count();
        assert_eq!(edited, report.users_updated);
        assert_eq!(deactivated, report.users_deactivated);
        assert_eq!(deleted, report.users_deleted);
        assert_eq!(created, report.users_created);
        let renamed = org
            .groups()
            .iter()
            .filter(|g| before.group(g.id()).is_some_and(|b| b.name() != g.name()))
            .count();
        assert_eq!(renamed, report.groups_renamed);
        assert!(report.groups_renamed >= 1);
        assert_eq!(org.everyone().member_count(), org.users().len());
    }

    #[test]
    fn membership_counts_add_up() {
        let mut org = org();
        let before = org.clone();

        let report = org.churn(0.0, 10.0, 5);

        let deleted_group = before.groups().iter().find(|g| org.group(g.id()).is_none()).unwrap();
        let expected =
            memberships(&before) + report.memberships_added - report.memberships_removed - deleted_group.member_count();
        assert_eq!(memberships(&org), expected);
        assert_eq!(report.users_changed(), 0);
    }

    #[test]
    fn the_same_seed_makes_the_same_changes() {
        let (mut a, mut b) = (org(), org());

        let (ra, rb) = (a.churn(2.0, 4.0, 9), b.churn(2.0, 4.0, 9));

        assert_eq!(ra, rb);
        let view = |o: &Org| -> Vec<(String, UserStatus, Map<String, Value>)> {
            o.users()
                .iter()
                .map(|u| (u.id().to_owned(), u.status(), u.profile().clone()))
                .collect()
        };
        assert_eq!(view(&a), view(&b));
        let groups = |o: &Org| -> Vec<(String, String, usize)> {
            o.groups()
                .iter()
                .map(|g| (g.id().to_owned(), g.name().to_owned(), g.member_count()))
                .collect()
        };
        assert_eq!(groups(&a), groups(&b));
    }
}
