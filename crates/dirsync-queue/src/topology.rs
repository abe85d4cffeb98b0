use lapin::{
    Channel, ExchangeKind,
    options::{
        ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
    },
    types::{AMQPValue, FieldTable},
};

use crate::QueueError;

/// The names of everything dirsync declares, under one prefix.
#[derive(Debug, Clone)]
pub struct Topology {
    prefix: String,
    delivery_limit: i64,
}

impl Topology {
    pub fn new(prefix: &str, delivery_limit: i64) -> Topology {
        Topology {
            prefix: prefix.to_owned(),
            delivery_limit,
        }
    }

    pub fn exchange(&self) -> String {
        self.prefix.clone()
    }

    /// Change events for the product, routed by event type (`user.updated`...).
    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.prefix)
    }

    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dlx", self.prefix)
    }

    pub fn manual_requests(&self) -> String {
        format!("{}.sync.manual", self.prefix)
    }

    pub fn scheduled_requests(&self) -> String {
        format!("{}.sync.scheduled", self.prefix)
    }

    pub fn pages(&self) -> String {
        format!("{}.pages", self.prefix)
    }

    pub fn dead_letters(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    fn work_queues(&self) -> [String; 3] {
        [self.manual_requests(), self.scheduled_requests(), self.pages()]
    }

    /// Declares everything (idempotent; every role does it at start, so no
    /// deploy order is needed).
    pub async fn declare(&self, channel: &Channel) -> Result<(), QueueError> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .exchange_declare(
                self.exchange().into(),
                ExchangeKind::Direct,
                durable,
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(
                self.events_exchange().into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(
                self.dead_letter_exchange().into(),
                ExchangeKind::Fanout,
                durable,
                FieldTable::default(),
            )
            .await?;
        let queue_opts = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .queue_declare(self.dead_letters().into(), queue_opts, quorum_args(None))
            .await?;
        channel
            .queue_bind(
                self.dead_letters().into(),
                self.dead_letter_exchange().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        for queue in self.work_queues() {
            let args = quorum_args(Some((&self.dead_letter_exchange(), self.delivery_limit)));
            channel.queue_declare(queue.as_str().into(), queue_opts, args).await?;
            channel
                .queue_bind(
                    queue.as_str().into(),
                    self.exchange().into(),
                    queue.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }

    /// Removes everything (tests clean up their own prefix with it).
    pub async fn delete(&self, channel: &Channel) -> Result<(), QueueError> {
        for queue in self.work_queues().into_iter().chain([self.dead_letters()]) {
            channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await?;
        }
        for exchange in [self.exchange(), self.dead_letter_exchange(), self.events_exchange()] {
            channel
                .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }
}

/// Quorum queues: replicated, with an explicit delivery limit (3.10 has no
/// default) and dead-lettering for poison messages.
fn quorum_args(dead_letter: Option<(&str, i64)>) -> FieldTable {
    let mut args = FieldTable::default();
    // LongString, not ShortString: RabbitMQ rejects the latter's type tag in tables.
    args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    if let Some((exchange, limit)) = dead_letter {
        args.insert("x-dead-letter-exchange".into(), AMQPValue::LongString(exchange.into()));
        args.insert("x-delivery-limit".into(), AMQPValue::LongLongInt(limit));
    }
    args
}
