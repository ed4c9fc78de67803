//! `shop-inventory`: runs the inventory service, or loads the demo catalog.

/// mimalloc, as in every service (ADR 19).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    shop_platform::service::main::<shop_inventory::ShopInventory>()
}
