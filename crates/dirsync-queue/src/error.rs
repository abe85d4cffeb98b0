#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("cannot reach RabbitMQ at {address} (setting `amqp.url` / AMQP_URL): {source}")]
    Unreachable {
        address: String,
        #[source]
        source: lapin::Error,
    },
    #[error("RabbitMQ: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("RabbitMQ did not answer `{operation}` within {seconds:.1} s")]
    Timeout { operation: &'static str, seconds: f64 },
    #[error("RabbitMQ refused the message (nack) for `{routing_key}`")]
    Nacked { routing_key: String },
    #[error("no queue is bound for `{routing_key}`: the message came back unroutable")]
    Unroutable { routing_key: String },
    #[error("the delivery can no longer be acknowledged (the channel was closed or recovered)")]
    StaleDelivery,
    #[error("message body is not valid: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("the consumer was cancelled")]
    ConsumerCancelled,
    #[error(
        "a message of {bytes} bytes for `{routing_key}` is over the limit of {limit} (setting `amqp.max_message_bytes`)"
    )]
    TooLarge {
        routing_key: String,
        bytes: usize,
        limit: usize,
    },
}

/// Awaits a broker operation, turning a hang into [`QueueError::Timeout`].
pub(crate) async fn bounded<T, E>(
    operation: &'static str,
    limit: std::time::Duration,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, QueueError>
where
    QueueError: From<E>,
{
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result.map_err(QueueError::from),
        Err(_) => Err(QueueError::Timeout {
            operation,
            seconds: limit.as_secs_f64(),
        }),
    }
}
