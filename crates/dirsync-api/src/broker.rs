//! One AMQP connection for the whole API process, made on first use and
//! made again after it drops: a Run Sync click must not pay for a connect
//! (and a topology declare) every time, and `/readyz` must not open a
//! connection per probe.

use dirsync_queue::{Broker, Publisher, QueueConfig, QueueError, Topology};
use tokio::sync::Mutex;

pub(crate) struct BrokerHandle {
    config: QueueConfig,
    connected: Mutex<Option<Connected>>,
}

struct Connected {
    broker: Broker,
    publisher: Publisher,
}

impl BrokerHandle {
    pub(crate) fn new(config: QueueConfig) -> BrokerHandle {
        BrokerHandle {
            config,
            connected: Mutex::new(None),
        }
    }

    /// A live publisher and the topology, connecting if needed.
    pub(crate) async fn publisher(&self) -> Result<(Publisher, Topology), QueueError> {
        let mut slot = self.connected.lock().await;
        if let Some(c) = slot.as_ref()
            && c.broker.is_connected()
            && c.publisher.is_open()
        {
            return Ok((c.publisher.clone(), c.broker.topology().clone()));
        }
        if let Some(stale) = slot.take() {
            stale.broker.close().await;
        }
        let broker = Broker::connect(&self.config, "dirsync-api").await?;
        let publisher = broker.publisher().await?;
        let out = (publisher.clone(), broker.topology().clone());
        *slot = Some(Connected { broker, publisher });
        Ok(out)
    }

    /// Forgets the connection after a publish failed on it.
    pub(crate) async fn reset(&self) {
        if let Some(stale) = self.connected.lock().await.take() {
            stale.broker.close().await;
        }
    }
}
