#![doc = include_str!("../README.md")]

mod config;
mod convert;
mod delivery;
mod error;
mod fetch;
mod lease;
mod metrics;
pub mod poller;
mod removal_check;
mod service;

pub use config::{OktaSettings, WorkerConfig};
pub use delivery::{Handled, process_delivery, tenant_client};
pub use error::RunError;
pub use fetch::RunExecutor;
pub use metrics::WorkerMetrics;
pub use service::{WorkerContext, WorkerDeps, run};
