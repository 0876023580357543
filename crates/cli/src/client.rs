//! Client commands: talk to the running server over gRPC with mutual TLS.

use crate::output::{decode_tx, error, print_json, read_arg, EXIT_INPUT};
use crate::{Format, WalletCommand};
use base64::Engine;
use custos_api::v1::{
    intent, CreateWalletRequest, GetWalletRequest, HealthRequest, Intent, ListWalletsRequest,
    LookupTable, SignStatus, SignTransactionRequest, SwapIntent, TransferIntent, Wallet,
};
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

/// Exit status for a failed call (server unreachable, not found, refused).
pub const EXIT_FAILED: u8 = 1;

use custos_api::client::connect;

/// A current-thread runtime for one client command.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime can always be built")
}

/// A one-line description of a failed call.
pub fn status_error(s: tonic::Status) -> String {
    let kind = match s.code() {
        tonic::Code::DataLoss => "integrity error",
        tonic::Code::NotFound => "not found",
        tonic::Code::InvalidArgument => "invalid request",
        tonic::Code::FailedPrecondition => "conflict",
        tonic::Code::Unavailable => "unavailable",
        _ => "server error",
    };
    format!("{kind}: {}", s.message())
}

fn wallet_json(w: &Wallet) -> serde_json::Value {
    json!({
        "wallet": w.pubkey,
        "user_id": w.user_id,
        "telegram_id": w.telegram_id,
        "wallet_id": w.wallet_id,
        "flags": w.flags,
        "created_at": w.created_at,
    })
}

fn random_key() -> String {
    let mut b = [0u8; 16];
    custos_crypto::os_random(&mut b).expect("OS random number generator");
    format!("cli-{}", hex::encode(b))
}

/// `custos wallet ...`
pub fn wallet(data_dir: &Path, command: WalletCommand) -> ExitCode {
    runtime().block_on(async move {
        let mut client = match connect(data_dir).await {
            Ok(c) => c,
            Err(e) => return error(EXIT_FAILED, e),
        };
        match command {
            WalletCommand::Create {
                user,
                telegram_id,
                idempotency_key,
                format,
            } => {
                let req = CreateWalletRequest {
                    user_id: user,
                    telegram_id,
                    idempotency_key: idempotency_key.unwrap_or_else(random_key),
                };
                match client.create_wallet(req).await {
                    Ok(w) => {
                        let w = w.into_inner();
                        match format {
                            Format::Json => print_json(&wallet_json(&w)),
                            Format::Text => println!("{}", w.pubkey),
                        }
                        ExitCode::SUCCESS
                    }
                    Err(s) => error(EXIT_FAILED, status_error(s)),
                }
            }
            WalletCommand::Get { pubkey, format } => {
                match client.get_wallet(GetWalletRequest { pubkey }).await {
                    Ok(w) => {
                        let w = w.into_inner();
                        match format {
                            Format::Json => print_json(&wallet_json(&w)),
                            Format::Text => println!(
                                "{} user={} created_at={}",
                                w.pubkey, w.user_id, w.created_at
                            ),
                        }
                        ExitCode::SUCCESS
                    }
                    Err(s) => error(EXIT_FAILED, status_error(s)),
                }
            }
            WalletCommand::List { user, format } => {
                match client
                    .list_wallets(ListWalletsRequest {
                        user_id: user.clone(),
                    })
                    .await
                {
                    Ok(r) => {
                        let wallets = r.into_inner().wallets;
                        match format {
                            Format::Json => print_json(&json!({
                                "user_id": user,
                                "wallets": wallets.iter().map(wallet_json).collect::<Vec<_>>(),
                            })),
                            Format::Text => {
                                for w in &wallets {
                                    println!("{}", w.pubkey);
                                }
                            }
                        }
                        ExitCode::SUCCESS
                    }
                    Err(s) => error(EXIT_FAILED, status_error(s)),
                }
            }
        }
    })
}

/// What `custos sign` sends besides the transaction.
pub struct SignArgs<'a> {
    /// Base58 wallet.
    pub wallet: &'a str,
    /// Idempotency key (may be empty).
    pub idempotency_key: &'a str,
    /// `--intent` JSON.
    pub intent: Option<&'a str>,
    /// `--offered-lookup-tables` file.
    pub offered_lookup_tables: Option<&'a Path>,
}

/// `--intent` as JSON (the form `custos_txdecode::Intent::from_json` reads, so
/// `sign` and `tx describe` take the same text), as the API's message.
fn parse_intent(text: &str) -> Result<Intent, String> {
    let parsed = custos_txdecode::Intent::from_json(text).map_err(|e| {
        format!(
            "--{e} (expected {{\"swap\":{{\"input_mint\":..,\"output_mint\":..,\"max_amount_in\":N,\"min_amount_out\":N}}}} \
             or {{\"transfer\":{{\"destination\":..,\"amount\":N[,\"mint\":..]}}}})"
        )
    })?;
    Ok(Intent {
        kind: Some(match parsed {
            custos_txdecode::Intent::Swap {
                input_mint,
                output_mint,
                max_amount_in,
                min_amount_out,
            } => intent::Kind::Swap(SwapIntent {
                input_mint: input_mint.to_string(),
                output_mint: output_mint.to_string(),
                max_amount_in,
                min_amount_out,
            }),
            custos_txdecode::Intent::Transfer {
                destination,
                mint,
                amount,
            } => intent::Kind::Transfer(TransferIntent {
                destination: destination.to_string(),
                mint: mint.map(|m| m.to_string()),
                amount,
            }),
        }),
    })
}

/// `--offered-lookup-tables`: `{"<table>": ["<address>", ...]}`.
fn read_offered_tables(path: &Path) -> Result<Vec<LookupTable>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--offered-lookup-tables {}: {e}", path.display()))?;
    let tables: std::collections::BTreeMap<String, Vec<String>> = serde_json::from_str(&text)
        .map_err(|e| {
            format!(
                "--offered-lookup-tables {}: {e} (expected {{\"<table>\": [\"<address>\", ...]}})",
                path.display()
            )
        })?;
    Ok(tables
        .into_iter()
        .map(|(address, addresses)| LookupTable { address, addresses })
        .collect())
}

/// `custos sign`
pub fn sign(data_dir: &Path, args: SignArgs<'_>, format: Format, tx: &str) -> ExitCode {
    let bytes = match read_arg(tx).and_then(|t| decode_tx(&t, false)) {
        Ok(b) => b,
        Err(e) => return error(EXIT_INPUT, e),
    };
    let intent = match args.intent.map(parse_intent).transpose() {
        Ok(i) => i,
        Err(e) => return error(EXIT_INPUT, e),
    };
    let offered_lookup_tables = match args.offered_lookup_tables.map(read_offered_tables) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return error(EXIT_INPUT, e),
        None => Vec::new(),
    };
    runtime().block_on(async move {
        let mut client = match connect(data_dir).await {
            Ok(c) => c,
            Err(e) => return error(EXIT_FAILED, e),
        };
        let req = SignTransactionRequest {
            wallet: args.wallet.to_owned(),
            transaction: bytes,
            idempotency_key: args.idempotency_key.to_owned(),
            request_id: 0,
            offered_lookup_tables,
            intent,
        };
        let resp = match client.sign_transaction(req).await {
            Ok(r) => r.into_inner(),
            Err(s) => {
                let kind = match s.code() {
                    tonic::Code::DataLoss => "integrity",
                    tonic::Code::NotFound => "not_found",
                    tonic::Code::InvalidArgument => "invalid",
                    _ => "error",
                };
                if format == Format::Json {
                    print_json(&json!({"status": "error", "error": kind, "reason": s.message()}));
                }
                return error(EXIT_FAILED, status_error(s));
            }
        };
        let status = SignStatus::try_from(resp.status).unwrap_or(SignStatus::Unspecified);
        let value = match status {
            SignStatus::Signed => json!({
                "status": "signed",
                "transaction": base64::engine::general_purpose::STANDARD.encode(&resp.transaction),
                "signature": bs58::encode(&resp.signature).into_string(),
                "summary": resp.summary,
            }),
            SignStatus::Pending => json!({
                "status": "pending",
                "confirmation_id": resp.confirmation_id,
                "expires_at": resp.expires_at,
                "summary": resp.summary,
                "reasons": resp.reasons,
            }),
            SignStatus::Rejected => json!({
                "status": "rejected",
                "summary": resp.summary,
                "reason": resp.reasons.join("; "),
                "reasons": resp.reasons,
            }),
            _ => json!({"status": "error", "reason": resp.reasons.join("; "), "error": resp.error_kind}),
        };
        match format {
            Format::Json => print_json(&value),
            Format::Text => match status {
                SignStatus::Signed => println!(
                    "signed: {}\n{}\n{}",
                    bs58::encode(&resp.signature).into_string(),
                    resp.summary,
                    base64::engine::general_purpose::STANDARD.encode(&resp.transaction)
                ),
                SignStatus::Pending => println!(
                    "pending: sent to the user for confirmation in Telegram (custos await {})\n{}\n{}",
                    resp.confirmation_id,
                    resp.summary,
                    resp.reasons.join("\n")
                ),
                _ => println!("rejected: {}\n{}", resp.summary, resp.reasons.join("\n")),
            },
        }
        ExitCode::SUCCESS
    })
}

/// `custos health`
pub fn health(data_dir: &Path, format: Format) -> ExitCode {
    runtime().block_on(async move {
        let mut client = match connect(data_dir).await {
            Ok(c) => c,
            Err(e) => return error(EXIT_FAILED, e),
        };
        match client.health(HealthRequest {}).await {
            Ok(r) => {
                let h = r.into_inner();
                match format {
                    Format::Json => print_json(&json!({
                        "ok": h.ok,
                        "seal": h.seal,
                        "seal_secure": h.seal_secure,
                        "components": h.components.iter().map(|c| json!({
                            "component": c.component, "ok": c.ok, "detail": c.detail
                        })).collect::<Vec<_>>(),
                    })),
                    Format::Text => {
                        println!(
                            "{} (seal: {}{})",
                            if h.ok { "healthy" } else { "UNHEALTHY" },
                            h.seal,
                            if h.seal_secure { "" } else { ", INSECURE" }
                        );
                        for c in &h.components {
                            println!(
                                "  {}: {} - {}",
                                c.component,
                                if c.ok { "ok" } else { "FAIL" },
                                c.detail
                            );
                        }
                    }
                }
                if h.ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(EXIT_FAILED)
                }
            }
            Err(s) => error(EXIT_FAILED, status_error(s)),
        }
    })
}
