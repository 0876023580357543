//! The master key and its domain-separated subkeys.

use crate::shield::{Shield, ShieldError};
use hkdf::Hkdf;
use sha2::Sha256;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Length of every symmetric key in the hierarchy.
pub const KEY_LEN: usize = 32;

/// HKDF salt: fixes the derivation scheme's version.
const KDF_SALT: &[u8] = b"custos/kdf/v1";

/// The root of the hierarchy. Only the signer ever holds one, and only briefly: at start
/// it goes into the [`KeyVault`]. Wiped on drop; not printable (no `Debug`, no `Display`).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; KEY_LEN]);

impl MasterKey {
    /// Wraps raw key bytes (taken from a seal).
    pub fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        Self(*bytes)
    }

    /// A fresh master key from the OS random number generator (genesis).
    pub fn generate() -> Result<Self, crate::RandomError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        crate::os_random(key.as_mut())?;
        Ok(Self::from_bytes(key))
    }

    /// The raw key, for splitting it into recovery shares ([`crate::recovery`]) only.
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The raw key, for a seal to protect (the TPM seal hands it to the TPM at genesis
    /// and recovery). Nothing else may read it: every other use goes through [`derive`].
    ///
    /// [`derive`]: MasterKey::derive
    pub fn expose_to_seal(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Derives the subkey for one purpose.
    pub fn derive(&self, purpose: KeyPurpose) -> SubKey {
        let hk = Hkdf::<Sha256>::new(Some(KDF_SALT), &self.0);
        let mut out = [0u8; KEY_LEN];
        // Expanding 32 bytes from SHA-256 HKDF cannot fail (limit is 255 * 32).
        hk.expand(purpose.label(), &mut out)
            .expect("32-byte HKDF output is always valid");
        SubKey(out)
    }
}

/// What a subkey is for. Each purpose has its own HKDF label, so keys for
/// different jobs are independent even though they share one root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// AEAD key sealing wallet secrets.
    WalletWrap,
    /// MAC key authenticating record headers without decrypting them.
    RecordMac,
    /// MAC key authenticating security records (user id -> Telegram account).
    SecurityMac,
    /// AEAD key encrypting the secret section of security records (second factors).
    SecurityEnc,
    /// AEAD key sealing the Telegram bot token at rest.
    BotToken,
    /// MAC key of the recovery kit's commitment to the master key ([`crate::recovery`]).
    RecoveryCheck,
}

impl KeyPurpose {
    fn label(self) -> &'static [u8] {
        match self {
            KeyPurpose::WalletWrap => b"custos/v1/wallet-wrap",
            KeyPurpose::RecordMac => b"custos/v1/record-mac",
            KeyPurpose::SecurityMac => b"custos/v1/security-mac",
            KeyPurpose::SecurityEnc => b"custos/v1/security-enc",
            KeyPurpose::BotToken => b"custos/v1/bot-token",
            KeyPurpose::RecoveryCheck => b"custos/v1/recovery-check",
        }
    }
}

/// A derived symmetric key.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SubKey([u8; KEY_LEN]);

impl SubKey {
    /// The key bytes, for handing to a cipher.
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

/// The subkeys the signer needs for wallet records and security records (MAC, and
/// the AEAD key of their secret section).
///
/// Secret: wiped on drop, field by field; not printable.
pub struct RecordKeys {
    pub(crate) wrap: SubKey,
    pub(crate) mac: SubKey,
    pub(crate) security_mac: SubKey,
    pub(crate) security_enc: SubKey,
}

impl RecordKeys {
    /// Derives the record keys from the master key.
    pub fn derive(master: &MasterKey) -> Self {
        Self {
            wrap: master.derive(KeyPurpose::WalletWrap),
            mac: master.derive(KeyPurpose::RecordMac),
            security_mac: master.derive(KeyPurpose::SecurityMac),
            security_enc: master.derive(KeyPurpose::SecurityEnc),
        }
    }
}

/// The key that seals the Telegram bot token at rest ([`crate::bot_token`]).
///
/// Secret: wiped on drop (its [`SubKey`]); not printable.
pub struct BotTokenKey(pub(crate) SubKey);

impl BotTokenKey {
    /// Derives the bot token key from the master key.
    pub fn derive(master: &MasterKey) -> Self {
        Self(master.derive(KeyPurpose::BotToken))
    }
}

/// Bytes of the key ring the vault shields: the master key, then the four record subkeys.
const RING: usize = 5 * KEY_LEN;

/// The signer's keys while it runs: the master key and its record subkeys, kept only in a
/// [`Shield`] and rebuilt for the instant they are used.
///
/// Secret: its shield's pages wipe themselves; not printable.
///
/// One reconstruction gives every record key, so a signature (authenticate the record,
/// open its seed) walks the shield once. [`KeyVault::rerandomize`] builds a fresh shield
/// beside the old one and swaps it in, so users wait only for the swap.
pub struct KeyVault {
    shield: RwLock<Shield<RING>>,
    /// How many times the shield was re-randomized.
    generation: AtomicU64,
}

impl KeyVault {
    /// Derives the record subkeys from `master` and shields all of them with it; `master`
    /// is wiped when this returns.
    pub fn new(master: MasterKey) -> Result<Self, ShieldError> {
        let mut ring = Zeroizing::new([0u8; RING]);
        ring[..KEY_LEN].copy_from_slice(&master.0);
        // In the order `with_record_keys` reads them back.
        let keys = RecordKeys::derive(&master);
        let fields = [
            &keys.wrap,
            &keys.mac,
            &keys.security_mac,
            &keys.security_enc,
        ];
        for (slot, key) in ring[KEY_LEN..].chunks_exact_mut(KEY_LEN).zip(fields) {
            slot.copy_from_slice(key.bytes());
        }
        drop(keys);
        drop(master);
        Ok(Self {
            shield: RwLock::new(Shield::new(&ring)?),
            generation: AtomicU64::new(0),
        })
    }

    /// Runs `f` with the record keys, rebuilt from the shield and wiped when `f` returns.
    pub fn with_record_keys<R>(&self, f: impl FnOnce(&RecordKeys) -> R) -> R {
        let shield = self.shield.read().unwrap_or_else(PoisonError::into_inner);
        shield.with(|ring| {
            let key = |i: usize| {
                let mut k = [0u8; KEY_LEN];
                k.copy_from_slice(&ring[i * KEY_LEN..(i + 1) * KEY_LEN]);
                SubKey(k)
            };
            let keys = RecordKeys {
                wrap: key(1),
                mac: key(2),
                security_mac: key(3),
                security_enc: key(4),
            };
            f(&keys)
        })
    }

    /// Runs `f` with the master key (to derive a key used once, such as the bot token's),
    /// rebuilt from the shield and wiped when `f` returns.
    pub fn with_master<R>(&self, f: impl FnOnce(&MasterKey) -> R) -> R {
        let shield = self.shield.read().unwrap_or_else(PoisonError::into_inner);
        shield.with(|ring| {
            let mut k = [0u8; KEY_LEN];
            k.copy_from_slice(&ring[..KEY_LEN]);
            f(&MasterKey(k))
        })
    }

    /// Re-randomizes the shield: new pages, walk and mask for the same keys.
    pub fn rerandomize(&self) -> Result<(), ShieldError> {
        let fresh = {
            let shield = self.shield.read().unwrap_or_else(PoisonError::into_inner);
            shield.rerandomized()?
        };
        *self.shield.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        self.generation.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// How many times the shield was re-randomized since start.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_give_independent_keys_and_derivation_is_stable() {
        let m = MasterKey::from_bytes(Zeroizing::new([7u8; 32]));
        let a = m.derive(KeyPurpose::WalletWrap);
        let b = m.derive(KeyPurpose::RecordMac);
        assert_ne!(a.bytes(), b.bytes());
        let all = [
            KeyPurpose::WalletWrap,
            KeyPurpose::RecordMac,
            KeyPurpose::SecurityMac,
            KeyPurpose::SecurityEnc,
            KeyPurpose::BotToken,
            KeyPurpose::RecoveryCheck,
        ];
        for (i, x) in all.iter().enumerate() {
            for y in &all[i + 1..] {
                assert_ne!(m.derive(*x).bytes(), m.derive(*y).bytes(), "{x:?} {y:?}");
            }
        }
        assert_eq!(a.bytes(), m.derive(KeyPurpose::WalletWrap).bytes());
        let other = MasterKey::from_bytes(Zeroizing::new([8u8; 32]));
        assert_ne!(a.bytes(), other.derive(KeyPurpose::WalletWrap).bytes());
    }

    #[test]
    fn the_vault_gives_the_derived_keys_before_and_after_rerandomizing() {
        let bytes = [9u8; 32];
        let plain = RecordKeys::derive(&MasterKey::from_bytes(Zeroizing::new(bytes)));
        let vault = KeyVault::new(MasterKey::from_bytes(Zeroizing::new(bytes))).unwrap();
        let same = |k: &RecordKeys| {
            k.wrap.bytes() == plain.wrap.bytes()
                && k.mac.bytes() == plain.mac.bytes()
                && k.security_mac.bytes() == plain.security_mac.bytes()
                && k.security_enc.bytes() == plain.security_enc.bytes()
        };
        assert!(vault.with_record_keys(same));
        assert_eq!(vault.with_master(|m| *m.bytes()), bytes);
        vault.rerandomize().unwrap();
        assert_eq!(vault.generation(), 1);
        assert!(vault.with_record_keys(same));
        assert_eq!(vault.with_master(|m| *m.bytes()), bytes);
    }
}
