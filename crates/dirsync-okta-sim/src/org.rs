//! `Org`: the whole simulated tenant and its read accessors. Mutations live
//! in `mutate.rs`.

use rand_chacha::ChaCha8Rng;

use crate::model::{GroupType, SimGroup, SimUser};
use crate::syslog::SystemLog;
use crate::timestamp::Millis;

/// A simulated Okta org. Users and groups are kept sorted by id, which is
/// the order Okta pages them in, so a cursor is a binary search.
#[derive(Clone, Debug)]
pub struct Org {
    pub(crate) id: String,
    /// The 3-character tail shared by the org's ids.
    pub(crate) tail: String,
    pub(crate) user_type_id: String,
    pub(crate) realm_id: Option<String>,
    pub(crate) email_domain: String,
    pub(crate) users: Vec<SimUser>,
    pub(crate) groups: Vec<SimGroup>,
    /// The latest timestamp in the org; the next change is stamped later.
    pub(crate) clock: Millis,
    /// How far Okta's wall clock is from ours (negative: behind), so the
    /// next change is stamped on Okta's clock. Set by the simulator that
    /// serves the org (`OktaSim::set_clock_offset`).
    pub(crate) clock_offset: Millis,
    /// Draws ids for objects created after generation, so a replayed
    /// scenario gets the same ids.
    pub(crate) rng: ChaCha8Rng,
    /// Events of every change since generation (`GET /api/v1/logs`).
    pub(crate) system_log: SystemLog,
}

impl Org {
    /// The org id (`00o…`), as `/.well-known/okta-organization` reports it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The domain of the org's logins (`example.com`), for making new ones.
    pub fn email_domain(&self) -> &str {
        &self.email_domain
    }

    /// Every user, DEPROVISIONED included, sorted by id.
    pub fn users(&self) -> &[SimUser] {
        &self.users
    }

    /// Every group, BUILT_IN included, sorted by id.
    pub fn groups(&self) -> &[SimGroup] {
        &self.groups
    }

    pub fn user(&self, id: &str) -> Option<&SimUser> {
        self.user_index(id).ok().map(|i| &self.users[i])
    }

    /// Okta resolves `GET /api/v1/users/{login}` too; logins compare
    /// case-insensitively there.
    pub fn user_by_login(&self, login: &str) -> Option<&SimUser> {
        self.users.iter().find(|u| u.login().eq_ignore_ascii_case(login))
    }

    pub fn group(&self, id: &str) -> Option<&SimGroup> {
        self.group_index(id).ok().map(|i| &self.groups[i])
    }

    /// The built-in `Everyone` group (all users).
    pub fn everyone(&self) -> &SimGroup {
        self.groups
            .iter()
            .find(|g| g.group_type == GroupType::BuiltIn && g.name() == "Everyone")
            .unwrap_or(&self.groups[0])
    }

    /// Member ids of a group, sorted; empty for an unknown group.
    pub fn members(&self, group_id: &str) -> Vec<&str> {
        self.group(group_id)
            .map(|g| g.members.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Ids of the groups a user belongs to.
    pub fn groups_of(&self, user_id: &str) -> Vec<&str> {
        self.groups
            .iter()
            .filter(|g| g.members.contains(user_id))
            .map(|g| g.id.as_str())
            .collect()
    }

    pub(crate) fn user_index(&self, id: &str) -> Result<usize, usize> {
        self.users.binary_search_by(|u| u.id.as_str().cmp(id))
    }

    pub(crate) fn group_index(&self, id: &str) -> Result<usize, usize> {
        self.groups.binary_search_by(|g| g.id.as_str().cmp(id))
    }
}
