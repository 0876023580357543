//! Client commands of the confirmation flow: linking a user's Telegram account,
//! awaiting a user's decision, and setting up the signer bot's token.

use crate::client::{runtime, status_error, EXIT_FAILED};
use crate::output::{error, print_json, EXIT_INPUT};
use crate::Format;
use base64::Engine;
use custos_api::client::connect;
use custos_api::v1::{
    AwaitDecisionRequest, AwaitDecisionResponse, CreateLinkRequest, DecisionStatus, GetLinkRequest,
};
use serde_json::json;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use zeroize::Zeroizing;

/// Exit status of `custos await` when the user refused (or the request expired or
/// failed): nothing was signed.
pub const EXIT_REFUSED: u8 = 4;
/// Exit status of `custos await` when the decision is still open at the timeout.
pub const EXIT_STILL_PENDING: u8 = 5;

/// Longest `custos await --timeout` (the server's limit too).
pub const MAX_AWAIT_SECS: u64 = 600;

/// The JSON form of a decision (also used by `custos demo`).
pub fn decision_json(d: &AwaitDecisionResponse) -> serde_json::Value {
    let status = DecisionStatus::try_from(d.status).unwrap_or(DecisionStatus::Unspecified);
    let mut v = json!({
        "confirmation_id": d.confirmation_id,
        "status": status_name(status),
        "wallet": d.wallet,
        "expires_at": d.expires_at,
    });
    if d.decided_at != 0 {
        v["decided_at"] = json!(d.decided_at);
    }
    if status == DecisionStatus::Approved {
        v["transaction"] = json!(base64::engine::general_purpose::STANDARD.encode(&d.transaction));
        v["signature"] = json!(bs58::encode(&d.signature).into_string());
    }
    if !d.reason.is_empty() {
        v["reason"] = json!(d.reason);
    }
    v
}

/// Lower-case name of a decision status.
pub fn status_name(s: DecisionStatus) -> &'static str {
    match s {
        DecisionStatus::Pending => "pending",
        DecisionStatus::Approved => "approved",
        DecisionStatus::Rejected => "rejected",
        DecisionStatus::Expired => "expired",
        DecisionStatus::Failed => "failed",
        DecisionStatus::Exported => "exported",
        DecisionStatus::Unspecified => "unknown",
    }
}

/// `custos await ID`: waits for the user's decision on a pending signature.
pub fn await_decision(data_dir: &Path, id: &str, timeout_secs: u64, format: Format) -> ExitCode {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return error(
            EXIT_INPUT,
            format!(
                "confirmation id must be 32 hex characters, got {:?}",
                clip(id)
            ),
        );
    }
    if timeout_secs > MAX_AWAIT_SECS {
        return error(
            EXIT_INPUT,
            format!("--timeout {timeout_secs} is above the limit of {MAX_AWAIT_SECS} seconds"),
        );
    }
    runtime().block_on(async move {
        let mut client = match connect(data_dir).await {
            Ok(c) => c,
            Err(e) => return error(EXIT_FAILED, e),
        };
        let req = AwaitDecisionRequest {
            confirmation_id: id.to_ascii_lowercase(),
            timeout_ms: timeout_secs * 1000,
        };
        let d = match client.await_decision(req).await {
            Ok(r) => r.into_inner(),
            Err(s) => return error(EXIT_FAILED, status_error(s)),
        };
        let status = DecisionStatus::try_from(d.status).unwrap_or(DecisionStatus::Unspecified);
        match format {
            Format::Json => print_json(&decision_json(&d)),
            Format::Text => match status {
                DecisionStatus::Approved => println!(
                    "approved: {}\n{}",
                    bs58::encode(&d.signature).into_string(),
                    base64::engine::general_purpose::STANDARD.encode(&d.transaction)
                ),
                DecisionStatus::Pending => println!("still pending (expires at {})", d.expires_at),
                DecisionStatus::Exported => println!(
                    "exported: the key went, encrypted, to the owner's browser; wallet {} is \
                     now flagged exported",
                    d.wallet
                ),
                other => println!(
                    "{}: nothing was signed{}",
                    status_name(other),
                    if d.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", d.reason)
                    }
                ),
            },
        }
        match status {
            DecisionStatus::Approved | DecisionStatus::Exported => ExitCode::SUCCESS,
            DecisionStatus::Pending => ExitCode::from(EXIT_STILL_PENDING),
            _ => ExitCode::from(EXIT_REFUSED),
        }
    })
}

/// `custos export --wallet W`: asks the owner in Telegram to export the wallet's key to
/// their browser. Prints the confirmation id to follow with `custos await`.
pub fn export_wallet(data_dir: &Path, wallet: &str, format: Format) -> ExitCode {
    runtime().block_on(async move {
        let mut client = match connect(data_dir).await {
            Ok(c) => c,
            Err(e) => return error(EXIT_FAILED, e),
        };
        let req = custos_api::v1::ExportWalletRequest {
            wallet: wallet.to_owned(),
        };
        let r = match client.export_wallet(req).await {
            Ok(r) => r.into_inner(),
            Err(s) => return error(EXIT_FAILED, status_error(s)),
        };
        match format {
            Format::Json => print_json(&json!({
                "confirmation_id": r.confirmation_id,
                "expires_at": r.expires_at,
            })),
            Format::Text => println!(
                "asked the owner in Telegram; follow it with: custos await {}",
                r.confirmation_id
            ),
        }
        ExitCode::SUCCESS
    })
}

/// `custos link create --user U`: a one-time deep link for the user to open.
pub fn link_create(data_dir: &Path, user: &str, format: Format) -> ExitCode {
    runtime().block_on(async move {
        let mut client = match connect(data_dir).await {
            Ok(c) => c,
            Err(e) => return error(EXIT_FAILED, e),
        };
        let req = CreateLinkRequest {
            user_id: user.to_owned(),
        };
        match client.create_link(req).await {
            Ok(r) => {
                let r = r.into_inner();
                match format {
                    Format::Json => print_json(&json!({
                        "user_id": user, "url": r.url, "expires_at": r.expires_at,
                    })),
                    Format::Text => println!("{}", r.url),
                }
                ExitCode::SUCCESS
            }
            Err(s) => error(EXIT_FAILED, status_error(s)),
        }
    })
}

/// `custos link show --user U`: the user's linked Telegram account, if any.
pub fn link_show(data_dir: &Path, user: &str, format: Format) -> ExitCode {
    runtime().block_on(async move {
        let mut client = match connect(data_dir).await {
            Ok(c) => c,
            Err(e) => return error(EXIT_FAILED, e),
        };
        let req = GetLinkRequest {
            user_id: user.to_owned(),
        };
        match client.get_link(req).await {
            Ok(r) => {
                let r = r.into_inner();
                match format {
                    Format::Json => print_json(&json!({
                        "user_id": user, "linked": r.linked, "telegram_id": r.telegram_id,
                    })),
                    Format::Text => match (r.linked, r.telegram_id) {
                        (true, Some(t)) => println!("linked to Telegram user {t}"),
                        _ => println!("not linked"),
                    },
                }
                ExitCode::SUCCESS
            }
            Err(s) => error(EXIT_FAILED, status_error(s)),
        }
    })
}

/// `custos telegram setup --token-file F`: seals the signer bot's token into the
/// data directory. The token is read from a file or stdin, never from the command
/// line (which `ps` shows), and never printed.
pub fn telegram_setup(data_dir: &Path, token_file: &str) -> ExitCode {
    let mut raw = Zeroizing::new(String::new());
    let read = if token_file == "-" {
        std::io::stdin().read_to_string(&mut raw).map(|_| ())
    } else {
        std::fs::File::open(token_file).and_then(|mut f| f.read_to_string(&mut raw).map(|_| ()))
    };
    if let Err(e) = read {
        return error(
            EXIT_INPUT,
            format!("reading the bot token from {token_file}: {e}"),
        );
    }
    let token = Zeroizing::new(raw.trim().to_owned());
    if let Err(e) = std::fs::create_dir_all(data_dir) {
        return error(
            EXIT_FAILED,
            format!("data directory {}: {e}", data_dir.display()),
        );
    }
    let seal = custos_crypto::seal::DevSeal::in_data_dir(data_dir);
    match custos_signer::bot_token::install(&seal, data_dir, &token) {
        Ok(()) => {
            println!(
                "custos: the signer bot's token is sealed in {}; restart `custos serve` to use it",
                data_dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => error(EXIT_INPUT, e),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}
