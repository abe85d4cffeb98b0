//! The dashboard and the alerts against a real Prometheus: the roles run as
//! separate processes of the real binary, a Prometheus (Debian's package)
//! scrapes each of them and RabbitMQ's own `rabbitmq_prometheus` endpoint
//! every second and loads `deploy/prometheus/alerts.yaml`; after one tenant
//! synced and one failed, every expression of every panel of
//! `deploy/grafana/dirsync.json` must return data, every alert rule must
//! evaluate without error, and every metric either names must be one that
//! something exports.

mod server;

use crate::{
    harness::{TestEnv, spec},
    processes::Fleet,
};
use dirsync_domain::{RunState, SyncMode};
use dirsync_okta_sim::SimConfig;
use serde_json::Value;
use server::{Prometheus, rabbitmq_prometheus, repo};
use std::{collections::BTreeSet, time::Duration};

const TOKEN: &str = "tok-prometheus";
const RABBIT_METRICS: &str = "127.0.0.1:15692";

/// Every `targets[].expr` of every panel (rows' panels included), with the
/// panel's title.
fn dashboard_expressions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("deploy/grafana/dirsync.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    fn walk(panel: &Value, out: &mut Vec<(String, String)>) {
        let title = panel["title"].as_str().unwrap_or_default().to_owned();
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push((title.clone(), expr.to_owned()));
            }
        }
        for inner in panel["panels"].as_array().into_iter().flatten() {
            walk(inner, out);
        }
    }
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        walk(panel, &mut out);
    }
    out
}

/// Every alert rule: (name, expression).
fn alert_rules() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("deploy/prometheus/alerts.yaml")).unwrap();
    let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let mut out = Vec::new();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            out.push((
                rule["alert"].as_str().unwrap().to_owned(),
                rule["expr"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

/// Grafana's variables as a dashboard user would have them.
fn as_grafana_would(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__range", "1h")
        .replace("${tenant}", ".*")
        .replace("$tenant", ".*")
}

/// The metric names an expression reads (`dirsync_*`, `rabbitmq_*`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &expr[i..];
        let at_word_start = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if at_word_start && (rest.starts_with("dirsync_") || rest.starts_with("rabbitmq_")) {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            names.insert(rest[..len].to_owned());
            i += len;
        } else {
            i += 1;
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_panel_and_alert_works_against_a_real_prometheus_scraping_every_role() {
    rabbitmq_prometheus();
    let env =
        TestEnv::start_without_roles("prometheus", spec(300, 12, 41), SimConfig::default().with_token(TOKEN)).await;
    let mut fleet = Fleet::start(&env, 1, 1, &[("DIRSYNC_SCHEDULER__METRICS_INTERVAL_SECS", "1")]);
    fleet.spawn_api("prometheus-test-key-0123456789", &[]);
    let mut prometheus = Prometheus::start(&fleet.metrics_targets());
    fleet
        .await_readiness(
            &["api-0", "worker-0", "writer-0", "scheduler-0"],
            true,
            Duration::from_secs(60),
        )
        .await;

    // Every role scraped before anything happens, so counters are seen
    // going up from their zeros.
    let targets = fleet.metrics_targets().len();
    prometheus
        .await_data(
            &format!(r#"count(up{{job="dirsync"}} == 1) == {targets}"#),
            Duration::from_secs(60),
        )
        .await;
    prometheus
        .await_data(r#"up{job="rabbitmq-detailed"} == 1"#, Duration::from_secs(30))
        .await;

    // One tenant syncs; another's token is wrong, so its run fails.
    let good = env.tenant("good", TOKEN).await;
    let bad = env.tenant("bad", "tok-not-this-one").await;
    // Per-row events (not one `directory.synced`), so event panels move by
    // the org's size: every row changes, and 100% keeps that per row.
    env.synced_before(good, 100.0).await;
    let mut runs = Vec::new();
    for tenant in [good, bad] {
        let (run, _) = dirsync::commands::start_sync(&env.config, &env.store, tenant, SyncMode::Full)
            .await
            .unwrap();
        runs.push(run.id);
    }
    let mut states = Vec::new();
    for run in runs {
        let done = dirsync::progress::wait_for_run(&env.store, run, Duration::from_secs(120), |_| {})
            .await
            .unwrap()
            .expect("the run ends");
        states.push(done.state());
    }
    assert_eq!(states, [RunState::Succeeded, RunState::Failed]);

    // Scraped after both ended, and twice more, so every rate has two samples.
    prometheus
        .await_data(
            r#"sum(dirsync_runs_total{outcome="failed",code="invalid_token"}) > 0"#,
            Duration::from_secs(60),
        )
        .await;
    prometheus
        .await_data(
            &format!(r#"dirsync_tenant_consecutive_failures{{tenant="{bad}"}} > 0"#),
            Duration::from_secs(60),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The zeros every series starts from would give a panel "data" even
    // if nothing were counted: what the sync must have moved, moved.
    let good_tenant = good.to_string();
    for expr in [
        r#"sum(dirsync_runs_total{outcome="succeeded"}) >= 1"#.to_owned(),
        r#"sum(dirsync_run_duration_seconds_count) >= 2"#.to_owned(),
        r#"sum(dirsync_run_start_delay_seconds_count) >= 2"#.to_owned(),
        r#"sum(dirsync_okta_requests_total{status="2xx"}) > 10"#.to_owned(),
        r#"sum(dirsync_okta_requests_total{status="4xx"}) >= 1"#.to_owned(),
        r#"sum(dirsync_okta_request_duration_seconds_count) > 10"#.to_owned(),
        r#"sum(dirsync_okta_rate_limit_remaining_ratio_count) > 10"#.to_owned(),
        r#"sum(dirsync_pages_written_total{kind="users"}) >= 1"#.to_owned(),
        r#"sum(dirsync_pages_written_total{kind="memberships"}) >= 1"#.to_owned(),
        r#"sum(dirsync_rows_written_total{kind="users",change="inserted"}) >= 300"#.to_owned(),
        r#"sum(dirsync_writer_batch_pages_count) >= 1"#.to_owned(),
        r#"sum(dirsync_change_events_written_total) >= 300"#.to_owned(),
        r#"sum(dirsync_change_events_published_total) >= 300"#.to_owned(),
        r#"sum(dirsync_broker_connected) == 3"#.to_owned(),
        format!(r#"dirsync_tenant_last_success_timestamp_seconds{{tenant="{good_tenant}"}} > 0"#),
        format!(r#"dirsync_tenant_token_lapse_timestamp_seconds{{tenant="{good_tenant}"}} > time()"#),
        r#"dirsync_tenants == 2"#.to_owned(),
    ] {
        prometheus.await_data(&expr, Duration::from_secs(30)).await;
    }

    let exported: BTreeSet<String> = prometheus.get("/api/v1/label/__name__/values", &[]).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let mut problems = Vec::new();
    let panels = dashboard_expressions();
    assert!(panels.len() >= 20, "the dashboard has {} expressions", panels.len());
    for (title, expr) in &panels {
        for name in metric_names(expr) {
            if !exported.contains(&name) {
                problems.push(format!("panel {title:?} reads {name}, which nothing exports"));
            }
        }
        match prometheus.query(&as_grafana_would(expr)).await {
            Ok(result) if result.is_empty() => problems.push(format!("panel {title:?} has no data: {expr}")),
            Ok(_) => {}
            Err(e) => problems.push(format!("panel {title:?} does not evaluate: {e}")),
        }
    }
    let alerts = alert_rules();
    for (alert, expr) in &alerts {
        for name in metric_names(expr) {
            if !exported.contains(&name) {
                problems.push(format!("alert {alert} reads {name}, which nothing exports"));
            }
        }
        if let Err(e) = prometheus.query(expr).await {
            problems.push(format!("alert {alert} does not evaluate: {e}"));
        }
    }
    // Prometheus itself evaluated every rule, without error.
    let loaded = prometheus.get("/api/v1/rules", &[]).await;
    let mut evaluated = BTreeSet::new();
    for group in loaded["data"]["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let name = rule["name"].as_str().unwrap().to_owned();
            if rule["health"] != "ok" {
                problems.push(format!("alert {name} is {}: {}", rule["health"], rule["lastError"]));
            }
            evaluated.insert(name);
        }
    }
    for (alert, _) in &alerts {
        if !evaluated.contains(alert) {
            problems.push(format!("alert {alert} was not loaded by Prometheus"));
        }
    }
    // With a worker and a writer consuming and the bad tenant failing once,
    // nothing should be firing that pages somebody.
    let firing = prometheus.get("/api/v1/alerts", &[]).await;
    for alert in firing["data"]["alerts"].as_array().unwrap() {
        if alert["state"] == "firing" && alert["labels"]["severity"] == "critical" {
            problems.push(format!(
                "critical alert firing after a healthy sync: {}",
                alert["labels"]
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    println!(
        "prometheus: {} panel expressions returned data and {} alert rules evaluated, over {} exported metric names",
        panels.len(),
        alerts.len(),
        exported.len()
    );
    drop(fleet);
    env.stop().await;
}
