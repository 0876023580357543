#!/usr/bin/env bash
# Custos: everything the tests need, then every test.
#
#   ./scripts/test.sh
#
# 1. Installs the system packages the tests use when they are missing
#    (Debian/Ubuntu, apt-get; needs root or sudo only if something is missing).
# 2. Builds the litesvm harness (a separate Cargo workspace, see
#    tools/svm-harness/Cargo.toml for why).
# 3. Checks formatting and lints, then runs the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the current test suite needs (postgresql joins when its store
# arrives). Chromium and node drive the Custos page test
# (crates/pool/tests/page_browser.rs, tests/browser/). The measured-boot tests
# (crates/image/tests/boot.rs, crates/cli/tests/measured_boot.rs) boot the signed
# image under qemu + OVMF Secure Boot with swtpm: they build it with systemd-stub,
# objcopy, sbsign, a static musl custos, mkfs.vfat/mtools and mkfs.ext4/debugfs, and
# enroll Secure Boot keys with virt-firmware (PyPI, in a venv: python3-venv). The memory
# scan (crates/cli/tests/memory_scan.rs) forces a core dump of the signer with gdb's gcore.
PACKAGES=(gcc pkg-config chromium swtpm swtpm-tools systemd systemd-boot-efi binutils cpio
          qemu-system-x86 ovmf sbsigntool dosfstools mtools e2fsprogs openssl musl-tools
          python3-venv gdb)
# Node may come from elsewhere than Debian (e.g. NodeSource, whose nodejs
# includes npm): only ask apt for it when the commands are missing.
command -v node >/dev/null || PACKAGES+=(nodejs)
command -v npm >/dev/null || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "test.sh: installing missing packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# The image tests download the Debian cloud kernel with apt-get download: apt's
# package lists must know it.
if [ -z "$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' 2>/dev/null)" ]; then
  echo "test.sh: apt-get update (for the cloud kernel package)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
fi

# The browser driver's one package (playwright-core 1.61, pinned by
# package-lock.json) needs node 18 or later: Debian 12's own nodejs will do.
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
  echo "test.sh: node $(node --version) is too old for tests/browser (needs 18+)" >&2
  exit 1
fi
if [ ! -d tests/browser/node_modules ]; then
  echo "test.sh: npm ci in tests/browser"
  (cd tests/browser && npm ci --no-audit --no-fund)
fi

command -v cargo >/dev/null || { echo "test.sh: cargo not found: install Rust 1.95 (https://rustup.rs)" >&2; exit 1; }

# The image's /init is custos built for musl (static).
if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  echo "test.sh: rustup target add x86_64-unknown-linux-musl"
  rustup target add x86_64-unknown-linux-musl
fi

echo "test.sh: building the litesvm harness"
cargo build --locked --manifest-path tools/svm-harness/Cargo.toml

echo "test.sh: cargo fmt --check"
cargo fmt --all -- --check

echo "test.sh: cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings

echo "test.sh: cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --locked --workspace 2>&1 | tee "$log"
# One closing line for the whole run (cargo prints one per test binary,
# and the last of those is often an empty doc-test run).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
