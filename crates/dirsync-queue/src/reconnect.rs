//! One way for every role to keep its broker session alive: run the
//! session; when it fails (the broker or the database went away), wait and
//! run it again, until shutdown. The waits grow from 200 ms to 5 s with
//! jitter, so a fleet of workers whose broker restarted does not reconnect
//! in lockstep, and start again from 200 ms after a session that stayed up
//! a minute (a blip a day later is not treated as the tenth in a row).

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use std::{fmt::Display, future::Future, time::Duration};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const MIN_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(5);
/// A session that lasted this long was healthy: the backoff starts over.
const HEALTHY: Duration = Duration::from_secs(60);

fn backoff() -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_jitter()
        .with_min_delay(MIN_DELAY)
        .with_max_delay(MAX_DELAY)
        .without_max_times()
        .build()
}

/// Runs `session` until it returns `Ok` (it does at shutdown) or `shutdown`
/// is cancelled, running it again after each error. `role` names the role
/// in the log line each failure gets.
pub async fn keep_session<E, F, Fut>(role: &str, shutdown: &CancellationToken, mut session: F)
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let mut delays = backoff();
    while !shutdown.is_cancelled() {
        let started = Instant::now();
        let Err(e) = session().await else { break };
        if started.elapsed() >= HEALTHY {
            delays = backoff();
        }
        let delay = delays.next().unwrap_or(MAX_DELAY);
        tracing::warn!(
            error = %e,
            retry_in_ms = delay.as_millis() as u64,
            "{role} lost the broker or the database; reconnecting"
        );
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    };

    #[tokio::test(start_paused = true)]
    async fn a_failing_session_is_run_again_with_growing_bounded_waits_until_it_ends() {
        let shutdown = CancellationToken::new();
        let runs = Arc::new(AtomicU32::new(0));
        let started = Instant::now();
        let counted = runs.clone();
        keep_session("test", &shutdown, || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move { if n < 6 { Err("broker gone") } else { Ok(()) } }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 7);
        // Six waits: at least 0.2 + 0.4 + 0.8 + 1.6 + 3.2 + 5 s less
        // jitter's nothing (jitter only adds), at most twice the cap each.
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(200 + 400 + 800 + 1600 + 3200 + 5000),
            "{waited:?}"
        );
        assert!(waited <= MAX_DELAY * 2 * 6, "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_the_wait_at_once() {
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        keep_session("test", &shutdown, move || {
            counted.fetch_add(1, Ordering::SeqCst);
            stop.cancel();
            async { Err::<(), _>("broker gone") }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
