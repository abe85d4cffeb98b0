//! A table of bad requests, each with the status and code it must get.

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
    let unknown = Uuid::now_v7();
    let tenant_body = |url: &str| json!({"name": "Acme", "okta_url": url, "api_token": GOOD});
    let bad_url = |what, url: &str, says| Case {
        what,
        method: Method::POST,
        path: "/v1/tenants".into(),
        body: Body::Json(tenant_body(url)),
        auth: Auth::Key,
        status: 422,
        code: "validation_failed",
        field: Some("okta_url"),
        says,
    };
    let case = |what, method, path: String, body, status, code, field, says| Case {
        what,
        method,
        path,
        body,
        auth: Auth::Key,
        status,
        code,
        field,
        says,
    };
    let json_body = |v: Value| Body::Json(v);
    let mut cases = vec![
        Case {
            what: "no key",
            auth: Auth::Missing,
            ..case(
                "",
                Method::GET,
                "/v1/tenants".into(),
                Body::None,
                401,
                "unauthorized",
                None,
                "Bearer",
            )
        },
        Case {
            what: "not a bearer key",
            auth: Auth::Header("Basic dXNlcjpwYXNz"),
            ..case(
                "",
                Method::GET,
                "/v1/tenants".into(),
                Body::None,
                401,
                "unauthorized",
                None,
                "Bearer",
            )
        },
        Case {
            what: "a wrong key",
            auth: Auth::Header("Bearer not-one-of-our-keys-000000"),
            ..case(
                "",
                Method::GET,
                "/v1/tenants".into(),
                Body::None,
                403,
                "forbidden",
                None,
                "not accepted",
            )
        },
        Case {
            what: "a wrong key on a write",
            auth: Auth::Header("Bearer not-one-of-our-keys-000000"),
            ..case(
                "",
                Method::POST,
                "/v1/tenants".into(),
                json_body(tenant_body("https://acme.okta.com")),
                403,
                "forbidden",
                None,
                "",
            )
        },
        case(
            "missing name",
            Method::POST,
            "/v1/tenants".into(),
            json_body(json!({"okta_url": "https://acme.okta.com", "api_token": GOOD})),
            422,
            "validation_failed",
            Some("name"),
            "missing field",
        ),
        case(
            "missing token",
            Method::POST,
            "/v1/tenants".into(),
            json_body(json!({"name": "a", "okta_url": "https://acme.okta.com"})),
            422,
            "validation_failed",
            Some("api_token"),
            "missing field",
        ),
        case(
            "name is a number",
            Method::POST,
            "/v1/tenants".into(),
            json_body(json!({"name": 42, "okta_url": "https://acme.okta.com", "api_token": GOOD})),
            422,
            "validation_failed",
            Some("name"),
            "invalid type",
        ),
        case(
            "token is an object",
            Method::POST,
            "/v1/tenants".into(),
            json_body(json!({"name": "a", "okta_url": "https://acme.okta.com", "api_token": {"t": GOOD}})),
            422,
            "validation_failed",
            Some("api_token"),
            "must be a string",
        ),
        case(
            "an unknown field",
            Method::POST,
            "/v1/tenants".into(),
            json_body(json!({"name": "a", "okta_url": "https://acme.okta.com", "api_token": GOOD, "admin": true})),
            422,
            "validation_failed",
            Some("admin"),
            "unknown field",
        ),
        case(
            "a blank name",
            Method::POST,
            "/v1/tenants".into(),
            json_body(json!({"name": "   ", "okta_url": "https://acme.okta.com", "api_token": GOOD})),
            422,
            "validation_failed",
            Some("name"),
            "empty",
        ),
        case(
            "a token with spaces inside",
            Method::POST,
            "/v1/tenants".into(),
            json_body(json!({"name": "a", "okta_url": "https://acme.okta.com", "api_token": "tok en"})),
            422,
            "validation_failed",
            Some("api_token"),
            "visible ASCII",
        ),
        case(
            "malformed JSON",
            Method::POST,
            "/v1/tenants".into(),
            Body::Raw("application/json", br#"{"name": "a","#.to_vec()),
            400,
            "malformed_json",
            None,
            "not valid JSON",
        ),
        case(
            "not JSON at all",
            Method::POST,
            "/v1/tenants".into(),
            Body::Raw("text/plain", b"name=a".to_vec()),
            415,
            "unsupported_media_type",
            None,
            "application/json",
        ),
        case(
            "a 10 MB body",
            Method::POST,
            "/v1/tenants".into(),
            Body::Raw(
                "application/json",
                format!(r#"{{"name":"{}"}}"#, "x".repeat(10 << 20)).into_bytes(),
            ),
            413,
            "payload_too_large",
            None,
            "larger than",
        ),
        bad_url("plain http", "http://acme.okta.com", "https://"),
        bad_url(
            "the admin console",
            "https://acme-admin.okta.com",
            "use the Okta URL without -admin: https://acme.okta.com",
        ),
        bad_url("loopback literal", "https://127.0.0.1", "loopback"),
        bad_url("metadata address", "https://169.254.169.254", "cloud metadata"),
        bad_url("IPv6 loopback", "https://[::1]", "loopback"),
        bad_url("private address", "https://10.0.0.1", "private"),
        bad_url("decimal IP", "https://2130706433", "127.0.0.1"),
        bad_url("hex IP", "https://0x7f000001", "127.0.0.1"),
        bad_url("IPv4-mapped IPv6", "https://[::ffff:169.254.169.254]", "IPv4-mapped"),
        bad_url(
            "a name that resolves to 127.0.0.1",
            "https://localhost",
            "`localhost` does not resolve to a public address",
        ),
        bad_url(
            "a name with one private address",
            "https://intranet.example.com",
            "`intranet.example.com` does not resolve to a public address",
        ),
        bad_url(
            "a name that does not resolve",
            "https://no-such-org.invalid",
            "does not resolve",
        ),
        bad_url("a port", "https://acme.okta.com:8443", ":8443"),
        bad_url("not a URL", "https://exa mple.com", "not a URL"),
        case(
            "unknown tenant",
            Method::GET,
            format!("/v1/tenants/{unknown}"),
            Body::None,
            404,
            "not_found",
            None,
            "not found",
        ),
        case(
            "unknown tenant's users",
            Method::GET,
            format!("/v1/tenants/{unknown}/users"),
            Body::None,
            404,
            "not_found",
            None,
            "tenant",
        ),
        case(
            "unknown tenant's sync",
            Method::POST,
            format!("/v1/tenants/{unknown}/syncs"),
            Body::None,
            404,
            "not_found",
            None,
            "tenant",
        ),
        case(
            "verify an unknown tenant",
            Method::POST,
            format!("/v1/tenants/{unknown}/verify"),
            Body::None,
            404,
            "not_found",
            None,
            "tenant",
        ),
        case(
            "patch an unknown tenant",
            Method::PATCH,
            format!("/v1/tenants/{unknown}"),
            json_body(json!({"name": "x"})),
            404,
            "not_found",
            None,
            "tenant",
        ),
        case(
            "unknown run",
            Method::GET,
            format!("/v1/syncs/{unknown}"),
            Body::None,
            404,
            "not_found",
            None,
            "sync run",
        ),
        case(
            "confirm an unknown run",
            Method::POST,
            format!("/v1/syncs/{unknown}/confirm-deletions"),
            Body::None,
            404,
            "not_found",
            None,
            "sync run",
        ),
        case(
            "unknown group",
            Method::GET,
            format!("/v1/tenants/{tenant}/groups/00gnope/members"),
            Body::None,
            404,
            "not_found",
            None,
            "group",
        ),
        case(
            "a NUL in a group id",
            Method::GET,
            format!("/v1/tenants/{tenant}/groups/00g%00x/members"),
            Body::None,
            404,
            "not_found",
            None,
            "group",
        ),
        case(
            "a NUL in a time zone",
            Method::PATCH,
            format!("/v1/tenants/{tenant}"),
            json_body(json!({"time_zone": "Europe/\u{0}Berlin"})),
            422,
            "validation_failed",
            Some("time_zone"),
            "IANA",
        ),
        case(
            "a forged cursor with a NUL",
            Method::GET,
            format!(
                "/v1/tenants/{tenant}/users?cursor={}",
                base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    br#"{"l":"users","k":"a\u0000"}"#
                )
            ),
            Body::None,
            400,
            "invalid_parameter",
            Some("cursor"),
            "not a cursor",
        ),
        case(
            "an id that is not a UUID",
            Method::GET,
            "/v1/tenants/acme".into(),
            Body::None,
            400,
            "invalid_parameter",
            Some("id"),
            "UUID",
        ),
        case(
            "limit 0",
            Method::GET,
            format!("/v1/tenants/{tenant}/users?limit=0"),
            Body::None,
            400,
            "invalid_parameter",
            Some("limit"),
            "between 1 and 1000",
        ),
        case(
            "limit too big",
            Method::GET,
            format!("/v1/tenants/{tenant}/users?limit=5000"),
            Body::None,
            400,
            "invalid_parameter",
            Some("limit"),
            "between",
        ),
        case(
            "limit not a number",
            Method::GET,
            "/v1/tenants?limit=ten".into(),
            Body::None,
            400,
            "invalid_parameter",
            Some("limit"),
            "limit",
        ),
        case(
            "a forged cursor",
            Method::GET,
            format!("/v1/tenants/{tenant}/users?cursor=abc"),
            Body::None,
            400,
            "invalid_parameter",
            Some("cursor"),
            "next_cursor",
        ),
        case(
            "an unknown status",
            Method::GET,
            format!("/v1/tenants/{tenant}/users?status=ACTIVE,GONE"),
            Body::None,
            400,
            "invalid_parameter",
            Some("status"),
            "DEPROVISIONED",
        ),
        case(
            "a bad date",
            Method::GET,
            format!("/v1/tenants/{tenant}/users?updated_since=yesterday"),
            Body::None,
            400,
            "invalid_parameter",
            Some("updated_since"),
            "RFC 3339",
        ),
        case(
            "an unknown parameter",
            Method::GET,
            format!("/v1/tenants/{tenant}/users?stauts=ACTIVE"),
            Body::None,
            400,
            "invalid_parameter",
            Some("stauts"),
            "unknown query parameter",
        ),
        case(
            "hour 24",
            Method::PATCH,
            format!("/v1/tenants/{tenant}"),
            json_body(json!({"preferred_hour": 24})),
            422,
            "validation_failed",
            Some("preferred_hour"),
            "0 to 23",
        ),
        case(
            "a made-up time zone",
            Method::PATCH,
            format!("/v1/tenants/{tenant}"),
            json_body(json!({"time_zone": "Mars/Olympus_Mons"})),
            422,
            "validation_failed",
            Some("time_zone"),
            "IANA",
        ),
        case(
            "150 percent",
            Method::PATCH,
            format!("/v1/tenants/{tenant}"),
            json_body(json!({"deletion_max_percent": 150})),
            422,
            "validation_failed",
            Some("deletion_max_percent"),
            "between 0 and 100",
        ),
        case(
            "a negative membership threshold",
            Method::PATCH,
            format!("/v1/tenants/{tenant}"),
            json_body(json!({"deletion_max_percent_memberships": -1})),
            422,
            "validation_failed",
            Some("deletion_max_percent_memberships"),
            "between 0 and 100",
        ),
        case(
            "a group minimum past a million",
            Method::PATCH,
            format!("/v1/tenants/{tenant}"),
            json_body(json!({"deletion_min_groups": 2_000_000})),
            422,
            "validation_failed",
            Some("deletion_min_groups"),
            "between 0 and 1000000",
        ),
        case(
            "a sideways sync",
            Method::POST,
            format!("/v1/tenants/{tenant}/syncs"),
            json_body(json!({"mode": "sideways"})),
            422,
            "validation_failed",
            Some("mode"),
            "unknown variant",
        ),
        case(
            "credentials without a token",
            Method::PUT,
            format!("/v1/tenants/{tenant}/credentials"),
            json_body(json!({"okta_url": "https://acme.okta.com"})),
            422,
            "validation_failed",
            Some("api_token"),
            "missing field",
        ),
        case(
            "an unknown route",
            Method::GET,
            "/v1/nothing-here".into(),
            Body::None,
            404,
            "not_found",
            None,
            "no such route",
        ),
        case(
            "a wrong method",
            Method::DELETE,
            "/v1/tenants".into(),
            Body::None,
            405,
            "method_not_allowed",
            None,
            "not allowed",
        ),
    ];

    for case in cases.drain(..) {
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
