use crate::config::Config;
use dirsync_api::{ApiDeps, Resolver, UrlPolicy};
use dirsync_scheduler::SchedulerDeps;
use dirsync_store::{Store, TokenCipher};
use dirsync_worker::{WorkerDeps, poller::PollerDeps};
use dirsync_writer::WriterDeps;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Which roles a process runs.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    pub api: bool,
    pub scheduler: bool,
    pub worker: bool,
    pub writer: bool,
    /// The System Log poller; it starts only when `poller.enabled`.
    pub poller: bool,
}

impl Roles {
    pub const ALL: Roles = Roles {
        api: true,
        scheduler: true,
        worker: true,
        writer: true,
        poller: true,
    };
    /// What a sync needs: no HTTP listener.
    pub const PIPELINE: Roles = Roles {
        api: false,
        scheduler: true,
        worker: true,
        writer: true,
        poller: true,
    };

    pub fn only_api() -> Roles {
        Roles {
            api: true,
            scheduler: false,
            worker: false,
            writer: false,
            poller: false,
        }
    }

    pub fn only_scheduler() -> Roles {
        Roles {
            api: false,
            scheduler: true,
            worker: false,
            writer: false,
            poller: false,
        }
    }

    pub fn only_worker() -> Roles {
        Roles {
            api: false,
            scheduler: false,
            worker: true,
            writer: false,
            poller: false,
        }
    }

    pub fn only_writer() -> Roles {
        Roles {
            api: false,
            scheduler: false,
            worker: false,
            writer: true,
            poller: false,
        }
    }

    pub fn only_poller() -> Roles {
        Roles {
            api: false,
            scheduler: false,
            worker: false,
            writer: false,
            poller: true,
        }
    }

    /// The roles' names, for the `dirsync.roles` trace resource attribute.
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.api, "api"),
            (self.scheduler, "scheduler"),
            (self.worker, "worker"),
            (self.writer, "writer"),
            (self.poller, "poller"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

/// Runs the chosen roles until `shutdown` (or until one of them fails,
/// which stops the others: a half-running process is worse than a restart).
pub async fn run_roles(
    config: &Config,
    store: Store,
    cipher: Option<TokenCipher>,
    roles: Roles,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut tasks: JoinSet<anyhow::Result<()>> = JoinSet::new();
    let queue = config.amqp.clone();
    // One registry per process, whatever roles it runs; served by the API
    // and on the probe port.
    let metrics = dirsync_telemetry::metrics::Metrics::new();
    let health = dirsync_telemetry::health::Health::default();
    metrics.register_collector(health.clone());
    if roles.api {
        let cipher = cipher
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the API needs the token encryption key"))?;
        let deps = ApiDeps {
            store: store.clone(),
            queue: queue.clone(),
            cipher,
            url_policy: UrlPolicy {
                allow_insecure: config.okta.allow_insecure_urls,
                resolver: Resolver::system(),
            },
            okta_client: config.okta.client.clone(),
            metrics: metrics.clone(),
        };
        tasks.spawn(dirsync_api::run(config.api.clone(), deps, shutdown.clone()));
    }
    if roles.scheduler {
        let deps = SchedulerDeps {
            store: store.clone(),
            queue: queue.clone(),
            broker_up: health.flag("broker:scheduler"),
            metrics: metrics.clone(),
        };
        tasks.spawn(dirsync_scheduler::run(config.scheduler.clone(), deps, shutdown.clone()));
    }
    if roles.worker {
        let cipher = cipher
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the worker needs the token encryption key"))?;
        let deps = WorkerDeps {
            store: store.clone(),
            cipher,
            okta: config.okta.clone(),
            queue: queue.clone(),
            broker_up: health.flag("broker:worker"),
            metrics: metrics.clone(),
        };
        tasks.spawn(dirsync_worker::run(config.worker.clone(), deps, shutdown.clone()));
    }
    if roles.poller && config.poller.enabled {
        config
            .poller
            .validate()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        let cipher = cipher
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the poller needs the token encryption key"))?;
        let deps = PollerDeps {
            store: store.clone(),
            cipher,
            okta: config.okta.clone(),
            metrics: dirsync_worker::poller::PollerMetrics::register(&metrics),
        };
        tasks.spawn(dirsync_worker::poller::run(
            config.poller.clone(),
            deps,
            shutdown.clone(),
        ));
    }
    if roles.writer {
        let deps = WriterDeps {
            store: store.clone(),
            queue,
            broker_up: health.flag("broker:writer"),
            metrics: metrics.clone(),
        };
        tasks.spawn(dirsync_writer::run(config.writer.clone(), deps, shutdown.clone()));
    }
    let probes = match config.telemetry.listen.as_str() {
        "" => None,
        listen => match crate::probes::serve(listen, store.clone(), health, metrics, shutdown.clone()).await {
            Ok((_, task)) => Some(task),
            // Another process on this host has the port (two roles started
            // side by side on a laptop): the roles run, without probes. In
            // a pod the port is the pod's own, and a failing probe shows it.
            Err(e)
                if e.downcast_ref::<std::io::Error>().map(std::io::Error::kind)
                    == Some(std::io::ErrorKind::AddrInUse) =>
            {
                tracing::warn!(error = %e, "probes not served: set `telemetry.listen` to a free address");
                None
            }
            Err(e) => {
                shutdown.cancel();
                while tasks.join_next().await.is_some() {}
                return Err(e);
            }
        },
    };
    let mut outcome = Ok(());
    while let Some(done) = tasks.join_next().await {
        let result = done.map_err(anyhow::Error::from).and_then(|r| r);
        if let Err(e) = result {
            shutdown.cancel();
            if outcome.is_ok() {
                outcome = Err(e);
            }
        }
    }
    shutdown.cancel();
    if let Some(probes) = probes {
        let _ = probes.await;
    }
    outcome
}
