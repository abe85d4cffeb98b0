//! The writer's one-step entry points against the real PostgreSQL (a
//! database per test) and RabbitMQ (queues under a prefix per test): what
//! `run()` loops over, driven one step at a time.

mod batch;
mod relay;
mod support;
