use crate::{cli::KeysCommand, config::Config};

pub(super) async fn run(config: &Config, cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Rotate => {
            let cipher = super::cipher(config)?;
            let store = super::connect(config).await?;
            let report = store.rotate_token_keys(&cipher).await?;
            println!(
                "re-encrypted {} token(s) under key `{}`; {} already were",
                report.re_encrypted,
                cipher.active_key_id(),
                report.already_current
            );
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
