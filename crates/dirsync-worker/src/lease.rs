//! Keeps a run's lease alive while the worker walks it.

use dirsync_domain::RunId;
use dirsync_store::{Lease, Store};
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

/// Renews the lease every third of its lifetime. When the lease is lost (or
/// cannot be renewed before it would lapse), `stop` is cancelled and
/// [`Heartbeat::lost`] says so: the run belongs to someone else now.
pub(crate) struct Heartbeat {
    lost: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Heartbeat {
    pub(crate) fn start(
        store: Store,
        run_id: RunId,
        lease: Lease,
        ttl: Duration,
        stop: CancellationToken,
    ) -> Heartbeat {
        let lost = Arc::new(AtomicBool::new(false));
        let flag = lost.clone();
        let task = tokio::spawn(async move {
            let mut renewed = Instant::now();
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(ttl / 3) => {}
                }
                match store.runs().heartbeat(run_id, &lease, ttl).await {
                    Ok(true) => renewed = Instant::now(),
                    Ok(false) => break,
                    Err(e) => {
                        tracing::warn!(%run_id, error = %e, "lease renewal failed; retrying");
                        // Past the TTL another worker may have taken over.
                        if renewed.elapsed() < ttl {
                            continue;
                        }
                        break;
                    }
                }
            }
            tracing::warn!(%run_id, "lease lost; stopping work on the run");
            flag.store(true, Ordering::SeqCst);
            stop.cancel();
        });
        Heartbeat { lost, task }
    }

    pub(crate) fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}
