//! `shop-{{name}}`: runs the {{name}} service, or one of the commands every service has.

/// mimalloc, as in every service (ADR 19).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    shop_platform::service::main::<shop_{{name}}::Shop{{Name}}>()
}
