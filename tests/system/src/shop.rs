//! The whole shop as five processes on real infrastructure, wired together the way compose and
//! Kubernetes wire it (upstream URLs, one exchange, one Redis namespace), but isolated from any
//! other shop: fresh databases, its own exchange and queue names, its own Redis key prefix.

use std::time::Duration;

use anyhow::{Context as _, bail};
use shop_client::ShopClient;
use shop_messaging::AmqpSettings;
use shop_platform::config::Secret;
use shop_testkit::TestDatabase;

use crate::ledger::{self, Ledger, LedgerSources};
use crate::process::{ServiceProcess, binary_path};

type Env = Vec<(&'static str, String)>;

/// A running shop. Dropping it kills the processes; [`SystemShop::stop`] stops them gracefully
/// (which also flushes their traces).
#[derive(Debug)]
pub struct SystemShop {
    /// `http://127.0.0.1:<port>` of the gateway.
    pub base_url: String,
    pub user: ServiceProcess,
    pub inventory: ServiceProcess,
    pub payment: ServiceProcess,
    pub order: ServiceProcess,
    pub gateway: ServiceProcess,
    user_env: Env,
    /// Each backend's database, by service name.
    databases: Vec<(&'static str, TestDatabase)>,
    /// The broker settings every service runs with (URL, exchange, queue prefix).
    pub amqp: AmqpSettings,
}

impl SystemShop {
    /// Starts the shop with the demo catalog loaded.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(&[]).await
    }

    /// Starts the shop with `extra` added to every service's environment (e.g. the OTLP
    /// endpoint).
    pub async fn start_with(extra: &[(&'static str, String)]) -> anyhow::Result<Self> {
        Self::start_configured(extra, &[]).await
    }

    /// Starts the shop with `extra` added to every service's environment and `gateway_extra`
    /// to the gateway's alone (its own settings, such as rate limits, which the other
    /// services would refuse as unknown).
    pub async fn start_configured(
        extra: &[(&'static str, String)],
        gateway_extra: &[(&'static str, String)],
    ) -> anyhow::Result<Self> {
        shop_testkit::init();
        let name = shop_testkit::unique_name("e2e");
        let amqp = AmqpSettings {
            url: Secret::new(shop_testkit::amqp_url().await),
            exchange: format!("{name}.events"),
            queue_prefix: format!("{name}."),
            ..AmqpSettings::default()
        };
        let common: Env = [
            ("SHOP_ADMIN__ADDR", "127.0.0.1:0".to_owned()),
            ("SHOP_AMQP__URL", amqp.url.expose().to_owned()),
            ("SHOP_AMQP__EXCHANGE", amqp.exchange.clone()),
            ("SHOP_AMQP__QUEUE_PREFIX", amqp.queue_prefix.clone()),
            // The queues outlive the test by seconds, not forever.
            ("SHOP_AMQP__QUEUE_EXPIRES", "30s".to_owned()),
            ("SHOP_AMQP__RETRY_DELAY", "200ms".to_owned()),
            ("SHOP_AMQP__RELAY_POLL_INTERVAL", "500ms".to_owned()),
        ]
        .into_iter()
        .chain(extra.iter().cloned())
        .collect();
        // One Redis namespace for the whole shop: every service reads the session denylist the
        // user service writes.
        let redis: Env = vec![
            ("SHOP_REDIS__URL", shop_testkit::redis_url().await),
            ("SHOP_REDIS__KEY_PREFIX", format!("{name}:")),
        ];
        let mut databases = Vec::new();
        let mut database = async |service: &'static str| -> (&'static str, String) {
            let db = TestDatabase::create_empty().await;
            let url = db.url.clone();
            databases.push((service, db));
            ("SHOP_DATABASE__URL", url)
        };
        let grpc = ("SHOP_GRPC__ADDR", "127.0.0.1:0".to_owned());

        // The order service's identity, made the way an operator makes it.
        let credentials =
            tool_output("shop-user", &["service-credentials", "order"], &common).await?;
        let credential = |name: &str| -> anyhow::Result<String> {
            credentials
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
                .map(str::to_owned)
                .with_context(|| format!("`shop-user service-credentials` printed no {name}"))
        };
        let order_identity = (
            "SHOP_IDENTITY__CLIENT_SECRET",
            credential("SHOP_IDENTITY__CLIENT_SECRET")?,
        );

        let mut user_env = env(&common, [grpc.clone(), database("user").await], &redis, &[]);
        user_env.push((
            "SHOP_SERVICE_CLIENTS__ORDER",
            credential("SHOP_SERVICE_CLIENTS__ORDER")?,
        ));
        let user = started("shop-user", &user_env).await?;
        let user_url = ("SHOP_UPSTREAM__USER", url_of(&user));

        let inventory_env = env(
            &common,
            [grpc.clone(), database("inventory").await],
            &redis,
            std::slice::from_ref(&user_url),
        );
        run_tool("shop-inventory", &["seed"], &inventory_env, &[]).await?;
        let inventory = started("shop-inventory", &inventory_env).await?;

        let payment_env = env(
            &common,
            [grpc.clone(), database("payment").await],
            &redis,
            std::slice::from_ref(&user_url),
        );
        let payment = started("shop-payment", &payment_env).await?;

        let order_env = env(
            &common,
            [grpc, database("order").await, order_identity],
            &redis,
            &[
                user_url.clone(),
                ("SHOP_UPSTREAM__INVENTORY", url_of(&inventory)),
                ("SHOP_UPSTREAM__PAYMENT", url_of(&payment)),
            ],
        );
        let order = started("shop-order", &order_env).await?;

        let mut gateway_env = env(
            &common,
            [("SHOP_HTTP__ADDR", "127.0.0.1:0".to_owned())],
            &redis,
            &[
                user_url,
                ("SHOP_UPSTREAM__INVENTORY", url_of(&inventory)),
                ("SHOP_UPSTREAM__ORDER", url_of(&order)),
            ],
        );
        gateway_env.extend(gateway_extra.iter().cloned());
        let gateway = started("shop-gateway", &gateway_env).await?;
        let base_url = format!("http://127.0.0.1:{}", gateway.public_addr.port());

        Ok(Self {
            base_url,
            user,
            inventory,
            payment,
            order,
            gateway,
            user_env,
            databases,
            amqp,
        })
    }

    /// The shop's books, read from its databases and its broker (see [`crate::ledger`]).
    pub async fn ledger(&self, expected_dead_letters: &[&str]) -> anyhow::Result<Ledger> {
        let sources = LedgerSources {
            users: &self.database("user").pool,
            inventory: &self.database("inventory").pool,
            payments: &self.database("payment").pool,
            orders: &self.database("order").pool,
            amqp: &self.amqp,
        };
        ledger::check(&sources, expected_dead_letters).await
    }

    /// The database of `service` (`user`, `inventory`, `payment`, `order`), for checks made
    /// from outside the shop.
    ///
    /// # Panics
    /// For a service without a database.
    pub fn database(&self, service: &str) -> &TestDatabase {
        self.databases
            .iter()
            .find(|(name, _)| *name == service)
            .map(|(_, db)| db)
            .unwrap_or_else(|| panic!("{service} has no database"))
    }

    /// The five processes, in start order.
    pub fn processes(&self) -> [&ServiceProcess; 5] {
        [
            &self.user,
            &self.inventory,
            &self.payment,
            &self.order,
            &self.gateway,
        ]
    }

    /// An anonymous client of this shop.
    pub fn client(&self) -> ShopClient {
        ShopClient::new(&self.base_url).unwrap_or_else(|err| panic!("client: {err}"))
    }

    /// A signed-in admin, made with `shop-user create-admin` as an operator would.
    pub async fn admin(&self, email: &str) -> anyhow::Result<ShopClient> {
        let token = self.admin_token(email).await?;
        Ok(self.client().with_token(&token))
    }

    /// The access token of a new admin, made with `shop-user create-admin`.
    pub async fn admin_token(&self, email: &str) -> anyhow::Result<String> {
        let password = "an admin's long passphrase";
        run_tool(
            "shop-user",
            &["create-admin", "--email", email],
            &self.user_env,
            &[("SHOP_ADMIN_PASSWORD", password)],
        )
        .await?;
        Ok(self.client().login(email, password).await?.access_token)
    }

    /// Stops every service with SIGTERM, the gateway first, as an orchestrator would.
    pub async fn stop(self) -> anyhow::Result<()> {
        for process in [
            self.gateway,
            self.order,
            self.payment,
            self.inventory,
            self.user,
        ] {
            let name = process.name.clone();
            let status = process.terminate(Duration::from_secs(10)).await?;
            if !status.success() {
                bail!("{name} exited with {status}");
            }
        }
        Ok(())
    }
}

/// Starts a service and waits until it is ready, so the next one finds it serving.
async fn started(binary: &str, env: &[(&'static str, String)]) -> anyhow::Result<ServiceProcess> {
    let mut process = ServiceProcess::start(binary, env).await?;
    process.wait_ready(Duration::from_secs(20)).await?;
    Ok(process)
}

fn url_of(process: &ServiceProcess) -> String {
    format!("http://{}", process.public_addr)
}

fn env<const N: usize>(
    common: &[(&'static str, String)],
    own: [(&'static str, String); N],
    redis: &[(&'static str, String)],
    upstreams: &[(&'static str, String)],
) -> Env {
    common
        .iter()
        .cloned()
        .chain(own)
        .chain(redis.iter().cloned())
        .chain(upstreams.iter().cloned())
        .collect()
}

/// Runs an operator command of a service binary to completion; returns what it printed.
async fn tool_output(
    binary: &str,
    args: &[&str],
    env: &[(&'static str, String)],
) -> anyhow::Result<String> {
    run_tool(binary, args, env, &[]).await
}

/// Runs a maintenance command of a service binary (`seed`, `create-admin`) to completion;
/// returns its standard output.
async fn run_tool(
    binary: &str,
    args: &[&str],
    env: &[(&'static str, String)],
    extra: &[(&str, &str)],
) -> anyhow::Result<String> {
    let mut command = tokio::process::Command::new(binary_path(binary));
    for (key, _) in std::env::vars() {
        if key.starts_with("SHOP_") && key.contains("__") {
            command.env_remove(key);
        }
    }
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        command
            .args(args)
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .envs(extra.iter().copied())
            .output(),
    )
    .await
    .with_context(|| format!("{binary} {args:?} did not finish within 60 s"))?
    .with_context(|| format!("running {binary} {args:?}"))?;
    if !output.status.success() {
        bail!(
            "{binary} {args:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
