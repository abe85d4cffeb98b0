//! The simulated directory: users, groups and memberships, as plain mutable
//! data. The server renders it on every request (see `render.rs`), so a
//! change made between two requests is visible in the second one.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::timestamp::{self, Millis};

/// A user's lifecycle status, as Okta spells it in `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UserStatus {
    Active,
    Staged,
    Provisioned,
    Recovery,
    PasswordExpired,
    LockedOut,
    Suspended,
    Deprovisioned,
}

impl UserStatus {
    pub const ALL: [UserStatus; 8] = [
        UserStatus::Active,
        UserStatus::Staged,
        UserStatus::Provisioned,
        UserStatus::Recovery,
        UserStatus::PasswordExpired,
        UserStatus::LockedOut,
        UserStatus::Suspended,
        UserStatus::Deprovisioned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "ACTIVE",
            UserStatus::Staged => "STAGED",
            UserStatus::Provisioned => "PROVISIONED",
            UserStatus::Recovery => "RECOVERY",
            UserStatus::PasswordExpired => "PASSWORD_EXPIRED",
            UserStatus::LockedOut => "LOCKED_OUT",
            UserStatus::Suspended => "SUSPENDED",
            UserStatus::Deprovisioned => "DEPROVISIONED",
        }
    }

    pub fn parse(s: &str) -> Option<UserStatus> {
        UserStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A group's `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupType {
    OktaGroup,
    AppGroup,
    BuiltIn,
}

impl GroupType {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupType::OktaGroup => "OKTA_GROUP",
            GroupType::AppGroup => "APP_GROUP",
            GroupType::BuiltIn => "BUILT_IN",
        }
    }
}

/// Who checks the user's password (`credentials.provider`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Provider {
    Okta,
    /// Delegated authentication to an AD domain, e.g. `corp.example.com`.
    ActiveDirectory(String),
}

/// One user. Fields stay crate-private so the invariants (sorted ids,
/// timestamps that only move forward) live in `Org`'s methods.
#[derive(Clone, Debug)]
pub struct SimUser {
    pub(crate) id: String,
    pub(crate) status: UserStatus,
    pub(crate) created: Millis,
    pub(crate) activated: Option<Millis>,
    pub(crate) status_changed: Option<Millis>,
    pub(crate) last_login: Option<Millis>,
    pub(crate) last_updated: Millis,
    pub(crate) password_changed: Option<Millis>,
    pub(crate) type_id: String,
    pub(crate) realm_id: Option<String>,
    pub(crate) profile: Map<String, Value>,
    /// Whether `credentials` shows a `password: {}` (and the verified email).
    pub(crate) has_password: bool,
    pub(crate) provider: Provider,
}

impl SimUser {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn status(&self) -> UserStatus {
        self.status
    }

    pub fn profile(&self) -> &Map<String, Value> {
        &self.profile
    }

    /// `profile.login`.
    pub fn login(&self) -> &str {
        self.profile.get("login").and_then(Value::as_str).unwrap_or_default()
    }

    pub fn created(&self) -> OffsetDateTime {
        timestamp::to_datetime(self.created)
    }

    pub fn last_updated(&self) -> OffsetDateTime {
        timestamp::to_datetime(self.last_updated)
    }

    pub fn status_changed(&self) -> Option<OffsetDateTime> {
        self.status_changed.map(timestamp::to_datetime)
    }
}

/// One group with its member ids (kept sorted: member pages are id-ordered).
#[derive(Clone, Debug)]
pub struct SimGroup {
    pub(crate) id: String,
    pub(crate) group_type: GroupType,
    pub(crate) created: Millis,
    pub(crate) last_updated: Millis,
    pub(crate) last_membership_updated: Millis,
    pub(crate) object_class: &'static str,
    pub(crate) profile: Map<String, Value>,
    /// For APP_GROUPs: the app (`0oa…`) the group was imported from.
    pub(crate) source_app: Option<String>,
    /// Stats Okta reports with `expand=stats` besides the member count.
    pub(crate) apps_count: u32,
    pub(crate) push_mappings_count: u32,
    pub(crate) has_admin_privilege: bool,
    pub(crate) members: BTreeSet<String>,
}

impl SimGroup {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn group_type(&self) -> GroupType {
        self.group_type
    }

    pub fn profile(&self) -> &Map<String, Value> {
        &self.profile
    }

    /// `profile.name`.
    pub fn name(&self) -> &str {
        self.profile.get("name").and_then(Value::as_str).unwrap_or_default()
    }

    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    pub fn last_updated(&self) -> OffsetDateTime {
        timestamp::to_datetime(self.last_updated)
    }

    pub fn last_membership_updated(&self) -> OffsetDateTime {
        timestamp::to_datetime(self.last_membership_updated)
    }
}
