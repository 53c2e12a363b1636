//! Build script of the `opsbot` binary: in release builds for x86_64 Linux (where rustc
//! links with lld), hands the linker `link/startup.order`, the functions opsbot runs from
//! start to idle, so they sit together at the start of `.text`. Without it start-up
//! touches code pages scattered over the whole text and most of the idle RSS is code
//! (see `link/record-startup-order.sh`, which records the file, and BENCHMARKS.md).
//! Names missing from the binary are ignored, so a stale file only loses the effect.

use std::{env, path::Path};

fn main() {
    let order = Path::new(env!("CARGO_MANIFEST_DIR")).join("link/startup.order");
    println!("cargo::rerun-if-changed={}", order.display());
    println!("cargo::rerun-if-env-changed=OPSBOT_NO_STARTUP_ORDER");
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    let lld_target = env::var("TARGET").is_ok_and(|t| t == "x86_64-unknown-linux-gnu");
    if !release
        || !lld_target
        || !order.exists()
        || env::var_os("OPSBOT_NO_STARTUP_ORDER").is_some()
    {
        return;
    }
    println!(
        "cargo::rustc-link-arg-bin=opsbot=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo::rustc-link-arg-bin=opsbot=-Wl,--no-warn-symbol-ordering");
}
