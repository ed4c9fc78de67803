//! A steady checkout and cancel load, as customers make it: each signed-in customer checks out
//! one product after another (one in ten with a card the processor declines), cancels one
//! confirmed order in five, and retries what got no answer under the same idempotency key, as
//! a real client does after a timeout or a 5xx. Every attempt is recorded with when it
//! started, so a fault's window can be matched with the checkouts it met.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use shop_client::{ClientError, NewOrder, NewOrderItem, ShopClient};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a customer keeps retrying one checkout (or cancel) that gets no usable answer.
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);
const RETRY_EVERY: Duration = Duration::from_millis(250);
/// A customer's pause between two checkouts.
const THINK: Duration = Duration::from_millis(100);
const PASSWORD: &str = "a chaos customer's passphrase";

/// One checkout as the customer saw it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub started: Instant,
    /// Whether the card is one the processor approves.
    pub good_card: bool,
    /// The order, once an answer named one.
    pub order_id: Option<String>,
    /// The status of the answer (`CONFIRMED`, `PENDING`...), or why there was none.
    pub answer: String,
    /// Whether the customer cancelled it after it was confirmed.
    pub cancelled: bool,
}

/// The load while it runs.
#[derive(Debug)]
pub struct Load {
    attempts: Arc<Mutex<Vec<Attempt>>>,
    stop: watch::Sender<bool>,
    customers: Vec<JoinHandle<()>>,
}

impl Load {
    /// Registers `customers` customers and starts them checking out `products`.
    pub async fn start(
        client: &ShopClient,
        customers: usize,
        products: Vec<String>,
    ) -> anyhow::Result<Self> {
        let run = uuid::Uuid::now_v7().simple().to_string();
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = watch::channel(false);
        let products = Arc::new(products);
        let mut tasks = Vec::with_capacity(customers);
        for i in 0..customers {
            let email = format!("chaos-{run}-{i}@example.com");
            client
                .register(&email, PASSWORD, "Chaos Customer")
                .await
                .context("registering a customer")?;
            let token = client
                .login(&email, PASSWORD)
                .await
                .context("signing a customer in")?
                .access_token;
            let customer = Customer {
                client: client.clone(),
                signed_in: client.with_token(&token),
                email,
                index: i,
                products: Arc::clone(&products),
                attempts: Arc::clone(&attempts),
            };
            tasks.push(tokio::spawn(customer.run(stopped.clone())));
        }
        Ok(Self {
            attempts,
            stop,
            customers: tasks,
        })
    }

    /// Whether a checkout that started at or after `since` was answered CONFIRMED.
    pub fn confirmed_since(&self, since: Instant) -> bool {
        self.lock()
            .iter()
            .any(|a| a.started >= since && a.answer == "CONFIRMED")
    }

    /// The attempts so far.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.lock().clone()
    }

    /// Stops every customer after their current checkout; returns every attempt.
    pub async fn stop(mut self) -> Vec<Attempt> {
        let _ = self.stop.send(true);
        for customer in std::mem::take(&mut self.customers) {
            let _ = customer.await;
        }
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Attempt>> {
        self.attempts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

struct Customer {
    client: ShopClient,
    signed_in: ShopClient,
    email: String,
    index: usize,
    products: Arc<Vec<String>>,
    attempts: Arc<Mutex<Vec<Attempt>>>,
}

impl Customer {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut n = 0_usize;
        while !*stop.borrow() {
            n += 1;
            let attempt = self.checkout(n).await;
            self.attempts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(attempt);
            tokio::select! {
                () = tokio::time::sleep(THINK) => {}
                _ = stop.changed() => {}
            }
        }
    }

    async fn checkout(&mut self, n: usize) -> Attempt {
        let good_card = !n.is_multiple_of(10);
        let order = NewOrder {
            items: Some(vec![NewOrderItem {
                product_id: self.products[(self.index + n) % self.products.len()].clone(),
                quantity: 1,
            }]),
            card_token: if good_card {
                "tok_visa"
            } else {
                "tok_declined"
            }
            .to_owned(),
            shipping_address: shop_system_tests::dublin(),
            shipping_method: "standard".to_owned(),
            expected_total: None,
        };
        let key = uuid::Uuid::now_v7().to_string();
        let started = Instant::now();
        let mut attempt = Attempt {
            started,
            good_card,
            order_id: None,
            answer: String::new(),
            cancelled: false,
        };
        let placed = loop {
            match self.signed_in.place_order(&key, &order).await {
                Ok(placed) => break Ok(placed),
                Err(err) if self.worth_retrying(&err, started).await => {
                    tokio::time::sleep(RETRY_EVERY).await;
                }
                Err(err) => break Err(err),
            }
        };
        let placed = match placed {
            Ok(placed) => placed,
            Err(err) => {
                attempt.answer = format!("no order: {err}");
                return attempt;
            }
        };
        attempt.order_id = Some(placed.order.id.clone());
        attempt.answer.clone_from(&placed.order.status);
        if placed.order.status == "CONFIRMED" && n.is_multiple_of(5) {
            let since = Instant::now();
            attempt.cancelled = loop {
                match self
                    .signed_in
                    .cancel_order(&placed.order.id, "changed my mind")
                    .await
                {
                    Ok(_) => break true,
                    Err(err) if self.worth_retrying(&err, since).await => {
                        tokio::time::sleep(RETRY_EVERY).await;
                    }
                    Err(_) => break false,
                }
            };
        }
        attempt
    }

    /// Whether a failed call should be sent again: no answer, a 5xx, a 429, or a 409 saying
    /// the first request with this key is still running, within the customer's patience; a
    /// 401 (the token expired) signs the customer in again first.
    async fn worth_retrying(&mut self, err: &ClientError, since: Instant) -> bool {
        if since.elapsed() >= GIVE_UP_AFTER {
            return false;
        }
        if err.problem_type() == Some("idempotency-key-in-flight") {
            return true;
        }
        match err.status() {
            None | Some(429 | 500..) => true,
            Some(401) => match self.client.login(&self.email, PASSWORD).await {
                Ok(tokens) => {
                    self.signed_in = self.client.with_token(&tokens.access_token);
                    true
                }
                Err(_) => true,
            },
            Some(_) => false,
        }
    }
}
