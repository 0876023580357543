//! Sealed wallet records: a versioned binary format.
//!
//! ```text
//! header (authenticated, public):
//!   magic "CSWR" | version u8 = 1 | wallet_id [16] | pubkey [32] | flags u32 LE
//!   | revision u32 LE | has_telegram u8 | telegram_id u64 LE | user_id_len u8 | user_id
//! nonce [24]
//! ciphertext [32 + 16]  XChaCha20-Poly1305(wrap key, nonce, seed, aad = header)
//! mac [32]              HMAC-SHA256(mac key, header | nonce | ciphertext)
//! ```
//!
//! The AEAD's associated data is the whole header, so moving the sealed seed
//! to another wallet, user or Telegram id, or editing any field, makes it fail
//! to open. The trailing MAC lets the signer authenticate a record it only
//! needs to *read* (for instance to learn that a destination belongs to the
//! same user) without decrypting its secret.

use crate::keys::RecordKeys;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

const MAGIC: &[u8; 4] = b"CSWR";
/// Current record format version.
pub const RECORD_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const SEED_LEN: usize = 32;
const TAG_LEN: usize = 16;
const MAC_LEN: usize = 32;
/// Longest user id accepted, in bytes.
pub const MAX_USER_ID_LEN: usize = 64;
/// Fixed part of the header before the user id.
const FIXED_HEADER_LEN: usize = 4 + 1 + 16 + 32 + 4 + 4 + 1 + 8 + 1;

/// Flag: the key was exported to its user.
pub const FLAG_EXPORTED: u32 = 1 << 0;
/// Flag: the key was imported from another system rather than generated here.
pub const FLAG_IMPORTED: u32 = 1 << 1;
const KNOWN_FLAGS: u32 = FLAG_EXPORTED | FLAG_IMPORTED;

/// Why a record could not be built or opened. Messages carry no secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The bytes are not a record of a known format.
    #[error("record is malformed: {0}")]
    Malformed(&'static str),
    /// The record's version is not supported by this build.
    #[error("record version {0} is not supported")]
    UnsupportedVersion(u8),
    /// The MAC or the AEAD tag did not verify: the record was altered or
    /// sealed under another master key.
    #[error("record failed authentication (tampered, moved, or sealed under another key)")]
    Authentication,
    /// A user id was empty, too long or used characters outside `[A-Za-z0-9._:@-]`.
    #[error("invalid user id: must be 1-{MAX_USER_ID_LEN} characters of [A-Za-z0-9._:@-]")]
    InvalidUserId,
    /// Unknown flag bits.
    #[error("unknown record flags {0:#x}")]
    UnknownFlags(u32),
    /// The OS random number generator failed.
    #[error("random number generator failed")]
    Random,
}

/// Checks a user id against the accepted alphabet and length.
pub fn validate_user_id(user_id: &str) -> Result<(), RecordError> {
    let ok = !user_id.is_empty()
        && user_id.len() <= MAX_USER_ID_LEN
        && user_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'@' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(RecordError::InvalidUserId)
    }
}

/// The public, authenticated part of a wallet record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    /// Random id of the wallet.
    pub wallet_id: [u8; 16],
    /// The wallet's Ed25519 public key.
    pub pubkey: [u8; 32],
    /// Owner: the bot's user id.
    pub user_id: String,
    /// Owner's Telegram user id, if bound.
    pub telegram_id: Option<u64>,
    /// Flag bits (`FLAG_*`).
    pub flags: u32,
    /// Incremented whenever the record is re-sealed with changed fields.
    pub revision: u32,
}

impl RecordHeader {
    fn encode(&self) -> Result<Vec<u8>, RecordError> {
        validate_user_id(&self.user_id)?;
        if self.flags & !KNOWN_FLAGS != 0 {
            return Err(RecordError::UnknownFlags(self.flags));
        }
        let mut out = Vec::with_capacity(FIXED_HEADER_LEN + self.user_id.len());
        out.extend_from_slice(MAGIC);
        out.push(RECORD_VERSION);
        out.extend_from_slice(&self.wallet_id);
        out.extend_from_slice(&self.pubkey);
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&self.revision.to_le_bytes());
        out.push(u8::from(self.telegram_id.is_some()));
        out.extend_from_slice(&self.telegram_id.unwrap_or(0).to_le_bytes());
        out.push(self.user_id.len() as u8);
        out.extend_from_slice(self.user_id.as_bytes());
        Ok(out)
    }

    /// Parses a header from the front of `bytes`, returning it and its length.
    fn decode(bytes: &[u8]) -> Result<(Self, usize), RecordError> {
        let mut r = Reader(bytes);
        if r.take(4)? != MAGIC {
            return Err(RecordError::Malformed("bad magic"));
        }
        let version = r.take(1)?[0];
        if version != RECORD_VERSION {
            return Err(RecordError::UnsupportedVersion(version));
        }
        let wallet_id = r.array::<16>()?;
        let pubkey = r.array::<32>()?;
        let flags = u32::from_le_bytes(r.array::<4>()?);
        let revision = u32::from_le_bytes(r.array::<4>()?);
        let has_telegram = r.take(1)?[0];
        let telegram_raw = u64::from_le_bytes(r.array::<8>()?);
        let telegram_id = match (has_telegram, telegram_raw) {
            (0, 0) => None,
            (1, id) => Some(id),
            _ => return Err(RecordError::Malformed("bad telegram id encoding")),
        };
        let user_len = r.take(1)?[0] as usize;
        let user_id = std::str::from_utf8(r.take(user_len)?)
            .map_err(|_| RecordError::Malformed("user id is not UTF-8"))?
            .to_owned();
        validate_user_id(&user_id)?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(RecordError::UnknownFlags(flags));
        }
        let used = bytes.len() - r.0.len();
        Ok((
            Self {
                wallet_id,
                pubkey,
                user_id,
                telegram_id,
                flags,
                revision,
            },
            used,
        ))
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.0.len() < n {
            return Err(RecordError::Malformed("truncated"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}

/// Seals a wallet's 32-byte secret seed into a record bound to `header`.
///
/// The seed is encrypted in place in a wiped stack buffer: `Aead::encrypt` would copy it
/// into a heap `Vec` of its own.
pub fn seal(
    keys: &RecordKeys,
    header: &RecordHeader,
    seed: &Zeroizing<[u8; 32]>,
) -> Result<Vec<u8>, RecordError> {
    let mut out = header.encode()?;
    let aad_len = out.len();
    let mut nonce = [0u8; NONCE_LEN];
    crate::os_random(&mut nonce).map_err(|_| RecordError::Random)?;
    let cipher = XChaCha20Poly1305::new(keys.wrap.bytes().into());
    let mut sealed = Zeroizing::new([0u8; SEED_LEN]);
    sealed.copy_from_slice(seed.as_slice());
    let tag = cipher
        .encrypt_in_place_detached(
            XNonce::from_slice(&nonce),
            &out[..aad_len],
            sealed.as_mut_slice(),
        )
        .map_err(|_| RecordError::Authentication)?;
    out.reserve_exact(NONCE_LEN + SEED_LEN + TAG_LEN + MAC_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(sealed.as_slice());
    out.extend_from_slice(&tag);
    let mac = mac_of(keys, &out);
    out.extend_from_slice(&mac);
    Ok(out)
}

fn mac_of(keys: &RecordKeys, body: &[u8]) -> [u8; MAC_LEN] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(keys.mac.bytes())
        .expect("HMAC accepts any key length");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// A record whose MAC verified; its secret is still sealed.
#[derive(Debug)]
pub struct AuthenticRecord<'a> {
    /// The authenticated public fields.
    pub header: RecordHeader,
    aad: &'a [u8],
    nonce: &'a [u8],
    ciphertext: &'a [u8],
}

/// Authenticates a record's MAC and parses its header, without decrypting.
pub fn authenticate<'a>(
    keys: &RecordKeys,
    bytes: &'a [u8],
) -> Result<AuthenticRecord<'a>, RecordError> {
    let (header, header_len) = RecordHeader::decode(bytes)?;
    let expected_len = header_len + NONCE_LEN + SEED_LEN + TAG_LEN + MAC_LEN;
    if bytes.len() != expected_len {
        return Err(RecordError::Malformed("wrong length"));
    }
    let (body, mac) = bytes.split_at(expected_len - MAC_LEN);
    let expected = mac_of(keys, body);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], mac)) {
        return Err(RecordError::Authentication);
    }
    let (aad, rest) = body.split_at(header_len);
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    Ok(AuthenticRecord {
        header,
        aad,
        nonce,
        ciphertext,
    })
}

impl AuthenticRecord<'_> {
    /// Decrypts the seed. The AEAD binds it to every header field.
    ///
    /// The seed is decrypted in place in a heap buffer that is wiped when dropped and never
    /// moves: moving a `Zeroizing<[u8; 32]>` (returning it, `?`, `drop(seed)`) copies it,
    /// and only the last copy is wiped - the memory-scan test found the others on the
    /// signer's stack. Moving the box moves only a pointer. There is no other plaintext
    /// copy either (`Aead::decrypt` would make a `Vec`); the tag is checked before
    /// anything is decrypted.
    pub fn open(&self, keys: &RecordKeys) -> Result<Box<Zeroizing<[u8; 32]>>, RecordError> {
        if self.ciphertext.len() != SEED_LEN + TAG_LEN {
            return Err(RecordError::Malformed("wrong secret length"));
        }
        let (ciphertext, tag) = self.ciphertext.split_at(SEED_LEN);
        let cipher = XChaCha20Poly1305::new(keys.wrap.bytes().into());
        let mut seed = Box::new(Zeroizing::new([0u8; SEED_LEN]));
        seed.copy_from_slice(ciphertext);
        cipher
            .decrypt_in_place_detached(
                XNonce::from_slice(self.nonce),
                self.aad,
                seed.as_mut_slice(),
                Tag::from_slice(tag),
            )
            .map_err(|_| RecordError::Authentication)?;
        Ok(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::MasterKey;

    fn keys(b: u8) -> RecordKeys {
        RecordKeys::derive(&MasterKey::from_bytes(Zeroizing::new([b; 32])))
    }

    fn header() -> RecordHeader {
        RecordHeader {
            wallet_id: [1; 16],
            pubkey: [2; 32],
            user_id: "user-1".into(),
            telegram_id: Some(42),
            flags: 0,
            revision: 1,
        }
    }

    #[test]
    fn round_trip() {
        let k = keys(1);
        let seed = Zeroizing::new([9u8; 32]);
        let rec = seal(&k, &header(), &seed).unwrap();
        let auth = authenticate(&k, &rec).unwrap();
        assert_eq!(auth.header, header());
        assert_eq!(**auth.open(&k).unwrap(), [9u8; 32]);
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let k = keys(1);
        let rec = seal(&k, &header(), &Zeroizing::new([9u8; 32])).unwrap();
        for i in 0..rec.len() {
            let mut bad = rec.clone();
            bad[i] ^= 0x01;
            let res = authenticate(&k, &bad).and_then(|a| a.open(&k).map(|_| ()));
            assert!(res.is_err(), "flip at byte {i} went unnoticed");
        }
    }

    #[test]
    fn another_master_key_cannot_open() {
        let rec = seal(&keys(1), &header(), &Zeroizing::new([9u8; 32])).unwrap();
        assert_eq!(
            authenticate(&keys(2), &rec).unwrap_err(),
            RecordError::Authentication
        );
    }

    #[test]
    fn rebinding_the_secret_to_another_owner_fails_even_with_a_fresh_mac() {
        // An attacker who could recompute the MAC (it cannot) still could not
        // move the ciphertext to another user: the AEAD binds the header.
        let k = keys(1);
        let rec = seal(&k, &header(), &Zeroizing::new([9u8; 32])).unwrap();
        let auth = authenticate(&k, &rec).unwrap();
        let mut other = header();
        other.user_id = "user-2".into();
        let mut forged = other.encode().unwrap();
        forged.extend_from_slice(auth.nonce);
        forged.extend_from_slice(auth.ciphertext);
        let mac = mac_of(&k, &forged);
        forged.extend_from_slice(&mac);
        let auth2 = authenticate(&k, &forged).unwrap();
        assert_eq!(auth2.open(&k).unwrap_err(), RecordError::Authentication);
    }

    #[test]
    fn user_ids_are_validated() {
        assert!(validate_user_id("alice_1:tg@x.y-z").is_ok());
        for bad in ["", "a b", "ü", &"x".repeat(65), "a\n"] {
            assert_eq!(validate_user_id(bad), Err(RecordError::InvalidUserId));
        }
        let mut h = header();
        h.user_id = "bad id".into();
        assert!(seal(&keys(1), &h, &Zeroizing::new([0; 32])).is_err());
    }

    #[test]
    fn truncated_and_garbage_inputs_are_errors() {
        let k = keys(1);
        let rec = seal(&k, &header(), &Zeroizing::new([9u8; 32])).unwrap();
        for n in 0..rec.len() {
            assert!(authenticate(&k, &rec[..n]).is_err());
        }
        let mut longer = rec.clone();
        longer.push(0);
        assert!(authenticate(&k, &longer).is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::keys::MasterKey;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary bytes, and arbitrary edits of a real record, are refused
        /// without a panic, unless they are the untouched record itself.
        #[test]
        fn parsing_never_panics_and_edits_never_open(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
            pos in any::<usize>(),
            xor in 1u8..=255,
        ) {
            let keys = RecordKeys::derive(&MasterKey::from_bytes(Zeroizing::new([5; 32])));
            prop_assert!(authenticate(&keys, &bytes).is_err());
            let header = RecordHeader {
                wallet_id: [1; 16],
                pubkey: [2; 32],
                user_id: "u".into(),
                telegram_id: None,
                flags: FLAG_IMPORTED,
                revision: 3,
            };
            let mut rec = seal(&keys, &header, &Zeroizing::new([7; 32])).unwrap();
            let i = pos % rec.len();
            rec[i] ^= xor;
            prop_assert!(authenticate(&keys, &rec).and_then(|a| a.open(&keys)).is_err());
        }
    }
}
