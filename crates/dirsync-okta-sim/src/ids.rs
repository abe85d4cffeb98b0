//! Identifiers shaped like Okta's.
//!
//! Okta ids are 20 characters: a 3-character kind prefix (`00u` user, `00g`
//! group, `00o` org, `oty` user type, `0oa` app, `guo` realm), 14 characters
//! of entropy and a 3-character tail that is the same for every object of one
//! org (the recordings show `…4x6`, `…1d7`, `…697`). Copying the tail costs
//! nothing and keeps ids of one simulated org recognisably "from one org".

use rand::Rng;

/// Okta's random parts lean lowercase; a mixed alphabet weighted that way
/// looks like the recordings (`00usfgmn9xhwtA6f74x6`).
const OKTA_CHARS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
pub(crate) const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

pub(crate) fn random_chars(rng: &mut impl Rng, alphabet: &[u8], n: usize) -> String {
    (0..n)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// A 3-character org tail, e.g. `1d7`.
pub(crate) fn org_tail(rng: &mut impl Rng) -> String {
    let digit = rng.random_range(0..10u8);
    let letter = rng.random_range(0..26u8);
    let last = rng.random_range(0..10u8);
    [b'0' + digit, b'a' + letter, b'0' + last]
        .iter()
        .map(|b| char::from(*b))
        .collect()
}

/// `prefix` (3 chars) + 14 random chars + `tail` (3 chars).
pub(crate) fn okta_id(rng: &mut impl Rng, prefix: &str, tail: &str) -> String {
    let mut id = String::with_capacity(20);
    id.push_str(prefix);
    id.push_str(&random_chars(rng, OKTA_CHARS, 14));
    id.push_str(tail);
    id
}

/// The body's `errorId`: `oae` and 22 URL-safe characters, as in every
/// recorded error (`oaelr1lt59PSM-TvHYQ_LDr5g`).
pub(crate) fn error_id() -> String {
    let mut rng = rand::rng();
    format!("oae{}", random_chars(&mut rng, URL_SAFE, 22))
}

/// `X-Okta-Request-Id`: 32 lowercase hex digits, as in the 2025 recordings.
pub(crate) fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
