//! Okta users and their profiles.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::wire::{null_as_default, open_string_enum, type_id};

open_string_enum! {
    /// A user's lifecycle status.
    pub enum UserStatus {
        Staged => "STAGED",
        Provisioned => "PROVISIONED",
        Active => "ACTIVE",
        Recovery => "RECOVERY",
        PasswordExpired => "PASSWORD_EXPIRED",
        LockedOut => "LOCKED_OUT",
        Suspended => "SUSPENDED",
        Deprovisioned => "DEPROVISIONED",
    }
}

/// An Okta user as listed by `/api/v1/users`, `/api/v1/groups/{id}/users` or
/// fetched by id. Unknown fields (`credentials`, `realmId`, `_links`...) are
/// ignored; the timestamps the spec marks nullable may be null or missing.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub status: UserStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub activated: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub status_changed: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_login: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub last_updated: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub password_changed: Option<OffsetDateTime>,
    /// `type.id`: the user type that decides the profile schema.
    #[serde(rename = "type", default, deserialize_with = "type_id")]
    pub user_type_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub profile: UserProfile,
}

/// The whole profile, every base and custom attribute as Okta sent it
/// (any JSON type, nulls kept), with typed readers for the fields the
/// signature product uses.
///
/// `Debug` lists attribute names only: profiles are personal data and must
/// not reach logs.
#[derive(Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct UserProfile(Map<String, Value>);

impl UserProfile {
    /// Wraps a profile map (tests, the simulator's fixtures).
    pub fn from_map(map: Map<String, Value>) -> Self {
        Self(map)
    }

    /// Every attribute, as sent.
    pub fn attributes(&self) -> &Map<String, Value> {
        &self.0
    }

    /// Every attribute, as sent, by value (for a `jsonb` column).
    pub fn into_attributes(self) -> Map<String, Value> {
        self.0
    }

    /// One attribute by its Okta name, of any type.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// One attribute if it is a string; a number, boolean, array or null gives
    /// `None` (custom schemas vary from org to org: never an error).
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }
}

/// Typed readers for the signature fields, by Okta attribute name.
macro_rules! string_attributes {
    ($( $method:ident => $name:literal ),* $(,)?) => {
        impl UserProfile {
            $(
                #[doc = concat!("`profile.", $name, "` if it is a string.")]
                pub fn $method(&self) -> Option<&str> {
                    self.get_str($name)
                }
            )*
        }
    };
}

string_attributes! {
    login => "login",
    email => "email",
    first_name => "firstName",
    last_name => "lastName",
    display_name => "displayName",
    nick_name => "nickName",
    title => "title",
    department => "department",
    division => "division",
    organization => "organization",
    employee_number => "employeeNumber",
    cost_center => "costCenter",
    mobile_phone => "mobilePhone",
    primary_phone => "primaryPhone",
    street_address => "streetAddress",
    city => "city",
    state => "state",
    zip_code => "zipCode",
    country_code => "countryCode",
    preferred_language => "preferredLanguage",
    locale => "locale",
    timezone => "timezone",
    manager => "manager",
    manager_id => "managerId",
    user_type => "userType",
}

impl fmt::Debug for UserProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserProfile")
            .field("attributes", &self.0.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{
        "id": "00u1", "status": "ACTIVE",
        "created": "2013-06-24T16:39:18.000Z", "activated": "2013-06-24T16:39:19.000Z",
        "statusChanged": null, "lastLogin": "2013-06-24T17:39:19+02:00",
        "lastUpdated": "2013-06-27T16:35:28.000Z", "passwordChanged": null,
        "type": {"id": "oty1"}, "realmId": "guo1", "credentials": {"provider": {"type": "OKTA"}},
        "profile": {
            "login": "isaac@example.org", "email": "isaac@example.org",
            "firstName": "Isaac", "lastName": "Brock", "title": null,
            "employeeNumber": 4711, "costCenter": ["a"], "custom_flag": true,
            "nested": {"x": 1}
        },
        "_links": {"self": {"href": "https://x.okta.com/api/v1/users/00u1"}}
    }"#;

    #[test]
    fn a_full_user_parses_with_timestamps_and_type() {
        let user: User = serde_json::from_str(FULL).unwrap();
        assert_eq!(user.id, "00u1");
        assert_eq!(user.status, UserStatus::Active);
        assert_eq!(user.created.unix_timestamp(), 1_372_091_958);
        assert!(user.activated.is_some());
        assert_eq!(user.status_changed, None);
        assert_eq!(user.last_login.unwrap().unix_timestamp(), 1_372_088_359);
        assert_eq!(user.user_type_id.as_deref(), Some("oty1"));
    }

    #[test]
    fn profile_keeps_everything_and_reads_strings_only() {
        let user: User = serde_json::from_str(FULL).unwrap();
        let profile = &user.profile;
        assert_eq!(profile.login(), Some("isaac@example.org"));
        assert_eq!(profile.first_name(), Some("Isaac"));
        assert_eq!(profile.title(), None, "null is None");
        assert_eq!(profile.employee_number(), None, "a number is None, not an error");
        assert_eq!(profile.cost_center(), None, "an array is None");
        assert_eq!(profile.department(), None, "missing is None");
        assert_eq!(profile.get("title"), Some(&Value::Null), "nulls are kept");
        assert_eq!(profile.get("custom_flag"), Some(&Value::Bool(true)));
        assert_eq!(profile.attributes().len(), 9);
    }

    #[test]
    fn optional_timestamps_may_be_missing_and_profile_null() {
        let user: User = serde_json::from_str(
            r#"{"id":"00u2","status":"STAGED","created":"2020-01-01T00:00:00Z",
                "lastUpdated":"2020-01-01T00:00:00.123456Z","profile":null,"type":null}"#,
        )
        .unwrap();
        assert_eq!(user.activated, None);
        assert_eq!(user.last_login, None);
        assert_eq!(user.user_type_id, None);
        assert!(user.profile.attributes().is_empty());
    }

    #[test]
    fn unknown_statuses_are_kept() {
        let user: User = serde_json::from_str(
            r#"{"id":"00u3","status":"ACTIVATING","created":"2020-01-01T00:00:00Z",
                "lastUpdated":"2020-01-01T00:00:00Z","profile":{}}"#,
        )
        .unwrap();
        assert_eq!(user.status, UserStatus::Unknown("ACTIVATING".into()));
        assert_eq!(user.status.as_str(), "ACTIVATING");
        assert_eq!(UserStatus::from("DEPROVISIONED"), UserStatus::Deprovisioned);
        assert_eq!(UserStatus::PasswordExpired.as_str(), "PASSWORD_EXPIRED");
    }

    #[test]
    fn a_user_without_required_fields_is_an_error() {
        assert!(serde_json::from_str::<User>(r#"{"id":"00u4","status":"ACTIVE"}"#).is_err());
        assert!(
            serde_json::from_str::<User>(
                r#"{"id":"00u4","status":"ACTIVE","created":"yesterday","lastUpdated":"2020-01-01T00:00:00Z"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn debug_does_not_print_profile_values() {
        let user: User = serde_json::from_str(FULL).unwrap();
        let debug = format!("{user:?}");
        assert!(!debug.contains("isaac@example.org"), "{debug}");
        assert!(!debug.contains("Brock"), "{debug}");
        assert!(debug.contains("lastName"));
    }
}
