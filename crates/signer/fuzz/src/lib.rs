//! Shared by the fuzz targets and the seed tool: the fixed test key, a TOTP factor made
//! the way a user makes one, and an independent writer of the security record layout.
//!
//! [`spec`] follows the layout in the `custos_crypto::security` module docs, not its
//! code: the `security_record` target uses it to give mutated records a valid MAC (and
//! a valid ciphertext), so the fuzzer reaches everything behind the MAC check.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use custos_crypto::keys::{MasterKey, RecordKeys};
use custos_signer::totp::{Enrolment, TotpFactor};
use zeroize::Zeroizing;

/// The master key every target uses.
pub const MASTER_KEY: [u8; 32] = [7; 32];

/// The record keys under [`MASTER_KEY`].
pub fn record_keys() -> RecordKeys {
    RecordKeys::derive(&MasterKey::from_bytes(Zeroizing::new(MASTER_KEY)))
}

/// A TOTP factor as a user enrols one: the signer's enrolment, confirmed with the first
/// code that an authenticator app (totp-rs, from the offer's `otpauth://` URI) shows at
/// `now`.
pub fn totp_factor(label: &str, now: u64) -> TotpFactor {
    let (mut pending, offer) = Enrolment::begin(label, "Custos").expect("enrolment");
    let app = totp_rs::Totp::from_url(offer.uri()).expect("the offer's URI is an otpauth URI");
    pending
        .confirm(&app.generate(now).to_string(), now)
        .expect("the app's first code confirms the enrolment")
}

/// The security record layout, written from its documentation.
pub mod spec {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{XChaCha20Poly1305, XNonce};
    use hkdf::Hkdf;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    /// Bytes of the MAC that ends every record.
    pub const MAC_LEN: usize = 32;
    const NONCE_LEN: usize = 24;
    const TAG_LEN: usize = 16;
    /// Version 2's fixed part before the user id.
    const V2_FIXED_LEN: usize = 30;

    /// HKDF-SHA256 (salt `custos/kdf/v1`) of `master` for one purpose label.
    fn subkey(master: &[u8; 32], label: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"custos/kdf/v1"), master)
            .expand(label, &mut out)
            .expect("32 bytes");
        out
    }

    /// HMAC-SHA256 of `body` under the security MAC key of `master`.
    pub fn mac(master: &[u8; 32], body: &[u8]) -> [u8; MAC_LEN] {
        let key = subkey(master, b"custos/v1/security-mac");
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("any key length");
        m.update(body);
        m.finalize().into_bytes().into()
    }

    /// `body` followed by its MAC: a record that passes the MAC check whatever `body` is.
    pub fn remac(master: &[u8; 32], body: &[u8]) -> Vec<u8> {
        let mut out = body.to_vec();
        out.extend_from_slice(&mac(master, body));
        out
    }

    /// Reads `body` as a version 2 record without its MAC whose encrypted section holds,
    /// instead of a ciphertext, the plaintext followed by 16 placeholder bytes; encrypts
    /// that plaintext (nonce as given, the clear header as associated data) and appends
    /// the MAC. `None` when `body` is not shaped like that.
    pub fn reseal(master: &[u8; 32], body: &[u8]) -> Option<Vec<u8>> {
        if body.get(..5)? != b"CSSR\x02" {
            return None;
        }
        let len_at = V2_FIXED_LEN + usize::from(*body.get(V2_FIXED_LEN - 1)?);
        let header_end = len_at + 4;
        let section = u32::from_le_bytes(body.get(len_at..header_end)?.try_into().ok()?);
        let section = usize::try_from(section).ok()?;
        if section < NONCE_LEN + TAG_LEN || body.len() != header_end + section {
            return None;
        }
        let (header, rest) = body.split_at(header_end);
        let (nonce, plain) = rest.split_at(NONCE_LEN);
        let plain = &plain[..plain.len() - TAG_LEN];
        let key = subkey(master, b"custos/v1/security-enc");
        let ciphertext = XChaCha20Poly1305::new((&key).into())
            .encrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: plain,
                    aad: header,
                },
            )
            .ok()?;
        let mut out = header.to_vec();
        out.extend_from_slice(nonce);
        out.extend_from_slice(&ciphertext);
        Some(remac(master, &out))
    }
}
