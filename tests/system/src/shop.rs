//! The whole shop as five processes on real infrastructure, wired together the way compose and
//! Kubernetes wire it (upstream URLs, one exchange, one Redis namespace), but isolated from any
//! other shop: fresh databases, its own exchange and queue names, its own Redis key prefix.

use std::time::Duration;

use anyhow::{Context as _, bail};
use shop_client::ShopClient;
use shop_messaging::AmqpSettings;
use shop_platform::config::Secret;
use shop_testkit::proxy::TcpProxy;
use shop_testkit::{FlagFile, PrivateRedis, TestDatabase};

use crate::ledger::{self, Ledger, LedgerSources};
use crate::process::{ServiceProcess, binary_path};

pub type Env = Vec<(&'static str, String)>;

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
    /// What each service was started with, by binary name: a restart starts it the same way.
    envs: Vec<(&'static str, Env)>,
    /// Each backend's database, by service name.
    databases: Vec<(&'static str, TestDatabase)>,
    /// The broker settings every service runs with (URL, exchange, queue prefix).
    pub amqp: AmqpSettings,
    /// Where faults can be injected, when started with [`Options::fault_points`].
    pub faults: Option<FaultPoints>,
}

/// How to start a [`SystemShop`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Added to every service's environment (e.g. the OTLP endpoint).
    pub extra: Env,
    /// Added to the gateway's alone (its own settings, such as rate limits, which the other
    /// services would refuse as unknown).
    pub gateway_extra: Env,
    /// Wires the shop through [`FaultPoints`]: slower by a proxy hop, so only for fault tests.
    pub fault_points: bool,
}

/// The places a fault test reaches into a running shop, besides killing its processes.
#[derive(Debug)]
pub struct FaultPoints {
    /// Every service's connections to Postgres pass through it: cut it and the databases
    /// are gone for every service at once (the tests' own pools connect directly).
    pub postgres: TcpProxy,
    /// The order service's link to the payment service (the saga's charge step).
    pub payment_link: TcpProxy,
    /// The shop's Redis, a server of its own that can be stopped and started.
    pub redis: PrivateRedis,
    /// The flag file every service reads (flagd's format; docs/flags.md).
    pub flags: FlagFile,
}

impl FaultPoints {
    /// Sets the default variant of each named flag in the flag file; the services read the
    /// file again within their reload interval.
    pub fn set_flags(&self, variants: &[(&str, &str)]) -> anyhow::Result<()> {
        self.flags.set(variants)
    }
}

/// A shop service by its role, for faults aimed at one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    User,
    Inventory,
    Payment,
    Order,
    Gateway,
}

impl Service {
    pub const ALL: [Self; 5] = [
        Self::User,
        Self::Inventory,
        Self::Payment,
        Self::Order,
        Self::Gateway,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Inventory => "inventory",
            Self::Payment => "payment",
            Self::Order => "order",
            Self::Gateway => "gateway",
        }
    }

    fn binary(self) -> &'static str {
        match self {
            Self::User => "shop-user",
            Self::Inventory => "shop-inventory",
            Self::Payment => "shop-payment",
            Self::Order => "shop-order",
            Self::Gateway => "shop-gateway",
        }
    }

    /// The setting of the address the service serves its API on.
    fn addr_setting(self) -> &'static str {
        match self {
            Self::Gateway => "SHOP_HTTP__ADDR",
            _ => "SHOP_GRPC__ADDR",
        }
    }
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
        Self::start_with_options(Options {
            extra: extra.to_vec(),
            gateway_extra: gateway_extra.to_vec(),
            fault_points: false,
        })
        .await
    }

    /// Starts the shop as `options` say.
    #[allow(clippy::too_many_lines)] // One wiring diagram, read top to bottom.
    pub async fn start_with_options(options: Options) -> anyhow::Result<Self> {
        let Options {
            extra,
            gateway_extra,
            fault_points,
        } = options;
        let extra = extra.as_slice();
        shop_testkit::init();
        let mut faults = if fault_points {
            Some(FaultPoints {
                postgres: TcpProxy::to_postgres().await,
                // Pointed at the payment service once its port is known (below).
                payment_link: TcpProxy::start("127.0.0.1:9").await,
                redis: PrivateRedis::start().await,
                flags: FlagFile::new(),
            })
        } else {
            None
        };
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
            // The queues outlive the test by seconds, not forever. A queue expires after that
            // long unused, a dead-letter queue (never consumed) that long after it was
            // declared: a fault run, minutes long and judged by its dead-letter queues at the
            // end, keeps them for two hours.
            (
                "SHOP_AMQP__QUEUE_EXPIRES",
                if fault_points { "2h" } else { "30s" }.to_owned(),
            ),
            ("SHOP_AMQP__RETRY_DELAY", "200ms".to_owned()),
            ("SHOP_AMQP__RELAY_POLL_INTERVAL", "500ms".to_owned()),
        ]
        .into_iter()
        .chain(faults.as_ref().map(|faults| {
            (
                "SHOP_FLAGS__FILE",
                faults.flags.path().display().to_string(),
            )
        }))
        .chain(extra.iter().cloned())
        .collect();
        // One Redis namespace for the whole shop: every service reads the session denylist the
        // user service writes.
        let redis_url = match &faults {
            Some(faults) => faults.redis.url(),
            None => shop_testkit::redis_url().await,
        };
        let redis: Env = vec![
            ("SHOP_REDIS__URL", redis_url),
            ("SHOP_REDIS__KEY_PREFIX", format!("{name}:")),
        ];
        let postgres_proxy = faults.as_ref().map(|faults| faults.postgres.addr());
        let mut databases = Vec::new();
        let mut database = async |service: &'static str| -> (&'static str, String) {
            let db = TestDatabase::create_empty().await;
            let url = match postgres_proxy {
                Some(proxy) => shop_testkit::proxy::url_via(proxy, &db.url),
                None => db.url.clone(),
            };
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
        let payment_url = match &mut faults {
            Some(faults) => {
                faults.payment_link = TcpProxy::start(payment.public_addr.to_string()).await;
                format!("http://{}", faults.payment_link.addr())
            }
            None => url_of(&payment),
        };

        let order_env = env(
            &common,
            [
                grpc,
                database("order").await,
                order_identity,
                // One replica, the same across the fault suite's kill and restart.
                ("SHOP_SAGA__INSTANCE", "order-0".to_owned()),
            ],
            &redis,
            &[
                user_url.clone(),
                ("SHOP_UPSTREAM__INVENTORY", url_of(&inventory)),
                ("SHOP_UPSTREAM__PAYMENT", payment_url),
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
        gateway_env.extend(gateway_extra);
        let gateway = started("shop-gateway", &gateway_env).await?;
        let base_url = format!("http://127.0.0.1:{}", gateway.public_addr.port());

        Ok(Self {
            base_url,
            user,
            inventory,
            payment,
            order,
            gateway,
            envs: vec![
                ("shop-user", user_env),
                ("shop-inventory", inventory_env),
                ("shop-payment", payment_env),
                ("shop-order", order_env),
                ("shop-gateway", gateway_env),
            ],
            databases,
            amqp,
            faults,
        })
    }

    /// The running process of `service`.
    pub fn process(&self, service: Service) -> &ServiceProcess {
        match service {
            Service::User => &self.user,
            Service::Inventory => &self.inventory,
            Service::Payment => &self.payment,
            Service::Order => &self.order,
            Service::Gateway => &self.gateway,
        }
    }

    fn process_mut(&mut self, service: Service) -> &mut ServiceProcess {
        match service {
            Service::User => &mut self.user,
            Service::Inventory => &mut self.inventory,
            Service::Payment => &mut self.payment,
            Service::Order => &mut self.order,
            Service::Gateway => &mut self.gateway,
        }
    }

    fn env_of(&self, binary: &str) -> &Env {
        self.envs
            .iter()
            .find(|(name, _)| *name == binary)
            .map(|(_, env)| env)
            .unwrap_or_else(|| panic!("{binary} was not started"))
    }

    /// Kills `service` with SIGKILL, as a crash or an OOM kill would.
    pub async fn kill(&mut self, service: Service) -> anyhow::Result<()> {
        self.process_mut(service).kill().await
    }

    /// Starts `service` again, the same way and on the same address (its peers keep their
    /// URLs), after [`SystemShop::kill`]; waits until it is ready and returns how long that took.
    pub async fn restart(&mut self, service: Service) -> anyhow::Result<Duration> {
        let addr = self.process(service).public_addr;
        let mut env = self.env_of(service.binary()).clone();
        env.retain(|(key, _)| *key != service.addr_setting());
        env.push((service.addr_setting(), addr.to_string()));
        let mut process = ServiceProcess::start(service.binary(), &env).await?;
        let ready_in = process.wait_ready(Duration::from_secs(30)).await?;
        *self.process_mut(service) = process;
        Ok(ready_in)
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

    /// The books once they balance: read again every second until they do or `within` has
    /// passed (a restock or a refund may still be on its way through the broker after every
    /// order is final). Returns the last reading and how long it took; what is still wrong
    /// after `within` is a defect.
    pub async fn ledger_when_balanced(
        &self,
        expected_dead_letters: &[&str],
        within: Duration,
    ) -> anyhow::Result<(Ledger, Duration)> {
        let started = std::time::Instant::now();
        loop {
            let ledger = self.ledger(expected_dead_letters).await?;
            if ledger.violations.is_empty() || started.elapsed() >= within {
                return Ok((ledger, started.elapsed()));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Waits until the shop has drained: no order PENDING or RESERVED, no unit reserved.
    pub async fn settled(&self, within: Duration) -> anyhow::Result<()> {
        let orders = &self.database("order").pool;
        let inventory = &self.database("inventory").pool;
        let deadline = std::time::Instant::now() + within;
        loop {
            let in_flight: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM orders WHERE status IN ('PENDING', 'RESERVED')",
            )
            .fetch_one(orders)
            .await?;
            let reserved: i64 =
                sqlx::query_scalar("SELECT coalesce(sum(reserved), 0)::bigint FROM product")
                    .fetch_one(inventory)
                    .await?;
            if in_flight == 0 && reserved == 0 {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                bail!(
                    "{in_flight} orders in flight and {reserved} units reserved after {within:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
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

    /// Gives every active product of the demo catalog stock for any load (a million units
    /// each, received by a new admin `admin_email`); returns their ids.
    pub async fn stock_up(&self, admin_email: &str) -> anyhow::Result<Vec<String>> {
        let admin = self.admin(admin_email).await?;
        let page = admin.list_products(None, Some(100), None).await?;
        let mut ids = Vec::new();
        for product in page.items.into_iter().filter(|p| p.active) {
            admin.adjust_stock(&product.id, 1_000_000).await?;
            ids.push(product.id);
        }
        if ids.is_empty() {
            bail!("the demo catalog has no active product");
        }
        Ok(ids)
    }

    /// The access token of a new admin, made with `shop-user create-admin`.
    pub async fn admin_token(&self, email: &str) -> anyhow::Result<String> {
        let password = "an admin's long passphrase";
        run_tool(
            "shop-user",
            &["create-admin", "--email", email],
            self.env_of("shop-user"),
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
