#![doc = include_str!("../README.md")]

mod chain;
pub mod changes;
pub mod credentials;
pub mod deletion;
mod error_code;
pub mod estimate;
pub mod everyone;
mod ids;
mod messages;
mod records;
mod run;
pub mod schedule;
pub mod text;
mod token_health;
pub mod validate;
pub mod waiting;

pub use chain::{Chain, ChainParseError};
pub use error_code::ErrorCode;
pub use ids::{OktaGroupId, OktaUserId, RunId, TenantId};
pub use messages::{
    CheckRemovals, FetchCompleted, PageFetched, PagePayload, RemovalsChecked, SyncRequested, WorkerMessage,
    WriterMessage,
};
pub use records::{GroupRecord, UserRecord};
pub use run::{RunState, SyncMode, Trigger, UnknownVariant};
pub use token_health::{TOKEN_IDLE_LIFETIME, TOKEN_WARNING, token_lapse_warning, token_lapses_at};
