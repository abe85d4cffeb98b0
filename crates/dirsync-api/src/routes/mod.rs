//! The handlers, one module per resource.

pub(crate) mod directory;
pub(crate) mod probes;
pub(crate) mod syncs;
pub(crate) mod tenants;
