//! The System Log: an append-only list of Okta-shaped events that every
//! change to the org writes (`mutate.rs`), in persistence order, each
//! `published` at the instant of its change. Generated data has no
//! history; only changes made after generation are logged.
//!
//! Event types are the catalog's (`docs-data/okta-event-types.csv`), and
//! `displayMessage` is the first sentence of the catalog's description.
//! `GET /api/v1/logs` (`routes/logs.rs`) reads it; `filter.rs` is its
//! `filter` dialect.

pub(crate) mod filter;

use serde_json::{Value, json};

use crate::ids;
use crate::org::Org;
use crate::timestamp::{self, Millis};

/// The event types the simulator writes, and their display messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventType {
    UserCreate,
    UserActivate,
    UserReactivate,
    UserDeactivate,
    UserSuspend,
    UserUnsuspend,
    UserDeleteInitiated,
    UserDeleteCompleted,
    UserUpdateProfile,
    GroupCreate,
    GroupProfileUpdate,
    GroupDelete,
    MembershipAdd,
    MembershipRemove,
}

impl EventType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EventType::UserCreate => "user.lifecycle.create",
            EventType::UserActivate => "user.lifecycle.activate",
            EventType::UserReactivate => "user.lifecycle.reactivate",
            EventType::UserDeactivate => "user.lifecycle.deactivate",
            EventType::UserSuspend => "user.lifecycle.suspend",
            EventType::UserUnsuspend => "user.lifecycle.unsuspend",
            EventType::UserDeleteInitiated => "user.lifecycle.delete.initiated",
            EventType::UserDeleteCompleted => "user.lifecycle.delete.completed",
            EventType::UserUpdateProfile => "user.account.update_profile",
            EventType::GroupCreate => "group.lifecycle.create",
            EventType::GroupProfileUpdate => "group.profile.update",
            EventType::GroupDelete => "group.lifecycle.delete",
            EventType::MembershipAdd => "group.user_membership.add",
            EventType::MembershipRemove => "group.user_membership.remove",
        }
    }

    fn display_message(self) -> &'static str {
        match self {
            EventType::UserCreate => "Create Okta user",
            EventType::UserActivate => "Activate Okta user",
            EventType::UserReactivate => "Reactivate Okta user",
            EventType::UserDeactivate => "Deactivate Okta user",
            EventType::UserSuspend => "Suspend Okta user",
            EventType::UserUnsuspend => "Unsuspend Okta user",
            EventType::UserDeleteInitiated => "Delete Okta user initiated",
            EventType::UserDeleteCompleted => "Delete Okta user completed",
            EventType::UserUpdateProfile => "Update user profile for Okta",
            EventType::GroupCreate => "Create Okta group",
            EventType::GroupProfileUpdate => "Okta group profile updated",
            EventType::GroupDelete => "Delete Okta group",
            EventType::MembershipAdd => "Add user to group membership",
            EventType::MembershipRemove => "Remove user from group membership",
        }
    }
}

/// A `target` (or the `actor`): who or what the event is about.
#[derive(Clone, Debug)]
pub(crate) struct LogTarget {
    pub(crate) id: String,
    /// `User` or `UserGroup`, Okta's internal type names.
    pub(crate) kind: &'static str,
    /// The login of a user, the name of a group.
    pub(crate) alternate_id: String,
    pub(crate) display_name: String,
}

impl LogTarget {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.kind,
            "alternateId": self.alternate_id,
            "displayName": self.display_name,
            "detailEntry": null,
        })
    }
}

#[derive(Clone, Debug)]
pub(crate) struct LogEvent {
    pub(crate) uuid: String,
    pub(crate) published: Millis,
    pub(crate) event_type: EventType,
    pub(crate) targets: Vec<LogTarget>,
    transaction_id: String,
}

impl LogEvent {
    /// The event as `GET /api/v1/logs` returns it (Okta's `LogEvent`).
    pub(crate) fn to_json(&self, actor: &LogTarget) -> Value {
        json!({
            "actor": actor.to_json(),
            "client": {
                "userAgent": {"rawUserAgent": "okta-sim", "os": "Unknown", "browser": "UNKNOWN"},
                "zone": null,
                "device": "Unknown",
                "id": null,
                "ipAddress": "127.0.0.1",
                "geographicalContext": null,
            },
            "authenticationContext": {
                "authenticationProvider": null,
                "credentialProvider": null,
                "credentialType": null,
                "issuer": null,
                "interface": null,
                "authenticationStep": 0,
                "externalSessionId": "unknown",
            },
            "displayMessage": self.event_type.display_message(),
            "eventType": self.event_type.as_str(),
            "outcome": {"result": "SUCCESS", "reason": null},
            "published": timestamp::format(self.published),
            "securityContext": {"asNumber": null, "asOrg": null, "isp": null, "domain": null, "isProxy": null},
            "severity": "INFO",
            "debugContext": {"debugData": {}},
            "legacyEventType": null,
            "transaction": {"type": "WEB", "id": self.transaction_id, "detail": {}},
            "uuid": self.uuid,
            "version": "0",
            "request": {"ipChain": []},
            "target": self.targets.iter().map(LogTarget::to_json).collect::<Vec<_>>(),
        })
    }
}

/// The org's events in persistence order; an event's position is its
/// place in that order, which the `after` cursor counts in.
#[derive(Clone, Debug, Default)]
pub(crate) struct SystemLog {
    pub(crate) events: Vec<LogEvent>,
}

impl Org {
    /// The admin every change is attributed to. Not a user of the
    /// directory (it would change every listing); its id is derived from
    /// the org's, so one org always names the same admin.
    pub(crate) fn admin_actor(&self) -> LogTarget {
        let middle: String = self
            .id
            .chars()
            .skip(3)
            .take(14)
            .collect::<String>()
            .chars()
            .rev()
            .collect();
        LogTarget {
            id: format!("00u{middle}{}", self.tail),
            kind: "User",
            alternate_id: format!("admin@{}", self.email_domain),
            display_name: "Okta Admin".to_owned(),
        }
    }

    /// A user as a target, as they are now (call before deleting them).
    pub(crate) fn user_target(&self, id: &str) -> LogTarget {
        let user = self.user(id);
        let profile = |key: &str| {
            user.and_then(|u| u.profile.get(key))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        LogTarget {
            id: id.to_owned(),
            kind: "User",
            alternate_id: user.map(|u| u.login().to_owned()).unwrap_or_default(),
            display_name: format!("{} {}", profile("firstName"), profile("lastName"))
                .trim()
                .to_owned(),
        }
    }

    /// A group as a target, as it is now.
    pub(crate) fn group_target(&self, id: &str) -> LogTarget {
        let name = self.group(id).map(|g| g.name().to_owned()).unwrap_or_default();
        LogTarget {
            id: id.to_owned(),
            kind: "UserGroup",
            alternate_id: name.clone(),
            display_name: name,
        }
    }

    /// Appends one event, published at `at` (the change's own instant).
    pub(crate) fn log_event(&mut self, at: Millis, event_type: EventType, targets: Vec<LogTarget>) {
        let mut rng = rand::rng();
        self.system_log.events.push(LogEvent {
            uuid: uuid::Uuid::new_v4().to_string(),
            published: at,
            event_type,
            targets,
            transaction_id: ids::random_chars(&mut rng, ids::URL_SAFE, 20),
        });
    }

    /// How many events the System Log holds.
    pub fn system_log_len(&self) -> usize {
        self.system_log.events.len()
    }
}
