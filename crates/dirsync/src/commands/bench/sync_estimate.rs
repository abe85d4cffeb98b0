//! How good a run's finish estimate is: sampled every half second while the
//! full run goes, then read at 25%, 50% and 75% of its real duration as the
//! ratio of the time it said was left to the time that really was (1.0 is
//! exact; above 1 it said later than it was, below 1 sooner).

use dirsync_domain::TenantId;
use dirsync_store::Store;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

const EVERY: Duration = Duration::from_millis(500);

/// What the run said was left, seconds after it was requested.
pub(super) struct Sample {
    at: f64,
    left: Option<f64>,
}

/// Samples the tenant's active run until `stop`.
pub(super) async fn sample(store: &Store, tenant: TenantId, stop: &CancellationToken) -> Vec<Sample> {
    let started = Instant::now();
    let mut samples = Vec::new();
    while !stop.is_cancelled() {
        if let Ok((_, Some(run))) = store.runs().latest_run_views(tenant).await
            && let Ok(status) = store.runs().status(&run).await
        {
            let now = OffsetDateTime::now_utc();
            samples.push(Sample {
                at: started.elapsed().as_secs_f64(),
                left: status.estimate.map(|e| (e.finish_at - now).as_seconds_f64().max(0.0)),
            });
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
    samples
}

/// The estimate at `fraction` of a run that took `wall` seconds: the time
/// it said was left over the time really left; `None` without an estimate
/// then.
pub(super) fn ratio_at(samples: &[Sample], wall: f64, fraction: f64) -> Option<(f64, f64, f64)> {
    let at = wall * fraction;
    let nearest = samples
        .iter()
        .min_by(|a, b| (a.at - at).abs().total_cmp(&(b.at - at).abs()))?;
    let left = nearest.left?;
    let really = (wall - nearest.at).max(0.001);
    Some((left, really, left / really))
}

/// One line: the estimate's accuracy at a quarter, half and three quarters.
pub(super) fn print(samples: &[Sample], wall: f64) {
    let parts: Vec<String> = [0.25, 0.5, 0.75]
        .into_iter()
        .map(|fraction| match ratio_at(samples, wall, fraction) {
            Some((said, really, ratio)) => format!(
                "at {:.0}%: said {said:.0} s left, really {really:.0} s (ratio {ratio:.2})",
                fraction * 100.0
            ),
            None => format!("at {:.0}%: no estimate yet", fraction * 100.0),
        })
        .collect();
    println!("finish estimate (estimated ÷ actual time left): {}", parts.join(" · "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_is_read_from_the_sample_nearest_the_fraction() {
        let samples = vec![
            Sample { at: 0.0, left: None },
            Sample {
                at: 24.0,
                left: Some(90.0),
            },
            Sample {
                at: 51.0,
                left: Some(49.0),
            },
        ];
        let (said, really, ratio) = ratio_at(&samples, 100.0, 0.25).unwrap();
        assert_eq!((said, really), (90.0, 76.0));
        assert!((ratio - 90.0 / 76.0).abs() < 1e-9);
        assert_eq!(ratio_at(&samples, 100.0, 0.5).unwrap().2, 1.0);
        assert!(ratio_at(&samples[..1], 100.0, 0.25).is_none());
    }
}
