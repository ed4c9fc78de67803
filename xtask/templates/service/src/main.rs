//! `shop-{{name}}`: runs the {{name}} service, or one of the commands every service has.

fn main() -> std::process::ExitCode {
    shop_platform::service::main::<shop_{{name}}::Shop{{Name}}>()
}
