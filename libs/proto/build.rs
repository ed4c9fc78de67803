//! Compiles `proto/` with protox (pure Rust, so no `protoc` is needed on any
//! machine) and hands the descriptors to tonic's code generator. The encoded
//! descriptor set is written to OUT_DIR so servers can offer reflection.

use std::path::PathBuf;

use prost::Message;

const PROTOS: &[&str] = &[
    "shop/common/v1/common.proto",
    "shop/user/v1/user.proto",
    "shop/inventory/v1/inventory.proto",
    "shop/order/v1/order.proto",
    "shop/payment/v1/payment.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let descriptors = protox::compile(PROTOS, [&proto_root])?;
    std::fs::write(
        out_dir.join("shop_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        .emit_rerun_if_changed(false)
        .compile_fds(descriptors)?;

    // protox does not announce its inputs; rerun when any contract changes.
    println!("cargo:rerun-if-changed={}", proto_root.display());
    Ok(())
}
