#![doc = include_str!("../README.md")]

mod admin;
mod churn;
mod config;
mod errors;
mod faults;
mod filter;
mod generate;
mod hooks;
mod ids;
mod listener;
mod middleware;
mod model;
mod mutate;
mod oauth;
mod org;
mod paging;
mod ratelimit;
mod render;
mod routes;
mod server;
mod stats;
mod syslog;
mod timestamp;
mod tls;

pub use churn::ChurnReport;
pub use config::SimConfig;
pub use errors::SimError;
pub use faults::{Faults, Latency};
pub use generate::{OrgSpec, generate};
pub use hooks::RequestMatch;
pub use model::{GroupType, SimGroup, SimUser, UserStatus};
pub use oauth::ServiceApp;
pub use org::Org;
pub use ratelimit::RateLimits;
pub use server::{OktaSim, run_standalone, serve};
pub use stats::{Family, FamilyStats, RequestRecord, RequestStats};
