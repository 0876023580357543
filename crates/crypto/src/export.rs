//! Key export (backup), encrypted end to end with HPKE (RFC 9180).
//!
//! After the user approved an export and passed the second factor, the wallet's 32-byte
//! Ed25519 seed is encrypted to a one-time X25519 public key that the user's browser
//! generated on the Custos page. Only that page holds the private key; it decrypts and shows
//! the seed locally, so nothing in between (bridge, pool, API, Telegram) can read it.
//!
//! The signer calls [`seal_export`] once the user approved the export in Telegram and
//! gave their second factor on the page (`custos_signer::second_factor`), then re-seals
//! the wallet record with `FLAG_EXPORTED`; the page (served by the pool,
//! `crates/pool/page-assets/page.js`) opens the bundle with WebCrypto as described below.
//!
//! # Suite
//!
//! HPKE base mode (`mode_base` = 0x00), one message, with
//! `DHKEM(X25519, HKDF-SHA256)` / `HKDF-SHA256` / `AES-128-GCM`
//! (KEM 0x0020, KDF 0x0001, AEAD 0x0001), implemented by rust-hpke (`hpke` 0.13).
//!
//! AES-128-GCM because every primitive of this suite is native to WebCrypto (X25519
//! `deriveBits`, HMAC-SHA256 for HKDF, AES-GCM), so the page needs no JavaScript crypto
//! library; WebCrypto has neither ChaCha20-Poly1305 nor HPKE itself. AES-GCM's usual
//! caveats do not apply here: each bundle has a fresh key (from a fresh ephemeral X25519
//! key) and carries exactly one 32-byte message, so nonce reuse and the data limits per key
//! cannot arise. RustCrypto's AES is constant time (AES-NI, or a bitsliced software
//! fallback).
//!
//! # Opening a bundle with WebCrypto
//!
//! This is RFC 9180 §4.1 (DHKEM `Decap`), §5.1 (`KeySchedule`, base mode) and §5.2
//! (`Open`, sequence number 0), written out for this suite. Every value is a byte string,
//! `||` is concatenation, and `"..."` is ASCII.
//!
//! ```text
//! suite_id_kem  = "KEM"  || 0x00 0x20                                    (5 bytes)
//! suite_id_hpke = "HPKE" || 0x00 0x20 || 0x00 0x01 || 0x00 0x01          (10 bytes)
//!
//! LabeledExtract(suite_id, salt, label, ikm)
//!     = HMAC-SHA256(key = salt, data = "HPKE-v1" || suite_id || label || ikm)
//!       where salt is "" use 32 zero bytes as the key instead: the same HMAC (keys
//!       are zero-padded to 64 bytes), and WebCrypto refuses to import an empty key
//! LabeledExpand(suite_id, prk, label, info, L)          for L <= 32 only:
//!     = first L bytes of
//!       HMAC-SHA256(key = prk, data = I2OSP(L, 2) || "HPKE-v1" || suite_id || label
//!                                     || info || 0x01)
//!       (I2OSP(L, 2) is L as 2 big-endian bytes: 32 -> 0x00 0x20)
//!
//! 1. Decap (sk_r = the page's X25519 private key, pk_r = its 32-byte raw public key,
//!    enc = the bundle's "enc"):
//!    dh            = X25519(sk_r, enc)
//!           WebCrypto: deriveBits({name: "X25519", public: E}, sk_r, 256) where
//!           E = importKey("raw", enc, {name: "X25519"}, true, [])
//!    reject if dh is 32 zero bytes (browsers already refuse such a point)
//!    kem_context   = enc || pk_r                                         (64 bytes)
//!    eae_prk       = LabeledExtract(suite_id_kem, "", "eae_prk", dh)
//!    shared_secret = LabeledExpand(suite_id_kem, eae_prk, "shared_secret", kem_context, 32)
//!
//! 2. KeySchedule (base mode: psk = "", psk_id = ""; info = 64 bytes, see below):
//!    psk_id_hash   = LabeledExtract(suite_id_hpke, "", "psk_id_hash", "")
//!    info_hash     = LabeledExtract(suite_id_hpke, "", "info_hash", info)
//!    ks_context    = 0x00 || psk_id_hash || info_hash                    (65 bytes)
//!    secret        = LabeledExtract(suite_id_hpke, shared_secret, "secret", "")
//!    key           = LabeledExpand(suite_id_hpke, secret, "key", ks_context, 16)
//!    base_nonce    = LabeledExpand(suite_id_hpke, secret, "base_nonce", ks_context, 12)
//!
//! 3. Open, the first (and only) message, so the nonce is base_nonce itself:
//!    seed = AES-GCM-decrypt(key, iv = base_nonce, additionalData = aad,
//!                           tagLength = 128, data = ciphertext)
//!           WebCrypto: k = importKey("raw", key, "AES-GCM", false, ["decrypt"]), then
//!           decrypt({name: "AES-GCM", iv, additionalData, tagLength: 128}, k, ciphertext)
//!           where ciphertext is the bundle's 48 bytes (32 encrypted, 16 tag, as
//!           WebCrypto expects). A rejection means a wrong key pair, a wrong wallet or
//!           confirmation, or a tampered bundle: show an error, never partial output.
//! ```
//!
//! The label strings are exactly `eae_prk`, `shared_secret`, `psk_id_hash`, `info_hash`,
//! `secret`, `key` and `base_nonce` (no terminator). `secret` is an HMAC keyed with
//! `shared_secret` over `"HPKE-v1" || suite_id_hpke || "secret"`: the `ikm` is empty
//! in base mode. Each step is one HMAC `sign` call (simpler than fitting WebCrypto's
//! combined extract-and-expand HKDF to the labelled steps), with a key from `importKey("raw", bytes, {name: "HMAC", hash: "SHA-256"},
//! false, ["sign"])`. The page then checks that the seed is the wallet's key before
//! showing it: `importKey("pkcs8", 302e020100300506032b657004220420 || seed, "Ed25519",
//! true, ["sign"])` (RFC 8410's fixed 16-byte prefix), `exportKey("jwk", ...)`, and its
//! `x` (unpadded base64url) must be the wallet's public key.
//!
//! The test `webcrypto_recipe_reproduces_rfc9180_a1_vector` in
//! `crates/crypto/tests/export_interop.rs` runs exactly this recipe (one HMAC per step,
//! 32 zero bytes for an empty salt) on RFC 9180 Appendix A.1.1, whose values a page can
//! be tested against too:
//!
//! ```text
//! skRm          4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8
//! pkRm          3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d
//! enc           37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431
//! info          4f6465206f6e2061204772656369616e2055726e
//! shared_secret fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc
//! secret        12fff91991e93b48de37e7daddb52981084bd8aa64289c3788471d9a9712f397
//! key           4531685d41d65f03dc48f6b8302c05b0
//! base_nonce    56d890e5accaaf011cff4b7d
//! aad           436f756e742d30
//! ciphertext    f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a9
//!               6d8770ac83d07bea87e13c512a
//! plaintext     "Beauty is truth, truth beauty"
//! ```
//!
//! # What is encrypted, and what it is bound to
//!
//! ```text
//! info (64 bytes)  = "custos/v1/export" (16 ASCII bytes, EXPORT_PURPOSE)
//!                    || wallet public key [32] || confirmation id [16]
//! aad  (32 bytes)  = wallet public key [32]
//! pt   (32 bytes)  = the wallet's Ed25519 seed
//! enc  (32 bytes)  = the ephemeral X25519 public key (RFC 9180 `enc`)
//! ct   (48 bytes)  = AES-128-GCM ciphertext of pt (32) || 16-byte tag
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
//! {"version":1,"kem_id":32,"kdf_id":1,"aead_id":1,"enc":"<43 chars>","ciphertext":"<64 chars>"}
//! ```
//!
//! The recipient key the browser sends is its raw 32-byte X25519 public key
//! (WebCrypto `generateKey({name: "X25519"}, false, ["deriveBits"])`, then
//! `exportKey("raw", publicKey)`) in unpadded
//! base64url: 43 characters. [`RecipientKey::from_base64url`] refuses anything else,
//! non-canonical encodings, and low-order points (which would make the shared secret
//! all zeros).
//!
//! # Secrets
//!
//! The seed is borrowed from the caller's `Zeroizing` buffer. rust-hpke wipes its base
//! nonce and exporter secret on drop; the AES round keys are wiped because this crate
//! enables `aes`'s `zeroize` feature, and the X25519 ephemeral secret and DH result
//! because it enables `x25519-dalek`'s (rust-hpke turns both off). The GHASH subkey
//! (`AES(key, 0^128)`, which reveals neither the key nor the seed) is not wiped by
//! `polyval` 0.6 on x86-64.
//! The randomness for the ephemeral key comes from the OS CSPRNG; if that fails, the result
//! is discarded and [`ExportError::Random`] returned.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hpke::aead::AesGcm128;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{CryptoRng, RngCore};
use hpke::{Deserializable, OpModeS, Serializable};
use zeroize::Zeroizing;

type Aead = AesGcm128;
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
/// RFC 9180 AEAD id: AES-128-GCM.
pub const AEAD_ID: u16 = 0x0001;
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
/// browsers only ever produce canonical keys).
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
    /// AES-128-GCM ciphertext and tag ([`SEED_CIPHERTEXT_LEN`] bytes for a seed).
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

/// HPKE base-mode single-shot seal with this module's suite to `recipient`, with the OS
/// CSPRNG for the ephemeral key; a CSPRNG failure discards the result. Returns `enc` and
/// the ciphertext. Shared with [`crate::recovery`], which binds its own `info` and `aad`.
pub(crate) fn seal_base(
    recipient: &RecipientKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<([u8; 32], Vec<u8>), ExportError> {
    let mut rng = OsRng09 { failed: false };
    let sealed = seal_raw(recipient, info, aad, plaintext, &mut rng);
    if rng.failed {
        return Err(ExportError::Random);
    }
    sealed
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

/// HPKE base-mode single-shot open with this module's suite. The signer never opens an
/// export (the browser does); [`crate::recovery`] opens custodian shares with it, and the
/// unit tests use it as a reference (the interop test opens with its own implementation).
pub(crate) fn open_raw(
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

    /// RFC 9180 Appendix A.1.1 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM,
    /// base mode), sequence number 0.
    #[test]
    fn seal_reproduces_rfc9180_a1_vector() {
        let pk_r = RecipientKey::from_bytes(&h(
            "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d",
        ))
        .unwrap();
        let mut rng = FixedRng(h(
            "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234",
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
            "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431"
        );
        assert_eq!(
            hex::encode(&ct),
            "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a9\
             6d8770ac83d07bea87e13c512a"
        );
        // And the reference open recovers the plaintext (skRm from the RFC).
        let sk_r: [u8; 32] = h("4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8")
            .try_into()
            .unwrap();
        let pt = open_raw(
            &sk_r,
            &enc,
            &h("4f6465206f6e2061204772656369616e2055726e"),
            &h("436f756e742d30"),
            &ct,
        )
        .unwrap();
        assert_eq!(pt.as_slice(), b"Beauty is truth, truth beauty");
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
