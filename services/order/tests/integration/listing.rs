//! Listing orders on real Postgres: a customer sees their own; an admin sees every customer's,
//! filtered by customer, status and time, a keyset page at a time.

use crate::support::Shop;
use shop_proto::common::v1::PageRequest;
use shop_proto::convert::timestamp;
use shop_proto::order::v1 as pb;
use shop_test_services::authed;
use tonic::Code;

async fn list(
    shop: &Shop,
    token: &str,
    request: pb::ListOrdersRequest,
) -> Result<Vec<pb::Order>, tonic::Status> {
    let mut orders = Vec::new();
    let mut request = request;
    loop {
        let page = shop
            .orders()
            .await
            .list_orders(authed(request.clone(), token))
            .await?
            .into_inner();
        orders.extend(page.orders);
        let next = page.page.map(|p| p.next_page_token).unwrap_or_default();
        if next.is_empty() {
            return Ok(orders);
        }
        request.page = Some(PageRequest {
            page_size: 2,
            page_token: next,
        });
    }
}

fn ids(orders: &[pb::Order]) -> Vec<&str> {
    orders.iter().map(|o| o.id.as_str()).collect()
}

fn paged(request: pb::ListOrdersRequest) -> pb::ListOrdersRequest {
    pb::ListOrdersRequest {
        page: Some(PageRequest {
            page_size: 2,
            page_token: String::new(),
        }),
        ..request
    }
}

#[tokio::test]
async fn an_admin_lists_every_customers_orders_by_customer_status_and_time() {
    let shop = Shop::start().await;
    let (bob_id, bob_token) = shop_test_services::customer(&shop.user, "bob@example.com").await;
    let product = shop.product(100, 500).await;
    // Ann: two confirmed orders and one rejected (declined card); Bob: one confirmed.
    let ann_1 = shop.place(&product, 1, "tok_visa").await.unwrap();
    let ann_2 = shop.place(&product, 1, "tok_visa").await.unwrap();
    let ann_rejected = shop.place(&product, 1, "tok_declined").await.unwrap();
    let between = chrono::Utc::now();
    let bob_order = shop
        .orders()
        .await
        .place_order(authed(
            Shop::place_request(&uuid::Uuid::now_v7().to_string(), &product, 2, "tok_visa"),
            &bob_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();

    let everyone = list(
        &shop,
        &shop.admin_token,
        paged(pb::ListOrdersRequest::default()),
    )
    .await
    .unwrap();
    assert_eq!(
        ids(&everyone),
        [&*bob_order.id, &*ann_rejected.id, &*ann_2.id, &*ann_1.id],
        "newest first, across customers and pages"
    );

    let bobs = list(
        &shop,
        &shop.admin_token,
        paged(pb::ListOrdersRequest {
            customer_id: bob_id.clone(),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    assert_eq!(ids(&bobs), [&*bob_order.id]);

    let rejected = list(
        &shop,
        &shop.admin_token,
        paged(pb::ListOrdersRequest {
            status: pb::OrderStatus::Rejected.into(),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    assert_eq!(ids(&rejected), [&*ann_rejected.id]);

    let (before, after) = (
        list(
            &shop,
            &shop.admin_token,
            paged(pb::ListOrdersRequest {
                placed_before: Some(timestamp(between)),
                ..Default::default()
            }),
        )
        .await
        .unwrap(),
        list(
            &shop,
            &shop.admin_token,
            paged(pb::ListOrdersRequest {
                placed_from: Some(timestamp(between)),
                status: pb::OrderStatus::Confirmed.into(),
                ..Default::default()
            }),
        )
        .await
        .unwrap(),
    );
    assert_eq!(ids(&before), [&*ann_rejected.id, &*ann_2.id, &*ann_1.id]);
    assert_eq!(ids(&after), [&*bob_order.id]);

    // A customer sees their own orders only, and may not name anyone else.
    let anns = list(
        &shop,
        &shop.customer_token,
        paged(pb::ListOrdersRequest::default()),
    )
    .await
    .unwrap();
    assert_eq!(ids(&anns), [&*ann_rejected.id, &*ann_2.id, &*ann_1.id]);
    let peeking = list(
        &shop,
        &shop.customer_token,
        pb::ListOrdersRequest {
            customer_id: bob_id,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(peeking.code(), Code::PermissionDenied);
    let own = list(
        &shop,
        &shop.customer_token,
        pb::ListOrdersRequest {
            customer_id: shop.customer_id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(own.len(), 3);

    // A window that holds no instant is not an error: it simply holds no orders.
    let empty = list(
        &shop,
        &shop.admin_token,
        pb::ListOrdersRequest {
            placed_from: Some(timestamp(between)),
            placed_before: Some(timestamp(between)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(empty.is_empty(), "{empty:?}");
    shop.stop().await;
}
