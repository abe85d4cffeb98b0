//! Okta groups.

use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::wire::{null_as_default, open_string_enum};

open_string_enum! {
    /// How a group's profile and memberships are managed.
    pub enum GroupType {
        /// Managed in Okta (static assignments or group rules).
        OktaGroup => "OKTA_GROUP",
        /// Imported from an app (Active Directory, LDAP...).
        AppGroup => "APP_GROUP",
        /// Okta's own, such as Everyone, which holds every user of the org.
        BuiltIn => "BUILT_IN",
    }
}

/// An Okta group as listed by `/api/v1/groups` (optionally with
/// `expand=stats`) or fetched by id.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "GroupWire")]
pub struct Group {
    pub id: String,
    pub group_type: GroupType,
    pub created: OffsetDateTime,
    /// When the group's profile last changed.
    pub last_updated: OffsetDateTime,
    /// When a member was last added or removed: a member chain is needed only
    /// when this moved since the last successful sync.
    pub last_membership_updated: OffsetDateTime,
    pub object_class: Vec<String>,
    /// The whole profile (`name`, `description`, and for app groups their
    /// extra attributes such as `samAccountName`), as sent.
    pub profile: Map<String, Value>,
    /// `_embedded.stats.usersCount`, present with `expand=stats`.
    pub users_count: Option<u64>,
}

impl Group {
    /// `profile.name` if it is a string.
    pub fn name(&self) -> Option<&str> {
        self.profile.get("name").and_then(Value::as_str)
    }

    /// `profile.description` if it is a string (often null).
    pub fn description(&self) -> Option<&str> {
        self.profile.get("description").and_then(Value::as_str)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupWire {
    id: String,
    #[serde(rename = "type")]
    group_type: GroupType,
    #[serde(with = "time::serde::rfc3339")]
    created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_updated: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_membership_updated: OffsetDateTime,
    #[serde(default, deserialize_with = "null_as_default")]
    object_class: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    profile: Map<String, Value>,
    #[serde(rename = "_embedded", default, deserialize_with = "null_as_default")]
    embedded: Embedded,
}

#[derive(Default, Deserialize)]
struct Embedded {
    #[serde(default, deserialize_with = "null_as_default")]
    stats: Stats,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stats {
    /// A count that is not a non-negative integer is treated as unknown.
    #[serde(default)]
    users_count: Option<Value>,
}

impl From<GroupWire> for Group {
    fn from(wire: GroupWire) -> Self {
        Group {
            id: wire.id,
            group_type: wire.group_type,
            created: wire.created,
            last_updated: wire.last_updated,
            last_membership_updated: wire.last_membership_updated,
            object_class: wire.object_class,
            profile: wire.profile,
            users_count: wire.embedded.stats.users_count.and_then(|v| v.as_u64()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_with_stats_parses() {
        let group: Group = serde_json::from_str(
            r#"{"id":"00g1","created":"2015-02-06T10:11:28.000Z",
                "lastUpdated":"2015-10-05T19:16:43.000Z",
                "lastMembershipUpdated":"2015-11-28T19:15:32.000Z",
                "objectClass":["okta:user_group"],"type":"OKTA_GROUP",
                "profile":{"name":"West Coast users","description":null,"extra":7},
                "_embedded":{"stats":{"usersCount":12,"appsCount":0}},
                "_links":{"self":{"href":"x"}}}"#,
        )
        .unwrap();
        assert_eq!(group.group_type, GroupType::OktaGroup);
        assert_eq!(group.name(), Some("West Coast users"));
        assert_eq!(group.description(), None);
        assert_eq!(group.users_count, Some(12));
        assert_eq!(group.object_class, vec!["okta:user_group".to_owned()]);
        assert_eq!(group.profile.get("extra"), Some(&Value::from(7)));
    }

    #[test]
    fn built_in_and_unknown_types_and_missing_stats() {
        let group: Group = serde_json::from_str(
            r#"{"id":"00g2","created":"2015-02-06T10:11:28Z","lastUpdated":"2015-02-06T10:11:28Z",
                "lastMembershipUpdated":"2015-02-06T10:11:28Z","type":"BUILT_IN",
                "profile":{"name":"Everyone"},"_embedded":null,"objectClass":null}"#,
        )
        .unwrap();
        assert_eq!(group.group_type, GroupType::BuiltIn);
        assert_eq!(group.users_count, None);
        assert!(group.object_class.is_empty());

        let odd: GroupType = serde_json::from_str(r#""SOME_NEW_TYPE""#).unwrap();
        assert_eq!(odd, GroupType::Unknown("SOME_NEW_TYPE".into()));
    }
}
