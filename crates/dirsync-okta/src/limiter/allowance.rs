//! What the limiter allows a family right now, read-only: how a run tells
//! its customer when it will end and why it waits (the worker reports it).

use std::time::Duration;

use tokio::time::Instant;

use super::Limiter;
use crate::family::Family;

/// A family's allowance as the limiter sees it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateAllowance {
    pub family: Family,
    /// Requests a minute the pace lets through: Okta's limit for the token
    /// (as its headers last said, else the documented one times the share)
    /// less the reserve kept for the customer's other integrations.
    pub per_minute: u32,
    /// How much longer every request of the family is held (a spent window
    /// or a 429: until Okta's reset); `None` while requests flow.
    pub held_for: Option<Duration>,
}

impl Limiter {
    pub(crate) fn allowance(&self, family: Family) -> RateAllowance {
        let (per_minute, hold_until) = self.lock(family).allowance(&self.pace);
        let now = Instant::now();
        RateAllowance {
            family,
            per_minute,
            held_for: hold_until.filter(|t| *t > now).map(|t| t - now),
        }
    }
}
