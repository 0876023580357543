//! `custos tx describe`: offline decode, description and verdict.

use crate::output::{decode_tx, error, read_arg, EXIT_INPUT};
use crate::Format;
use custos_txdecode::{
    assess_with_intent, Context, Intent, LookupTables, ParsedTransaction, PolicyConfig, Pubkey,
};
use std::path::Path;
use std::process::ExitCode;

fn pubkey(s: &str) -> Result<Pubkey, String> {
    let mut out = [0u8; 32];
    match bs58::decode(s).onto(&mut out) {
        Ok(32) => Ok(Pubkey::new_from_array(out)),
        _ => Err(format!("'{s}' is not a base58 public key")),
    }
}

/// Runs the command.
pub fn run(
    signer: Option<&str>,
    own: &[String],
    intent: Option<&str>,
    lookup_tables: Option<&Path>,
    policy: Option<&Path>,
    format: Format,
    tx: &str,
) -> ExitCode {
    match describe(signer, own, intent, lookup_tables, policy, format, tx) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => error(EXIT_INPUT, e),
    }
}

fn describe(
    signer: Option<&str>,
    own: &[String],
    intent: Option<&str>,
    lookup_tables: Option<&Path>,
    policy: Option<&Path>,
    format: Format,
    tx: &str,
) -> Result<String, String> {
    let signer = signer
        .map(|s| pubkey(s).map_err(|e| format!("--signer: {e}")))
        .transpose()?;
    let intent = intent
        .map(|s| Intent::from_json(s).map_err(|e| format!("--intent: {e}")))
        .transpose()?;
    let own = own
        .iter()
        .map(|s| pubkey(s).map_err(|e| format!("--own: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let tables = match lookup_tables {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--lookup-tables {}: {e}", path.display()))?;
            LookupTables::from_json(&text)
                .map_err(|e| format!("--lookup-tables {}: {e}", path.display()))?
        }
        None => LookupTables::empty(),
    };
    let config: PolicyConfig = match policy {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--policy {}: {e}", path.display()))?;
            toml_policy(&text).map_err(|e| format!("--policy {}: {e}", path.display()))?
        }
        None => PolicyConfig::default(),
    };
    let bytes = decode_tx(&read_arg(tx)?, true)?;
    let parsed =
        ParsedTransaction::parse_any(&bytes).map_err(|e| format!("malformed transaction: {e}"))?;
    let signer = match signer {
        Some(s) => s,
        None => *parsed
            .fee_payer()
            .ok_or("malformed transaction: no fee payer")?,
    };
    let ctx = Context {
        signer,
        own_wallets: &own,
        lookup_tables: &tables,
        config: &config,
    };
    let assessment = assess_with_intent(&parsed, &ctx, intent.as_ref());
    Ok(match format {
        Format::Json => serde_json::to_string(&assessment).map_err(|e| e.to_string())?,
        Format::Text => {
            let verdict = serde_json::to_value(assessment.verdict)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            format!("verdict: {verdict}\n{}", assessment.to_text())
        }
    })
}

fn toml_policy(text: &str) -> Result<PolicyConfig, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}
