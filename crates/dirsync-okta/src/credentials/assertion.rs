//! The client assertion (RFC 7523, Okta's `private_key_jwt`): a short-lived
//! JWT signed with the service app's key, exchanged for an access token.

use secrecy::SecretString;
use serde::Serialize;
use time::OffsetDateTime;
use url::Url;

use super::ServiceAppCredentials;
use crate::error::OktaError;

/// How long an assertion is valid. Okta refuses more than an hour; five
/// minutes leave room for a slow request and for clock skew that the
/// `Date` header did not reveal yet, while a leaked one is soon useless.
pub(crate) const ASSERTION_LIFETIME: time::Duration = time::Duration::minutes(5);

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

/// A fresh assertion for `token_url`, dated `now` on Okta's clock.
///
/// `aud` is exactly the token URL (Okta compares it as a string); `jti` is
/// a new UUID v4 each time, because Okta refuses a replayed one, so every
/// attempt (retries included) signs anew.
pub(crate) fn client_assertion(
    credentials: &ServiceAppCredentials,
    token_url: &Url,
    now: OffsetDateTime,
) -> Result<SecretString, OktaError> {
    let key = &credentials.key;
    let mut header = jsonwebtoken::Header::new(key.algorithm().jwt());
    header.kid = Some(key.kid().to_owned());
    let iat = now.unix_timestamp();
    let claims = Claims {
        iss: &credentials.client_id,
        sub: &credentials.client_id,
        aud: token_url.as_str(),
        iat,
        exp: iat + ASSERTION_LIFETIME.whole_seconds(),
        jti: uuid::Uuid::new_v4().to_string(),
    };
    let jwt = jsonwebtoken::encode(&header, &claims, &key.encoding_key()?).map_err(|_| OktaError::InvalidConfig {
        key: "service_app.private_key",
        reason: "the client assertion could not be signed with the private key",
    })?;
    Ok(SecretString::from(jwt))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation, jwk::Jwk};
    use secrecy::ExposeSecret;
    use serde::Deserialize;

    use super::*;
    use crate::credentials::{KeyAlgorithm, ServiceAppKey};

    #[derive(Debug, Deserialize)]
    struct Decoded {
        iss: String,
        sub: String,
        aud: String,
        iat: i64,
        exp: i64,
        jti: String,
    }

    fn decode(jwt: &str, key: &ServiceAppKey, aud: &str) -> (jsonwebtoken::Header, Decoded) {
        let jwk: Jwk = serde_json::from_value(key.public_jwk()).unwrap();
        let mut validation = Validation::new(key.algorithm().jwt());
        validation.set_audience(&[aud]);
        // The test dates assertions in the past on purpose.
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Decoded>(jwt, &DecodingKey::from_jwk(&jwk).unwrap(), &validation).unwrap();
        (data.header, data.claims)
    }

    #[test]
    fn an_assertion_verifies_with_the_public_jwk_and_carries_okta_claims() {
        let token_url = Url::parse("https://acme.okta.com/oauth2/v1/token").unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        for algorithm in [KeyAlgorithm::Es256, KeyAlgorithm::Rs256] {
            let credentials = ServiceAppCredentials::new("0oa1client", ServiceAppKey::generate(algorithm));
            let first = client_assertion(&credentials, &token_url, now).unwrap();
            let (header, claims) = decode(first.expose_secret(), &credentials.key, token_url.as_str());
            assert_eq!(header.alg, algorithm.jwt());
            assert_eq!(header.kid.as_deref(), Some(credentials.key.kid()));
            assert_eq!(claims.aud, "https://acme.okta.com/oauth2/v1/token");
            assert_eq!((claims.iss.as_str(), claims.sub.as_str()), ("0oa1client", "0oa1client"));
            assert_eq!(claims.iat, now.unix_timestamp());
            assert_eq!(claims.exp - claims.iat, 300, "five minutes, well under Okta's hour");
            assert_eq!(uuid::Uuid::parse_str(&claims.jti).unwrap().get_version_num(), 4);

            let second = client_assertion(&credentials, &token_url, now).unwrap();
            let (_, again) = decode(second.expose_secret(), &credentials.key, token_url.as_str());
            assert_ne!(claims.jti, again.jti, "Okta refuses a replayed jti");
        }
    }

    #[test]
    fn an_assertion_signed_by_another_key_does_not_verify() {
        let token_url = Url::parse("https://acme.okta.com/oauth2/v1/token").unwrap();
        let credentials = ServiceAppCredentials::new("0oa1client", ServiceAppKey::generate(KeyAlgorithm::Es256));
        let jwt = client_assertion(&credentials, &token_url, OffsetDateTime::now_utc()).unwrap();
        let other = ServiceAppKey::generate(KeyAlgorithm::Es256);
        let jwk: Jwk = serde_json::from_value(other.public_jwk()).unwrap();
        let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&[token_url.as_str()]);
        let result =
            jsonwebtoken::decode::<Decoded>(jwt.expose_secret(), &DecodingKey::from_jwk(&jwk).unwrap(), &validation);
        assert!(result.is_err());
    }
}
