//! `Link` header parsing (RFC 8288), just enough for Okta's pagination.
//!
//! Okta sends one `Link` field per relation (`self`, then `next`), so the
//! first field alone is usually `self`: every field must be read. Proxies and
//! some recorders fold repeated fields into one, comma-separated: both forms
//! are handled.

use reqwest::header::{HeaderMap, LINK};
use url::Url;

/// The target of the `rel="next"` link among all `Link` fields, verbatim.
/// Fields that are not valid UTF-8 are skipped.
pub fn next_from_headers(headers: &HeaderMap) -> Option<String> {
    next_from_values(headers.get_all(LINK).iter().filter_map(|value| value.to_str().ok()))
}

/// The target of the `rel="next"` link among raw `Link` field values.
pub fn next_from_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    values
        .into_iter()
        .flat_map(parse_links)
        .find(|link| link.has_rel("next"))
        .map(|link| link.target.to_owned())
}

/// The page size a URL asks for: its `limit` query parameter (the smallest,
/// if it is repeated). `None` when it has none, or none that is a positive
/// integer; the client then caps the page at `max_page_items`.
pub fn requested_limit(url: &Url) -> Option<u64> {
    url.query_pairs()
        .filter(|(name, _)| name == "limit")
        .filter_map(|(_, value)| value.trim().parse::<u64>().ok())
        .filter(|&limit| limit > 0)
        .min()
}

/// Whether two URLs request the same page: same origin and path, and the
/// same query parameters in any order (fragments are never sent).
pub fn same_page(a: &Url, b: &Url) -> bool {
    if a.origin() != b.origin() || a.path() != b.path() {
        return false;
    }
    let sorted = |url: &Url| {
        let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        pairs.sort();
        pairs
    };
    sorted(a) == sorted(b)
}

/// One link-value: `<target>; param; param`.
#[derive(Debug, PartialEq, Eq)]
struct LinkValue<'a> {
    target: &'a str,
    rel: Option<String>,
}

impl LinkValue<'_> {
    /// `rel` may hold several space-separated relation types, compared
    /// case-insensitively (RFC 8288 §3.3).
    fn has_rel(&self, wanted: &str) -> bool {
        self.rel
            .as_deref()
            .is_some_and(|rel| rel.split_ascii_whitespace().any(|r| r.eq_ignore_ascii_case(wanted)))
    }
}

/// Splits one field into link-values. Commas inside `<...>` or inside quoted
/// parameter values do not separate links (targets may contain commas).
fn parse_links(field: &str) -> Vec<LinkValue<'_>> {
    let mut links = Vec::new();
    let mut rest = field;
    while let Some(open) = rest.find('<') {
        let after_open = &rest[open + 1..];
        let Some(close) = after_open.find('>') else {
            break;
        };
        let target = after_open[..close].trim();
        let params_start = &after_open[close + 1..];
        let params_len = params_end(params_start);
        let rel = find_rel(&params_start[..params_len]);
        links.push(LinkValue { target, rel });
        rest = &params_start[params_len..];
    }
    links
}

/// Length of the parameter section: up to the first comma outside quotes.
fn params_end(params: &str) -> usize {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in params.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => return i,
            _ => {}
        }
    }
    params.len()
}

/// The value of the `rel` parameter, quoted or not.
fn find_rel(params: &str) -> Option<String> {
    params.split(';').find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("rel") {
            return None;
        }
        let value = value.trim();
        let unquoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        Some(unquoted.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const SELF_LINK: &str = r#"<https://acme.okta.com/api/v1/users?limit=200>; rel="self""#;
    const NEXT_LINK: &str = r#"<https://acme.okta.com/api/v1/users?after=00u2&limit=200>; rel="next""#;

    #[test]
    fn next_is_found_in_the_second_of_two_fields() {
        let mut headers = HeaderMap::new();
        headers.append(LINK, HeaderValue::from_static(SELF_LINK));
        headers.append(LINK, HeaderValue::from_static(NEXT_LINK));
        assert_eq!(
            next_from_headers(&headers).as_deref(),
            Some("https://acme.okta.com/api/v1/users?after=00u2&limit=200")
        );
    }

    #[test]
    fn next_is_found_in_one_comma_separated_field() {
        let folded = format!("{SELF_LINK}, {NEXT_LINK}");
        let mut headers = HeaderMap::new();
        headers.insert(LINK, HeaderValue::from_str(&folded).unwrap());
        assert_eq!(
            next_from_headers(&headers).as_deref(),
            Some("https://acme.okta.com/api/v1/users?after=00u2&limit=200")
        );
    }

    #[test]
    fn only_self_means_the_chain_ended() {
        assert_eq!(next_from_values([SELF_LINK]), None);
        assert_eq!(next_from_values([]), None);
        assert_eq!(next_from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn commas_inside_targets_and_quotes_do_not_split() {
        let field = r#"<https://a.okta.com/api/v1/users?search=x,y>; title="a, b"; rel="self", <https://a.okta.com/api/v1/users?after=1,2>; rel=next"#;
        assert_eq!(
            next_from_values([field]).as_deref(),
            Some("https://a.okta.com/api/v1/users?after=1,2")
        );
    }

    #[test]
    fn rel_is_case_insensitive_and_may_list_several_types() {
        assert_eq!(
            next_from_values([r#"<https://x/next>; REL="prefetch NEXT""#]).as_deref(),
            Some("https://x/next")
        );
        assert_eq!(next_from_values([r#"<https://x/n>; rel="nextpage""#]), None);
    }

    #[test]
    fn the_requested_limit_is_the_smallest_positive_integer_given() {
        let limit = |url: &str| requested_limit(&Url::parse(url).unwrap());
        assert_eq!(limit("https://a.okta.com/api/v1/users?limit=200&after=x"), Some(200));
        assert_eq!(limit("https://a.okta.com/api/v1/users?limit=500&limit=2"), Some(2));
        assert_eq!(limit("https://a.okta.com/api/v1/users?limit=abc&limit=7"), Some(7));
        assert_eq!(limit("https://a.okta.com/api/v1/users?after=x"), None);
        assert_eq!(limit("https://a.okta.com/api/v1/users?limit=0"), None);
        assert_eq!(limit("https://a.okta.com/api/v1/users?limit=-1"), None);
        assert_eq!(limit("https://a.okta.com/api/v1/users?Limit=1"), None);
    }

    #[test]
    fn same_page_ignores_query_order_and_fragments_only() {
        let url = |s: &str| Url::parse(s).unwrap();
        let page = url("https://a.okta.com/api/v1/users?after=00u2&limit=2");
        assert!(same_page(
            &page,
            &url("https://a.okta.com/api/v1/users?limit=2&after=00u2")
        ));
        assert!(same_page(
            &page,
            &url("https://a.okta.com:443/api/v1/users?after=00u2&limit=2#x")
        ));
        assert!(!same_page(
            &page,
            &url("https://a.okta.com/api/v1/users?after=00u3&limit=2")
        ));
        assert!(!same_page(
            &page,
            &url("https://a.okta.com/api/v1/groups?after=00u2&limit=2")
        ));
        assert!(!same_page(
            &page,
            &url("https://b.okta.com/api/v1/users?after=00u2&limit=2")
        ));
        assert!(!same_page(&page, &url("https://a.okta.com/api/v1/users?after=00u2")));
    }

    #[test]
    fn garbage_yields_nothing_rather_than_panicking() {
        for field in ["", "<", "<https://x", "rel=next", ">;<", "<a>; rel"] {
            assert_eq!(next_from_values([field]), None, "{field}");
        }
    }
}
