//! Security records: which Telegram account speaks for a user.
//!
//! ```text
//! magic "CSSR" | version u8 = 1 | revision u32 LE | telegram_id u64 LE
//! | linked_at_unix u64 LE | user_id_len u8 | user_id
//! mac [32]   HMAC-SHA256(security-mac key, everything before it)
//! ```
//!
//! Only the signer can produce one (after the user proved control of the Telegram
//! account with a one-time `/start` link); the bridge stores it and hands it back, but
//! cannot choose or change the binding. The MAC key (`custos/v1/security-mac`) is not
//! the wallet records' (`custos/v1/record-mac`) and the magic differs, so neither kind
//! of record is ever accepted as the other.

use crate::keys::RecordKeys;
use crate::record::{validate_user_id, MAX_USER_ID_LEN};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 4] = b"CSSR";
/// Current security record format version.
pub const SECURITY_RECORD_VERSION: u8 = 1;
/// Fixed part before the user id: magic, version, revision, telegram id, linked at,
/// user id length.
const FIXED_LEN: usize = 4 + 1 + 4 + 8 + 8 + 1;
const MAC_LEN: usize = 32;
/// Longest security record, in bytes.
pub const MAX_SECURITY_RECORD_LEN: usize = FIXED_LEN + MAX_USER_ID_LEN + MAC_LEN;

/// A user's link to their Telegram account, as bound by the signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityRecord {
    /// The backend's user id (same rules as wallet records).
    pub user_id: String,
    /// The Telegram user id that confirms this user's transactions (1 ..= `i64::MAX`,
    /// so it is also the user's private chat id).
    pub telegram_id: u64,
    /// Incremented each time the binding is re-sealed.
    pub revision: u32,
    /// When the account was linked (seconds since the Unix epoch).
    pub linked_at_unix: u64,
}

/// Why a security record could not be sealed or authenticated. Messages carry no
/// secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityRecordError {
    /// Shorter than the fixed part, or than its user id says.
    #[error("security record is truncated ({0} bytes)")]
    Truncated(usize),
    /// Not a security record (for instance a wallet record).
    #[error("not a security record (bad magic)")]
    BadMagic,
    /// A version this build does not know.
    #[error("security record version {0} is not supported")]
    UnsupportedVersion(u8),
    /// The length does not match the encoded user id length.
    #[error("security record has the wrong length ({actual} bytes, expected {expected})")]
    WrongLength {
        /// Bytes given.
        actual: usize,
        /// Bytes the header implies.
        expected: usize,
    },
    /// The MAC did not verify: altered, or sealed under another master key.
    #[error("security record failed authentication (tampered, or sealed under another key)")]
    Authentication,
    /// The user id is empty, too long or has characters outside `[A-Za-z0-9._:@-]`.
    #[error("invalid user id: must be 1-{MAX_USER_ID_LEN} characters of [A-Za-z0-9._:@-]")]
    InvalidUserId,
    /// A Telegram user id must be between 1 and 2^63 - 1.
    #[error("invalid Telegram user id {0}")]
    InvalidTelegramId(u64),
}

fn valid_telegram_id(id: u64) -> bool {
    id >= 1 && i64::try_from(id).is_ok()
}

fn mac_of(keys: &RecordKeys, body: &[u8]) -> [u8; MAC_LEN] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(keys.security_mac.bytes())
        .expect("HMAC accepts any key length");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Seals a security record.
pub fn seal(keys: &RecordKeys, record: &SecurityRecord) -> Result<Vec<u8>, SecurityRecordError> {
    validate_user_id(&record.user_id).map_err(|_| SecurityRecordError::InvalidUserId)?;
    if !valid_telegram_id(record.telegram_id) {
        return Err(SecurityRecordError::InvalidTelegramId(record.telegram_id));
    }
    let mut out = Vec::with_capacity(FIXED_LEN + record.user_id.len() + MAC_LEN);
    out.extend_from_slice(MAGIC);
    out.push(SECURITY_RECORD_VERSION);
    out.extend_from_slice(&record.revision.to_le_bytes());
    out.extend_from_slice(&record.telegram_id.to_le_bytes());
    out.extend_from_slice(&record.linked_at_unix.to_le_bytes());
    out.push(record.user_id.len() as u8);
    out.extend_from_slice(record.user_id.as_bytes());
    let mac = mac_of(keys, &out);
    out.extend_from_slice(&mac);
    Ok(out)
}

/// Checks the exact length and the MAC (constant time), then parses the fields.
pub fn authenticate(
    keys: &RecordKeys,
    bytes: &[u8],
) -> Result<SecurityRecord, SecurityRecordError> {
    if bytes.len() < FIXED_LEN + MAC_LEN {
        return Err(SecurityRecordError::Truncated(bytes.len()));
    }
    if &bytes[..4] != MAGIC {
        return Err(SecurityRecordError::BadMagic);
    }
    if bytes[4] != SECURITY_RECORD_VERSION {
        return Err(SecurityRecordError::UnsupportedVersion(bytes[4]));
    }
    let user_len = usize::from(bytes[FIXED_LEN - 1]);
    let expected = FIXED_LEN + user_len + MAC_LEN;
    if bytes.len() != expected {
        return Err(SecurityRecordError::WrongLength {
            actual: bytes.len(),
            expected,
        });
    }
    let (body, mac) = bytes.split_at(expected - MAC_LEN);
    let want = mac_of(keys, body);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], mac)) {
        return Err(SecurityRecordError::Authentication);
    }
    let u32_at = |i: usize| u32::from_le_bytes(body[i..i + 4].try_into().expect("4 bytes"));
    let u64_at = |i: usize| u64::from_le_bytes(body[i..i + 8].try_into().expect("8 bytes"));
    let user_id = std::str::from_utf8(&body[FIXED_LEN..])
        .map_err(|_| SecurityRecordError::InvalidUserId)?
        .to_owned();
    validate_user_id(&user_id).map_err(|_| SecurityRecordError::InvalidUserId)?;
    let telegram_id = u64_at(9);
    if !valid_telegram_id(telegram_id) {
        return Err(SecurityRecordError::InvalidTelegramId(telegram_id));
    }
    Ok(SecurityRecord {
        user_id,
        telegram_id,
        revision: u32_at(5),
        linked_at_unix: u64_at(17),
    })
}

/// The digest under which the signer remembers an outstanding `/start` link payload
/// (SHA-256, domain-separated), so the payload itself is not kept in memory.
pub fn link_payload_digest(payload: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"custos/v1/link-payload\0");
    h.update(payload);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::MasterKey;
    use crate::record::{self, RecordHeader};
    use zeroize::Zeroizing;

    fn keys(b: u8) -> RecordKeys {
        RecordKeys::derive(&MasterKey::from_bytes(Zeroizing::new([b; 32])))
    }

    fn rec() -> SecurityRecord {
        SecurityRecord {
            user_id: "user:42@bot".into(),
            telegram_id: 123_456_789,
            revision: 1,
            linked_at_unix: 1_700_000_000,
        }
    }

    #[test]
    fn round_trips_with_exact_layout() {
        let k = keys(1);
        let bytes = seal(&k, &rec()).unwrap();
        assert_eq!(bytes.len(), FIXED_LEN + "user:42@bot".len() + MAC_LEN);
        assert_eq!(&bytes[..5], b"CSSR\x01");
        assert_eq!(authenticate(&k, &bytes).unwrap(), rec());
    }

    #[test]
    fn every_flipped_byte_is_rejected() {
        let k = keys(1);
        let bytes = seal(&k, &rec()).unwrap();
        for i in 0..bytes.len() {
            for bit in [0x01u8, 0x80] {
                let mut b = bytes.clone();
                b[i] ^= bit;
                assert!(authenticate(&k, &b).is_err(), "byte {i} bit {bit:#x}");
            }
        }
    }

    #[test]
    fn errors_are_precise() {
        let k = keys(1);
        let bytes = seal(&k, &rec()).unwrap();
        assert_eq!(
            authenticate(&k, &bytes[..10]),
            Err(SecurityRecordError::Truncated(10))
        );
        let mut b = bytes.clone();
        b[4] = 2;
        assert_eq!(
            authenticate(&k, &b),
            Err(SecurityRecordError::UnsupportedVersion(2))
        );
        let mut b = bytes.clone();
        b.push(0);
        assert!(matches!(
            authenticate(&k, &b),
            Err(SecurityRecordError::WrongLength { .. })
        ));
        assert!(matches!(
            authenticate(&k, &bytes[..bytes.len() - 1]),
            Err(SecurityRecordError::WrongLength { .. })
        ));
        assert_eq!(
            authenticate(&keys(2), &bytes),
            Err(SecurityRecordError::Authentication)
        );
        let mut b = bytes.clone();
        b[0] = b'X';
        assert_eq!(authenticate(&k, &b), Err(SecurityRecordError::BadMagic));
    }

    #[test]
    fn seal_validates_its_fields() {
        let k = keys(1);
        let mut r = rec();
        r.user_id = "no spaces".into();
        assert_eq!(seal(&k, &r), Err(SecurityRecordError::InvalidUserId));
        for bad in [0u64, 1 << 63, u64::MAX] {
            let mut r = rec();
            r.telegram_id = bad;
            assert_eq!(
                seal(&k, &r),
                Err(SecurityRecordError::InvalidTelegramId(bad))
            );
        }
    }

    #[test]
    fn wallet_and_security_records_are_not_interchangeable() {
        let k = keys(1);
        let header = RecordHeader {
            wallet_id: [1; 16],
            pubkey: [2; 32],
            user_id: "user:42@bot".into(),
            telegram_id: Some(123_456_789),
            flags: 0,
            revision: 1,
        };
        let wallet = record::seal(&k, &header, &Zeroizing::new([3; 32])).unwrap();
        assert!(authenticate(&k, &wallet).is_err());
        let security = seal(&k, &rec()).unwrap();
        assert!(record::authenticate(&k, &security).is_err());
        // Even with the magic and version rewritten, the other key's MAC does not verify.
        let mut forged = security.clone();
        forged[..4].copy_from_slice(b"CSSR");
        let body_len = forged.len() - MAC_LEN;
        let wallet_mac = {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(k.mac.bytes()).unwrap();
            m.update(&forged[..body_len]);
            m.finalize().into_bytes()
        };
        forged[body_len..].copy_from_slice(&wallet_mac);
        assert_eq!(
            authenticate(&k, &forged),
            Err(SecurityRecordError::Authentication)
        );
    }

    #[test]
    fn link_digest_is_domain_separated() {
        let d = link_payload_digest(b"abc");
        assert_eq!(d, link_payload_digest(b"abc"));
        assert_ne!(d, link_payload_digest(b"abd"));
        let plain: [u8; 32] = Sha256::digest(b"abc").into();
        assert_ne!(d, plain);
    }
}
