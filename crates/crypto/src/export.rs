//! Key export (backup), encrypted end to end with HPKE (RFC 9180). Issue 5, groundwork.
//!
//! After the user approved an export and passed the second factor, the wallet's 32-byte
//! Ed25519 seed is encrypted to a one-time X25519 public key that the user's browser
//! generated on the Custos page. Only that page holds the private key; it decrypts and shows
//! the seed locally, so nothing in between (bridge, pool, API, Telegram) can read it.
//!
//! **Not wired yet.** Nothing in the signer service or the IPC protocol calls this module;
//! that, the page, and setting `FLAG_EXPORTED` on the wallet record are the next step.
//!
//! # Suite
//!
//! HPKE base mode (`mode_base` = 0x00), one message, with
//! `DHKEM(X25519, HKDF-SHA256)` / `HKDF-SHA256` / `ChaCha20-Poly1305`
//! (KEM 0x0020, KDF 0x0001, AEAD 0x0003), implemented by rust-hpke (`hpke` 0.13).
//!
//! ChaCha20-Poly1305 rather than AES-128-GCM: it is constant-time in software on every
//! platform, and with a single 32-byte message its speed does not matter. WebCrypto has no
//! ChaCha20-Poly1305 (nor HPKE itself), so the page uses a JavaScript HPKE library anyway;
//! hpke-js supports this suite with `@hpke/core` plus `@hpke/chacha20poly1305` (which
//! uses `@noble/ciphers`). Should the page need a WebCrypto-native AEAD, AES-128-GCM
//! (0x0001) is compiled into `hpke` 0.13 already and would be a change of one type here
//! and of `aead_id` in the JSON.
//!
//! # What is encrypted, and what it is bound to
//!
//! ```text
//! info (64 bytes)  = "custos/v1/export" (16 ASCII bytes, EXPORT_PURPOSE)
//!                    || wallet public key [32] || confirmation id [16]
//! aad  (32 bytes)  = wallet public key [32]
//! pt   (32 bytes)  = the wallet's Ed25519 seed
//! enc  (32 bytes)  = the ephemeral X25519 public key (RFC 9180 `enc`)
//! ct   (48 bytes)  = ChaCha20-Poly1305 ciphertext of pt || 16-byte tag
//! ```
//!
//! `info` is fixed-length, so the concatenation is unambiguous, and 64 bytes is within the
//! `info` length RFC 9180 §7.2.1 recommends every implementation accept. `info` enters the
//! key schedule, so a bundle opens only under the same wallet *and* confirmation id; the
//! AAD binds the wallet again at the AEAD layer. The opener must build both from the
//! wallet and confirmation it *expects* (the ones it asked to export), never from
//! anything the bundle says. [`seal_export`] refuses a seed whose public key is not the
//! context's wallet, and the page should check the same after decrypting.
//!
//! # Wire form ([`ExportBundle::to_json`])
//!
//! One JSON object, keys in this order, no whitespace, binary fields in unpadded base64url
//! (RFC 4648 §5):
//!
//! ```text
//! {"version":1,"kem_id":32,"kdf_id":1,"aead_id":3,"enc":"<43 chars>","ciphertext":"<64 chars>"}
//! ```
//!
//! The recipient key the browser sends is its raw 32-byte X25519 public key
//! (WebCrypto `exportKey("raw")`, or `serializePublicKey` in hpke-js) in unpadded
//! base64url: 43 characters. [`RecipientKey::from_base64url`] refuses anything else,
//! non-canonical encodings, and low-order points (which would make the shared secret
//! all zeros).
//!
//! # Secrets
//!
//! The seed is borrowed from the caller's `Zeroizing` buffer. rust-hpke wipes its AEAD key,
//! nonce and exporter secret on drop; the X25519 ephemeral secret and DH result are wiped
//! because this crate enables `x25519-dalek`'s `zeroize` feature (rust-hpke turns it off).
//! The randomness for the ephemeral key comes from the OS CSPRNG; if that fails, the result
//! is discarded and [`ExportError::Random`] returned.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{CryptoRng, RngCore};
use hpke::{Deserializable, OpModeS, Serializable};
use zeroize::Zeroizing;

type Aead = ChaCha20Poly1305;
type Kdf = HkdfSha256;
type KemT = X25519HkdfSha256;

/// The purpose string at the start of `info`.
pub const EXPORT_PURPOSE: &[u8; 16] = b"custos/v1/export";
/// Version of the JSON bundle format.
pub const BUNDLE_VERSION: u8 = 1;
/// RFC 9180 KEM id: DHKEM(X25519, HKDF-SHA256).
pub const KEM_ID: u16 = 0x0020;
/// RFC 9180 KDF id: HKDF-SHA256.
pub const KDF_ID: u16 = 0x0001;
/// RFC 9180 AEAD id: ChaCha20-Poly1305.
pub const AEAD_ID: u16 = 0x0003;
/// Length of `info`: purpose, wallet public key, confirmation id.
pub const INFO_LEN: usize = 16 + 32 + 16;
/// Length of the ciphertext of a 32-byte seed (plus the 16-byte tag).
pub const SEED_CIPHERTEXT_LEN: usize = 32 + 16;
/// Length of a recipient key in unpadded base64url.
pub const RECIPIENT_KEY_B64_LEN: usize = 43;

/// Why a recipient public key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecipientKeyError {
    /// Not unpadded base64url (RFC 4648 §5): other characters, padding, whitespace, or
    /// non-zero trailing bits.
    #[error("recipient key is not unpadded base64url")]
    Encoding,
    /// Decoded to the wrong number of bytes (an X25519 public key is 32).
    #[error("recipient key must be 32 bytes, got {got}")]
    Length {
        /// Bytes the input decoded to (estimated from its length if it was very long).
        got: usize,
    },
    /// Not the canonical encoding of an X25519 u-coordinate (top bit set, or not below
    /// 2^255 - 19).
    #[error("recipient key is not a canonical X25519 public key")]
    NonCanonical,
    /// A point of small order (including all zeros): the shared secret would be all zeros,
    /// so the "encryption" would protect nothing.
    #[error("recipient key is a low-order point")]
    LowOrder,
}

/// Why a key could not be exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// The seed's public key is not the context's wallet.
    #[error("the seed does not belong to the wallet named in the export context")]
    WalletMismatch,
    /// The OS random number generator failed; nothing was produced.
    #[error("random number generator failed")]
    Random,
    /// HPKE refused (for example a recipient key that [`RecipientKey`] should have refused).
    #[error("HPKE encryption failed")]
    Seal,
}

/// The browser's one-time X25519 public key, validated.
#[derive(Clone, PartialEq, Eq)]
pub struct RecipientKey([u8; 32]);

impl RecipientKey {
    /// Parses the raw 32-byte key in unpadded base64url (43 characters).
    pub fn from_base64url(s: &str) -> Result<Self, RecipientKeyError> {
        // Do not decode arbitrarily long input just to report its length.
        if s.len() > 4 * RECIPIENT_KEY_B64_LEN {
            return Err(RecipientKeyError::Length {
                got: s.len() * 3 / 4,
            });
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| RecipientKeyError::Encoding)?;
        Self::from_bytes(&bytes)
    }

    /// Validates a raw key: 32 bytes, canonical, not of small order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RecipientKeyError> {
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| RecipientKeyError::Length { got: bytes.len() })?;
        if !is_canonical_u(&key) {
            return Err(RecipientKeyError::NonCanonical);
        }
        if is_low_order(&key) {
            return Err(RecipientKeyError::LowOrder);
        }
        Ok(RecipientKey(key))
    }

    /// The raw key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key in unpadded base64url.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

impl std::fmt::Debug for RecipientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A public key: nothing to hide.
        write!(f, "RecipientKey({})", self.to_base64url())
    }
}

/// `u < 2^255 - 19` with the top bit clear (RFC 7748 §5 allows senders to reject the rest;
/// browsers and hpke-js only ever produce canonical keys).
fn is_canonical_u(u: &[u8; 32]) -> bool {
    if u[31] & 0x80 != 0 {
        return false;
    }
    // Values from 2^255 - 19 to 2^255 - 1 are 0x7f ff .. ff followed by a low byte >= 0xed.
    let top_all_ones = u[31] == 0x7f && u[1..31].iter().all(|&b| b == 0xff);
    !(top_all_ones && u[0] >= 0xed)
}

/// True if the point's order divides 8 (on the curve or its twist): X25519 with any
/// clamped scalar, a multiple of 8, then gives the all-zero output. This is the check
/// RFC 9180 §7.1.4 makes on the DH result, done here up front for a precise error.
fn is_low_order(u: &[u8; 32]) -> bool {
    // Any fixed scalar will do; the DH result is public information about a public key.
    let probe = x25519_dalek::StaticSecret::from([0x5a; 32]);
    let shared = probe.diffie_hellman(&x25519_dalek::PublicKey::from(*u));
    !shared.was_contributory()
}

/// What an export is for: it goes into HPKE `info` (and the wallet into the AAD), so a
/// bundle opens only for this wallet and this confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportContext {
    /// The wallet's Ed25519 public key.
    pub wallet: [u8; 32],
    /// The id of the confirmation the user approved for this export.
    pub confirmation_id: [u8; 16],
}

impl ExportContext {
    /// `"custos/v1/export" || wallet || confirmation_id`, 64 bytes.
    pub fn info(&self) -> [u8; INFO_LEN] {
        let mut info = [0u8; INFO_LEN];
        info[..16].copy_from_slice(EXPORT_PURPOSE);
        info[16..48].copy_from_slice(&self.wallet);
        info[48..].copy_from_slice(&self.confirmation_id);
        info
    }

    /// The wallet public key, 32 bytes.
    pub fn aad(&self) -> [u8; 32] {
        self.wallet
    }
}

/// An encrypted export: the HPKE encapsulated key and the ciphertext. Not secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ExportBundle {
    /// The ephemeral X25519 public key (RFC 9180 `enc`).
    pub enc: [u8; 32],
    /// ChaCha20-Poly1305 ciphertext and tag ([`SEED_CIPHERTEXT_LEN`] bytes for a seed).
    pub ciphertext: Vec<u8>,
}

impl ExportBundle {
    /// The wire form documented in the module docs.
    pub fn to_json(&self) -> String {
        // Every value is a number or base64url text, which needs no JSON escaping.
        format!(
            "{{\"version\":{},\"kem_id\":{},\"kdf_id\":{},\"aead_id\":{},\"enc\":\"{}\",\"ciphertext\":\"{}\"}}",
            BUNDLE_VERSION,
            KEM_ID,
            KDF_ID,
            AEAD_ID,
            URL_SAFE_NO_PAD.encode(self.enc),
            URL_SAFE_NO_PAD.encode(&self.ciphertext),
        )
    }
}

impl std::fmt::Debug for ExportBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportBundle")
            .field("enc", &"<32 bytes>")
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// Encrypts a wallet seed to the browser's one-time key. Refuses a seed that is not the
/// context's wallet.
pub fn seal_export(
    recipient: &RecipientKey,
    context: &ExportContext,
    secret: &Zeroizing<[u8; 32]>,
) -> Result<ExportBundle, ExportError> {
    if crate::sign::public_key(secret) != context.wallet {
        return Err(ExportError::WalletMismatch);
    }
    let mut rng = OsRng09 { failed: false };
    let sealed = seal_raw(
        recipient,
        &context.info(),
        &context.aad(),
        secret.as_slice(),
        &mut rng,
    );
    if rng.failed {
        // The ephemeral key may be predictable: throw everything away.
        return Err(ExportError::Random);
    }
    let (enc, ciphertext) = sealed?;
    Ok(ExportBundle { enc, ciphertext })
}

/// HPKE base-mode single-shot seal with this module's suite.
fn seal_raw<R: RngCore + CryptoRng>(
    recipient: &RecipientKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut R,
) -> Result<([u8; 32], Vec<u8>), ExportError> {
    let pk =
        <KemT as hpke::Kem>::PublicKey::from_bytes(&recipient.0).map_err(|_| ExportError::Seal)?;
    let (enc, ciphertext) = hpke::single_shot_seal::<Aead, Kdf, KemT, R>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        aad,
        rng,
    )
    .map_err(|_| ExportError::Seal)?;
    let enc: [u8; 32] = enc
        .to_bytes()
        .as_slice()
        .try_into()
        .map_err(|_| ExportError::Seal)?;
    Ok((enc, ciphertext))
}

/// rust-hpke's RNG interface (rand_core 0.9) over the OS CSPRNG. `RngCore` cannot fail,
/// so a failure is recorded, the output zero-filled, and [`seal_export`] discards the
/// result: never a panic in the signer, never a ciphertext made with a bad key.
struct OsRng09 {
    failed: bool,
}

impl RngCore for OsRng09 {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        if crate::os_random(dst).is_err() {
            self.failed = true;
            dst.fill(0);
        }
    }
}

impl CryptoRng for OsRng09 {}

/// Reference open with the same library, for unit tests only; the interop test opens with
/// its own implementation.
#[cfg(test)]
fn open_raw(
    sk_recip: &[u8; 32],
    enc: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, hpke::HpkeError> {
    let sk = <KemT as hpke::Kem>::PrivateKey::from_bytes(sk_recip)?;
    let enc = <KemT as hpke::Kem>::EncappedKey::from_bytes(enc)?;
    hpke::single_shot_open::<Aead, Kdf, KemT>(
        &hpke::OpModeR::Base,
        &sk,
        &enc,
        info,
        ciphertext,
        aad,
    )
    .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out fixed bytes: reproduces the RFC's ephemeral key.
    struct FixedRng(Vec<u8>);
    impl RngCore for FixedRng {
        // HPKE draws its ephemeral key with `fill_bytes` only; any other draw would
        // mean the vector is not reproduced the way the RFC describes.
        fn next_u32(&mut self) -> u32 {
            unreachable!("HPKE draws randomness with fill_bytes only")
        }
        fn next_u64(&mut self) -> u64 {
            unreachable!("HPKE draws randomness with fill_bytes only")
        }
        fn fill_bytes(&mut self, dst: &mut [u8]) {
            assert!(dst.len() <= self.0.len(), "more randomness than expected");
            let rest = self.0.split_off(dst.len());
            dst.copy_from_slice(&self.0);
            self.0 = rest;
        }
    }
    impl CryptoRng for FixedRng {}

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 9180 Appendix A.2.1 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
    /// ChaCha20-Poly1305, base mode), sequence number 0.
    #[test]
    fn seal_reproduces_rfc9180_a2_vector() {
        let pk_r = RecipientKey::from_bytes(&h(
            "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a",
        ))
        .unwrap();
        let mut rng = FixedRng(h(
            "909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b",
        ));
        let (enc, ct) = seal_raw(
            &pk_r,
            &h("4f6465206f6e2061204772656369616e2055726e"),
            &h("436f756e742d30"),
            &h("4265617574792069732074727574682c20747275746820626561757479"),
            &mut rng,
        )
        .unwrap();
        assert!(rng.0.is_empty(), "the ephemeral key used exactly ikmE");
        assert_eq!(
            hex::encode(enc),
            "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a"
        );
        assert_eq!(
            hex::encode(ct),
            "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db\
             21993c62ce81883d2dd1b51a28"
        );
    }

    #[test]
    fn seal_and_open_with_the_same_library() {
        let seed = Zeroizing::new([7u8; 32]);
        let ctx = ExportContext {
            wallet: crate::sign::public_key(&seed),
            confirmation_id: [3; 16],
        };
        let sk = [0x11u8; 32];
        let pk = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(sk));
        let recipient = RecipientKey::from_bytes(pk.as_bytes()).unwrap();
        let b = seal_export(&recipient, &ctx, &seed).unwrap();
        assert_eq!(b.ciphertext.len(), SEED_CIPHERTEXT_LEN);
        let pt = open_raw(&sk, &b.enc, &ctx.info(), &ctx.aad(), &b.ciphertext).unwrap();
        assert_eq!(pt.as_slice(), seed.as_slice());
        // Another confirmation id changes the key schedule.
        let other = ExportContext {
            confirmation_id: [4; 16],
            ..ctx
        };
        assert!(open_raw(&sk, &b.enc, &other.info(), &other.aad(), &b.ciphertext).is_err());
        // The AAD alone also binds the wallet.
        assert!(open_raw(&sk, &b.enc, &ctx.info(), &[0u8; 32], &b.ciphertext).is_err());
    }

    #[test]
    fn refuses_a_seed_of_another_wallet() {
        let seed = Zeroizing::new([7u8; 32]);
        let ctx = ExportContext {
            wallet: crate::sign::public_key(&Zeroizing::new([8u8; 32])),
            confirmation_id: [3; 16],
        };
        let pk = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from([0x11; 32]));
        let recipient = RecipientKey::from_bytes(pk.as_bytes()).unwrap();
        assert_eq!(
            seal_export(&recipient, &ctx, &seed),
            Err(ExportError::WalletMismatch)
        );
    }

    #[test]
    fn info_layout() {
        let ctx = ExportContext {
            wallet: [0xaa; 32],
            confirmation_id: [0xbb; 16],
        };
        let info = ctx.info();
        assert_eq!(&info[..16], b"custos/v1/export");
        assert_eq!(&info[16..48], &[0xaa; 32]);
        assert_eq!(&info[48..], &[0xbb; 16]);
        assert_eq!(ctx.aad(), [0xaa; 32]);
    }
}
