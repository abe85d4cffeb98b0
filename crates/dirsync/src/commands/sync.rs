use crate::{
    cli::{ModeArg, SyncArgs},
    config::Config,
    progress,
};
use dirsync_domain::{SyncMode, Trigger};
use dirsync_queue::Broker;
use dirsync_store::{RunRecord, Store};
use indicatif::{ProgressBar, ProgressStyle};
use std::{process::ExitCode, time::Duration};

pub(super) async fn run(config: &Config, args: SyncArgs) -> anyhow::Result<ExitCode> {
    let store = super::connect(config).await?;
    let tenant = store.tenants().find(&args.tenant).await?;
    let mode = match args.mode {
        ModeArg::Full => SyncMode::Full,
        ModeArg::Incremental => SyncMode::Incremental,
    };
    let (run, created) = start_sync(config, &store, tenant.id, mode).await?;
    if created {
        eprintln!("sync {} queued for tenant {}", run.id, tenant.name);
    } else {
        eprintln!(
            "tenant {} already has an active sync {} ({}); following it",
            tenant.name,
            run.id,
            run.state()
        );
    }
    if !args.wait {
        println!("{}", run.id);
        return Ok(ExitCode::SUCCESS);
    }
    let bar = ProgressBar::new_spinner().with_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}")?);
    bar.enable_steady_tick(Duration::from_millis(120));
    // One line each time what the run waits for changes; the spinner
    // carries the counters in between.
    let mut told: Option<&'static str> = None;
    let finished = progress::wait_for_run_status(&store, run.id, Duration::from_secs(args.timeout), |r, status| {
        bar.set_message(progress::progress_line(r));
        let Some(status) = status else { return };
        let code = status.waiting_for.as_ref().map(|w| w.code());
        if code != told {
            told = code;
            if let Some(line) = progress::waiting_line(status, time::OffsetDateTime::now_utc()) {
                bar.println(line);
            }
        }
    })
    .await?;
    bar.finish_and_clear();
    let Some(finished) = finished else {
        eprintln!(
            "sync {} still running after {} s; follow it with `dirsync run {}`",
            run.id, args.timeout, run.id
        );
        return Ok(ExitCode::from(4));
    };
    let (line, code) = progress::outcome(&finished);
    if code == 0 {
        println!("{line}")
    } else {
        eprintln!("{line}")
    }
    Ok(ExitCode::from(code))
}

/// Creates a manual run (or finds the active one) and sends its request.
pub async fn start_sync(
    config: &Config,
    store: &Store,
    tenant_id: dirsync_domain::TenantId,
    mode: SyncMode,
) -> anyhow::Result<(RunRecord, bool)> {
    let broker = Broker::connect(&config.amqp, "dirsync-cli").await?;
    let publisher = broker.publisher().await?;
    let result =
        dirsync_request::request_sync(store, &publisher, broker.topology(), tenant_id, mode, Trigger::Manual).await;
    broker.close().await;
    Ok(result?)
}
