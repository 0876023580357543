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
///
/// Standard input is read through a duplicate of descriptor 0, not `std::io::stdin()`:
/// that handle copies what it reads into a process-wide buffer that is never wiped. The
/// token lands in one zeroized buffer and is validated in place (trimmed and checked as
/// UTF-8 by borrowing), so no `String` copy of it is made.
pub fn telegram_setup(data_dir: &Path, token_file: &str) -> ExitCode {
    let read = if token_file == "-" {
        stdin_unbuffered().and_then(|mut f| read_secret(&mut f))
    } else {
        std::fs::File::open(token_file).and_then(|mut f| read_secret(&mut f))
    };
    let raw = match read {
        Ok(raw) => raw,
        Err(e) => {
            return error(
                EXIT_INPUT,
                format!("reading the bot token from {token_file}: {e}"),
            )
        }
    };
    let Ok(token) = std::str::from_utf8(raw.trim_ascii()) else {
        return error(
            EXIT_INPUT,
            custos_signer::bot_token::BotTokenError::InvalidFormat,
        );
    };
    if let Err(e) = std::fs::create_dir_all(data_dir) {
        return error(
            EXIT_FAILED,
            format!("data directory {}: {e}", data_dir.display()),
        );
    }
    let seal = custos_crypto::seal::DevSeal::in_data_dir(data_dir);
    match custos_signer::bot_token::install(&seal, data_dir, token) {
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

/// Most bytes a secret read by [`read_secret`] may have (a bot token is under 230).
const MAX_SECRET_INPUT: usize = 4096;

/// A secret file (a key), read like [`read_secret`]: `std::fs::read_to_string` would grow
/// a `String` and free its earlier allocations unwiped.
pub(crate) fn read_secret_file(path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    read_secret(&mut std::fs::File::open(path)?)
}

/// Standard input as an unbuffered file: a duplicate of descriptor 0, closed on drop
/// (descriptor 0 itself stays open).
fn stdin_unbuffered() -> std::io::Result<std::fs::File> {
    use std::os::fd::AsFd;
    Ok(std::fs::File::from(
        std::io::stdin().as_fd().try_clone_to_owned()?,
    ))
}

/// Reads everything from `r` (at most [`MAX_SECRET_INPUT`] bytes) into one zeroized buffer
/// allocated up front: reads go straight into it, never through a growing vector (whose
/// old allocations would be freed unwiped) or a stack probe buffer.
fn read_secret(r: &mut impl Read) -> std::io::Result<Zeroizing<Vec<u8>>> {
    // One spare byte tells "exactly the limit" from "more than the limit".
    let mut buf = Zeroizing::new(vec![0u8; MAX_SECRET_INPUT + 1]);
    let mut len = 0;
    loop {
        if len == buf.len() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("longer than {MAX_SECRET_INPUT} bytes"),
            ));
        }
        match r.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    // Truncating keeps the allocation, so the bytes cut off are wiped with it on drop.
    buf.truncate(len);
    Ok(buf)
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_secret_is_read_whole_into_its_first_allocation() {
        let (mut rx, mut tx) = std::io::pipe().unwrap();
        let writer = std::thread::spawn(move || {
            // Several short writes: the reader sees several short reads.
            for part in [
                &b"123456:"[..],
                b"AAAA",
                b"-_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n",
            ] {
                tx.write_all(part).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
        let got = read_secret(&mut rx).unwrap();
        writer.join().unwrap();
        assert_eq!(
            got.as_slice(),
            b"123456:AAAA-_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"
        );
        // Never reallocated: the one buffer that is wiped on drop held every byte.
        assert_eq!(got.capacity(), MAX_SECRET_INPUT + 1);
        assert_eq!(got.trim_ascii().len(), got.len() - 1);
    }

    #[test]
    fn an_over_long_secret_is_refused() {
        let mut input = std::io::repeat(b'a');
        let err = read_secret(&mut input).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        let exact = vec![b'a'; MAX_SECRET_INPUT];
        assert_eq!(
            read_secret(&mut exact.as_slice()).unwrap().len(),
            exact.len()
        );
    }

    #[test]
    fn stdin_is_duplicated_not_borrowed() {
        use std::os::fd::AsRawFd;
        let f = stdin_unbuffered().unwrap();
        assert_ne!(f.as_raw_fd(), 0);
        drop(f);
        // Descriptor 0 is still open after the duplicate is closed.
        assert!(stdin_unbuffered().is_ok());
    }
}
