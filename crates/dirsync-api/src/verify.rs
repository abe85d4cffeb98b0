//! The connection check: one anonymous call to
//! `/.well-known/okta-organization` (is this an Okta org?) and one call to
//! `/api/v1/users?limit=1` with the credentials (does the token, or the
//! service app's access token, work, and may it read the directory?). No
//! retries: the customer is waiting.
//!
//! What Okta said comes back as data: its `errorSummary` shortened, the
//! message bounded ([`okta_text`]).

use crate::{
    models::{Verification, VerifyStatus},
    okta_text,
    okta_url::{self, UrlPolicy},
};
use dirsync_domain::ErrorCode;
use dirsync_okta::{ClientConfig, OktaClient, OktaError};
use dirsync_store::TenantSecret;
use std::time::Duration;
use time::OffsetDateTime;

/// Checks a tenant's stored URL and credentials. `Err` only for our own
/// faults.
pub(crate) async fn verify(
    okta_url: &str,
    secret: TenantSecret,
    policy: &UrlPolicy,
    base: &ClientConfig,
) -> Result<(Verification, bool), OktaError> {
    let now = OffsetDateTime::now_utc();
    // Resolved again now, not only when it was saved: a name may since
    // have been pointed at an internal address.
    let org_url = match okta_url::check(okta_url, policy).await {
        Ok(url) => url,
        Err(why) => return Ok((failed(ErrorCode::OrgNotFound, why, None, now), false)),
    };
    let credentials = match dirsync_okta::Credentials::from_secret(secret, dirsync_okta::SYNC_SCOPES) {
        Ok(credentials) => credentials,
        Err(e) => return Ok((failed(e.to_error_code(), e.to_string(), None, now), false)),
    };
    let client = OktaClient::new(org_url, credentials, quick(base))?;
    let org = match client.organization().await {
        Ok(org) => org,
        Err(e) => {
            let code = e.to_discovery_error_code();
            return Ok((failed(code, okta_text::describe(&e), None, now), false));
        }
    };
    let org_id = Some(org.id.clone());
    let domain = Some(org.domain.to_string());
    match client.users_page(&client.users_url(None, 1)).await {
        Ok(_) => Ok((
            Verification {
                status: VerifyStatus::Ok,
                message: None,
                remedy: None,
                org_id,
                okta_domain: domain,
                checked_at: now,
            },
            true,
        )),
        Err(e) => {
            let mut v = failed(e.to_error_code(), okta_text::describe(&e), org_id, now);
            v.okta_domain = domain;
            Ok((v, false))
        }
    }
}

/// One attempt per call, short timeouts: an answer within seconds.
fn quick(base: &ClientConfig) -> ClientConfig {
    ClientConfig {
        request_timeout: base.request_timeout.min(Duration::from_secs(10)),
        connect_timeout: base.connect_timeout.min(Duration::from_secs(5)),
        max_retries: 0,
        unreachable_retries: 0,
        max_rate_limit_retries: 0,
        ..base.clone()
    }
}

fn failed(code: ErrorCode, message: String, org_id: Option<String>, now: OffsetDateTime) -> Verification {
    let status = match code {
        ErrorCode::InvalidToken => VerifyStatus::InvalidToken,
        ErrorCode::AccessDenied => VerifyStatus::AccessDenied,
        ErrorCode::OrgNotFound => VerifyStatus::OrgNotFound,
        ErrorCode::InvalidClient => VerifyStatus::InvalidClient,
        ErrorCode::MissingScope => VerifyStatus::MissingScope,
        // The check has no status of its own for our failures (a client we
        // could not build, a request Okta refused as malformed): the remedy
        // says it is ours.
        ErrorCode::OktaUnavailable | ErrorCode::Internal => VerifyStatus::OktaUnavailable,
    };
    Verification {
        status,
        message: Some(message),
        remedy: Some(code.remedy().to_owned()),
        org_id,
        okta_domain: None,
        checked_at: now,
    }
}
