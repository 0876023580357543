//! Signed image policies: which measured boot (PCR 7 and 11 values) may unseal the master
//! key, up to which release version, as approved offline by the operator's key.
//!
//! The sealed object's authPolicy is `PolicyAuthorize(policy key, POLICY_REF)`; a release
//! ships an [`ImagePolicy`] whose approved digest is PolicyPCR(SHA-256 {7, 11}) followed
//! by PolicyNV(counter ≤ version), signed with the [`PolicySigningKey`] ([`sign_policy`]).
//! A new image needs a new signature, never a reseal; the counter refuses older ones.

mod keys;
mod signed;

pub use keys::{KeyError, PolicyPublicKey, PolicySigningKey};
pub use signed::{sign_policy, PolicyFormatError, SignedPolicy};

use sha2::{Digest, Sha256};

use crate::digest::{nv_name, policy_nv_digest, Name, NvOp};
use crate::nv::{CounterSpec, NvIndex, NvPublic};
use crate::pcr::{extend_policy_pcr, PcrSelection};

/// The policyRef every Custos image policy is signed for, so a signature by the same key
/// for another purpose cannot authorize an unseal.
pub const POLICY_REF: &[u8] = b"custos/v1/image";

/// The rollback counter's definition. Fixed, so an offline signer computes the counter's
/// name (which PolicyNV folds into the digest) from its index alone.
pub const COUNTER_SPEC: CounterSpec = CounterSpec { policy: None };

/// The PCRs an image policy binds: 7 (Secure Boot state and keys) and 11 (the UKI).
pub fn pcr_selection() -> PcrSelection {
    // Both indices are below 24: this cannot fail.
    PcrSelection::sha256(&[7, 11]).expect("PCRs 7 and 11 exist")
}

/// The counter's public area once written (incremented at least once), as the TPM
/// reports it and names it.
pub fn counter_public(index: NvIndex) -> NvPublic {
    NvPublic {
        index: index.handle(),
        name_alg: crate::pcr::ALG_SHA256,
        attributes: COUNTER_SPEC.attributes() | crate::nv::WRITTEN,
        auth_policy: Vec::new(),
        data_size: 8,
    }
}

/// The written counter's TPM name.
pub fn counter_name(index: NvIndex) -> Name {
    nv_name(&counter_public(index))
}

/// What a release's image may do: unseal while PCR 7 and PCR 11 hold these values and the
/// rollback counter has not passed `version`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImagePolicy {
    /// The release version; the image advances the counter to it after unsealing.
    pub version: u64,
    /// The expected SHA-256 PCR 7.
    pub pcr7: [u8; 32],
    /// The expected SHA-256 PCR 11.
    pub pcr11: [u8; 32],
}

impl ImagePolicy {
    /// The policy digest the key approves: PolicyPCR(SHA-256 {7, 11} = pcr7, pcr11) then
    /// PolicyNV(`counter`, operandB = version as u64 big-endian, offset 0,
    /// `TPM_EO_UNSIGNED_LE`), i.e. "counter ≤ version".
    pub fn approved_digest(&self, counter: NvIndex) -> [u8; 32] {
        let pcr = extend_policy_pcr(&[0; 32], &pcr_selection(), &[self.pcr7, self.pcr11])
            .expect("two values for two PCRs");
        policy_nv_digest(
            &pcr,
            &self.version.to_be_bytes(),
            0,
            NvOp::UnsignedLe,
            &counter_name(counter),
        )
    }

    /// The digest of the expected PCR values (what TPM2_PolicyPCR checks).
    pub fn pcr_digest(&self) -> [u8; 32] {
        Sha256::new()
            .chain_update(self.pcr7)
            .chain_update(self.pcr11)
            .finalize()
            .into()
    }
}

/// What the policy key signs: `aHash = SHA-256(approvedDigest || POLICY_REF)`.
pub fn a_hash(approved: &[u8; 32]) -> [u8; 32] {
    Sha256::new()
        .chain_update(approved)
        .chain_update(POLICY_REF)
        .finalize()
        .into()
}
