//! The operator's policy key pair: ECDSA P-256, the signing half kept offline.

use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate;
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use zeroize::Zeroizing;

use crate::digest::{ecc_p256_key_name, Name};

/// Why a policy key did not encode or decode. Carries no key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The PEM is not a PKCS#8 P-256 private key.
    #[error("not a PKCS#8 PEM P-256 private key")]
    BadPrivateKey,
    /// The bytes or PEM are not a P-256 public key (SEC1 point or SPKI).
    #[error("not a P-256 public key")]
    BadPublicKey,
    /// Encoding failed (should not happen for a valid key).
    #[error("cannot encode the key")]
    Encode,
}

/// The operator's policy-signing key (ECDSA P-256).
///
/// Secret: the key zeroizes itself on drop (p256's `SigningKey`); not printable.
pub struct PolicySigningKey(SigningKey);

impl PolicySigningKey {
    /// A new random key from the OS RNG. Panics if the OS RNG fails.
    pub fn generate() -> Self {
        Self(SigningKey::generate())
    }

    /// The PKCS#8 PEM of the private key (zeroized when dropped).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| KeyError::Encode)
    }

    /// Reads a PKCS#8 PEM P-256 private key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        SigningKey::from_pkcs8_pem(pem)
            .map(Self)
            .map_err(|_| KeyError::BadPrivateKey)
    }

    /// The public half.
    pub fn public_key(&self) -> PolicyPublicKey {
        PolicyPublicKey(*self.0.verifying_key())
    }

    pub(crate) fn inner(&self) -> &SigningKey {
        &self.0
    }
}

/// The operator's policy public key: what a sealed master key trusts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PolicyPublicKey(VerifyingKey);

impl PolicyPublicKey {
    /// The uncompressed SEC1 point (`04 || x || y`).
    pub fn to_sec1(&self) -> [u8; 65] {
        let point = self.0.to_sec1_point(false);
        point
            .as_bytes()
            .try_into()
            .expect("an uncompressed P-256 point is 65 bytes")
    }

    /// Reads a SEC1 point (compressed or uncompressed).
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, KeyError> {
        VerifyingKey::from_sec1_bytes(bytes)
            .map(Self)
            .map_err(|_| KeyError::BadPublicKey)
    }

    /// The SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn to_pem(&self) -> String {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .expect("a P-256 public key encodes")
    }

    /// Reads a SubjectPublicKeyInfo PEM P-256 public key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        VerifyingKey::from_public_key_pem(pem)
            .map(Self)
            .map_err(|_| KeyError::BadPublicKey)
    }

    /// The affine coordinates (`x`, `y`), big-endian.
    pub fn coordinates(&self) -> ([u8; 32], [u8; 32]) {
        let sec1 = self.to_sec1();
        let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
        x.copy_from_slice(&sec1[1..33]);
        y.copy_from_slice(&sec1[33..]);
        (x, y)
    }

    /// The key's TPM name once loaded with TPM2_LoadExternal.
    pub fn name(&self) -> Name {
        let (x, y) = self.coordinates();
        ecc_p256_key_name(&x, &y)
    }

    pub(crate) fn inner(&self) -> &VerifyingKey {
        &self.0
    }
}

impl std::fmt::Debug for PolicyPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PolicyPublicKey({})",
            crate::hex::encode(&self.to_sec1())
        )
    }
}
