//! Identifiers that cannot be swapped: a tenant's id is not a run's, an
//! Okta user's id is not a group's, and neither is a bare `Uuid` or
//! `String`. Each serializes as the plain value (messages and the HTTP API
//! are unchanged), and with the `sqlx` feature binds and decodes as its
//! PostgreSQL column (`uuid`, `text`).

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh id, ordered by creation time (UUIDv7).
            pub fn generate() -> $name {
                $name(Uuid::now_v7())
            }

            pub const fn from_uuid(id: Uuid) -> $name {
                $name(id)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// The all-zero id: for tests and placeholders, never a real row.
            pub const fn nil() -> $name {
                $name(Uuid::nil())
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> $name {
                $name(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<$name, uuid::Error> {
                Uuid::from_str(s).map($name)
            }
        }
    };
}

uuid_id!(
    /// A customer org registered with dirsync.
    TenantId
);
uuid_id!(
    /// One sync run of one tenant.
    RunId
);

macro_rules! okta_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> $name {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> $name {
                $name(id.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

okta_id!(
    /// An Okta user's id (`00u…`), as Okta gave it.
    OktaUserId
);
okta_id!(
    /// An Okta group's id (`00g…`), as Okta gave it.
    OktaGroupId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialize_as_the_bare_uuid_and_parse_back() {
        let id = TenantId::generate();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", id.as_uuid()));
        assert_eq!(serde_json::from_str::<TenantId>(&json).unwrap(), id);
        assert_eq!(id.to_string().parse::<TenantId>().unwrap(), id);
        assert!("not-a-uuid".parse::<RunId>().is_err());
    }
}
