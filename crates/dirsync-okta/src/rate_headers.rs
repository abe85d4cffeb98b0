//! Okta's `X-Rate-Limit-*` response headers, read against the `Date` header.

use std::time::Duration;

use reqwest::header::{DATE, HeaderMap};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

/// What one response said about its family's budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// `X-Rate-Limit-Limit`: requests allowed in the window (the token's share).
    pub limit: Option<u32>,
    /// `X-Rate-Limit-Remaining`: requests left in the window.
    pub remaining: Option<u32>,
    /// `X-Rate-Limit-Reset`: when the window resets, on Okta's clock.
    pub reset_at: Option<OffsetDateTime>,
    /// `Date`: Okta's clock when it answered.
    pub date: Option<OffsetDateTime>,
}

impl RateLimitHeaders {
    /// Reads the headers; a missing or unparsable value is `None`, never an
    /// error (the simulator, proxies and old recordings omit some).
    pub fn parse(headers: &HeaderMap) -> Self {
        let number = |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            limit: number("x-rate-limit-limit").map(clamp),
            remaining: number("x-rate-limit-remaining").map(clamp),
            reset_at: number("x-rate-limit-reset")
                .and_then(|secs| i64::try_from(secs).ok())
                .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok()),
            date: headers
                .get(DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_http_date),
        }
    }

    /// Whether any rate-limit header was present.
    pub fn is_present(&self) -> bool {
        self.limit.is_some() || self.remaining.is_some() || self.reset_at.is_some()
    }

    /// A 429 whose limit and remaining are both 0 is Okta's concurrency cap
    /// (too many requests in flight), not an exhausted per-minute budget.
    pub fn is_concurrency_limit(&self) -> bool {
        self.limit == Some(0) && self.remaining == Some(0)
    }

    /// How long until the window resets, measured on Okta's clock (`reset -
    /// Date`) so that skew between this host and Okta cancels out. Without a
    /// `Date` header the local clock stands in. `None` without a reset.
    pub fn until_reset(&self) -> Option<Duration> {
        let reset = self.reset_at?;
        let now = self.date.unwrap_or_else(OffsetDateTime::now_utc);
        let delta = reset - now;
        Some(delta.try_into().unwrap_or(Duration::ZERO))
    }
}

/// `Date: Thu, 11 Sep 2025 16:21:50 GMT` (RFC 9110 IMF-fixdate, a profile of
/// RFC 2822 that the `time` crate parses).
pub(crate) fn parse_http_date(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value.trim(), &Rfc2822).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn reads_the_recorded_429_headers_against_date() {
        // From the okta-sdk-python agent-pools cassette.
        let parsed = RateLimitHeaders::parse(&headers(&[
            ("date", "Thu, 11 Sep 2025 16:21:50 GMT"),
            ("x-rate-limit-limit", "10"),
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", "1757607758"),
        ]));
        assert_eq!(parsed.limit, Some(10));
        assert_eq!(parsed.remaining, Some(0));
        assert_eq!(parsed.reset_at.unwrap().unix_timestamp(), 1_757_607_758);
        assert_eq!(parsed.date.unwrap().unix_timestamp(), 1_757_607_710);
        assert_eq!(parsed.until_reset(), Some(Duration::from_secs(48)));
        assert!(!parsed.is_concurrency_limit());
    }

    #[test]
    fn a_reset_in_the_past_waits_zero() {
        let parsed = RateLimitHeaders::parse(&headers(&[
            ("date", "Thu, 11 Sep 2025 16:21:50 GMT"),
            ("x-rate-limit-reset", "1757607700"),
        ]));
        assert_eq!(parsed.until_reset(), Some(Duration::ZERO));
    }

    #[test]
    fn zero_limit_and_remaining_is_the_concurrency_cap() {
        let parsed = RateLimitHeaders::parse(&headers(&[
            ("x-rate-limit-limit", "0"),
            ("x-rate-limit-remaining", "0"),
        ]));
        assert!(parsed.is_concurrency_limit());
    }

    #[test]
    fn missing_or_garbage_headers_are_none() {
        let parsed = RateLimitHeaders::parse(&headers(&[("x-rate-limit-limit", "many"), ("date", "yesterday")]));
        assert_eq!(parsed, RateLimitHeaders::default());
        assert!(!parsed.is_present());
        assert_eq!(parsed.until_reset(), None);
    }
}
