//! What a sync reads from Okta: the well-known document, the first-page
//! URLs of users, groups and group members, pages by URL (with their items
//! capped and their `next` link checked), and one user or group by id.

use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use url::Url;

use super::{Auth, OktaClient, Page, path_and_query};
use crate::error::OktaError;
use crate::group::Group;
use crate::link;
use crate::organization::Organization;
use crate::user::User;

impl OktaClient {
    /// `GET /.well-known/okta-organization`, without the token: verifies the
    /// instance URL is an Okta org and learns its canonical (and alternate)
    /// domain, which become allowed origins for `next` links. A secure client
    /// accepts them only as `https` on port 443 (a canonical domain otherwise
    /// is `Malformed`, an alternate otherwise is ignored); the insecure test
    /// client accepts `http` and any port.
    pub async fn organization(&self) -> Result<Organization, OktaError> {
        let url = self.inner.org.join("/.well-known/okta-organization");
        let allow_insecure = self.inner.org.is_insecure();
        let org = self
            .fetch(&url, Auth::Anonymous, |_, body| {
                Organization::from_json(body, allow_insecure).map_err(|reason| OktaError::Malformed {
                    path: path_and_query(&url),
                    reason,
                })
            })
            .await?;
        self.allow_origin(&org.domain);
        if let Some(alternate) = &org.alternate {
            self.allow_origin(alternate);
        }
        Ok(org)
    }

    /// The first page of `GET /api/v1/users`. Any `filter` (or none) is passed
    /// as is; note that only a filtered listing includes DEPROVISIONED users.
    pub fn users_url(&self, filter: Option<&str>, limit: u32) -> Url {
        let mut url = self.inner.org.join("/api/v1/users");
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("limit", &limit.to_string());
            if let Some(filter) = filter {
                query.append_pair("filter", filter);
            }
        }
        url
    }

    /// The first page of `GET /api/v1/groups`, with member counts when
    /// `expand_stats` (so empty groups need no member chain).
    pub fn groups_url(&self, filter: Option<&str>, expand_stats: bool, limit: u32) -> Url {
        let mut url = self.inner.org.join("/api/v1/groups");
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("limit", &limit.to_string());
            if let Some(filter) = filter {
                query.append_pair("filter", filter);
            }
            if expand_stats {
                query.append_pair("expand", "stats");
            }
        }
        url
    }

    /// The first page of `GET /api/v1/groups/{id}/users`.
    pub fn group_members_url(&self, group_id: &str, limit: u32) -> Url {
        let mut url = self.inner.org.join("/api/v1/groups");
        push_segments(&mut url, &[group_id, "users"]);
        url.query_pairs_mut().append_pair("limit", &limit.to_string());
        url
    }

    /// One page of users (from [`OktaClient::users_url`] or a `next` link).
    pub async fn users_page(&self, url: &Url) -> Result<Page<User>, OktaError> {
        self.page(url).await
    }

    /// One page of groups (from [`OktaClient::groups_url`] or a `next` link).
    pub async fn groups_page(&self, url: &Url) -> Result<Page<Group>, OktaError> {
        self.page(url).await
    }

    /// One page of a group's members.
    pub async fn group_members_page(&self, url: &Url) -> Result<Page<User>, OktaError> {
        self.page(url).await
    }

    /// `GET /api/v1/users/{id}`; `None` when Okta answers 404 `E0000007`
    /// (the user was deleted), which is what the sweep needs to confirm a
    /// deletion. A 404 without Okta's body is an error, not a proof.
    pub async fn get_user(&self, id: &str) -> Result<Option<User>, OktaError> {
        self.get_by_id("/api/v1/users", id).await
    }

    /// `GET /api/v1/groups/{id}`; `None` when Okta answers 404 `E0000007`.
    pub async fn get_group(&self, id: &str) -> Result<Option<Group>, OktaError> {
        self.get_by_id("/api/v1/groups", id).await
    }

    async fn get_by_id<T: DeserializeOwned>(&self, collection: &str, id: &str) -> Result<Option<T>, OktaError> {
        let mut url = self.inner.org.join(collection);
        push_segments(&mut url, &[id]);
        match self
            .fetch(&url, Auth::Token, |_, body| parse_json::<T>(&url, body))
            .await
        {
            Ok(found) => Ok(Some(found)),
            Err(err) if err.is_okta_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn page<T: DeserializeOwned>(&self, url: &Url) -> Result<Page<T>, OktaError> {
        self.page_of(url, Chain::Collection).await
    }

    pub(super) async fn page_of<T: DeserializeOwned>(&self, url: &Url, chain: Chain) -> Result<Page<T>, OktaError> {
        self.fetch(url, Auth::Token, |headers, body| {
            let items = parse_json::<Vec<T>>(url, body)?;
            self.check_page_size(url, items.len())?;
            let next = self.next_link(url, headers, chain)?;
            Ok(Page { items, next })
        })
        .await
    }

    /// Okta never sends more items than the URL's `limit` asks for; a page
    /// whose URL has none is capped by `max_page_items`.
    fn check_page_size(&self, url: &Url, items: usize) -> Result<(), OktaError> {
        let (limit, limit_from_url) = match link::requested_limit(url) {
            Some(limit) => (limit, true),
            None => (u64::from(self.inner.config.max_page_items), false),
        };
        if u64::try_from(items).unwrap_or(u64::MAX) <= limit {
            return Ok(());
        }
        Err(OktaError::TooManyItems {
            path: path_and_query(url),
            items,
            limit,
            limit_from_url,
        })
    }

    /// The `next` link, resolved against the page's URL and refused unless it
    /// stays on the tenant's origins: it is checkpointed and later fetched
    /// with the token, so it is checked before anyone can store it. A link
    /// back to the page itself is refused too (the chain would never end),
    /// except when polling the System Log.
    fn next_link(&self, page: &Url, headers: &HeaderMap, chain: Chain) -> Result<Option<Url>, OktaError> {
        let Some(target) = link::next_from_headers(headers) else {
            return Ok(None);
        };
        let next = page.join(&target).map_err(|e| OktaError::Malformed {
            path: path_and_query(page),
            reason: format!("invalid next link: {e}"),
        })?;
        self.check_origin(&next)?;
        if chain == Chain::Collection && link::same_page(page, &next) {
            return Err(OktaError::LoopingLink {
                path: path_and_query(page),
            });
        }
        Ok(Some(next))
    }
}

/// How a chain of pages ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chain {
    /// A collection: the last page has no `next`; a `next` to the page
    /// itself would never end (`LoopingLink`).
    Collection,
    /// The System Log polled without `until`: every page has a `next`, and
    /// when no event came it is the page itself (Okta keeps the same
    /// `after`), to be asked again later.
    Polling,
}

fn parse_json<T: DeserializeOwned>(url: &Url, body: &[u8]) -> Result<T, OktaError> {
    serde_json::from_slice(body).map_err(|e| OktaError::Malformed {
        path: path_and_query(url),
        reason: e.to_string(),
    })
}

/// Appends percent-encoded path segments (ids and logins may hold `@`, `/`).
fn push_segments(url: &mut Url, segments: &[&str]) {
    if let Ok(mut path) = url.path_segments_mut() {
        path.extend(segments);
    }
}
