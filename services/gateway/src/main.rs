//! `shop-gateway`: runs the public HTTP edge of the shop, or prints its OpenAPI document.

fn main() -> std::process::ExitCode {
    shop_platform::service::main::<shop_gateway::ShopGateway>()
}
