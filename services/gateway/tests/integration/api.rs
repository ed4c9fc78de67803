//! Every route of the API, success and failure, through the real router against stub
//! backends: shapes, status codes, problem types, auth, limits and headers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use crate::support::Gateway;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::json;
use tower::ServiceExt as _;

#[tokio::test]
async fn the_catalog_is_public_and_shaped_as_documented() {
    let gw = Gateway::start().await;
    let page = gw.get("/api/v1/products?page_size=5&q=mug", None).await;
    assert_eq!(page.status, StatusCode::OK);
    let first = &page.body["items"][0];
    for field in [
        "id",
        "name",
        "description",
        "image_url",
        "available",
        "active",
    ] {
        assert!(first.get(field).is_some(), "{field} missing in {first}");
    }
    assert_eq!(
        first["price"],
        json!({ "amount_minor": 2499, "currency": "EUR" })
    );
    assert!(page.body["next_page_token"].is_null());

    let id = first["id"].as_str().unwrap();
    let one = gw.get(&format!("/api/v1/products/{id}"), None).await;
    assert_eq!(
        (one.status, one.body["name"].as_str()),
        (StatusCode::OK, Some("Ferris Plush"))
    );

    let missing = gw
        .get(
            "/api/v1/products/01900000-0000-7000-8000-000000000000",
            None,
        )
        .await;
    assert_eq!(
        (missing.status, missing.problem()),
        (StatusCode::NOT_FOUND, "not-found")
    );
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
}

#[tokio::test]
async fn the_catalog_sorts_by_price_and_an_unknown_order_is_422_naming_sort() {
    let gw = Gateway::start().await;
    for (sort, order) in [
        ("", shop_proto::inventory::v1::ProductOrder::Name),
        ("&sort=name", shop_proto::inventory::v1::ProductOrder::Name),
        (
            "&sort=price_asc",
            shop_proto::inventory::v1::ProductOrder::PriceAscending,
        ),
        (
            "&sort=price_desc",
            shop_proto::inventory::v1::ProductOrder::PriceDescending,
        ),
    ] {
        let page = gw
            .get(&format!("/api/v1/products?page_size=5{sort}"), None)
            .await;
        assert_eq!(page.status, StatusCode::OK, "{sort}");
        let listed = gw.stubs.script().listings.pop().unwrap();
        assert_eq!(listed, (i32::from(order), false, false), "{sort}");
    }
    for sort in ["price", "PRICE_ASC", ""] {
        let reply = gw.get(&format!("/api/v1/products?sort={sort}"), None).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{sort}");
        assert_eq!(reply.body["errors"][0]["field"], "sort", "{sort}");
    }
}

#[tokio::test]
async fn only_admins_list_products_taken_off_sale() {
    let gw = Gateway::start().await;
    let uri = "/api/v1/products?include_inactive=true";
    assert_eq!(gw.get(uri, None).await.status, StatusCode::UNAUTHORIZED);
    let (_, customer) = gw.stubs.token(false);
    assert_eq!(
        gw.get(uri, Some(&customer)).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(gw.stubs.script().listings.is_empty());
    let (_, admin) = gw.stubs.token(true);
    assert_eq!(gw.get(uri, Some(&admin)).await.status, StatusCode::OK);
    // The admin's own token goes to the inventory, which decides again.
    let by_name = i32::from(shop_proto::inventory::v1::ProductOrder::Name);
    assert_eq!(
        gw.stubs.script().listings.pop(),
        Some((by_name, true, true))
    );
    // Without the flag a signed-in admin's listing is the public one.
    gw.get("/api/v1/products", Some(&admin)).await;
    assert_eq!(
        gw.stubs.script().listings.pop(),
        Some((by_name, false, false))
    );
}

#[tokio::test]
async fn bad_query_strings_are_400_problems() {
    let gw = Gateway::start().await;
    for uri in [
        "/api/v1/products?page_size=lots",
        "/api/v1/products?colour=red",
    ] {
        let reply = gw.get(uri, None).await;
        assert_eq!(
            (reply.status, reply.problem()),
            (StatusCode::BAD_REQUEST, "bad-request"),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn catalog_writes_need_an_admin() {
    let gw = Gateway::start().await;
    let body = json!({ "name": "Pin", "price": { "amount_minor": 599, "currency": "EUR" } });
    assert_eq!(
        gw.post("/api/v1/products", None, body.clone()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let (_, customer) = gw.stubs.token(false);
    let forbidden = gw
        .post("/api/v1/products", Some(&customer), body.clone())
        .await;
    assert_eq!(
        (forbidden.status, forbidden.problem()),
        (StatusCode::FORBIDDEN, "forbidden")
    );

    let (_, admin) = gw.stubs.token(true);
    let created = gw.post("/api/v1/products", Some(&admin), body).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["id"].as_str().unwrap().to_owned();

    let patched = gw
        .send(
            Method::PATCH,
            &format!("/api/v1/products/{id}"),
            Some(&admin),
            Some(json!({ "name": "Enamel Pin" })),
            &[],
        )
        .await;
    assert_eq!(
        (patched.status, patched.body["name"].as_str()),
        (StatusCode::OK, Some("Enamel Pin"))
    );
    let stocked = gw
        .post(
            &format!("/api/v1/products/{id}/stock"),
            Some(&admin),
            json!({ "delta": 7 }),
        )
        .await;
    assert_eq!(
        (stocked.status, stocked.body["available"].as_i64()),
        (StatusCode::OK, Some(7))
    );
    let written_off = gw
        .post(
            &format!("/api/v1/products/{id}/stock"),
            Some(&admin),
            json!({ "delta": -99 }),
        )
        .await;
    assert_eq!(written_off.status, StatusCode::CONFLICT);
    let bad_key = gw
        .send(
            Method::POST,
            &format!("/api/v1/products/{id}/stock"),
            Some(&admin),
            Some(json!({ "delta": 1 })),
            &[("idempotency-key", "not-a-uuid")],
        )
        .await;
    assert_eq!(bad_key.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn malformed_bodies_are_400_and_invalid_values_422_with_the_fields() {
    let gw = Gateway::start().await;
    let (_, admin) = gw.stubs.token(true);
    let unknown_field = gw
        .post("/api/v1/products", Some(&admin), json!({ "name": "Pin", "price": { "amount_minor": 1, "currency": "EUR" }, "colour": "red" }))
        .await;
    assert_eq!(
        (unknown_field.status, unknown_field.problem()),
        (StatusCode::BAD_REQUEST, "bad-request")
    );
    assert!(
        unknown_field.body["detail"]
            .as_str()
            .unwrap()
            .contains("colour")
    );

    let not_json = gw
        .raw(
            Request::post("/api/v1/auth/login")
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);

    // serde would read a struct from an array of its fields; the API's bodies are objects.
    let (_, customer) = gw.stubs.token(false);
    let line = json!({ "product_id": uuid::Uuid::now_v7().to_string(), "quantity": 1 });
    for (body, expected) in [
        (
            json!([[]]),
            "invalid type: sequence, expected struct MergeCartRequest",
        ),
        (
            json!({ "items": [[line["product_id"], 1]] }),
            "items[0]: invalid type: sequence",
        ),
    ] {
        let as_array = gw.post("/api/v1/cart/merge", Some(&customer), body).await;
        assert_eq!(
            (as_array.status, as_array.problem()),
            (StatusCode::BAD_REQUEST, "bad-request"),
            "{}",
            as_array.body
        );
        let detail = as_array.body["detail"].as_str().unwrap();
        assert!(detail.contains(expected), "{detail}");
    }
    let as_object = gw
        .post(
            "/api/v1/cart/merge",
            Some(&customer),
            json!({ "items": [line] }),
        )
        .await;
    assert_eq!(as_object.status, StatusCode::OK, "{}", as_object.body);

    let invalid = gw
        .post(
            "/api/v1/products",
            Some(&admin),
            json!({ "name": " ", "price": { "amount_minor": 1, "currency": "EUR" } }),
        )
        .await;
    assert_eq!(
        (invalid.status, invalid.problem()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation")
    );
    assert_eq!(
        invalid.body["errors"],
        json!([{ "field": "name", "message": "must not be empty" }])
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let gw = Gateway::start_with(|s| s.limits.body_bytes = 2048).await;
    let huge = json!({ "email": "a@example.com", "password": "x".repeat(10_000), "name": "A" });
    let reply = gw.post("/api/v1/auth/register", None, huge).await;
    assert_eq!(
        (reply.status, reply.problem()),
        (StatusCode::PAYLOAD_TOO_LARGE, "too-large")
    );
}

#[tokio::test]
async fn registration_login_refresh_me_and_logout() {
    let gw = Gateway::start().await;
    let registered = gw
        .post(
            "/api/v1/auth/register",
            None,
            json!({ "email": "ann@example.com", "password": "long enough Pass1", "name": "Ann" }),
        )
        .await;
    assert_eq!(registered.status, StatusCode::ACCEPTED);
    assert_eq!(registered.body["status"], "accepted");
    // The email is taken now: the answer must not say so.
    let again = gw
        .post(
            "/api/v1/auth/register",
            None,
            json!({ "email": "ann@example.com", "password": "another Pass2 here", "name": "Eve" }),
        )
        .await;
    assert_eq!(
        (again.status, &again.body, again.header("content-type")),
        (
            registered.status,
            &registered.body,
            registered.header("content-type")
        )
    );
    let empty = gw
        .post(
            "/api/v1/auth/register",
            None,
            json!({ "email": "", "password": "x", "name": "x" }),
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);

    let wrong = gw
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "email": "ann@example.com", "password": "wrong" }),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));
    let tokens = gw
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "email": "ann@example.com", "password": "right password" }),
        )
        .await;
    assert_eq!(tokens.status, StatusCode::OK);
    assert_eq!(tokens.body["token_type"], "Bearer");
    let access = tokens.body["access_token"].as_str().unwrap().to_owned();

    let refreshed = gw
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": "refresh-1" }),
        )
        .await;
    assert_eq!(
        (refreshed.status, refreshed.body["refresh_token"].as_str()),
        (StatusCode::OK, Some("refresh-2"))
    );
    assert_eq!(
        gw.post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": "stolen" })
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );

    let me = gw.get("/api/v1/me", Some(&access)).await;
    assert_eq!(
        (me.status, me.body["email"].as_str()),
        (StatusCode::OK, Some("ann@example.com"))
    );
    assert_eq!(
        gw.get("/api/v1/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        gw.get("/api/v1/me", Some("garbage")).await.status,
        StatusCode::UNAUTHORIZED
    );

    let logout = gw
        .send(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&access),
            None,
            &[],
        )
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn checkout_answers_201_when_done_and_202_with_a_location_when_still_running() {
    let gw = Gateway::start().await;
    let (_, token) = gw.stubs.token(false);
    let order = json!({ "items": [{ "product_id": "01900000-0000-7000-8000-000000000001", "quantity": 1 }], "card_token": "tok_visa", "shipping_address": { "name": "Ann Reader", "line1": "1 Crab Lane", "city": "Dublin", "postal_code": "D02 X285", "country": "IE" }, "shipping_method": "standard" });

    let missing_key = gw.post("/api/v1/orders", Some(&token), order.clone()).await;
    assert_eq!(
        (missing_key.status, missing_key.problem()),
        (StatusCode::BAD_REQUEST, "bad-request")
    );

    let done = gw
        .send(
            Method::POST,
            "/api/v1/orders",
            Some(&token),
            Some(order.clone()),
            &[("idempotency-key", "k1")],
        )
        .await;
    assert_eq!(
        (done.status, done.body["status"].as_str()),
        (StatusCode::CREATED, Some("CONFIRMED"))
    );
    assert_eq!(
        done.body["total"],
        json!({ "amount_minor": 1299, "currency": "EUR" })
    );
    assert_eq!(done.body["timeline"][0]["event"], "placed");

    // Without items the cart is checked out; an empty list is a mistake, named.
    let mut from_cart = order.clone();
    from_cart.as_object_mut().unwrap().remove("items");
    let cart = gw
        .send(
            Method::POST,
            "/api/v1/orders",
            Some(&token),
            Some(from_cart),
            &[("idempotency-key", "k-cart")],
        )
        .await;
    assert_eq!(cart.status, StatusCode::CREATED, "{}", cart.body);
    let mut empty = order.clone();
    empty["items"] = json!([]);
    let refused = gw
        .send(
            Method::POST,
            "/api/v1/orders",
            Some(&token),
            Some(empty),
            &[("idempotency-key", "k-empty")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["errors"][0]["field"], "items");
    let mut nowhere = order.clone();
    nowhere.as_object_mut().unwrap().remove("shipping_address");
    let refused = gw
        .send(
            Method::POST,
            "/api/v1/orders",
            Some(&token),
            Some(nowhere),
            &[("idempotency-key", "k-nowhere")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);

    let quote = gw
        .get("/api/v1/shipping/options?country=IE", Some(&token))
        .await;
    assert_eq!(quote.status, StatusCode::OK, "{}", quote.body);
    assert_eq!(quote.body["options"][0]["method"], "standard");
    assert_eq!(quote.body["options"][1]["price"]["amount_minor"], 995);
    let bad = gw
        .get("/api/v1/shipping/options?country=XX", Some(&token))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["errors"][0]["field"], "country");
    assert_eq!(
        gw.get("/api/v1/shipping/options", Some(&token))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    gw.stubs.script().place_status = Some(shop_proto::order::v1::OrderStatus::Pending);
    let running = gw
        .send(
            Method::POST,
            "/api/v1/orders",
            Some(&token),
            Some(order.clone()),
            &[("idempotency-key", "k2")],
        )
        .await;
    assert_eq!(
        (running.status, running.body["status"].as_str()),
        (StatusCode::ACCEPTED, Some("PENDING"))
    );
    let id = running.body["id"].as_str().unwrap();
    assert_eq!(
        running.header("location"),
        Some(format!("/api/v1/orders/{id}").as_str())
    );

    gw.stubs.script().place_fails_with = Some((
        tonic::Code::FailedPrecondition,
        "IDEMPOTENCY_KEY_REUSED".to_owned(),
    ));
    let reused = gw
        .send(
            Method::POST,
            "/api/v1/orders",
            Some(&token),
            Some(order.clone()),
            &[("idempotency-key", "k1")],
        )
        .await;
    assert_eq!(
        (reused.status, reused.problem()),
        (StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused")
    );
    gw.stubs.script().place_fails_with =
        Some((tonic::Code::Aborted, "IDEMPOTENCY_KEY_IN_FLIGHT".to_owned()));
    let in_flight = gw
        .send(
            Method::POST,
            "/api/v1/orders",
            Some(&token),
            Some(order),
            &[("idempotency-key", "k1")],
        )
        .await;
    assert_eq!(
        (in_flight.status, in_flight.problem()),
        (StatusCode::CONFLICT, "idempotency-key-in-flight")
    );
}

#[tokio::test]
async fn order_history_reads_and_cancellation() {
    let gw = Gateway::start().await;
    let (_, token) = gw.stubs.token(false);
    let list = gw.get("/api/v1/orders?page_size=10", Some(&token)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["items"][0]["status"], "CONFIRMED");
    assert_eq!(
        gw.get("/api/v1/orders", None).await.status,
        StatusCode::UNAUTHORIZED
    );

    let one = gw.get("/api/v1/orders/abc", Some(&token)).await;
    assert_eq!(one.status, StatusCode::OK);
    let hidden = gw.get("/api/v1/orders/someone-elses", Some(&token)).await;
    assert_eq!(
        hidden.status,
        StatusCode::NOT_FOUND,
        "another customer's order is not found, not forbidden"
    );

    let cancelled = gw
        .send(
            Method::POST,
            "/api/v1/orders/abc/cancel",
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(
        (cancelled.status, cancelled.body["status"].as_str()),
        (StatusCode::OK, Some("CANCELLED"))
    );
    let with_reason = gw
        .post(
            "/api/v1/orders/abc/cancel",
            Some(&token),
            json!({ "reason": "changed my mind" }),
        )
        .await;
    assert_eq!(with_reason.status, StatusCode::OK);
    let refused = gw
        .send(
            Method::POST,
            "/api/v1/orders/rejected-one/cancel",
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let shipped = gw
        .send(
            Method::POST,
            "/api/v1/orders/shipped-one/cancel",
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(
        (shipped.status, shipped.problem()),
        (StatusCode::CONFLICT, "order-already-shipped")
    );
}

#[tokio::test]
async fn only_admins_ship_and_deliver_orders() {
    let gw = Gateway::start().await;
    let (_, customer) = gw.stubs.token(false);
    let (_, admin) = gw.stubs.token(true);
    let parcel = json!({ "carrier": "An Post", "tracking_number": "RX123456789IE" });
    assert_eq!(
        gw.post("/api/v1/orders/abc/ship", Some(&customer), parcel.clone())
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let shipped = gw
        .post("/api/v1/orders/abc/ship", Some(&admin), parcel)
        .await;
    assert_eq!(shipped.status, StatusCode::OK, "{}", shipped.body);
    assert_eq!(
        (
            shipped.body["status"].as_str(),
            shipped.body["carrier"].as_str(),
            shipped.body["tracking_number"].as_str()
        ),
        (Some("SHIPPED"), Some("An Post"), Some("RX123456789IE"))
    );
    let incomplete = gw
        .post(
            "/api/v1/orders/abc/ship",
            Some(&admin),
            json!({ "carrier": "An Post" }),
        )
        .await;
    assert_eq!(incomplete.status, StatusCode::BAD_REQUEST);
    let delivered = gw
        .send(
            Method::POST,
            "/api/v1/orders/abc/deliver",
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_eq!(
        (delivered.status, delivered.body["status"].as_str()),
        (StatusCode::OK, Some("DELIVERED"))
    );
}

#[tokio::test]
async fn the_cart_is_the_customers_own_and_bad_lines_are_422_naming_the_field() {
    let gw = Gateway::start().await;
    let (_, token) = gw.stubs.token(false);
    assert_eq!(
        gw.get("/api/v1/cart", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let empty = gw.get("/api/v1/cart", Some(&token)).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(
        empty.body,
        json!({ "items": [], "subtotal": null, "item_count": 0 })
    );

    let product = uuid::Uuid::now_v7().to_string();
    let put = |uri: String, body| {
        let gw = &gw;
        let token = token.clone();
        async move {
            gw.send(Method::PUT, &uri, Some(&token), Some(body), &[])
                .await
        }
    };
    let set = put(
        format!("/api/v1/cart/items/{product}"),
        json!({ "quantity": 2 }),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["items"][0]["product_id"], product.as_str());
    assert_eq!(set.body["items"][0]["line_total"]["amount_minor"], 2598);
    assert_eq!(set.body["items"][0]["price_changed"], false);
    assert_eq!(set.body["subtotal"]["amount_minor"], 2598);
    assert_eq!(set.body["item_count"], 2);

    // The order service's refusal (here the stub's, in its words) is a 422 naming the field.
    let refused = put(
        "/api/v1/cart/items/nope".to_owned(),
        json!({ "quantity": 1 }),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["errors"][0]["field"], "product_id");
    let fractional = put(
        format!("/api/v1/cart/items/{product}"),
        json!({ "quantity": 1.5 }),
    )
    .await;
    assert_eq!(fractional.status, StatusCode::BAD_REQUEST);
    let unknown_field = put(format!("/api/v1/cart/items/{product}"), json!({ "qty": 1 })).await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);

    let merged = gw
        .post(
            "/api/v1/cart/merge",
            Some(&token),
            json!({ "items": [{ "product_id": uuid::Uuid::now_v7().to_string(), "quantity": 1 }] }),
        )
        .await;
    assert_eq!(merged.status, StatusCode::OK);
    assert_eq!(merged.body["item_count"], 3);

    let cleared = gw
        .send(Method::DELETE, "/api/v1/cart", Some(&token), None, &[])
        .await;
    assert_eq!(
        (cleared.status, cleared.body["item_count"].as_i64()),
        (StatusCode::OK, Some(0))
    );
}

#[tokio::test]
async fn the_dashboard_degrades_part_by_part() {
    let gw = Gateway::start().await;
    let (_, token) = gw.stubs.token(false);
    let full = gw.get("/api/v1/dashboard", Some(&token)).await;
    assert_eq!(full.status, StatusCode::OK);
    assert_eq!(full.body["degraded"], json!([]));
    assert_eq!(full.body["user"]["email"], "ann@example.com");
    assert!(full.body["products"].as_array().unwrap().len() >= 2);

    gw.stubs.script().inventory_fails_with = Some(tonic::Code::Internal);
    let partial = gw.get("/api/v1/dashboard", Some(&token)).await;
    assert_eq!(
        partial.status,
        StatusCode::OK,
        "a failing part is not a failing page"
    );
    assert_eq!(partial.body["degraded"], json!(["products"]));
    assert!(partial.body["products"].is_null());
    assert_eq!(partial.body["recent_orders"][0]["status"], "CONFIRMED");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_unknown_routes_are_problems() {
    let gw = Gateway::start().await;
    let reply = gw.get("/api/v1/nothing-here", None).await;
    assert_eq!(
        (reply.status, reply.problem()),
        (StatusCode::NOT_FOUND, "not-found")
    );
    assert!(
        reply
            .header("x-request-id")
            .is_some_and(|id| !id.is_empty())
    );
    let echoed = gw
        .send(
            Method::GET,
            "/api/v1/products",
            None,
            None,
            &[("x-request-id", "trace-me-123")],
        )
        .await;
    assert_eq!(echoed.header("x-request-id"), Some("trace-me-123"));
}

#[tokio::test]
async fn the_jwks_are_served_for_the_mesh() {
    let gw = Gateway::start().await;
    let jwks = gw.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status, StatusCode::OK);
    assert_eq!(jwks.body["keys"][0]["kty"], "OKP");
    assert_eq!(jwks.body["keys"][0]["alg"], "EdDSA");
    assert_eq!(jwks.body["keys"][0]["kid"], "stub-key");
}

#[tokio::test]
async fn the_storefront_and_docs_are_served_from_the_binary() {
    let gw = Gateway::start().await;
    for (uri, kind) in [
        ("/", "text/html"),
        ("/docs", "text/html"),
        ("/static/app.js", "javascript"),
        ("/static/styles.css", "text/css"),
        ("/static/products/crab-mug.svg", "image/svg+xml"),
    ] {
        let reply = gw.get(uri, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert!(
            reply.header("content-type").unwrap().contains(kind),
            "{uri}: {:?}",
            reply.header("content-type")
        );
    }
    assert_eq!(
        gw.get("/static/../Cargo.toml", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_explorer_is_vendored_sent_compressed_and_only_its_page_allows_data_images() {
    let gw = Gateway::start().await;
    for (uri, kind) in [
        (
            "/static/vendor/swagger-ui/swagger-ui-bundle.js",
            "javascript",
        ),
        ("/static/vendor/swagger-ui/swagger-ui.css", "text/css"),
        ("/static/docs.js", "javascript"),
    ] {
        let request = Request::get(uri)
            .header("accept-encoding", "gzip")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = gw.router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert!(header("content-type").unwrap().contains(kind), "{uri}");
        // The explorer's script and style sheet are large; the page's own script is not.
        let large = uri.contains("/vendor/");
        assert_eq!(
            header("content-encoding").as_deref(),
            large.then_some("gzip"),
            "{uri}"
        );
    }
    let img_src = |csp: Option<&str>| {
        csp.unwrap_or_default()
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("img-src"))
            .map(str::to_owned)
    };
    let docs = gw.get("/docs", None).await;
    assert_eq!(
        img_src(docs.header("content-security-policy")).as_deref(),
        Some("img-src 'self' data:")
    );
    for uri in ["/", "/static/docs.js", "/api/v1/products"] {
        let reply = gw.get(uri, None).await;
        assert_eq!(
            img_src(reply.header("content-security-policy")).as_deref(),
            Some("img-src 'self'"),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_hsts_only_when_asked() {
    let gw = Gateway::start().await;
    for uri in [
        "/",
        "/docs",
        "/static/app.js",
        "/api/v1/products",
        "/api/v1/nowhere",
    ] {
        let reply = gw.get(uri, None).await;
        let csp = reply.header("content-security-policy").unwrap_or_default();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(
                csp.contains(directive),
                "{uri}: CSP '{csp}' lacks {directive}"
            );
        }
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{uri}"
        );
        assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{uri}");
        assert_eq!(
            reply.header("referrer-policy"),
            Some("no-referrer"),
            "{uri}"
        );
        assert_eq!(
            reply.header("strict-transport-security"),
            None,
            "{uri}: plain HTTP"
        );
    }
    assert_eq!(
        gw.get("/api/v1/nowhere", None).await.status,
        StatusCode::NOT_FOUND,
        "the problem above was a problem"
    );

    let behind_tls = Gateway::start_with(|s| s.security.hsts = true).await;
    assert_eq!(
        behind_tls
            .get("/", None)
            .await
            .header("strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
}

#[tokio::test]
async fn the_pages_load_no_inline_script_or_style_so_the_policy_can_forbid_them() {
    let gw = Gateway::start().await;
    for uri in ["/", "/docs"] {
        let request = Request::get(uri).body(axum::body::Body::empty()).unwrap();
        let response = gw.router.clone().oneshot(request).await.unwrap();
        let html = String::from_utf8(
            response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap();
        assert!(!html.contains("<script>"), "{uri} has an inline script");
        assert!(!html.contains("<style"), "{uri} has an inline style sheet");
        assert!(
            !html.contains(" style="),
            "{uri} has an inline style attribute"
        );
        assert!(
            !has_inline_event_handler(&html),
            "{uri} has an inline event handler"
        );
    }
}

/// ` onclick=`, ` onload=`, ...: attributes a strict CSP refuses to run.
fn has_inline_event_handler(html: &str) -> bool {
    html.split(" on").skip(1).any(|rest| {
        let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    })
}

#[tokio::test]
async fn a_control_character_in_any_text_is_422_naming_the_field_never_a_5xx() {
    let gw = Gateway::start().await;
    let (_, customer) = gw.stubs.token(false);
    let (_, admin) = gw.stubs.token(true);
    let product = "01900000-0000-7000-8000-000000000001";
    // (method, uri, token, body, the field the problem must name)
    type Case<'a> = (
        Method,
        String,
        Option<&'a str>,
        Option<serde_json::Value>,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            Method::GET,
            "/api/v1/products?q=crab%00".into(),
            None,
            None,
            "q",
        ),
        (
            Method::POST,
            "/api/v1/auth/register".into(),
            None,
            Some(
                json!({ "email": "a@example.com", "password": "long enough Pass1", "name": "A\u{0}" }),
            ),
            "name",
        ),
        (
            Method::POST,
            "/api/v1/orders".into(),
            Some(&customer),
            Some(
                json!({ "items": [{ "product_id": product, "quantity": 1 }], "card_token": "tok_visa\u{0}", "shipping_address": { "name": "Ann Reader", "line1": "1 Crab Lane", "city": "Dublin", "postal_code": "D02 X285", "country": "IE" }, "shipping_method": "standard" }),
            ),
            "card_token",
        ),
        (
            Method::POST,
            "/api/v1/orders".into(),
            Some(&customer),
            Some(
                json!({ "items": [{ "product_id": "\u{7}", "quantity": 1 }], "card_token": "tok_visa", "shipping_address": { "name": "Ann Reader", "line1": "1 Crab Lane", "city": "Dublin", "postal_code": "D02 X285", "country": "IE" }, "shipping_method": "standard" }),
            ),
            "items[0].product_id",
        ),
        (
            Method::POST,
            "/api/v1/orders/abc/cancel".into(),
            Some(&customer),
            Some(json!({ "reason": "changed my mind\u{0}" })),
            "reason",
        ),
        (
            Method::POST,
            "/api/v1/products".into(),
            Some(&admin),
            Some(
                json!({ "name": "Crab\u{1b}[31m", "price": { "amount_minor": 100, "currency": "EUR" } }),
            ),
            "name",
        ),
    ];
    for (method, uri, token, body, field) in cases {
        let reply = gw
            .send(
                method.clone(),
                &uri,
                token,
                body,
                &[("idempotency-key", "01900000-0000-7000-8000-0000000000aa")],
            )
            .await;
        assert_eq!(
            (reply.status, reply.problem()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation"),
            "{method} {uri}: {}",
            reply.body
        );
        assert_eq!(reply.body["errors"][0]["field"], field, "{method} {uri}");
    }

    let fine = gw
        .post(
            "/api/v1/orders/abc/cancel",
            Some(&customer),
            json!({ "reason": "line one\nline two\ttabbed" }),
        )
        .await;
    assert_eq!(fine.status, StatusCode::OK, "line breaks and tabs are text");
}

#[tokio::test]
async fn order_list_filters_are_checked_at_the_edge_naming_the_parameter() {
    let gw = Gateway::start().await;
    let (_, admin) = gw.stubs.token(true);
    for (query, field) in [
        ("status=LOST", "status"),
        ("status=ORDER_STATUS_CONFIRMED", "status"),
        ("customer_id=bob", "customer_id"),
        ("placed_from=yesterday", "placed_from"),
        ("placed_before=2026-13-01T00:00:00Z", "placed_before"),
        ("status=", "status"),
        ("customer_id=", "customer_id"),
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
    ] {
        let reply = gw
            .get(&format!("/api/v1/orders?{query}"), Some(&admin))
            .await;
        assert_eq!(
            (reply.status, reply.problem()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation"),
            "{query}"
        );
        assert_eq!(reply.body["errors"][0]["field"], field, "{query}");
    }
    let fine = gw
        .get(
            "/api/v1/orders?status=CONFIRMED&customer_id=01900000-0000-7000-8000-000000000001\
             &placed_from=2026-12-01T00:00:00Z&placed_before=2026-12-31T00:00:00%2B01:00",
            Some(&admin),
        )
        .await;
    assert_eq!(fine.status, StatusCode::OK, "{}", fine.body);
}

#[tokio::test]
async fn a_browser_keeps_its_refresh_token_in_an_http_only_cookie_renewed_only_with_the_csrf_header()
 {
    let gw = Gateway::start().await;
    let signed_in = gw
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "email": "ann@example.com", "password": "right password", "cookie": true }),
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::OK);
    assert!(signed_in.body["access_token"].is_string());
    assert!(
        signed_in.body.get("refresh_token").is_none(),
        "the page never sees it: {}",
        signed_in.body
    );
    assert_eq!(
        signed_in.header("set-cookie"),
        Some("shop_refresh=refresh-1; Path=/api/v1/auth; HttpOnly; Secure; SameSite=Strict")
    );

    let cookie = [("cookie", "theme=dark; shop_refresh=refresh-1")];
    let forged = gw
        .send(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({})),
            &cookie,
        )
        .await;
    assert_eq!(
        (forged.status, forged.problem()),
        (StatusCode::FORBIDDEN, "forbidden"),
        "another site can make the browser send the cookie, but not the header"
    );
    let renewed = gw
        .send(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({})),
            &[cookie[0], ("x-shop-csrf", "1")],
        )
        .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    assert!(renewed.body.get("refresh_token").is_none());
    assert!(
        renewed
            .header("set-cookie")
            .is_some_and(|c| c.starts_with("shop_refresh=refresh-2;")),
        "the rotated token goes back into the cookie"
    );
    let no_cookie = gw
        .send(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({})),
            &[("x-shop-csrf", "1")],
        )
        .await;
    assert_eq!(no_cookie.status, StatusCode::UNAUTHORIZED);

    // API clients that are not browsers keep the JSON flow.
    let json_flow = gw
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": "refresh-1" }),
        )
        .await;
    assert_eq!(json_flow.body["refresh_token"], "refresh-2");
    assert_eq!(json_flow.header("set-cookie"), None);

    let (_, token) = gw.stubs.token(false);
    let logout = gw
        .send(Method::POST, "/api/v1/auth/logout", Some(&token), None, &[])
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert!(
        logout
            .header("set-cookie")
            .is_some_and(|c| c.starts_with("shop_refresh=;") && c.ends_with("Max-Age=0")),
        "logging out deletes the cookie"
    );
}

#[tokio::test]
async fn values_are_held_to_what_the_openapi_document_says_no_less_and_no_more() {
    let gw = Gateway::start().await;
    let (_, admin) = gw.stubs.token(true);
    // A whole number written with a fraction part is still a whole number (JSON Schema's
    // `integer`); a real fraction is not.
    let whole = json!({ "name": "Pin", "price": { "amount_minor": 599.0, "currency": "EUR" } });
    let created = gw.post("/api/v1/products", Some(&admin), whole).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let fraction = json!({ "name": "Pin", "price": { "amount_minor": 599.5, "currency": "EUR" } });
    assert_eq!(
        gw.post("/api/v1/products", Some(&admin), fraction)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    // Catalog pages are 1 to 100 long and searches at most 100 characters.
    for query in [
        "page_size=0",
        "page_size=101",
        &format!("q={}", "a".repeat(101)),
    ] {
        let reply = gw.get(&format!("/api/v1/products?{query}"), None).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
    }
    assert_eq!(
        gw.get("/api/v1/products?page_size=100", None).await.status,
        StatusCode::OK
    );
    // A cancellation's body may be absent, `null`, or an object.
    let (_, customer) = gw.stubs.token(false);
    for body in [
        None,
        Some(json!(null)),
        Some(json!({ "reason": "changed my mind" })),
    ] {
        let reply = gw
            .send(
                Method::POST,
                "/api/v1/orders/abc/cancel",
                Some(&customer),
                body.clone(),
                &[],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{body:?}: {}", reply.body);
    }
}

#[tokio::test]
async fn admins_see_the_runtime_flags_as_the_file_sets_them_and_nobody_else_does() {
    let flags = shop_testkit::FlagFile::new();
    flags.set(&[("payment-failure-rate", "half")]).unwrap();
    let file = flags.setting();
    let gw = Gateway::start_with(|s| {
        s.flags.file = file;
        s.flags.reload_interval = std::time::Duration::from_millis(50);
    })
    .await;
    let uri = "/api/v1/admin/flags";
    assert_eq!(gw.get(uri, None).await.status, StatusCode::UNAUTHORIZED);
    let (_, customer) = gw.stubs.token(false);
    assert_eq!(
        gw.get(uri, Some(&customer)).await.status,
        StatusCode::FORBIDDEN
    );

    let (_, admin) = gw.stubs.token(true);
    let list = gw.get(uri, Some(&admin)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["from_file"], true);
    let keys: Vec<&str> = list.body["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    let shop_file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(shop_testkit::FlagFile::shop_file()).unwrap(),
    )
    .unwrap();
    let mut expected: Vec<&str> = shop_file["flags"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    expected.sort_unstable();
    assert_eq!(keys, expected, "every flag of the file, by key");
    let failure = list.body["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "payment-failure-rate")
        .unwrap();
    assert_eq!(
        (&failure["enabled"], &failure["variant"], &failure["value"]),
        (&json!(true), &json!("half"), &json!(0.5))
    );
    assert!(failure["variants"].as_array().unwrap().len() >= 2);
    assert!(
        failure["description"]
            .as_str()
            .unwrap()
            .contains("processor")
    );

    // Flipped in the file: the back office shows it within the reload interval.
    flags.set(&[("payment-failure-rate", "off")]).unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let list = gw.get(uri, Some(&admin)).await;
        let variant = list.body["flags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == "payment-failure-rate")
            .map(|f| f["variant"].clone());
        if variant == Some(json!("off")) {
            break;
        }
        assert!(std::time::Instant::now() < until, "still {variant:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn without_a_flag_file_the_back_office_lists_no_flags() {
    let gw = Gateway::start().await;
    let (_, admin) = gw.stubs.token(true);
    let list = gw.get("/api/v1/admin/flags", Some(&admin)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body, json!({ "from_file": false, "flags": [] }));
}
