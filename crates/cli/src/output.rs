//! Shared helpers: reading transaction arguments and printing results.

use std::io::Read;
use std::process::ExitCode;

/// Exit status for malformed input (matches clap's usage errors).
pub const EXIT_INPUT: u8 = 2;

/// Reads the TX argument (`-` means stdin), trimmed.
pub fn read_arg(arg: &str) -> Result<String, String> {
    if arg == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("reading stdin: {e}"))?;
        Ok(s.trim().to_owned())
    } else {
        Ok(arg.trim().to_owned())
    }
}

/// Decodes a transaction given as base64 or base58 (or hex). The same text
/// can be valid in several alphabets, so the decoding that yields a parseable
/// transaction (or, with `allow_message`, a bare message) wins; when none
/// parses, the first decoding is returned so the decoder can say what is wrong.
pub fn decode_tx(text: &str, allow_message: bool) -> Result<Vec<u8>, String> {
    if text.is_empty() {
        return Err("empty transaction".into());
    }
    custos_txdecode::text::decode_with(text, |b| {
        if allow_message {
            custos_txdecode::ParsedTransaction::parse_any(b).is_ok()
        } else {
            custos_txdecode::ParsedTransaction::parse(b).is_ok()
        }
    })
    .ok_or_else(|| "transaction is neither valid base64 nor valid base58".to_owned())
}

/// Prints a one-line error and returns the given exit status.
pub fn error(code: u8, message: impl std::fmt::Display) -> ExitCode {
    let line = message.to_string().replace('\n', " ");
    eprintln!("custos: error: {line}");
    ExitCode::from(code)
}

/// Prints a JSON value on one line.
pub fn print_json(value: &serde_json::Value) {
    println!("{value}");
}
