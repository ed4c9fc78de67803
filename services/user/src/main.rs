//! `shop-user`: runs the user service, or one of its operator commands.

fn main() -> std::process::ExitCode {
    shop_platform::service::main::<shop_user::ShopUser>()
}
