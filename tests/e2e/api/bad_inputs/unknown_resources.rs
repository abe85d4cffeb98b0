//! What does not exist: unknown tenants, runs and groups (404 saying
//! which), an unknown route (404) and a wrong method (405).

use super::{Case, Known};
use reqwest::Method;
use serde_json::json;

pub(super) fn cases(known: &Known) -> Vec<Case> {
    let (tenant, unknown) = (&known.tenant, known.unknown);
    let not_found = |what: &'static str, method: Method, path: String, says: &'static str| {
        Case::new(what, method, path).fails(404, "not_found", None, says)
    };
    vec![
        not_found(
            "unknown tenant",
            Method::GET,
            format!("/v1/tenants/{unknown}"),
            "not found",
        ),
        not_found(
            "unknown tenant's users",
            Method::GET,
            format!("/v1/tenants/{unknown}/users"),
            "tenant",
        ),
        not_found(
            "unknown tenant's sync",
            Method::POST,
            format!("/v1/tenants/{unknown}/syncs"),
            "tenant",
        ),
        not_found(
            "verify an unknown tenant",
            Method::POST,
            format!("/v1/tenants/{unknown}/verify"),
            "tenant",
        ),
        Case::new(
            "patch an unknown tenant",
            Method::PATCH,
            format!("/v1/tenants/{unknown}"),
        )
        .json(json!({"name": "x"}))
        .fails(404, "not_found", None, "tenant"),
        not_found("unknown run", Method::GET, format!("/v1/syncs/{unknown}"), "sync run"),
        not_found(
            "confirm an unknown run",
            Method::POST,
            format!("/v1/syncs/{unknown}/confirm-deletions"),
            "sync run",
        ),
        not_found(
            "unknown group",
            Method::GET,
            format!("/v1/tenants/{tenant}/groups/00gnope/members"),
            "group",
        ),
        not_found(
            "a NUL in a group id",
            Method::GET,
            format!("/v1/tenants/{tenant}/groups/00g%00x/members"),
            "group",
        ),
        not_found(
            "an unknown route",
            Method::GET,
            "/v1/nothing-here".into(),
            "no such route",
        ),
        Case::new("a wrong method", Method::DELETE, "/v1/tenants").fails(
            405,
            "method_not_allowed",
            None,
            "not allowed",
        ),
    ]
}
