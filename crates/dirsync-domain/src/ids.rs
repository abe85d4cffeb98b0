//! Identifiers that cannot be swapped: a tenant's id is not a run's, and
//! neither is a bare `Uuid`. Both serialize as the plain UUID (messages and
//! the HTTP API are unchanged), and with the `sqlx` feature bind and decode
//! as PostgreSQL `uuid` columns.

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
