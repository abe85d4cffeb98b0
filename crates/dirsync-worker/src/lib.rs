#![doc = include_str!("../README.md")]

mod config;
mod convert;
mod error;
mod executor;
mod lease;
mod metrics;
mod service;

pub use config::{OktaSettings, WorkerConfig};
pub use error::RunError;
pub use executor::RunExecutor;
pub use metrics::WorkerMetrics;
pub use service::{Handled, WorkerContext, WorkerDeps, process_delivery, run};
