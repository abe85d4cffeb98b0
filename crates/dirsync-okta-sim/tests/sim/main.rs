//! End-to-end tests of the simulator over real HTTP (one test binary).

mod errors;
mod generation;
mod groups;
mod helpers;
mod peek;
mod users;
