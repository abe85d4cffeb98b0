//! Instance URLs as customers type them, checked before we store them and
//! again before we call them (SSRF): `https` only, normalised to an origin,
//! the `-admin` console refused with the right URL suggested, and the host
//! name **resolved**, every address it resolves to refused if it is
//! loopback, private, link-local, shared (CGNAT), multicast, reserved,
//! a cloud metadata address or an IPv4 address dressed as IPv6
//! ([`dirsync_okta::forbidden_address`], the one table of them).
//!
//! This check gives the customer a precise message early; it is not what
//! stops DNS rebinding. The Okta client resolves the name again at every
//! connection and drops the same addresses (`dirsync-okta`'s SSRF guard),
//! so a name re-pointed at an internal address after this check is still
//! never called.
//!
//! `okta.allow_insecure_urls` (the simulator, tests) turns the address and
//! scheme checks off; the `-admin` check stays.

use dirsync_okta::{OrgUrl, OrgUrlError, forbidden_address};
use std::{collections::HashMap, net::IpAddr, sync::Arc, time::Duration};
use url::{Host, Url};

/// Okta's own domains, where `<org>-admin.` is the admin console.
const OKTA_DOMAINS: &[&str] = &[
    "okta.com",
    "oktapreview.com",
    "okta-emea.com",
    "okta-gov.com",
    "okta.mil",
];

const EXAMPLE: &str = "for example https://acme.okta.com, or your custom domain";

/// How names are resolved. `System` asks the operating system; fixed
/// answers (tests) are consulted first.
#[derive(Clone, Default)]
pub struct Resolver {
    fixed: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").field("fixed", &self.fixed.len()).finish()
    }
}

impl Resolver {
    pub fn system() -> Resolver {
        Resolver::default()
    }

    /// Answers these names without DNS (tests; the machine's DNS may not
    /// know public names).
    pub fn with_fixed(answers: impl IntoIterator<Item = (String, Vec<IpAddr>)>) -> Resolver {
        Resolver {
            fixed: Arc::new(answers.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect()),
        }
    }

    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        if let Some(ips) = self.fixed.get(&host.to_ascii_lowercase()) {
            return Ok(ips.clone());
        }
        let lookup = tokio::net::lookup_host((host, 443));
        match tokio::time::timeout(Duration::from_secs(5), lookup).await {
            Ok(Ok(addrs)) => {
                let ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                if ips.is_empty() {
                    Err("it resolves to no address".into())
                } else {
                    Ok(ips)
                }
            }
            Ok(Err(_)) => Err("the name does not resolve".into()),
            Err(_) => Err("resolving the name timed out".into()),
        }
    }
}

/// The rules, from `okta.allow_insecure_urls` and the resolver.
#[derive(Debug, Clone, Default)]
pub struct UrlPolicy {
    pub allow_insecure: bool,
    pub resolver: Resolver,
}

/// Checks and normalises an instance URL; the error is a message for the
/// customer naming the problem and, where possible, the URL to use.
pub async fn check(input: &str, policy: &UrlPolicy) -> Result<OrgUrl, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err(format!("the Okta URL is empty ({EXAMPLE})"));
    }
    if input.len() > 2048 {
        return Err("the Okta URL is longer than 2048 characters".into());
    }
    let url = parse(input)?;
    if let Some(suggestion) = admin_console(&url) {
        return Err(format!(
            "this is the Okta admin console's URL; use the Okta URL without -admin: {suggestion}"
        ));
    }
    if url.scheme() != "https" && !(policy.allow_insecure && url.scheme() == "http") {
        return Err(format!(
            "the Okta URL must start with https:// (got {}://); {EXAMPLE}",
            url.scheme()
        ));
    }
    // Normalisation only: the address checks below are stricter, and look
    // at what names resolve to.
    let org = OrgUrl::from_url(&url, true).map_err(|e| match e {
        OrgUrlError::Userinfo => "the Okta URL must not contain a user name or password".to_owned(),
        OrgUrlError::NoHost => format!("the Okta URL has no host name ({EXAMPLE})"),
        other => format!("{other} ({EXAMPLE})"),
    })?;
    if policy.allow_insecure {
        return Ok(org);
    }
    match url.host() {
        Some(Host::Domain(_)) => {}
        _ => return Err(ip_literal(&url)),
    }
    if url.port().is_some_and(|p| p != 443) {
        return Err(format!(
            "Okta answers on the standard https port; remove `:{}` from the URL",
            url.port().unwrap_or_default()
        ));
    }
    let host = org.host().to_owned();
    let ips = policy
        .resolver
        .resolve(&host)
        .await
        .map_err(|why| format!("`{host}`: {why}; check the Okta URL ({EXAMPLE})"))?;
    let refused: Vec<(IpAddr, &str)> = ips
        .iter()
        .filter_map(|ip| forbidden_address(ip).map(|kind| (*ip, kind)))
        .collect();
    if !refused.is_empty() {
        // The addresses go to the log, for the operator; never to the caller,
        // who would otherwise learn what our resolver says about internal names.
        tracing::info!(host = %host, refused = ?refused, "Okta URL refused: it resolves to a non-public address");
        return Err(not_public(&host));
    }
    Ok(org)
}

/// The message for a name that resolves to a loopback, private or other
/// non-public address. It names the host as given, never an address.
pub(crate) fn not_public(host: &str) -> String {
    format!("`{host}` does not resolve to a public address; an Okta org is on the public internet ({EXAMPLE})")
}

fn parse(input: &str) -> Result<Url, String> {
    let with_scheme = if input.contains("://") {
        input.to_owned()
    } else {
        format!("https://{input}")
    };
    Url::parse(&with_scheme).map_err(|e| format!("the Okta URL is not a URL ({e}); {EXAMPLE}"))
}

/// `https://acme-admin.okta.com` → `https://acme.okta.com`.
fn admin_console(url: &Url) -> Option<String> {
    let Some(Host::Domain(host)) = url.host() else {
        return None;
    };
    let (first, rest) = host.split_once('.')?;
    let org = first.strip_suffix("-admin")?;
    if org.is_empty()
        || !OKTA_DOMAINS
            .iter()
            .any(|d| rest == *d || rest.ends_with(&format!(".{d}")))
    {
        return None;
    }
    Some(format!("https://{org}.{rest}"))
}

/// An IP address typed as the host (including the decimal, hex and octal
/// forms, which URL parsing turns into the address they stand for).
fn ip_literal(url: &Url) -> String {
    let ip = match url.host() {
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return format!("the Okta URL has no host name ({EXAMPLE})"),
    };
    let kind = forbidden_address(&ip).unwrap_or("public");
    format!("the Okta URL must be a domain name, not an IP address ({ip}, {kind}); {EXAMPLE}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> UrlPolicy {
        UrlPolicy {
            allow_insecure: false,
            resolver: Resolver::with_fixed([
                ("acme.okta.com".into(), vec!["44.231.10.5".parse().unwrap()]),
                ("login.acme.com".into(), vec!["2600:1f14::1".parse().unwrap()]),
                (
                    "rebind.example.com".into(),
                    vec!["44.231.10.5".parse().unwrap(), "10.0.0.7".parse().unwrap()],
                ),
                ("meta.example.com".into(), vec!["fd00:ec2::254".parse().unwrap()]),
                ("mapped.example.com".into(), vec!["::ffff:8.8.8.8".parse().unwrap()]),
            ]),
        }
    }

    async fn ok(input: &str) -> String {
        check(input, &strict()).await.unwrap().to_string()
    }

    async fn refused(input: &str) -> String {
        check(input, &strict()).await.unwrap_err()
    }

    #[tokio::test]
    async fn urls_are_normalised_to_the_origin() {
        assert_eq!(ok("https://acme.okta.com").await, "https://acme.okta.com");
        assert_eq!(
            ok("  https://ACME.Okta.com/app/UserHome?x=1#y ").await,
            "https://acme.okta.com"
        );
        assert_eq!(ok("acme.okta.com/").await, "https://acme.okta.com");
        assert_eq!(ok("https://acme.okta.com:443/").await, "https://acme.okta.com");
        assert_eq!(ok("https://login.acme.com").await, "https://login.acme.com");
    }

    #[tokio::test]
    async fn the_admin_console_url_is_refused_with_the_right_one() {
        let message = refused("https://acme-admin.okta.com/admin/dashboard").await;
        assert!(
            message.contains("use the Okta URL without -admin: https://acme.okta.com"),
            "{message}"
        );
        let message = refused("https://acme-admin.oktapreview.com").await;
        assert!(message.contains("https://acme.oktapreview.com"), "{message}");
    }

    #[tokio::test]
    async fn plain_http_and_other_schemes_are_refused() {
        assert!(refused("http://acme.okta.com").await.contains("https://"));
        assert!(refused("ftp://acme.okta.com").await.contains("https://"));
    }

    #[tokio::test]
    async fn ip_literals_in_every_spelling_are_refused() {
        for (input, shows) in [
            ("https://127.0.0.1", "loopback"),
            ("https://2130706433", "127.0.0.1"),
            ("https://0x7f000001", "127.0.0.1"),
            ("https://0177.0.0.1", "127.0.0.1"),
            ("https://10.0.0.1", "private"),
            ("https://169.254.169.254/latest/meta-data", "cloud metadata"),
            ("https://[::1]", "loopback"),
            ("https://[::ffff:127.0.0.1]", "IPv4-mapped"),
            ("https://[fd00:ec2::254]", "cloud metadata"),
            ("https://100.64.0.1", "CGNAT"),
            ("https://8.8.8.8", "not an IP address"),
        ] {
            let message = refused(input).await;
            assert!(message.contains(shows), "{input}: {message}");
        }
    }

    #[tokio::test]
    async fn names_are_judged_by_what_they_resolve_to_and_the_address_is_never_named() {
        for (input, never) in [
            ("https://localhost", ["127.0.0.1", "::1", "loopback"].as_slice()),
            ("https://rebind.example.com", &["10.0.0.7", "44.231.10.5", "private"]),
            ("https://meta.example.com", &["fd00:ec2::254", "metadata"]),
            ("https://mapped.example.com", &["8.8.8.8", "::ffff", "IPv4-mapped"]),
        ] {
            let message = refused(input).await;
            let host = input.trim_start_matches("https://");
            assert!(
                message.contains(&format!("`{host}` does not resolve to a public address")),
                "{message}"
            );
            for shown in never {
                assert!(!message.contains(shown), "{input}: {message}");
            }
        }
        assert!(
            refused("https://no-such-org.invalid")
                .await
                .contains("does not resolve")
        );
    }

    #[tokio::test]
    async fn ports_and_userinfo_are_refused() {
        assert!(refused("https://acme.okta.com:8443").await.contains(":8443"));
        assert!(refused("https://me:pw@acme.okta.com").await.contains("user name"));
    }

    #[tokio::test]
    async fn insecure_mode_lets_the_simulator_in_but_not_the_admin_console() {
        let dev = UrlPolicy {
            allow_insecure: true,
            ..UrlPolicy::default()
        };
        let org = check("http://127.0.0.1:8181/", &dev).await.unwrap();
        assert_eq!(org.to_string(), "http://127.0.0.1:8181");
        assert!(check("https://acme-admin.okta.com", &dev).await.is_err());
    }
}
