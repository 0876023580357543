//! The Telegram bot token, sealed at rest.
//!
//! ```text
//! magic "CSBT" | version u8 = 1 | nonce [24]
//! ciphertext [len + 16]   XChaCha20-Poly1305(bot-token key, nonce, token,
//!                         aad = magic | version | "custos/v1/bot-token")
//! ```
//!
//! The key (`custos/v1/bot-token`) serves no other purpose, and the associated data
//! names the purpose, so no other sealed blob opens as a bot token.

use crate::keys::BotTokenKey;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

const MAGIC: &[u8; 4] = b"CSBT";
/// Current sealed bot token format version.
pub const BOT_TOKEN_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 4 + 1;
const PURPOSE: &[u8] = b"custos/v1/bot-token";
/// Longest token accepted for sealing (Telegram's are about 46 bytes).
pub const MAX_TOKEN_LEN: usize = 256;
/// Longest sealed blob [`open`] accepts.
pub const MAX_SEALED_LEN: usize = HEADER_LEN + NONCE_LEN + MAX_TOKEN_LEN + TAG_LEN;

/// Why a token could not be sealed or opened. Never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BotTokenBoxError {
    /// Not a sealed bot token of a known format, or of an impossible length.
    #[error("sealed bot token is malformed: {0}")]
    Malformed(&'static str),
    /// A version this build does not know.
    #[error("sealed bot token version {0} is not supported")]
    UnsupportedVersion(u8),
    /// The AEAD tag did not verify: altered, or sealed under another master key.
    #[error("sealed bot token failed authentication (tampered, or sealed under another key)")]
    Authentication,
    /// The token is empty or longer than [`MAX_TOKEN_LEN`].
    #[error("bot token length is out of range")]
    Length,
    /// The OS random number generator failed.
    #[error("random number generator failed")]
    Random,
}

fn aad() -> Vec<u8> {
    let mut a = Vec::with_capacity(HEADER_LEN + PURPOSE.len());
    a.extend_from_slice(MAGIC);
    a.push(BOT_TOKEN_VERSION);
    a.extend_from_slice(PURPOSE);
    a
}

/// Seals a token under a fresh random nonce.
pub fn seal(key: &BotTokenKey, token: &[u8]) -> Result<Vec<u8>, BotTokenBoxError> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(BotTokenBoxError::Length);
    }
    let mut nonce = [0u8; NONCE_LEN];
    crate::os_random(&mut nonce).map_err(|_| BotTokenBoxError::Random)?;
    let cipher = XChaCha20Poly1305::new(key.0.bytes().into());
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: token,
                aad: &aad(),
            },
        )
        .map_err(|_| BotTokenBoxError::Authentication)?;
    let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + ciphertext.len());
    out.extend_from_slice(MAGIC);
    out.push(BOT_TOKEN_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Opens a sealed token; the plaintext is wiped on drop.
pub fn open(key: &BotTokenKey, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, BotTokenBoxError> {
    if sealed.len() < HEADER_LEN + NONCE_LEN + TAG_LEN + 1 {
        return Err(BotTokenBoxError::Malformed("too short"));
    }
    if sealed.len() > MAX_SEALED_LEN {
        return Err(BotTokenBoxError::Malformed("too long"));
    }
    if &sealed[..4] != MAGIC {
        return Err(BotTokenBoxError::Malformed("bad magic"));
    }
    if sealed[4] != BOT_TOKEN_VERSION {
        return Err(BotTokenBoxError::UnsupportedVersion(sealed[4]));
    }
    let (nonce, ciphertext) = sealed[HEADER_LEN..].split_at(NONCE_LEN);
    let cipher = XChaCha20Poly1305::new(key.0.bytes().into());
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: &aad(),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| BotTokenBoxError::Authentication)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::MasterKey;

    fn key(b: u8) -> BotTokenKey {
        BotTokenKey::derive(&MasterKey::from_bytes(Zeroizing::new([b; 32])))
    }

    const TOKEN: &[u8] = b"123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789_-";

    #[test]
    fn round_trips_and_every_flipped_byte_fails() {
        let k = key(1);
        let sealed = seal(&k, TOKEN).unwrap();
        assert_eq!(&open(&k, &sealed).unwrap()[..], TOKEN);
        assert!(!sealed.windows(6).any(|w| w == b"123456"));
        for i in 0..sealed.len() {
            let mut b = sealed.clone();
            b[i] ^= 1;
            assert!(open(&k, &b).is_err(), "byte {i}");
        }
        assert_ne!(seal(&k, TOKEN).unwrap(), sealed, "fresh nonce each time");
    }

    #[test]
    fn other_keys_and_shapes_are_refused() {
        let sealed = seal(&key(1), TOKEN).unwrap();
        assert_eq!(
            open(&key(2), &sealed),
            Err(BotTokenBoxError::Authentication)
        );
        assert!(matches!(
            open(&key(1), &sealed[..20]),
            Err(BotTokenBoxError::Malformed(_))
        ));
        let mut v = sealed.clone();
        v[4] = 9;
        assert_eq!(
            open(&key(1), &v),
            Err(BotTokenBoxError::UnsupportedVersion(9))
        );
        assert_eq!(seal(&key(1), b""), Err(BotTokenBoxError::Length));
        assert_eq!(
            seal(&key(1), &[b'a'; MAX_TOKEN_LEN + 1]),
            Err(BotTokenBoxError::Length)
        );
    }
}
