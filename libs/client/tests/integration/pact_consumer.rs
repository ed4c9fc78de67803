//! Consumer contract: what shop-client needs from the gateway's REST API, written as a pact.
//!
//! Every route the client uses is described once, with the provider state it needs and
//! matchers that say which parts are exact (statuses, problem types, enums) and which only need
//! the right type. The client itself is run against the pact's mock server, so the pact says
//! what the client really sends and can really read. The gateway verifies the committed copy
//! (`tests/pacts/shop-client-shop-gateway.json`) in `services/gateway/tests/integration/pact_provider.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use pact_consumer::builders::RequestBuilder;
use pact_consumer::prelude::*;
use pact_consumer::{each_like, json_pattern, like, term};
use shop_client::{
    Money, NewOrder, NewOrderItem, NewProduct, ProductChanges, ShippingAddress, ShopClient,
};

const PRODUCT_ID: &str = "01936b2e-5a4c-7d3e-9f10-4b2c8d1e6a01";
const MISSING_ID: &str = "01936b2e-5a4c-7d3e-9f10-00000000dead";
const ORDER_ID: &str = "01936b2e-6b5d-7e4f-a021-5c3d9e2f7b02";
const TOKEN_EXAMPLE: &str = "Bearer eyJhbGciOiJFZERTQSJ9.example.signature";
const ORDER_STATUSES: &str = "^(PENDING|RESERVED|CONFIRMED|REJECTED|CANCELLED)$";

fn problem(slug: &str, status: u16) -> JsonPattern {
    json_pattern!({
        "type": format!("https://ferris-shop.dev/problems/{slug}"),
        "title": like!("A short summary"),
        "status": status,
    })
}

fn money(amount: i64) -> JsonPattern {
    json_pattern!({
        "amount_minor": like!(amount),
        "currency": term!("^[A-Z]{3}$", "EUR"),
    })
}

fn product() -> JsonPattern {
    json_pattern!({
        "id": like!(PRODUCT_ID),
        "name": like!("Ferris Plush"),
        "description": like!("A soft crab"),
        "price": money(2499),
        "image_url": like!("/static/products/ferris-plush.svg"),
        "available": like!(10),
        "active": like!(true),
    })
}

fn user(email: &str) -> JsonPattern {
    json_pattern!({
        "id": like!("01936b2e-0000-7000-8000-000000000001"),
        "email": email,
        "name": like!("Ann"),
        "roles": each_like!("customer"),
    })
}

/// Sign-up's one answer, for a free email and a taken one alike.
fn sign_up_accepted() -> JsonPattern {
    json_pattern!({
        "status": "accepted",
        "message": like!("Sign in with this email and password."),
    })
}

fn tokens() -> JsonPattern {
    json_pattern!({
        "access_token": like!("eyJhbGciOiJFZERTQSJ9.example.signature"),
        "token_type": "Bearer",
        "expires_in": like!(900),
        "refresh_token": like!("an opaque refresh token"),
    })
}

fn order(status: &str) -> JsonPattern {
    json_pattern!({
        "id": like!(ORDER_ID),
        "status": term!(ORDER_STATUSES, status),
        "reason": like!(""),
        "items": each_like!({
            "product_id": like!(PRODUCT_ID),
            "name": like!("Ferris Plush"),
            "quantity": like!(1),
            "unit_price": money(2499),
        }),
        "total": money(2499),
        "created_at": like!("2026-11-22T10:00:00Z"),
        "timeline": each_like!({
            "at": like!("2026-11-22T10:00:00Z"),
            "event": like!("placed"),
            "detail": like!("1 item(s)"),
        }),
    })
}

fn dublin() -> ShippingAddress {
    ShippingAddress {
        name: "Ann Reader".to_owned(),
        line1: "1 Crab Lane".to_owned(),
        line2: String::new(),
        city: "Dublin".to_owned(),
        postal_code: "D02 X285".to_owned(),
        country: "IE".to_owned(),
    }
}

/// The Authorization header of a signed-in caller: the provider mints a real token for the
/// state and injects it as `accessToken`.
fn signed_in(request: &mut RequestBuilder) {
    request.header_from_provider_state("Authorization", "Bearer ${accessToken}", TOKEN_EXAMPLE);
}

#[tokio::test]
async fn shop_client_against_the_gateway() {
    shop_testkit::init();
    let mut pact = PactBuilder::new_v4("shop-client", "shop-gateway");
    pact.with_output_dir(shop_testkit::pacts::output_dir());

    // --- catalog -------------------------------------------------------------------------
    pact.interaction("a search of the catalog", "", |mut i| {
        i.given("the catalog has products");
        i.request
            .get()
            .path("/api/v1/products")
            .query_param("q", "plush")
            .query_param("page_size", "10");
        i.response.ok().json_body(json_pattern!({
            "items": each_like!(product()),
            "next_page_token": null,
        }));
        i
    });
    pact.interaction("a request for one product", "", |mut i| {
        i.given_with_params(
            "a product exists",
            &serde_json::json!({ "productId": PRODUCT_ID }),
        );
        i.request.get().path_from_provider_state(
            "/api/v1/products/${productId}",
            format!("/api/v1/products/{PRODUCT_ID}"),
        );
        i.response.ok().json_body(product());
        i
    });
    pact.interaction(
        "a request for a product that does not exist",
        "",
        |mut i| {
            i.given("the catalog has products");
            i.request
                .get()
                .path(format!("/api/v1/products/{MISSING_ID}"));
            i.response
                .status(404)
                .content_type("application/problem+json")
                .json_body(problem("not-found", 404));
            i
        },
    );

    // --- accounts ------------------------------------------------------------------------
    pact.interaction("a registration", "", |mut i| {
        i.given_with_params(
            "no account uses the email",
            &serde_json::json!({ "email": "ann@example.com" }),
        );
        i.request
            .post()
            .path("/api/v1/auth/register")
            .content_type("application/json")
            .json_body(json_pattern!({
                "email": "ann@example.com",
                "password": "a long enough passphrase",
                "name": "Ann",
            }));
        i.response.status(202).json_body(sign_up_accepted());
        i
    });
    pact.interaction("a registration with an email that is taken", "", |mut i| {
        i.given_with_params(
            "an account exists",
            &serde_json::json!({ "email": "taken@example.com" }),
        );
        i.request
            .post()
            .path("/api/v1/auth/register")
            .content_type("application/json")
            .json_body(json_pattern!({
                "email": "taken@example.com",
                "password": "a long enough passphrase",
                "name": "Tess",
            }));
        // The same answer as for a free email: sign-up does not tell who has an account.
        i.response.status(202).json_body(sign_up_accepted());
        i
    });
    pact.interaction("a login with the right password", "", |mut i| {
        i.given_with_params(
            "an account exists",
            &serde_json::json!({
                "email": "ann@example.com",
                "password": "a long enough passphrase",
            }),
        );
        i.request
            .post()
            .path("/api/v1/auth/login")
            .content_type("application/json")
            .json_body(json_pattern!({
                "email": "ann@example.com",
                "password": "a long enough passphrase",
            }));
        i.response.ok().json_body(tokens());
        i
    });
    pact.interaction("a login with a wrong password", "", |mut i| {
        i.given_with_params(
            "an account exists",
            &serde_json::json!({ "email": "ann@example.com" }),
        );
        i.request
            .post()
            .path("/api/v1/auth/login")
            .content_type("application/json")
            .json_body(json_pattern!({
                "email": "ann@example.com",
                "password": "not the password",
            }));
        i.response
            .status(401)
            .content_type("application/problem+json")
            .json_body(problem("unauthenticated", 401));
        i
    });
    pact.interaction("a refresh of the tokens", "", |mut i| {
        i.given_with_params(
            "a refresh token was issued",
            &serde_json::json!({ "refreshToken": "refresh-token-1" }),
        );
        i.request
            .post()
            .path("/api/v1/auth/refresh")
            .content_type("application/json")
            .json_body(json_pattern!({
                "refresh_token": "refresh-token-1",
            }));
        i.response.ok().json_body(tokens());
        i
    });
    pact.interaction("a request for the signed-in customer", "", |mut i| {
        i.given("a customer is signed in");
        signed_in(i.request.get().path("/api/v1/me"));
        i.response.ok().json_body(user("ann@example.com"));
        i
    });
    pact.interaction("a logout", "", |mut i| {
        i.given("a customer is signed in");
        signed_in(i.request.post().path("/api/v1/auth/logout"));
        i.response.status(204);
        i
    });

    // --- orders ----------------------------------------------------------------------------
    pact.interaction("an order placed with a good card", "", |mut i| {
        i.given("a customer is signed in");
        i.given_with_params(
            "a product is in stock",
            &serde_json::json!({ "productId": PRODUCT_ID }),
        );
        signed_in(
            i.request
                .post()
                .path("/api/v1/orders")
                .header("Idempotency-Key", "checkout-1")
                .content_type("application/json")
                .json_body(json_pattern!({
                    "items": [{ "product_id": PRODUCT_ID, "quantity": 1 }],
                    "card_token": "tok_visa",
                    "shipping_address": {
                        "name": "Ann Reader",
                        "line1": "1 Crab Lane",
                        "line2": "",
                        "city": "Dublin",
                        "postal_code": "D02 X285",
                        "country": "IE",
                    },
                    "shipping_method": "standard",
                })),
        );
        i.response.created().json_body(order("CONFIRMED"));
        i
    });
    pact.interaction("an order without items", "", |mut i| {
        i.given("a customer is signed in");
        signed_in(
            i.request
                .post()
                .path("/api/v1/orders")
                .header("Idempotency-Key", "empty-1")
                .content_type("application/json")
                .json_body(json_pattern!({
                    "items": [],
                    "card_token": "tok_visa",
                    "shipping_address": {
                        "name": "Ann Reader",
                        "line1": "1 Crab Lane",
                        "line2": "",
                        "city": "Dublin",
                        "postal_code": "D02 X285",
                        "country": "IE",
                    },
                    "shipping_method": "standard",
                })),
        );
        i.response
            .status(422)
            .content_type("application/problem+json")
            .json_body(json_pattern!({
                "type": "https://ferris-shop.dev/problems/validation",
                "title": like!("Invalid request"),
                "status": 422,
                "errors": each_like!({ "field": like!("items"), "message": like!("must not be empty") }),
            }));
        i
    });
    pact.interaction("a request for one of the customer's orders", "", |mut i| {
        i.given("a customer is signed in");
        i.given_with_params(
            "the customer has an order",
            &serde_json::json!({ "orderId": ORDER_ID }),
        );
        signed_in(i.request.get().path_from_provider_state(
            "/api/v1/orders/${orderId}",
            format!("/api/v1/orders/{ORDER_ID}"),
        ));
        i.response.ok().json_body(order("CONFIRMED"));
        i
    });
    pact.interaction("a request for another customer's order", "", |mut i| {
        i.given("a customer is signed in");
        i.given_with_params(
            "another customer has an order",
            &serde_json::json!({ "orderId": MISSING_ID }),
        );
        signed_in(i.request.get().path(format!("/api/v1/orders/{MISSING_ID}")));
        i.response
            .status(404)
            .content_type("application/problem+json")
            .json_body(problem("not-found", 404));
        i
    });
    pact.interaction("a request for the customer's orders", "", |mut i| {
        i.given("a customer is signed in");
        i.given_with_params(
            "the customer has an order",
            &serde_json::json!({ "orderId": ORDER_ID }),
        );
        signed_in(
            i.request
                .get()
                .path("/api/v1/orders")
                .query_param("page_size", "20"),
        );
        i.response.ok().json_body(json_pattern!({
            "items": each_like!(order("CONFIRMED")),
            "next_page_token": null,
        }));
        i
    });
    pact.interaction("a cancellation of a confirmed order", "", |mut i| {
        i.given("a customer is signed in");
        i.given_with_params(
            "the customer has an order",
            &serde_json::json!({ "orderId": ORDER_ID }),
        );
        signed_in(
            i.request
                .post()
                .path_from_provider_state(
                    "/api/v1/orders/${orderId}/cancel",
                    format!("/api/v1/orders/{ORDER_ID}/cancel"),
                )
                .content_type("application/json")
                .json_body(json_pattern!({ "reason": "changed my mind" })),
        );
        i.response.ok().json_body(order("CANCELLED"));
        i
    });
    pact.interaction("a request for the dashboard", "", |mut i| {
        i.given("a customer is signed in");
        signed_in(i.request.get().path("/api/v1/dashboard"));
        i.response.ok().json_body(json_pattern!({
            "user": user("ann@example.com"),
            "recent_orders": each_like!(order("CONFIRMED")),
            "products": each_like!(product()),
            "degraded": [],
        }));
        i
    });

    // --- catalog administration ------------------------------------------------------------
    pact.interaction("a product created by an admin", "", |mut i| {
        i.given("an admin is signed in");
        signed_in(
            i.request
                .post()
                .path("/api/v1/products")
                .content_type("application/json")
                .json_body(json_pattern!({
                    "name": "Crab Mug",
                    "description": "Holds coffee, pinches nothing",
                    "price": { "amount_minor": 1299, "currency": "EUR" },
                    "image_url": "/static/products/crab-mug.svg",
                })),
        );
        i.response.created().json_body(product());
        i
    });
    pact.interaction("a product renamed by an admin", "", |mut i| {
        i.given("an admin is signed in");
        i.given_with_params(
            "a product exists",
            &serde_json::json!({ "productId": PRODUCT_ID }),
        );
        signed_in(
            i.request
                .method("PATCH")
                .path_from_provider_state(
                    "/api/v1/products/${productId}",
                    format!("/api/v1/products/{PRODUCT_ID}"),
                )
                .content_type("application/json")
                .json_body(json_pattern!({ "name": "Ferris Plush XL" })),
        );
        i.response.ok().json_body(product());
        i
    });
    pact.interaction("a stock delivery recorded by an admin", "", |mut i| {
        i.given("an admin is signed in");
        i.given_with_params(
            "a product exists",
            &serde_json::json!({ "productId": PRODUCT_ID }),
        );
        signed_in(
            i.request
                .post()
                .path_from_provider_state(
                    "/api/v1/products/${productId}/stock",
                    format!("/api/v1/products/{PRODUCT_ID}/stock"),
                )
                .content_type("application/json")
                .json_body(json_pattern!({ "delta": 5 })),
        );
        i.response.ok().json_body(product());
        i
    });

    let server = pact.start_mock_server(None, None);
    let base = server.url().to_string();
    let shop = ShopClient::new(&base).unwrap();
    let signed = shop.with_token(TOKEN_EXAMPLE.trim_start_matches("Bearer "));

    // Catalog.
    let page = shop
        .list_products(Some("plush"), Some(10), None)
        .await
        .unwrap();
    assert!(!page.items.is_empty());
    assert_eq!(page.next_page_token, None);
    assert_eq!(
        shop.get_product(PRODUCT_ID).await.unwrap().price.currency,
        "EUR"
    );
    let missing = shop.get_product(MISSING_ID).await.unwrap_err();
    assert_eq!(
        (missing.status(), missing.problem_type()),
        (Some(404), Some("not-found"))
    );

    // Accounts.
    let ann = shop
        .register("ann@example.com", "a long enough passphrase", "Ann")
        .await
        .unwrap();
    let taken = shop
        .register("taken@example.com", "a long enough passphrase", "Tess")
        .await
        .unwrap();
    assert_eq!((ann.status.as_str(), taken), ("accepted", ann.clone()));
    let tokens = shop
        .login("ann@example.com", "a long enough passphrase")
        .await
        .unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    let wrong = shop
        .login("ann@example.com", "not the password")
        .await
        .unwrap_err();
    assert_eq!(wrong.problem_type(), Some("unauthenticated"));
    shop.refresh("refresh-token-1").await.unwrap();
    assert_eq!(signed.me().await.unwrap().email, "ann@example.com");
    signed.logout().await.unwrap();

    // Orders.
    let placed = signed
        .place_order(
            "checkout-1",
            &NewOrder {
                items: Some(vec![NewOrderItem {
                    product_id: PRODUCT_ID.to_owned(),
                    quantity: 1,
                }]),
                card_token: "tok_visa".to_owned(),
                shipping_address: dublin(),
                shipping_method: "standard".to_owned(),
                expected_total: None,
            },
        )
        .await
        .unwrap();
    assert!(placed.finished);
    assert!(placed.order.is_settled());
    let empty = signed
        .place_order(
            "empty-1",
            &NewOrder {
                items: Some(vec![]),
                card_token: "tok_visa".to_owned(),
                shipping_address: dublin(),
                shipping_method: "standard".to_owned(),
                expected_total: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(empty.problem_type(), Some("validation"));
    assert_eq!(signed.get_order(ORDER_ID).await.unwrap().timeline.len(), 1);
    let hidden = signed.get_order(MISSING_ID).await.unwrap_err();
    assert_eq!(hidden.status(), Some(404));
    assert_eq!(signed.list_orders(None, None).await.unwrap().items.len(), 1);
    let cancelled = signed
        .cancel_order(ORDER_ID, "changed my mind")
        .await
        .unwrap();
    assert_eq!(cancelled.status, "CANCELLED");
    let dashboard = signed.dashboard().await.unwrap();
    assert!(dashboard.degraded.is_empty());

    // Catalog administration.
    let created = signed
        .create_product(&NewProduct {
            name: "Crab Mug".to_owned(),
            description: "Holds coffee, pinches nothing".to_owned(),
            price: Money {
                amount_minor: 1299,
                currency: "EUR".to_owned(),
            },
            image_url: "/static/products/crab-mug.svg".to_owned(),
        })
        .await
        .unwrap();
    assert!(!created.id.is_empty());
    signed
        .update_product(
            PRODUCT_ID,
            &ProductChanges {
                name: Some("Ferris Plush XL".to_owned()),
                ..ProductChanges::default()
            },
        )
        .await
        .unwrap();
    signed.adjust_stock(PRODUCT_ID, 5).await.unwrap();
    // Dropping the server checks every interaction was exercised and writes the pact.
}
