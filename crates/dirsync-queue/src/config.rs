use serde::Deserialize;
use std::time::Duration;

/// `amqp.*` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// `amqp://user:password@host:port/vhost`; also read from `AMQP_URL`.
    pub url: String,
    /// Names of exchanges and queues start with it.
    pub prefix: String,
    /// Deliveries of one message before it is dead-lettered.
    pub delivery_limit: i64,
    /// Longest wait for a connection, a publish confirm or an ack.
    pub timeout_ms: u64,
    /// Largest message body published, kept well below RabbitMQ's own limit
    /// (`max_message_size`, 128 MiB by default), which closes the channel.
    pub max_message_bytes: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            prefix: "dirsync".into(),
            delivery_limit: 10,
            timeout_ms: 10_000,
            max_message_bytes: 16 * 1024 * 1024,
        }
    }
}

impl QueueConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The URL with its password hidden, for messages.
    pub fn redacted_url(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("****"));
                }
                url.to_string()
            }
            Err(_) => "<unparseable URL>".into(),
        }
    }
}
