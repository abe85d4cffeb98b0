use crate::{QueueError, error::bounded};
use lapin::{BasicProperties, Channel, Confirmation, options::BasicPublishOptions};
use serde::Serialize;
use std::time::Duration;

/// Publishes JSON messages and returns only once the broker has them.
#[derive(Clone)]
pub struct Publisher {
    channel: Channel,
    exchange: String,
    timeout: Duration,
}

impl Publisher {
    pub(crate) fn new(channel: Channel, exchange: String, timeout: Duration) -> Publisher {
        Publisher {
            channel,
            exchange,
            timeout,
        }
    }

    /// Publishes persistently to `queue` and waits for the confirm. A
    /// timeout means "unknown": the caller publishes again, and consumers
    /// are idempotent, so a duplicate is harmless and a loss is not.
    pub async fn publish<T: Serialize>(&self, queue: &str, message: &T, message_id: &str) -> Result<(), QueueError> {
        let body = serde_json::to_vec(message)?;
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(message_id.into())
            .with_app_id("dirsync".into());
        // mandatory: an unbound routing key comes back instead of vanishing.
        let opts = BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        };
        let confirm = bounded(
            "basic.publish",
            self.timeout,
            self.channel
                .basic_publish(self.exchange.as_str().into(), queue.into(), opts, &body, props),
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

    pub fn is_open(&self) -> bool {
        self.channel.status().connected()
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
        for (routing_key, message, message_id) in messages {
            let body = serde_json::to_vec(message)?;
            let props = BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into())
                .with_message_id(message_id.as_str().into())
                .with_app_id("dirsync".into());
            let confirm = bounded(
                "basic.publish",
                self.timeout,
                self.channel.basic_publish(
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
