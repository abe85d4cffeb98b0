//! Client settings, readable from our TOML config (`[okta]`).

use std::time::Duration;

use serde::Deserialize;

use crate::error::OktaError;

/// Settings of one tenant's client. Every key has a default; durations are
/// written as `"30s"`, `"250ms"`, `"2m"` or a number of seconds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// Whole-request deadline, body included.
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
        Ok(())
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
    fn validation_names_the_key() {
        let config = ClientConfig {
            reserve: 1.0,
            ..ClientConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert!(err.to_string().contains("`reserve`"), "{err}");
    }
}
