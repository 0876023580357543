//! Where the boot tests find their inputs: the kernel cache and a static `custos`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Environment variable naming the kernel cache (default `~/.cache/custos/kernel`).
pub const KERNEL_CACHE_ENV: &str = "CUSTOS_KERNEL_CACHE";
/// Environment variable naming a prebuilt static `custos` (skips the musl build).
pub const MUSL_BIN_ENV: &str = "CUSTOS_MUSL_BIN";

/// The kernel cache: `$CUSTOS_KERNEL_CACHE`, else `~/.cache/custos/kernel`.
pub fn kernel_cache() -> PathBuf {
    match std::env::var_os(KERNEL_CACHE_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .join(".cache/custos/kernel"),
    }
}

/// The static `custos` for `/init`: `$CUSTOS_MUSL_BIN`, or built here for
/// x86_64-unknown-linux-musl (release) from `workspace` into `target_tmpdir/musl`: a
/// target directory of its own, so the build does not wait on the lock of the cargo
/// running the tests, and shared by every test that asks (cargo serializes them).
pub fn musl_custos(workspace: &Path, target_tmpdir: &Path) -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os(MUSL_BIN_ENV) {
        return Ok(PathBuf::from(bin));
    }
    let target_dir = target_tmpdir.join("musl");
    let started = Instant::now();
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", &target_dir)
        .args(["build", "--locked", "--release", "-p", "custos-cli"])
        .args(["--bin", "custos", "--target", "x86_64-unknown-linux-musl"])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building custos for musl failed (rustup target add x86_64-unknown-linux-musl; \
             Debian package musl-tools):\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    eprintln!("built custos for musl in {:?}", started.elapsed());
    Ok(target_dir.join("x86_64-unknown-linux-musl/release/custos"))
}
