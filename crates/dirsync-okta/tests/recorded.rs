//! Every response recorded from real Okta orgs parses into our models, and
//! every recorded error body gets the classification the caller relies on.
//!
//! The cassettes live in `shared/okta-reference/recorded/` beside the
//! repository: vcrpy files (okta-sdk-python) and go-vcr v2 files
//! (terraform-provider-okta).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dirsync_okta::{Group, OktaError, User, link};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_yaml_ng::Value;
use url::Url;

/// One recorded exchange, in a format-neutral shape.
struct Interaction {
    file: String,
    url: Url,
    status: u16,
    body: String,
    /// Header name (lower case) to its values, as recorded.
    headers: Vec<(String, Vec<String>)>,
    /// Whether the recorder stored each header as one string (old vcrpy).
    single_string_headers: bool,
}

impl Interaction {
    fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, values) in &self.headers {
            let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                continue;
            };
            for value in values {
                if let Ok(value) = HeaderValue::from_str(value) {
                    map.append(name.clone(), value);
                }
            }
        }
        map
    }

    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, values)| values.iter().map(String::as_str))
            .collect()
    }

    fn path_and_query(&self) -> String {
        match self.url.query() {
            Some(q) => format!("{}?{q}", self.url.path()),
            None => self.url.path().to_owned(),
        }
    }
}

fn recorded_dir() -> PathBuf {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    let dir = shared.join("okta-reference/recorded");
    assert!(
        dir.is_dir(),
        "recorded Okta responses not found at {}: tests expect the `shared/` folder beside the repository clone",
        dir.display()
    );
    dir
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

fn load_all() -> Vec<Interaction> {
    let mut files = Vec::new();
    yaml_files(&recorded_dir(), &mut files);
    assert!(!files.is_empty(), "no cassettes found");
    files.iter().flat_map(|path| load_file(path)).collect()
}

fn load_file(path: &Path) -> Vec<Interaction> {
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Value = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: invalid YAML: {e}", path.display()));
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    doc["interactions"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{file}: no interactions"))
        .iter()
        .map(|it| interaction(&file, it))
        .collect()
}

/// vcrpy: `request.uri`, `response.status.code`, `response.body.string`;
/// go-vcr v2: `request.url`, `response.code`, `response.body`.
fn interaction(file: &str, it: &Value) -> Interaction {
    let request = &it["request"];
    let response = &it["response"];
    let url = request["uri"]
        .as_str()
        .or_else(|| request["url"].as_str())
        .unwrap_or_else(|| panic!("{file}: request without uri/url"));
    let status = response["status"]["code"]
        .as_u64()
        .or_else(|| response["code"].as_u64())
        .unwrap_or_else(|| panic!("{file}: response without status code"));
    let body = response["body"]["string"]
        .as_str()
        .or_else(|| response["body"].as_str())
        .unwrap_or_default()
        .to_owned();
    let (headers, single_string_headers) = headers(&response["headers"]);
    Interaction {
        file: file.to_owned(),
        url: Url::parse(url).unwrap_or_else(|e| panic!("{file}: bad url {url}: {e}")),
        status: u16::try_from(status).unwrap(),
        body,
        headers,
        single_string_headers,
    }
}

fn headers(value: &Value) -> (Vec<(String, Vec<String>)>, bool) {
    let Some(map) = value.as_mapping() else {
        return (Vec::new(), false);
    };
    let mut single = false;
    let headers = map
        .iter()
        .filter_map(|(name, values)| {
            let name = name.as_str()?.to_ascii_lowercase();
            let values = match values {
                Value::Sequence(items) => items.iter().filter_map(scalar).collect(),
                other => {
                    single = true;
                    scalar(other).into_iter().collect()
                }
            };
            Some((name, values))
        })
        .collect();
    (headers, single)
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// What a successful body at this path must parse as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Users,
    User,
    Groups,
    Group,
    Members,
}

fn kind_of(path: &str, body: &str) -> Option<Kind> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let body = body.trim_start();
    if !(body.starts_with('[') || body.starts_with('{')) {
        return None; // 204s and other empty bodies
    }
    let list = body.starts_with('[');
    let kind = match segments.as_slice() {
        ["api", "v1", "users"] if list => Kind::Users,
        // POST /api/v1/users answers with the created user.
        ["api", "v1", "users"] | ["api", "v1", "users", _] => Kind::User,
        ["api", "v1", "users", _, "groups"] => Kind::Groups,
        ["api", "v1", "groups"] if list => Kind::Groups,
        ["api", "v1", "groups"] | ["api", "v1", "groups", _] => Kind::Group,
        ["api", "v1", "groups", _, "users"] => Kind::Members,
        _ => return None,
    };
    Some(kind)
}

fn parse_success(it: &Interaction, kind: Kind) -> usize {
    let context = || format!("{} {} ({kind:?})", it.file, it.url);
    match kind {
        Kind::Users | Kind::Members => serde_json::from_str::<Vec<User>>(&it.body)
            .unwrap_or_else(|e| panic!("{}: {e}", context()))
            .len(),
        Kind::User => serde_json::from_str::<User>(&it.body)
            .map(|_| 1)
            .unwrap_or_else(|e| panic!("{}: {e}", context())),
        Kind::Groups => serde_json::from_str::<Vec<Group>>(&it.body)
            .unwrap_or_else(|e| panic!("{}: {e}", context()))
            .len(),
        Kind::Group => serde_json::from_str::<Group>(&it.body)
            .map(|_| 1)
            .unwrap_or_else(|e| panic!("{}: {e}", context())),
    }
}

fn check_error(it: &Interaction) -> &'static str {
    let status = StatusCode::from_u16(it.status).unwrap();
    let headers = it.header_map();
    let err = OktaError::from_response(status, &headers, it.body.as_bytes(), &it.path_and_query());
    let context = format!("{} {} {}: {err:?}", it.file, it.status, it.url);
    assert!(!err.to_string().contains("myAPIToken"), "{context}");
    match err.error_code() {
        Some("E0000011") => assert!(matches!(err, OktaError::Unauthorized { .. }), "{context}"),
        Some("E0000006" | "E0000015") => {
            assert!(matches!(err, OktaError::Forbidden { .. }), "{context}")
        }
        Some("E0000007") => assert!(matches!(err, OktaError::NotFound { .. }), "{context}"),
        Some("E0000047") => check_rate_limited(it, &err, &context),
        Some(_) | None if it.status >= 500 => {
            assert!(matches!(err, OktaError::Transient { .. }), "{context}")
        }
        _ => {}
    }
    match err {
        OktaError::Unauthorized { .. } => "unauthorized",
        OktaError::Forbidden { .. } => "forbidden",
        OktaError::NotFound { .. } => "not_found",
        OktaError::RateLimited { .. } => "rate_limited",
        OktaError::Transient { .. } => "transient",
        _ => "other",
    }
}

fn check_rate_limited(it: &Interaction, err: &OktaError, context: &str) {
    let OktaError::RateLimited {
        reset_at, retry_after, ..
    } = err
    else {
        panic!("E0000047 not classified as RateLimited: {context}");
    };
    let recorded_reset: i64 = it.header_values("x-rate-limit-reset")[0].parse().unwrap();
    assert_eq!(reset_at.unwrap().unix_timestamp(), recorded_reset, "{context}");
    // Measured against the recorded Date, not today's clock.
    let wait = retry_after.expect("Date and reset recorded");
    assert!(wait.as_secs() > 0 && wait.as_secs() <= 60, "{context}: {wait:?}");
}

#[test]
fn every_recorded_okta_body_parses_or_classifies() {
    let interactions = load_all();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for it in &interactions {
        if it.status >= 400 && it.body.trim_start().starts_with('{') {
            *counts.entry(format!("error:{}", check_error(it))).or_default() += 1;
            *counts.entry("errors".into()).or_default() += 1;
        } else if (200..300).contains(&it.status)
            && let Some(kind) = kind_of(it.url.path(), &it.body)
        {
            let items = parse_success(it, kind);
            // The client refuses a page with more items than its URL's
            // `limit`: real Okta never sends more than asked.
            if matches!(kind, Kind::Users | Kind::Groups | Kind::Members)
                && let Some(limit) = link::requested_limit(&it.url)
            {
                assert!(
                    items as u64 <= limit,
                    "{} {}: {items} items, limit {limit}",
                    it.file,
                    it.url
                );
                *counts.entry("pages within their limit".into()).or_default() += 1;
            }
            *counts.entry(format!("{kind:?}").to_lowercase()).or_default() += 1;
            *counts.entry(format!("{kind:?} items").to_lowercase()).or_default() += items;
        }
    }
    println!("parsed recorded bodies: {counts:#?}");
    for key in ["users", "user", "groups", "group", "members", "errors"] {
        assert!(
            counts.get(key).copied().unwrap_or(0) > 0,
            "no `{key}` body parsed: {counts:?}"
        );
    }
    assert!(counts["users items"] > 0 && counts["members items"] > 0 && counts["groups items"] > 0);
    assert!(counts["pages within their limit"] > 0, "no recorded page had a limit");
    for key in ["error:not_found", "error:rate_limited", "error:forbidden"] {
        assert!(counts.contains_key(key), "no {key} in the recordings: {counts:?}");
    }
}

#[test]
fn recorded_link_headers_yield_the_next_page_in_both_recorder_formats() {
    let mut checked_single = 0;
    let mut checked_list = 0;
    let mut nexts = 0;
    for it in load_all() {
        let raw = it.header_values("link");
        if raw.is_empty() {
            continue;
        }
        let expected_next = raw.iter().find(|v| v.contains(r#"rel="next""#)).map(|v| {
            let start = v.find('<').unwrap() + 1;
            let end = v.find('>').unwrap();
            v[start..end].to_owned()
        });
        let from_values = link::next_from_values(raw.iter().copied());
        let from_headers = link::next_from_headers(&it.header_map());
        assert_eq!(from_values, expected_next, "{} {}", it.file, it.url);
        assert_eq!(from_headers, expected_next, "{} {}", it.file, it.url);
        if let Some(next) = &from_values {
            nexts += 1;
            let next = Url::parse(next).unwrap();
            assert_eq!(next.origin(), it.url.origin(), "next stays on the org");
            assert!(next.query().unwrap().contains("after="), "{next}");
        }
        if it.single_string_headers {
            checked_single += 1;
        } else {
            checked_list += 1;
        }
    }
    assert!(checked_single > 0, "no single-string Link header checked (old vcrpy)");
    assert!(checked_list > 0, "no list-form Link header checked (new vcrpy, go-vcr)");
    assert!(nexts > 0, "no recorded next link found");
}
