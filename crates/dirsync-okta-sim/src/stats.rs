//! The request log: every Okta request the simulator served, and the
//! summary a test or benchmark asserts on (requests, peak requests in any
//! 60 seconds, 429s and 5xx per endpoint family).

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use axum::http::Method;

/// Okta's rate-limit buckets, as DESIGN.md groups them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// `GET /api/v1/users`
    ListUsers,
    /// `GET /api/v1/groups` and `GET /api/v1/groups/{id}/users`
    Groups,
    /// `GET /api/v1/users/{idOrLogin}`
    GetUser,
    /// Everything else.
    Other,
    /// `GET /api/v1/logs`, the System Log: a bucket of its own in Okta.
    Logs,
    /// `POST /oauth2/v1/token`, access tokens for OAuth 2.0 service apps.
    Token,
}

impl Family {
    pub const ALL: [Family; 6] = [
        Family::ListUsers,
        Family::Groups,
        Family::GetUser,
        Family::Other,
        Family::Logs,
        Family::Token,
    ];

    pub(crate) fn classify(method: &Method, path: &str) -> Family {
        let path = path.trim_end_matches('/');
        if path == "/oauth2/v1/token" {
            return Family::Token;
        }
        let Some(rest) = path.strip_prefix("/api/v1/") else {
            return Family::Other;
        };
        let segments: Vec<&str> = rest.split('/').collect();
        if method != Method::GET {
            return Family::Other;
        }
        match segments.as_slice() {
            ["users"] => Family::ListUsers,
            ["users", _] => Family::GetUser,
            ["groups"] | ["groups", _, "users"] => Family::Groups,
            ["logs"] => Family::Logs,
            _ => Family::Other,
        }
    }
}

/// One served request.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    pub family: Family,
    pub method: String,
    /// Path and query as requested.
    pub uri: String,
    /// When it arrived, relative to the simulator's start.
    pub at: Duration,
    pub received: SystemTime,
    /// `None` when the connection was dropped without a response.
    pub status: Option<u16>,
}

/// Counters for one family.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FamilyStats {
    pub requests: u64,
    /// The most requests that arrived within any 60-second span.
    pub peak_per_minute: u64,
    pub rate_limited: u64,
    pub server_errors: u64,
    /// Connections dropped without a response.
    pub dropped: u64,
}

/// What the simulator served, per family.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RequestStats {
    pub list_users: FamilyStats,
    pub groups: FamilyStats,
    pub get_user: FamilyStats,
    pub other: FamilyStats,
    pub logs: FamilyStats,
    /// Token requests (`POST /oauth2/v1/token`), refused ones included.
    pub token: FamilyStats,
}

impl RequestStats {
    pub fn family(&self, family: Family) -> &FamilyStats {
        match family {
            Family::ListUsers => &self.list_users,
            Family::Groups => &self.groups,
            Family::GetUser => &self.get_user,
            Family::Other => &self.other,
            Family::Logs => &self.logs,
            Family::Token => &self.token,
        }
    }

    fn family_mut(&mut self, family: Family) -> &mut FamilyStats {
        match family {
            Family::ListUsers => &mut self.list_users,
            Family::Groups => &mut self.groups,
            Family::GetUser => &mut self.get_user,
            Family::Other => &mut self.other,
            Family::Logs => &mut self.logs,
            Family::Token => &mut self.token,
        }
    }

    pub fn total(&self) -> u64 {
        Family::ALL.iter().map(|f| self.family(*f).requests).sum()
    }

    pub fn rate_limited(&self) -> u64 {
        Family::ALL.iter().map(|f| self.family(*f).rate_limited).sum()
    }

    pub fn server_errors(&self) -> u64 {
        Family::ALL.iter().map(|f| self.family(*f).server_errors).sum()
    }
}

pub(crate) struct RequestLog {
    start: Instant,
    records: Mutex<Vec<RequestRecord>>,
}

impl RequestLog {
    pub(crate) fn new() -> Self {
        RequestLog {
            start: Instant::now(),
            records: Mutex::new(Vec::new()),
        }
    }

    /// Stamps a request's arrival; `finish` fills in the outcome.
    pub(crate) fn begin(&self, family: Family, method: &Method, uri: String) -> RequestRecord {
        RequestRecord {
            family,
            method: method.to_string(),
            uri,
            at: self.start.elapsed(),
            received: SystemTime::now(),
            status: None,
        }
    }

    pub(crate) fn finish(&self, record: RequestRecord) {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).push(record);
    }

    pub(crate) fn records(&self) -> Vec<RequestRecord> {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner()).clone();
        records.sort_by_key(|r| r.at);
        records
    }

    pub(crate) fn clear(&self) {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub(crate) fn stats(&self) -> RequestStats {
        let records = self.records();
        let mut stats = RequestStats::default();
        for family in Family::ALL {
            let times: Vec<Duration> = records.iter().filter(|r| r.family == family).map(|r| r.at).collect();
            stats.family_mut(family).peak_per_minute = peak_in_window(&times, Duration::from_secs(60));
        }
        for r in &records {
            let f = stats.family_mut(r.family);
            f.requests += 1;
            match r.status {
                Some(429) => f.rate_limited += 1,
                Some(s) if s >= 500 => f.server_errors += 1,
                None => f.dropped += 1,
                _ => {}
            }
        }
        stats
    }
}

/// The largest number of sorted instants within any half-open `window`.
fn peak_in_window(sorted: &[Duration], window: Duration) -> u64 {
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..sorted.len() {
        while sorted[hi] - sorted[lo] >= window {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths_into_okta_buckets() {
        let get = Method::GET;
        assert_eq!(Family::classify(&get, "/api/v1/users"), Family::ListUsers);
        assert_eq!(Family::classify(&get, "/api/v1/users/00u1"), Family::GetUser);
        assert_eq!(Family::classify(&get, "/api/v1/users/00u1/groups"), Family::Other);
        assert_eq!(Family::classify(&get, "/api/v1/groups"), Family::Groups);
        assert_eq!(Family::classify(&get, "/api/v1/groups/00g1/users"), Family::Groups);
        assert_eq!(Family::classify(&get, "/api/v1/groups/00g1"), Family::Other);
        assert_eq!(Family::classify(&get, "/.well-known/okta-organization"), Family::Other);
        assert_eq!(Family::classify(&get, "/api/v1/logs"), Family::Logs);
        assert_eq!(Family::classify(&Method::POST, "/oauth2/v1/token"), Family::Token);
    }

    #[test]
    fn peak_counts_the_busiest_minute() {
        let s = |n: u64| Duration::from_secs(n);
        assert_eq!(peak_in_window(&[], s(60)), 0);
        assert_eq!(peak_in_window(&[s(0), s(10), s(59), s(60), s(61)], s(60)), 4);
        assert_eq!(peak_in_window(&[s(0), s(100), s(101)], s(60)), 2);
    }
}
