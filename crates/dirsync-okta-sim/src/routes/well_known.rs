//! `GET /.well-known/okta-organization`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use super::{Origin, json_response, to_json};
use crate::errors::OktaError;
use crate::server::Shared;

#[derive(Serialize)]
struct WellKnown<'a> {
    id: &'a str,
    #[serde(rename = "_links")]
    links: WellKnownLinks,
    pipeline: &'a str,
}

#[derive(Serialize)]
struct WellKnownLinks {
    organization: Href,
    #[serde(skip_serializing_if = "Option::is_none")]
    alternate: Option<Href>,
}

#[derive(Serialize)]
struct Href {
    href: String,
}

/// `GET /.well-known/okta-organization` (no token): the org id and its
/// canonical URL, which a client uses to check an instance URL.
pub(super) async fn well_known(
    State(shared): State<Arc<Shared>>,
    Origin(origin): Origin,
) -> Result<Response, OktaError> {
    let org = shared.org();
    let config = &shared.config;
    let body = WellKnown {
        id: org.id(),
        links: WellKnownLinks {
            organization: Href { href: origin },
            alternate: config.custom_domain.as_ref().map(|url| Href {
                href: crate::render::origin(url).to_owned(),
            }),
        },
        pipeline: &config.pipeline,
    };
    Ok(json_response(to_json(&body)?, Vec::new()))
}
