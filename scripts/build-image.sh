#!/usr/bin/env bash
# Custos: build the signed boot image (UKI with the static custos as /init) in one command.
#
#   ./scripts/build-image.sh [IMAGE_TOML]
#
# 1. Builds `custos` for x86_64-unknown-linux-musl (release) and the host tool
#    `custos-image`.
# 2. Fetches the Debian cloud kernel into the kernel cache (reused when present).
# 3. Generates Secure Boot keys (PK, KEK, db) and an OVMF variable store with them enrolled,
#    when missing (for tests and first setup; production keys belong offline).
# 4. Builds the image into target/image/:
#      custos.efi           the signed UKI (put it at \EFI\BOOT\BOOTX64.EFI on the ESP)
#      custos-unsigned.efi  the same, unsigned (reproducible byte for byte)
#      release.json         version, kernel package, UKI sha256, predicted PCR 11 (and 7)
#      keys/ vars.fd        the Secure Boot keys and the enrolled OVMF variable store
#
# IMAGE_TOML: the image configuration (needs an integer `version`); default
# target/image/image.toml, created with `version = 1` when missing.
#
# Environment (all optional):
#   CUSTOS_KERNEL_CACHE    kernel cache (default ~/.cache/custos/kernel)
#   CUSTOS_KERNEL_PACKAGE  e.g. linux-image-6.1.0-48-cloud-amd64 (default: newest)
#   CUSTOS_IMAGE_KEYS      key directory (default target/image/keys)
#   CUSTOS_VIRT_FW         a venv with virt-firmware (default: made in ~/.cache/custos)
#   CUSTOS_CMDLINE         kernel command line (default: console=ttyS0 panic=-1)
#   CARGO_TARGET_DIR       cargo's target directory (default target)
#
# Needs (Debian): apt, dpkg, openssl, binutils, systemd-boot-efi, sbsigntool, ovmf,
# musl-tools, python3 with venv (PyPI reachable on first run); rustup target
# x86_64-unknown-linux-musl.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
out="target/image"
config="${1:-$out/image.toml}"
keys="${CUSTOS_IMAGE_KEYS:-$out/keys}"
cache="${CUSTOS_KERNEL_CACHE:-$HOME/.cache/custos/kernel}"
mkdir -p "$out"

echo "build-image: building custos (x86_64-unknown-linux-musl, release) and custos-image"
cargo build --locked --release -p custos-cli --bin custos --target x86_64-unknown-linux-musl
cargo build --locked --release -p custos-image --bin custos-image
tool="$target/release/custos-image"
custos="$target/x86_64-unknown-linux-musl/release/custos"

echo "build-image: kernel"
if [ -n "${CUSTOS_KERNEL_PACKAGE:-}" ]; then
  "$tool" fetch-kernel --cache "$cache" --package "$CUSTOS_KERNEL_PACKAGE"
else
  "$tool" fetch-kernel --cache "$cache"
fi

if [ ! -e "$keys/db.key" ]; then
  echo "build-image: generating Secure Boot keys in $keys"
  "$tool" keys --out "$keys"
fi
if [ ! -e "$out/vars.fd" ]; then
  echo "build-image: enrolling the keys into $out/vars.fd"
  "$tool" ovmf-vars --keys "$keys" --out "$out/vars.fd"
fi

if [ ! -e "$config" ]; then
  echo "build-image: $config missing: writing one with version = 1"
  printf 'version = 1\n' >"$config"
fi

echo "build-image: image"
args=(build --custos "$custos" --kernel-cache "$cache" --config "$config" --out "$out"
  --db-key "$keys/db.key" --db-cert "$keys/db.pem" --ovmf-vars "$out/vars.fd")
[ -n "${CUSTOS_CMDLINE:-}" ] && args+=(--cmdline "$CUSTOS_CMDLINE")
"$tool" "${args[@]}"
echo "build-image: done: $out/custos.efi, $out/release.json"
