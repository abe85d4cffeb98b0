//! The fetch phase of a run: its chains planned ([`plan`]; a first sync's
//! users split by what Okta says, [`first_split`]), walked page by page
//! with a checkpoint after each ([`walk`]), each page turned into a
//! message for the writers ([`page`]), its progress told as it goes
//! ([`progress`]). The phase ends when every chain has: the run is the
//! writers' then, and the worker's slot is free.

mod first_split;
mod page;
mod plan;
mod progress;
mod walk;

pub(crate) use page::not_proof;

use crate::{RunError, service::WorkerContext};
use dirsync_domain::{Chain, ErrorCode};
use dirsync_okta::OktaClient;
use dirsync_store::{ChainState, ClaimedRun};
use futures::{StreamExt, TryStreamExt, stream};
use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// A difference between Okta's clock and ours above this is logged: windows
/// are on Okta's clock so it does no harm, but it says our host's clock (or
/// Okta's) is wrong.
const SKEW_WARNING: Duration = Duration::from_secs(3 * 60);

/// Walks one run's chains for the worker that holds its lease.
pub struct RunExecutor<'a> {
    /// The worker's store, publisher, topology, configuration and lease owner.
    ctx: &'a WorkerContext,
    client: OktaClient,
    run: ClaimedRun,
    /// Cancelled on shutdown or when the lease is lost.
    stop: CancellationToken,
    reported_requests: AtomicU64,
    slice_started: std::time::Instant,
}

impl<'a> RunExecutor<'a> {
    pub fn new(ctx: &'a WorkerContext, client: OktaClient, run: ClaimedRun, stop: CancellationToken) -> Self {
        RunExecutor {
            ctx,
            client,
            run,
            stop,
            reported_requests: AtomicU64::new(0),
            slice_started: std::time::Instant::now(),
        }
    }

    /// Fetches whatever the run still lacks, then tells the writers how
    /// many pages to expect and lets the lease go.
    pub async fn execute(&self) -> Result<(), RunError> {
        // Progress is told beside the fetch (a hold on the very first
        // request included), and stops with it.
        let org = tokio::select! {
            fetched = self.fetch_all() => fetched?,
            never = self.report_progress() => match never {},
        };
        // A full run's removals are checked once the writers have applied
        // every page: the writer that writes the last one asks a worker.
        let pages = self
            .ctx
            .deps
            .store
            .runs()
            .complete_fetch(self.run.run_id, &self.run.lease, self.take_requests())
            .await?
            .ok_or(RunError::LeaseLost)?;
        self.ctx
            .deps
            .store
            .tenants()
            .record_okta_success(self.run.tenant_id, Some(&org.id))
            .await?;
        self.announce_completion(pages).await
    }

    /// Plans the run's chains (once) and walks every one to its end.
    async fn fetch_all(&self) -> Result<dirsync_okta::Organization, RunError> {
        let org = self.client.organization().await?;
        // Okta's next links may name the canonical domain of a custom-domain org.
        self.client.allow_origin(&org.domain);
        if let Some(alternate) = &org.alternate {
            self.client.allow_origin(alternate);
        }
        let mut chains = self.ctx.deps.store.runs().chains(self.run.run_id).await?;
        if chains.is_empty() {
            // Okta's clock, not ours, defines every window: the catch-up
            // chain's and the next incremental run's.
            let okta_now = self.client.okta_now();
            let skew = self.client.clock_skew().unwrap_or(time::Duration::ZERO);
            if skew.unsigned_abs() > SKEW_WARNING {
                tracing::warn!(
                    skew_seconds = skew.whole_seconds(),
                    "Okta's clock and ours differ by minutes; windows follow Okta's"
                );
            }
            let plan = self.plan(okta_now).await?;
            let clock = (okta_now, skew.whole_milliseconds() as i64);
            self.ensure(
                self.ctx
                    .deps
                    .store
                    .runs()
                    .add_chains(self.run.run_id, &self.run.lease, &plan.chains, Some(clock))
                    .await?,
            )?;
            if let Some((chain, page)) = plan.first_page {
                self.record(&chain, 0, page).await?;
            }
            chains = self.ctx.deps.store.runs().chains(self.run.run_id).await?;
        }
        let (catch_up, slices): (Vec<ChainState>, Vec<ChainState>) = chains
            .iter()
            .filter(|c| c.chain.lists_users())
            .cloned()
            .partition(|c| c.chain == Chain::UsersCatchUp);
        let groups = chains.iter().find(|c| c.chain == Chain::Groups).cloned();
        let users_walk = async {
            stream::iter(slices.into_iter().map(|chain| self.walk(chain)))
                .buffer_unordered(usize::from(self.ctx.config.user_slices.max(1)))
                .try_collect::<()>()
                .await?;
            // Only once every range is listed: whoever changed meanwhile.
            for chain in catch_up {
                self.walk(chain).await?;
            }
            Ok::<_, RunError>(())
        };
        let groups_then_members = async {
            if let Some(chain) = groups {
                self.walk(chain).await?;
            }
            self.walk_members().await
        };
        futures::try_join!(users_walk, groups_then_members)?;
        Ok(org)
    }

    /// Ends the walk when the run's time slice is over (fair share: the run
    /// goes to the back of the queue and resumes from its checkpoints) or
    /// when the run is past its deadline.
    fn check_time(&self) -> Result<(), RunError> {
        let deadline = self.run.started_at + self.ctx.config.run_deadline();
        if OffsetDateTime::now_utc() > deadline {
            return Err(RunError::Failed {
                code: ErrorCode::OktaUnavailable,
                message: format!(
                    "the run was still fetching {} s after it started (setting `worker.run_deadline_secs`)",
                    self.ctx.config.run_deadline_secs
                ),
            });
        }
        if self.slice_started.elapsed() > self.ctx.config.slice() {
            return Err(RunError::SliceEnded);
        }
        Ok(())
    }

    /// Okta requests made since the last call (several chains share the client).
    fn take_requests(&self) -> u64 {
        let total = self.client.stats().requests;
        total.saturating_sub(self.reported_requests.swap(total, Ordering::SeqCst))
    }

    pub fn unreported_requests(&self) -> u64 {
        self.take_requests()
    }

    fn ensure(&self, lease_held: bool) -> Result<(), RunError> {
        if lease_held { Ok(()) } else { Err(RunError::LeaseLost) }
    }
}
