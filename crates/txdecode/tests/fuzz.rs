//! Random bytes and random mutations of fixtures never panic in parse_any + assess + to_text.

mod common;

use common::*;
use custos_txdecode::ParsedTransaction;
use proptest::prelude::*;

fn exercise(bytes: &[u8]) {
    if let Ok(tx) = ParsedTransaction::parse_any(bytes) {
        let signer = tx.fee_payer().copied().unwrap_or_default();
        let a = assess_as(&tx, signer, &[key(1)]);
        let _ = a.to_text();
        let _ = serde_json::to_string(&a).unwrap();
        let _ = tx.to_wire_with_signature(0, &[1; 64]);
        let _ = tx.message_bytes();
    }
}

fn corpus() -> &'static [Vec<u8>] {
    static CORPUS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(|| {
        all_entries()
            .into_iter()
            .map(|(_, _, b, _)| b)
            .filter(|b| !b.is_empty())
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let corpus = corpus();
        let mut bytes = pick.get(corpus).clone();
        for (at, val, op) in edits {
            if bytes.is_empty() { break; }
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = val,
                1 => { bytes.insert(i, val); }
                _ => { bytes.remove(i); }
            }
        }
        exercise(&bytes);
    }
}

#[test]
fn every_fixture_byte_flip_never_panics() {
    for bytes in corpus() {
        exercise(bytes);
        for i in (0..bytes.len()).step_by(7) {
            let mut m = bytes.clone();
            m[i] ^= 0xFF;
            exercise(&m);
        }
    }
}
