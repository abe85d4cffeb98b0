//! End-to-end tests of the simulator over real HTTP (one test binary).

mod admin;
mod clock;
mod errors;
mod faults;
mod generation;
mod groups;
mod helpers;
mod limits;
mod mid_sync;
mod mutations;
mod tls;
mod users;
