//! What the System Log (`GET /api/v1/logs`) sends, reduced to what a sync
//! needs to know which users and groups changed: the event's id, time,
//! type, outcome and targets. Everything else Okta sends (actor, client,
//! debug context...) is ignored, so new fields never break parsing.

use serde::Deserialize;
use time::OffsetDateTime;

use crate::wire::null_as_default;

/// One System Log event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEvent {
    /// Okta's id of the event: unique, so a page read twice (a resumed
    /// chain) can be deduplicated.
    pub uuid: String,
    #[serde(with = "time::serde::rfc3339")]
    pub published: OffsetDateTime,
    /// `user.lifecycle.create`, `group.user_membership.add`...
    pub event_type: String,
    /// `outcome.result`: `SUCCESS`, `FAILURE`... (`None` when absent).
    #[serde(default, rename = "outcome", deserialize_with = "outcome_result")]
    pub outcome_result: Option<String>,
    /// The objects acted on (a user, a group, both for a membership).
    #[serde(default, rename = "target", deserialize_with = "null_as_default")]
    pub targets: Vec<LogTarget>,
}

/// One object an event acted on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogTarget {
    pub id: String,
    /// Okta's `type`: `User`, `UserGroup`, `AppInstance`...
    #[serde(rename = "type")]
    pub kind: String,
    /// A user's login, a group's name.
    #[serde(default)]
    pub alternate_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

fn outcome_result<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    struct Outcome {
        #[serde(default)]
        result: Option<String>,
    }
    Ok(Option::<Outcome>::deserialize(deserializer)?.and_then(|o| o.result))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of Okta's LogEvent (management API spec), with fields this
    /// client does not read.
    const MEMBERSHIP_ADD: &str = r#"{
        "uuid": "dc9fd3c0-598c-11ef-8478-2b7584bf8d5a",
        "published": "2026-11-30T01:02:03.456Z",
        "eventType": "group.user_membership.add",
        "version": "0",
        "severity": "INFO",
        "displayMessage": "Add user to group membership",
        "legacyEventType": "core.user_group_member.user_add",
        "actor": {"id": "00uadmin", "type": "User", "alternateId": "admin@acme.com", "displayName": "Admin", "detailEntry": null},
        "client": {"userAgent": null, "zone": "null", "device": null, "id": null, "ipAddress": null, "geographicalContext": null},
        "outcome": {"result": "SUCCESS", "reason": null},
        "transaction": {"type": "WEB", "id": "Zabc", "detail": {}},
        "debugContext": {"debugData": {"requestUri": "/api/v1/groups/00g1/users/00u1"}},
        "authenticationContext": {"authenticationProvider": null, "externalSessionId": "trs1"},
        "securityContext": {},
        "request": {"ipChain": []},
        "target": [
            {"id": "00u1", "type": "User", "alternateId": "ada@acme.com", "displayName": "Ada Lovelace", "detailEntry": null},
            {"id": "00g1", "type": "UserGroup", "alternateId": "unknown", "displayName": "Engineering", "detailEntry": null}
        ]
    }"#;

    #[test]
    fn an_okta_event_reads_its_targets_and_ignores_the_rest() {
        let event: LogEvent = serde_json::from_str(MEMBERSHIP_ADD).unwrap();
        assert_eq!(event.event_type, "group.user_membership.add");
        assert_eq!(event.published, time::macros::datetime!(2026-11-30 01:02:03.456 UTC));
        assert_eq!(event.outcome_result.as_deref(), Some("SUCCESS"));
        let kinds: Vec<(&str, &str)> = event.targets.iter().map(|t| (t.id.as_str(), t.kind.as_str())).collect();
        assert_eq!(kinds, [("00u1", "User"), ("00g1", "UserGroup")]);
        assert_eq!(event.targets[0].alternate_id.as_deref(), Some("ada@acme.com"));
    }

    #[test]
    fn missing_or_null_outcome_and_targets_are_empty() {
        let event: LogEvent = serde_json::from_str(
            r#"{"uuid":"u1","published":"2026-11-30T01:02:03Z","eventType":"x","outcome":null,"target":null}"#,
        )
        .unwrap();
        assert_eq!((event.outcome_result, event.targets), (None, vec![]));
        let bare: LogEvent =
            serde_json::from_str(r#"{"uuid":"u1","published":"2026-11-30T01:02:03Z","eventType":"x"}"#).unwrap();
        assert!(bare.targets.is_empty());
    }

    #[test]
    fn an_event_without_its_id_time_or_type_is_malformed() {
        for body in [
            r#"{"published":"2026-11-30T01:02:03Z","eventType":"x"}"#,
            r#"{"uuid":"u1","published":"yesterday","eventType":"x"}"#,
            r#"{"uuid":"u1","published":"2026-11-30T01:02:03Z"}"#,
            r#"{"uuid":"u1","published":"2026-11-30T01:02:03Z","eventType":"x","target":[{"type":"User"}]}"#,
        ] {
            assert!(serde_json::from_str::<LogEvent>(body).is_err(), "{body}");
        }
    }
}
