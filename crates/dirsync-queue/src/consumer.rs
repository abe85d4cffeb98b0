use crate::{QueueError, error::bounded};
use futures::StreamExt;
use lapin::{
    Acker, Channel,
    options::{BasicAckOptions, BasicCancelOptions, BasicNackOptions, BasicRejectOptions},
    types::FieldTable,
};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// A stream of deliveries from one queue.
pub struct Consumer {
    channel: Channel,
    inner: lapin::Consumer,
    timeout: Duration,
}

/// One message, to be acked once its effects are committed.
pub struct Delivery {
    pub data: Vec<u8>,
    pub redelivered: bool,
    pub delivery_tag: u64,
    /// The message's AMQP headers: the publisher's trace context among them.
    headers: Option<FieldTable>,
    acker: Acker,
    timeout: Duration,
}

impl Consumer {
    pub(crate) fn new(channel: Channel, inner: lapin::Consumer, timeout: Duration) -> Consumer {
        Consumer {
            channel,
            inner,
            timeout,
        }
    }

    /// The next delivery; `Err` when the channel or connection failed or the
    /// broker cancelled the consumer: the caller reconnects.
    pub async fn next(&mut self) -> Result<Delivery, QueueError> {
        match self.inner.next().await {
            Some(Ok(d)) => Ok(Delivery {
                data: d.data,
                redelivered: d.redelivered,
                delivery_tag: d.delivery_tag,
                headers: d.properties.headers().clone(),
                acker: d.acker,
                timeout: self.timeout,
            }),
            Some(Err(e)) => Err(e.into()),
            None => Err(QueueError::ConsumerCancelled),
        }
    }

    /// Stops new deliveries; those already received can still be acked.
    pub async fn cancel(&self) {
        let tag = self.inner.tag();
        let _ = tokio::time::timeout(
            self.timeout,
            self.channel.basic_cancel(tag, BasicCancelOptions::default()),
        )
        .await;
    }
}

impl Delivery {
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, QueueError> {
        Ok(serde_json::from_slice(&self.data)?)
    }

    /// The trace context of the span that published this message (empty
    /// when it carried none).
    pub fn trace_parent(&self) -> opentelemetry::Context {
        crate::trace_context::extract(self.headers.as_ref())
    }

    /// Makes `span`, which handles this message, a child of the span that
    /// published it. Call it before the span is first entered.
    pub fn continue_trace(&self, span: &tracing::Span) {
        crate::trace_context::continue_trace(span, self.headers.as_ref());
    }

    pub async fn ack(&self) -> Result<(), QueueError> {
        let acked = bounded("basic.ack", self.timeout, self.acker.ack(BasicAckOptions::default())).await?;
        // Ok(false) is lapin's "this acker was used or belongs to a dead channel".
        if acked { Ok(()) } else { Err(QueueError::StaleDelivery) }
    }

    /// Puts the message back for another try (it counts towards the delivery limit).
    pub async fn requeue(&self) -> Result<(), QueueError> {
        let opts = BasicNackOptions {
            requeue: true,
            multiple: false,
        };
        bounded("basic.nack", self.timeout, self.acker.nack(opts)).await?;
        Ok(())
    }

    /// Sends the message to the dead-letter queue: it can never be processed.
    pub async fn dead_letter(&self) -> Result<(), QueueError> {
        bounded(
            "basic.reject",
            self.timeout,
            self.acker.reject(BasicRejectOptions { requeue: false }),
        )
        .await?;
        Ok(())
    }
}
