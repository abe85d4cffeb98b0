use dirsync_domain::ErrorCode;
use dirsync_okta::OktaError;
use dirsync_queue::QueueError;
use dirsync_store::StoreError;

/// Why a run stopped on this worker.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Okta (or the tenant's settings) made the run fail: recorded on the
    /// run with a code the customer can act on.
    #[error("{code}: {message}")]
    Failed { code: ErrorCode, message: String },
    /// Another worker owns the run now, or it ended: stop quietly.
    #[error("the run's lease was lost")]
    LeaseLost,
    /// This process is shutting down: the lease is released for another worker.
    #[error("shutting down")]
    Cancelled,
    /// The run's time slice is over: it goes to the back of its queue.
    #[error("time slice ended")]
    SliceEnded,
    /// Our own infrastructure failed (database, broker): the run is left to
    /// be resumed from its checkpoints, not failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl From<OktaError> for RunError {
    fn from(err: OktaError) -> RunError {
        // OktaError's text names the path and Okta's error code, never the token.
        RunError::Failed {
            code: err.to_error_code(),
            message: err.to_string(),
        }
    }
}
