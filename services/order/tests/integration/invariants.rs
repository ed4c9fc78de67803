//! Many customers at once, a third of them with a card that is declined: whatever the
//! interleaving, the invariants of the design hold.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::Duration;

use crate::support::Shop;
use shop_proto::order::v1 as pb;
use uuid::Uuid;

#[tokio::test]
async fn a_hundred_orders_for_twenty_units_never_oversell_and_never_keep_money_from_a_rejected_order()
 {
    let shop = Shop::start().await;
    let product = shop.product(20, 1500).await;

    let attempts = (0..100).map(|i| {
        let card = if i % 3 == 0 {
            "tok_declined"
        } else {
            "tok_visa"
        };
        let (shop, product) = (&shop, product.clone());
        async move { shop.place_retrying(&product, 1, card).await }
    });
    let orders: Vec<pb::Order> = futures::future::join_all(attempts).await;

    // Some sagas may have outrun the request: let recovery finish them.
    shop.eventually(Duration::from_secs(60), "every saga ends", || async {
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM orders WHERE status IN ('PENDING', 'RESERVED')",
        )
        .fetch_one(&shop.order.pool)
        .await
        .unwrap();
        open == 0
    })
    .await;
    let statuses: Vec<(Uuid, String)> = sqlx::query_as("SELECT id, status FROM orders")
        .fetch_all(&shop.order.pool)
        .await
        .unwrap();
    assert_eq!(statuses.len(), orders.len());
    let confirmed: Vec<Uuid> = statuses
        .iter()
        .filter(|(_, s)| s == "CONFIRMED")
        .map(|(id, _)| *id)
        .collect();
    let rejected: Vec<Uuid> = statuses
        .iter()
        .filter(|(_, s)| s == "REJECTED")
        .map(|(id, _)| *id)
        .collect();
    assert!(
        !confirmed.is_empty() && confirmed.len() <= 20,
        "{} confirmed",
        confirmed.len()
    );
    assert_eq!(confirmed.len() + rejected.len(), 100);

    // Every confirmed order has exactly one captured payment...
    let processor = shop.processor();
    for id in &confirmed {
        let entry = processor
            .entry(*id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("confirmed order {id} has no payment"));
        assert!(entry.captured && !entry.refunded, "{id}: {entry:?}");
    }
    assert_eq!(
        processor.total_captures(),
        u64::try_from(confirmed.len()).unwrap()
    );
    // ...and every rejected order was never charged, or was given its money back.
    for id in &rejected {
        if let Some(entry) = processor.entry(*id).await.unwrap() {
            assert!(
                !entry.captured || entry.refunded,
                "rejected order {id} kept money: {entry:?}"
            );
        }
    }

    // Stock never went negative (the database refuses it), units are conserved, and once the
    // confirmations are consumed nothing stays held for a finished order.
    let confirmed_units = i64::try_from(confirmed.len()).unwrap();
    shop.eventually(Duration::from_secs(30), "stock settles", || async {
        shop.stock(&product).await == (20 - confirmed_units, 0, confirmed_units, 20)
    })
    .await;
    let open_reservations: i64 =
        sqlx::query_scalar("SELECT count(*) FROM reservation WHERE status = 'RESERVED'")
            .fetch_one(&shop.inventory.pool)
            .await
            .unwrap();
    assert_eq!(
        open_reservations, 0,
        "no reservation outlives a finished order"
    );
    shop.stop().await;
}
