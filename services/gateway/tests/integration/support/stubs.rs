//! Stub backends: real tonic servers on free ports with canned, scriptable answers. The gateway
//! under test talks to them over real gRPC, exactly as it talks to the real services; the
//! stub user service even signs real tokens with a real key, published through GetJwks.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shop_auth::{AuthSettings, Role, TokenSigner, keys};
use shop_proto::common::v1::{Money, PageResponse};
use shop_proto::inventory::v1 as inv;
use shop_proto::inventory::v1::inventory_service_server::{
    InventoryService, InventoryServiceServer,
};
use shop_proto::order::v1 as ord;
use shop_proto::order::v1::order_service_server::{OrderService, OrderServiceServer};
use shop_proto::user::v1 as usr;
use shop_proto::user::v1::user_service_server::{UserService, UserServiceServer};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// Starts a gRPC server for `service` on a free port; it lives as long as the test.
async fn serve<S>(service: S) -> SocketAddr
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    addr
}

/// Shared, scriptable state of the stubs.
#[derive(Default)]
pub struct Script {
    pub products: Vec<inv::Product>,
    /// When set, every inventory call fails with this code.
    pub inventory_fails_with: Option<tonic::Code>,
    /// The status PlaceOrder answers with.
    pub place_status: Option<ord::OrderStatus>,
    /// When set, PlaceOrder fails with this status.
    pub place_fails_with: Option<(tonic::Code, String)>,
    pub inventory_calls: usize,
    pub registered: Vec<String>,
    /// The password Login accepts; "right password" when unset.
    pub password: Option<String>,
    /// The refresh token Refresh accepts; "refresh-1" when unset.
    pub refresh_token: Option<String>,
    /// Order ids GetOrder and CancelOrder treat as someone else's (NOT_FOUND).
    pub foreign_orders: Vec<String>,
    /// The `client` of every Login request, in order.
    pub login_clients: Vec<String>,
    /// The cart every caller shares (the stub knows one customer's).
    pub cart: Vec<ord::CartLine>,
    /// Every ListProducts request (`order`, `include_inactive`, whether it carried a token).
    pub listings: Vec<(i32, bool, bool)>,
}

#[derive(Clone)]
pub struct Stubs {
    pub script: Arc<Mutex<Script>>,
    pub signer: TokenSigner,
    pub public_key: [u8; 32],
    pub user: SocketAddr,
    pub inventory: SocketAddr,
    pub order: SocketAddr,
}

impl Stubs {
    pub async fn start() -> Self {
        let pair = keys::generate().unwrap();
        let signer = TokenSigner::new(
            "stub-key",
            &pair.private_pkcs8_der,
            &AuthSettings::default(),
        );
        let script = Arc::new(Mutex::new(default_script()));
        let user = serve(UserServiceServer::new(StubUser {
            script: script.clone(),
            signer: signer.clone(),
            public_key: pair.public_key,
        }))
        .await;
        let inventory = serve(InventoryServiceServer::new(StubInventory {
            script: script.clone(),
        }))
        .await;
        let order = serve(OrderServiceServer::new(StubOrder {
            script: script.clone(),
        }))
        .await;
        Self {
            script,
            signer,
            public_key: pair.public_key,
            user,
            inventory,
            order,
        }
    }

    /// A valid access token for a new customer (or admin).
    pub fn token(&self, admin: bool) -> (Uuid, String) {
        let user = Uuid::now_v7();
        let roles = if admin {
            vec![Role::Customer, Role::Admin]
        } else {
            vec![Role::Customer]
        };
        let issued = self
            .signer
            .sign(user, &roles, Uuid::now_v7(), Duration::from_secs(900))
            .unwrap();
        (user, issued.token)
    }

    pub fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap()
    }
}

/// The default script: two products, checkout confirms.
pub fn default_script() -> Script {
    Script {
        products: vec![
            product("Ferris Plush", 2499, 10),
            product("Crab Mug", 1299, 3),
        ],
        place_status: Some(ord::OrderStatus::Confirmed),
        ..Script::default()
    }
}

pub fn product(name: &str, price: i64, available: i64) -> inv::Product {
    inv::Product {
        id: Uuid::now_v7().to_string(),
        name: name.to_owned(),
        description: format!("{name}, a stub"),
        price: Some(Money {
            amount_minor: price,
            currency: "EUR".to_owned(),
        }),
        image_url: String::new(),
        available,
        reserved: 0,
        sold: 0,
        active: true,
        created_at: None,
        updated_at: None,
    }
}

fn caller_of<T>(request: &Request<T>) -> Option<String> {
    request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

struct StubUser {
    script: Arc<Mutex<Script>>,
    signer: TokenSigner,
    public_key: [u8; 32],
}

#[tonic::async_trait]
impl UserService for StubUser {
    /// The gateway acts for people, never as itself: it never asks for a service token.
    async fn issue_service_token(
        &self,
        _: Request<usr::IssueServiceTokenRequest>,
    ) -> Result<Response<usr::IssueServiceTokenResponse>, Status> {
        Err(Status::unauthenticated(
            "the gateway has no service identity",
        ))
    }

    async fn register(
        &self,
        request: Request<usr::RegisterRequest>,
    ) -> Result<Response<usr::RegisterResponse>, Status> {
        let r = request.into_inner();
        if r.email.is_empty() {
            return Err(shop_platform::grpc_status::invalid_argument(
                &shop_platform::validation::Violations::single("email", "must not be empty"),
            ));
        }
        let mut script = self.script.lock().unwrap();
        if script.registered.contains(&r.email) {
            return Err(Status::already_exists(
                "an account with this email already exists",
            ));
        }
        script.registered.push(r.email.clone());
        Ok(Response::new(usr::RegisterResponse {
            user: Some(usr::User {
                id: Uuid::now_v7().to_string(),
                email: r.email,
                name: r.name,
                roles: vec!["customer".to_owned()],
                created_at: None,
            }),
        }))
    }

    async fn login(
        &self,
        request: Request<usr::LoginRequest>,
    ) -> Result<Response<usr::LoginResponse>, Status> {
        let expected = {
            let mut script = self.script.lock().unwrap();
            script.login_clients.push(request.get_ref().client.clone());
            script.password.clone()
        };
        if request.get_ref().password != expected.as_deref().unwrap_or("right password") {
            return Err(Status::unauthenticated("wrong email or password"));
        }
        let issued = self
            .signer
            .sign(
                Uuid::now_v7(),
                &[Role::Customer],
                Uuid::now_v7(),
                Duration::from_secs(900),
            )
            .unwrap();
        Ok(Response::new(usr::LoginResponse {
            tokens: Some(usr::TokenPair {
                access_token: issued.token,
                token_type: "Bearer".to_owned(),
                expires_in: 900,
                refresh_token: "refresh-1".to_owned(),
            }),
        }))
    }

    async fn refresh(
        &self,
        request: Request<usr::RefreshRequest>,
    ) -> Result<Response<usr::RefreshResponse>, Status> {
        let expected = self.script.lock().unwrap().refresh_token.clone();
        if request.get_ref().refresh_token != expected.as_deref().unwrap_or("refresh-1") {
            return Err(Status::unauthenticated("the refresh token is not valid"));
        }
        let issued = self
            .signer
            .sign(
                Uuid::now_v7(),
                &[Role::Customer],
                Uuid::now_v7(),
                Duration::from_secs(900),
            )
            .unwrap();
        Ok(Response::new(usr::RefreshResponse {
            tokens: Some(usr::TokenPair {
                access_token: issued.token,
                token_type: "Bearer".to_owned(),
                expires_in: 900,
                refresh_token: "refresh-2".to_owned(),
            }),
        }))
    }

    async fn logout(
        &self,
        request: Request<usr::LogoutRequest>,
    ) -> Result<Response<usr::LogoutResponse>, Status> {
        caller_of(&request).ok_or_else(|| Status::unauthenticated("no token"))?;
        Ok(Response::new(usr::LogoutResponse {}))
    }

    async fn get_user(
        &self,
        request: Request<usr::GetUserRequest>,
    ) -> Result<Response<usr::GetUserResponse>, Status> {
        caller_of(&request).ok_or_else(|| Status::unauthenticated("no token"))?;
        Ok(Response::new(usr::GetUserResponse {
            user: Some(usr::User {
                id: request.get_ref().user_id.clone(),
                email: "ann@example.com".to_owned(),
                name: "Ann".to_owned(),
                roles: vec!["customer".to_owned()],
                created_at: None,
            }),
        }))
    }

    async fn get_jwks(
        &self,
        _: Request<usr::GetJwksRequest>,
    ) -> Result<Response<usr::GetJwksResponse>, Status> {
        let jwk = keys::public_jwk("stub-key", &self.public_key);
        Ok(Response::new(usr::GetJwksResponse {
            keys: vec![usr::Jwk {
                kty: jwk.kty,
                crv: jwk.crv,
                x: jwk.x,
                kid: jwk.kid,
                alg: jwk.alg,
                r#use: jwk.key_use,
            }],
        }))
    }
}

struct StubInventory {
    script: Arc<Mutex<Script>>,
}

impl StubInventory {
    fn gate(&self) -> Result<std::sync::MutexGuard<'_, Script>, Status> {
        let mut script = self.script.lock().unwrap();
        script.inventory_calls += 1;
        match script.inventory_fails_with {
            Some(code) => Err(Status::new(code, "stub inventory is down")),
            None => Ok(script),
        }
    }
}

#[tonic::async_trait]
impl InventoryService for StubInventory {
    async fn list_products(
        &self,
        request: Request<inv::ListProductsRequest>,
    ) -> Result<Response<inv::ListProductsResponse>, Status> {
        let mut script = self.gate()?;
        let bearer = request.metadata().get("authorization").is_some();
        let r = request.get_ref();
        script.listings.push((r.order, r.include_inactive, bearer));
        Ok(Response::new(inv::ListProductsResponse {
            products: script.products.clone(),
            page: Some(PageResponse {
                next_page_token: String::new(),
            }),
        }))
    }

    async fn get_product(
        &self,
        request: Request<inv::GetProductRequest>,
    ) -> Result<Response<inv::GetProductResponse>, Status> {
        let script = self.gate()?;
        let found = script
            .products
            .iter()
            .find(|p| p.id == request.get_ref().product_id)
            .cloned();
        found
            .map(|p| Response::new(inv::GetProductResponse { product: Some(p) }))
            .ok_or_else(|| Status::not_found("no such product"))
    }

    async fn batch_get_products(
        &self,
        _: Request<inv::BatchGetProductsRequest>,
    ) -> Result<Response<inv::BatchGetProductsResponse>, Status> {
        Err(Status::unimplemented("the gateway does not use it"))
    }

    async fn create_product(
        &self,
        request: Request<inv::CreateProductRequest>,
    ) -> Result<Response<inv::CreateProductResponse>, Status> {
        let mut script = self.gate()?;
        let r = request.into_inner();
        if r.name.trim().is_empty() {
            return Err(shop_platform::grpc_status::invalid_argument(
                &shop_platform::validation::Violations::single("name", "must not be empty"),
            ));
        }
        let created = inv::Product {
            name: r.name,
            price: r.price,
            description: r.description,
            image_url: r.image_url,
            ..product("x", 1, 0)
        };
        script.products.push(created.clone());
        Ok(Response::new(inv::CreateProductResponse {
            product: Some(created),
        }))
    }

    async fn update_product(
        &self,
        request: Request<inv::UpdateProductRequest>,
    ) -> Result<Response<inv::UpdateProductResponse>, Status> {
        let mut script = self.gate()?;
        let r = request.into_inner();
        let product = script
            .products
            .iter_mut()
            .find(|p| p.id == r.product_id)
            .ok_or_else(|| Status::not_found("no such product"))?;
        if let Some(name) = r.name {
            product.name = name;
        }
        if let Some(active) = r.active {
            product.active = active;
        }
        Ok(Response::new(inv::UpdateProductResponse {
            product: Some(product.clone()),
        }))
    }

    async fn adjust_stock(
        &self,
        request: Request<inv::AdjustStockRequest>,
    ) -> Result<Response<inv::AdjustStockResponse>, Status> {
        let mut script = self.gate()?;
        let r = request.into_inner();
        let product = script
            .products
            .iter_mut()
            .find(|p| p.id == r.product_id)
            .ok_or_else(|| Status::not_found("no such product"))?;
        if product.available + r.delta < 0 {
            return Err(Status::failed_precondition("not enough stock to write off"));
        }
        product.available += r.delta;
        Ok(Response::new(inv::AdjustStockResponse {
            product: Some(product.clone()),
        }))
    }

    async fn reserve_stock(
        &self,
        _: Request<inv::ReserveStockRequest>,
    ) -> Result<Response<inv::ReserveStockResponse>, Status> {
        Err(Status::unimplemented("the gateway does not use it"))
    }

    async fn release_reservation(
        &self,
        _: Request<inv::ReleaseReservationRequest>,
    ) -> Result<Response<inv::ReleaseReservationResponse>, Status> {
        Err(Status::unimplemented("the gateway does not use it"))
    }
}

struct StubOrder {
    script: Arc<Mutex<Script>>,
}

fn stub_order(id: &str, status: ord::OrderStatus) -> ord::Order {
    ord::Order {
        id: id.to_owned(),
        user_id: Uuid::now_v7().to_string(),
        status: status.into(),
        reason: String::new(),
        lines: vec![ord::OrderLine {
            product_id: Uuid::now_v7().to_string(),
            name: "Crab Mug".to_owned(),
            quantity: 1,
            unit_price: Some(Money {
                amount_minor: 1299,
                currency: "EUR".to_owned(),
            }),
        }],
        total: Some(Money {
            amount_minor: 1299,
            currency: "EUR".to_owned(),
        }),
        created_at: Some(prost_types::Timestamp {
            seconds: 1_790_000_000,
            nanos: 0,
        }),
        updated_at: None,
        shipping_address: None,
        shipping_method: ord::ShippingMethod::Unspecified.into(),
        shipping: None,
        subtotal: None,
        carrier: String::new(),
        tracking_number: String::new(),
        timeline: vec![ord::TimelineEntry {
            at: Some(prost_types::Timestamp {
                seconds: 1_790_000_000,
                nanos: 0,
            }),
            event: "placed".to_owned(),
            detail: "1 item(s)".to_owned(),
        }],
    }
}

#[tonic::async_trait]
impl OrderService for StubOrder {
    async fn place_order(
        &self,
        request: Request<ord::PlaceOrderRequest>,
    ) -> Result<Response<ord::PlaceOrderResponse>, Status> {
        caller_of(&request).ok_or_else(|| Status::unauthenticated("no token"))?;
        // The one rule of the real service the gateway relies on it for, in its words.
        if request.get_ref().shipping_address.is_none() {
            return Err(shop_platform::grpc_status::invalid_argument(
                &shop_platform::validation::Violations::single("shipping_address", "is required"),
            ));
        }
        let script = self.script.lock().unwrap();
        if let Some((code, reason)) = &script.place_fails_with {
            return Err(shop_platform::grpc_status::with_reason(
                *code,
                reason,
                "scripted failure",
                &[],
            ));
        }
        let status = script.place_status.unwrap_or(ord::OrderStatus::Confirmed);
        Ok(Response::new(ord::PlaceOrderResponse {
            order: Some(stub_order(&Uuid::now_v7().to_string(), status)),
        }))
    }

    async fn get_order(
        &self,
        request: Request<ord::GetOrderRequest>,
    ) -> Result<Response<ord::GetOrderResponse>, Status> {
        caller_of(&request).ok_or_else(|| Status::unauthenticated("no token"))?;
        let id = &request.get_ref().order_id;
        if id == "someone-elses" || self.script.lock().unwrap().foreign_orders.contains(id) {
            return Err(Status::not_found("no such order"));
        }
        Ok(Response::new(ord::GetOrderResponse {
            order: Some(stub_order(
                &request.get_ref().order_id,
                ord::OrderStatus::Confirmed,
            )),
        }))
    }

    async fn list_orders(
        &self,
        request: Request<ord::ListOrdersRequest>,
    ) -> Result<Response<ord::ListOrdersResponse>, Status> {
        caller_of(&request).ok_or_else(|| Status::unauthenticated("no token"))?;
        Ok(Response::new(ord::ListOrdersResponse {
            orders: vec![stub_order(
                &Uuid::now_v7().to_string(),
                ord::OrderStatus::Confirmed,
            )],
            page: Some(PageResponse {
                next_page_token: String::new(),
            }),
        }))
    }

    async fn cancel_order(
        &self,
        request: Request<ord::CancelOrderRequest>,
    ) -> Result<Response<ord::CancelOrderResponse>, Status> {
        caller_of(&request).ok_or_else(|| Status::unauthenticated("no token"))?;
        if request.get_ref().order_id == "shipped-one" {
            return Err(shop_platform::grpc_status::with_reason(
                tonic::Code::FailedPrecondition,
                "ORDER_ALREADY_SHIPPED",
                "this order has been shipped and can no longer be cancelled",
                &[],
            ));
        }
        if request.get_ref().order_id == "rejected-one" {
            return Err(Status::failed_precondition(
                "only a confirmed order can be cancelled",
            ));
        }
        Ok(Response::new(ord::CancelOrderResponse {
            order: Some(stub_order(
                &request.get_ref().order_id,
                ord::OrderStatus::Cancelled,
            )),
        }))
    }

    async fn get_cart(
        &self,
        request: Request<ord::GetCartRequest>,
    ) -> Result<Response<ord::GetCartResponse>, Status> {
        caller_of(&request).ok_or_else(|| Status::unauthenticated("no token"))?;
        let cart = stub_cart(&self.script.lock().unwrap().cart);
        Ok(Response::new(ord::GetCartResponse { cart: Some(cart) }))
    }

    async fn set_cart_item(
        &self,
        request: Request<ord::SetCartItemRequest>,
    ) -> Result<Response<ord::SetCartItemResponse>, Status> {
        caller_of(&request).ok_or_else(|| Status::unauthenticated("no token"))?;
        let r = request.into_inner();
        // The rule of the real service the gateway relies on it for, in its words.
        if Uuid::parse_str(&r.product_id).is_err() {
            return Err(shop_platform::grpc_status::invalid_argument(
                &shop_platform::validation::Violations::single("product_id", "must be a UUID"),
            ));
        }
        let mut script = self.script.lock().unwrap();
        script.cart.retain(|l| l.product_id != r.product_id);
        if r.quantity > 0 {
            script.cart.push(stub_cart_line(&r.product_id, r.quantity));
        }
        Ok(Response::new(ord::SetCartItemResponse {
            cart: Some(stub_cart(&script.cart)),
        }))
    }

    async fn clear_cart(
        &self,
        request: Request<ord::ClearCartRequest>,
    ) -> Result<Response<ord::ClearCartResponse>, Status> {
        caller_of(&request).ok_or_else(|| Status::unauthenticated("no token"))?;
        self.script.lock().unwrap().cart.clear();
        Ok(Response::new(ord::ClearCartResponse {
            cart: Some(stub_cart(&[])),
        }))
    }

    async fn merge_cart(
        &self,
        request: Request<ord::MergeCartRequest>,
    ) -> Result<Response<ord::MergeCartResponse>, Status> {
        caller_of(&request).ok_or_else(|| Status::unauthenticated("no token"))?;
        let mut script = self.script.lock().unwrap();
        for line in request.into_inner().lines {
            script
                .cart
                .push(stub_cart_line(&line.product_id, line.quantity));
        }
        Ok(Response::new(ord::MergeCartResponse {
            cart: Some(stub_cart(&script.cart)),
        }))
    }

    async fn get_shipping_options(
        &self,
        request: Request<ord::GetShippingOptionsRequest>,
    ) -> Result<Response<ord::GetShippingOptionsResponse>, Status> {
        caller_of(&request).ok_or_else(|| Status::unauthenticated("no token"))?;
        if request.get_ref().country != "IE" {
            return Err(shop_platform::grpc_status::invalid_argument(
                &shop_platform::validation::Violations::single("country", "not a country code"),
            ));
        }
        let option = |method: ord::ShippingMethod, price| ord::ShippingOption {
            method: method.into(),
            price: eur(price),
            min_days: 1,
            max_days: 3,
        };
        Ok(Response::new(ord::GetShippingOptionsResponse {
            subtotal: eur(0),
            options: vec![
                option(ord::ShippingMethod::Standard, 495),
                option(ord::ShippingMethod::Express, 995),
            ],
        }))
    }

    async fn ship_order(
        &self,
        request: Request<ord::ShipOrderRequest>,
    ) -> Result<Response<ord::ShipOrderResponse>, Status> {
        caller_of(&request).ok_or_else(|| Status::unauthenticated("no token"))?;
        let r = request.into_inner();
        let mut order = stub_order(&r.order_id, ord::OrderStatus::Shipped);
        order.carrier = r.carrier;
        order.tracking_number = r.tracking_number;
        Ok(Response::new(ord::ShipOrderResponse { order: Some(order) }))
    }

    async fn deliver_order(
        &self,
        request: Request<ord::DeliverOrderRequest>,
    ) -> Result<Response<ord::DeliverOrderResponse>, Status> {
        caller_of(&request).ok_or_else(|| Status::unauthenticated("no token"))?;
        Ok(Response::new(ord::DeliverOrderResponse {
            order: Some(stub_order(
                &request.get_ref().order_id,
                ord::OrderStatus::Delivered,
            )),
        }))
    }
}

fn eur(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: "EUR".to_owned(),
    })
}

fn stub_cart_line(product_id: &str, quantity: i64) -> ord::CartLine {
    ord::CartLine {
        product_id: product_id.to_owned(),
        name: "Crab Mug".to_owned(),
        quantity,
        unit_price: eur(1299),
        line_total: eur(1299 * quantity),
        available: 7,
        active: true,
        price_changed: false,
        seen_price: eur(1299),
    }
}

fn stub_cart(lines: &[ord::CartLine]) -> ord::Cart {
    ord::Cart {
        lines: lines.to_vec(),
        subtotal: (!lines.is_empty())
            .then(|| eur(lines.iter().map(|l| 1299 * l.quantity).sum()))
            .flatten(),
    }
}
