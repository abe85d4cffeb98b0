//! `GET /.well-known/okta-organization`: who an instance URL belongs to.

use serde::Deserialize;

use crate::org_url::OrgUrl;

/// The org behind an instance URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// The org id (`00o...`).
    pub id: String,
    /// `idx` (Identity Engine) or `v1` (Classic), when sent.
    pub pipeline: Option<String>,
    /// The canonical Okta domain (`_links.organization.href`).
    pub domain: OrgUrl,
    /// The other domain of the org, when it has a custom one
    /// (`_links.alternate.href`).
    pub alternate: Option<OrgUrl>,
}

impl Organization {
    /// Parses the well-known document. `allow_insecure` carries over from the
    /// configured URL (only the insecure test kind, the simulator on
    /// loopback): a secure client accepts a canonical or alternate domain
    /// only as `https` on port 443 with a public host, because both become
    /// origins the token is sent to.
    pub(crate) fn from_json(body: &[u8], allow_insecure: bool) -> Result<Self, String> {
        let wire: Wire = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let domain = wire.links.organization.ok_or("no _links.organization.href")?.href;
        let domain = allowed_domain(&domain, allow_insecure).map_err(|e| format!("_links.organization.href: {e}"))?;
        // An alternate link that does not validate is ignored rather than
        // failing verification: only the canonical domain is required.
        let alternate = wire
            .links
            .alternate
            .and_then(|link| allowed_domain(&link.href, allow_insecure).ok());
        Ok(Self {
            id: wire.id,
            pipeline: wire.pipeline,
            domain,
            alternate,
        })
    }
}

/// An origin the server names for itself: `OrgUrl`'s rules, and for a
/// secure client `https` on the default port only (`:443` or none). Okta
/// serves orgs on 443 only; another port on the same host may be anything.
fn allowed_domain(href: &str, allow_insecure: bool) -> Result<OrgUrl, String> {
    let url = OrgUrl::parse(href, allow_insecure).map_err(|e| e.to_string())?;
    // `url` drops the scheme's default port, so `port()` is `Some` only for
    // another one.
    if !allow_insecure && let Some(port) = url.as_url().port() {
        return Err(format!("must be https on port 443 (got port {port})"));
    }
    Ok(url)
}

#[derive(Deserialize)]
struct Wire {
    id: String,
    #[serde(default)]
    pipeline: Option<String>,
    #[serde(rename = "_links")]
    links: Links,
}

#[derive(Deserialize)]
struct Links {
    #[serde(default)]
    organization: Option<Href>,
    #[serde(default)]
    alternate: Option<Href>,
}

#[derive(Deserialize)]
struct Href {
    href: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_and_alternate_domains_are_read() {
        let org = Organization::from_json(
            br#"{"id":"00o5rb5mt2H3d1TJd0h7","pipeline":"idx",
                 "_links":{"organization":{"href":"https://acme.okta.com"},
                           "alternate":{"href":"https://login.acme.com/"}},
                 "settings":{"analyticsCollectionEnabled":false}}"#,
            false,
        )
        .unwrap();
        assert_eq!(org.id, "00o5rb5mt2H3d1TJd0h7");
        assert_eq!(org.pipeline.as_deref(), Some("idx"));
        assert_eq!(org.domain.to_string(), "https://acme.okta.com");
        assert_eq!(org.alternate.unwrap().to_string(), "https://login.acme.com");
    }

    #[test]
    fn an_http_canonical_domain_is_refused_for_an_https_org() {
        let err = Organization::from_json(
            br#"{"id":"00o1","_links":{"organization":{"href":"http://acme.okta.com"}}}"#,
            false,
        )
        .unwrap_err();
        assert!(err.contains("https"), "{err}");
    }

    fn document(domain: &str, alternate: &str) -> Vec<u8> {
        format!(
            r#"{{"id":"00o1","_links":{{"organization":{{"href":"{domain}"}},"alternate":{{"href":"{alternate}"}}}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_secure_client_accepts_domains_only_on_port_443() {
        let org = Organization::from_json(
            &document("https://acme.okta.com:443", "https://login.acme.com:443/"),
            false,
        )
        .unwrap();
        assert_eq!(org.domain.to_string(), "https://acme.okta.com");
        assert_eq!(org.alternate.unwrap().to_string(), "https://login.acme.com");

        for port in ["8443", "80", "444", "22"] {
            let err = Organization::from_json(
                &document(&format!("https://acme.okta.com:{port}"), "https://login.acme.com"),
                false,
            )
            .unwrap_err();
            assert!(err.contains("port 443") && err.contains(port), "{err}");
        }
        let err = Organization::from_json(&document("http://acme.okta.com:443", "https://x.com"), false).unwrap_err();
        assert!(err.contains("https"), "{err}");

        // An alternate on another port or over http is ignored, not allowed.
        for alternate in [
            "https://login.acme.com:8443",
            "http://login.acme.com",
            "http://login.acme.com:443",
        ] {
            let org = Organization::from_json(&document("https://acme.okta.com", alternate), false).unwrap();
            assert_eq!(org.alternate, None, "{alternate}");
        }
    }

    #[test]
    fn the_insecure_test_client_accepts_http_and_any_port() {
        let org = Organization::from_json(&document("http://127.0.0.1:18080", "https://localhost:8443"), true).unwrap();
        assert_eq!(org.domain.to_string(), "http://127.0.0.1:18080");
        assert_eq!(org.alternate.unwrap().to_string(), "https://localhost:8443");
    }

    #[test]
    fn a_document_without_the_organization_link_is_refused() {
        assert!(Organization::from_json(br#"{"id":"00o1","_links":{}}"#, false).is_err());
        assert!(Organization::from_json(b"<html>", false).is_err());
    }
}
