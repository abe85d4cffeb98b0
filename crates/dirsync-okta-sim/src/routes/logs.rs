//! `GET /api/v1/logs`, the System Log (`syslog/`), in Okta's two modes.
//!
//! **Polling** (no `until`, ascending): the response always carries a
//! `rel="next"` link, even when the page is empty, whose `after` cursor
//! continues right after the last event this response covered, so a
//! consumer that follows it forever sees every event once, however the
//! org changes between its requests. **Bounded** (`until` given, or
//! `sortOrder=DESCENDING`): `next` only while more events remain.
//!
//! `since` and `until` bound `published` (since inclusive, until
//! exclusive); `since` defaults to 7 days before `until` (the spec's
//! "7 days prior to until"), `until` to now on Okta's clock. The cursor
//! counts positions in persistence order, so events published in the same
//! millisecond keep their order and none is skipped.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::{Origin, kept, page_response, to_json};
use crate::errors::OktaError;
use crate::paging::{Links, Query};
use crate::server::Shared;
use crate::syslog::filter::{self, LogExpr};
use crate::syslog::{LogEvent, LogTarget};
use crate::timestamp::{self, Millis};

/// Okta's default and maximum page sizes for the System Log.
const LOGS_PAGE: (usize, usize) = (100, 1000);
const DEFAULT_WINDOW: Millis = 7 * 24 * 60 * 60 * 1000;
/// `q`: at most 10 keywords of at most 40 characters each.
const MAX_KEYWORDS: usize = 10;
const MAX_KEYWORD_CHARS: usize = 40;

/// What one request asks for.
struct LogQuery {
    since: Millis,
    until: Option<Millis>,
    descending: bool,
    filter: Option<LogExpr>,
    keywords: Vec<String>,
}

impl LogQuery {
    fn parse(query: &Query, now: Millis) -> Result<LogQuery, OktaError> {
        let instant = |key: &str| {
            query
                .get(key)
                .map(|raw| timestamp::parse(raw).ok_or_else(|| OktaError::validation(key)))
                .transpose()
        };
        let until = instant("until")?;
        let since = instant("since")?.unwrap_or(until.unwrap_or(now) - DEFAULT_WINDOW);
        let descending = match query.get("sortOrder") {
            None | Some("ASCENDING") => false,
            Some("DESCENDING") => true,
            Some(_) => return Err(OktaError::validation("sortOrder")),
        };
        let filter = query.get("filter").map(filter::compile).transpose().map_err(|error| {
            tracing::debug!(%error, "okta-sim rejected a System Log filter");
            OktaError::invalid_search()
        })?;
        let keywords: Vec<String> = query
            .get("q")
            .map(|q| q.split_whitespace().map(str::to_lowercase).collect())
            .unwrap_or_default();
        if keywords.len() > MAX_KEYWORDS || keywords.iter().any(|k| k.chars().count() > MAX_KEYWORD_CHARS) {
            return Err(OktaError::validation("q"));
        }
        Ok(LogQuery {
            since,
            until,
            descending,
            filter,
            keywords,
        })
    }

    fn polling(&self) -> bool {
        self.until.is_none() && !self.descending
    }

    fn keeps(&self, event: &LogEvent, actor: &LogTarget) -> bool {
        event.published >= self.since
            && self.until.is_none_or(|until| event.published < until)
            && self.filter.as_ref().is_none_or(|f| f.matches(event, actor))
            && self.keywords.iter().all(|k| mentions(event, actor, k))
    }
}

/// `q` looks in the event type, the message and every name involved.
fn mentions(event: &LogEvent, actor: &LogTarget, keyword: &str) -> bool {
    let named = |t: &LogTarget| {
        [t.id.as_str(), t.alternate_id.as_str(), t.display_name.as_str()]
            .iter()
            .any(|s| s.to_lowercase().contains(keyword))
    };
    event.event_type.as_str().contains(keyword) || named(actor) || event.targets.iter().any(named)
}

/// The opaque `after`: a position in persistence order.
fn parse_cursor(raw: &str) -> Result<usize, OktaError> {
    raw.strip_prefix("sim")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| OktaError::validation("after"))
}

fn cursor(position: usize) -> String {
    format!("sim{position}")
}

pub(super) async fn list_logs(
    State(shared): State<Arc<Shared>>,
    Origin(origin): Origin,
    RawQuery(raw): RawQuery,
) -> Result<Response, OktaError> {
    let query = Query::parse(raw.as_deref());
    let now = timestamp::now().saturating_add(shared.clock_offset());
    let wanted = LogQuery::parse(&query, now)?;
    let limit = query.limit(LOGS_PAGE.0, LOGS_PAGE.1)?;
    let after = query.get("after").map(parse_cursor).transpose()?;
    let org = shared.org();
    let actor = org.admin_actor();
    let events = &org.system_log.events;
    let keep = |(_, e): &(usize, &LogEvent)| wanted.keeps(e, &actor);
    let (page, more, next): (Vec<&LogEvent>, bool, Option<usize>) = if wanted.descending {
        // Positions below the cursor, newest first; the cursor is the last
        // position returned.
        let end = after.unwrap_or(events.len()).min(events.len());
        let mut matching = events[..end].iter().enumerate().rev().filter(keep);
        let taken: Vec<(usize, &LogEvent)> = matching.by_ref().take(limit).collect();
        let more = matching.next().is_some();
        let next = taken.last().map(|(i, _)| *i);
        (taken.into_iter().map(|(_, e)| e).collect(), more, next)
    } else {
        let start = after.unwrap_or(0).min(events.len());
        let mut matching = events.iter().enumerate().skip(start).filter(keep);
        let taken: Vec<(usize, &LogEvent)> = matching.by_ref().take(limit).collect();
        let more = matching.next().is_some();
        // A full page continues after its last event; a short one covered
        // everything persisted so far.
        let next = match taken.last() {
            Some((i, _)) if taken.len() == limit => i + 1,
            _ => events.len().max(start),
        };
        (taken.into_iter().map(|(_, e)| e).collect(), more, Some(next))
    };
    let body = to_json(&page.iter().map(|e| e.to_json(&actor)).collect::<Vec<_>>())?;
    let links = Links {
        origin: &origin,
        path: "/api/v1/logs",
        after: query.get("after"),
        limit,
        kept: kept(&query, &["since", "until", "filter", "q", "sortOrder"]),
    };
    let next = next.filter(|_| wanted.polling() || more).map(cursor);
    Ok(page_response(body, links.header_values(next.as_deref()), page.len()))
}
