//! Requests without one of our API keys: 401 without a bearer key, 403
//! with a key that is not ours, on a read and on a write.

use super::{Auth, Case, tenant_body};
use reqwest::Method;

pub(super) fn cases() -> Vec<Case> {
    vec![
        Case::new("no key", Method::GET, "/v1/tenants")
            .auth(Auth::Missing)
            .fails(401, "unauthorized", None, "Bearer"),
        Case::new("not a bearer key", Method::GET, "/v1/tenants")
            .auth(Auth::Header("Basic dXNlcjpwYXNz"))
            .fails(401, "unauthorized", None, "Bearer"),
        Case::new("a wrong key", Method::GET, "/v1/tenants")
            .auth(Auth::Header("Bearer not-one-of-our-keys-000000"))
            .fails(403, "forbidden", None, "not accepted"),
        Case::new("a wrong key on a write", Method::POST, "/v1/tenants")
            .auth(Auth::Header("Bearer not-one-of-our-keys-000000"))
            .json(tenant_body("https://acme.okta.com"))
            .fails(403, "forbidden", None, ""),
    ]
}
