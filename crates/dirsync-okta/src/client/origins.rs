//! Where the token may go: only to the tenant's origins (the instance URL,
//! the domains its well-known document names, any added by the caller), and
//! a secure client never to an IP literal that no Okta org can have.

use std::net::IpAddr;

use url::{Host, Url};

use super::{OktaClient, path_and_query};
use crate::address::forbidden_address;
use crate::error::OktaError;
use crate::org_url::OrgUrl;

impl OktaClient {
    /// Trusts another origin of this tenant (e.g. the canonical domain stored
    /// from an earlier [`OktaClient::organization`] call), so that checkpointed
    /// URLs on it can be resumed.
    pub fn allow_origin(&self, origin: &OrgUrl) {
        let mut origins = self.inner.origins.write().unwrap_or_else(|e| e.into_inner());
        origins.insert(origin.as_url().origin());
    }

    /// Whether the token may be sent to `url`'s origin.
    pub fn is_allowed(&self, url: &Url) -> bool {
        let origins = self.inner.origins.read().unwrap_or_else(|e| e.into_inner());
        origins.contains(&url.origin())
    }

    pub(super) fn check_origin(&self, url: &Url) -> Result<(), OktaError> {
        if self.is_allowed(url) {
            Ok(())
        } else {
            Err(OktaError::ForeignLink {
                origin: url.origin().ascii_serialization(),
                path: path_and_query(url),
            })
        }
    }
}

/// An IP literal host that no Okta org can have, refused before any
/// connection (a secure client's resolver only sees names).
pub(super) fn refuse_forbidden_literal(url: &Url) -> Result<(), OktaError> {
    let ip = match url.host() {
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    match forbidden_address(&ip) {
        None => Ok(()),
        Some(kind) => Err(OktaError::Unreachable {
            host: url.host_str().unwrap_or_default().to_owned(),
            path: path_and_query(url),
            reason: format!("{ip} is a {kind} address; not connecting, an Okta org is on the public internet"),
        }),
    }
}
