//! The limiter's allowance, read-only, for a run's progress report.

use super::OktaClient;
use crate::family::Family;
use crate::limiter::RateAllowance;

impl OktaClient {
    /// What the tenant's limiter allows `family` now (shared by the clones).
    pub fn allowance(&self, family: Family) -> RateAllowance {
        self.inner.limiter.allowance(family)
    }
}
