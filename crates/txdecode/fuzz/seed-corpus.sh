#!/usr/bin/env bash
# Writes every fixture in fixtures/solana/*.json as raw bytes into
# crates/txdecode/fuzz/corpus/decode_assess/ (one small file per entry, named by fixture).
# Runs a plain (uninstrumented) build of the fuzz crate's seed_corpus tool.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cargo run --quiet --manifest-path "$here/Cargo.toml" --bin seed_corpus -- \
    "$root/fixtures/solana" "$here/corpus/decode_assess"
