//! Transactions written as text: base64, base58 or hex.
//!
//! The same text can be valid in more than one alphabet (base58's is a subset
//! of base64's, and hex digits are in both), so decoding offers every
//! candidate in a fixed order and lets the caller keep the first one that
//! parses as what it expects.

use crate::ParsedTransaction;
use base64::Engine;

/// Every decoding of `text` that succeeds, in the order hex (only when the
/// text is an even number of hex digits), base64, base58.
pub fn candidates(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if !text.is_empty()
        && text.len().is_multiple_of(2)
        && text.bytes().all(|b| b.is_ascii_hexdigit())
    {
        out.extend(hex::decode(text).ok());
    }
    out.extend(base64::engine::general_purpose::STANDARD.decode(text).ok());
    out.extend(bs58::decode(text).into_vec().ok());
    out
}

/// The first candidate that `accept` takes; failing that the first candidate
/// at all (so the caller's parser can say precisely what is wrong with it).
pub fn decode_with(text: &str, accept: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
    let mut all = candidates(text);
    match all.iter().position(|c| accept(c)) {
        Some(i) => Some(all.swap_remove(i)),
        None => all.into_iter().next(),
    }
}

/// Decodes text whose encoding is named: `base64` (or `b64`), `base58`,
/// `hex`, or `auto` (the first candidate that parses as a transaction or
/// message). `None` when it does not decode, or the name is unknown.
pub fn decode_named(encoding: &str, text: &str) -> Option<Vec<u8>> {
    match encoding {
        "base64" | "b64" => base64::engine::general_purpose::STANDARD.decode(text).ok(),
        "base58" => bs58::decode(text).into_vec().ok(),
        "hex" => hex::decode(text).ok(),
        "auto" => decode_with(text, |b| ParsedTransaction::parse_any(b).is_ok()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_follow_the_documented_order() {
        // "abcd" is hex, base64 and base58 at once.
        let c = candidates("abcd");
        assert_eq!(c.len(), 3);
        assert_eq!(c.first(), Some(&vec![0xab, 0xcd]));
        assert!(candidates("").iter().all(|c| c.is_empty()));
        assert!(candidates("!!!").is_empty());
    }

    #[test]
    fn decode_with_prefers_an_accepted_candidate() {
        let got = decode_with("abcd", |b| b.len() != 2);
        assert!(got.is_some_and(|g| g != vec![0xab, 0xcd]));
        assert_eq!(decode_with("abcd", |_| false), Some(vec![0xab, 0xcd]));
        assert_eq!(decode_named("nope", "abcd"), None);
    }
}
