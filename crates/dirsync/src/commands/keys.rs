use crate::{cli::KeysCommand, config::Config};
use dirsync_store::KeyRotation;

pub(super) async fn run(config: &Config, cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Rotate => {
            let (report, line) = rotate_keys(config).await?;
            println!("{line}");
            for (tenant, why) in &report.failed {
                eprintln!("tenant {tenant}: not re-encrypted: {why}");
            }
            anyhow::ensure!(
                report.failed.is_empty(),
                "{} token(s) could not be decrypted: add their key to `secrets.previous_keys.<id>` and run again",
                report.failed.len()
            );
        }
    }
    Ok(())
}

/// `dirsync keys rotate`: every tenant's token re-encrypted under the active
/// key; returns what was done and the line the command prints.
pub async fn rotate_keys(config: &Config) -> anyhow::Result<(KeyRotation, String)> {
    let cipher = super::cipher(config)?;
    let store = super::connect(config).await?;
    let report = store.tenants().rotate_token_keys(&cipher).await?;
    let line = format!(
        "re-encrypted {} token(s) under key `{}`; {} already were",
        report.re_encrypted,
        cipher.active_key_id(),
        report.already_current
    );
    Ok((report, line))
}
