//! Tenants: register, list, read, change settings, replace credentials,
//! delete with their data, verify the connection.

use super::service_app::CredentialsInput;
use crate::{
    AppState,
    error::ApiError,
    extract::{ApiJson, ApiPath, ApiQuery},
    models::{
        CreateTenant, ListQuery, ReplaceCredentials, Tenant, TenantDetail, TenantPage, UpdateSettings, Verification,
    },
    okta_url,
    pagination::{self, Listing},
    verify,
};
use axum::{
    Json,
    extract::State,
    http::{StatusCode, header::LOCATION},
    response::{IntoResponse, Response},
};
use dirsync_domain::TenantId;
use dirsync_store::{NewTenant, TenantSettingsPatch, TenantView};
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

const NAME_MAX: usize = 200;
const TOKEN_MAX: usize = 512;

/// Register a tenant.
///
/// Checks the instance URL (https, not the `-admin` console, a public
/// address) and stores the credentials encrypted: an API token, or a
/// service app whose key pair is made now (its public key and setup steps:
/// `GET /v1/tenants/{id}/service-app`). Does not call Okta: use `verify`
/// for that.
#[utoipa::path(
    post, path = "/v1/tenants", tag = "tenants",
    request_body = CreateTenant,
    responses(
        (status = 201, description = "Registered", body = Tenant,
         headers(("location" = String, description = "The tenant's URL"))),
    )
)]
pub(crate) async fn create_tenant(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<CreateTenant>,
) -> Result<Response, ApiError> {
    let name = checked_name(&body.name)?;
    let url = checked_url(&app, &body.okta_url).await?;
    let credentials = CredentialsInput::checked(body.api_token.as_ref(), body.service_app.as_ref(), true).await?;
    let created = app
        .store
        .tenants()
        .create(
            &app.cipher,
            NewTenant {
                name: &name,
                okta_url: &url,
                credentials: credentials.as_new(),
            },
        )
        .await?;
    tracing::info!(tenant_id = %created.id, "tenant registered");
    let tenant = tenant(&app, app.store.tenants().view(created.id).await?).await?;
    let location = format!("/v1/tenants/{}", tenant.id);
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(tenant)).into_response())
}

/// List tenants, oldest first.
#[utoipa::path(
    get, path = "/v1/tenants", tag = "tenants",
    params(ListQuery),
    responses((status = 200, description = "A page of tenants", body = TenantPage))
)]
pub(crate) async fn list_tenants(
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<TenantPage>, ApiError> {
    let limit = pagination::limit(query.limit, 20, 100)?;
    let after = query
        .cursor
        .as_deref()
        .map(|c| pagination::decode::<TenantId>(Listing::Tenants, c))
        .transpose()?;
    let rows = app.store.tenants().page(after, limit + 1).await?;
    let (rows, next_cursor) = pagination::split_page(rows, limit, |t| pagination::encode(Listing::Tenants, &t.id));
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(tenant(&app, row).await?);
    }
    Ok(Json(TenantPage { items, next_cursor }))
}

/// Read a tenant: settings, token health, next scheduled sync, last and
/// active runs.
#[utoipa::path(
    get, path = "/v1/tenants/{id}", tag = "tenants",
    params(("id" = Uuid, Path, description = "Tenant id")),
    responses((status = 200, description = "The tenant", body = TenantDetail))
)]
pub(crate) async fn get_tenant(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<TenantId>,
) -> Result<Json<TenantDetail>, ApiError> {
    let view = app.store.tenants().view(id).await?;
    Ok(Json(detail(&app, view).await?))
}

/// Change a tenant's settings.
///
/// Absent fields stay as they are; `null` clears `preferred_hour` and
/// `time_zone`.
#[utoipa::path(
    patch, path = "/v1/tenants/{id}", tag = "tenants",
    params(("id" = Uuid, Path, description = "Tenant id")),
    request_body = UpdateSettings,
    responses((status = 200, description = "The updated tenant", body = TenantDetail))
)]
pub(crate) async fn update_tenant(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<UpdateSettings>,
) -> Result<Json<TenantDetail>, ApiError> {
    let patch = checked_settings(&app, body).await?;
    let view = app.store.tenants().update_settings(id, &patch).await?;
    Ok(Json(detail(&app, view).await?))
}

/// Replace a tenant's credentials (an API token or the service app, and
/// the URL if given).
///
/// Switching between an API token and a service app keeps the directory
/// synced so far. Saving the service app activates its newest key. The
/// token's health starts over: `last_okta_success_at` is cleared until
/// a sync or a verify reaches Okta with the new token.
#[utoipa::path(
    put, path = "/v1/tenants/{id}/credentials", tag = "tenants",
    params(("id" = Uuid, Path, description = "Tenant id")),
    request_body = ReplaceCredentials,
    responses((status = 200, description = "The tenant with its new credentials", body = Tenant))
)]
pub(crate) async fn replace_credentials(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<ReplaceCredentials>,
) -> Result<Json<Tenant>, ApiError> {
    let credentials = CredentialsInput::checked(body.api_token.as_ref(), body.service_app.as_ref(), false).await?;
    let current = app.store.tenants().view(id).await?;
    let url = match &body.okta_url {
        Some(url) => checked_url(&app, url).await?,
        None => current.okta_url.clone(),
    };
    app.store
        .tenants()
        .replace_credentials(&app.cipher, id, &url, credentials.as_new())
        .await?;
    app.store
        .tenants()
        .forget_token_health(id, url != current.okta_url)
        .await?;
    tracing::info!(tenant_id = %id, "tenant credentials replaced");
    Ok(Json(tenant(&app, app.store.tenants().view(id).await?).await?))
}

/// Delete a tenant with everything synced for it (runs, users, groups,
/// memberships, change events).
#[utoipa::path(
    delete, path = "/v1/tenants/{id}", tag = "tenants",
    params(("id" = Uuid, Path, description = "Tenant id")),
    responses((status = 204, description = "Deleted"))
)]
pub(crate) async fn delete_tenant(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<TenantId>,
) -> Result<StatusCode, ApiError> {
    if !app.store.tenants().delete(id).await? {
        return Err(ApiError::NotFound {
            what: "tenant",
            id: id.to_string(),
        });
    }
    tracing::info!(tenant_id = %id, "tenant deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Check the connection to Okta now.
///
/// One call to `/.well-known/okta-organization` and one to
/// `/api/v1/users?limit=1` (for a service app, first its token from
/// `/oauth2/v1/token`), no retries. The answer is 200 whatever Okta said;
/// `status` tells: `ok`, `invalid_token`, `access_denied`, `invalid_client`,
/// `missing_scope`, `org_not_found` or `okta_unavailable`, with the remedy.
#[utoipa::path(
    post, path = "/v1/tenants/{id}/verify", tag = "tenants",
    params(("id" = Uuid, Path, description = "Tenant id")),
    responses((status = 200, description = "What Okta said", body = Verification))
)]
pub(crate) async fn verify_tenant(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<TenantId>,
) -> Result<Json<Verification>, ApiError> {
    let (url, secret) = app.store.tenants().credentials(&app.cipher, id).await?;
    let (verification, ok) = verify::verify(&url, secret, &app.url_policy, &app.okta_client)
        .await
        .map_err(ApiError::internal)?;
    if ok {
        app.store
            .tenants()
            .record_okta_success(id, verification.org_id.as_deref())
            .await?;
    }
    tracing::info!(tenant_id = %id, status = ?verification.status, "connection verified");
    Ok(Json(verification))
}

async fn tenant(app: &AppState, view: TenantView) -> Result<Tenant, ApiError> {
    let now = OffsetDateTime::now_utc();
    let next = app.store.runs().next_scheduled_run(view.id).await?;
    Ok(Tenant::new(view, next, now))
}

async fn detail(app: &AppState, view: TenantView) -> Result<TenantDetail, ApiError> {
    let (last, active) = app.store.runs().latest_run_views(view.id).await?;
    Ok(TenantDetail {
        tenant: tenant(app, view).await?,
        // With what each waits for and its estimate (`syncs::run_view`).
        last_run: match last {
            Some(run) => Some(super::syncs::run_view(app, run).await?),
            None => None,
        },
        active_run: match active {
            Some(run) => Some(super::syncs::run_view(app, run).await?),
            None => None,
        },
    })
}

fn checked_name(raw: &str) -> Result<String, ApiError> {
    let field = "name";
    if raw.chars().count() > NAME_MAX {
        return Err(ApiError::invalid(
            field,
            format!("`name` must be at most {NAME_MAX} characters"),
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(ApiError::invalid(field, "`name` must not contain control characters"));
    }
    let name = raw.trim();
    if name.is_empty() {
        return Err(ApiError::invalid(field, "`name` must not be empty"));
    }
    Ok(name.to_owned())
}

/// The token as Okta showed it; surrounding spaces and line breaks (a
/// pasted newline) are dropped. The message never quotes it.
pub(super) fn checked_token(raw: &SecretString) -> Result<SecretString, ApiError> {
    let raw = raw.expose_secret();
    let token = raw.trim_matches([' ', '\t', '\r', '\n']);
    let valid = raw.chars().count() <= TOKEN_MAX && !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic());
    if !valid {
        return Err(ApiError::invalid(
            "api_token",
            format!(
                "`api_token` must be the token as Okta showed it: 1 to {TOKEN_MAX} visible ASCII \
                 characters, no spaces inside"
            ),
        ));
    }
    Ok(SecretString::from(token.to_owned()))
}

async fn checked_url(app: &AppState, raw: &str) -> Result<String, ApiError> {
    okta_url::check(raw, &app.url_policy)
        .await
        .map(|url| url.to_string())
        .map_err(|why| ApiError::invalid("okta_url", why))
}

async fn checked_settings(app: &AppState, body: UpdateSettings) -> Result<TenantSettingsPatch, ApiError> {
    let name = body.name.as_deref().map(checked_name).transpose()?;
    let preferred_hour = match body.preferred_hour {
        Some(Some(h)) if !(0..=23).contains(&h) => {
            return Err(ApiError::invalid(
                "preferred_hour",
                "`preferred_hour` must be an hour from 0 to 23, or null",
            ));
        }
        other => other.map(|h| h.map(|h| h as i32)),
    };
    let time_zone = match body.time_zone {
        Some(Some(zone)) => {
            let plain = zone.chars().count() <= 64 && !zone.chars().any(char::is_control);
            let known = plain && app.store.tenants().is_known_time_zone(&zone).await?;
            if !known {
                return Err(ApiError::invalid(
                    "time_zone",
                    "`time_zone` must be an IANA time zone such as Europe/Berlin or \
                     America/New_York, or null for UTC",
                ));
            }
            Some(Some(zone))
        }
        other => other,
    };
    let percents = [
        ("deletion_max_percent", body.deletion_max_percent),
        ("deletion_max_percent_groups", body.deletion_max_percent_groups),
        (
            "deletion_max_percent_memberships",
            body.deletion_max_percent_memberships,
        ),
        ("event_summary_percent", body.event_summary_percent),
    ];
    for (field, value) in percents {
        if let Some(percent) = value
            && !(0.0..=100.0).contains(&percent)
        {
            return Err(ApiError::invalid(field, format!("`{field}` must be between 0 and 100")));
        }
    }
    let minimums = [
        ("deletion_min_users", body.deletion_min_users),
        ("deletion_min_groups", body.deletion_min_groups),
        ("deletion_min_memberships", body.deletion_min_memberships),
    ];
    for (field, value) in minimums {
        if let Some(n) = value
            && !(0..=1_000_000).contains(&n)
        {
            return Err(ApiError::invalid(
                field,
                format!("`{field}` must be between 0 and 1000000"),
            ));
        }
    }
    let count = |n: Option<i64>| n.map(|n| n as i32);
    Ok(TenantSettingsPatch {
        name,
        preferred_hour,
        time_zone,
        deletion_max_percent: body.deletion_max_percent,
        deletion_min_users: count(body.deletion_min_users),
        deletion_max_percent_groups: body.deletion_max_percent_groups,
        deletion_min_groups: count(body.deletion_min_groups),
        deletion_max_percent_memberships: body.deletion_max_percent_memberships,
        deletion_min_memberships: count(body.deletion_min_memberships),
        event_summary_percent: body.event_summary_percent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(checked_name("  Acme  ").unwrap(), "Acme");
        assert!(checked_name("   ").is_err());
        assert!(checked_name("a\u{7}b").is_err());
        assert!(checked_name(&"x".repeat(201)).is_err());
        assert!(checked_name(&"é".repeat(200)).is_ok());
    }

    #[test]
    fn tokens_are_trimmed_checked_and_never_quoted() {
        let ok = checked_token(&SecretString::from(" 00abcDEF-ghi_\n")).unwrap();
        assert_eq!(ok.expose_secret(), "00abcDEF-ghi_");
        for bad in ["", "   ", "abc def", "tök", &"x".repeat(513)] {
            let err = checked_token(&SecretString::from(bad.to_owned())).unwrap_err();
            assert_eq!(err.code(), "validation_failed");
            if bad.len() > 3 {
                assert!(!err.to_string().contains(bad), "{err}");
            }
        }
    }
}
