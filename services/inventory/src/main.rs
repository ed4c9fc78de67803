//! `shop-inventory`: runs the inventory service, or loads the demo catalog.

fn main() -> std::process::ExitCode {
    shop_platform::service::main::<shop_inventory::ShopInventory>()
}
