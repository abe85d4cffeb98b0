//! Opaque keyset cursors: base64url of a small JSON object that says which
//! listing it belongs to and the last key of the page. Opaque so that the
//! key can change without breaking clients; tampering with one only moves
//! where the next page starts.

use crate::error::ApiError;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Which listing a cursor belongs to, so one cannot be replayed on another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Listing {
    Tenants,
    Runs,
    Users,
    Groups,
    Members,
}

#[derive(Serialize, Deserialize)]
struct Envelope<K> {
    l: Listing,
    k: K,
}

pub fn encode<K: Serialize>(listing: Listing, key: &K) -> String {
    let json = serde_json::to_vec(&Envelope { l: listing, k: key }).expect("a cursor key serializes");
    URL_SAFE_NO_PAD.encode(json)
}

pub fn decode<K: DeserializeOwned>(listing: Listing, cursor: &str) -> Result<K, ApiError> {
    let bad = || {
        ApiError::bad_parameter(
            "cursor",
            "`cursor` is not a cursor of this listing: pass `next_cursor` from the previous page as it is",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
    let envelope: Envelope<K> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if envelope.l != listing {
        return Err(bad());
    }
    Ok(envelope.k)
}

/// `limit`, checked against the listing's maximum.
pub fn limit(requested: Option<u32>, default: u32, max: u32) -> Result<i64, ApiError> {
    let limit = requested.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::bad_parameter(
            "limit",
            format!("`limit` must be between 1 and {max}"),
        ));
    }
    Ok(i64::from(limit))
}

/// Splits one extra row off: there is a next page iff the query returned
/// more than `limit` rows; its cursor is made from the page's last row.
pub fn split_page<T>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        let next = rows.last().map(key);
        (rows, next)
    } else {
        (rows, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_belongs_to_one_listing() {
        let cursor = encode(Listing::Users, &"00u123");
        assert!(!cursor.contains("00u123"), "opaque");
        assert_eq!(decode::<String>(Listing::Users, &cursor).unwrap(), "00u123");
        assert_eq!(
            decode::<String>(Listing::Groups, &cursor).unwrap_err().code(),
            "invalid_parameter"
        );
        assert!(decode::<String>(Listing::Users, "not a cursor!").is_err());
        assert!(decode::<String>(Listing::Users, "").is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(limit(None, 100, 1000).unwrap(), 100);
        assert_eq!(limit(Some(1000), 100, 1000).unwrap(), 1000);
        assert!(limit(Some(0), 100, 1000).is_err());
        assert!(limit(Some(1001), 100, 1000).is_err());
    }

    #[test]
    fn the_extra_row_says_there_is_a_next_page() {
        let (rows, next) = split_page(vec![1, 2, 3], 2, |r| r.to_string());
        assert_eq!((rows, next), (vec![1, 2], Some("2".to_owned())));
        let (rows, next) = split_page(vec![1, 2], 2, |r| r.to_string());
        assert_eq!((rows, next), (vec![1, 2], None));
    }
}
