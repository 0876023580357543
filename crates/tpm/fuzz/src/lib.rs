//! What the targets and the seed tool share: a fixed policy key and image policy, and a
//! fixed software attestation key with the nonce and PCR values its quotes must carry.
//! Fixed, so that the only signed inputs are the ones the seeds (and the targets) make.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use custos_tpm::policy::{sign_policy, ImagePolicy, PolicySigningKey, SignedPolicy};
use custos_tpm::{NvIndex, PcrSelection};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use sha2::{Digest, Sha256};

/// The rollback counter of the seeds (Custos's default range).
pub const COUNTER: u32 = 0x0150_0016;

/// The nonce every quote the `quote` target accepts must carry.
pub const NONCE: [u8; 32] = [0x5a; 32];

/// What PCR 7 and PCR 11 are extended with (once each, from zero) before the seed quote.
pub const EXTEND: [[u8; 32]; 2] = [[7; 32], [11; 32]];

/// A fixed P-256 scalar (any value below the group order).
fn scalar(tag: u8) -> SigningKey {
    let mut bytes = [0x11u8; 32];
    bytes[31] = tag;
    SigningKey::from_slice(&bytes).expect("a valid P-256 scalar")
}

/// The operator's policy key of the `signed_policy` and `sealed_key` seeds.
pub fn policy_key() -> PolicySigningKey {
    let pem = scalar(1)
        .to_pkcs8_pem(LineEnding::LF)
        .expect("PKCS#8 encoding");
    PolicySigningKey::from_pkcs8_pem(&pem).expect("our own PEM")
}

/// The one policy `policy_key` signs (RFC 6979: the same bytes every time).
pub fn reference_policy(key: &PolicySigningKey) -> SignedPolicy {
    let policy = ImagePolicy {
        version: 7,
        pcr7: [0x77; 32],
        pcr11: [0x11; 32],
    };
    sign_policy(&policy, NvIndex::new(COUNTER).expect("an NV index"), key)
}

/// The software attestation key of the `quote` target.
pub fn ak() -> SigningKey {
    scalar(2)
}

/// The AK's SEC1 uncompressed public point, as `verify_quote` takes it.
pub fn ak_sec1() -> Vec<u8> {
    ak().verifying_key()
        .to_sec1_point(false)
        .as_bytes()
        .to_vec()
}

/// Signs `attest` as a TPM's ECDSA-SHA256 AK does: `r || s`.
pub fn sign(attest: &[u8]) -> [u8; 64] {
    let sig: Signature = ak().sign(attest);
    sig.to_bytes().into()
}

/// The quoted selection: SHA-256 PCRs 7 and 11.
pub fn selection() -> PcrSelection {
    PcrSelection::sha256(&[7, 11]).expect("PCRs 7 and 11")
}

/// PCR 7 and PCR 11 after one extend each with `EXTEND`, from zero.
pub fn expected_pcrs() -> [[u8; 32]; 2] {
    EXTEND.map(|e| {
        let mut h = Sha256::new();
        h.update([0u8; 32]);
        h.update(e);
        h.finalize().into()
    })
}

/// A TPMS_ATTEST quote with `NONCE` over `expected_pcrs`, written from the
/// specification (TPM 2.0 Part 2, 10.12.12), not with custos-tpm's code.
pub fn reference_attest() -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(&0xff54_4347u32.to_be_bytes()); // TPM_GENERATED_VALUE
    a.extend_from_slice(&0x8018u16.to_be_bytes()); // TPM_ST_ATTEST_QUOTE
    let signer = [0x5bu8; 34]; // qualifiedSigner: a SHA-256 name
    a.extend_from_slice(&(signer.len() as u16).to_be_bytes());
    a.extend_from_slice(&signer);
    a.extend_from_slice(&(NONCE.len() as u16).to_be_bytes());
    a.extend_from_slice(&NONCE);
    a.extend_from_slice(&1_234_567u64.to_be_bytes()); // clock
    a.extend_from_slice(&3u32.to_be_bytes()); // resetCount
    a.extend_from_slice(&0u32.to_be_bytes()); // restartCount
    a.push(1); // safe
    a.extend_from_slice(&0x2023_0814_0000_0000u64.to_be_bytes()); // firmwareVersion
                                                                  // TPML_PCR_SELECTION: one SHA-256 bank, 3 select bytes, PCR 7 and PCR 11.
    a.extend_from_slice(&1u32.to_be_bytes());
    a.extend_from_slice(&0x000bu16.to_be_bytes());
    a.extend_from_slice(&[3, 0x80, 0x08, 0x00]);
    let mut h = Sha256::new();
    expected_pcrs().iter().for_each(|v| h.update(v));
    a.extend_from_slice(&32u16.to_be_bytes());
    a.extend_from_slice(&h.finalize());
    a
}
