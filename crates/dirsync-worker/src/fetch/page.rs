//! One Okta page and what it becomes: records checked (what Okta could
//! not have sent is left out), member chains discovered from a groups
//! page, and the `PageFetched` message published for the writers.

use super::RunExecutor;
use crate::{RunError, convert};
use dirsync_domain::{
    Chain, ErrorCode, FetchCompleted, OktaGroupId, OktaUserId, PageFetched, PagePayload, WriterMessage, everyone,
    validate,
};
use dirsync_okta::{OktaError, Page};
use dirsync_store::NewChain;
use url::Url;

/// What one fetched page becomes.
pub(super) struct Fetched {
    /// `None`: the chain's subject is gone (nothing to publish).
    pub(super) payload: Option<PagePayload>,
    pub(super) next: Option<Url>,
    pub(super) new_chains: Vec<NewChain>,
    pub(super) done_chains: Vec<NewChain>,
    /// Records left out: Okta could not have sent them.
    pub(super) rejected: Vec<String>,
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

impl RunExecutor<'_> {
    pub(super) async fn fetch(&self, chain: &Chain, url: &Url) -> Result<Fetched, RunError> {
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
                    if everyone::is_everyone(group.group_type.as_str(), group.name()) {
                        // Everyone holds every user: derived at finalize, never paged
                        // (the rule: `dirsync_domain::everyone`).
                        // Its usersCount is the org's size: what a run's
                        // estimate needs (`progress.rs`); nothing checks it.
                        fetched.done_chains.push(NewChain {
                            chain: Chain::Everyone {
                                group_id: OktaGroupId::from(group.id.as_str()),
                            },
                            expected_rows: group.users_count.and_then(|n| u32::try_from(n).ok()),
                        });
                        continue;
                    }
                    // expand=stats says how many members the chain must list
                    // (fewer is a short listing, not removals) and which groups
                    // are empty: nothing to page, but their (empty) member set
                    // is still applied.
                    let chain = NewChain {
                        chain: Chain::Members {
                            group_id: OktaGroupId::from(group.id.as_str()),
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
                        self.confirm_group_gone(group_id.as_str(), e).await?;
                        return Ok(fetched);
                    }
                    Err(e) => return Err(not_proof(e)),
                };
                let user_ids = items.into_iter().map(|u| OktaUserId::from(u.id)).collect();
                let user_ids = keep_valid(user_ids, &mut fetched.rejected, |id: &OktaUserId| {
                    validate::check_member(id.as_str())
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
    pub(super) async fn confirm_group_gone(&self, group_id: &str, listing: OktaError) -> Result<(), RunError> {
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

    /// Its span is the parent of the writer's: the page's context rides in
    /// the message headers.
    #[tracing::instrument(
        name = "publish_page",
        skip_all,
        fields(tenant_id = %self.run.tenant_id, run_id = %self.run.run_id, chain = %chain, seq = seq)
    )]
    pub(super) async fn publish_page(&self, chain: &Chain, seq: u32, payload: PagePayload) -> Result<(), RunError> {
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
    pub(super) async fn announce_completion(&self, pages: u32) -> Result<(), RunError> {
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
}

/// An error met while asking about one object (a group's members, a user
/// or group by id): a 404 without Okta's `E0000007` body there is a proxy
/// or a wrong path answering, no proof that anything is gone, and no sign
/// of a wrong instance URL either (the run listed the org already).
pub(crate) fn not_proof(err: OktaError) -> RunError {
    if matches!(err, OktaError::NotFound { .. }) && !err.is_okta_not_found() {
        return RunError::Failed {
            code: ErrorCode::OktaUnavailable,
            message: format!("a 404 without Okta's error body is not taken as proof that anything is gone: {err}"),
        };
    }
    err.into()
}
