//! Fuzz target: arbitrary bytes through the whole signer-side decode path.
//!
//! parse_any -> assess (signer = first static key; then again with the other required
//! signers as own wallets) -> to_text -> serde_json -> to_wire_with_signature. Nothing in
//! this chain may panic, whatever the input.
#![no_main]

use custos_txdecode::{assess, Context, LookupTables, ParsedTransaction, PolicyConfig, Pubkey};
use libfuzzer_sys::fuzz_target;

fn exercise(tx: &ParsedTransaction, signer: Pubkey, own_wallets: &[Pubkey]) {
    let tables = LookupTables::empty();
    let config = PolicyConfig::default();
    let assessment = assess(
        tx,
        &Context {
            signer,
            own_wallets,
            lookup_tables: &tables,
            config: &config,
        },
    );
    let text = assessment.to_text();
    std::hint::black_box(&text);
    // Serialising an Assessment has no failure mode we accept.
    let json = serde_json::to_string(&assessment);
    assert!(json.is_ok(), "Assessment failed to serialise: {json:?}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(tx) = ParsedTransaction::parse_any(data) else {
        return;
    };
    let signer = tx
        .static_account_keys()
        .first()
        .copied()
        .unwrap_or_default();
    exercise(&tx, signer, &[]);

    let others: Vec<Pubkey> = tx
        .required_signers()
        .iter()
        .filter(|k| **k != signer)
        .copied()
        .collect();
    exercise(&tx, signer, &others);

    if let Ok(wire) = tx.to_wire_with_signature(0, &[7; 64]) {
        // The signed wire must still be something the decoder can read without panicking.
        let _ = ParsedTransaction::parse_any(&wire);
    }
    let _ = tx.message_bytes();
});
