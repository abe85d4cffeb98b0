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
    /// configured URL: an https org never accepts an http canonical domain.
    pub(crate) fn from_json(body: &[u8], allow_insecure: bool) -> Result<Self, String> {
        let wire: Wire = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let domain = wire.links.organization.ok_or("no _links.organization.href")?.href;
        let domain = OrgUrl::parse(&domain, allow_insecure).map_err(|e| format!("_links.organization.href: {e}"))?;
        // An alternate link that does not validate is ignored rather than
        // failing verification: only the canonical domain is required.
        let alternate = wire
            .links
            .alternate
            .and_then(|link| OrgUrl::parse(&link.href, allow_insecure).ok());
        Ok(Self {
            id: wire.id,
            pipeline: wire.pipeline,
            domain,
            alternate,
        })
    }
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

    #[test]
    fn a_document_without_the_organization_link_is_refused() {
        assert!(Organization::from_json(br#"{"id":"00o1","_links":{}}"#, false).is_err());
        assert!(Organization::from_json(b"<html>", false).is_err());
    }
}
