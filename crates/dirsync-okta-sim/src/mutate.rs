//! Changes between syncs, stamped the way Okta stamps them.
//!
//! Every change takes a fresh instant from the org's clock, which never goes
//! backwards and is always later than any timestamp already in the org, so
//! an incremental sync's `lastUpdated gt "<last run>"` sees it. A user's
//! profile or status change moves `lastUpdated` (and `statusChanged`); a
//! membership change moves the group's `lastMembershipUpdated` only, not
//! the user's `lastUpdated`, as in Okta.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::errors::SimError;
use crate::ids;
use crate::model::{GroupType, Provider, SimGroup, SimUser, UserStatus};
use crate::org::Org;
use crate::syslog::EventType;
use crate::timestamp::{self, Millis};

impl Org {
    /// The next instant: now on Okta's clock (ours plus the offset), or
    /// 1 ms after the latest one if that clock is behind (it never is for
    /// generated data, which ends in 2025, unless the offset moved back).
    pub(crate) fn tick(&mut self) -> Millis {
        self.clock = (timestamp::now() + self.clock_offset).max(self.clock + 1);
        self.clock
    }

    fn user_mut(&mut self, id: &str) -> Result<&mut SimUser, SimError> {
        let i = self.user_index(id).map_err(|_| SimError::UserNotFound(id.to_owned()))?;
        Ok(&mut self.users[i])
    }

    fn group_mut(&mut self, id: &str) -> Result<&mut SimGroup, SimError> {
        let i = self
            .group_index(id)
            .map_err(|_| SimError::GroupNotFound(id.to_owned()))?;
        Ok(&mut self.groups[i])
    }

    fn everyone_mut(&mut self) -> Option<&mut SimGroup> {
        self.groups
            .iter_mut()
            .find(|g| g.group_type == GroupType::BuiltIn && g.name() == "Everyone")
    }

    fn login_taken(&self, login: &str, except: Option<&str>) -> bool {
        self.users
            .iter()
            .any(|u| Some(u.id.as_str()) != except && u.login().eq_ignore_ascii_case(login))
    }

    /// Creates a user as `POST /api/v1/users` would: `STAGED`
    /// (`activate=false`), `PROVISIONED` (activated without a password) or
    /// `ACTIVE` (activated with one). Returns the new id. The user joins
    /// `Everyone`.
    pub fn create_user(&mut self, profile: Map<String, Value>, status: UserStatus) -> Result<String, SimError> {
        let login = profile
            .get("login")
            .and_then(Value::as_str)
            .ok_or(SimError::MissingAttribute("login"))?;
        if !profile.get("email").is_some_and(Value::is_string) {
            return Err(SimError::MissingAttribute("email"));
        }
        if self.login_taken(login, None) {
            return Err(SimError::LoginTaken(login.to_owned()));
        }
        if !matches!(
            status,
            UserStatus::Staged | UserStatus::Provisioned | UserStatus::Active
        ) {
            return Err(SimError::InvalidTransition {
                action: "create",
                status: status.as_str(),
            });
        }
        let now = self.tick();
        let id = self.fresh_id("00u", |org, id| org.user_index(id).is_ok());
        let user = new_user(self, id.clone(), with_always_sent(profile), status, now);
        let at = self.user_index(&id).unwrap_err();
        self.users.insert(at, user);
        if let Some(everyone) = self.everyone_mut() {
            everyone.members.insert(id.clone());
            everyone.last_membership_updated = now;
        }
        // Created activated, Okta logs the activation as its own event.
        let target = self.user_target(&id);
        self.log_event(now, EventType::UserCreate, vec![target.clone()]);
        if status != UserStatus::Staged {
            self.log_event(now, EventType::UserActivate, vec![target]);
        }
        Ok(id)
    }

    /// An id no object of this kind has, drawn from the org's seeded rng.
    fn fresh_id(&mut self, prefix: &str, exists: impl Fn(&Org, &str) -> bool) -> String {
        loop {
            let id = ids::okta_id(&mut self.rng, prefix, &self.tail);
            if !exists(self, &id) {
                return id;
            }
        }
    }

    /// A partial profile update (`POST /api/v1/users/{id}`): listed
    /// attributes are set, `null` clears one, others stay.
    pub fn update_user(&mut self, id: &str, changes: Map<String, Value>) -> Result<(), SimError> {
        if let Some(login) = changes.get("login").and_then(Value::as_str)
            && self.login_taken(login, Some(id))
        {
            return Err(SimError::LoginTaken(login.to_owned()));
        }
        self.user_mut(id)?;
        let now = self.tick();
        let user = self.user_mut(id)?;
        user.profile.extend(changes);
        user.last_updated = now;
        let target = self.user_target(id);
        self.log_event(now, EventType::UserUpdateProfile, vec![target]);
        Ok(())
    }

    fn transition(
        &mut self,
        id: &str,
        (action, event): (&'static str, EventType),
        allowed: &[UserStatus],
        to: UserStatus,
    ) -> Result<(), SimError> {
        let from = self.user_mut(id)?.status;
        if !allowed.contains(&from) {
            return Err(SimError::InvalidTransition {
                action,
                status: from.as_str(),
            });
        }
        let now = self.tick();
        let user = self.user_mut(id)?;
        user.status = to;
        user.status_changed = Some(now);
        user.last_updated = now;
        if to == UserStatus::Active && user.activated.is_none() {
            user.activated = Some(now);
        }
        let target = self.user_target(id);
        self.log_event(now, event, vec![target]);
        Ok(())
    }

    /// `lifecycle/deactivate`: any status but DEPROVISIONED becomes
    /// DEPROVISIONED. Group memberships stay, as in Okta.
    pub fn deactivate_user(&mut self, id: &str) -> Result<(), SimError> {
        let allowed: Vec<UserStatus> = UserStatus::ALL
            .into_iter()
            .filter(|s| *s != UserStatus::Deprovisioned)
            .collect();
        let action = ("deactivate", EventType::UserDeactivate);
        self.transition(id, action, &allowed, UserStatus::Deprovisioned)
    }

    /// `lifecycle/activate` on a DEPROVISIONED (or STAGED/PROVISIONED) user,
    /// taken through to ACTIVE as if the person set a password.
    pub fn reactivate_user(&mut self, id: &str) -> Result<(), SimError> {
        let allowed = [UserStatus::Deprovisioned, UserStatus::Staged, UserStatus::Provisioned];
        // Okta calls it reactivation only for a user who was deactivated.
        let event = if self.user_mut(id)?.status == UserStatus::Deprovisioned {
            EventType::UserReactivate
        } else {
            EventType::UserActivate
        };
        self.transition(id, ("reactivate", event), &allowed, UserStatus::Active)?;
        let now = self.clock;
        let user = self.user_mut(id)?;
        user.has_password = true;
        if user.provider == Provider::Okta {
            user.password_changed = Some(now);
        }
        Ok(())
    }

    /// `lifecycle/suspend`: only an ACTIVE user can be suspended.
    pub fn suspend_user(&mut self, id: &str) -> Result<(), SimError> {
        let action = ("suspend", EventType::UserSuspend);
        self.transition(id, action, &[UserStatus::Active], UserStatus::Suspended)
    }

    pub fn unsuspend_user(&mut self, id: &str) -> Result<(), SimError> {
        let action = ("unsuspend", EventType::UserUnsuspend);
        self.transition(id, action, &[UserStatus::Suspended], UserStatus::Active)
    }

    /// Hard delete (what `DELETE /api/v1/users/{id}` does to a DEPROVISIONED
    /// user; any status is accepted here): gone from every listing, 404 by
    /// id, removed from its groups, whose `lastMembershipUpdated` moves.
    pub fn delete_user(&mut self, id: &str) -> Result<(), SimError> {
        let index = self.user_index(id).map_err(|_| SimError::UserNotFound(id.to_owned()))?;
        let now = self.tick();
        let target = self.user_target(id);
        self.users.remove(index);
        for group in &mut self.groups {
            if group.members.remove(id) {
                group.last_membership_updated = now;
            }
        }
        self.log_event(now, EventType::UserDeleteInitiated, vec![target.clone()]);
        self.log_event(now, EventType::UserDeleteCompleted, vec![target]);
        Ok(())
    }

    /// Creates an OKTA_GROUP; returns its id.
    pub fn create_group(&mut self, name: &str, description: Option<&str>) -> String {
        let now = self.tick();
        let id = self.fresh_id("00g", |org, id| org.group_index(id).is_ok());
        let mut profile = Map::new();
        profile.insert("name".into(), Value::from(name));
        profile.insert("description".into(), description.map_or(Value::Null, Value::from));
        let group = SimGroup {
            id: id.clone(),
            group_type: GroupType::OktaGroup,
            created: now,
            last_updated: now,
            last_membership_updated: now,
            object_class: "okta:user_group",
            profile,
            source_app: None,
            apps_count: 0,
            push_mappings_count: 0,
            has_admin_privilege: false,
            members: BTreeSet::new(),
        };
        let at = self.group_index(&id).unwrap_err();
        self.groups.insert(at, group);
        let target = self.group_target(&id);
        self.log_event(now, EventType::GroupCreate, vec![target]);
        id
    }

    fn changeable_group(&mut self, id: &str) -> Result<&mut SimGroup, SimError> {
        let group = self.group_mut(id)?;
        if group.group_type == GroupType::BuiltIn {
            return Err(SimError::BuiltInGroup(id.to_owned()));
        }
        Ok(group)
    }

    /// Renames a group; its `lastUpdated` moves.
    pub fn rename_group(&mut self, id: &str, name: &str) -> Result<(), SimError> {
        self.changeable_group(id)?;
        let now = self.tick();
        let group = self.changeable_group(id)?;
        group.profile.insert("name".into(), Value::from(name));
        group.last_updated = now;
        let target = self.group_target(id);
        self.log_event(now, EventType::GroupProfileUpdate, vec![target]);
        Ok(())
    }

    pub fn delete_group(&mut self, id: &str) -> Result<(), SimError> {
        self.changeable_group(id)?;
        let index = self
            .group_index(id)
            .map_err(|_| SimError::GroupNotFound(id.to_owned()))?;
        let target = self.group_target(id);
        self.groups.remove(index);
        let now = self.tick();
        self.log_event(now, EventType::GroupDelete, vec![target]);
        Ok(())
    }

    /// Adds a member (idempotent, like `PUT /groups/{g}/users/{u}`); the
    /// group's `lastMembershipUpdated` moves when membership changed.
    pub fn add_member(&mut self, group_id: &str, user_id: &str) -> Result<(), SimError> {
        self.set_member(group_id, user_id, true)
    }

    pub fn remove_member(&mut self, group_id: &str, user_id: &str) -> Result<(), SimError> {
        self.set_member(group_id, user_id, false)
    }

    fn set_member(&mut self, group_id: &str, user_id: &str, member: bool) -> Result<(), SimError> {
        self.user_mut(user_id)?;
        self.changeable_group(group_id)?;
        let now = self.tick();
        let group = self.changeable_group(group_id)?;
        let changed = if member {
            group.members.insert(user_id.to_owned())
        } else {
            group.members.remove(user_id)
        };
        if changed {
            group.last_membership_updated = now;
            let event = if member {
                EventType::MembershipAdd
            } else {
                EventType::MembershipRemove
            };
            let targets = vec![self.user_target(user_id), self.group_target(group_id)];
            self.log_event(now, event, targets);
        }
        Ok(())
    }
}

/// Okta returns `mobilePhone` and `secondEmail` for every user, null when
/// unset.
fn with_always_sent(mut profile: Map<String, Value>) -> Map<String, Value> {
    for key in ["mobilePhone", "secondEmail"] {
        profile.entry(key).or_insert(Value::Null);
    }
    profile
}

fn new_user(org: &Org, id: String, profile: Map<String, Value>, status: UserStatus, now: Millis) -> SimUser {
    let activated = (status != UserStatus::Staged).then_some(now);
    let has_password = status == UserStatus::Active;
    SimUser {
        id,
        status,
        created: now,
        activated,
        status_changed: activated,
        last_login: None,
        last_updated: now,
        password_changed: has_password.then_some(now),
        type_id: org.user_type_id.clone(),
        realm_id: org.realm_id.clone(),
        profile,
        has_password,
        provider: Provider::Okta,
    }
}
