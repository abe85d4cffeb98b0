use crate::{
    cli::{KeyAlgorithmArg, TenantCommand},
    config::Config,
};
use anyhow::Context;
use dirsync_okta::{KeyAlgorithm, OrgUrl};
use dirsync_store::{NewCredentials, NewServiceAppKey, NewTenant, Store, Tenant, TokenCipher};
use secrecy::SecretString;

pub(super) async fn run(config: &Config, cmd: TenantCommand) -> anyhow::Result<()> {
    let store = super::connect(config).await?;
    match cmd {
        TenantCommand::Add {
            name,
            okta_url,
            token_file,
            service_app,
            client_id,
            key_algorithm,
        } => {
            let cipher = super::cipher(config)?;
            let tenant = match (token_file, service_app) {
                (Some(token_file), false) => {
                    let token = std::fs::read_to_string(&token_file)
                        .with_context(|| format!("cannot read the token file {}", token_file.display()))?;
                    add_tenant(&store, &cipher, config, &name, &okta_url, SecretString::from(token)).await?
                }
                _ => {
                    let key = new_key(key_algorithm)?;
                    let credentials = NewCredentials::ServiceApp {
                        client_id: client_id.as_deref().map(str::trim),
                        key: Some(&key),
                    };
                    let tenant = register(&store, &cipher, config, &name, &okta_url, credentials).await?;
                    eprintln!("{}", setup_text(&store, &tenant).await?);
                    tenant
                }
            };
            println!("{}", tenant.id);
        }
        TenantCommand::ServiceApp {
            tenant,
            client_id,
            new_key: make_key,
            key_algorithm,
        } => {
            let cipher = super::cipher(config)?;
            let tenant = store.tenants().find(&tenant).await?;
            if make_key {
                let key = new_key(key_algorithm)?;
                let stored = store.tenants().add_service_app_key(&cipher, tenant.id, &key).await?;
                eprintln!("made key {} ({}), {}", stored.kid, stored.algorithm, stored.state);
            }
            if let Some(client_id) = client_id {
                let credentials = NewCredentials::ServiceApp {
                    client_id: Some(client_id.trim()),
                    key: None,
                };
                store
                    .tenants()
                    .replace_credentials(&cipher, tenant.id, &tenant.okta_url, credentials)
                    .await?;
                store.tenants().forget_token_health(tenant.id, false).await?;
                eprintln!(
                    "tenant {} now syncs through the service app {}",
                    tenant.id,
                    client_id.trim()
                );
            }
            println!("{}", setup_text(&store, &tenant).await?);
        }
        TenantCommand::List => {
            let now = time::OffsetDateTime::now_utc();
            println!("id\tname\tinstance URL\tcredentials\tlast Okta success\ttoken lapses");
            for t in store.tenants().page(None, i64::MAX).await? {
                let show = |d: Option<time::OffsetDateTime>| d.map_or_else(|| "never".into(), |d| d.date().to_string());
                let last = show(t.last_okta_success_at);
                let (kind, lapses, flag) = if t.credential_kind == "service_app" {
                    let app = t.service_app_client_id.as_deref().unwrap_or("client id not given yet");
                    (format!("service app {app}"), "never".to_owned(), "")
                } else {
                    let flag = if dirsync_domain::token_lapse_warning(t.last_okta_success_at, now) {
                        "  <- within 7 days: sync or verify it, or ask for a new token"
                    } else {
                        ""
                    };
                    let lapses = show(dirsync_domain::token_lapses_at(t.last_okta_success_at));
                    ("API token".to_owned(), lapses, flag)
                };
                println!("{}\t{}\t{}\t{kind}\t{last}\t{lapses}{flag}", t.id, t.name, t.okta_url);
            }
        }
    }
    Ok(())
}

/// Validates and registers a tenant with an API token; the token is stored
/// encrypted.
pub async fn add_tenant(
    store: &Store,
    cipher: &TokenCipher,
    config: &Config,
    name: &str,
    okta_url: &str,
    token: SecretString,
) -> anyhow::Result<Tenant> {
    let token = SecretString::from(secrecy::ExposeSecret::expose_secret(&token).trim().to_owned());
    anyhow::ensure!(
        !secrecy::ExposeSecret::expose_secret(&token).is_empty(),
        "the token file is empty"
    );
    register(store, cipher, config, name, okta_url, NewCredentials::ApiToken(&token)).await
}

async fn register(
    store: &Store,
    cipher: &TokenCipher,
    config: &Config,
    name: &str,
    okta_url: &str,
    credentials: NewCredentials<'_>,
) -> anyhow::Result<Tenant> {
    let name = name.trim();
    anyhow::ensure!(!name.is_empty(), "the tenant name must not be empty");
    let url = OrgUrl::parse(okta_url, config.okta.allow_insecure_urls).map_err(|e| {
        anyhow::anyhow!("--okta-url: {e} (set DIRSYNC_OKTA__ALLOW_INSECURE_URLS=true only for a local simulator)")
    })?;
    let url = url.as_url().as_str().trim_end_matches('/').to_owned();
    Ok(store
        .tenants()
        .create(
            cipher,
            NewTenant {
                name,
                okta_url: &url,
                credentials,
            },
        )
        .await?)
}

/// Makes a key pair for a service app, in the form the store keeps.
pub fn new_key(algorithm: KeyAlgorithmArg) -> anyhow::Result<NewServiceAppKey> {
    let algorithm = match algorithm {
        KeyAlgorithmArg::Es256 => KeyAlgorithm::Es256,
        KeyAlgorithmArg::Rs256 => KeyAlgorithm::Rs256,
    };
    Ok(dirsync_api::new_service_app_key_pair(algorithm))
}

/// The service app's public keys (a JWKS document to paste) and what to do
/// in Okta.
async fn setup_text(store: &Store, tenant: &Tenant) -> anyhow::Result<String> {
    let view = store.tenants().view(tenant.id).await?;
    let keys = store.tenants().service_app_keys(tenant.id).await?;
    let jwks = serde_json::json!({ "keys": keys.iter().map(|k| &k.public_jwk).collect::<Vec<_>>() });
    let mut text = format!(
        "Service app of tenant {} ({}): client id {}\nPublic keys (JWKS; {}):\n{}\n\n",
        tenant.name,
        tenant.id,
        view.service_app_client_id.as_deref().unwrap_or("not given yet"),
        keys.iter()
            .map(|k| format!("{} {}", k.kid, k.state))
            .collect::<Vec<_>>()
            .join(", "),
        serde_json::to_string_pretty(&jwks)?,
    );
    for (n, step) in dirsync_api::service_app_setup_steps().iter().enumerate() {
        text.push_str(&format!("{}. {step}\n", n + 1));
    }
    Ok(text)
}
