use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// A value read from the database or a request that names no known variant.
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

/// Generates `as_str`, `Display` and `FromStr` for a fieldless enum whose
/// variants are stored as text (database columns, CLI arguments, JSON).
macro_rules! text_enum {
    ($ty:ident, $kind:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownVariant;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    _ => Err(UnknownVariant { kind: $kind, value: s.to_owned() }),
                }
            }
        }
    };
}
pub(crate) use text_enum;

/// Lifecycle of one sync run: `queued → running → succeeded | failed | needs_review`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Queued,
    Running,
    Succeeded,
    Failed,
    NeedsReview,
}

text_enum!(RunState, "run state", {
    Queued => "queued",
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
    NeedsReview => "needs_review",
});

impl RunState {
    /// Whether the run still holds the tenant's single active slot.
    pub fn is_active(self) -> bool {
        matches!(self, RunState::Queued | RunState::Running)
    }
}

/// A full sync lists everything (and may sweep what disappeared); an
/// incremental one asks only for what changed since the last success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    Full,
    Incremental,
}

text_enum!(SyncMode, "sync mode", {
    Full => "full",
    Incremental => "incremental",
});

/// Who asked for a run. Manual runs travel on their own queue so that a
/// "Run Sync" click never waits behind the day's scheduled backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Manual,
    Scheduled,
}

text_enum!(Trigger, "trigger", {
    Manual => "manual",
    Scheduled => "scheduled",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_round_trips_through_text() {
        for state in RunState::ALL {
            assert_eq!(state.as_str().parse::<RunState>().unwrap(), *state);
        }
        assert!("paused".parse::<RunState>().is_err());
    }

    #[test]
    fn only_queued_and_running_are_active() {
        let active: Vec<_> = RunState::ALL.iter().filter(|s| s.is_active()).collect();
        assert_eq!(active, [&RunState::Queued, &RunState::Running]);
    }
}
