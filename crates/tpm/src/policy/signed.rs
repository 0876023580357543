//! A signed image policy and its canonical binary form.

use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::Signature;

use super::{a_hash, ImagePolicy, PolicyPublicKey, PolicySigningKey};
use crate::nv::NvIndex;

/// Identifies a signed image policy file.
const MAGIC: &[u8; 16] = b"CUSTOS-TPM-PLCY1";
/// The layout below; bumped on any change.
const FORMAT_VERSION: u16 = 1;
/// magic | format u16 | version u64 | pcr7 | pcr11 | counter u32 | signature r || s.
const LEN: usize = 16 + 2 + 8 + 32 + 32 + 4 + 64;

/// Why bytes are not a signed image policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyFormatError {
    /// The bytes do not start with the signed-policy magic.
    #[error("not a Custos signed image policy (bad magic)")]
    BadMagic,
    /// A format version this build does not read.
    #[error("unsupported signed policy format version {0} (this build reads version 1)")]
    UnsupportedFormat(u16),
    /// The bytes are not exactly one policy long.
    #[error("a signed policy is {expected} bytes, found {found}")]
    Length {
        /// The format's length.
        expected: usize,
        /// The input's length.
        found: usize,
    },
    /// The counter field is not an NV index handle.
    #[error("counter {0:#010x} is not an NV index handle")]
    BadCounter(u32),
    /// The signature's scalars are out of range (zero or not below the group order).
    #[error("the signature is not a valid ECDSA P-256 encoding")]
    BadSignatureEncoding,
}

/// An [`ImagePolicy`] for one rollback counter, signed by the operator's policy key.
/// Untrusted until checked: the TPM checks the signature again before it unseals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedPolicy {
    policy: ImagePolicy,
    counter: NvIndex,
    signature: [u8; 64],
}

impl SignedPolicy {
    /// The policy.
    pub fn policy(&self) -> &ImagePolicy {
        &self.policy
    }

    /// The rollback counter the policy was signed for.
    pub fn counter(&self) -> NvIndex {
        self.counter
    }

    /// The ECDSA P-256 signature `r || s` over [`SignedPolicy::a_hash`].
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// The approved policy digest (see [`ImagePolicy::approved_digest`]).
    pub fn approved_digest(&self) -> [u8; 32] {
        self.policy.approved_digest(self.counter)
    }

    /// The signed digest: `SHA-256(approvedDigest || POLICY_REF)`.
    pub fn a_hash(&self) -> [u8; 32] {
        a_hash(&self.approved_digest())
    }

    /// Whether `key` made the signature (an offline check; the TPM makes the same one).
    pub fn is_signed_by(&self, key: &PolicyPublicKey) -> bool {
        let Ok(sig) = Signature::from_slice(&self.signature) else {
            return false;
        };
        key.inner().verify_prehash(&self.a_hash(), &sig).is_ok()
    }

    /// The canonical encoding (`LEN` = 158 bytes, big-endian integers).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        out.extend_from_slice(&self.policy.version.to_be_bytes());
        out.extend_from_slice(&self.policy.pcr7);
        out.extend_from_slice(&self.policy.pcr11);
        out.extend_from_slice(&self.counter.handle().to_be_bytes());
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses the canonical encoding; anything else (other length, magic, format,
    /// counter handle, or signature scalars out of range) is refused. The signature
    /// itself is not checked here.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PolicyFormatError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(PolicyFormatError::BadMagic);
        }
        if bytes.len() >= 18 {
            let format = u16::from_be_bytes([bytes[16], bytes[17]]);
            if format != FORMAT_VERSION {
                return Err(PolicyFormatError::UnsupportedFormat(format));
            }
        }
        if bytes.len() != LEN {
            return Err(PolicyFormatError::Length {
                expected: LEN,
                found: bytes.len(),
            });
        }
        let field = |at: usize, n: usize| &bytes[at..at + n];
        let version = u64::from_be_bytes(field(18, 8).try_into().expect("8 bytes"));
        let pcr7 = field(26, 32).try_into().expect("32 bytes");
        let pcr11 = field(58, 32).try_into().expect("32 bytes");
        let raw_counter = u32::from_be_bytes(field(90, 4).try_into().expect("4 bytes"));
        let counter =
            NvIndex::new(raw_counter).map_err(|_| PolicyFormatError::BadCounter(raw_counter))?;
        let signature: [u8; 64] = field(94, 64).try_into().expect("64 bytes");
        Signature::from_slice(&signature).map_err(|_| PolicyFormatError::BadSignatureEncoding)?;
        Ok(Self {
            policy: ImagePolicy {
                version,
                pcr7,
                pcr11,
            },
            counter,
            signature,
        })
    }
}

/// Signs `policy` for the rollback counter `counter`: ECDSA P-256 over
/// `aHash = SHA-256(approvedDigest || POLICY_REF)`, the digest TPM2_VerifySignature and
/// TPM2_PolicyAuthorize check. Deterministic (RFC 6979 nonces).
pub fn sign_policy(policy: &ImagePolicy, counter: NvIndex, key: &PolicySigningKey) -> SignedPolicy {
    let digest = a_hash(&policy.approved_digest(counter));
    let sig: Signature = key
        .inner()
        .sign_prehash(&digest)
        .expect("signing a 32-byte digest with P-256 cannot fail");
    SignedPolicy {
        policy: *policy,
        counter,
        signature: sig.to_bytes().into(),
    }
}
