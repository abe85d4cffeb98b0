use crate::{Consumer, Publisher, QueueConfig, QueueError, Topology, error::bounded};
use lapin::{
    Connection, ConnectionProperties,
    options::{BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions},
    types::FieldTable,
};

/// One AMQP connection of one role, with the topology declared.
///
/// There is no automatic recovery: when the connection fails, every
/// publish, ack and consumer on it fails too, and the role's loop builds a
/// new `Broker`.
pub struct Broker {
    connection: std::sync::Arc<Connection>,
    topology: Topology,
    config: QueueConfig,
}

impl Broker {
    /// Connects (named after the role, so it shows in RabbitMQ's management
    /// UI) and declares the topology.
    pub async fn connect(config: &QueueConfig, name: &str) -> Result<Broker, QueueError> {
        let props = ConnectionProperties::default().with_connection_name(name.into());
        let connection = match tokio::time::timeout(config.timeout(), Connection::connect(&config.url, props)).await {
            Ok(Ok(c)) => c,
            Ok(Err(source)) => {
                return Err(QueueError::Unreachable {
                    address: config.redacted_url(),
                    source,
                });
            }
            Err(_) => {
                return Err(QueueError::Timeout {
                    operation: "connect",
                    seconds: config.timeout().as_secs_f64(),
                });
            }
        };
        let topology = Topology::new(&config.prefix, config.delivery_limit);
        let channel = connection.create_channel().await?;
        bounded("declare topology", config.timeout(), topology.declare(&channel)).await?;
        let _ = channel.close(200, "declared".into()).await;
        Ok(Broker {
            connection: std::sync::Arc::new(connection),
            topology,
            config: config.clone(),
        })
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    pub fn is_connected(&self) -> bool {
        self.connection.status().connected()
    }

    /// A channel in confirm mode for publishing.
    pub async fn publisher(&self) -> Result<Publisher, QueueError> {
        let channel = confirm_channel(&self.connection, self.config.timeout()).await?;
        Ok(Publisher::new(
            self.connection.clone(),
            channel,
            self.topology.exchange(),
            &self.config,
        ))
    }

    /// A consumer on its own channel with manual acks and `prefetch`
    /// unacknowledged deliveries at most (per consumer, never global QoS).
    pub async fn consumer(&self, queue: &str, prefetch: u16, tag: &str) -> Result<Consumer, QueueError> {
        let channel = self.connection.create_channel().await?;
        channel.basic_qos(prefetch, BasicQosOptions { global: false }).await?;
        let inner = channel
            .basic_consume(
                queue.into(),
                tag.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(Consumer::new(channel, inner, self.config.timeout()))
    }

    /// Deletes this prefix's queues and exchanges (tests).
    pub async fn delete_topology(&self) -> Result<(), QueueError> {
        let channel = self.connection.create_channel().await?;
        let deleted = self.topology.delete(&channel).await;
        let _ = channel.close(200, "deleted".into()).await;
        deleted
    }

    /// Closes politely: unacked deliveries go back to their queues at once.
    pub async fn close(&self) {
        let _ = tokio::time::timeout(self.config.timeout(), self.connection.close(200, "bye".into())).await;
    }
}

/// A new channel in confirm mode.
pub(crate) async fn confirm_channel(
    connection: &Connection,
    timeout: std::time::Duration,
) -> Result<lapin::Channel, QueueError> {
    let channel = connection.create_channel().await?;
    bounded(
        "confirm.select",
        timeout,
        channel.confirm_select(ConfirmSelectOptions::default()),
    )
    .await?;
    Ok(channel)
}
