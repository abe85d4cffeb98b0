//! What Okta can send, checked before anything is stored.
//!
//! Every customer types their own instance URL, so "Okta" is whatever
//! answers there. A record that Okta could not have sent (an id of the wrong
//! shape, a NUL character PostgreSQL refuses, a profile of megabytes) is left
//! out of the run and counted, with its id shortened, instead of failing the
//! run or a writer batch that other tenants share.

use crate::{GroupRecord, UserRecord};
use serde_json::Value;
use std::fmt;

/// Okta ids are 20 characters (`00u1a2b3c4D5e6F7g8h9`); anything longer
/// than this, or with other characters, is not one.
pub const MAX_ID_LEN: usize = 64;
/// A single profile string: Okta's own attributes stop at a few kilobytes.
pub const MAX_STRING_LEN: usize = 16 * 1024;
/// A whole profile, serialized.
pub const MAX_PROFILE_BYTES: usize = 128 * 1024;
/// Attributes in a profile (Okta allows a few hundred custom ones).
pub const MAX_ATTRIBUTES: usize = 1_000;
/// Nesting of arrays and objects inside a profile.
pub const MAX_DEPTH: usize = 8;

/// Why a record was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The record's id, shortened to a loggable length.
    pub id: String,
    pub reason: &'static str,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.id, self.reason)
    }
}

/// An id as it may appear in a log line or a run record: at most 24
/// characters, control characters replaced.
pub fn shortened(id: &str) -> String {
    let mut out: String = id
        .chars()
        .take(24)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if id.chars().count() > 24 {
        out.push('…');
    }
    out
}

/// An Okta object id: 1 to 64 ASCII letters and digits.
pub fn check_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err("id length is not an Okta id's");
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("id has characters no Okta id has");
    }
    Ok(())
}

/// A code-like value (`ACTIVE`, `OKTA_GROUP`): upper-case letters and `_`.
fn check_code(value: &str) -> Result<(), &'static str> {
    if value.is_empty() || value.len() > 32 || !value.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
        return Err("status or type is not one Okta sends");
    }
    Ok(())
}

fn check_text(value: &str) -> Result<(), &'static str> {
    if value.contains('\0') {
        return Err("a string holds a NUL character");
    }
    if value.len() > MAX_STRING_LEN {
        return Err("a string is longer than any Okta attribute");
    }
    Ok(())
}

fn check_value(value: &Value, depth: usize) -> Result<(), &'static str> {
    if depth > MAX_DEPTH {
        return Err("the profile is nested too deeply");
    }
    match value {
        Value::String(s) => check_text(s),
        Value::Array(items) => items.iter().try_for_each(|v| check_value(v, depth + 1)),
        Value::Object(map) => {
            if map.len() > MAX_ATTRIBUTES {
                return Err("the profile has too many attributes");
            }
            map.iter().try_for_each(|(k, v)| {
                check_text(k)?;
                check_value(v, depth + 1)
            })
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn check_profile(profile: &Value) -> Result<(), &'static str> {
    check_value(profile, 0)?;
    let size = serde_json::to_vec(profile).map(|b| b.len()).unwrap_or(usize::MAX);
    if size > MAX_PROFILE_BYTES {
        return Err("the profile is larger than any Okta profile");
    }
    Ok(())
}

fn rejected(id: &str, reason: &'static str) -> Rejected {
    Rejected {
        id: shortened(id),
        reason,
    }
}

/// Checks a user as Okta could have sent it.
pub fn check_user(user: &UserRecord) -> Result<(), Rejected> {
    let check = || {
        check_id(user.okta_id.as_str())?;
        check_code(&user.status)?;
        if let Some(type_id) = &user.user_type_id {
            check_id(type_id)?;
        }
        check_profile(&user.profile)
    };
    check().map_err(|reason| rejected(user.okta_id.as_str(), reason))
}

/// Checks a group as Okta could have sent it.
pub fn check_group(group: &GroupRecord) -> Result<(), Rejected> {
    let check = || {
        check_id(group.okta_id.as_str())?;
        check_code(&group.group_type)?;
        if group.object_class.len() > 16 {
            return Err("the group has too many object classes");
        }
        group.object_class.iter().try_for_each(|c| check_text(c))?;
        check_profile(&group.profile)
    };
    check().map_err(|reason| rejected(group.okta_id.as_str(), reason))
}

/// Checks a member's user id.
pub fn check_member(user_id: &str) -> Result<(), Rejected> {
    check_id(user_id).map_err(|reason| rejected(user_id, reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(id: &str, profile: Value) -> UserRecord {
        UserRecord {
            okta_id: id.into(),
            status: "ACTIVE".into(),
            created: None,
            activated: None,
            status_changed: None,
            last_login: None,
            last_updated: None,
            password_changed: None,
            user_type_id: Some("oty1a2b3c4d5e6f7g8h9".into()),
            profile,
        }
    }

    #[test]
    fn an_ordinary_user_passes_with_unicode_nulls_and_custom_types() {
        let profile = json!({"login": "zoë@example.com", "title": null, "costCenter": 42,
                             "tags": ["a", {"b": true}], "lastName": "Nguyễn"});
        assert_eq!(check_user(&user("00u1a2b3c4D5e6F7g8h9", profile)), Ok(()));
    }

    #[test]
    fn nul_characters_anywhere_are_refused() {
        for profile in [
            json!({"title": "a\u{0}b"}),
            json!({"a\u{0}": "x"}),
            json!({"tags": [["deep\u{0}"]]}),
        ] {
            let err = check_user(&user("00u1", profile)).unwrap_err();
            assert_eq!(err.reason, "a string holds a NUL character");
        }
    }

    #[test]
    fn ids_of_the_wrong_shape_are_refused_and_shortened_in_the_report() {
        let long = "a".repeat(3_000);
        let err = check_user(&user(&long, json!({}))).unwrap_err();
        assert_eq!(err.id.chars().count(), 25, "24 characters and an ellipsis");
        assert!(check_member("00u/../admin").is_err());
        assert!(check_member("").is_err());
        assert!(check_member("00u1a2b3c4D5e6F7g8h9").is_ok());
        assert_eq!(shortened("a\u{7}b"), "a?b");
    }

    #[test]
    fn sizes_are_bounded() {
        let big = "x".repeat(MAX_STRING_LEN + 1);
        assert!(check_user(&user("00u1", json!({"title": big}))).is_err());
        let many: serde_json::Map<String, Value> = (0..=MAX_ATTRIBUTES).map(|i| (format!("a{i}"), json!(1))).collect();
        assert!(check_user(&user("00u1", Value::Object(many))).is_err());
        let mut deep = json!(1);
        for _ in 0..=MAX_DEPTH {
            deep = json!([deep]);
        }
        assert!(check_user(&user("00u1", json!({"d": deep}))).is_err());
        let wide: serde_json::Map<String, Value> =
            (0..20).map(|i| (format!("a{i}"), json!("y".repeat(10_000)))).collect();
        assert_eq!(
            check_user(&user("00u1", Value::Object(wide))).unwrap_err().reason,
            "the profile is larger than any Okta profile"
        );
    }

    #[test]
    fn statuses_and_types_are_codes() {
        let mut u = user("00u1", json!({}));
        u.status = "<script>".into();
        assert!(check_user(&u).is_err());
        let group = GroupRecord {
            okta_id: "00g1".into(),
            group_type: "OKTA_GROUP".into(),
            created: None,
            last_updated: None,
            last_membership_updated: None,
            object_class: vec!["okta:user_group".into()],
            profile: json!({"name": "Sales"}),
        };
        assert_eq!(check_group(&group), Ok(()));
    }
}
