//! `shop-order`: runs the order service, or one of the commands every service has.

fn main() -> std::process::ExitCode {
    shop_platform::service::main::<shop_order::ShopOrder>()
}
