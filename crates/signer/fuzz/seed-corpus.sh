#!/usr/bin/env bash
# Rewrites the seed corpora in crates/signer/fuzz/corpus/<target>/ (factor_state,
# security_record, signer_from_pool) with encodings made by the signer's own code.
# Runs a plain (uninstrumented) build of the fuzz crate's seed_corpus tool.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rm -rf "$here/corpus/factor_state" "$here/corpus/security_record" "$here/corpus/signer_from_pool"
cargo run --quiet --manifest-path "$here/Cargo.toml" --features seed --bin seed_corpus -- \
    "$here/corpus"
