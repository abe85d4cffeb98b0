//! Walking a chain: page after page from its checkpoint, publish then
//! checkpoint, bounded so a hostile or broken Okta cannot loop the run.

use super::{RunExecutor, page::Fetched};
use crate::RunError;
use dirsync_domain::{Chain, ErrorCode};
use dirsync_store::{ChainState, Checkpoint};
use futures::{StreamExt, TryStreamExt, stream};
use url::Url;

impl RunExecutor<'_> {
    /// Member chains are known once the groups chain has ended.
    pub(super) async fn walk_members(&self) -> Result<(), RunError> {
        let chains = self.ctx.deps.store.runs().chains(self.run.run_id).await?;
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
    pub(super) async fn walk(&self, state: ChainState) -> Result<(), RunError> {
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
            let next;
            (seq, next) = self.record(&state.chain, seq, fetched).await?;
            match next {
                Some(next) => url = next,
                None => return Ok(()),
            }
        }
    }

    /// Publishes a fetched page as page `seq` of `chain` (when there is one
    /// to publish), then checkpoints the chain after it. Returns the
    /// chain's page count and the next page's URL (`None`: the chain ended).
    pub(super) async fn record(
        &self,
        chain: &Chain,
        mut seq: u32,
        fetched: Fetched,
    ) -> Result<(u32, Option<Url>), RunError> {
        let gone = fetched.payload.is_none();
        if let Some(payload) = fetched.payload {
            self.publish_page(chain, seq, payload).await?;
            seq += 1;
        }
        let checkpoint = Checkpoint {
            chain,
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
                .runs()
                .checkpoint(self.run.run_id, &self.run.lease, checkpoint)
                .await?,
        )?;
        Ok((seq, fetched.next))
    }

    /// Pages a chain may have: a member chain about its group's
    /// `usersCount` (with generous slack: members added meanwhile, a count
    /// that lags), any other the configured cap.
    pub(super) fn max_pages(&self, state: &ChainState) -> u32 {
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
}
