//! Fuzz target: arbitrary bytes through the whole signer-side decode path.
//!
//! parse_any -> assess (signer = first static key; then again with the other required
//! signers as own wallets, with lookup tables resolving every table the message names,
//! with blind signing allowed, and against a swap and a transfer intent derived from the
//! input) -> to_text -> serde_json -> to_wire_with_signature. Nothing in this chain may
//! panic, whatever the input.
#![no_main]

use custos_txdecode::{
    assess_with_intent, Context, Intent, LookupTables, ParsedTransaction, PolicyConfig, Pubkey,
    UnknownPrograms,
};
use libfuzzer_sys::fuzz_target;

fn exercise(
    tx: &ParsedTransaction,
    signer: Pubkey,
    own_wallets: &[Pubkey],
    tables: &LookupTables,
    config: &PolicyConfig,
    intent: Option<&Intent>,
) {
    let assessment = assess_with_intent(
        tx,
        &Context {
            signer,
            own_wallets,
            lookup_tables: tables,
            config,
        },
        intent,
    );
    std::hint::black_box(assessment.to_text());
    std::hint::black_box(assessment.foreign_addresses());
    // Serialising an Assessment has no failure mode we accept.
    let json = serde_json::to_string(&assessment);
    assert!(json.is_ok(), "Assessment failed to serialise: {json:?}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(tx) = ParsedTransaction::parse_any(data) else {
        return;
    };
    let keys = tx.static_account_keys();
    let signer = keys.first().copied().unwrap_or_default();
    let default = PolicyConfig::default();
    let empty = LookupTables::empty();
    exercise(&tx, signer, &[], &empty, &default, None);

    let others: Vec<Pubkey> = tx
        .required_signers()
        .iter()
        .filter(|k| **k != signer)
        .copied()
        .collect();
    // Every table resolves to the static keys (so lookups land on signers, programs and
    // strangers alike).
    let mut tables = LookupTables::empty();
    for l in tx.address_table_lookups() {
        let _ = tables.insert(l.account_key, keys.iter().copied().cycle().take(64).collect());
    }
    let blind = PolicyConfig {
        unknown_programs: UnknownPrograms::Confirm,
        ..PolicyConfig::default()
    };
    exercise(&tx, signer, &others, &tables, &blind, None);

    let k = |i: usize| keys.get(i % keys.len().max(1)).copied().unwrap_or_default();
    let amount = u64::from_le_bytes(
        data.get(..8)
            .and_then(|b| b.try_into().ok())
            .unwrap_or([0; 8]),
    );
    let swap = Intent::Swap {
        input_mint: k(1),
        output_mint: k(2),
        max_amount_in: amount,
        min_amount_out: amount / 2,
    };
    let transfer = Intent::Transfer {
        destination: k(3),
        mint: (amount % 2 == 0).then(|| k(4)),
        amount,
    };
    exercise(&tx, signer, &others, &tables, &default, Some(&swap));
    exercise(&tx, signer, &[], &empty, &default, Some(&transfer));

    if let Ok(wire) = tx.to_wire_with_signature(0, &[7; 64]) {
        // The signed wire must still be something the decoder can read without panicking.
        let _ = ParsedTransaction::parse_any(&wire);
    }
    let _ = tx.message_bytes();
});
