//! One batch of deliveries: decoded, applied in one transaction, acked.

use dirsync_domain::{PageFetched, WriterMessage};
use dirsync_queue::Delivery;
use dirsync_store::{PageBatch, Store, StoreError};
use std::collections::BTreeSet;
use uuid::Uuid;

/// What a batch came to, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchOutcome {
    pub pages_applied: usize,
    pub pages_duplicate: usize,
    pub poison: usize,
    /// Runs finalized by this batch.
    pub finalized: Vec<Uuid>,
}

/// Applies the deliveries' pages in one transaction, acks them after the
/// commit, then finalizes every run that may have become complete.
///
/// On a database error nothing is acked: the deliveries go back to the
/// queue (each retry counts towards the delivery limit).
pub async fn apply_batch(store: &Store, deliveries: Vec<Delivery>) -> Result<BatchOutcome, StoreError> {
    let mut outcome = BatchOutcome::default();
    let mut pages: Vec<PageFetched> = Vec::new();
    let mut runs: BTreeSet<Uuid> = BTreeSet::new();
    let mut readable = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        match delivery.decode::<WriterMessage>() {
            Ok(message) => {
                runs.insert(message.run_id());
                if let WriterMessage::PageFetched(page) = message {
                    pages.push(page);
                }
                readable.push(delivery);
            }
            Err(e) => {
                tracing::error!(error = %e, "unreadable page message; dead-lettering it");
                let _ = delivery.dead_letter().await;
                outcome.poison += 1;
            }
        }
    }
    let written = match store
        .apply_pages(PageBatch {
            pages: pages.iter().collect(),
        })
        .await
    {
        Ok(written) => written,
        Err(e) => {
            for delivery in &readable {
                let _ = delivery.requeue().await;
            }
            return Err(e);
        }
    };
    outcome.pages_applied = written.applied;
    outcome.pages_duplicate = written.duplicates;
    for delivery in &readable {
        // A failed ack only means a redelivery, which is skipped as a duplicate.
        if let Err(e) = delivery.ack().await {
            tracing::warn!(error = %e, "ack after commit failed; the page will come back as a duplicate");
        }
    }
    for run_id in runs {
        if store.try_finalize(run_id).await?.is_some() {
            tracing::info!(%run_id, "run succeeded");
            outcome.finalized.push(run_id);
        }
    }
    Ok(outcome)
}
