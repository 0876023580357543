//! Shared test helpers: fixture loading and transaction building.
#![allow(dead_code)]

use base64::Engine;
use custos_txdecode::{
    assess, Assessment, Context, LookupTables, ParsedTransaction, PolicyConfig, Pubkey,
};
use solana_message::{Hash, Instruction, Message, VersionedMessage};
use solana_transaction::versioned::VersionedTransaction;

pub const FIXTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/solana");

pub const FIXTURE_FILES: &[&str] = &[
    "walletcore.json",
    "walletcore_msgs.json",
    "visualsign.json",
    "ledger.json",
    "agavesim_wire.json",
];

pub fn load(file: &str) -> Vec<serde_json::Value> {
    let path = format!("{FIXTURE_DIR}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// Decodes fixture data by its `enc` field.
pub fn decode_data(enc: &str, data: &str) -> Option<Vec<u8>> {
    custos_txdecode::text::decode_named(enc, data)
}

/// Every fixture entry: (file, name, bytes, entry).
pub fn all_entries() -> Vec<(String, String, Vec<u8>, serde_json::Value)> {
    let mut out = Vec::new();
    for file in FIXTURE_FILES {
        for e in load(file) {
            let name = e["name"].as_str().unwrap_or("?").to_owned();
            let enc = e["enc"].as_str().unwrap_or("auto");
            let data = e["data"].as_str().unwrap_or("");
            let bytes = decode_data(enc, data).unwrap_or_default();
            out.push(((*file).to_owned(), name, bytes, e));
        }
    }
    out
}

/// Lookup tables rebuilt from an agavesim entry's loaded_writable / loaded_readonly.
pub fn tables_for(tx: &ParsedTransaction, entry: &serde_json::Value) -> LookupTables {
    let mut tables = LookupTables::empty();
    let addrs = |k: &str| -> Vec<Pubkey> {
        entry[k]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()?.parse().ok()).collect())
            .unwrap_or_default()
    };
    let (w, r) = (addrs("loaded_writable"), addrs("loaded_readonly"));
    if w.is_empty() && r.is_empty() {
        return tables;
    }
    let (mut wi, mut ri) = (w.iter(), r.iter());
    let mut contents: std::collections::BTreeMap<Pubkey, Vec<Pubkey>> = Default::default();
    for l in tx.address_table_lookups() {
        let t = contents.entry(l.account_key).or_default();
        for (idxs, it) in [
            (&l.writable_indexes, &mut wi),
            (&l.readonly_indexes, &mut ri),
        ] {
            for &i in idxs {
                let i = usize::from(i);
                if t.len() <= i {
                    t.resize(i + 1, Pubkey::default());
                }
                if let Some(a) = it.next() {
                    t[i] = *a;
                }
            }
        }
    }
    for (k, v) in contents {
        tables.insert(k, v).unwrap();
    }
    tables
}

pub fn assess_as(tx: &ParsedTransaction, signer: Pubkey, own: &[Pubkey]) -> Assessment {
    let tables = LookupTables::empty();
    let config = PolicyConfig::default();
    assess(
        tx,
        &Context {
            signer,
            own_wallets: own,
            lookup_tables: &tables,
            config: &config,
        },
    )
}

pub fn key(n: u8) -> Pubkey {
    let mut b = [0u8; 32];
    b[0] = n;
    b[31] = 0xA5;
    Pubkey::new_from_array(b)
}

/// A signed-looking legacy wire transaction (zero signatures) from instructions.
pub fn legacy_wire(instructions: &[Instruction], payer: &Pubkey) -> Vec<u8> {
    let msg =
        Message::new_with_blockhash(instructions, Some(payer), &Hash::new_from_array([7; 32]));
    let tx = VersionedTransaction::new_unsigned(VersionedMessage::Legacy(msg));
    wincode::serialize(&tx).unwrap()
}

pub fn parse_legacy(instructions: &[Instruction], payer: &Pubkey) -> ParsedTransaction {
    ParsedTransaction::parse(&legacy_wire(instructions, payer)).unwrap()
}
