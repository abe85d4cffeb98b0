//! The `dirsync` binary's library half: the CLI, configuration and the
//! commands, so tests drive them exactly as the binary does.

pub mod cli;
pub mod commands;
pub mod config;
pub mod probes;
pub mod progress;
pub mod report;
pub mod shutdown;

pub use config::Config;
