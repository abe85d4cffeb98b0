use crate::OktaGroupId;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// One cursor chain of a run: a sequence of Okta pages walked one after the
/// other. A run is several chains, checkpointed separately, so a run taken
/// over by another worker resumes each chain where it stopped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Chain {
    /// Every user the run asks for, in one chain (incremental runs).
    Users,
    /// One of the `lastUpdated` ranges a full run splits the users into, so
    /// several chains page at once.
    UsersSlice {
        index: u16,
    },
    /// After the slices: users changed since the run began, so a user who
    /// moved between ranges mid-run is not lost.
    UsersCatchUp,
    Groups,
    Members {
        group_id: OktaGroupId,
    },
    /// The built-in Everyone group: its members are all the org's users, so
    /// they are derived at finalize instead of paged. Always complete.
    Everyone {
        group_id: OktaGroupId,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a chain (expected users, groups or members:<group id>)")]
pub struct ChainParseError(String);

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Chain::Users => f.write_str("users"),
            Chain::UsersSlice { index } => write!(f, "users:{index}"),
            Chain::UsersCatchUp => f.write_str("users:catchup"),
            Chain::Groups => f.write_str("groups"),
            Chain::Members { group_id } => write!(f, "members:{group_id}"),
            Chain::Everyone { group_id } => write!(f, "everyone:{group_id}"),
        }
    }
}

impl FromStr for Chain {
    type Err = ChainParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ChainParseError(s.to_owned());
        let id = |rest: &str| {
            if rest.is_empty() {
                Err(bad())
            } else {
                Ok(OktaGroupId::from(rest))
            }
        };
        match s {
            "users" => Ok(Chain::Users),
            "users:catchup" => Ok(Chain::UsersCatchUp),
            "groups" => Ok(Chain::Groups),
            _ => match s.split_once(':') {
                Some(("users", n)) => n.parse().map(|index| Chain::UsersSlice { index }).map_err(|_| bad()),
                Some(("members", rest)) => Ok(Chain::Members { group_id: id(rest)? }),
                Some(("everyone", rest)) => Ok(Chain::Everyone { group_id: id(rest)? }),
                _ => Err(bad()),
            },
        }
    }
}

impl Chain {
    /// Chains that list users (their pages carry users).
    pub fn lists_users(&self) -> bool {
        matches!(self, Chain::Users | Chain::UsersSlice { .. } | Chain::UsersCatchUp)
    }
}

impl From<Chain> for String {
    fn from(chain: Chain) -> String {
        chain.to_string()
    }
}

impl TryFrom<String> for Chain {
    type Error = ChainParseError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_round_trip_through_text() {
        for chain in [
            Chain::Users,
            Chain::UsersSlice { index: 3 },
            Chain::UsersCatchUp,
            Chain::Groups,
            Chain::Members {
                group_id: "00g1".into(),
            },
            Chain::Everyone {
                group_id: "00g2".into(),
            },
        ] {
            assert_eq!(chain.to_string().parse::<Chain>().unwrap(), chain);
        }
        assert!("members:".parse::<Chain>().is_err());
        assert!("apps".parse::<Chain>().is_err());
        assert!("users:x".parse::<Chain>().is_err());
    }
}
