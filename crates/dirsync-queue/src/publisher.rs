use crate::{QueueConfig, QueueError, broker::confirm_channel, error::bounded};
use lapin::{BasicProperties, Channel, Confirmation, Connection, options::BasicPublishOptions, types::FieldTable};
use serde::Serialize;
use std::{sync::Arc, time::Duration};
use tokio::sync::Mutex;

/// Publishes JSON messages and returns only once the broker has them.
///
/// When the broker closes the channel (a channel-level error) while the
/// connection lives, the next publish opens a new one: one bad publish
/// never stops every run sharing the publisher until a reconnect.
#[derive(Clone)]
pub struct Publisher {
    connection: Arc<Connection>,
    channel: Arc<Mutex<Channel>>,
    exchange: String,
    timeout: Duration,
    max_bytes: usize,
}

impl Publisher {
    pub(crate) fn new(
        connection: Arc<Connection>,
        channel: Channel,
        exchange: String,
        config: &QueueConfig,
    ) -> Publisher {
        Publisher {
            connection,
            channel: Arc::new(Mutex::new(channel)),
            exchange,
            timeout: config.timeout(),
            max_bytes: config.max_message_bytes,
        }
    }

    /// The channel, reopened first if the broker closed it.
    async fn channel(&self) -> Result<Channel, QueueError> {
        let mut channel = self.channel.lock().await;
        if !channel.status().connected() && self.connection.status().connected() {
            tracing::warn!("the broker closed the publisher channel; opening a new one");
            *channel = confirm_channel(&self.connection, self.timeout).await?;
        }
        Ok(channel.clone())
    }

    fn body<T: Serialize>(&self, routing_key: &str, message: &T) -> Result<Vec<u8>, QueueError> {
        let body = serde_json::to_vec(message)?;
        if body.len() > self.max_bytes {
            return Err(QueueError::TooLarge {
                routing_key: routing_key.to_owned(),
                bytes: body.len(),
                limit: self.max_bytes,
            });
        }
        Ok(body)
    }

    /// Persistent JSON, with the current span's trace context in the
    /// headers so the consumer's span continues this trace.
    fn properties(message_id: &str) -> BasicProperties {
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(message_id.into())
            .with_app_id("dirsync".into());
        let mut headers = FieldTable::default();
        crate::trace_context::inject_current(&mut headers);
        if headers.inner().is_empty() {
            props
        } else {
            props.with_headers(headers)
        }
    }

    /// Publishes persistently to `queue` and waits for the confirm. A
    /// timeout means "unknown": the caller publishes again, and consumers
    /// are idempotent, so a duplicate is harmless and a loss is not.
    pub async fn publish<T: Serialize>(&self, queue: &str, message: &T, message_id: &str) -> Result<(), QueueError> {
        let body = self.body(queue, message)?;
        let channel = self.channel().await?;
        let props = Self::properties(message_id);
        // mandatory: an unbound routing key comes back instead of vanishing.
        let opts = BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        };
        let confirm = bounded(
            "basic.publish",
            self.timeout,
            channel.basic_publish(self.exchange.as_str().into(), queue.into(), opts, &body, props),
        )
        .await?;
        match bounded("publisher confirm", self.timeout, confirm).await? {
            Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
            Confirmation::Ack(Some(_)) => Err(QueueError::Unroutable {
                routing_key: queue.to_owned(),
            }),
            Confirmation::Nack(_) => Err(QueueError::Nacked {
                routing_key: queue.to_owned(),
            }),
        }
    }

    /// Whether a publish can be attempted: the connection lives (a closed
    /// channel is reopened on the next publish).
    pub fn is_open(&self) -> bool {
        self.connection.status().connected()
    }
}

impl Publisher {
    /// Publishes many messages to `exchange` and waits for all their
    /// confirms together (one round trip for the batch, not one each).
    pub async fn publish_all<T: Serialize>(
        &self,
        exchange: &str,
        messages: &[(String, T, String)],
    ) -> Result<(), QueueError> {
        let mut confirms = Vec::with_capacity(messages.len());
        let channel = self.channel().await?;
        for (routing_key, message, message_id) in messages {
            let body = self.body(routing_key, message)?;
            let props = Self::properties(message_id);
            let confirm = bounded(
                "basic.publish",
                self.timeout,
                channel.basic_publish(
                    exchange.into(),
                    routing_key.as_str().into(),
                    BasicPublishOptions::default(),
                    &body,
                    props,
                ),
            )
            .await?;
            confirms.push(confirm);
        }
        for confirm in confirms {
            if let Confirmation::Nack(_) = bounded("publisher confirm", self.timeout, confirm).await? {
                return Err(QueueError::Nacked {
                    routing_key: exchange.to_owned(),
                });
            }
        }
        Ok(())
    }
}
