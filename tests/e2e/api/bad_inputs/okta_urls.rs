//! Instance URLs refused when a tenant is registered (422 on `okta_url`):
//! not https, the admin console, non-public addresses in every spelling,
//! names that resolve to one (or do not resolve), a port, not a URL.

use super::{Case, tenant_body};
use reqwest::Method;

/// Registering a tenant at `url` is refused, saying `says`.
fn refused(what: &'static str, url: &str, says: &'static str) -> Case {
    Case::new(what, Method::POST, "/v1/tenants")
        .json(tenant_body(url))
        .fails(422, "validation_failed", Some("okta_url"), says)
}

pub(super) fn cases() -> Vec<Case> {
    vec![
        refused("plain http", "http://acme.okta.com", "https://"),
        refused(
            "the admin console",
            "https://acme-admin.okta.com",
            "use the Okta URL without -admin: https://acme.okta.com",
        ),
        refused("loopback literal", "https://127.0.0.1", "loopback"),
        refused("metadata address", "https://169.254.169.254", "cloud metadata"),
        refused("IPv6 loopback", "https://[::1]", "loopback"),
        refused("private address", "https://10.0.0.1", "private"),
        refused("decimal IP", "https://2130706433", "127.0.0.1"),
        refused("hex IP", "https://0x7f000001", "127.0.0.1"),
        refused("IPv4-mapped IPv6", "https://[::ffff:169.254.169.254]", "IPv4-mapped"),
        refused(
            "a name that resolves to 127.0.0.1",
            "https://localhost",
            "`localhost` does not resolve to a public address",
        ),
        refused(
            "a name with one private address",
            "https://intranet.example.com",
            "`intranet.example.com` does not resolve to a public address",
        ),
        refused(
            "a name that does not resolve",
            "https://no-such-org.invalid",
            "does not resolve",
        ),
        refused("a port", "https://acme.okta.com:8443", ":8443"),
        refused("not a URL", "https://exa mple.com", "not a URL"),
    ]
}
