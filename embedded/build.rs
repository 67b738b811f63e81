//! Puts the board's memory map where cortex-m-rt's linker script looks for
//! it, only when building the firmware.

use std::path::PathBuf;

fn main() {
    if std::env::var_os("CARGO_FEATURE_MPS2_AN386").is_none() {
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::copy("memory.x", out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
}
