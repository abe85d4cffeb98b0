#![doc = include_str!("../README.md")]

mod address;
mod client;
mod config;
mod credentials;
mod error;
mod error_code;
mod family;
mod group;
mod limiter;
pub mod link;
mod log_event;
mod org_url;
mod organization;
mod rate_headers;
mod resolve;
mod retry;
mod stats;
mod token;
mod user;
mod wire;

pub use address::forbidden_address;
pub use client::{OktaClient, Page};
pub use config::{ClientConfig, DEFAULT_MAX_RESPONSE_BYTES, ProxyUrl};
pub use credentials::{
    Credentials, CredentialsError, DEFAULT_SCOPES, KeyAlgorithm, LOG_SCOPES, SYNC_SCOPES, ServiceAppCredentials,
    ServiceAppKey,
};
pub use error::{ErrorDetail, OktaError};
pub use family::Family;
pub use group::{Group, GroupType};
pub use limiter::RateAllowance;
pub use log_event::{LogEvent, LogTarget};
pub use org_url::{OrgUrl, OrgUrlError};
pub use organization::Organization;
pub use rate_headers::RateLimitHeaders;
pub use stats::{ClientStats, Exchange, Observer};
pub use token::ApiToken;
pub use user::{User, UserProfile, UserStatus};
