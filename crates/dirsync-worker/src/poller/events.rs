//! Which System Log events change what dirsync stores, and the smallest
//! Okta read that makes the copy true again for each: the user or group by
//! id (its state now, whatever happened in between), or, for a membership,
//! the event itself (the log is read with the tenant's own credentials
//! from its own Okta: its targets are proof, and the order of the log
//! decides a remove followed by a re-add) plus its group by id, whose
//! `lastMembershipUpdated` moved (one read per group and poll). A user
//! created or deleted moves the Everyone group's too: it is read again.

use dirsync_okta::LogEvent;
use std::collections::BTreeSet;

/// The event types the poller asks for (Okta's catalog names,
/// `okta-event-types.csv`): every one that changes a stored user, group
/// or membership.
pub const EVENT_TYPES: [&str; 14] = [
    "user.lifecycle.create",
    "user.lifecycle.activate",
    "user.lifecycle.reactivate",
    "user.lifecycle.deactivate",
    "user.lifecycle.suspend",
    "user.lifecycle.unsuspend",
    "user.lifecycle.delete.initiated",
    "user.lifecycle.delete.completed",
    "user.account.update_profile",
    "group.user_membership.add",
    "group.user_membership.remove",
    "group.lifecycle.create",
    "group.lifecycle.delete",
    "group.profile.update",
];

/// What a poll's events ask of Okta and of the store.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Wanted {
    /// Users to read by id (404: deleted).
    pub users: BTreeSet<String>,
    /// Groups to read by id (404: deleted).
    pub groups: BTreeSet<String>,
    /// Membership changes in log order: `(added, group, user)`.
    pub members: Vec<(bool, String, String)>,
    /// A user was created or deleted: the built-in Everyone group changed.
    pub everyone: bool,
}

impl Wanted {
    /// Reads a page of events (in log order). Failed events changed
    /// nothing; events of other types are ignored (the filter asked only
    /// for [`EVENT_TYPES`], but the log is Okta's to shape).
    pub fn add(&mut self, events: &[LogEvent]) {
        for event in events {
            if event.outcome_result.as_deref().is_some_and(|r| r != "SUCCESS") {
                continue;
            }
            let target = |kind: &str| event.targets.iter().find(|t| t.kind == kind).map(|t| t.id.clone());
            let kind = event.event_type.as_str();
            if kind.starts_with("user.lifecycle.") || kind == "user.account.update_profile" {
                self.users.extend(target("User"));
                self.everyone |= kind == "user.lifecycle.create" || kind.starts_with("user.lifecycle.delete");
            } else if kind.starts_with("group.lifecycle.") || kind == "group.profile.update" {
                self.groups.extend(target("UserGroup"));
            } else if let Some(added) = match kind {
                "group.user_membership.add" => Some(true),
                "group.user_membership.remove" => Some(false),
                _ => None,
            } && let (Some(group), Some(user)) = (target("UserGroup"), target("User"))
            {
                self.groups.insert(group.clone());
                self.members.push((added, group, user));
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty() && self.members.is_empty()
    }

    /// Users and groups a membership change names, for the store to say
    /// which it does not hold yet (those are read by id too).
    pub fn member_ids(&self) -> (Vec<&str>, Vec<&str>) {
        let users: BTreeSet<&str> = self.members.iter().map(|(_, _, u)| u.as_str()).collect();
        let groups: BTreeSet<&str> = self.members.iter().map(|(_, g, _)| g.as_str()).collect();
        (users.into_iter().collect(), groups.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dirsync_okta::LogTarget;

    fn event(kind: &str, outcome: &str, targets: &[(&str, &str)]) -> LogEvent {
        LogEvent {
            uuid: format!("{kind}-{}", targets.len()),
            published: time::OffsetDateTime::UNIX_EPOCH,
            event_type: kind.into(),
            outcome_result: Some(outcome.into()),
            targets: targets
                .iter()
                .map(|(id, kind)| LogTarget {
                    id: (*id).into(),
                    kind: (*kind).into(),
                    alternate_id: None,
                    display_name: None,
                })
                .collect(),
        }
    }

    #[test]
    fn user_and_group_events_become_one_read_by_id_each() {
        let mut wanted = Wanted::default();
        wanted.add(&[
            event("user.lifecycle.create", "SUCCESS", &[("00u1", "User")]),
            event("user.account.update_profile", "SUCCESS", &[("00u1", "User")]),
            event("user.lifecycle.delete.completed", "SUCCESS", &[("00u2", "User")]),
            event("group.profile.update", "SUCCESS", &[("00g1", "UserGroup")]),
            event("group.lifecycle.delete", "SUCCESS", &[("00g2", "UserGroup")]),
        ]);
        assert_eq!(wanted.users, BTreeSet::from(["00u1".into(), "00u2".into()]));
        assert_eq!(wanted.groups, BTreeSet::from(["00g1".into(), "00g2".into()]));
        assert!(wanted.members.is_empty());
        assert!(wanted.everyone, "a user created or deleted changes Everyone");
    }

    #[test]
    fn membership_changes_keep_the_order_of_the_log() {
        let mut wanted = Wanted::default();
        let pair = [("00u1", "User"), ("00g1", "UserGroup")];
        wanted.add(&[
            event("group.user_membership.remove", "SUCCESS", &pair),
            event("group.user_membership.add", "SUCCESS", &pair),
        ]);
        assert_eq!(
            wanted.members,
            [
                (false, "00g1".into(), "00u1".into()),
                (true, "00g1".into(), "00u1".into())
            ]
        );
        assert_eq!(wanted.member_ids(), (vec!["00u1"], vec!["00g1"]));
        assert_eq!(
            wanted.groups,
            BTreeSet::from(["00g1".into()]),
            "its lastMembershipUpdated moved"
        );
        assert!(!wanted.everyone);
    }

    #[test]
    fn failed_and_unrelated_events_change_nothing() {
        let mut wanted = Wanted::default();
        wanted.add(&[
            event("user.lifecycle.suspend", "FAILURE", &[("00u1", "User")]),
            event("user.session.start", "SUCCESS", &[("00u1", "User")]),
            event("group.user_membership.add", "SUCCESS", &[("00u1", "User")]),
        ]);
        assert!(wanted.is_empty());
    }
}
