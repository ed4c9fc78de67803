//! The gateway's router wired to stub backends over real gRPC, with real Redis for rate limits
//! and the token denylist. Requests go through `tower::ServiceExt::oneshot`: no socket needed.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // Not every test uses all of it.

pub mod stubs;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::Value;
use shop_gateway::Settings;
use shop_gateway::api::state::AppState;
use shop_messaging::AmqpSettings;
use shop_platform::config::Secret;
use tower::ServiceExt as _;

pub use stubs::Stubs;

pub struct Gateway {
    pub router: Router,
    pub state: AppState,
    pub stubs: Stubs,
    pub settings: Settings,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The problem `type` slug of an error reply.
    pub fn problem(&self) -> &str {
        self.body["type"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("https://ferris-shop.dev/problems/")
    }
}

impl Gateway {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        let stubs = Stubs::start().await;
        Self::on(stubs, adjust).await
    }

    /// A gateway in front of existing stubs (a second replica shares them).
    pub async fn on(stubs: Stubs, adjust: impl FnOnce(&mut Settings)) -> Self {
        shop_testkit::init();
        let mut settings = Settings::default();
        settings.upstream.user = format!("http://{}", stubs.user);
        settings.upstream.inventory = format!("http://{}", stubs.inventory);
        settings.upstream.order = format!("http://{}", stubs.order);
        settings.redis.url = Secret::new(shop_testkit::redis_url().await);
        settings.redis.key_prefix = format!("{}:", shop_testkit::unique_name("gw"));
        settings.amqp = AmqpSettings::isolated(
            shop_testkit::amqp_url().await,
            &shop_testkit::unique_name("gw"),
        );
        adjust(&mut settings);
        let state = shop_gateway::startup::parts(&settings).await.unwrap().state;
        let router = shop_gateway::api::router(state.clone(), &settings);
        Self {
            router,
            state,
            stubs,
            settings,
        }
    }

    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = match body {
            Some(json) => request
                .header("content-type", "application/json")
                .body(Body::from(json.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        self.raw(request).await
    }

    pub async fn raw(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, uri, token, None, &[]).await
    }

    pub async fn post(&self, uri: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, uri, token, Some(body), &[]).await
    }
}
