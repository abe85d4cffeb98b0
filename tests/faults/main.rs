//! Fault injection: the pipeline's roles as separate processes of the real
//! `dirsync` binary (two workers, two writers, a scheduler), a full sync of
//! a simulated org, and a fault in the middle of it — PostgreSQL or
//! RabbitMQ down, a worker or writer SIGKILLed, every role SIGTERMed and
//! started again, Okta misbehaving, poison messages. Every case then asks
//! for the same thing: the run succeeds, the database equals the org, and
//! the run's change events are exactly one per change.
//!
//! The cases stop and start the machine's PostgreSQL and RabbitMQ, so they
//! run one at a time (and each outage is a guard that restores the service
//! even when the case panics). A failed case keeps its database
//! (`dirsync_test_f*`) and its role logs (`$TMPDIR/dirsync-faults/<prefix>/`).
//!
//! ```sh
//! cargo test -p dirsync-tests --test faults -- --nocapture
//! ```
//!
//! The cases, by what they inject: `outages` (PostgreSQL, RabbitMQ),
//! `signals` (roles killed or terminated), `okta_misbehaving` (faults and
//! hostile answers), `okta_changes` (the org changing mid-run),
//! `dead_letters` (poison messages). `case` is one case's world; `check`,
//! `fleet`, `hostile`, `poison` and `services` are the tools they use.

#[allow(dead_code)]
#[path = "../e2e/compare.rs"]
mod compare;
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;

mod case;
mod check;
mod dead_letters;
// Shared with the e2e suite, which uses parts this one does not.
#[allow(dead_code)]
mod fleet;
mod hostile;
mod okta_changes;
mod okta_misbehaving;
mod outages;
mod poison;
mod services;
mod signals;

/// Cargo runs a binary's tests in parallel; these share the machine's
/// services and stop them, so each takes this first.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
