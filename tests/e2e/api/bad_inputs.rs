//! A table of bad requests, each with the status and code it must get.
//!
//! The table is grouped by what is wrong, a file each: `api_keys`,
//! `bodies`, `okta_urls`, `unknown_resources`, `parameters`, `settings`.
//! This file holds the case type and the test that sends every case to one
//! API.

mod api_keys;
mod bodies;
mod okta_urls;
mod parameters;
mod settings;
mod unknown_resources;

use super::*;
use crate::harness::{TestEnv, spec};
use dirsync_okta_sim::SimConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// One bad request and what must come back.
struct Case {
    what: &'static str,
    method: Method,
    path: String,
    body: Body,
    auth: Auth,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
    /// A piece of the message.
    says: &'static str,
}

enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

enum Auth {
    Key,
    Missing,
    Header(&'static str),
}

impl Case {
    /// A request with our key and no body; [`Case::fails`] says what must
    /// come back.
    fn new(what: &'static str, method: Method, path: impl Into<String>) -> Case {
        Case {
            what,
            method,
            path: path.into(),
            body: Body::None,
            auth: Auth::Key,
            status: 0,
            code: "",
            field: None,
            says: "",
        }
    }

    fn json(self, body: Value) -> Case {
        Case {
            body: Body::Json(body),
            ..self
        }
    }

    fn raw(self, content_type: &'static str, bytes: Vec<u8>) -> Case {
        Case {
            body: Body::Raw(content_type, bytes),
            ..self
        }
    }

    fn auth(self, auth: Auth) -> Case {
        Case { auth, ..self }
    }

    /// The status, the error's `code` and `field`, and a piece of its message.
    fn fails(self, status: u16, code: &'static str, field: Option<&'static str>, says: &'static str) -> Case {
        Case {
            status,
            code,
            field,
            says,
            ..self
        }
    }
}

/// What the cases point at: a registered tenant, and an id nothing has.
struct Known {
    tenant: String,
    unknown: uuid::Uuid,
}

/// A tenant to register at `url`, otherwise valid.
fn tenant_body(url: &str) -> Value {
    json!({"name": "Acme", "okta_url": url, "api_token": GOOD})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_inputs_get_the_right_status_and_code_in_the_error_format() {
    // Arrange: the production rules (no insecure URLs); public names are
    // answered by a fixed resolver (this machine has no public DNS), all
    // other names by the system's.
    let env = TestEnv::start_without_roles("api_bad", spec(10, 2, 1), SimConfig::default().with_token(GOOD)).await;
    let resolver = Resolver::with_fixed([
        ("acme.okta.com".to_owned(), vec!["44.231.10.5".parse().unwrap()]),
        (
            "intranet.example.com".to_owned(),
            vec!["44.231.10.6".parse().unwrap(), "10.1.2.3".parse().unwrap()],
        ),
    ]);
    let api = Api::start(
        &env,
        UrlPolicy {
            allow_insecure: false,
            resolver,
        },
    )
    .await;
    let ok = api
        .call(
            Method::POST,
            "/v1/tenants",
            json!({"name": "Acme", "okta_url": "https://ACME.okta.com/app/UserHome/", "api_token": GOOD}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.json);
    assert_eq!(ok.json["okta_url"], "https://acme.okta.com", "normalised");
    let tenant = ok.json["id"].as_str().unwrap().to_owned();
    for name in ["Acme EU", "Acme US"] {
        let more = api
            .call(
                Method::POST,
                "/v1/tenants",
                json!({"name": name, "okta_url": "acme.okta.com", "api_token": GOOD}),
            )
            .await;
        assert_eq!(more.status, StatusCode::CREATED, "{}", more.json);
    }
    let tenants = api.all_pages("/v1/tenants", 2).await;
    let names: Vec<&str> = tenants.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Acme", "Acme EU", "Acme US"], "oldest first, over two pages");
    let known = Known {
        tenant,
        unknown: Uuid::now_v7(),
    };
    let cases: Vec<Case> = [
        api_keys::cases(),
        bodies::cases(),
        okta_urls::cases(),
        unknown_resources::cases(&known),
        parameters::cases(&known),
        settings::cases(&known),
    ]
    .into_iter()
    .flatten()
    .collect();

    for case in cases {
        let mut request = api
            .http
            .request(case.method.clone(), format!("{}{}", api.base, case.path));
        request = match case.auth {
            Auth::Key => request.bearer_auth(KEY),
            Auth::Missing => request,
            Auth::Header(value) => request.header("authorization", value),
        };
        request = match case.body {
            Body::None => request,
            Body::Json(v) => request.json(&v),
            Body::Raw(content_type, bytes) => request.header("content-type", content_type).body(bytes),
        };
        let reply = api.send(request).await;
        let error = &reply.json["error"];
        assert_eq!(reply.status.as_u16(), case.status, "{}: {}", case.what, reply.json);
        assert_eq!(error["code"], case.code, "{}: {}", case.what, reply.json);
        assert_eq!(error["field"].as_str(), case.field, "{}: {}", case.what, reply.json);
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(case.says), "{}: {message}", case.what);
        assert!(error["request_id"].is_string(), "{}: {}", case.what, reply.json);
        assert_eq!(
            reply.headers["x-request-id"].to_str().unwrap(),
            error["request_id"].as_str().unwrap()
        );
        if case.status == 401 {
            assert_eq!(reply.headers["www-authenticate"], "Bearer");
        }
    }
    // What a name resolved to is never told: not the private address, not
    // the public one beside it, not loopback.
    for body in api.bodies.lock().unwrap().iter() {
        if body.contains("does not resolve to a public address") {
            for address in ["10.1.2.3", "44.231.10.6", "127.0.0.1", "::1", "private", "loopback"] {
                assert!(!body.contains(address), "{body}");
            }
        }
    }
    // The other configured key is accepted too (keys rotate by overlapping).
    let other = api
        .send(api.http.get(format!("{}/v1/tenants", api.base)).bearer_auth(OTHER_KEY))
        .await;
    assert_eq!(other.status, 200);

    api.assert_no_body_contains(&TOKENS);
    api.stop().await;
    env.stop().await;
}
