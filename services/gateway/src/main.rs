//! `shop-gateway`: runs the public HTTP edge of the shop, or prints its OpenAPI document.

/// mimalloc, as in every service (ADR 19).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    shop_platform::service::main::<shop_gateway::ShopGateway>()
}
