use serde::Deserialize;
use std::time::Duration;

/// `writer.*` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriterConfig {
    /// A batch is written once it holds this many rows...
    pub batch_rows: usize,
    /// ...or once its first page has waited this long.
    pub batch_max_wait_ms: u64,
    /// Unacked pages the broker may hand this writer (must cover a batch).
    pub prefetch: u16,
    /// How often an idle outbox is looked at for change events to relay.
    pub relay_idle_ms: u64,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            batch_rows: 2_000,
            batch_max_wait_ms: 200,
            prefetch: 64,
            relay_idle_ms: 500,
        }
    }
}

impl WriterConfig {
    pub fn relay_idle(&self) -> Duration {
        Duration::from_millis(self.relay_idle_ms)
    }

    pub fn batch_max_wait(&self) -> Duration {
        Duration::from_millis(self.batch_max_wait_ms)
    }
}
