//! The org changing under a running sync: one-shot changes that run just
//! before the simulator serves a chosen request.
//!
//! A change between two syncs is `OktaSim::with_org`; a change *during*
//! one has to land between two particular requests of the client (a group
//! deleted right before its first member page, users moving between pages
//! of a listing), which a test cannot time from outside. A hook waits for
//! the `nth` request that its `RequestMatch` accepts, then runs once, under
//! the org's write lock, before that request is answered, so the request
//! already sees the change.
//!
//! Only requests that reach the org count: those the token check, the rate
//! limits and the faults let through (a retried page counts again). Hooks
//! do not cross processes, so the admin surface has no route for them.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{OriginalUri, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::org::Org;
use crate::server::Shared;

type Predicate = dyn Fn(&str) -> bool + Send + Sync;
type Change = Box<dyn FnOnce(&mut Org) + Send>;

/// Which request a hook registered with `OktaSim::on_request` fires on:
/// the `nth` (1 by default) request, counted from registration, whose path
/// and query as requested (`/api/v1/users?after=00u…&limit=200`) satisfy a
/// predicate.
///
/// ```
/// use dirsync_okta_sim::RequestMatch;
///
/// // The third page of the users listing (not `/api/v1/users/{id}`).
/// let third_page = RequestMatch::path("/api/v1/users").nth(3);
/// // Any request about one group: itself, or its members.
/// let group = RequestMatch::path_prefix("/api/v1/groups/00g1");
/// // Anything with a cursor.
/// let resumed = RequestMatch::when(|uri| uri.contains("after="));
/// # let _ = (third_page, group, resumed);
/// ```
#[derive(Clone)]
pub struct RequestMatch {
    predicate: Arc<Predicate>,
    nth: usize,
}

impl RequestMatch {
    /// Requests whose path and query (`/api/v1/groups?limit=200`, as the
    /// client sent them, still percent-encoded) satisfy `predicate`.
    pub fn when(predicate: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        RequestMatch {
            predicate: Arc::new(predicate),
            nth: 1,
        }
    }

    /// Requests for exactly this path, whatever their query.
    pub fn path(path: impl Into<String>) -> Self {
        let path = path.into();
        Self::when(move |uri| path_of(uri) == path)
    }

    /// Requests whose path starts with `prefix`, whatever their query.
    pub fn path_prefix(prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        Self::when(move |uri| path_of(uri).starts_with(&prefix))
    }

    /// Fires on the `n`-th matching request instead of the first (`0`
    /// counts as `1`).
    pub fn nth(mut self, n: usize) -> Self {
        self.nth = n.max(1);
        self
    }

    fn matches(&self, uri: &str) -> bool {
        (self.predicate)(uri)
    }
}

impl fmt::Debug for RequestMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestMatch")
            .field("nth", &self.nth)
            .finish_non_exhaustive()
    }
}

fn path_of(uri: &str) -> &str {
    uri.split_once('?').map_or(uri, |(path, _)| path)
}

struct Hook {
    matcher: RequestMatch,
    /// Matching requests seen so far.
    seen: usize,
    change: Change,
}

/// The hooks that have not fired yet, in registration order.
#[derive(Default)]
pub(crate) struct Hooks(Mutex<Vec<Hook>>);

impl Hooks {
    pub(crate) fn add(&self, matcher: RequestMatch, change: Change) {
        let hook = Hook {
            matcher,
            seen: 0,
            change,
        };
        self.lock().push(hook);
    }

    pub(crate) fn pending(&self) -> usize {
        self.lock().len()
    }

    /// Counts `uri` against every hook and takes out those now due.
    fn due(&self, uri: &str) -> Vec<Change> {
        let mut hooks = self.lock();
        if hooks.is_empty() {
            return Vec::new();
        }
        let mut due = Vec::new();
        let mut waiting = Vec::with_capacity(hooks.len());
        for mut hook in hooks.drain(..) {
            if hook.matcher.matches(uri) {
                hook.seen += 1;
            }
            if hook.seen >= hook.matcher.nth {
                due.push(hook.change);
            } else {
                waiting.push(hook);
            }
        }
        *hooks = waiting;
        due
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Hook>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Inside the token check: runs the changes due before this request is
/// handed to its route. The nested `/api/v1` router sees a shortened URI,
/// so the request's original one is matched.
pub(crate) async fn fire(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let uri = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri(), |original| &original.0);
    let target = uri.path_and_query().map_or_else(|| uri.path(), |pq| pq.as_str());
    let due = shared.hooks.due(target);
    if !due.is_empty() {
        let mut org = shared.org_mut();
        for change in due {
            change(&mut org);
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_is_due_on_its_nth_match_and_only_once() {
        let hooks = Hooks::default();
        hooks.add(RequestMatch::path("/api/v1/users").nth(2), Box::new(|_| {}));
        hooks.add(RequestMatch::path_prefix("/api/v1/groups/"), Box::new(|_| {}));

        assert_eq!(hooks.due("/api/v1/users?limit=2").len(), 0);
        assert_eq!(hooks.due("/api/v1/users/00u1").len(), 0, "not the listing");
        assert_eq!(hooks.due("/api/v1/groups?limit=5").len(), 0, "not under groups/");
        assert_eq!(hooks.due("/api/v1/users?after=00u2&limit=2").len(), 1);
        assert_eq!(hooks.pending(), 1);
        assert_eq!(hooks.due("/api/v1/groups/00g1/users").len(), 1);
        assert_eq!(hooks.due("/api/v1/groups/00g1/users").len(), 0);
        assert_eq!(hooks.pending(), 0);
    }
}
