//! The gateway's first-level catalog cache: products in process memory for a few seconds, in
//! front of the inventory's Redis cache. Every replica drops an entry the moment inventory
//! announces `product.changed` (a broadcast queue of its own), and everything when its
//! subscription is re-established, since it may have missed announcements meanwhile.

use std::time::Duration;

use async_trait::async_trait;
use shop_events::Envelope;
use shop_events::product::ProductChanged;
use shop_messaging::BroadcastHandler;

/// Products by id, in whatever form the caller serves them (the API's JSON shape).
#[derive(Debug, Clone)]
pub struct CatalogCache<P: Clone + Send + Sync + 'static> {
    products: moka::future::Cache<String, P>,
}

impl<P: Clone + Send + Sync + 'static> CatalogCache<P> {
    pub fn new(ttl: Duration, capacity: u64) -> Self {
        Self {
            products: moka::future::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }

    pub async fn get(&self, id: &str) -> Option<P> {
        let found = self.products.get(id).await;
        let result = if found.is_some() { "hit" } else { "miss" };
        metrics::counter!("gateway_catalog_cache_requests_total", "result" => result).increment(1);
        found
    }

    pub async fn put(&self, id: String, product: P) {
        self.products.insert(id, product).await;
    }

    pub async fn forget(&self, id: &str) {
        self.products.invalidate(id).await;
    }

    pub fn forget_all(&self) {
        self.products.invalidate_all();
    }
}

#[async_trait]
impl<P: Clone + Send + Sync + 'static> BroadcastHandler<ProductChanged> for CatalogCache<P> {
    async fn on_event(&self, event: Envelope<ProductChanged>) {
        self.forget(&event.data.product_id.to_string()).await;
    }

    async fn on_subscribed(&self) {
        self.forget_all();
    }
}
