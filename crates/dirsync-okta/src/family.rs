//! Okta's rate-limit buckets ("endpoint families") as this client uses them.

use std::fmt;

/// The rate-limit bucket a request counts against. Okta's budget is per org
/// and per family, so pacing one family never needs to slow another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// `GET /api/v1/users` (list, filter, search).
    ListUsers,
    /// `/api/v1/groups`, a group by id, and a group's members.
    ListGroups,
    /// `GET /api/v1/users/{idOrLogin}`: its own, larger bucket.
    GetUser,
    /// `GET /api/v1/logs`, the System Log: a small bucket of its own
    /// (120/min on most orgs), so polling it never slows a full sync.
    Logs,
    /// `POST /oauth2/v1/token`: a service app's access tokens (one an hour
    /// per client, so its budget barely matters; counted apart all the same).
    Token,
    /// Everything else, including `/.well-known/okta-organization`.
    Other,
}

impl Family {
    /// Every family, in a fixed order (index with [`Family::index`]).
    pub const ALL: [Family; 6] = [
        Family::ListUsers,
        Family::ListGroups,
        Family::GetUser,
        Family::Logs,
        Family::Token,
        Family::Other,
    ];

    /// Classifies a URL path such as `/api/v1/groups/00g1/users`.
    ///
    /// Empty segments are ignored so `/api/v1/users/` counts as the list.
    /// Sub-resources of a user (`/api/v1/users/{id}/groups`) are not "get
    /// user" in Okta's table, so they fall into `Other`.
    pub fn from_path(path: &str) -> Family {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            ["api", "v1", "users"] => Family::ListUsers,
            ["api", "v1", "users", _] => Family::GetUser,
            ["api", "v1", "groups"] | ["api", "v1", "groups", _] | ["api", "v1", "groups", _, "users"] => {
                Family::ListGroups
            }
            ["api", "v1", "logs"] => Family::Logs,
            ["oauth2", "v1", "token"] => Family::Token,
            _ => Family::Other,
        }
    }

    /// Okta's documented per-minute limit for a paid Workforce org, before the
    /// token's share: what the limiter starts from until headers tell better.
    pub fn documented_limit_per_minute(self) -> u32 {
        match self {
            Family::ListUsers => 600,
            Family::ListGroups => 500,
            Family::GetUser => 2000,
            Family::Logs => 120,
            // Not in Okta's management table; the org authorization
            // server's token endpoint has a larger bucket than this.
            Family::Token => 600,
            Family::Other => 600,
        }
    }

    /// A stable, low-cardinality name for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::ListUsers => "list_users",
            Family::ListGroups => "list_groups",
            Family::GetUser => "get_user",
            Family::Logs => "logs",
            Family::Token => "token",
            Family::Other => "other",
        }
    }

    /// Position in [`Family::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_okta_buckets() {
        let cases = [
            ("/api/v1/users", Family::ListUsers),
            ("/api/v1/users/", Family::ListUsers),
            ("/api/v1/users/00u1abc", Family::GetUser),
            ("/api/v1/users/john.doe@example.com", Family::GetUser),
            ("/api/v1/users/00u1abc/groups", Family::Other),
            ("/api/v1/users/00u1abc/lifecycle/deactivate", Family::Other),
            ("/api/v1/groups", Family::ListGroups),
            ("/api/v1/groups/00g1", Family::ListGroups),
            ("/api/v1/groups/00g1/users", Family::ListGroups),
            ("/api/v1/groups/00g1/users/00u1", Family::Other),
            ("/api/v1/groups/00g1/roles", Family::Other),
            ("/api/v1/logs", Family::Logs),
            ("/api/v1/logs/", Family::Logs),
            ("/oauth2/v1/token", Family::Token),
            ("/oauth2/v1/keys", Family::Other),
            ("/.well-known/okta-organization", Family::Other),
            ("/", Family::Other),
            ("", Family::Other),
        ];
        for (path, family) in cases {
            assert_eq!(Family::from_path(path), family, "{path}");
        }
    }

    #[test]
    fn index_matches_all_order() {
        for (i, family) in Family::ALL.iter().enumerate() {
            assert_eq!(family.index(), i);
        }
    }
}
