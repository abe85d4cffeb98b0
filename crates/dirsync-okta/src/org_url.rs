//! The tenant's Okta instance URL, reduced to an origin.

use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

use crate::address::forbidden_address;

/// Why an instance URL was refused. Messages name the problem, never a secret
/// (an instance URL carries none once userinfo is refused).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OrgUrlError {
    #[error("not a URL: {0}")]
    Parse(#[from] url::ParseError),
    #[error("the Okta URL must use https (got {0})")]
    Scheme(String),
    #[error("the Okta URL has no host")]
    NoHost,
    #[error("the Okta URL must not contain a user name or password")]
    Userinfo,
    #[error("the Okta URL points at a private, loopback, link-local or otherwise non-public address")]
    PrivateAddress,
}

/// A normalised Okta origin: `https://host[:port]`, nothing else.
///
/// Path, query and fragment of the input are dropped (people paste the admin
/// console's address); userinfo is refused; plain `http`, `localhost` and IP
/// literals that [`crate::forbidden_address`] refuses are refused unless
/// `allow_insecure` (the simulator runs on loopback over http).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct OrgUrl(Url);

impl OrgUrl {
    /// Parses and normalises an instance URL. A bare host (`acme.okta.com`)
    /// is taken as `https://acme.okta.com`.
    pub fn parse(input: &str, allow_insecure: bool) -> Result<Self, OrgUrlError> {
        let input = input.trim();
        let url = if input.contains("://") {
            Url::parse(input)?
        } else {
            Url::parse(&format!("https://{input}"))?
        };
        Self::from_url(&url, allow_insecure)
    }

    /// Normalises an already parsed URL (see [`OrgUrl::parse`]).
    pub fn from_url(url: &Url, allow_insecure: bool) -> Result<Self, OrgUrlError> {
        match url.scheme() {
            "https" => {}
            "http" if allow_insecure => {}
            other => return Err(OrgUrlError::Scheme(other.to_owned())),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OrgUrlError::Userinfo);
        }
        let host = url.host().ok_or(OrgUrlError::NoHost)?;
        if !allow_insecure && is_private_literal(&host) {
            return Err(OrgUrlError::PrivateAddress);
        }
        let mut origin = Url::parse(&format!("{}://{}", url.scheme(), host))?;
        // set_port cannot fail for http(s) URLs with a host; the default port
        // is dropped by `url` itself, so `:443` and no port compare equal.
        let _ = origin.set_port(url.port());
        Ok(Self(origin))
    }

    /// The origin as a `Url` with path `/`.
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The host name (or IP literal).
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// Whether the origin uses plain http (development only).
    pub fn is_insecure(&self) -> bool {
        self.0.scheme() == "http"
    }

    /// Whether `url` belongs to this origin (scheme, host and port).
    pub fn same_origin(&self, url: &Url) -> bool {
        self.0.origin() == url.origin()
    }

    /// An absolute URL on this origin for an absolute `path` (`/api/v1/users`).
    pub fn join(&self, path: &str) -> Url {
        let mut url = self.0.clone();
        url.set_path(path);
        url
    }
}

impl fmt::Display for OrgUrl {
    /// `https://acme.okta.com`, without the trailing slash, as people write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str().trim_end_matches('/'))
    }
}

impl fmt::Debug for OrgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgUrl({self})")
    }
}

/// Only literal addresses (and the name `localhost`) can be judged here;
/// what names resolve to is checked by a secure client's resolver at every
/// connection, and by `dirsync-api` when a tenant is registered.
fn is_private_literal(host: &Host<&str>) -> bool {
    let ip = match host {
        Host::Domain(name) => return name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(v4) => IpAddr::V4(*v4),
        Host::Ipv6(v6) => IpAddr::V6(*v6),
    };
    forbidden_address(&ip).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> String {
        OrgUrl::parse(input, false).unwrap().to_string()
    }

    #[test]
    fn path_query_fragment_and_case_are_normalised_away() {
        assert_eq!(ok("https://acme.okta.com"), "https://acme.okta.com");
        assert_eq!(ok("https://ACME.okta.com/"), "https://acme.okta.com");
        assert_eq!(
            ok("https://acme-admin.okta.com/admin/dashboard?x=1#frag"),
            "https://acme-admin.okta.com"
        );
        assert_eq!(ok("  acme.okta.com  "), "https://acme.okta.com");
    }

    #[test]
    fn default_port_is_dropped_and_other_ports_kept() {
        assert_eq!(ok("https://acme.okta.com:443/x"), "https://acme.okta.com");
        assert_eq!(ok("https://login.acme.com:8443"), "https://login.acme.com:8443");
    }

    #[test]
    fn http_is_refused_unless_insecure_is_allowed() {
        assert_eq!(
            OrgUrl::parse("http://acme.okta.com", false),
            Err(OrgUrlError::Scheme("http".into()))
        );
        let dev = OrgUrl::parse("http://127.0.0.1:8080/api", true).unwrap();
        assert_eq!(dev.to_string(), "http://127.0.0.1:8080");
        assert!(dev.is_insecure());
        assert!(OrgUrl::parse("ftp://acme.okta.com", true).is_err());
    }

    #[test]
    fn userinfo_is_refused() {
        assert_eq!(
            OrgUrl::parse("https://admin:pw@acme.okta.com", false),
            Err(OrgUrlError::Userinfo)
        );
        assert_eq!(
            OrgUrl::parse("https://admin@acme.okta.com", true),
            Err(OrgUrlError::Userinfo)
        );
    }

    #[test]
    fn private_and_loopback_literals_are_refused_unless_insecure() {
        for input in [
            "https://127.0.0.1",
            "https://10.1.2.3",
            "https://192.168.0.10",
            "https://169.254.169.254",
            "https://[::1]",
            "https://[fd00::1]",
            "https://[::ffff:127.0.0.1]",
            "https://[fd00:ec2::254]",
            "https://100.64.0.1",
            "https://192.0.2.1",
            "https://localhost:8443",
        ] {
            assert_eq!(OrgUrl::parse(input, false), Err(OrgUrlError::PrivateAddress), "{input}");
            assert!(OrgUrl::parse(input, true).is_ok(), "{input}");
        }
    }

    #[test]
    fn same_origin_compares_scheme_host_and_port() {
        let org = OrgUrl::parse("https://acme.okta.com", false).unwrap();
        let yes = Url::parse("https://acme.okta.com:443/api/v1/users?after=x").unwrap();
        let other_host = Url::parse("https://evil.example.com/api/v1/users").unwrap();
        let other_port = Url::parse("https://acme.okta.com:444/api/v1/users").unwrap();
        let other_scheme = Url::parse("http://acme.okta.com/api/v1/users").unwrap();
        assert!(org.same_origin(&yes));
        assert!(!org.same_origin(&other_host));
        assert!(!org.same_origin(&other_port));
        assert!(!org.same_origin(&other_scheme));
    }

    #[test]
    fn join_builds_absolute_urls() {
        let org = OrgUrl::parse("https://acme.okta.com/whatever", false).unwrap();
        assert_eq!(org.join("/api/v1/users").as_str(), "https://acme.okta.com/api/v1/users");
    }
}
