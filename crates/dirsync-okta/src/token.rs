//! The tenant's Okta API token.

use std::fmt;

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::error::OktaError;

/// An Okta API token (sent as `Authorization: SSWS <token>`).
///
/// `Debug` and `Display` print `[REDACTED]`; the secret is exposed in exactly
/// one place, the crate-private `authorization()`, which builds the header value and
/// marks it sensitive so that hyper and reqwest never print it either.
#[derive(Clone)]
pub struct ApiToken(SecretString);

impl ApiToken {
    /// Wraps a token. Leading and trailing whitespace is dropped because a
    /// token pasted from Okta's admin console often carries a newline.
    pub fn new(token: impl Into<String>) -> Self {
        let token: String = token.into();
        let trimmed = token.trim();
        if trimmed.len() == token.len() {
            Self(SecretString::from(token))
        } else {
            Self(SecretString::from(trimmed))
        }
    }

    /// Builds `SSWS <token>` as a sensitive header value.
    ///
    /// Fails when the token is empty or holds characters that cannot travel in
    /// a header; the error names neither.
    pub(crate) fn authorization(&self) -> Result<HeaderValue, OktaError> {
        let secret = self.0.expose_secret();
        let valid = !secret.is_empty() && secret.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(OktaError::InvalidConfig {
                key: "api_token",
                reason: "the token is empty or contains characters not allowed in an HTTP header",
            });
        }
        let mut value = HeaderValue::try_from(format!("SSWS {secret}")).map_err(|_| OktaError::InvalidConfig {
            key: "api_token",
            reason: "the token cannot be sent in an HTTP header",
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// The token itself, for [`scrub_secret`] over several secrets at once.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Replaces every occurrence of `secret` in `text` by `[REDACTED]`: for the
/// API token, an access token or a client assertion alike.
///
/// Error texts are built from server-supplied strings (serde messages quote
/// values, Okta summaries echo input): scrubbing them keeps the promise
/// that no error ever shows a secret, even if a server echoes it.
pub(crate) fn scrub_secret(secret: &str, text: &mut String) {
    if !secret.is_empty() && text.contains(secret) {
        *text = text.replace(secret, "[REDACTED]");
    }
}

impl From<SecretString> for ApiToken {
    fn from(secret: SecretString) -> Self {
        Self::new(secret.expose_secret())
    }
}

impl<'de> serde::Deserialize<'de> for ApiToken {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let secret = SecretString::deserialize(deserializer)?;
        Ok(Self::from(secret))
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken([REDACTED])")
    }
}

impl fmt::Display for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "00abcDEFghiJKLmnoPQRstuVWXyz0123456789ab";

    #[test]
    fn debug_and_display_never_show_the_token() {
        let token = ApiToken::new(SECRET);
        assert_eq!(format!("{token:?}"), "ApiToken([REDACTED])");
        assert_eq!(format!("{token}"), "[REDACTED]");
        assert!(!format!("{token:#?}").contains(SECRET));
    }

    #[test]
    fn authorization_header_is_sensitive_and_debug_hides_it() {
        let value = ApiToken::new(format!("  {SECRET}\n")).authorization().unwrap();
        assert!(value.is_sensitive());
        assert_eq!(value.to_str().unwrap(), format!("SSWS {SECRET}"));
        assert!(!format!("{value:?}").contains(SECRET));
    }

    #[test]
    fn a_token_with_inner_whitespace_is_refused_without_echoing_it() {
        let err = ApiToken::new("abc def").authorization().unwrap_err();
        assert!(!err.to_string().contains("abc"));
        assert!(!format!("{err:?}").contains("abc def"));
        assert!(ApiToken::new("   ").authorization().is_err());
    }

    #[test]
    fn scrub_removes_every_occurrence() {
        let token = ApiToken::new(SECRET);
        let mut text = format!("a {SECRET} b {SECRET}");
        scrub_secret(token.expose(), &mut text);
        assert_eq!(text, "a [REDACTED] b [REDACTED]");
    }
}
