//! Sessions end everywhere at once: after a logout, or after a refresh token is used twice,
//! every access token of that session is refused by every service, including after Redis lost
//! everything it held. Service tokens are renewed before they expire.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::{Duration, Instant};

use crate::support::Shop;
use shop_auth::grpc::reasons;
use shop_platform::grpc_status::reason_of;
use shop_proto::inventory::v1 as inventory_pb;
use shop_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use shop_proto::order::v1 as order_pb;
use shop_proto::order::v1::order_service_client::OrderServiceClient;
use shop_proto::payment::v1 as payment_pb;
use shop_proto::payment::v1::payment_service_client::PaymentServiceClient;
use shop_proto::user::v1 as user_pb;
use shop_proto::user::v1::user_service_client::UserServiceClient;
use shop_test_services::{PASSWORD, Started, TestShop, authed};
use tonic::Code;

/// What a call with a person's token came to, in every service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// The call got past authorization (whatever the handler then answered).
    Accepted,
    /// Refused: the token is not (any more) valid.
    Refused,
    /// The token could not be checked just now.
    Unavailable,
}

fn seen<T>(result: Result<T, tonic::Status>) -> Seen {
    let Err(status) = result else {
        return Seen::Accepted;
    };
    match reason_of(&status).as_deref() {
        Some(reasons::TOKEN_INVALID) => Seen::Refused,
        Some(reasons::AUTH_UNAVAILABLE) => Seen::Unavailable,
        _ => {
            assert!(
                !matches!(
                    status.code(),
                    Code::Unauthenticated | Code::PermissionDenied
                ),
                "an unexpected refusal: {status:?}"
            );
            Seen::Accepted
        }
    }
}

/// The addresses of the four backends.
struct Backends {
    user: std::net::SocketAddr,
    inventory: std::net::SocketAddr,
    order: std::net::SocketAddr,
    payment: std::net::SocketAddr,
}

impl Backends {
    fn of(shop: &Shop) -> Self {
        Self {
            user: shop.user.addr,
            inventory: shop.inventory.addr,
            order: shop.order.addr,
            payment: shop.payment.addr,
        }
    }

    /// One call an admin's token may make on each backend: how each of them sees the token.
    async fn check(&self, token: &str) -> [Seen; 4] {
        let connect = shop_testkit::grpc::connect;
        let user = UserServiceClient::new(connect(self.user).await)
            .get_user(authed(
                user_pb::GetUserRequest {
                    user_id: uuid::Uuid::now_v7().to_string(),
                },
                token,
            ))
            .await;
        let inventory = InventoryServiceClient::new(connect(self.inventory).await)
            .adjust_stock(authed(inventory_pb::AdjustStockRequest::default(), token))
            .await;
        let order = OrderServiceClient::new(connect(self.order).await)
            .list_orders(authed(order_pb::ListOrdersRequest::default(), token))
            .await;
        let payment = PaymentServiceClient::new(connect(self.payment).await)
            .get_payment(authed(
                payment_pb::GetPaymentRequest {
                    order_id: uuid::Uuid::now_v7().to_string(),
                },
                token,
            ))
            .await;
        [seen(user), seen(inventory), seen(order), seen(payment)]
    }
}

const ACCEPTED: [Seen; 4] = [Seen::Accepted; 4];
const REFUSED: [Seen; 4] = [Seen::Refused; 4];

/// Logs the admin of the shop in: a new session; returns (access, refresh) tokens.
async fn sign_in<U>(user: &Started<U>) -> (String, String) {
    let pair = UserServiceClient::new(user.channel().await)
        .login(user_pb::LoginRequest {
            email: "admin@example.com".to_owned(),
            password: PASSWORD.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    (pair.access_token, pair.refresh_token)
}

async fn refresh<U>(user: &Started<U>, token: &str) -> Result<(String, String), tonic::Status> {
    UserServiceClient::new(user.channel().await)
        .refresh(user_pb::RefreshRequest {
            refresh_token: token.to_owned(),
        })
        .await
        .map(|r| {
            let pair = r.into_inner().tokens.unwrap();
            (pair.access_token, pair.refresh_token)
        })
}

async fn logout<U>(user: &Started<U>, token: &str) {
    UserServiceClient::new(user.channel().await)
        .logout(authed(user_pb::LogoutRequest {}, token))
        .await
        .unwrap();
}

#[tokio::test]
async fn logout_ends_every_access_token_of_the_session_in_every_service_at_once() {
    let shop = Shop::start().await;
    let backends = Backends::of(&shop);
    let (first, refresh_token) = sign_in(&shop.user).await;
    let (second, _) = refresh(&shop.user, &refresh_token).await.unwrap();
    let (elsewhere, _) = sign_in(&shop.user).await;
    for token in [&first, &second, &elsewhere] {
        assert_eq!(backends.check(token).await, ACCEPTED);
    }

    logout(&shop.user, &first).await;

    // No waiting: the next call anywhere is refused, for both tokens of the session.
    assert_eq!(backends.check(&first).await, REFUSED);
    assert_eq!(backends.check(&second).await, REFUSED);
    // Another session of the same person is untouched.
    assert_eq!(backends.check(&elsewhere).await, ACCEPTED);
    shop.stop().await;
}

#[tokio::test]
async fn a_refresh_token_used_twice_ends_the_session_in_every_service_at_once() {
    let shop = Shop::start().await;
    let backends = Backends::of(&shop);
    let (first, spent) = sign_in(&shop.user).await;
    let (second, _) = refresh(&shop.user, &spent).await.unwrap();
    assert_eq!(backends.check(&second).await, ACCEPTED);

    // Someone replays the spent refresh token (it was stolen, or the thief got there first).
    let replay = refresh(&shop.user, &spent).await.unwrap_err();
    assert_eq!(replay.code(), Code::Unauthenticated);

    assert_eq!(backends.check(&first).await, REFUSED);
    assert_eq!(backends.check(&second).await, REFUSED);
    shop.stop().await;
}

#[tokio::test]
async fn a_revoked_session_stays_revoked_after_redis_loses_everything() {
    // A Redis of this test's own, which it restarts empty; every service checks strictly, so a
    // revoked token is never let through while the list is being rebuilt.
    let mut redis = shop_testkit::PrivateRedis::start().await;
    let mut test_shop = TestShop::new().await;
    test_shop.redis_url = redis.url();
    let strict = |auth: &mut shop_auth::AuthSettings| auth.denylist_fail_open = false;
    let user = test_shop.user(|s| strict(&mut s.auth)).await;
    let inventory = test_shop.inventory(&user, |s| strict(&mut s.auth)).await;
    let payment = test_shop.payment(&user, |s| strict(&mut s.auth)).await;
    let order = test_shop
        .order(&user, &inventory, &payment, |s| strict(&mut s.auth))
        .await;
    shop_test_services::admin(&user, "admin@example.com").await;
    let backends = Backends {
        user: user.addr,
        inventory: inventory.addr,
        order: order.addr,
        payment: payment.addr,
    };
    let (revoked, _) = sign_in(&user).await;
    let (valid, _) = sign_in(&user).await;
    // Wait for the first publishing round, which marks the list complete.
    let deadline = Instant::now() + Duration::from_secs(10);
    while backends.check(&valid).await != ACCEPTED {
        assert!(Instant::now() < deadline, "the denylist was never loaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    logout(&user, &revoked).await;
    assert_eq!(backends.check(&revoked).await, REFUSED);

    redis.restart().await;

    // From the moment Redis is back, the revoked token is never accepted: it is unavailable
    // until the user service has published the revocations again, refused after that.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = backends.check(&revoked).await;
        assert!(
            !now.contains(&Seen::Accepted),
            "a revoked token was accepted after Redis restarted: {now:?}"
        );
        if now == REFUSED {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the revocations were not published again: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And the session that was not revoked works again.
    assert_eq!(backends.check(&valid).await, ACCEPTED);
    test_shop.stop().await;
}

#[tokio::test]
async fn the_order_services_token_is_renewed_before_it_expires_and_checkouts_never_notice() {
    // Service tokens that live 5 s, checked with no clock leeway: a token not renewed in time
    // would be refused within seconds, and the checkout with it.
    let shop = Shop::start_configured(
        |user| user.tokens.service_ttl = Duration::from_secs(5),
        |auth| auth.leeway = Duration::ZERO,
        |_| {},
    )
    .await;
    let product = shop.product(100, 500).await;

    let started = Instant::now();
    let mut placed = 0;
    while started.elapsed() < Duration::from_secs(16) {
        let order = shop.place(&product, 1, "tok_visa").await.unwrap();
        assert_eq!(
            order.status(),
            order_pb::OrderStatus::Confirmed,
            "order {placed} at {:?}: {:?}",
            started.elapsed(),
            order.reason
        );
        placed += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        placed >= 20,
        "only {placed} checkouts in three token lifetimes"
    );
    shop.stop().await;
}
