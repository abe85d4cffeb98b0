//! One claimed run, walked chain by chain.

use crate::{RunError, convert, service::WorkerContext};
use dirsync_domain::{Chain, ErrorCode, FetchCompleted, PageFetched, PagePayload, SyncMode, WriterMessage, validate};
use dirsync_okta::{GroupType, OktaClient, OktaError, Page};
use dirsync_store::{ChainState, Checkpoint, ClaimedRun, NewChain, RowKind};
use futures::{StreamExt, TryStreamExt, stream};
use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use url::Url;

/// Every user, whatever the status: a plain listing leaves DEPROVISIONED
/// users out, any filter brings them in, and no user predates the epoch.
const EPOCH: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

/// How far the catch-up chain reaches back before the run began (on Okta's
/// clock, from its `Date` header, whose resolution is a second): a write
/// Okta stamped just before it answered is still seen.
const CATCH_UP_OVERLAP: Duration = Duration::from_secs(60);

/// A difference between Okta's clock and ours above this is logged: windows
/// are on Okta's clock so it does no harm, but it says our host's clock (or
/// Okta's) is wrong.
const SKEW_WARNING: Duration = Duration::from_secs(3 * 60);

/// Okta's filter timestamp format: `2024-03-01T12:34:56.000Z`.
fn okta_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

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

/// What one fetched page becomes.
struct Fetched {
    /// `None`: the chain's subject is gone (nothing to publish).
    payload: Option<PagePayload>,
    next: Option<Url>,
    new_chains: Vec<NewChain>,
    done_chains: Vec<NewChain>,
    /// Records left out: Okta could not have sent them.
    rejected: Vec<String>,
}

/// Keeps the records that pass `check`, noting the others.
fn keep_valid<T>(
    items: Vec<T>,
    rejected: &mut Vec<String>,
    check: impl Fn(&T) -> Result<(), validate::Rejected>,
) -> Vec<T> {
    items
        .into_iter()
        .filter(|item| match check(item) {
            Ok(()) => true,
            Err(why) => {
                tracing::warn!(record = %why, "record left out: Okta could not have sent it");
                rejected.push(why.to_string());
                false
            }
        })
        .collect()
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
    /// many pages to expect.
    pub async fn execute(&self) -> Result<(), RunError> {
        let org = self.client.organization().await?;
        // Okta's next links may name the canonical domain of a custom-domain org.
        self.client.allow_origin(&org.domain);
        if let Some(alternate) = &org.alternate {
            self.client.allow_origin(alternate);
        }
        let mut chains = self.ctx.deps.store.chains(self.run.run_id).await?;
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
                    .add_chains(self.run.run_id, &self.run.lease, &plan, Some(clock))
                    .await?,
            )?;
            chains = self.ctx.deps.store.chains(self.run.run_id).await?;
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
        if self.run.mode == SyncMode::Full {
            self.confirm_removals().await?;
        }
        let pages = self
            .ctx
            .deps
            .store
            .complete_fetch(self.run.run_id, &self.run.lease, self.take_requests())
            .await?
            .ok_or(RunError::LeaseLost)?;
        self.ctx
            .deps
            .store
            .record_okta_success(self.run.tenant_id, Some(&org.id))
            .await?;
        self.announce_completion(pages).await
    }

    /// Member chains are known once the groups chain has ended.
    async fn walk_members(&self) -> Result<(), RunError> {
        let chains = self.ctx.deps.store.chains(self.run.run_id).await?;
        let cap = self.ctx.config.max_chains_per_run as usize;
        if chains.len() > cap {
            return Err(RunError::Failed {
                code: ErrorCode::OktaUnavailable,
                message: format!(
                    "Okta listed {} groups to page, more than this run may (setting `worker.max_chains_per_run` = {cap})",
                    chains.len()
                ),
            });
        }
        let pending: Vec<ChainState> = chains
            .into_iter()
            .filter(|c| matches!(c.chain, Chain::Members { .. }) && !c.done)
            .collect();
        stream::iter(pending.into_iter().map(|chain| self.walk(chain)))
            .buffer_unordered(self.ctx.config.chain_concurrency.max(1))
            .try_collect::<()>()
            .await
    }

    /// Fetches a chain's pages from its checkpoint to its end: publish
    /// (confirmed), then checkpoint, page after page.
    async fn walk(&self, state: ChainState) -> Result<(), RunError> {
        if state.done {
            return Ok(());
        }
        let mut url = match &state.next_url {
            Some(stored) => Url::parse(stored).map_err(|e| RunError::Failed {
                code: dirsync_domain::ErrorCode::Internal,
                message: format!("stored cursor of chain {} is not a URL: {e}", state.chain),
            })?,
            None => self.first_url(&state.chain),
        };
        let mut seq = state.pages;
        let max_pages = self.max_pages(&state);
        // A `next` link back to a page this walk already fetched would loop
        // forever on the tenant's budget.
        let mut visited = std::collections::HashSet::new();
        loop {
            self.check_time()?;
            if !visited.insert(url.as_str().to_owned()) {
                return Err(RunError::Failed {
                    code: ErrorCode::OktaUnavailable,
                    message: format!(
                        "Okta's next link on chain {} leads back to a page already fetched",
                        state.chain
                    ),
                });
            }
            if seq >= max_pages {
                return Err(RunError::Failed {
                    code: ErrorCode::OktaUnavailable,
                    message: format!(
                        "chain {} has more than {max_pages} pages, more than Okta could list for it \
                         (setting `worker.max_pages_per_chain`, or the group's usersCount)",
                        state.chain
                    ),
                });
            }
            let fetched = tokio::select! {
                _ = self.stop.cancelled() => return Err(RunError::Cancelled),
                fetched = self.fetch(&state.chain, &url) => fetched?,
            };
            let gone = fetched.payload.is_none();
            if let Some(payload) = fetched.payload {
                self.publish_page(&state.chain, seq, payload).await?;
                seq += 1;
            }
            let checkpoint = Checkpoint {
                chain: &state.chain,
                next_url: fetched.next.as_ref().map(Url::as_str),
                pages: seq,
                done: fetched.next.is_none(),
                gone,
                new_chains: &fetched.new_chains,
                done_chains: &fetched.done_chains,
                okta_requests: self.take_requests(),
                rejected: &fetched.rejected,
            };
            self.ensure(
                self.ctx
                    .deps
                    .store
                    .checkpoint(self.run.run_id, &self.run.lease, checkpoint)
                    .await?,
            )?;
            match fetched.next {
                Some(next) => url = next,
                None => return Ok(()),
            }
        }
    }

    /// The run's chains and the first page of each. A full run splits its
    /// users into `lastUpdated` ranges of about equal size (from the users
    /// stored by earlier runs), paged side by side; the last range is open,
    /// and a catch-up chain afterwards lists whoever changed since the run
    /// began, so a user who moves between ranges mid-run is never lost.
    async fn plan(&self, okta_now: OffsetDateTime) -> Result<Vec<(Chain, String)>, RunError> {
        let groups = (Chain::Groups, self.first_url(&Chain::Groups).to_string());
        if self.run.mode == SyncMode::Incremental {
            return Ok(vec![(Chain::Users, self.first_url(&Chain::Users).to_string()), groups]);
        }
        let began = okta_now - CATCH_UP_OVERLAP;
        let points = self
            .ctx
            .deps
            .store
            .user_split_points(
                self.run.tenant_id,
                self.ctx.config.user_slices,
                self.ctx.config.min_users_per_slice,
            )
            .await?;
        let size = self.ctx.config.users_page_size;
        let mut plan = Vec::with_capacity(points.len() + 3);
        for index in 0..=points.len() {
            let lower = if index == 0 { EPOCH } else { points[index - 1] };
            let filter = match points.get(index) {
                Some(upper) => format!(
                    r#"lastUpdated gt "{}" and lastUpdated le "{}""#,
                    okta_time(lower),
                    okta_time(*upper)
                ),
                None => format!(r#"lastUpdated gt "{}""#, okta_time(lower)),
            };
            let chain = Chain::UsersSlice { index: index as u16 };
            plan.push((chain, self.client.users_url(Some(&filter), size).to_string()));
        }
        if !points.is_empty() {
            let filter = format!(r#"lastUpdated gt "{}""#, okta_time(began));
            plan.push((
                Chain::UsersCatchUp,
                self.client.users_url(Some(&filter), size).to_string(),
            ));
        }
        plan.push(groups);
        Ok(plan)
    }

    /// Incremental runs list only what changed after this instant; full
    /// runs everything.
    fn since(&self) -> Option<OffsetDateTime> {
        match self.run.mode {
            SyncMode::Full => None,
            SyncMode::Incremental => self.run.changed_since,
        }
    }

    fn first_url(&self, chain: &Chain) -> Url {
        let since = okta_time(self.since().unwrap_or(EPOCH));
        match chain {
            Chain::Users | Chain::UsersSlice { .. } | Chain::UsersCatchUp => {
                let filter = format!(r#"lastUpdated gt "{since}""#);
                self.client.users_url(Some(&filter), self.ctx.config.users_page_size)
            }
            Chain::Groups => {
                let filter = self
                    .since()
                    .map(|_| format!(r#"lastUpdated gt "{since}" or lastMembershipUpdated gt "{since}""#));
                self.client
                    .groups_url(filter.as_deref(), true, self.ctx.config.groups_page_size)
            }
            Chain::Members { group_id } | Chain::Everyone { group_id } => self
                .client
                .group_members_url(group_id, self.ctx.config.members_page_size),
        }
    }

    async fn fetch(&self, chain: &Chain, url: &Url) -> Result<Fetched, RunError> {
        let mut fetched = Fetched {
            payload: None,
            next: None,
            new_chains: Vec::new(),
            done_chains: Vec::new(),
            rejected: Vec::new(),
        };
        match chain {
            Chain::Users | Chain::UsersSlice { .. } | Chain::UsersCatchUp => {
                let Page { items, next } = self.client.users_page(url).await?;
                let users = items.into_iter().map(convert::user_record).collect();
                let users = keep_valid(users, &mut fetched.rejected, validate::check_user);
                fetched.payload = Some(PagePayload::Users { users });
                fetched.next = next;
            }
            Chain::Groups => {
                let Page { items, next } = self.client.groups_page(url).await?;
                // Incremental runs page the members of a group only when they moved.
                let since = self.since();
                for group in items
                    .iter()
                    .filter(|g| since.is_none_or(|s| g.last_membership_updated > s))
                {
                    if group.group_type == GroupType::BuiltIn && group.name() == Some("Everyone") {
                        // Everyone holds every user: derived at finalize, never paged.
                        fetched.done_chains.push(NewChain {
                            chain: Chain::Everyone {
                                group_id: group.id.clone(),
                            },
                            expected_rows: None,
                        });
                        continue;
                    }
                    // expand=stats says how many members the chain must list
                    // (fewer is a short listing, not removals) and which groups
                    // are empty: nothing to page, but their (empty) member set
                    // is still applied.
                    let chain = NewChain {
                        chain: Chain::Members {
                            group_id: group.id.clone(),
                        },
                        expected_rows: group.users_count.and_then(|n| u32::try_from(n).ok()),
                    };
                    match group.users_count {
                        Some(0) => fetched.done_chains.push(chain),
                        _ => fetched.new_chains.push(chain),
                    }
                }
                let groups = items.into_iter().map(convert::group_record).collect();
                let groups = keep_valid(groups, &mut fetched.rejected, validate::check_group);
                fetched.payload = Some(PagePayload::Groups { groups });
                fetched.next = next;
            }
            Chain::Members { group_id } | Chain::Everyone { group_id } => {
                let Page { items, next } = match self.client.group_members_page(url).await {
                    Ok(page) => page,
                    // Deleted while the run listed groups: the chain ends,
                    // and the group goes once Okta confirms it by id.
                    Err(e) if e.is_okta_not_found() => {
                        self.confirm_group_gone(group_id, e).await?;
                        return Ok(fetched);
                    }
                    Err(e) => return Err(not_proof(e)),
                };
                let user_ids = items.into_iter().map(|u| u.id).collect();
                let user_ids = keep_valid(user_ids, &mut fetched.rejected, |id: &String| {
                    validate::check_member(id)
                });
                fetched.payload = Some(PagePayload::Members {
                    group_id: group_id.clone(),
                    user_ids,
                });
                fetched.next = next;
            }
        }
        Ok(fetched)
    }

    /// A member listing answered 404 `E0000007`: the group must be gone by
    /// id too, or something is wrong with Okta's answers.
    async fn confirm_group_gone(&self, group_id: &str, listing: OktaError) -> Result<(), RunError> {
        match self.client.get_group(group_id).await.map_err(not_proof)? {
            None => {
                tracing::info!(group_id, "group deleted during the run; its chain ends");
                Ok(())
            }
            Some(_) => Err(RunError::Failed {
                code: ErrorCode::OktaUnavailable,
                message: format!("Okta still has group {group_id} but not its members ({listing})"),
            }),
        }
    }

    /// A full run removes only users Okta confirms gone: once the writers
    /// have applied every page, each stored user this run did not see is
    /// asked for by id, and only a 404 counts. A truncated listing therefore
    /// never removes anyone; the deletion guard then bounds what a real
    /// mass deletion may remove without a person's confirmation.
    async fn confirm_removals(&self) -> Result<(), RunError> {
        self.wait_for_writers().await?;
        for kind in [RowKind::User, RowKind::Group] {
            let store = &self.ctx.deps.store;
            let candidates = store.unseen(self.run.run_id, self.run.tenant_id, kind).await?;
            let mut gone = Vec::new();
            for id in candidates {
                let found = async {
                    match kind {
                        RowKind::User => self.client.get_user(&id).await.map(|u| u.is_some()),
                        RowKind::Group => self.client.get_group(&id).await.map(|g| g.is_some()),
                    }
                };
                let found = tokio::select! {
                    _ = self.stop.cancelled() => return Err(RunError::Cancelled),
                    found = found => found.map_err(not_proof)?,
                };
                if !found {
                    gone.push(id);
                }
            }
            self.ensure(
                store
                    .record_removals(self.run.run_id, &self.run.lease, kind, &gone)
                    .await?,
            )?;
            tracing::info!(
                ?kind,
                confirmed_gone = gone.len(),
                "removal candidates checked with Okta"
            );
        }
        Ok(())
    }

    /// Waits until every page published so far is written (the writers are
    /// normally seconds behind); past the run's time slice, or a writer
    /// outage longer than the bound, hands the run back to be resumed later.
    async fn wait_for_writers(&self) -> Result<(), RunError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
        loop {
            let (published, written) = self.ctx.deps.store.page_progress(self.run.run_id).await?;
            if written >= published {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(RunError::WritersBehind { published, written });
            }
            // Waiting holds a worker slot: past the run's time slice it is
            // given back like any other (the run resumes here, every chain
            // already done).
            self.check_time()?;
            tokio::select! {
                _ = self.stop.cancelled() => return Err(RunError::Cancelled),
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }

    /// Its span is the parent of the writer's: the page's context rides in
    /// the message headers.
    #[tracing::instrument(
        name = "publish_page",
        skip_all,
        fields(tenant_id = %self.run.tenant_id, run_id = %self.run.run_id, chain = %chain, seq = seq)
    )]
    async fn publish_page(&self, chain: &Chain, seq: u32, payload: PagePayload) -> Result<(), RunError> {
        let message = WriterMessage::PageFetched(PageFetched {
            tenant_id: self.run.tenant_id,
            run_id: self.run.run_id,
            attempt: self.run.lease.attempt,
            chain: chain.clone(),
            seq,
            payload,
        });
        let id = format!("{}/{chain}/{seq}", self.run.run_id);
        match self
            .ctx
            .publisher
            .publish(&self.ctx.topology.pages(), &message, &id)
            .await
        {
            Ok(()) => Ok(()),
            // The same page would be too large at every attempt.
            Err(e @ dirsync_queue::QueueError::TooLarge { .. }) => Err(RunError::Failed {
                code: ErrorCode::Internal,
                message: e.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    #[tracing::instrument(
        name = "publish_fetch_completed",
        skip_all,
        fields(tenant_id = %self.run.tenant_id, run_id = %self.run.run_id, pages = pages)
    )]
    async fn announce_completion(&self, pages: u32) -> Result<(), RunError> {
        let message = WriterMessage::FetchCompleted(FetchCompleted {
            tenant_id: self.run.tenant_id,
            run_id: self.run.run_id,
            attempt: self.run.lease.attempt,
            pages,
        });
        let id = format!("{}/completed", self.run.run_id);
        self.ctx
            .publisher
            .publish(&self.ctx.topology.pages(), &message, &id)
            .await?;
        Ok(())
    }

    /// Pages a chain may have: a member chain about its group's
    /// `usersCount` (with generous slack: members added meanwhile, a count
    /// that lags), any other the configured cap.
    fn max_pages(&self, state: &ChainState) -> u32 {
        let cap = self.ctx.config.max_pages_per_chain;
        match (&state.chain, state.expected_rows) {
            (Chain::Members { .. }, Some(expected)) => {
                let size = self.ctx.config.members_page_size.max(1);
                let slack = expected.saturating_add(10_000);
                (expected.saturating_add(slack) / size + 2).min(cap)
            }
            _ => cap,
        }
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

/// An error met while asking about one object (a group's members, a user
/// or group by id): a 404 without Okta's `E0000007` body there is a proxy
/// or a wrong path answering, no proof that anything is gone, and no sign
/// of a wrong instance URL either (the run listed the org already).
fn not_proof(err: OktaError) -> RunError {
    if matches!(err, OktaError::NotFound { .. }) && !err.is_okta_not_found() {
        return RunError::Failed {
            code: ErrorCode::OktaUnavailable,
            message: format!("a 404 without Okta's error body is not taken as proof that anything is gone: {err}"),
        };
    }
    err.into()
}
