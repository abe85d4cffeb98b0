use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// One cursor chain of a run: a sequence of Okta pages walked one after the
/// other. A run is several chains, checkpointed separately, so a run taken
/// over by another worker resumes each chain where it stopped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Chain {
    Users,
    Groups,
    Members { group_id: String },
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a chain (expected users, groups or members:<group id>)")]
pub struct ChainParseError(String);

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Chain::Users => f.write_str("users"),
            Chain::Groups => f.write_str("groups"),
            Chain::Members { group_id } => write!(f, "members:{group_id}"),
        }
    }
}

impl FromStr for Chain {
    type Err = ChainParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "users" => Ok(Chain::Users),
            "groups" => Ok(Chain::Groups),
            _ => match s.strip_prefix("members:") {
                Some(id) if !id.is_empty() => Ok(Chain::Members {
                    group_id: id.to_owned(),
                }),
                _ => Err(ChainParseError(s.to_owned())),
            },
        }
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
            Chain::Groups,
            Chain::Members {
                group_id: "00g1".into(),
            },
        ] {
            assert_eq!(chain.to_string().parse::<Chain>().unwrap(), chain);
        }
        assert!("members:".parse::<Chain>().is_err());
        assert!("apps".parse::<Chain>().is_err());
    }
}
