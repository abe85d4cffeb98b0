//! The handlers, one module per resource.

pub(crate) mod directory;
pub(crate) mod event_hooks;
pub(crate) mod probes;
pub(crate) mod service_app;
pub(crate) mod syncs;
pub(crate) mod tenants;
