//! How a simulator instance behaves: credentials, public URL, and (phase 2)
//! rate limits, faults and the admin surface.

use std::time::Duration;

use url::Url;

use crate::faults::Faults;
use crate::oauth::token::ACCESS_TOKEN_LIFETIME;
use crate::ratelimit::RateLimits;

/// Simulator settings. Construct with `SimConfig::default()` and override
/// fields (`SimConfig { token: "t".into(), ..Default::default() }`) or use
/// the `with_*` helpers.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The API token accepted as `Authorization: SSWS <token>`.
    pub token: String,
    /// A token that authenticates but may not read the directory: every API
    /// call with it gets `403 E0000006` (a token made by a read-only admin).
    pub forbidden_token: Option<String>,
    /// The origin used in `_links` and `Link` headers instead of the
    /// request's `Host` (for a simulator behind a proxy).
    pub public_url: Option<Url>,
    /// A custom domain, reported as `_links.alternate` by
    /// `/.well-known/okta-organization`.
    pub custom_domain: Option<Url>,
    /// `idx` (Identity Engine) or `v1` (Classic), as the well-known
    /// endpoint reports it.
    pub pipeline: String,
    /// Budgets; unlimited by default, `RateLimits::okta()` for realism.
    pub rate_limits: RateLimits,
    /// Faults in force from the start (none by default); change them
    /// later with `OktaSim::set_faults`.
    pub faults: Faults,
    /// Serves the `/__sim/` admin surface (mutations, storms, stats).
    pub admin_api: bool,
    /// How far Okta's clock is from ours, in milliseconds (negative:
    /// behind): the org's change stamps, `Date` and `X-Rate-Limit-Reset`
    /// all read Okta's clock. Change it later with
    /// `OktaSim::set_clock_offset`.
    pub clock_offset_ms: i64,
    /// How long an access token from `POST /oauth2/v1/token` lives:
    /// Okta's hour by default, shorter to test refreshing.
    pub access_token_lifetime: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            token: "sim-token".to_owned(),
            forbidden_token: None,
            public_url: None,
            custom_domain: None,
            pipeline: "idx".to_owned(),
            rate_limits: RateLimits::unlimited(),
            faults: Faults::default(),
            admin_api: false,
            clock_offset_ms: 0,
            access_token_lifetime: ACCESS_TOKEN_LIFETIME,
        }
    }
}

impl SimConfig {
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    pub fn with_rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    pub fn with_admin_api(mut self) -> Self {
        self.admin_api = true;
        self
    }

    pub fn with_forbidden_token(mut self, token: impl Into<String>) -> Self {
        self.forbidden_token = Some(token.into());
        self
    }

    /// Okta's clock `offset_ms` from ours from the start (negative: behind);
    /// see `clock_offset_ms`.
    pub fn with_clock_offset(mut self, offset_ms: i64) -> Self {
        self.clock_offset_ms = offset_ms;
        self
    }

    pub fn with_access_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.access_token_lifetime = lifetime;
        self
    }
}
