//! `shop-user`: runs the user service, or one of its operator commands.

/// mimalloc instead of the system allocator: a sign-in's argon2 hash takes a 19 MiB block, and
/// glibc's malloc keeps such blocks in its heaps once freed, so a burst of sign-ins left the
/// service hundreds of MiB larger; mimalloc gives them back (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    shop_platform::service::main::<shop_user::ShopUser>()
}
