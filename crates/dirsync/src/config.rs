//! Configuration, read once: defaults → optional TOML file → `DIRSYNC_*`
//! environment variables (`__` between levels) → the conventional
//! `DATABASE_URL` and `AMQP_URL`. Unknown keys are errors that name the key.

use dirsync_api::ApiConfig;
use dirsync_queue::QueueConfig;
use dirsync_scheduler::SchedulerConfig;
use dirsync_store::{SecretsConfig, StoreConfig};
use dirsync_telemetry::{LogConfig, TelemetryConfig};
use dirsync_worker::{OktaSettings, WorkerConfig, poller::PollerConfig};
use dirsync_writer::WriterConfig;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub database: StoreConfig,
    pub amqp: QueueConfig,
    pub okta: OktaSettings,
    pub secrets: SecretsConfig,
    pub worker: WorkerConfig,
    pub writer: WriterConfig,
    pub scheduler: SchedulerConfig,
    pub poller: PollerConfig,
    pub api: ApiConfig,
    pub log: LogConfig,
    pub telemetry: TelemetryConfig,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Loads from the process environment (and `file`, if given).
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Loads with an explicit environment (tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = env.into_iter().collect();
        let dirsync_vars: config::Map<String, String> =
            env.iter().filter(|(k, _)| k.starts_with("DIRSYNC_")).cloned().collect();
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!("config file {} does not exist", path.display())));
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        let source = config::Environment::with_prefix("DIRSYNC")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            .source(Some(dirsync_vars));
        let mut config: Config = builder
            .add_source(source)
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError(e.to_string()))?;
        let lookup = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        // The conventional names, unless the DIRSYNC_ form says otherwise.
        if let (Some(url), None) = (lookup("DATABASE_URL"), lookup("DIRSYNC_DATABASE__URL")) {
            config.database.url = url;
        }
        if let (Some(url), None) = (lookup("AMQP_URL"), lookup("DIRSYNC_AMQP__URL")) {
            config.amqp.url = url;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_point_at_the_local_services() {
        let config = Config::load_from(None, env(&[])).unwrap();
        assert_eq!(config.database.url, "postgres://postgres@127.0.0.1:5432/dirsync");
        assert_eq!(config.amqp.url, "amqp://guest:guest@127.0.0.1:5672/%2f");
        assert!(!config.okta.allow_insecure_urls);
    }

    #[test]
    fn environment_overrides_nested_keys_and_conventional_names() {
        let config = Config::load_from(
            None,
            env(&[
                ("DIRSYNC_OKTA__ALLOW_INSECURE_URLS", "true"),
                ("DIRSYNC_WORKER__CONCURRENCY", "7"),
                ("DATABASE_URL", "postgres://db/x"),
                ("AMQP_URL", "amqp://mq/%2f"),
            ]),
        )
        .unwrap();
        assert!(config.okta.allow_insecure_urls);
        assert_eq!(config.worker.concurrency, 7);
        assert_eq!(config.database.url, "postgres://db/x");
        assert_eq!(config.amqp.url, "amqp://mq/%2f");
    }

    #[test]
    fn the_poller_is_off_until_enabled_and_reads_its_keys() {
        assert!(!Config::load_from(None, env(&[])).unwrap().poller.enabled);
        let config = Config::load_from(
            None,
            env(&[
                ("DIRSYNC_POLLER__ENABLED", "true"),
                ("DIRSYNC_POLLER__INTERVAL", "5"),
                ("DIRSYNC_POLLER__MAX_INTERVAL", "120"),
                ("DIRSYNC_POLLER__BUDGET_SHARE", "0.1"),
            ]),
        )
        .unwrap();
        let poller = &config.poller;
        assert!(poller.enabled);
        assert_eq!(
            (poller.interval, poller.max_interval, poller.budget_share),
            (5, 120, 0.1)
        );
        assert_eq!(poller.validate(), Ok(()));
    }

    #[test]
    fn an_unknown_key_is_an_error_that_names_it() {
        let err = Config::load_from(None, env(&[("DIRSYNC_WORKER__CONCURENCY", "7")])).unwrap_err();
        assert!(err.to_string().contains("concurency"), "{err}");
    }

    #[test]
    fn a_toml_file_sits_between_defaults_and_environment() {
        let dir = std::env::temp_dir().join(format!("dirsync-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("dirsync.toml");
        std::fs::write(&file, "[writer]\nbatch_rows = 123\n[worker]\nconcurrency = 2\n").unwrap();
        let config = Config::load_from(Some(&file), env(&[("DIRSYNC_WORKER__CONCURRENCY", "9")])).unwrap();
        assert_eq!(config.writer.batch_rows, 123);
        assert_eq!(config.worker.concurrency, 9);
    }
}
