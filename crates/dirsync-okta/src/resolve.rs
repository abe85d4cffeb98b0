//! The resolver of secure clients (SSRF): names are resolved with the
//! system resolver at every new connection, and every address that
//! [`forbidden_address`] refuses is dropped before reqwest sees it. A name
//! that resolves only to such addresses (DNS rebinding to loopback, a
//! private network or a metadata service) fails as [`NonPublicResolution`],
//! which the client reports as `OktaError::Unreachable`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::address::forbidden_address;

/// Resolves with the system resolver (`getaddrinfo`, through tokio) and
/// keeps public addresses only.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: hyper puts the URL's port on every address.
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public = keep_public(&host, resolved)?;
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The public addresses among `resolved`, or why there are none.
pub(crate) fn keep_public(host: &str, resolved: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, NonPublicResolution> {
    let (public, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = resolved
        .into_iter()
        .partition(|addr| forbidden_address(&addr.ip()).is_none());
    if !public.is_empty() {
        if !refused.is_empty() {
            tracing::warn!(
                host,
                refused = refused.len(),
                kept = public.len(),
                "dropped non-public addresses the Okta host resolves to"
            );
        }
        return Ok(public);
    }
    let mut distinct: Vec<(IpAddr, &'static str)> = Vec::new();
    for addr in refused {
        if let Some(kind) = forbidden_address(&addr.ip())
            && !distinct.iter().any(|(ip, _)| *ip == addr.ip())
        {
            distinct.push((addr.ip(), kind));
        }
    }
    Err(NonPublicResolution {
        host: host.to_owned(),
        refused: distinct,
    })
}

/// A host name that resolves to no address an Okta org can have (or to no
/// address at all). Its message names the host and the addresses, which are
/// not secrets; it never holds the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NonPublicResolution {
    host: String,
    refused: Vec<(IpAddr, &'static str)>,
}

impl fmt::Display for NonPublicResolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.refused.is_empty() {
            return write!(f, "`{}` resolves to no address", self.host);
        }
        write!(
            f,
            "`{}` resolves only to private, loopback or other non-public addresses (",
            self.host
        )?;
        const SHOWN: usize = 4;
        for (i, (ip, kind)) in self.refused.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{ip}: {kind}")?;
        }
        if self.refused.len() > SHOWN {
            write!(f, ", and {} more", self.refused.len() - SHOWN)?;
        }
        f.write_str("); not connecting, an Okta org is on the public internet")
    }
}

impl std::error::Error for NonPublicResolution {}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(ips: &[&str]) -> Vec<SocketAddr> {
        ips.iter().map(|ip| SocketAddr::new(ip.parse().unwrap(), 0)).collect()
    }

    #[test]
    fn forbidden_addresses_are_dropped_and_public_ones_kept() {
        let kept = keep_public(
            "rebind.example.com",
            addrs(&["10.0.0.7", "44.231.10.5", "::1", "2600:1f14::1", "169.254.169.254"]),
        )
        .unwrap();
        assert_eq!(kept, addrs(&["44.231.10.5", "2600:1f14::1"]));
    }

    #[test]
    fn a_name_with_only_forbidden_addresses_is_refused_with_the_reason() {
        let err = keep_public("localhost", addrs(&["127.0.0.1", "::1", "fd00:ec2::254"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`localhost` resolves only to private, loopback or other non-public addresses \
             (127.0.0.1: loopback, ::1: loopback, fd00:ec2::254: cloud metadata); \
             not connecting, an Okta org is on the public internet"
        );
        let err = keep_public("empty.example.com", Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "`empty.example.com` resolves to no address");
        let many = keep_public(
            "many.example.com",
            addrs(&["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            many.ends_with("10.0.0.4: private, and 1 more); not connecting, an Okta org is on the public internet"),
            "{many}"
        );
    }

    #[tokio::test]
    async fn the_resolver_refuses_localhost() {
        let err = match PublicOnlyResolver.resolve("localhost".parse().unwrap()).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(err) => err,
        };
        let refusal = err
            .downcast_ref::<NonPublicResolution>()
            .expect("a NonPublicResolution");
        assert_eq!(refusal.host, "localhost");
        assert!(
            refusal
                .refused
                .iter()
                .all(|(ip, kind)| ip.is_loopback() && *kind == "loopback"),
            "{refusal}"
        );
        assert!(
            refusal
                .refused
                .iter()
                .any(|(ip, _)| *ip == IpAddr::from([127, 0, 0, 1])),
            "{refusal}"
        );
    }
}
