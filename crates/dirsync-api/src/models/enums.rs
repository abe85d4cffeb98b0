//! Closed sets, as the API spells them.

use dirsync_domain::{ErrorCode, SyncMode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncModeDto {
    Full,
    Incremental,
}

impl From<SyncModeDto> for SyncMode {
    fn from(m: SyncModeDto) -> SyncMode {
        match m {
            SyncModeDto::Full => SyncMode::Full,
            SyncModeDto::Incremental => SyncMode::Incremental,
        }
    }
}

impl From<SyncMode> for SyncModeDto {
    fn from(m: SyncMode) -> SyncModeDto {
        match m {
            SyncMode::Full => SyncModeDto::Full,
            SyncMode::Incremental => SyncModeDto::Incremental,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerDto {
    Manual,
    Scheduled,
}

/// `queued → running → succeeded | failed | needs_review`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStateDto {
    Queued,
    Running,
    Succeeded,
    Failed,
    NeedsReview,
}

/// Why a run failed or a check did not pass; each has a remedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCodeDto {
    InvalidToken,
    AccessDenied,
    OrgNotFound,
    OktaUnavailable,
    Internal,
    InvalidClient,
    MissingScope,
}

impl From<ErrorCode> for ErrorCodeDto {
    fn from(c: ErrorCode) -> ErrorCodeDto {
        match c {
            ErrorCode::InvalidToken => ErrorCodeDto::InvalidToken,
            ErrorCode::AccessDenied => ErrorCodeDto::AccessDenied,
            ErrorCode::OrgNotFound => ErrorCodeDto::OrgNotFound,
            ErrorCode::OktaUnavailable => ErrorCodeDto::OktaUnavailable,
            ErrorCode::Internal => ErrorCodeDto::Internal,
            ErrorCode::InvalidClient => ErrorCodeDto::InvalidClient,
            ErrorCode::MissingScope => ErrorCodeDto::MissingScope,
        }
    }
}

/// Okta's user statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    Staged,
    Provisioned,
    Active,
    Recovery,
    PasswordExpired,
    LockedOut,
    Suspended,
    Deprovisioned,
}

impl UserStatus {
    pub const ALL: [&'static str; 8] = [
        "STAGED",
        "PROVISIONED",
        "ACTIVE",
        "RECOVERY",
        "PASSWORD_EXPIRED",
        "LOCKED_OUT",
        "SUSPENDED",
        "DEPROVISIONED",
    ];
}

/// The signing algorithm of a service app's key pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum KeyAlgorithmDto {
    /// ECDSA on P-256 with SHA-256 (smaller keys; the default).
    #[default]
    ES256,
    /// RSA 2048 with SHA-256 (PKCS#1 v1.5).
    RS256,
}

/// Which kind of credential a tenant syncs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKindDto {
    /// An SSWS API token made by a Super Admin (lapses after 30 days unused).
    ApiToken,
    /// An OAuth 2.0 API Services app signing in with dirsync's key pair.
    ServiceApp,
}
