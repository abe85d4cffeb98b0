//! Client settings, readable from our TOML config (`[okta]`).

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::error::OktaError;

/// Default of [`ClientConfig::max_response_bytes`]: 32 MiB. A page of 200
/// users with large custom profiles is a few MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;

/// Settings of one tenant's client. Every key has a default; durations are
/// written as `"30s"`, `"250ms"`, `"2m"` or a number of seconds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// Whole-request deadline, body included: a body trickled a byte at a
    /// time ends here too, as a retryable `Transient` timeout.
    #[serde(with = "human_duration")]
    pub request_timeout: Duration,
    /// TCP + TLS connect deadline.
    #[serde(with = "human_duration")]
    pub connect_timeout: Duration,
    /// `User-Agent` sent to Okta (Okta support asks for it in tickets).
    pub user_agent: String,
    /// Retries after a transient failure (5xx, timeout, reset, bad body).
    pub max_retries: u32,
    /// First backoff delay; doubles, with jitter, up to `retry_max_delay`.
    #[serde(with = "human_duration")]
    pub retry_min_delay: Duration,
    #[serde(with = "human_duration")]
    pub retry_max_delay: Duration,
    /// Retries after DNS failure or connection refused. Small: a wrong
    /// instance URL should fail fast, a blip should not fail a run.
    pub unreachable_retries: u32,
    /// Retries after a 429, each after waiting for the window's reset.
    pub max_rate_limit_retries: u32,
    /// Share of the org's documented limits this token may use until Okta's
    /// headers say otherwise (Okta's default per-token share is 50%).
    pub token_share: f64,
    /// Share of each window's budget left unused for the customer's other
    /// integrations: requests of a family wait for the reset once
    /// `remaining` falls to this share of `limit`.
    pub reserve: f64,
    /// Requests in flight at once for this org (Okta's cap is 75 on paid
    /// orgs, 35 on free ones, shared with the customer's other tools).
    pub max_concurrency: u32,
    /// Random extra wait added after a reset, so that chains waiting for the
    /// same reset do not all fire in the same millisecond.
    #[serde(with = "human_duration")]
    pub rate_limit_jitter: Duration,
    /// Upper bound on one wait for a reset, in case a header is nonsense.
    #[serde(with = "human_duration")]
    pub max_rate_limit_wait: Duration,
    /// Largest response body read, in bytes (error bodies too). A larger
    /// `Content-Length` is refused before the body is read; a body without
    /// one is read in chunks and dropped as soon as it passes the cap, so no
    /// more than this is ever buffered. [`OktaError::TooLarge`], not retried.
    pub max_response_bytes: u64,
    /// Most items accepted on a page whose URL has no usable `limit`
    /// parameter (a page whose URL has one may hold at most `limit` items:
    /// Okta never sends more than asked). [`OktaError::TooManyItems`], not
    /// retried.
    pub max_page_items: u32,
    /// A proxy for every request, `http://[user:password@]host:port`. Unset
    /// (the default), no proxy is used: `HTTP_PROXY`, `HTTPS_PROXY`,
    /// `ALL_PROXY` and the system's settings are ignored. Through a proxy
    /// the proxy resolves the org's name, so the non-public-address guard
    /// cannot see where it connects (IP-literal URLs are still checked).
    pub proxy: Option<ProxyUrl>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("dirsync/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_retries: 4,
            retry_min_delay: Duration::from_millis(250),
            retry_max_delay: Duration::from_secs(10),
            unreachable_retries: 2,
            max_rate_limit_retries: 5,
            token_share: 0.5,
            reserve: 0.1,
            max_concurrency: 8,
            rate_limit_jitter: Duration::from_secs(1),
            max_rate_limit_wait: Duration::from_secs(120),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_page_items: 10_000,
            proxy: None,
        }
    }
}

impl ClientConfig {
    /// Checks ranges; the error names the key.
    pub fn validate(&self) -> Result<(), OktaError> {
        let fail = |key, reason| Err(OktaError::InvalidConfig { key, reason });
        if self.request_timeout.is_zero() {
            return fail("request_timeout", "must be greater than zero");
        }
        if self.connect_timeout.is_zero() {
            return fail("connect_timeout", "must be greater than zero");
        }
        if self.retry_min_delay > self.retry_max_delay {
            return fail("retry_min_delay", "must not exceed retry_max_delay");
        }
        if !(self.token_share > 0.0 && self.token_share <= 1.0) {
            return fail("token_share", "must be in (0, 1]");
        }
        if !(0.0..1.0).contains(&self.reserve) {
            return fail("reserve", "must be in [0, 1)");
        }
        if !(1..=75).contains(&self.max_concurrency) {
            return fail("max_concurrency", "must be between 1 and 75");
        }
        if self.max_response_bytes < MIN_RESPONSE_BYTES {
            return fail("max_response_bytes", "must be at least 1024 (1 KiB)");
        }
        if usize::try_from(self.max_response_bytes).is_err() {
            return fail("max_response_bytes", "must fit in this machine's memory addresses");
        }
        if self.max_page_items == 0 {
            return fail("max_page_items", "must be greater than zero");
        }
        Ok(())
    }
}

/// Smallest accepted `max_response_bytes`: an Okta error body fits in it.
const MIN_RESPONSE_BYTES: u64 = 1024;

/// An explicit proxy URL (`ClientConfig::proxy`): `http` or `https`, with a
/// host, optionally with credentials. Its `Debug` hides the password.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ProxyUrl(Url);

impl ProxyUrl {
    /// Parses `http://[user:password@]host:port` (or `https://`).
    pub fn parse(input: &str) -> Result<Self, OktaError> {
        let invalid = || OktaError::InvalidConfig {
            key: "proxy",
            reason: "must be an http:// or https:// URL with a host, e.g. http://proxy.internal:3128",
        };
        let url = Url::parse(input.trim()).map_err(|_| invalid())?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(invalid());
        }
        Ok(Self(url))
    }

    /// The URL, credentials included: pass it only to the HTTP client.
    pub fn as_url(&self) -> &Url {
        &self.0
    }
}

impl TryFrom<String> for ProxyUrl {
    type Error = OktaError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.0.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("[REDACTED]"));
        }
        write!(f, "ProxyUrl({shown})")
    }
}

/// `"30s"`, `"250ms"`, `"2m"`, `"1h"` or a number of seconds.
pub(crate) mod human_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, de::Error};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(f64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Seconds(secs) => Duration::try_from_secs_f64(secs).map_err(D::Error::custom),
            Raw::Text(text) => parse(&text).ok_or_else(|| {
                D::Error::custom(format!(
                    "invalid duration {text:?}: use e.g. \"250ms\", \"30s\", \"2m\", \"1h\""
                ))
            }),
        }
    }

    pub fn parse(text: &str) -> Option<Duration> {
        let text = text.trim();
        let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (number, unit) = text.split_at(split);
        let number: f64 = number.parse().ok()?;
        let secs = match unit.trim() {
            "ms" => number / 1000.0,
            "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            _ => return None,
        };
        Duration::try_from_secs_f64(secs).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        ClientConfig::default().validate().unwrap();
    }

    #[test]
    fn partial_config_fills_defaults_and_reads_human_durations() {
        let config: ClientConfig = serde_json::from_str(
            r#"{"request_timeout":"45s","connect_timeout":2.5,"retry_min_delay":"100ms","max_retries":2}"#,
        )
        .unwrap();
        assert_eq!(config.request_timeout, Duration::from_secs(45));
        assert_eq!(config.connect_timeout, Duration::from_millis(2500));
        assert_eq!(config.retry_min_delay, Duration::from_millis(100));
        assert_eq!(config.max_retries, 2);
        assert_eq!(config.user_agent, ClientConfig::default().user_agent);
    }

    #[test]
    fn unknown_keys_and_bad_durations_are_refused() {
        assert!(serde_json::from_str::<ClientConfig>(r#"{"max_retry":2}"#).is_err());
        let err = serde_json::from_str::<ClientConfig>(r#"{"request_timeout":"soon"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid duration"), "{err}");
    }

    #[test]
    fn durations_parse_in_every_unit() {
        use human_duration::parse;
        assert_eq!(parse("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse("10"), None, "a bare number must be a JSON/TOML number");
        assert_eq!(parse("s"), None);
    }

    #[test]
    fn caps_have_defaults_and_are_validated() {
        let defaults = ClientConfig::default();
        assert_eq!(defaults.max_response_bytes, 32 * 1024 * 1024);
        assert_eq!(defaults.max_page_items, 10_000);
        assert_eq!(defaults.proxy, None);
        for (config, key) in [
            (
                ClientConfig {
                    max_response_bytes: 1023,
                    ..ClientConfig::default()
                },
                "`max_response_bytes`",
            ),
            (
                ClientConfig {
                    max_page_items: 0,
                    ..ClientConfig::default()
                },
                "`max_page_items`",
            ),
        ] {
            let err = config.validate().unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
        let config: ClientConfig =
            serde_json::from_str(r#"{"max_response_bytes":1048576,"max_page_items":500}"#).unwrap();
        assert_eq!((config.max_response_bytes, config.max_page_items), (1_048_576, 500));
        config.validate().unwrap();
    }

    #[test]
    fn a_proxy_is_an_http_url_whose_password_is_never_printed() {
        let config: ClientConfig =
            serde_json::from_str(r#"{"proxy":"http://svc:pa55word@proxy.internal:3128"}"#).unwrap();
        let proxy = config.proxy.as_ref().unwrap();
        assert_eq!(proxy.as_url().as_str(), "http://svc:pa55word@proxy.internal:3128/");
        let debug = format!("{config:?}");
        assert!(!debug.contains("pa55word"), "{debug}");
        assert!(debug.contains("proxy.internal:3128"), "{debug}");
        config.validate().unwrap();

        for bad in [
            "socks5://proxy.internal:1080",
            "proxy.internal:3128",
            "http://",
            "not a url",
        ] {
            let json = format!(r#"{{"proxy":"{bad}"}}"#);
            let err = serde_json::from_str::<ClientConfig>(&json).unwrap_err().to_string();
            assert!(err.contains("`proxy`"), "{bad}: {err}");
        }
    }

    #[test]
    fn validation_names_the_key() {
        let config = ClientConfig {
            reserve: 1.0,
            ..ClientConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert!(err.to_string().contains("`reserve`"), "{err}");
    }
}
