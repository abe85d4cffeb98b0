//! `api.*` settings.

use secrecy::SecretString;
use serde::{Deserialize, Deserializer, de};
use std::{net::SocketAddr, path::PathBuf, time::Duration};

/// `api.*` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    /// Bearer keys accepted on `/v1`. In the environment, one variable with
    /// the keys separated by commas: `DIRSYNC_API__KEYS=key1,key2`.
    #[serde(deserialize_with = "keys")]
    pub keys: Vec<SecretString>,
    /// A file with one key per line (blank lines and `#` comments ignored),
    /// re-read every `keys_reload_ms`, so keys rotate without a restart and
    /// a removed line is a revoked key. Lines that are not usable keys are
    /// skipped (logged, counted); a file that vanishes, cannot be read or
    /// holds no valid key drops its keys until it is fixed (fails closed);
    /// at start-up such a file refuses to start.
    pub keys_file: Option<PathBuf>,
    pub keys_reload_ms: u64,
    /// Largest request body accepted; larger ones get 413.
    pub max_body_bytes: usize,
    /// Longest a request may take before it is answered 503 `timeout`.
    pub request_timeout_ms: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            keys: Vec::new(),
            keys_file: None,
            keys_reload_ms: 30_000,
            max_body_bytes: 64 * 1024,
            request_timeout_ms: 30_000,
        }
    }
}

impl ApiConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn keys_reload(&self) -> Duration {
        Duration::from_millis(self.keys_reload_ms.max(1_000))
    }
}

/// A list (TOML) or one comma-separated string (environment). Anything else
/// is refused without echoing it: it may be a key.
fn keys<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SecretString>, D::Error> {
    #[derive(Clone, Copy)]
    struct Keys;

    impl<'de> de::Visitor<'de> for Keys {
        type Value = Vec<SecretString>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of strings, or one string of keys separated by commas")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(|k| SecretString::from(k.to_owned()))
                .collect())
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(key) = seq.next_element::<KeyText>()? {
                out.extend(self.visit_str::<A::Error>(&key.0)?);
            }
            Ok(out)
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(not_text())
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(not_text())
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(not_text())
        }

        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(not_text())
        }
    }

    struct KeyText(String);

    impl<'de> Deserialize<'de> for KeyText {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Text;
            impl de::Visitor<'_> for Text {
                type Value = String;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a string")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
                    Ok(v.to_owned())
                }
                fn visit_i64<E: de::Error>(self, _: i64) -> Result<String, E> {
                    Err(not_text())
                }
                fn visit_u64<E: de::Error>(self, _: u64) -> Result<String, E> {
                    Err(not_text())
                }
                fn visit_f64<E: de::Error>(self, _: f64) -> Result<String, E> {
                    Err(not_text())
                }
                fn visit_bool<E: de::Error>(self, _: bool) -> Result<String, E> {
                    Err(not_text())
                }
            }
            d.deserialize_any(Text).map(KeyText)
        }
    }

    d.deserialize_any(Keys)
}

fn not_text<E: de::Error>() -> E {
    E::custom(
        "`api.keys` must be text (a key that reads as a number or a boolean is too weak; \
         use `openssl rand -hex 32`)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn exposed(config: &ApiConfig) -> Vec<&str> {
        config.keys.iter().map(|k| k.expose_secret()).collect()
    }

    #[test]
    fn keys_come_as_a_list_or_a_comma_separated_string() {
        let list: ApiConfig = serde_json::from_str(r#"{"keys":["a1","b2"]}"#).unwrap();
        assert_eq!(exposed(&list), ["a1", "b2"]);
        let text: ApiConfig = serde_json::from_str(r#"{"keys":" a1 , b2,,"}"#).unwrap();
        assert_eq!(exposed(&text), ["a1", "b2"]);
    }

    #[test]
    fn a_numeric_key_is_refused_without_echoing_it() {
        let err = serde_json::from_str::<ApiConfig>(r#"{"keys":987654321}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("api.keys") && !err.contains("987654321"), "{err}");
        let err = serde_json::from_str::<ApiConfig>(r#"{"keys":["ok-key", 987654321]}"#)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("987654321"), "{err}");
    }

    #[test]
    fn debug_never_shows_a_key() {
        let config: ApiConfig = serde_json::from_str(r#"{"keys":["s3cr3t-key"]}"#).unwrap();
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }
}
