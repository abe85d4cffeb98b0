//! The OpenAPI document, generated from the routes themselves (utoipa-axum
//! registers each handler's route and its documentation together, so they
//! cannot drift), served at `/v1/openapi.json` and checked into
//! `docs/openapi.json` (regenerate: `cargo run -- openapi > docs/openapi.json`).

use crate::error::ErrorBody;
use std::sync::OnceLock;
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, Content, RefOr, Response, ResponseBuilder,
        security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
    },
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "dirsync API",
        description = "Registers tenants (customers' Okta orgs), starts and reports syncs, and \
serves the synced directory (users, groups, memberships).\n\n\
Every `/v1` route except `/v1/openapi.json` needs `Authorization: Bearer <key>` (keys from \
`api.keys` / `api.keys_file`). A missing or malformed header is 401 `unauthorized`; a key that \
is not accepted is 403 `forbidden`.\n\n\
Every error is `{\"error\": {\"code\", \"message\", \"field\"?, \"request_id\"?}}`.",
        license(name = "Apache-2.0"),
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "tenants", description = "Customers' Okta orgs and their credentials"),
        (name = "syncs", description = "Sync runs"),
        (name = "directory", description = "The synced users, groups and memberships"),
        (name = "operations", description = "Probes, metrics, this document (no key needed)"),
    )
)]
pub(crate) struct ApiDoc;

pub(crate) const BEARER: &str = "bearer";

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key from `api.keys` or `api.keys_file`"))
                    .build(),
            ),
        );
    }
}

/// Adds the error responses every operation can give, so the document
/// lists every status the API answers with.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        for (path, item) in doc.paths.paths.iter_mut() {
            let authenticated = path.starts_with("/v1/") && path != "/v1/openapi.json";
            let has_path_params = path.contains('{');
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                if !authenticated {
                    continue;
                }
                op.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
                let has_body = op.request_body.is_some();
                let mut add = |status: &str, description: &str| {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error_response(description));
                };
                add(
                    "400",
                    "A query or path parameter, or the JSON syntax, is wrong (`invalid_parameter`, `malformed_json`)",
                );
                add("401", "No `Authorization: Bearer <key>` header (`unauthorized`)");
                add("403", "The key is not accepted (`forbidden`)");
                if has_path_params {
                    add("404", "No such tenant, run or group (`not_found`)");
                }
                if has_body {
                    add(
                        "413",
                        "The body is larger than `api.max_body_bytes` (`payload_too_large`)",
                    );
                    add("415", "The body is not `application/json` (`unsupported_media_type`)");
                    add(
                        "422",
                        "A field is missing, mistyped, unknown or invalid (`validation_failed`, with `field`)",
                    );
                }
                add("500", "Our fault; the message holds only the request id (`internal`)");
                add(
                    "503",
                    "The database is not answering, or the request took too long (`unavailable`, `timeout`)",
                );
            }
        }
    }
}

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                Content::new(Some(openapi::Ref::from_schema_name("ErrorBody"))),
            )
            .build(),
    )
}

/// The whole document, from the same routers that serve the API.
pub fn document() -> openapi::OpenApi {
    let mut doc = crate::api_router().into_openapi();
    doc.merge(crate::open_router().into_openapi());
    // After the routes are in: these walk the operations.
    Security.modify(&mut doc);
    CommonResponses.modify(&mut doc);
    doc
}

/// The document as pretty JSON with a final newline (what `docs/` holds).
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut text = document().to_pretty_json().expect("the OpenAPI document serializes");
        text.push('\n');
        text
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_checked_in_document_is_the_generated_one() {
        let checked_in = include_str!("../../../docs/openapi.json");
        let generated = super::document_json();
        assert!(
            checked_in == generated,
            "docs/openapi.json is stale: run `cargo run -- openapi > docs/openapi.json`"
        );
    }

    #[test]
    fn every_v1_operation_but_the_document_needs_a_key() {
        let doc = super::document();
        let json = serde_json::to_value(&doc).unwrap();
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let secured = op.get("security").is_some();
                let expected = path.starts_with("/v1/") && path != "/v1/openapi.json";
                assert_eq!(secured, expected, "{method} {path}");
            }
        }
    }
}
