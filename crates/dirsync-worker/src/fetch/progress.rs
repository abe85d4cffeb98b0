//! Telling the run's readers how far the fetch is and what holds it: every
//! few seconds while the chains are walked (a write per request would cost
//! more than the requests), the requests still expected, the rate the
//! limiter allows them, and until when it holds them back. A report is
//! written even while no page arrives, which is when a person asks why.

use super::RunExecutor;
use dirsync_domain::SyncMode;
use dirsync_domain::estimate::{self, Allowance, ChainWork, PageSizes};
use dirsync_okta::Family;
use dirsync_store::ProgressReport;
use std::{convert::Infallible, time::Duration};
use time::OffsetDateTime;

/// How often the run's row is updated while it fetches.
const REPORT_EVERY: Duration = Duration::from_secs(2);

/// A hold shorter than this is the pace of an ordinary window, not worth
/// telling a customer about.
const HOLD_WORTH_TELLING: Duration = Duration::from_millis(1_500);

impl RunExecutor<'_> {
    /// Reports progress every [`REPORT_EVERY`] until the walk it runs beside
    /// ends (it never ends on its own). A failed report is only logged: the
    /// walk notices a lost lease or database by itself.
    pub(super) async fn report_progress(&self) -> Infallible {
        let mut tick = tokio::time::interval(REPORT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.report_once().await {
                tracing::debug!(
                    tenant_id = %self.run.tenant_id,
                    run_id = %self.run.run_id,
                    error = %e,
                    "progress report not recorded"
                );
            }
        }
    }

    async fn report_once(&self) -> Result<(), dirsync_store::StoreError> {
        let runs = self.ctx.deps.store.runs();
        let chains: Vec<ChainWork> = runs
            .chains(self.run.run_id)
            .await?
            .into_iter()
            .map(|c| ChainWork {
                pages: u64::from(c.pages),
                done: c.done,
                expected_rows: c.expected_rows.map(u64::from),
                chain: c.chain,
            })
            .collect();
        // Everyone's usersCount, from the groups listing (`page.rs`).
        let org_users = chains
            .iter()
            .find(|c| matches!(c.chain, dirsync_domain::Chain::Everyone { .. }))
            .and_then(|c| c.expected_rows);
        let sizes = PageSizes {
            users: self.ctx.config.users_page_size,
            groups: self.ctx.config.groups_page_size,
            members: self.ctx.config.members_page_size,
        };
        let full = self.run.mode == SyncMode::Full;
        let left = estimate::requests_left(&chains, org_users, full, sizes);
        let users = self.client.allowance(Family::ListUsers);
        let groups = self.client.allowance(Family::ListGroups);
        let allowance = Allowance {
            list_users: users.per_minute,
            list_groups: groups.per_minute,
        };
        // A hold matters for a family the run still needs; while that is
        // unknown (planning: the org, the first-sync probes), for any.
        let held = match left {
            Some(l) => [(users, l.list_users > 0), (groups, l.list_groups > 0)]
                .into_iter()
                .filter(|(_, needed)| *needed)
                .filter_map(|(a, _)| a.held_for)
                .max(),
            None => Family::ALL
                .into_iter()
                .filter_map(|f| self.client.allowance(f).held_for)
                .max(),
        }
        .filter(|held| *held > HOLD_WORTH_TELLING);
        let report = ProgressReport {
            okta_requests: self.take_requests(),
            requests_left: left.map(|l| l.total()),
            allowed_rpm: left.and_then(|l| l.effective_rpm(allowance)),
            rate_limited_until: held.map(|held| OffsetDateTime::now_utc() + held),
        };
        runs.report_progress(self.run.run_id, &self.run.lease, report).await?;
        Ok(())
    }
}
