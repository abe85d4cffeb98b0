//! Garbage on the work queues, published with lapin as any broken
//! producer would, and the dead-letter queue read back.

use dirsync_queue::{QueueConfig, Topology};
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties,
    options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions},
    types::FieldTable,
};
use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

/// One unreadable body per work queue.
pub struct Garbage {
    exchange: String,
    messages: Vec<(String, Vec<u8>)>,
}

impl Garbage {
    pub fn for_topology(topology: &Topology) -> Garbage {
        Garbage {
            exchange: topology.exchange(),
            messages: vec![
                (topology.manual_requests(), b"\x00\xffnot a sync request".to_vec()),
                (
                    topology.scheduled_requests(),
                    b"{\"type\":\"sync_requested\",\"run".to_vec(),
                ),
                (topology.pages(), b"[1, 2, \"not a page\"]".to_vec()),
            ],
        }
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn assert_same(&self, bodies: &[Vec<u8>]) {
        let sent: BTreeSet<&Vec<u8>> = self.messages.iter().map(|(_, b)| b).collect();
        let dead: BTreeSet<&Vec<u8>> = bodies.iter().collect();
        assert_eq!(
            bodies.len(),
            self.messages.len(),
            "the dead-letter queue holds the garbage and nothing else: {:?}",
            bodies
                .iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect::<Vec<_>>()
        );
        assert_eq!(sent, dead, "the dead-letter queue holds exactly the garbage");
    }
}

async fn channel(config: &QueueConfig) -> (Connection, Channel) {
    let connection = Connection::connect(&config.url, ConnectionProperties::default())
        .await
        .expect("connect to RabbitMQ");
    let channel = connection.create_channel().await.unwrap();
    (connection, channel)
}

/// Publishes the garbage, each confirmed by the broker (declaring the
/// topology first: the roles may not have done it yet).
pub async fn publish(config: &QueueConfig, topology: &Topology, garbage: &Garbage) {
    let (connection, channel) = channel(config).await;
    topology.declare(&channel).await.expect("declare the topology");
    channel.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    for (queue, body) in &garbage.messages {
        let props = BasicProperties::default().with_delivery_mode(2);
        let opts = BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        };
        let confirm = channel
            .basic_publish(
                garbage.exchange.as_str().into(),
                queue.as_str().into(),
                opts,
                body,
                props,
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(
            matches!(confirm, lapin::Confirmation::Ack(None)),
            "garbage for {queue} routed and confirmed: {confirm:?}"
        );
    }
    let _ = connection.close(200, "bye".into()).await;
}

async fn dead_count(channel: &Channel, topology: &Topology) -> u32 {
    let opts = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    channel
        .queue_declare(topology.dead_letters().as_str().into(), opts, FieldTable::default())
        .await
        .unwrap()
        .message_count()
}

/// Waits (at most 30 s) until the dead-letter queue holds `n` messages.
pub async fn await_dead_letters(config: &QueueConfig, topology: &Topology, n: usize) -> u32 {
    let (connection, channel) = channel(config).await;
    let start = Instant::now();
    let count = loop {
        let count = dead_count(&channel, topology).await;
        if count as usize >= n {
            break count;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{count} of {n} garbage messages dead-lettered after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = connection.close(200, "bye".into()).await;
    count
}

/// Takes every message out of the dead-letter queue; returns the bodies.
pub async fn drain_dead_letters(config: &QueueConfig, topology: &Topology) -> Vec<Vec<u8>> {
    let (connection, channel) = channel(config).await;
    let mut bodies = Vec::new();
    while let Some(message) = channel
        .basic_get(
            topology.dead_letters().as_str().into(),
            BasicGetOptions { no_ack: true },
        )
        .await
        .unwrap()
    {
        bodies.push(message.delivery.data.clone());
    }
    let _ = connection.close(200, "bye".into()).await;
    bodies
}
