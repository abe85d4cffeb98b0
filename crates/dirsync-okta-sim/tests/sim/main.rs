//! End-to-end tests of the simulator over real HTTP (one test binary).

mod admin;
mod clock;
mod errors;
mod faults;
mod generation;
mod groups;
mod helpers;
mod limits;
mod logs;
mod mid_sync;
mod mutations;
mod oauth;
mod tls;
mod users;
