//! The org `dirsync bench writer` loads: okta-sim's generated users (their
//! profiles are the size of real ones), and groups whose sizes are set
//! rather than skewed, so the number of memberships is `groups ×
//! members_per_group`. Its pages are Okta's largest, as the worker
//! fetches them: 200 users, 1,000 member ids.

use dirsync_domain::{Chain, GroupRecord, PagePayload, UserRecord};
use dirsync_okta_sim::OrgSpec;
use serde_json::json;

pub(super) const USERS_PER_PAGE: usize = 200;
pub(super) const MEMBERS_PER_PAGE: usize = 1_000;
/// Groups are written before memberships, as in a sync, but not measured.
const GROUPS_PER_PAGE: usize = 200;

#[derive(Debug, Clone, Copy)]
pub(super) struct WriterSpec {
    pub(super) users: usize,
    pub(super) groups: usize,
    pub(super) members_per_group: usize,
    pub(super) seed: u64,
}

/// The org's rows as the worker hands them to the writer.
pub(super) struct OrgRows {
    users: Vec<UserRecord>,
    groups: Vec<GroupRecord>,
    /// Each group's id and its members' ids, sorted as Okta pages them.
    members: Vec<(String, Vec<String>)>,
}

impl OrgRows {
    pub(super) fn generate(spec: &WriterSpec) -> OrgRows {
        let org = dirsync_okta_sim::generate(&OrgSpec {
            users: spec.users,
            groups: 0,
            seed: spec.seed,
        });
        let users: Vec<UserRecord> = org
            .users()
            .iter()
            .map(|u| UserRecord {
                okta_id: u.id().to_owned().into(),
                status: u.status().as_str().to_owned(),
                created: Some(u.created()),
                activated: Some(u.created()),
                status_changed: u.status_changed(),
                last_login: None,
                last_updated: Some(u.last_updated()),
                password_changed: u.status_changed(),
                user_type_id: Some("otybenchusertype0001".into()),
                profile: serde_json::Value::Object(u.profile().clone()),
            })
            .collect();
        let ids: Vec<&str> = org.users().iter().map(|u| u.id()).collect();
        let size = spec.members_per_group.min(ids.len());
        let at = users.first().and_then(|u| u.created);
        let (mut groups, mut members) = (Vec::new(), Vec::new());
        for g in 0..spec.groups {
            let id = format!("00gbench{g:012}");
            // Consecutive users from an offset of its own: groups overlap,
            // and each user is in about groups × size / users of them.
            let start = g * ids.len() / spec.groups;
            let mut of_group: Vec<String> = (0..size).map(|k| ids[(start + k) % ids.len()].to_owned()).collect();
            of_group.sort_unstable();
            groups.push(GroupRecord {
                okta_id: id.clone().into(),
                group_type: "OKTA_GROUP".into(),
                created: at,
                last_updated: at,
                last_membership_updated: at,
                object_class: vec!["okta:user_group".into()],
                profile: json!({"name": format!("Bench group {g}"), "description": null}),
            });
            members.push((id, of_group));
        }
        OrgRows { users, groups, members }
    }

    /// Every chain of a first full sync: users in one chain, groups, and
    /// a member chain per group.
    pub(super) fn chains(&self) -> Vec<Chain> {
        let mut chains = vec![Chain::Users, Chain::Groups];
        chains.extend(self.members.iter().map(|(group, _)| Chain::Members {
            group_id: group.clone().into(),
        }));
        chains
    }

    pub(super) fn user_pages(&self) -> Vec<(Chain, Vec<PagePayload>)> {
        let pages = self
            .users
            .chunks(USERS_PER_PAGE)
            .map(|users| PagePayload::Users { users: users.to_vec() })
            .collect();
        vec![(Chain::Users, pages)]
    }

    pub(super) fn group_pages(&self) -> Vec<(Chain, Vec<PagePayload>)> {
        let pages = self
            .groups
            .chunks(GROUPS_PER_PAGE)
            .map(|groups| PagePayload::Groups {
                groups: groups.to_vec(),
            })
            .collect();
        vec![(Chain::Groups, pages)]
    }

    pub(super) fn member_pages(&self) -> Vec<(Chain, Vec<PagePayload>)> {
        self.members
            .iter()
            .map(|(group, ids)| {
                let pages = ids
                    .chunks(MEMBERS_PER_PAGE)
                    .map(|ids| PagePayload::Members {
                        group_id: group.clone().into(),
                        user_ids: ids.iter().map(|id| id.clone().into()).collect(),
                    })
                    .collect();
                (
                    Chain::Members {
                        group_id: group.clone().into(),
                    },
                    pages,
                )
            })
            .collect()
    }
}
