//! The System Log poller (`dirsync poller`): minutes-fresh changes between
//! daily runs. For each tenant synced at least once it follows Okta's
//! System Log in polling mode (a `since` once, then the `next` link
//! forever, the cursor in PostgreSQL), reads by id what the events name,
//! and applies it with the writer's upserts and change rules
//! (`Directory::apply_log_changes`). It never replaces the daily run: the
//! run still reconciles everything, including what the log never shows.
//!
//! | file | what |
//! |---|---|
//! | `events.rs` | the event types asked for, and the read each asks for |
//! | `budget.rs` | the per-tenant token bucket and the idle backoff |
//! | `poll.rs` | one poll of one tenant |
//! | `mod.rs` | settings, claiming due tenants, the loop |
//!
//! Several poller processes share the tenants through leases on their
//! cursors (`SystemLog::claim_due`). It lives in the worker crate because
//! it is the worker's kind of work: it builds each tenant's Okta client the
//! way the worker does ([`crate::tenant_client`]), with the `okta.*`
//! settings, and turns Okta's users and groups into records with the
//! worker's conversion; a crate of its own would depend on this one.

mod budget;
mod events;
mod metrics;
mod poll;

pub use budget::{TenantBudget, TokenBucket, next_interval};
pub use events::{EVENT_TYPES, Wanted};
pub use metrics::PollerMetrics;
pub use poll::{PollError, PollReport, poll_tenant};

use crate::OktaSettings;
use dirsync_domain::TenantId;
use dirsync_okta::OktaClient;
use dirsync_store::{ClaimedCursor, LogApplied, PollEnd, Store, StoreError, TokenCipher};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// `poller.*` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollerConfig {
    /// Whether `dirsync poller` (and `dirsync all`) polls at all.
    pub enabled: bool,
    /// Seconds between two polls of a tenant with changes. Okta's System
    /// Log allows 120 requests a minute at most, shared with the
    /// customer's tools: 10 s is 6 a minute.
    pub interval: u64,
    /// Seconds an idle tenant's interval grows to (doubling per empty poll):
    /// the longest a change waits without an Event Hook (60: 60 log
    /// requests an idle tenant-hour).
    pub max_interval: u64,
    /// Share of the tenant's token budget (per endpoint family) that reads
    /// by id may use.
    pub budget_share: f64,
    /// Tenants one process polls at once.
    pub concurrency: usize,
    /// Events a log page holds (Okta: at most 1000).
    pub page_size: u32,
    /// Seconds a claimed cursor stays leased (a poll waits for budget
    /// inside it); a poller that died loses its tenants after this.
    pub lease_ttl: u64,
    /// Milliseconds between two looks for due tenants.
    pub tick_ms: u64,
}

impl Default for PollerConfig {
    fn default() -> Self {
        PollerConfig {
            enabled: false,
            interval: 10,
            max_interval: 60,
            budget_share: 0.05,
            concurrency: 16,
            page_size: 200,
            lease_ttl: 300,
            tick_ms: 1000,
        }
    }
}

impl PollerConfig {
    /// Fails fast naming the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.interval == 0 {
            return Err("poller.interval must be at least 1 (seconds)".into());
        }
        if self.max_interval < self.interval {
            return Err("poller.max_interval must be at least poller.interval".into());
        }
        if !(self.budget_share > 0.0 && self.budget_share <= 0.5) {
            return Err("poller.budget_share must be above 0 and at most 0.5".into());
        }
        if !(1..=1000).contains(&self.page_size) {
            return Err("poller.page_size must be between 1 and 1000".into());
        }
        Ok(())
    }

    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval.max(1))
    }

    pub fn max_interval(&self) -> Duration {
        Duration::from_secs(self.max_interval.max(self.interval.max(1)))
    }
}

/// What the poller needs from the outside.
#[derive(Clone)]
pub struct PollerDeps {
    pub store: Store,
    pub cipher: TokenCipher,
    pub okta: OktaSettings,
    /// Registered once per process ([`PollerMetrics::register`]).
    pub metrics: PollerMetrics,
}

/// Clients are rebuilt after this, so replaced credentials take effect.
const CLIENT_TTL: Duration = Duration::from_secs(600);

/// One poller process: its identity in leases, its clients and budgets.
pub struct Poller {
    pub config: PollerConfig,
    pub deps: PollerDeps,
    /// Identifies this process in cursor leases.
    pub owner: String,
    clients: Mutex<HashMap<TenantId, (OktaClient, Instant)>>,
    budgets: Mutex<HashMap<TenantId, TenantBudget>>,
}

impl Poller {
    pub fn new(config: PollerConfig, deps: PollerDeps) -> Poller {
        let owner = format!(
            "{}/poller-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "dirsync".into()),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Poller {
            config,
            deps,
            owner,
            clients: Mutex::default(),
            budgets: Mutex::default(),
        }
    }

    /// One step (what tests drive): enrolls newly synced tenants, claims the
    /// due ones (up to `concurrency`), polls them side by side and
    /// schedules each one's next poll.
    pub async fn poll_due(&self) -> Result<Vec<(TenantId, Result<PollReport, PollError>)>, StoreError> {
        let log = self.deps.store.system_log();
        log.enroll().await?;
        let claimed = log
            .claim_due(
                &self.owner,
                self.config.concurrency.max(1) as i64,
                Duration::from_secs(self.config.lease_ttl.max(1)),
                self.config.interval(),
            )
            .await?;
        let polls = claimed.iter().map(|cursor| self.poll_one(cursor));
        Ok(futures::future::join_all(polls).await)
    }

    async fn poll_one(&self, cursor: &ClaimedCursor) -> (TenantId, Result<PollReport, PollError>) {
        let tenant = cursor.tenant_id;
        let outcome = self.poll_with_client(cursor).await;
        self.deps.metrics.poll_ended(&outcome);
        let interval = self.config.interval();
        let (idle, next_in, requests) = match &outcome {
            Ok(report) => {
                let idle = match report.applied {
                    LogApplied::Applied { .. } if report.events == 0 => cursor.idle_polls.saturating_add(1),
                    LogApplied::Applied { .. } => 0,
                    // Read again once the run has ended.
                    _ => cursor.idle_polls,
                };
                let next_in = match report.applied {
                    // A full page: more is waiting; the client's limiter
                    // paces the log's own budget.
                    LogApplied::Applied { .. } if report.events >= u64::from(self.config.page_size) => Duration::ZERO,
                    LogApplied::Applied { .. } => next_interval(interval, self.config.max_interval(), idle),
                    _ => interval,
                };
                (idle, next_in, report.requests)
            }
            Err(e) => {
                tracing::warn!(tenant_id = %tenant, error = %e, "system log poll failed");
                let idle = cursor.idle_polls.saturating_add(1);
                (idle, next_interval(interval, self.config.max_interval(), idle), 1)
            }
        };
        let log = self.deps.store.system_log();
        let ended = match &outcome {
            Err(e) if e.forbidden() => log.disable(tenant, &self.owner, &e.to_string()).await,
            _ => {
                let end = PollEnd {
                    next_in,
                    idle_polls: idle,
                    okta_requests: requests,
                };
                log.finish_poll(tenant, &self.owner, &end).await
            }
        };
        if let Err(e) = ended {
            tracing::warn!(tenant_id = %tenant, error = %e, "cannot end the poll; its lease will lapse");
        }
        (tenant, outcome)
    }

    async fn poll_with_client(&self, cursor: &ClaimedCursor) -> Result<PollReport, PollError> {
        let client = self.client(cursor.tenant_id).await?;
        let taken = self.budgets.lock().expect("not poisoned").remove(&cursor.tenant_id);
        let mut budget = taken.unwrap_or_else(|| {
            TenantBudget::new(
                self.config.budget_share,
                self.deps.okta.client.token_share,
                Instant::now(),
            )
        });
        let report = poll_tenant(self, &client, &mut budget, cursor).await;
        self.budgets
            .lock()
            .expect("not poisoned")
            .insert(cursor.tenant_id, budget);
        report
    }

    /// The tenant's client, built as the worker builds it and kept for
    /// [`CLIENT_TTL`] (its rate limiter learns from Okta's headers).
    async fn client(&self, tenant: TenantId) -> Result<OktaClient, PollError> {
        if let Some((client, built)) = self.clients.lock().expect("not poisoned").get(&tenant)
            && built.elapsed() < CLIENT_TTL
        {
            return Ok(client.clone());
        }
        let deps = &self.deps;
        let client = crate::tenant_client(
            &deps.store,
            &deps.cipher,
            &deps.okta,
            tenant,
            dirsync_okta::LOG_SCOPES,
            None,
        )
        .await
        .map_err(|e| PollError::Client(e.to_string()))?;
        self.clients
            .lock()
            .expect("not poisoned")
            .insert(tenant, (client.clone(), Instant::now()));
        Ok(client)
    }
}

/// Runs the poller until `shutdown`: a step every `poller.tick_ms` (at once
/// again when a step found work). A poll under way when shutdown comes
/// ends first; its lease is given back.
pub async fn run(config: PollerConfig, deps: PollerDeps, shutdown: CancellationToken) -> anyhow::Result<()> {
    let poller = Poller::new(config, deps);
    tracing::info!(owner = %poller.owner, "poller polling");
    let tick = Duration::from_millis(poller.config.tick_ms.max(10));
    while !shutdown.is_cancelled() {
        let busy = match poller.poll_due().await {
            Ok(polled) => !polled.is_empty(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim due tenants");
                false
            }
        };
        if !busy {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(tick) => {}
            }
        }
    }
    Ok(())
}
