//! The faults the suite applies, each with the way it is undone. All are real: processes are
//! killed with SIGKILL and started again from the same binary, the broker is the machine's
//! RabbitMQ (`rabbitmqctl stop_app` / `start_app`), Redis is a server of the shop's own,
//! Postgres and the order -> payment link go through the test kit's TCP proxy, and flags are
//! written to the flag file the services read.

use std::fmt;

use anyhow::{Context as _, bail};
use shop_system_tests::{FaultPoints, Service, SystemShop};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL, then the same binary started again on the same address.
    Kill(Service),
    /// The broker application stopped and started: every AMQP connection drops.
    BrokerRestart,
    /// Redis killed (nothing persisted) and an empty one started.
    RedisOutage,
    /// Every service's Postgres connections dropped and new ones refused.
    PostgresCut,
    /// The order -> payment link passes nothing, in either direction (a partition).
    PaymentStall,
    /// A runtime flag set to a variant, and back to `off` (every fault flag has one):
    /// [`Fault::FLAGS`].
    Flag(&'static str, &'static str),
}

impl Fault {
    /// The flag faults: the processor failing every call; 1.5 s added to each processor call,
    /// and to each reservation and release; half the events lost on the way to the broker (the
    /// outbox sends them again); and every consumer waiting half a second per event.
    pub const FLAGS: [(&'static str, &'static str); 5] = [
        ("payment-failure-rate", "all"),
        ("payment-latency-ms", "slow"),
        ("inventory-latency-ms", "slow"),
        ("event-drop-rate", "half"),
        ("consumer-delay-ms", "slow"),
    ];

    /// Every fault, in the order the suite applies them.
    pub fn all() -> Vec<Self> {
        Service::ALL
            .into_iter()
            .map(Self::Kill)
            .chain([
                Self::BrokerRestart,
                Self::RedisOutage,
                Self::PostgresCut,
                Self::PaymentStall,
            ])
            .chain(Self::FLAGS.map(|(flag, variant)| Self::Flag(flag, variant)))
            .collect()
    }

    /// Applies the fault to a running shop.
    pub async fn apply(self, shop: &mut SystemShop) -> anyhow::Result<()> {
        match self {
            Self::Kill(service) => shop.kill(service).await,
            Self::BrokerRestart => rabbitmqctl("stop_app").await,
            Self::RedisOutage => {
                points_mut(shop)?.redis.stop().await;
                Ok(())
            }
            Self::PostgresCut => {
                points(shop)?.postgres.cut();
                Ok(())
            }
            Self::PaymentStall => {
                points(shop)?.payment_link.stall();
                Ok(())
            }
            Self::Flag(flag, variant) => points(shop)?.set_flags(&[(flag, variant)]),
        }
    }

    /// Undoes the fault.
    pub async fn undo(self, shop: &mut SystemShop) -> anyhow::Result<()> {
        match self {
            Self::Kill(service) => shop.restart(service).await.map(drop),
            Self::BrokerRestart => rabbitmqctl("start_app").await,
            Self::RedisOutage => {
                points_mut(shop)?.redis.resume().await;
                Ok(())
            }
            Self::PostgresCut => {
                points(shop)?.postgres.restore();
                Ok(())
            }
            Self::PaymentStall => {
                points(shop)?.payment_link.restore();
                Ok(())
            }
            Self::Flag(flag, _) => points(shop)?.set_flags(&[(flag, "off")]),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kill(service) => write!(f, "kill -9 {}", service.name()),
            Self::BrokerRestart => f.write_str("broker restart"),
            Self::RedisOutage => f.write_str("Redis stop/start"),
            Self::PostgresCut => f.write_str("Postgres connections cut"),
            Self::PaymentStall => f.write_str("order -> payment stalled"),
            Self::Flag(flag, variant) => write!(f, "flag {flag}={variant}"),
        }
    }
}

fn points(shop: &SystemShop) -> anyhow::Result<&FaultPoints> {
    shop.faults
        .as_ref()
        .context("the shop was started without fault points")
}

fn points_mut(shop: &mut SystemShop) -> anyhow::Result<&mut FaultPoints> {
    shop.faults
        .as_mut()
        .context("the shop was started without fault points")
}

/// Drives the machine's RabbitMQ (`stop_app` / `start_app`); waits for the broker to answer.
async fn rabbitmqctl(command: &'static str) -> anyhow::Result<()> {
    let output = tokio::process::Command::new("rabbitmqctl")
        .arg(command)
        .output()
        .await
        .with_context(|| {
            format!("running `rabbitmqctl {command}` (the suite restarts the broker)")
        })?;
    if !output.status.success() {
        bail!(
            "rabbitmqctl {command} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
