use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// dirsync keeps an exact, fresh copy of customers' Okta directories in PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "dirsync", version, about)]
pub struct Cli {
    /// A TOML configuration file (environment variables override it).
    #[arg(long, global = true, env = "DIRSYNC_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply the database migrations.
    Migrate,
    /// Run every role (api, scheduler, worker, writer, and the poller if enabled) in one process.
    All,
    /// Run the HTTP API.
    Api,
    /// Run the scheduler.
    Scheduler,
    /// Run a worker (fetches from Okta).
    Worker,
    /// Run a writer (writes to PostgreSQL).
    Writer,
    /// Run the System Log poller (minutes-fresh changes; needs `poller.enabled`).
    Poller,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Start a sync of a tenant (by id or unique name).
    Sync(SyncArgs),
    /// Show a sync run.
    Run(RunArgs),
    /// Serve a simulated Okta org (for tests and trials).
    #[cfg(feature = "dev-tools")]
    OktaSim(SimArgs),
    /// Sync a simulated org end to end through RabbitMQ and PostgreSQL.
    #[cfg(feature = "dev-tools")]
    Demo(DemoArgs),
    /// Manage the token encryption keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Apply the removals of a run held in `needs_review`.
    ConfirmDeletions { run_id: dirsync_domain::RunId },
    /// Measure: results go to docs/BENCHMARKS.md.
    #[cfg(feature = "dev-tools")]
    #[command(subcommand)]
    Bench(crate::commands::BenchCommand),
    /// Print the HTTP API's OpenAPI document (`docs/openapi.json` is its output).
    #[command(hide = true)]
    Openapi,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-encrypt every tenant's token under the active key (`secrets.key_id` /
    /// `secrets.key`), reading older tokens with `secrets.previous_keys`.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Register a tenant; prints its id (and, for a service app, the
    /// public key to add in Okta with the setup steps).
    Add {
        #[arg(long)]
        name: String,
        /// The org's instance URL, e.g. `https://acme.okta.com` or a custom domain.
        #[arg(long)]
        okta_url: String,
        /// A file holding the Okta API token (never pass a token as an argument).
        #[arg(long, required_unless_present = "service_app", conflicts_with = "service_app")]
        token_file: Option<PathBuf>,
        /// Sync through an OAuth 2.0 service app instead of a token: a key
        /// pair is made now; its public key goes into the app in Okta.
        #[arg(long)]
        service_app: bool,
        /// The service app's Client ID, if it exists already (else give it
        /// later with `tenant service-app TENANT --client-id ID`).
        #[arg(long, requires = "service_app")]
        client_id: Option<String>,
        /// The key pair's algorithm.
        #[arg(long, value_enum, default_value = "es256", requires = "service_app")]
        key_algorithm: KeyAlgorithmArg,
    },
    /// Show a tenant's service app setup (public keys as a JWKS document,
    /// scopes, role, steps); with `--client-id`, switch the tenant to the
    /// service app (its directory is kept); with `--new-key`, make a key
    /// pair first (pending until saved with `--client-id`).
    ServiceApp {
        /// Tenant id or unique name.
        tenant: String,
        #[arg(long)]
        client_id: Option<String>,
        #[arg(long)]
        new_key: bool,
        #[arg(long, value_enum, default_value = "es256")]
        key_algorithm: KeyAlgorithmArg,
    },
    /// List tenants.
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyAlgorithmArg {
    Es256,
    Rs256,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Full,
    Incremental,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Tenant id or unique name.
    pub tenant: String,
    #[arg(long, value_enum, default_value = "full")]
    pub mode: ModeArg,
    /// Wait for the run to end, showing progress; the exit code tells how it ended.
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    pub run_id: dirsync_domain::RunId,
}

#[cfg(feature = "dev-tools")]
#[derive(Debug, Args)]
pub struct SimArgs {
    #[arg(long, default_value_t = 8181)]
    pub port: u16,
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    #[arg(long, default_value_t = 50)]
    pub groups: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The token the simulator accepts (read from this environment variable's value).
    #[arg(long, env = "OKTA_SIM_TOKEN", default_value = "sim-token", hide_env_values = true)]
    pub token: String,
}

#[cfg(feature = "dev-tools")]
#[derive(Debug, Args)]
pub struct DemoArgs {
    #[arg(long, default_value_t = 10_000)]
    pub users: usize,
    #[arg(long, default_value_t = 300)]
    pub groups: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}
