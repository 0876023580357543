#!/usr/bin/env bash
# Rewrites the seed corpora in crates/tpm/fuzz/corpus/<target>/ (signed_policy,
# sealed_key, quote) with encodings made by custos-tpm's own code and swtpm (needs
# `swtpm` on PATH). Runs a plain (uninstrumented) build of the fuzz crate's seed_corpus
# tool.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rm -f "$here"/corpus/{signed_policy,sealed_key,quote}/seed-*
cargo run --quiet --manifest-path "$here/Cargo.toml" --features seed --bin seed_corpus -- \
    "$here/corpus"
