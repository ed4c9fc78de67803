//! A typed async client of the Ferris Shop REST API (`/api/v1`), for programs that talk to the
//! shop: the system tests, the load generator, and the contract tests that pin the API down.
//!
//! The types here are the client's own reading of the API, written as a consumer would write
//! them, not borrowed from the gateway: that is what makes the contract tests meaningful.
//!
//! ```no_run
//! # async fn demo() -> Result<(), shop_client::ClientError> {
//! let shop = shop_client::ShopClient::new("http://localhost:8080")?;
//! let tokens = shop.login("ann@example.com", "correct horse battery").await?;
//! let me = shop.with_token(&tokens.access_token).me().await?;
//! # Ok(()) }
//! ```

mod types;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
pub use types::*;

/// What can go wrong talking to the shop.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The shop answered with an RFC 9457 problem.
    #[error("{status} {problem}")]
    Problem { status: u16, problem: Problem },
    /// The request did not get an answer.
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// The answer was not what the API promises.
    #[error("unexpected answer ({status}): {message}")]
    Unexpected { status: u16, message: String },
    #[error("invalid base URL: {0}")]
    BaseUrl(#[from] url::ParseError),
}

impl ClientError {
    /// The HTTP status of a problem answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Problem { status, .. } | Self::Unexpected { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The problem's type slug (`rate-limited`, `validation`...), if the shop sent one.
    pub fn problem_type(&self) -> Option<&str> {
        match self {
            Self::Problem { problem, .. } => Some(problem.slug()),
            _ => None,
        }
    }
}

/// A client of one shop, optionally signed in. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ShopClient {
    http: reqwest::Client,
    base: url::Url,
    token: Option<String>,
}

/// An order just placed, and whether checkout finished within the request (201) or continues
/// in the background (202).
#[derive(Debug, Clone)]
pub struct Placed {
    pub finished: bool,
    pub order: Order,
}

impl ShopClient {
    /// A client of the shop at `base_url` (`http://localhost:8080`).
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()?,
            base: url::Url::parse(base_url)?,
            token: None,
        })
    }

    /// The same client, acting with `access_token`.
    #[must_use]
    pub fn with_token(&self, access_token: &str) -> Self {
        Self {
            token: Some(access_token.to_owned()),
            ..self.clone()
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
        headers: &[(&str, &str)],
    ) -> Result<(StatusCode, Option<T>), ClientError> {
        let mut request = self.http.request(method, self.base.join(path)?);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            return match serde_json::from_slice::<Problem>(&bytes) {
                Ok(problem) => Err(ClientError::Problem {
                    status: status.as_u16(),
                    problem,
                }),
                Err(_) => Err(ClientError::Unexpected {
                    status: status.as_u16(),
                    message: String::from_utf8_lossy(&bytes).into_owned(),
                }),
            };
        }
        if bytes.is_empty() {
            return Ok((status, None));
        }
        serde_json::from_slice(&bytes)
            .map(|value| (status, Some(value)))
            .map_err(|err| ClientError::Unexpected {
                status: status.as_u16(),
                message: format!("cannot read the body: {err}"),
            })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, ClientError> {
        let (status, value) = self.send(method, path, body, &[]).await?;
        value.ok_or(ClientError::Unexpected {
            status: status.as_u16(),
            message: "an empty body where one was expected".to_owned(),
        })
    }

    /// Signs up; the answer is the same whether or not the email already had an account, so
    /// sign in next to find out whether this password opens it.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        name: &str,
    ) -> Result<SignUpAccepted, ClientError> {
        let body = serde_json::json!({ "email": email, "password": password, "name": name });
        self.call(Method::POST, "/api/v1/auth/register", Some(&body))
            .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<Tokens, ClientError> {
        let body = serde_json::json!({ "email": email, "password": password });
        self.call(Method::POST, "/api/v1/auth/login", Some(&body))
            .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, ClientError> {
        let body = serde_json::json!({ "refresh_token": refresh_token });
        self.call(Method::POST, "/api/v1/auth/refresh", Some(&body))
            .await
    }

    pub async fn logout(&self) -> Result<(), ClientError> {
        self.send::<serde_json::Value>(Method::POST, "/api/v1/auth/logout", None::<&()>, &[])
            .await?;
        Ok(())
    }

    pub async fn me(&self) -> Result<User, ClientError> {
        self.call(Method::GET, "/api/v1/me", None::<&()>).await
    }

    /// A page of the catalog; `query` filters by text.
    pub async fn list_products(
        &self,
        query: Option<&str>,
        page_size: Option<u32>,
        page_token: Option<&str>,
    ) -> Result<Page<Product>, ClientError> {
        let mut url = self.base.join("/api/v1/products")?;
        {
            let mut pairs = url.query_pairs_mut();
            if let Some(q) = query {
                pairs.append_pair("q", q);
            }
            if let Some(size) = page_size {
                pairs.append_pair("page_size", &size.to_string());
            }
            if let Some(token) = page_token {
                pairs.append_pair("page_token", token);
            }
        }
        let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
        self.call(Method::GET, &path, None::<&()>).await
    }

    pub async fn get_product(&self, id: &str) -> Result<Product, ClientError> {
        self.call(Method::GET, &format!("/api/v1/products/{id}"), None::<&()>)
            .await
    }

    pub async fn create_product(&self, product: &NewProduct) -> Result<Product, ClientError> {
        self.call(Method::POST, "/api/v1/products", Some(product))
            .await
    }

    pub async fn update_product(
        &self,
        id: &str,
        changes: &ProductChanges,
    ) -> Result<Product, ClientError> {
        self.call(
            Method::PATCH,
            &format!("/api/v1/products/{id}"),
            Some(changes),
        )
        .await
    }

    pub async fn adjust_stock(&self, id: &str, delta: i64) -> Result<Product, ClientError> {
        let body = serde_json::json!({ "delta": delta });
        self.call(
            Method::POST,
            &format!("/api/v1/products/{id}/stock"),
            Some(&body),
        )
        .await
    }

    /// Places an order under `idempotency_key`: the same key and items return the same order.
    pub async fn place_order(
        &self,
        idempotency_key: &str,
        order: &NewOrder,
    ) -> Result<Placed, ClientError> {
        let (status, body) = self
            .send::<Order>(
                Method::POST,
                "/api/v1/orders",
                Some(order),
                &[("idempotency-key", idempotency_key)],
            )
            .await?;
        let order = body.ok_or(ClientError::Unexpected {
            status: status.as_u16(),
            message: "no order in the answer".to_owned(),
        })?;
        Ok(Placed {
            finished: status == StatusCode::CREATED,
            order,
        })
    }

    pub async fn list_orders(
        &self,
        page_size: Option<u32>,
        page_token: Option<&str>,
    ) -> Result<Page<Order>, ClientError> {
        let mut path = format!("/api/v1/orders?page_size={}", page_size.unwrap_or(20));
        if let Some(token) = page_token {
            path.push_str("&page_token=");
            path.push_str(token);
        }
        self.call(Method::GET, &path, None::<&()>).await
    }

    pub async fn get_order(&self, id: &str) -> Result<Order, ClientError> {
        self.call(Method::GET, &format!("/api/v1/orders/{id}"), None::<&()>)
            .await
    }

    pub async fn cancel_order(&self, id: &str, reason: &str) -> Result<Order, ClientError> {
        let body = serde_json::json!({ "reason": reason });
        self.call(
            Method::POST,
            &format!("/api/v1/orders/{id}/cancel"),
            Some(&body),
        )
        .await
    }

    pub async fn dashboard(&self) -> Result<Dashboard, ClientError> {
        self.call(Method::GET, "/api/v1/dashboard", None::<&()>)
            .await
    }
}
