//! The API's JSON shapes. Responses never carry a token: no response type
//! has a field that could hold one.

mod directory;
mod enums;
mod requests;
mod runs;
mod service_app;
mod tenants;

pub use directory::*;
pub use enums::*;
pub use requests::*;
pub use runs::*;
pub use service_app::*;
pub use tenants::*;

use serde::Serialize;
use utoipa::ToSchema;

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

/// `GET /readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub database: bool,
    pub broker: bool,
}
