#![doc = include_str!("../README.md")]

mod config;
mod errors;
mod filter;
mod generate;
mod ids;
mod listener;
mod middleware;
mod model;
mod org;
mod paging;
mod render;
mod routes;
mod server;
mod stats;
mod timestamp;

pub use config::SimConfig;
pub use errors::SimError;
pub use generate::{OrgSpec, generate};
pub use model::{GroupType, SimGroup, SimUser, UserStatus};
pub use org::Org;
pub use server::{OktaSim, run_standalone, serve};
pub use stats::{Family, FamilyStats, RequestRecord, RequestStats};
