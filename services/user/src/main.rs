//! `shop-user`: runs the user service, or one of its operator commands.

/// mimalloc instead of the system allocator: a sign-in's argon2 hash takes a block of several
/// MiB (19 MiB at the cost first chosen, 7 MiB now), and glibc's malloc keeps such blocks in its
/// heaps once freed, so a burst of sign-ins left the service hundreds of MiB larger; mimalloc,
/// built as the workspace builds it, maps each such block from the system and gives it back
/// when freed (docs/performance.md, ADR 19, 21 and 22).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    shop_platform::service::main::<shop_user::ShopUser>()
}
