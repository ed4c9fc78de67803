//! Cache-aside for catalog reads, as a decorator around the catalog: Redis in front of
//! Postgres, shared by every inventory replica.
//!
//! - A read looks in Redis first; a miss loads from Postgres and fills Redis for `ttl` (with
//!   jitter, so entries written together do not expire together).
//! - Concurrent misses for one product in one process share a single load (single flight), so
//!   a hot product expiring does not send a crowd to Postgres.
//! - Writes go to Postgres, then drop the Redis entry; stock moves drop it too.
//! - Redis is an optimisation, never a dependency: any Redis failure falls back to Postgres, and
//!   after a few failures in a row a circuit breaker stops asking Redis for a while, so a dead
//!   Redis does not add its timeout to every read.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use failsafe::futures::CircuitBreaker as _;
use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use shop_events::Money;
use uuid::Uuid;

use crate::app::ports::{AdjustError, CatalogStore, ListQuery};
use crate::domain::{NewProduct, Product, ProductPatch, Stock};

type Breaker = failsafe::StateMachine<
    failsafe::failure_policy::ConsecutiveFailures<failsafe::backoff::Constant>,
    (),
>;

/// Counts of what the cache did, for tests and the admin port.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub errors: AtomicU64,
}

impl CacheStats {
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

/// The cached form of a product (the domain type stays free of serialisation concerns).
#[derive(Serialize, Deserialize)]
struct CachedProduct {
    id: Uuid,
    name: String,
    description: String,
    price_minor: i64,
    currency: String,
    image_url: String,
    active: bool,
    available: i64,
    reserved: i64,
    sold: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&Product> for CachedProduct {
    fn from(p: &Product) -> Self {
        Self {
            id: p.id,
            name: p.name.clone(),
            description: p.description.clone(),
            price_minor: p.price.amount_minor,
            currency: p.price.currency.clone(),
            image_url: p.image_url.clone(),
            active: p.active,
            available: p.stock.available(),
            reserved: p.stock.reserved(),
            sold: p.stock.sold(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

impl CachedProduct {
    fn into_product(self) -> Option<Product> {
        Some(Product {
            id: self.id,
            name: self.name,
            description: self.description,
            price: Money::new(self.price_minor, &self.currency).ok()?,
            image_url: self.image_url,
            active: self.active,
            stock: Stock::new(self.available, self.reserved, self.sold).ok()?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A [`Catalog`] that caches reads of another in Redis.
pub struct CachedCatalog {
    inner: Arc<dyn CatalogStore>,
    redis: ConnectionManager,
    prefix: String,
    ttl: Duration,
    flights: moka::future::Cache<Uuid, Option<Product>>,
    breaker: Breaker,
    stats: Arc<CacheStats>,
}

impl std::fmt::Debug for CachedCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedCatalog")
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl CachedCatalog {
    /// Keys are `<prefix>inventory:product:<id>`.
    pub fn new(
        inner: Arc<dyn CatalogStore>,
        redis: ConnectionManager,
        prefix: &str,
        ttl: Duration,
    ) -> Self {
        let breaker = failsafe::Config::new()
            .failure_policy(failsafe::failure_policy::consecutive_failures(
                3,
                failsafe::backoff::constant(Duration::from_secs(5)),
            ))
            .build();
        Self {
            inner,
            redis,
            prefix: format!("{prefix}inventory:product:"),
            ttl,
            flights: moka::future::Cache::builder().max_capacity(10_000).build(),
            breaker,
            stats: Arc::new(CacheStats::default()),
        }
    }

    pub fn stats(&self) -> Arc<CacheStats> {
        self.stats.clone()
    }

    fn key(&self, id: Uuid) -> String {
        format!("{}{id}", self.prefix)
    }

    fn ttl_with_jitter(&self) -> u64 {
        // +-10 %, from the clock's sub-second noise: no RNG needed for spreading expiries.
        let base = self.ttl.as_secs().max(1);
        let spread = (base / 10).max(1);
        let noise = u64::from(Utc::now().timestamp_subsec_nanos()) % (2 * spread + 1);
        (base + noise).saturating_sub(spread).max(1)
    }

    fn record(&self, outcome: &'static str) {
        metrics::counter!("inventory_cache_requests_total", "result" => outcome).increment(1);
        let counter = match outcome {
            "hit" => &self.stats.hits,
            "miss" => &self.stats.misses,
            _ => &self.stats.errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads cached products; a failed or refused read is a miss for every id.
    async fn read(&self, ids: &[Uuid]) -> Vec<Option<Product>> {
        let keys: Vec<String> = ids.iter().map(|id| self.key(*id)).collect();
        let mut redis = self.redis.clone();
        let read = self
            .breaker
            .call(async move { redis.mget::<_, Vec<Option<String>>>(keys).await })
            .await;
        match read {
            Ok(values) => values
                .into_iter()
                .map(|value| {
                    value.and_then(|json| {
                        serde_json::from_str::<CachedProduct>(&json)
                            .ok()?
                            .into_product()
                    })
                })
                .collect(),
            Err(err) => {
                self.record("error");
                tracing::debug!(error = %err, "cache read failed; reading Postgres");
                vec![None; ids.len()]
            }
        }
    }

    async fn write(&self, products: &[Product]) {
        if products.is_empty() {
            return;
        }
        let ttl = self.ttl_with_jitter();
        let mut pipe = redis::pipe();
        for product in products {
            if let Ok(json) = serde_json::to_string(&CachedProduct::from(product)) {
                pipe.set_ex(self.key(product.id), json, ttl).ignore();
            }
        }
        let mut redis = self.redis.clone();
        let written = self
            .breaker
            .call(async move { pipe.query_async::<()>(&mut redis).await })
            .await;
        if let Err(err) = written {
            self.record("error");
            tracing::debug!(error = %err, "cache write failed");
        }
    }

    async fn load_one(&self, id: Uuid) -> anyhow::Result<Option<Product>> {
        if let Some(product) = self.read(&[id]).await.pop().flatten() {
            self.record("hit");
            return Ok(Some(product));
        }
        self.record("miss");
        let product = self.inner.get(id).await?;
        if let Some(product) = &product {
            self.write(std::slice::from_ref(product)).await;
        }
        Ok(product)
    }
}

#[async_trait]
impl CatalogStore for CachedCatalog {
    async fn list(&self, query: &ListQuery) -> anyhow::Result<Vec<Product>> {
        self.inner.list(query).await
    }

    async fn get(&self, id: Uuid) -> anyhow::Result<Option<Product>> {
        // Callers that arrive while a load for `id` is in flight wait for it and share its
        // result; the entry is dropped right after, so this coalesces without caching.
        let loaded = self
            .flights
            .try_get_with(id, self.load_one(id))
            .await
            .map_err(|err| anyhow::anyhow!("{err:#}"));
        self.flights.invalidate(&id).await;
        loaded
    }

    async fn batch_get(&self, ids: &[Uuid]) -> anyhow::Result<Vec<Product>> {
        let cached = self.read(ids).await;
        let mut found = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for (id, product) in ids.iter().zip(cached) {
            match product {
                Some(product) => {
                    self.record("hit");
                    found.push(product);
                }
                None => {
                    self.record("miss");
                    missing.push(*id);
                }
            }
        }
        if !missing.is_empty() {
            let loaded = self.inner.batch_get(&missing).await?;
            self.write(&loaded).await;
            found.extend(loaded);
        }
        Ok(found)
    }

    async fn create(&self, request_id: Uuid, product: NewProduct) -> anyhow::Result<Product> {
        self.inner.create(request_id, product).await
    }

    async fn update(&self, id: Uuid, patch: ProductPatch) -> anyhow::Result<Option<Product>> {
        let updated = self.inner.update(id, patch).await;
        self.invalidate(&[id]).await;
        updated
    }

    async fn adjust_stock(
        &self,
        request_id: Uuid,
        id: Uuid,
        delta: i64,
    ) -> Result<Product, AdjustError> {
        let adjusted = self.inner.adjust_stock(request_id, id, delta).await;
        self.invalidate(&[id]).await;
        adjusted
    }

    async fn invalidate(&self, ids: &[Uuid]) {
        if ids.is_empty() {
            return;
        }
        let keys: Vec<String> = ids.iter().map(|id| self.key(*id)).collect();
        let mut redis = self.redis.clone();
        let deleted = self
            .breaker
            .call(async move { redis.del::<_, ()>(keys).await })
            .await;
        if let Err(err) = deleted {
            // The entry expires on its own within the TTL; until then reads may be stale.
            self.record("error");
            tracing::warn!(error = %err, "cache invalidation failed");
        }
    }
}
