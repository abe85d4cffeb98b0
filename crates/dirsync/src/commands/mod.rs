//! One function per subcommand. `demo`, `bench` and `okta-sim` exist only
//! with the `dev-tools` feature: they link the Okta simulator and throwaway
//! test databases, which the release build leaves out.

#[cfg(feature = "dev-tools")]
mod bench;
#[cfg(feature = "dev-tools")]
mod demo;
mod keys;
mod roles;
#[cfg(feature = "dev-tools")]
mod sim;
mod sync;
mod tenant;

#[cfg(feature = "dev-tools")]
pub use bench::BenchCommand;
#[cfg(feature = "dev-tools")]
pub use demo::{DemoSummary, run_demo};
pub use keys::rotate_keys;
pub use roles::{Roles, run_roles};
pub use sync::start_sync;
pub use tenant::add_tenant;

use crate::{
    cli::{Cli, Command},
    config::Config,
};
use anyhow::Context;
use dirsync_store::{Store, TokenCipher};
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    let mut log = config.log.clone();
    if is_interactive(&cli.command) && log.filter == dirsync_telemetry::LogConfig::default().filter {
        // Interactive commands show a progress line; logs would scroll it away.
        log.filter = "warn".into();
    }
    if matches!(cli.command, Command::Openapi) {
        print!("{}", dirsync_api::openapi_json());
        return Ok(ExitCode::SUCCESS);
    }
    if matches!(cli.command, Command::Api | Command::All) {
        // Before connecting anywhere: a missing key is a configuration error.
        dirsync_api::ApiKeys::load(&config.api)?;
    }
    let telemetry = dirsync_telemetry::init(&log, &process(&cli.command))?;
    let shutdown = crate::shutdown::on_signal();
    let outcome = run(&config, cli.command, shutdown).await;
    // Whatever ended the command (done, an error, SIGTERM for a role), the
    // spans still buffered go to the collector before the process exits.
    telemetry.shutdown().await;
    outcome
}

/// Commands that draw a progress line.
fn is_interactive(command: &Command) -> bool {
    match command {
        Command::Sync(_) => true,
        #[cfg(feature = "dev-tools")]
        Command::Demo(_) | Command::Bench(_) => true,
        _ => false,
    }
}

/// This process as traces show it: the subcommand and the roles it runs.
fn process(command: &Command) -> dirsync_telemetry::Process {
    let none = Roles {
        api: false,
        scheduler: false,
        worker: false,
        writer: false,
        poller: false,
    };
    let (name, roles) = match command {
        Command::Migrate => ("migrate", none),
        Command::All => ("all", Roles::ALL),
        Command::Api => ("api", Roles::only_api()),
        Command::Scheduler => ("scheduler", Roles::only_scheduler()),
        Command::Worker => ("worker", Roles::only_worker()),
        Command::Writer => ("writer", Roles::only_writer()),
        Command::Poller => ("poller", Roles::only_poller()),
        Command::Tenant(_) => ("tenant", none),
        Command::Sync(_) => ("sync", none),
        Command::Run(_) => ("run", none),
        #[cfg(feature = "dev-tools")]
        Command::OktaSim(_) => ("okta-sim", none),
        // Both run the pipeline in this process.
        #[cfg(feature = "dev-tools")]
        Command::Demo(_) => ("demo", Roles::PIPELINE),
        #[cfg(feature = "dev-tools")]
        Command::Bench(_) => ("bench", Roles::PIPELINE),
        Command::Keys(_) => ("keys", none),
        Command::ConfirmDeletions { .. } => ("confirm-deletions", none),
        Command::Openapi => ("openapi", none),
    };
    dirsync_telemetry::Process {
        command: name,
        roles: roles.names(),
        version: env!("CARGO_PKG_VERSION"),
    }
}

async fn run(config: &Config, command: Command, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    match command {
        Command::Migrate => {
            let store = connect(config).await?;
            store.migrate().await?;
            println!("migrations applied");
        }
        Command::All => {
            let store = connect(config).await?;
            store.migrate().await.context("applying migrations")?;
            run_roles(config, store, Some(cipher(config)?), Roles::ALL, shutdown).await?;
        }
        Command::Api => {
            let cipher = cipher(config)?;
            run_roles(
                config,
                connect(config).await?,
                Some(cipher),
                Roles::only_api(),
                shutdown,
            )
            .await?
        }
        Command::Scheduler => {
            run_roles(config, connect(config).await?, None, Roles::only_scheduler(), shutdown).await?
        }
        Command::Worker => {
            let cipher = cipher(config)?;
            run_roles(
                config,
                connect(config).await?,
                Some(cipher),
                Roles::only_worker(),
                shutdown,
            )
            .await?
        }
        Command::Writer => run_roles(config, connect(config).await?, None, Roles::only_writer(), shutdown).await?,
        Command::Poller => {
            anyhow::ensure!(
                config.poller.enabled,
                "the poller is off: set `poller.enabled = true` (DIRSYNC_POLLER__ENABLED=true)"
            );
            let cipher = cipher(config)?;
            run_roles(
                config,
                connect(config).await?,
                Some(cipher),
                Roles::only_poller(),
                shutdown,
            )
            .await?
        }
        Command::Tenant(cmd) => tenant::run(config, cmd).await?,
        Command::Sync(args) => return sync::run(config, args).await,
        Command::Run(args) => {
            let store = connect(config).await?;
            let run = store.runs().get(args.run_id).await?;
            println!("{}", crate::progress::progress_line(&run));
            println!("{}", crate::progress::outcome(&run).0);
        }
        #[cfg(feature = "dev-tools")]
        Command::OktaSim(args) => sim::run(args, shutdown).await?,
        Command::Keys(cmd) => keys::run(config, cmd).await?,
        Command::ConfirmDeletions { run_id } => {
            let store = connect(config).await?;
            match store.runs().confirm_deletions(run_id).await? {
                Some(run) => println!("{}", crate::progress::outcome(&run).0),
                None => anyhow::bail!("run {run_id} is not waiting for a deletion review"),
            }
        }
        #[cfg(feature = "dev-tools")]
        Command::Bench(cmd) => bench::run(config, cmd, shutdown).await?,
        Command::Openapi => unreachable!("answered above"),
        #[cfg(feature = "dev-tools")]
        Command::Demo(args) => {
            run_demo(config, &args, shutdown).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn connect(config: &Config) -> anyhow::Result<Store> {
    Ok(Store::connect(&config.database).await?)
}

pub(crate) fn cipher(config: &Config) -> anyhow::Result<TokenCipher> {
    Ok(TokenCipher::from_config(&config.secrets)?)
}
