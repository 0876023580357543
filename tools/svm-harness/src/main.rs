//! svm-harness: a litesvm Solana runtime for Custos's end-to-end tests.
//!
//! Reads one JSON request per line on stdin and answers one JSON line on
//! stdout, so tests in the main workspace can check that what Custos signs
//! is accepted by a real runtime (signature verification, fee payment,
//! System program execution) without sharing Rust types across lockfiles.
//!
//! Requests:
//!   {"op":"blockhash"}                          -> {"ok":true,"blockhash":"<b58>"}
//!   {"op":"airdrop","to":"<b58>","lamports":N}  -> {"ok":true}
//!   {"op":"balance","of":"<b58>"}               -> {"ok":true,"lamports":N}
//!   {"op":"send","tx":"<base64 wire tx>"}       -> {"ok":true,"logs":[..]} | {"ok":false,"error":".."}
#![forbid(unsafe_code)]

use base64::Engine;
use litesvm::LiteSVM;
use serde_json::{json, Value};
use solana_address::Address;
use solana_transaction::versioned::VersionedTransaction;
use std::io::{BufRead, Write};
use std::str::FromStr;

fn address(v: &Value, field: &str) -> Result<Address, String> {
    let s = v[field].as_str().ok_or(format!("missing {field}"))?;
    Address::from_str(s).map_err(|e| format!("{field}: {e}"))
}

fn handle(svm: &mut LiteSVM, req: &Value) -> Result<Value, String> {
    match req["op"].as_str().unwrap_or("") {
        "blockhash" => Ok(json!({"ok": true, "blockhash": svm.latest_blockhash().to_string()})),
        "airdrop" => {
            let to = address(req, "to")?;
            let lamports = req["lamports"].as_u64().ok_or("missing lamports")?;
            svm.airdrop(&to, lamports).map_err(|e| format!("{:?}", e.err))?;
            Ok(json!({"ok": true}))
        }
        "balance" => {
            let of = address(req, "of")?;
            Ok(json!({"ok": true, "lamports": svm.get_balance(&of).unwrap_or(0)}))
        }
        "send" => {
            let b64 = req["tx"].as_str().ok_or("missing tx")?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("tx base64: {e}"))?;
            let tx: VersionedTransaction =
                bincode::deserialize(&bytes).map_err(|e| format!("tx decode: {e}"))?;
            match svm.send_transaction(tx) {
                Ok(meta) => Ok(json!({"ok": true, "logs": meta.logs})),
                Err(failed) => Ok(json!({
                    "ok": false,
                    "error": format!("{:?}", failed.err),
                    "logs": failed.meta.logs,
                })),
            }
        }
        other => Err(format!("unknown op '{other}'")),
    }
}

fn main() {
    let mut svm = LiteSVM::new();
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<Value>(&line) {
            Ok(req) => handle(&mut svm, &req).unwrap_or_else(|e| json!({"ok": false, "error": e})),
            Err(e) => json!({"ok": false, "error": format!("bad request: {e}")}),
        };
        if writeln!(out, "{answer}").and_then(|_| out.flush()).is_err() {
            break;
        }
    }
}
