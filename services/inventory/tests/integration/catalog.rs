//! The catalog through gRPC: admin-only writes, idempotent by request id, listing with keyset
//! pagination and a text query, and reads served from Redis that survive Redis going away.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use crate::support::{TestInventory, authed};
use shop_platform::config::Secret;
use shop_proto::common::v1::{Money, PageRequest};
use shop_proto::inventory::v1 as pb;
use shop_testkit::proxy::TcpProxy;
use tonic::Code;
use uuid::Uuid;

fn new_product(request_id: Uuid, name: &str) -> pb::CreateProductRequest {
    pb::CreateProductRequest {
        request_id: request_id.to_string(),
        name: name.to_owned(),
        description: String::new(),
        price: Some(Money {
            amount_minor: 500,
            currency: "EUR".to_owned(),
        }),
        image_url: String::new(),
        initial_stock: 1,
    }
}

/// The fields an INVALID_ARGUMENT names (the test fails on any other code).
fn invalid_fields(err: &tonic::Status) -> Vec<String> {
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    shop_platform::grpc_status::violations_of(err)
        .into_iter()
        .map(|(field, _)| field)
        .collect()
}

#[tokio::test]
async fn only_admins_write_the_catalog() {
    let shop = TestInventory::spawn().await;
    let anonymous = shop
        .client()
        .await
        .create_product(new_product(Uuid::now_v7(), "Pin"))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let customer = shop
        .client()
        .await
        .create_product(authed(
            new_product(Uuid::now_v7(), "Pin"),
            &shop.customer_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(customer.code(), Code::PermissionDenied);
    let forged = shop
        .client()
        .await
        .create_product(authed(new_product(Uuid::now_v7(), "Pin"), "not.a.token"))
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::Unauthenticated);
    shop.stop().await;
}

#[tokio::test]
async fn a_retried_create_or_adjustment_happens_once() {
    let shop = TestInventory::spawn().await;
    let request_id = Uuid::now_v7();
    let first = shop
        .client()
        .await
        .create_product(authed(new_product(request_id, "Pin"), &shop.admin_token))
        .await
        .unwrap();
    let again = shop
        .client()
        .await
        .create_product(authed(new_product(request_id, "Pin"), &shop.admin_token))
        .await
        .unwrap();
    let id = first.into_inner().product.unwrap().id;
    assert_eq!(id, again.into_inner().product.unwrap().id);

    let adjustment = pb::AdjustStockRequest {
        request_id: Uuid::now_v7().to_string(),
        product_id: id.clone(),
        delta: 10,
    };
    for _ in 0..3 {
        shop.client()
            .await
            .adjust_stock(authed(adjustment.clone(), &shop.admin_token))
            .await
            .unwrap();
    }
    assert_eq!(shop.stock(&id).await, (11, 0, 0, 11));

    let write_off = pb::AdjustStockRequest {
        request_id: Uuid::now_v7().to_string(),
        product_id: id.clone(),
        delta: -12,
    };
    let err = shop
        .client()
        .await
        .adjust_stock(authed(write_off, &shop.admin_token))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "cannot write off more than is available"
    );
    shop.stop().await;
}

#[tokio::test]
async fn listing_pages_by_name_and_filters_by_text() {
    let shop = TestInventory::spawn().await;
    for name in [
        "Delta mug",
        "alpha plate",
        "Charlie mug",
        "bravo bowl",
        "Echo mug",
    ] {
        shop.create_product(name, 100, 1).await;
    }
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = shop
            .client()
            .await
            .list_products(pb::ListProductsRequest {
                page: Some(PageRequest {
                    page_size: 2,
                    page_token: token.clone(),
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        names.extend(page.products.into_iter().map(|p| p.name));
        token = page.page.unwrap().next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(
        names,
        [
            "alpha plate",
            "bravo bowl",
            "Charlie mug",
            "Delta mug",
            "Echo mug"
        ]
    );

    let mugs = shop
        .client()
        .await
        .list_products(pb::ListProductsRequest {
            query: "MUG".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mugs.products.len(), 3);

    let bad = shop
        .client()
        .await
        .list_products(pb::ListProductsRequest {
            page: Some(PageRequest {
                page_size: 2,
                page_token: "forged".to_owned(),
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    shop.stop().await;
}

/// Every name of a listing in `order`, `size` at a time, and the last page token issued.
async fn list_all(
    shop: &TestInventory,
    order: pb::ProductOrder,
    size: i32,
    admin: bool,
) -> (Vec<String>, Vec<String>) {
    let (mut names, mut tokens) = (Vec::new(), Vec::new());
    let mut token = String::new();
    loop {
        let request = pb::ListProductsRequest {
            page: Some(PageRequest {
                page_size: size,
                page_token: token.clone(),
            }),
            order: order.into(),
            include_inactive: admin,
            ..Default::default()
        };
        let request = if admin {
            authed(request, &shop.admin_token)
        } else {
            tonic::Request::new(request)
        };
        let page = shop
            .client()
            .await
            .list_products(request)
            .await
            .unwrap()
            .into_inner();
        names.extend(page.products.into_iter().map(|p| p.name));
        token = page.page.unwrap().next_page_token;
        if token.is_empty() {
            return (names, tokens);
        }
        tokens.push(token.clone());
    }
}

#[tokio::test]
async fn listing_pages_by_price_either_way_with_ties_by_name() {
    let shop = TestInventory::spawn().await;
    for (name, price) in [
        ("Fox cup", 300),
        ("ant cup", 300),
        ("Bee cup", 100),
        ("cat cup", 900),
        ("Dog cup", 500),
        ("eel cup", 300),
    ] {
        shop.create_product(name, price, 1).await;
    }
    // Pages of two: the three cups at 3.00 straddle a page boundary either way.
    let (cheapest_first, tokens) =
        list_all(&shop, pb::ProductOrder::PriceAscending, 2, false).await;
    assert_eq!(
        cheapest_first,
        [
            "Bee cup", "ant cup", "eel cup", "Fox cup", "Dog cup", "cat cup"
        ]
    );
    let (dearest_first, _) = list_all(&shop, pb::ProductOrder::PriceDescending, 2, false).await;
    assert_eq!(
        dearest_first,
        [
            "cat cup", "Dog cup", "ant cup", "eel cup", "Fox cup", "Bee cup"
        ]
    );
    let (by_name, _) = list_all(&shop, pb::ProductOrder::Name, 4, false).await;
    assert_eq!(
        by_name,
        [
            "ant cup", "Bee cup", "cat cup", "Dog cup", "eel cup", "Fox cup"
        ]
    );

    // A token continues only the order it was issued for.
    for other in [pb::ProductOrder::PriceDescending, pb::ProductOrder::Name] {
        let err = shop
            .client()
            .await
            .list_products(pb::ListProductsRequest {
                page: Some(PageRequest {
                    page_size: 2,
                    page_token: tokens[0].clone(),
                }),
                order: other.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(invalid_fields(&err), ["page_token"]);
    }
    let unknown = shop
        .client()
        .await
        .list_products(pb::ListProductsRequest {
            order: 42,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument, "{unknown:?}");

    // Off-sale products are listed, in their place, to admins who ask, and to nobody else.
    let gnu = shop.create_product("Gnu cup", 200, 1).await;
    shop.client()
        .await
        .update_product(authed(
            pb::UpdateProductRequest {
                product_id: gnu,
                active: Some(false),
                ..Default::default()
            },
            &shop.admin_token,
        ))
        .await
        .unwrap();
    let (public, _) = list_all(&shop, pb::ProductOrder::PriceAscending, 2, false).await;
    assert_eq!(public, cheapest_first);
    let (admin, _) = list_all(&shop, pb::ProductOrder::PriceAscending, 2, true).await;
    assert_eq!(
        admin,
        [
            "Bee cup", "Gnu cup", "ant cup", "eel cup", "Fox cup", "Dog cup", "cat cup"
        ]
    );
    shop.stop().await;
}

#[tokio::test]
async fn the_second_read_comes_from_redis_and_a_write_drops_the_entry() {
    let shop = TestInventory::spawn().await;
    let id = shop.create_product("Cached mug", 1200, 4).await;

    let misses = shop.cache.misses();
    let hits = shop.cache.hits();
    shop.product(&id).await;
    assert_eq!(
        (shop.cache.misses() - misses, shop.cache.hits() - hits),
        (1, 0),
        "first read misses"
    );
    shop.product(&id).await;
    assert_eq!(
        (shop.cache.misses() - misses, shop.cache.hits() - hits),
        (1, 1),
        "second read hits Redis"
    );

    shop.client()
        .await
        .update_product(authed(
            pb::UpdateProductRequest {
                product_id: id.clone(),
                name: Some("Renamed mug".to_owned()),
                ..Default::default()
            },
            &shop.admin_token,
        ))
        .await
        .unwrap();
    assert_eq!(
        shop.product(&id).await.name,
        "Renamed mug",
        "the write dropped the stale entry"
    );
    shop.stop().await;
}

#[tokio::test]
async fn reads_still_succeed_from_postgres_when_redis_goes_away() {
    let redis_target = shop_testkit::redis_url()
        .await
        .trim_start_matches("redis://")
        .to_owned();
    let proxy = TcpProxy::start(redis_target).await;
    let proxied = format!("redis://{}", proxy.addr());
    let shop = TestInventory::spawn_with(move |s| s.redis.url = Secret::new(proxied)).await;
    let id = shop.create_product("Resilient mug", 1200, 4).await;
    shop.product(&id).await;
    shop.product(&id).await;
    assert!(shop.cache.hits() >= 1);

    proxy.cut();
    let errors = shop.cache.errors();
    for _ in 0..5 {
        let product = shop.product(&id).await;
        assert_eq!(product.name, "Resilient mug");
    }
    assert!(
        shop.cache.errors() > errors,
        "the cache noticed Redis was gone"
    );
    proxy.restore();
    shop.stop().await;
}

#[tokio::test]
async fn seeding_twice_leaves_one_demo_catalog() {
    let shop = TestInventory::spawn().await;
    for _ in 0..2 {
        assert_eq!(
            shop_inventory::adapters::seed::seed(&shop.inventory)
                .await
                .unwrap(),
            12
        );
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM product")
        .fetch_one(&shop.pool)
        .await
        .unwrap();
    assert_eq!(count, 12);
    shop.stop().await;
}

#[tokio::test]
async fn a_price_above_the_highest_is_invalid_argument_naming_the_field() {
    let shop = TestInventory::spawn().await;
    let mut request = new_product(Uuid::now_v7(), "Golden Crab");
    request.price = Some(Money {
        amount_minor: i64::MAX,
        currency: "EUR".to_owned(),
    });
    let refused = shop
        .client()
        .await
        .create_product(authed(request, &shop.admin_token))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&refused), ["price.amount_minor"]);
    shop.stop().await;
}

#[tokio::test]
async fn nul_or_another_control_character_in_text_is_invalid_argument_naming_the_field() {
    let shop = TestInventory::spawn().await;
    let created = shop
        .client()
        .await
        .create_product(authed(
            new_product(Uuid::now_v7(), "Crab\u{0}Mug"),
            &shop.admin_token,
        ))
        .await
        .unwrap_err();
    let searched = shop
        .client()
        .await
        .list_products(pb::ListProductsRequest {
            query: "mug\u{1b}".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    for (err, field) in [(created, "name"), (searched, "query")] {
        assert_eq!(
            invalid_fields(&err),
            [field],
            "never reaches Postgres, which refuses NUL"
        );
    }
    shop.stop().await;
}
