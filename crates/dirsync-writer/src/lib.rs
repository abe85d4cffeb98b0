#![doc = include_str!("../README.md")]

mod batch;
mod config;
pub mod relay;
mod service;

pub use batch::{BatchOutcome, apply_batch};
pub use config::WriterConfig;
pub use service::{WriterDeps, run};
