//! Tenant settings and sync requests out of range (422 naming the field):
//! time zones, the preferred hour, the deletion guard's thresholds, the
//! sync mode, credentials without a token.

use super::{Case, Known};
use reqwest::Method;
use serde_json::{Value, json};

pub(super) fn cases(known: &Known) -> Vec<Case> {
    let tenant = &known.tenant;
    let patch = |what: &'static str, body: Value, field: &'static str, says: &'static str| {
        Case::new(what, Method::PATCH, format!("/v1/tenants/{tenant}"))
            .json(body)
            .fails(422, "validation_failed", Some(field), says)
    };
    vec![
        patch(
            "a NUL in a time zone",
            json!({"time_zone": "Europe/\u{0}Berlin"}),
            "time_zone",
            "IANA",
        ),
        patch("hour 24", json!({"preferred_hour": 24}), "preferred_hour", "0 to 23"),
        patch(
            "a made-up time zone",
            json!({"time_zone": "Mars/Olympus_Mons"}),
            "time_zone",
            "IANA",
        ),
        patch(
            "150 percent",
            json!({"deletion_max_percent": 150}),
            "deletion_max_percent",
            "between 0 and 100",
        ),
        patch(
            "a negative membership threshold",
            json!({"deletion_max_percent_memberships": -1}),
            "deletion_max_percent_memberships",
            "between 0 and 100",
        ),
        patch(
            "an event summary share past 100%",
            json!({"event_summary_percent": 100.5}),
            "event_summary_percent",
            "between 0 and 100",
        ),
        patch(
            "a group minimum past a million",
            json!({"deletion_min_groups": 2_000_000}),
            "deletion_min_groups",
            "between 0 and 1000000",
        ),
        Case::new("a sideways sync", Method::POST, format!("/v1/tenants/{tenant}/syncs"))
            .json(json!({"mode": "sideways"}))
            .fails(422, "validation_failed", Some("mode"), "unknown variant"),
        Case::new(
            "credentials without a token",
            Method::PUT,
            format!("/v1/tenants/{tenant}/credentials"),
        )
        .json(json!({"okta_url": "https://acme.okta.com"}))
        .fails(422, "validation_failed", Some("api_token"), "give the credentials"),
        Case::new(
            "a client id that is no Okta client id",
            Method::PUT,
            format!("/v1/tenants/{tenant}/credentials"),
        )
        .json(json!({"service_app": {"client_id": "0oa 1; DROP"}}))
        .fails(422, "validation_failed", Some("service_app.client_id"), "Client ID"),
        Case::new(
            "a key algorithm when no key is made",
            Method::PUT,
            format!("/v1/tenants/{tenant}/credentials"),
        )
        .json(json!({"service_app": {"key_algorithm": "ES256"}}))
        .fails(
            422,
            "validation_failed",
            Some("service_app.key_algorithm"),
            "service-app/keys",
        ),
    ]
}
