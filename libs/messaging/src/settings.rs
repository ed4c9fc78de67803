//! The `amqp` settings section, shared by every service that publishes or consumes.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shop_platform::config::{ConfigError, Secret};

/// Broker connection, topology names, and the knobs of the relay and the consumers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpSettings {
    /// `amqp://user:password@host:5672/%2f` (or `amqps://`).
    pub url: Secret,
    /// The topic exchange every event is published to.
    pub exchange: String,
    /// Prepended to every durable queue name; empty in production, unique per test.
    pub queue_prefix: String,
    /// Deletes unused queues after this long. For tests only; production queues never expire.
    #[serde(with = "humantime_serde")]
    pub queue_expires: Option<Duration>,
    /// AMQP heartbeat: how soon a dead broker connection is noticed.
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
    /// Messages the broker sends a consumer ahead of its acks.
    pub prefetch: u16,
    /// Messages a consumer handles at once.
    pub concurrency: usize,
    /// Deliveries of one message before it goes to the dead-letter queue.
    pub max_attempts: u32,
    /// How long a failed message waits in the retry queue before it is delivered again.
    /// A queue argument: every service must use the same value for the same queue.
    #[serde(with = "humantime_serde")]
    pub retry_delay: Duration,
    /// Rows the relay publishes per transaction.
    pub relay_batch_size: u32,
    /// How often the relay looks for work when no NOTIFY woke it (a safety net, not the path).
    #[serde(with = "humantime_serde")]
    pub relay_poll_interval: Duration,
    /// How long published outbox rows and inbox rows are kept, for audit and late duplicates.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

impl Default for AmqpSettings {
    fn default() -> Self {
        Self {
            url: Secret::new("amqp://guest:guest@127.0.0.1:5672/%2f"),
            exchange: "shop.events".to_owned(),
            queue_prefix: String::new(),
            queue_expires: None,
            heartbeat: Duration::from_secs(10),
            prefetch: 32,
            concurrency: 8,
            max_attempts: 5,
            retry_delay: Duration::from_secs(2),
            relay_batch_size: 100,
            relay_poll_interval: Duration::from_secs(1),
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl AmqpSettings {
    /// Settings whose exchange and queues no other test uses: `<name>.events` and `<name>.*`,
    /// expiring shortly after the test stops using them (quorum queues are not free: hundreds
    /// of leftovers slow a small broker down).
    pub fn isolated(url: impl Into<String>, name: &str) -> Self {
        Self {
            url: Secret::new(url),
            exchange: format!("{name}.events"),
            queue_prefix: format!("{name}."),
            queue_expires: Some(Duration::from_secs(20)),
            retry_delay: Duration::from_millis(200),
            relay_poll_interval: Duration::from_millis(500),
            ..Self::default()
        }
    }

    /// The full name of a queue declared by this service.
    pub fn queue_name(&self, queue: &str) -> String {
        format!("{}{queue}", self.queue_prefix)
    }

    /// Checks the section; `section` is its name in the service's settings (usually "amqp").
    pub fn validate(&self, section: &str) -> Result<(), ConfigError> {
        let url = self.url.expose();
        if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
            return Err(ConfigError::new(
                &[section, "url"],
                "must be an amqp:// or amqps:// URL",
            ));
        }
        if url.parse::<lapin::uri::AMQPUri>().is_err() {
            return Err(ConfigError::new(
                &[section, "url"],
                "is not a valid AMQP URL",
            ));
        }
        if self.exchange.is_empty() {
            return Err(ConfigError::new(
                &[section, "exchange"],
                "must not be empty",
            ));
        }
        if self.prefetch == 0 {
            return Err(ConfigError::new(
                &[section, "prefetch"],
                "must be at least 1",
            ));
        }
        if self.concurrency == 0 {
            return Err(ConfigError::new(
                &[section, "concurrency"],
                "must be at least 1",
            ));
        }
        if self.max_attempts == 0 {
            return Err(ConfigError::new(
                &[section, "max_attempts"],
                "must be at least 1",
            ));
        }
        if self.retry_delay.is_zero() {
            return Err(ConfigError::new(
                &[section, "retry_delay"],
                "must be positive",
            ));
        }
        if self.relay_batch_size == 0 {
            return Err(ConfigError::new(
                &[section, "relay_batch_size"],
                "must be at least 1",
            ));
        }
        Ok(())
    }
}
