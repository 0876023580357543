//! Every fixture goes through parse_any + assess + to_text + serde_json; verdicts and
//! summaries are compared with a golden file (regenerate with UPDATE_GOLDEN=1).

mod common;

use common::*;
use custos_txdecode::{assess, Context, ParsedTransaction, PolicyConfig, Verdict};
use ed25519_dalek::{Signer, SigningKey, Verifier};
use std::collections::BTreeMap;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/fixtures.json");

fn run_all() -> BTreeMap<String, serde_json::Value> {
    let mut golden = BTreeMap::new();
    let config = PolicyConfig::default();
    for (file, name, bytes, entry) in all_entries() {
        let key = format!("{file}:{name}");
        let record = match ParsedTransaction::parse_any(&bytes) {
            Err(e) => serde_json::json!({ "error": e.to_string() }),
            Ok(tx) => {
                let tables = tables_for(&tx, &entry);
                let signer = *tx.fee_payer().expect("sanitized message has a fee payer");
                let a = assess(
                    &tx,
                    &Context {
                        signer,
                        own_wallets: &[],
                        lookup_tables: &tables,
                        config: &config,
                    },
                );
                let text = a.to_text();
                assert!(!text.is_empty());
                // Every description fits in one Telegram message.
                assert!(
                    text.chars().count() <= 4096,
                    "{key}: {} chars",
                    text.chars().count()
                );
                let json = serde_json::to_string(&a).expect("assessment serialises");
                assert!(json.contains("\"verdict\""));
                serde_json::json!({
                    "version": format!("{:?}", tx.version()),
                    "verdict": a.verdict,
                    "summary": a.summary,
                    "reasons": a.reasons,
                    "warnings": a.warnings,
                    "descriptions": a.descriptions(),
                })
            }
        };
        assert!(
            golden.insert(key.clone(), record).is_none(),
            "duplicate fixture key {key}"
        );
    }
    golden
}

#[test]
fn fixtures_match_golden() {
    let got = run_all();
    let rendered = serde_json::to_string_pretty(&got).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN, &rendered).unwrap();
        return;
    }
    let want = std::fs::read_to_string(GOLDEN)
        .expect("golden file missing: run with UPDATE_GOLDEN=1 once and review it");
    let want: BTreeMap<String, serde_json::Value> = serde_json::from_str(&want).unwrap();
    for (k, v) in &got {
        assert_eq!(Some(v), want.get(k), "fixture {k} differs from golden");
    }
    assert_eq!(got.len(), want.len(), "fixture set changed");
}

#[test]
fn most_fixtures_parse() {
    let entries = all_entries();
    let parsed = entries
        .iter()
        .filter(|(_, _, b, _)| ParsedTransaction::parse_any(b).is_ok())
        .count();
    // Some ledger corpus messages fail sanitize on purpose; the rest must parse.
    assert!(
        parsed * 10 >= entries.len() * 8,
        "{parsed}/{}",
        entries.len()
    );
}

#[test]
fn durable_nonce_fixtures_reject() {
    let mut seen = 0;
    for (_, name, bytes, _) in all_entries() {
        if !name.to_lowercase().contains("nonce") {
            continue;
        }
        let Ok(tx) = ParsedTransaction::parse_any(&bytes) else {
            continue;
        };
        let a = assess_as(&tx, *tx.fee_payer().unwrap(), &[]);
        if a.effects
            .iter()
            .any(|e| matches!(e, custos_txdecode::Effect::Nonce { .. }))
        {
            assert_eq!(a.verdict, Verdict::Reject, "{name}");
            seen += 1;
        }
    }
    assert!(seen > 0, "no durable nonce fixture found");
}

#[test]
fn signing_vectors_round_trip() {
    for v in load("walletcore_signing_vectors.json") {
        let updated = b64(v["updated_tx"].as_str().unwrap()).unwrap();
        let signed = b64(v["signed_tx"].as_str().unwrap()).unwrap();
        let tx = ParsedTransaction::parse(&updated).unwrap();
        let signed_tx = ParsedTransaction::parse(&signed).unwrap();
        assert_eq!(tx.message_bytes(), signed_tx.message_bytes());
        // The message is the tail of a legacy/v0 wire transaction.
        assert!(updated.ends_with(tx.message_bytes()));
        assert_eq!(
            updated.len() - tx.message_bytes().len(),
            1 + 64 * tx.required_signers().len()
        );
        let sig = signed_tx.signature(0).unwrap();
        let wire = tx.to_wire_with_signature(0, &sig).unwrap();
        assert_eq!(wire, signed, "{}", v["url"]);

        // The signature in signed_tx is over message_bytes() by the vector's key, which is
        // the first required signer.
        let seed: [u8; 32] = hex::decode(v["private_key"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let key = SigningKey::from_bytes(&seed);
        assert_eq!(
            key.verifying_key().to_bytes(),
            tx.required_signers()[0].to_bytes()
        );
        let dalek_sig = ed25519_dalek::Signature::from_bytes(&sig);
        key.verifying_key()
            .verify(tx.message_bytes(), &dalek_sig)
            .unwrap();
        assert_eq!(key.sign(tx.message_bytes()).to_bytes(), sig);
        assert_eq!(
            bs58::encode(sig).into_string(),
            v["signature"].as_str().unwrap()
        );
    }
}
