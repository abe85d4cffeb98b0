#![doc = include_str!("../README.md")]

mod batch;
mod config;
mod metrics;
pub mod relay;
mod service;
mod spans;

pub use batch::{BatchOutcome, NextPhase, apply_batch};
pub use config::WriterConfig;
pub use service::{WriterDeps, run};
