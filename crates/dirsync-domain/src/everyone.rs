//! Okta's built-in Everyone group: recognised here, its members derived
//! instead of paged.
//!
//! Everyone holds every user of the org, so paging its members costs
//! `users / 1000` requests a run and tells nothing the users' own listing
//! does not (its `lastMembershipUpdated` moves with every change anyway).
//! The rule:
//!
//! - **Recognition** ([`is_everyone`]): type `BUILT_IN` and profile name
//!   `Everyone`, exactly. The worker gives such a group a done
//!   `everyone:<group id>` chain (`Chain::Everyone`) wherever it would
//!   otherwise page the group's members.
//! - **Members**: after the run's user writes and removals, Everyone's
//!   members are exactly the tenant's stored users that are not deleted
//!   (`deleted_at IS NULL`, whatever their status: a deprovisioned user
//!   stays a member). Users stored and missing from the group are added
//!   (`membership.added`); members that are no longer a stored, undeleted
//!   user are removed (`membership.removed`). The store applies this
//!   set-based at finalize (`derive_everyone`: thousands of users, one
//!   statement each way), for every Everyone chain the run completed.

use crate::GroupRecord;

/// Okta's type of its own groups (Everyone among them).
pub const BUILT_IN: &str = "BUILT_IN";

/// The profile name of the built-in group that holds every user.
pub const EVERYONE: &str = "Everyone";

/// Whether a group is Okta's built-in Everyone: `BUILT_IN` and named
/// `Everyone`. A group a customer names "Everyone" is an `OKTA_GROUP` and
/// is paged like any other; another built-in group is not Everyone.
pub fn is_everyone(group_type: &str, name: Option<&str>) -> bool {
    group_type == BUILT_IN && name == Some(EVERYONE)
}

impl GroupRecord {
    /// [`is_everyone`] for a stored or fetched group record.
    pub fn is_everyone(&self) -> bool {
        is_everyone(&self.group_type, self.profile.get("name").and_then(|n| n.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_built_in_group_named_everyone_is_everyone() {
        assert!(is_everyone("BUILT_IN", Some("Everyone")));
        assert!(!is_everyone("OKTA_GROUP", Some("Everyone")), "a customer's own group");
        assert!(!is_everyone("APP_GROUP", Some("Everyone")));
        assert!(!is_everyone("BUILT_IN", Some("everyone")), "the name is exact");
        assert!(!is_everyone("BUILT_IN", Some("Everyone ")));
        assert!(!is_everyone("BUILT_IN", Some("Administrators")));
        assert!(!is_everyone("BUILT_IN", None));
        assert!(
            !is_everyone("built_in", Some("Everyone")),
            "the type is Okta's spelling"
        );
    }

    #[test]
    fn a_group_record_is_everyone_by_its_type_and_profile_name() {
        let record = |group_type: &str, profile| GroupRecord {
            okta_id: "00g1".into(),
            group_type: group_type.into(),
            created: None,
            last_updated: None,
            last_membership_updated: None,
            object_class: vec!["okta:user_group".into()],
            profile,
        };
        assert!(record("BUILT_IN", json!({"name": "Everyone", "description": "All users"})).is_everyone());
        assert!(!record("BUILT_IN", json!({"name": 7})).is_everyone());
        assert!(!record("BUILT_IN", json!({})).is_everyone());
        assert!(!record("OKTA_GROUP", json!({"name": "Everyone"})).is_everyone());
    }
}
