//! Ed25519 key generation and signing.
//!
//! Signing takes the 32-byte seed straight from an opened record and expands
//! it with one SHA-512 (`ExpandedSecretKey`), skipping the base-point
//! multiplication that `SigningKey::from_bytes` spends recomputing a public
//! key we already hold authenticated in the record. Every intermediate secret
//! zeroizes on drop, and the expansion wipes the seed from the hasher it used
//! ([`expand`]); what dependencies leave in popped stack frames is the signer's
//! stack scrub's job.

use ed25519_dalek::hazmat::{raw_sign, ExpandedSecretKey};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

/// A new key pair's secret seed and public key.
pub struct NewKey {
    /// The 32-byte seed (the Ed25519 secret key), boxed so that moving a `NewKey` copies
    /// a pointer, not the seed (only the last copy of a moved array would be wiped).
    pub seed: Box<Zeroizing<[u8; 32]>>,
    /// The public key.
    pub pubkey: [u8; 32],
}

/// Generates a key pair from the OS CSPRNG.
pub fn generate() -> Result<NewKey, crate::RandomError> {
    let mut seed = Box::new(Zeroizing::new([0u8; 32]));
    crate::os_random(seed.as_mut().as_mut())?;
    let pubkey = public_key(&seed);
    Ok(NewKey { seed, pubkey })
}

/// Computes the public key of a seed (used at generation and import).
pub fn public_key(seed: &Zeroizing<[u8; 32]>) -> [u8; 32] {
    // Not `SigningKey::from_bytes`: it copies the seed into a value that is moved (and so
    // copied again, unwiped) and hashes it with a hasher it never wipes.
    VerifyingKey::from(&expand(seed)).to_bytes()
}

/// Expands a seed into the signing scalar and nonce prefix (RFC 8032 5.1.5: SHA-512 of
/// the seed), leaving no copy of the seed or of the hash in the hasher.
///
/// `ExpandedSecretKey::from(&seed)` hashes with a temporary whose block buffer keeps the
/// seed (padding is written after the data, and sha2 has no zeroize); the memory-scan test
/// found such seeds on the signer's stack. Here the hasher is ours: after finalizing, 127
/// zero bytes - less than a block, so nothing is compressed - overwrite its buffer.
fn expand(seed: &Zeroizing<[u8; 32]>) -> ExpandedSecretKey {
    let mut hasher = Sha512::new();
    hasher.update(seed.as_slice());
    let mut hash = Zeroizing::new([0u8; 64]);
    hasher.finalize_into_reset(GenericArray::from_mut_slice(hash.as_mut_slice()));
    hasher.update([0u8; 127]);
    ExpandedSecretKey::from_bytes(&hash)
}

/// Why a signature could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The stored public key is not a valid curve point.
    #[error("public key is not a valid Ed25519 point")]
    BadPublicKey,
}

/// A decompressed public key, ready for signing. Decompressing costs about as
/// much as a third of a signature, so callers may keep these (they are public).
pub type PreparedPublicKey = VerifyingKey;

/// Decompresses a public key.
pub fn prepare_public_key(pubkey: &[u8; 32]) -> Result<PreparedPublicKey, SignError> {
    VerifyingKey::from_bytes(pubkey).map_err(|_| SignError::BadPublicKey)
}

/// Signs `message` with the seed, given its (authenticated) public key.
pub fn sign(
    seed: &Zeroizing<[u8; 32]>,
    pubkey: &[u8; 32],
    message: &[u8],
) -> Result<[u8; 64], SignError> {
    Ok(sign_prepared(seed, &prepare_public_key(pubkey)?, message))
}

/// Signs `message` with the seed and its already-decompressed public key.
pub fn sign_prepared(
    seed: &Zeroizing<[u8; 32]>,
    pubkey: &PreparedPublicKey,
    message: &[u8],
) -> [u8; 64] {
    let expanded = expand(seed);
    let sig: Signature = raw_sign::<Sha512>(&expanded, message, pubkey);
    sig.to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey, Verifier};

    #[test]
    fn fast_path_matches_the_standard_signer() {
        let k = generate().unwrap();
        let msg = b"custos test message";
        let fast = sign(&k.seed, &k.pubkey, msg).unwrap();
        let std_sig = SigningKey::from_bytes(&k.seed).sign(msg);
        assert_eq!(fast, std_sig.to_bytes());
        VerifyingKey::from_bytes(&k.pubkey)
            .unwrap()
            .verify(msg, &Signature::from_bytes(&fast))
            .unwrap();
    }

    #[test]
    fn expansion_and_public_key_match_the_standard_ones() {
        for byte in [0u8, 1, 0x5a, 0xff] {
            let seed = Zeroizing::new([byte; 32]);
            let standard = SigningKey::from_bytes(&seed);
            assert_eq!(public_key(&seed), standard.verifying_key().to_bytes());
            let ours = expand(&seed);
            let theirs = ExpandedSecretKey::from(&*seed);
            assert_eq!(ours.scalar, theirs.scalar);
            assert_eq!(ours.hash_prefix, theirs.hash_prefix);
        }
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(generate().unwrap().pubkey, generate().unwrap().pubkey);
    }
}
