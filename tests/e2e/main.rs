//! End-to-end tests: the real PostgreSQL and RabbitMQ of the machine (each
//! test in its own database and under its own queue prefix) and okta-sim
//! over real HTTP. Set `DIRSYNC_TEST_DATABASE_URL` / `DIRSYNC_TEST_AMQP_URL`
//! to point them elsewhere.

mod api;
mod bad_input;
mod client_vs_sim;
mod compare;
mod events;
mod fairness;
mod fencing;
mod first_sync;
mod fleet;
mod full_sync;
mod harness;
mod logs;
mod okta_load;
mod phases;
mod poller;
// The role processes of the real binary, shared with the fault suite.
#[allow(dead_code)]
#[path = "../faults/fleet.rs"]
mod processes;
mod prometheus;
mod protocol;
mod races;
mod run_status;
mod schedule;
mod schedule_rules;
mod token_binding;
mod traces;
