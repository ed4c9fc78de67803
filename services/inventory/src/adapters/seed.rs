//! The demo catalog: `shop-inventory seed`. Idempotent: each product has a fixed request id,
//! so seeding again finds what it created the first time.

use uuid::Uuid;

use crate::app::{CreateProduct, Inventory, InventoryError};

/// (request id suffix, slug, name, description, price in cents, stock)
const DEMO: &[(u128, &str, &str, &str, i64, i64)] = &[
    (
        1,
        "ferris-plush",
        "Ferris Plush",
        "The crab himself, 30 cm of soft orange fabric. Hugs included, borrow checks not.",
        2499,
        40,
    ),
    (
        2,
        "crab-mug",
        "Crab Mug",
        "A 350 ml stoneware mug with Ferris on both sides, for left- and right-handed coffee.",
        1299,
        60,
    ),
    (
        3,
        "borrow-checker-hoodie",
        "Borrow Checker Hoodie",
        "Heavyweight cotton hoodie. Lend it to a friend; it will come back exactly once.",
        4999,
        25,
    ),
    (
        4,
        "lifetime-stickers",
        "Lifetime Annotation Stickers",
        "Twelve vinyl stickers from 'a to 'static, weatherproof for at least that long.",
        499,
        200,
    ),
    (
        5,
        "cargo-tote",
        "Cargo Tote Bag",
        "A sturdy canvas tote with room for a laptop and every crate you depend on.",
        1599,
        50,
    ),
    (
        6,
        "unsafe-socks",
        "Unsafe Block Socks",
        "Bright socks with a warning label. Wear them only where you have proved it is sound.",
        999,
        80,
    ),
    (
        7,
        "async-coffee",
        "Async Coffee Beans, 1 kg",
        "Medium roast from a small cooperative. Brews while you await other things.",
        2199,
        30,
    ),
    (
        8,
        "zero-cost-notebook",
        "Zero-Cost Abstraction Notebook",
        "A5 dotted notebook, 160 pages. Costs nothing at runtime, 8.99 at checkout.",
        899,
        120,
    ),
    (
        9,
        "fearless-tshirt",
        "Fearless Concurrency T-Shirt",
        "Organic cotton tee in crab orange. No data races, no shrinking in the wash.",
        2499,
        45,
    ),
    (
        10,
        "trait-keychain",
        "Trait Object Keychain",
        "A metal keychain behind a pointer: dyn Keychain, dispatched at runtime.",
        699,
        90,
    ),
    (
        11,
        "enamel-pin",
        "Rustacean Enamel Pin",
        "Hard enamel pin, 25 mm, with a rubber clutch that never lets go.",
        599,
        150,
    ),
    (
        12,
        "compiler-desk-mat",
        "Compiler Error Desk Mat",
        "A 90 x 40 cm desk mat printed with the most helpful error message you will ever read.",
        2999,
        20,
    ),
];

/// Creates the demo catalog; returns how many products it holds.
pub async fn seed(inventory: &Inventory) -> Result<usize, InventoryError> {
    for (suffix, slug, name, description, price, stock) in DEMO {
        inventory
            .create_product(CreateProduct {
                request_id: Uuid::from_u128(0x0000_0000_5eed_7000_8000_0000_0000_0000 | suffix)
                    .to_string(),
                name: (*name).to_owned(),
                description: (*description).to_owned(),
                price: Some((*price, "EUR".to_owned())),
                image_url: format!("/static/products/{slug}.svg"),
                initial_stock: *stock,
            })
            .await?;
    }
    Ok(DEMO.len())
}
