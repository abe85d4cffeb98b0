//! Okta's error text (`errorSummary`, `errorCauses`, ...) as the API
//! returns it: the server at a tenant's URL writes it, so it is untrusted
//! data of any length. It goes out bounded, as a plain JSON string (never
//! rendered: every response is `application/json` or text with `nosniff`),
//! without control or bidirectional-override characters, and without the
//! addresses a tenant's host resolved to.

use crate::okta_url;
use dirsync_okta::{ErrorDetail, OktaError};

/// Most characters of Okta's `errorSummary` that are returned.
pub(crate) const SUMMARY_MAX: usize = 300;

/// Most characters of a whole message quoting Okta (a verify outcome, a
/// run's error).
pub(crate) const MESSAGE_MAX: usize = 600;

const CODE_MAX: usize = 40;
const CAUSES_MAX: usize = 2;
const CAUSE_MAX: usize = 80;

pub(crate) use dirsync_domain::text::bounded;

/// A failed call to Okta, for the customer: Okta's own text shortened,
/// the whole bounded, and a refusal to connect to a non-public address
/// without the address.
pub(crate) fn describe(e: &OktaError) -> String {
    let text = match e {
        OktaError::Unauthorized { status, path, detail } => OktaError::Unauthorized {
            status: *status,
            path: path.clone(),
            detail: Box::new(short(detail)),
        }
        .to_string(),
        OktaError::Forbidden { status, path, detail } => OktaError::Forbidden {
            status: *status,
            path: path.clone(),
            detail: Box::new(short(detail)),
        }
        .to_string(),
        OktaError::NotFound { path, detail } => OktaError::NotFound {
            path: path.clone(),
            detail: Box::new(short(detail)),
        }
        .to_string(),
        OktaError::Other { status, path, detail } => OktaError::Other {
            status: *status,
            path: path.clone(),
            detail: Box::new(short(detail)),
        }
        .to_string(),
        OktaError::Unreachable { host, reason, .. } if names_non_public(reason) => okta_url::not_public(host),
        other => other.to_string(),
    };
    bounded(&text, MESSAGE_MAX)
}

/// A message stored earlier (a run's error, written by the worker from the
/// same errors, as text): what follows Okta's error code (`E0000011: `,
/// the summary) cut like [`describe`] cuts it, the whole bounded, and a
/// non-public resolution without addresses.
pub(crate) fn stored(message: &str) -> String {
    if names_non_public(message) {
        return "the Okta org's host name does not resolve to a public address; an Okta org is on \
                the public internet (check the Okta URL)"
            .to_owned();
    }
    match after_okta_code(message) {
        Some(at) => bounded(
            &format!("{}{}", &message[..at], bounded(&message[at..], SUMMARY_MAX)),
            MESSAGE_MAX,
        ),
        None => bounded(message, MESSAGE_MAX),
    }
}

/// Where the text after the first Okta error code (`E` and seven digits,
/// then `: `, at the start or after a space) begins.
fn after_okta_code(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    text.match_indices('E').map(|(i, _)| i).find_map(|i| {
        let code = bytes.get(i + 1..i + 8)?;
        let after = bytes.get(i + 8..i + 10)?;
        let starts = i == 0 || bytes[i - 1] == b' ';
        (starts && code.iter().all(u8::is_ascii_digit) && after == b": ").then_some(i + 10)
    })
}

/// The Okta client's refusal to connect to a host that resolves only to
/// non-public addresses, which lists them.
fn names_non_public(text: &str) -> bool {
    text.contains("non-public addresses")
}

fn short(detail: &ErrorDetail) -> ErrorDetail {
    let causes = detail.causes.len();
    let mut shortened: Vec<String> = detail
        .causes
        .iter()
        .take(CAUSES_MAX)
        .map(|c| bounded(c, CAUSE_MAX))
        .collect();
    if causes > CAUSES_MAX {
        shortened.push(format!("and {} more", causes - CAUSES_MAX));
    }
    ErrorDetail {
        error_code: detail.error_code.as_deref().map(|c| bounded(c, CODE_MAX)),
        summary: detail.summary.as_deref().map(|s| bounded(s, SUMMARY_MAX)),
        error_id: detail.error_id.as_deref().map(|i| bounded(i, CODE_MAX)),
        causes: shortened,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_on_a_character_boundary_with_an_ellipsis() {
        assert_eq!(bounded("short", 10), "short");
        assert_eq!(bounded("0123456789", 10), "0123456789");
        assert_eq!(bounded("0123456789A", 10), "012345678…");
        let umlauts = "ü".repeat(400);
        let cut = bounded(&umlauts, 300);
        assert_eq!(cut.chars().count(), 300);
        assert!(cut.ends_with("ü…"));
        assert_eq!(bounded("a\nb\u{202E}c\td", 10), "a b c d");
    }

    #[test]
    fn okta_s_summary_is_shortened_and_the_rest_of_the_message_kept() {
        let summary = format!("<script>alert(1)</script>{}", "x".repeat(10_000));
        let e = OktaError::Unauthorized {
            status: 401,
            path: "/api/v1/users?limit=1".into(),
            detail: Box::new(ErrorDetail {
                error_code: Some("E0000011".into()),
                summary: Some(summary),
                error_id: Some("oae123".into()),
                causes: vec!["y".repeat(5_000); 10],
            }),
        };
        let message = describe(&e);
        assert!(message.chars().count() <= MESSAGE_MAX, "{message}");
        assert!(
            message.starts_with("Okta rejected the API token (HTTP 401) for /api/v1/users?limit=1: E0000011: <script>"),
            "{message}"
        );
        let summary = message.split_once("E0000011: ").unwrap().1;
        let summary = summary.split_once(" (y").unwrap().0;
        assert_eq!(summary.chars().count(), SUMMARY_MAX, "{summary}");
        assert!(summary.ends_with("x…"), "{summary}");
        assert!(message.contains("; and 8 more) [errorId oae123]"), "{message}");
    }

    #[test]
    fn a_stored_message_has_okta_s_summary_cut_like_a_fresh_one() {
        let summary = format!("<b>bold</b>{}", "x".repeat(10_000));
        let e = OktaError::Forbidden {
            status: 403,
            path: "/api/v1/groups?limit=200".into(),
            detail: Box::new(ErrorDetail {
                error_code: Some("E0000006".into()),
                summary: Some(summary),
                error_id: None,
                causes: Vec::new(),
            }),
        };
        let message = stored(&e.to_string());
        assert_eq!(message, describe(&e));
        let summary = message.split_once("E0000006: ").unwrap().1;
        assert_eq!(summary.chars().count(), SUMMARY_MAX);
        assert!(summary.starts_with("<b>bold</b>xxx") && summary.ends_with("x…"));
        // Without an Okta error code, the whole is bounded.
        assert_eq!(stored(&"E123: ".repeat(1_000)).chars().count(), MESSAGE_MAX);
    }

    #[test]
    fn a_refused_resolution_is_described_without_the_addresses() {
        let e = OktaError::Unreachable {
            host: "rebound.example.com".into(),
            path: "/api/v1/users".into(),
            reason: "error sending request: client error (Connect): `rebound.example.com` resolves only to \
                     private, loopback or other non-public addresses (10.0.0.7: private); not connecting"
                .into(),
        };
        let message = describe(&e);
        assert!(message.contains("`rebound.example.com` does not resolve to a public address"));
        assert!(!message.contains("10.0.0.7"), "{message}");
        assert!(!stored(&e.to_string()).contains("10.0.0.7"));
        assert_eq!(stored("Okta is down"), "Okta is down");
        assert_eq!(
            stored("HTTP 500 E0000009: Internal Server Error [errorId x1]"),
            "HTTP 500 E0000009: Internal Server Error [errorId x1]"
        );
        assert!(stored(&"z".repeat(10_000)).chars().count() <= MESSAGE_MAX);
    }
}
