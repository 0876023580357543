//! TPM names and policy digests computed offline, exactly as the TPM computes them, so an
//! offline signer can approve a policy without the TPM it will run on.

use sha2::{Digest, Sha256};

use crate::external::ecc_p256_verify_public;
use crate::marshal::Writer;
use crate::nv::NvPublic;
use crate::pcr::ALG_SHA256;

/// `TPM_CC_PolicyNV`, which the policy digest folds in.
const CC_POLICY_NV: u32 = 0x149;
/// `TPM_CC_PolicyAuthorize`, which the policy digest folds in.
const CC_POLICY_AUTHORIZE: u32 = 0x16A;

/// A TPM name with the SHA-256 name algorithm: `TPM_ALG_SHA256 || SHA-256(public area)`.
pub type Name = [u8; 34];

/// The comparison TPM2_PolicyNV makes between the NV data (A) and the operand (B):
/// `TPM_EO` (TPM 2.0 Part 2, 6.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum NvOp {
    /// A = B.
    Eq = 0x0000,
    /// A ≠ B.
    Neq = 0x0001,
    /// A > B, signed.
    SignedGt = 0x0002,
    /// A > B, unsigned.
    UnsignedGt = 0x0003,
    /// A < B, signed.
    SignedLt = 0x0004,
    /// A < B, unsigned.
    UnsignedLt = 0x0005,
    /// A ≥ B, signed.
    SignedGe = 0x0006,
    /// A ≥ B, unsigned.
    UnsignedGe = 0x0007,
    /// A ≤ B, signed.
    SignedLe = 0x0008,
    /// A ≤ B, unsigned.
    UnsignedLe = 0x0009,
    /// All bits set in B are set in A.
    BitSet = 0x000A,
    /// All bits set in B are clear in A.
    BitClear = 0x000B,
}

fn sha256_name(public_area: &[u8]) -> Name {
    let mut name = [0u8; 34];
    name[..2].copy_from_slice(&ALG_SHA256.to_be_bytes());
    name[2..].copy_from_slice(&Sha256::digest(public_area));
    name
}

/// The name TPM2_LoadExternal gives the ECC P-256 ECDSA-SHA256 verification key with the
/// public point (`x`, `y`) (see [`crate::Tpm::load_external_p256`]).
pub fn ecc_p256_key_name(x: &[u8; 32], y: &[u8; 32]) -> Name {
    sha256_name(&ecc_p256_verify_public(x, y))
}

/// The name of an NV index: `TPM_ALG_SHA256 || SHA-256(TPMS_NV_PUBLIC)`. The attributes
/// include state such as `TPMA_NV_WRITTEN`, so a counter's name changes at its first
/// increment and is stable from then on. `public.name_alg` must be SHA-256.
pub fn nv_name(public: &NvPublic) -> Name {
    let mut w = Writer::default();
    w.u32(public.index)
        .u16(public.name_alg)
        .u32(public.attributes)
        .tpm2b(&public.auth_policy)
        .u16(public.data_size);
    sha256_name(&w.buf)
}

/// TPM2_PolicyNV's update of the policy digest `prev` (TPM 2.0 Part 3, 23.9):
/// `SHA-256(prev || TPM_CC_PolicyNV || SHA-256(operandB || offset || operation) || nvName)`.
pub fn policy_nv_digest(
    prev: &[u8; 32],
    operand_b: &[u8],
    offset: u16,
    op: NvOp,
    nv_name: &[u8],
) -> [u8; 32] {
    let args = Sha256::new()
        .chain_update(operand_b)
        .chain_update(offset.to_be_bytes())
        .chain_update((op as u16).to_be_bytes())
        .finalize();
    Sha256::new()
        .chain_update(prev)
        .chain_update(CC_POLICY_NV.to_be_bytes())
        .chain_update(args)
        .chain_update(nv_name)
        .finalize()
        .into()
}

/// The policy digest after TPM2_PolicyAuthorize (TPM 2.0 Part 3, 23.16), which starts
/// from zero whatever came before: `SHA-256(SHA-256(0^32 || TPM_CC_PolicyAuthorize ||
/// keyName) || policyRef)`. An object with this authPolicy opens under any policy the
/// key signs for `policy_ref`.
pub fn policy_authorize_digest(key_name: &[u8], policy_ref: &[u8]) -> [u8; 32] {
    let inner = Sha256::new()
        .chain_update([0u8; 32])
        .chain_update(CC_POLICY_AUTHORIZE.to_be_bytes())
        .chain_update(key_name)
        .finalize();
    Sha256::new()
        .chain_update(inner)
        .chain_update(policy_ref)
        .finalize()
        .into()
}
