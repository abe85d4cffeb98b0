//! The System Log (`GET /api/v1/logs`) in polling mode: a chain that never
//! ends, read from a starting instant, in the order events were stored.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;

use super::endpoints::Chain;
use super::{OktaClient, Page};
use crate::error::OktaError;
use crate::log_event::LogEvent;

impl OktaClient {
    /// The first page of System Log events of `event_types` (all of them
    /// when empty) since `since`, oldest first, `limit` a page (Okta: at
    /// most 1000).
    ///
    /// Polling mode: no `until`, `sortOrder=ASCENDING`. Every page then has
    /// a `next`, so the chain never ends: the caller stores the `next` of
    /// the last page and asks it again later for what came since.
    pub fn first_log_page_url(&self, since: OffsetDateTime, event_types: &[&str], limit: u32) -> Url {
        let mut url = self.inner.org.join("/api/v1/logs");
        {
            let mut query = url.query_pairs_mut();
            // Okta reads milliseconds; Rfc3339 of a UTC instant always formats.
            let since = since
                .to_offset(time::UtcOffset::UTC)
                .replace_nanosecond(since.millisecond() as u32 * 1_000_000)
                .unwrap_or(since);
            query.append_pair("since", &since.format(&Rfc3339).unwrap_or_default());
            if !event_types.is_empty() {
                let filter: Vec<String> = event_types
                    .iter()
                    .map(|t| format!("eventType eq \"{}\"", t.replace('\\', "\\\\").replace('"', "\\\"")))
                    .collect();
                query.append_pair("filter", &filter.join(" or "));
            }
            query.append_pair("sortOrder", "ASCENDING");
            query.append_pair("limit", &limit.to_string());
        }
        url
    }

    /// One page of System Log events (from [`OktaClient::first_log_page_url`]
    /// or a `next` link). In polling mode `next` is always there, and is
    /// the page's own URL when no event came: it is returned all the same,
    /// to be asked again later.
    pub async fn log_page(&self, url: &Url) -> Result<Page<LogEvent>, OktaError> {
        self.page_of(url, Chain::Polling).await
    }
}
