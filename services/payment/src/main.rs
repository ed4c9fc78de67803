//! `shop-payment`: runs the payment service, or one of the commands every service has.

fn main() -> std::process::ExitCode {
    shop_platform::service::main::<shop_payment::ShopPayment>()
}
