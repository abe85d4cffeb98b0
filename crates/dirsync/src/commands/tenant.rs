use crate::{cli::TenantCommand, config::Config};
use anyhow::Context;
use dirsync_okta::OrgUrl;
use dirsync_store::{NewTenant, Store, Tenant, TokenCipher};
use secrecy::SecretString;

pub(super) async fn run(config: &Config, cmd: TenantCommand) -> anyhow::Result<()> {
    let store = super::connect(config).await?;
    match cmd {
        TenantCommand::Add {
            name,
            okta_url,
            token_file,
        } => {
            let token = std::fs::read_to_string(&token_file)
                .with_context(|| format!("cannot read the token file {}", token_file.display()))?;
            let cipher = super::cipher(config)?;
            let tenant = add_tenant(&store, &cipher, config, &name, &okta_url, SecretString::from(token)).await?;
            println!("{}", tenant.id);
        }
        TenantCommand::List => {
            let now = time::OffsetDateTime::now_utc();
            println!("id\tname\tinstance URL\tlast Okta success\ttoken lapses");
            for t in store.tenants().list().await? {
                let show = |d: Option<time::OffsetDateTime>| d.map_or_else(|| "never".into(), |d| d.date().to_string());
                let lapses = show(dirsync_domain::token_lapses_at(t.last_okta_success_at));
                let flag = if dirsync_domain::token_lapse_warning(t.last_okta_success_at, now) {
                    "  <- within 7 days: sync or verify it, or ask for a new token"
                } else {
                    ""
                };
                let last = show(t.last_okta_success_at);
                println!("{}\t{}\t{}\t{last}\t{lapses}{flag}", t.id, t.name, t.okta_url);
            }
        }
    }
    Ok(())
}

/// Validates and registers a tenant; the token is stored encrypted.
pub async fn add_tenant(
    store: &Store,
    cipher: &TokenCipher,
    config: &Config,
    name: &str,
    okta_url: &str,
    token: SecretString,
) -> anyhow::Result<Tenant> {
    let name = name.trim();
    anyhow::ensure!(!name.is_empty(), "the tenant name must not be empty");
    let url = OrgUrl::parse(okta_url, config.okta.allow_insecure_urls).map_err(|e| {
        anyhow::anyhow!("--okta-url: {e} (set DIRSYNC_OKTA__ALLOW_INSECURE_URLS=true only for a local simulator)")
    })?;
    let token = SecretString::from(secrecy::ExposeSecret::expose_secret(&token).trim().to_owned());
    anyhow::ensure!(
        !secrecy::ExposeSecret::expose_secret(&token).is_empty(),
        "the token file is empty"
    );
    let url = url.as_url().as_str().trim_end_matches('/').to_owned();
    Ok(store
        .tenants()
        .create(
            cipher,
            NewTenant {
                name,
                okta_url: &url,
                api_token: &token,
            },
        )
        .await?)
}
