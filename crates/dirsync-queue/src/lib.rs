#![doc = include_str!("../README.md")]

mod broker;
mod config;
mod consumer;
mod error;
mod publisher;
mod reconnect;
mod topology;
pub mod trace_context;

pub use broker::Broker;
pub use config::QueueConfig;
pub use consumer::{Consumer, Delivery};
pub use error::QueueError;
pub use publisher::Publisher;
pub use reconnect::keep_session;
pub use topology::Topology;
