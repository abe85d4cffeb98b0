//! The per-tenant and fleet gauges, read from the database every
//! `scheduler.metrics_interval_secs`: the scheduler is the one role whose
//! replicas are few, so these series exist once or twice, not once per
//! worker (dashboards and alerts take `max` over instances).

use dirsync_domain::token_lapses_at;
use dirsync_store::{FleetHealth, Store};
use dirsync_telemetry::metrics::{GaugeSet, Metrics, prometheus_client::metrics::gauge::Gauge};
use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// The gauges this role exports.
#[derive(Clone, Debug)]
pub(crate) struct FleetGauges {
    last_success: GaugeSet,
    token_lapse: GaugeSet,
    failures: GaugeSet,
    active: GaugeSet,
    tenants: Gauge,
    outbox: Gauge,
}

impl FleetGauges {
    pub(crate) fn register(metrics: &Metrics) -> FleetGauges {
        let tenants = Gauge::default();
        metrics.register("tenants", "Tenants registered", tenants.clone());
        let outbox = Gauge::default();
        metrics.register(
            "outbox_backlog_events",
            "Change events in the outbox not yet published",
            outbox.clone(),
        );
        FleetGauges {
            last_success: GaugeSet::register(
                metrics,
                "tenant_last_success_timestamp_seconds",
                "End of the tenant's last successful sync (Unix time)",
                "tenant",
            ),
            token_lapse: GaugeSet::register(
                metrics,
                "tenant_token_lapse_timestamp_seconds",
                "When Okta revokes the tenant's token if nothing uses it: 30 days after its last successful use (Unix time)",
                "tenant",
            ),
            failures: GaugeSet::register(
                metrics,
                "tenant_consecutive_failures",
                "Failed runs of the tenant since its last success",
                "tenant",
            ),
            active: GaugeSet::register(metrics, "runs_active", "Runs not ended, by state", "state"),
            tenants,
            outbox,
        }
    }

    fn set(&self, fleet: &FleetHealth) {
        let unix = |t: OffsetDateTime| t.unix_timestamp_nanos() as f64 / 1e9;
        let mut last_success = Vec::new();
        let mut token_lapse = Vec::new();
        let mut failures = Vec::new();
        for t in &fleet.tenants {
            let id = t.tenant_id.to_string();
            if let Some(at) = t.last_success {
                last_success.push((id.clone(), unix(at)));
            }
            if let Some(at) = token_lapses_at(t.last_okta_success) {
                token_lapse.push((id.clone(), unix(at)));
            }
            failures.push((id, t.consecutive_failures as f64));
        }
        self.last_success.replace(last_success);
        self.token_lapse.replace(token_lapse);
        self.failures.replace(failures);
        self.active.replace(vec![
            ("queued".into(), fleet.queued_runs as f64),
            ("running".into(), fleet.running_runs as f64),
        ]);
        self.tenants.set(fleet.tenants.len() as i64);
        self.outbox.set(fleet.outbox_backlog);
    }

    /// Refreshes every `interval` until `shutdown`; a failed read keeps the
    /// last values (a database outage shows in `/readyz` and in the runs).
    pub(crate) async fn refresh(self, store: Store, interval: Duration, shutdown: CancellationToken) {
        loop {
            match store.tenants().fleet_health().await {
                Ok(fleet) => self.set(&fleet),
                Err(e) => tracing::warn!(error = %e, "reading the fleet's health for metrics failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}
