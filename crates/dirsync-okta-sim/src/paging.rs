//! Cursor pagination the way Okta does it: `limit` (clamped to the
//! endpoint's maximum), `after` = the id of the last item of the previous
//! page, and one `Link` header field per relation (`self`, then `next` when
//! more remain), each an absolute URL on the host the client called.
//!
//! Okta rebuilds the query string rather than echoing it: `after` first,
//! then `limit` (always present, even when the client left it out), then
//! the endpoint's other parameters; unknown ones (`sortOrder=0`) are
//! dropped. See the recordings: `?limit=200&filter=type+eq+%22BUILT_IN%22`,
//! `?after=00uvo7s8abwP37lV81d7&limit=1&search=…`.

use axum::http::HeaderValue;
use url::form_urlencoded;

use crate::errors::OktaError;

/// The parsed query string of a list request.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Query {
        let pairs = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Query { pairs }
    }

    /// The first value of `key`; a present but empty value counts as absent,
    /// as it does for Okta (`?filter=` lists everything).
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// `limit`, defaulted and clamped; zero or negative falls back to the
    /// default rather than returning an empty page.
    pub(crate) fn limit(&self, default: usize, max: usize) -> Result<usize, OktaError> {
        match self.get("limit") {
            None => Ok(default),
            Some(raw) => match raw.trim().parse::<i64>() {
                Ok(n) if n <= 0 => Ok(default),
                Ok(n) => Ok(usize::try_from(n).unwrap_or(max).min(max)),
                Err(_) => Err(OktaError::validation("limit")),
            },
        }
    }
}

/// Builds the `Link` header values for one page.
pub(crate) struct Links<'a> {
    /// `http://host:port`
    pub(crate) origin: &'a str,
    /// `/api/v1/users`
    pub(crate) path: &'a str,
    pub(crate) after: Option<&'a str>,
    pub(crate) limit: usize,
    /// The endpoint's other parameters as the client sent them, in Okta's
    /// order.
    pub(crate) kept: Vec<(&'static str, &'a str)>,
}

impl Links<'_> {
    fn url(&self, after: Option<&str>) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(after) = after {
            query.append_pair("after", after);
        }
        query.append_pair("limit", &self.limit.to_string());
        for (key, value) in &self.kept {
            query.append_pair(key, value);
        }
        format!("{}{}?{}", self.origin, self.path, query.finish())
    }

    /// `<…>; rel="self"` and, when `next_after` is set, `<…>; rel="next"`:
    /// two separate header fields, never one comma-joined field.
    pub(crate) fn header_values(&self, next_after: Option<&str>) -> Vec<HeaderValue> {
        let mut values = vec![format!("<{}>; rel=\"self\"", self.url(self.after))];
        if let Some(next) = next_after {
            values.push(format!("<{}>; rel=\"next\"", self.url(Some(next))));
        }
        values
            .into_iter()
            .filter_map(|v| HeaderValue::from_str(&v).ok())
            .collect()
    }
}

/// One page out of an id-sorted sequence: the items after the cursor that
/// pass `keep`, at most `limit`, and whether any more remain.
pub(crate) fn page<'a, T: 'a>(
    sorted: &'a [T],
    id: impl Fn(&T) -> &str,
    after: Option<&str>,
    limit: usize,
    keep: impl Fn(&T) -> bool,
) -> (Vec<&'a T>, bool) {
    let start = after.map_or(0, |a| sorted.partition_point(|t| id(t) <= a));
    let mut matching = sorted[start..].iter().filter(|t| keep(t));
    let items: Vec<&T> = matching.by_ref().take(limit).collect();
    let more = matching.next().is_some();
    (items, more)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_put_after_and_limit_first_and_encode_like_okta() {
        let links = Links {
            origin: "http://127.0.0.1:1",
            path: "/api/v1/groups",
            after: None,
            limit: 200,
            kept: vec![("filter", r#"type eq "BUILT_IN""#)],
        };
        let values = links.header_values(Some("00gabc"));
        assert_eq!(
            values[0],
            r#"<http://127.0.0.1:1/api/v1/groups?limit=200&filter=type+eq+%22BUILT_IN%22>; rel="self""#
        );
        assert_eq!(
            values[1],
            r#"<http://127.0.0.1:1/api/v1/groups?after=00gabc&limit=200&filter=type+eq+%22BUILT_IN%22>; rel="next""#
        );
    }

    #[test]
    fn page_resumes_after_the_cursor_and_reports_more() {
        let ids = ["a", "b", "c", "d", "e"];
        let (items, more) = page(&ids, |s| s, Some("b"), 2, |_| true);
        assert_eq!(items, [&"c", &"d"]);
        assert!(more);
        let (items, more) = page(&ids, |s| s, Some("d"), 2, |_| true);
        assert_eq!(items, [&"e"]);
        assert!(!more);
        // A cursor that no longer exists (deleted) still resumes in order.
        let (items, _) = page(&ids, |s| s, Some("bb"), 10, |_| true);
        assert_eq!(items, [&"c", &"d", &"e"]);
    }

    #[test]
    fn limit_defaults_and_clamps() {
        assert_eq!(Query::parse(None).limit(200, 200).unwrap(), 200);
        assert_eq!(Query::parse(Some("limit=500")).limit(200, 200).unwrap(), 200);
        assert_eq!(Query::parse(Some("limit=5")).limit(200, 200).unwrap(), 5);
        assert!(Query::parse(Some("limit=abc")).limit(200, 200).is_err());
    }
}
