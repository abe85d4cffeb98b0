//! Path and query parameters that are not valid (400 naming the
//! parameter): an id that is not a UUID, limits out of range, forged
//! cursors, an unknown status, a bad date, an unknown parameter.

use super::{Case, Known};
use reqwest::Method;

pub(super) fn cases(known: &Known) -> Vec<Case> {
    let users = format!("/v1/tenants/{}/users", known.tenant);
    let invalid = |what: &'static str, path: String, field: &'static str, says: &'static str| {
        Case::new(what, Method::GET, path).fails(400, "invalid_parameter", Some(field), says)
    };
    let cursor_with_nul = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        br#"{"l":"users","k":"a\u0000"}"#,
    );
    vec![
        invalid(
            "a forged cursor with a NUL",
            format!("{users}?cursor={cursor_with_nul}"),
            "cursor",
            "not a cursor",
        ),
        invalid("an id that is not a UUID", "/v1/tenants/acme".into(), "id", "UUID"),
        invalid("limit 0", format!("{users}?limit=0"), "limit", "between 1 and 1000"),
        invalid("limit too big", format!("{users}?limit=5000"), "limit", "between"),
        invalid("limit not a number", "/v1/tenants?limit=ten".into(), "limit", "limit"),
        invalid(
            "a forged cursor",
            format!("{users}?cursor=abc"),
            "cursor",
            "next_cursor",
        ),
        invalid(
            "an unknown status",
            format!("{users}?status=ACTIVE,GONE"),
            "status",
            "DEPROVISIONED",
        ),
        invalid(
            "a bad date",
            format!("{users}?updated_since=yesterday"),
            "updated_since",
            "RFC 3339",
        ),
        invalid(
            "an unknown parameter",
            format!("{users}?stauts=ACTIVE"),
            "stauts",
            "unknown query parameter",
        ),
    ]
}
