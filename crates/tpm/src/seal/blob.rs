//! The sealed master key as stored on the data disk, and its canonical binary form.

use crate::digest::policy_authorize_digest;
use crate::marshal::Reader;
use crate::nv::NvIndex;
use crate::object::{SealedObject, ALG_KEYEDHASH, USER_WITH_AUTH};
use crate::pcr::ALG_SHA256;
use crate::policy::{PolicyPublicKey, POLICY_REF};

/// Identifies a sealed master key file.
const MAGIC: &[u8; 16] = b"CUSTOS-TPM-SEAL1";
/// The layout below; bumped on any change.
const FORMAT_VERSION: u16 = 1;

/// Why bytes are not a sealed master key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealFormatError {
    /// The bytes do not start with the sealed-key magic.
    #[error("not a Custos TPM-sealed key (bad magic)")]
    BadMagic,
    /// A format version this build does not read.
    #[error("unsupported sealed key format version {0} (this build reads version 1)")]
    UnsupportedFormat(u16),
    /// The input ends inside a field.
    #[error("truncated in the {0}")]
    Truncated(&'static str),
    /// Bytes follow the last field.
    #[error("{0} trailing bytes after the sealed object")]
    TrailingBytes(usize),
    /// The policy key is not a P-256 point.
    #[error("the policy public key is not a P-256 point")]
    BadPolicyKey,
    /// The counter field is not an NV index handle.
    #[error("counter {0:#010x} is not an NV index handle")]
    BadCounter(u32),
    /// The TPM object's public area is not a policy-only sealed data object.
    #[error("the TPM object is not a policy-only sealed data object: {0}")]
    NotASealedObject(&'static str),
    /// The TPM object's authPolicy is not PolicyAuthorize(policy key, POLICY_REF): the
    /// policy key in the file is not the one the object was sealed to.
    #[error("the TPM object is not sealed to the file's policy key")]
    PolicyKeyMismatch,
}

/// The master key sealed by a TPM: the policy key and rollback counter it trusts, and the
/// TPM's sealed data object (loadable only by that TPM, under that key's signed policies).
/// Holds no secret in the clear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedMasterKey {
    policy_key: PolicyPublicKey,
    counter: NvIndex,
    object: SealedObject,
}

impl SealedMasterKey {
    pub(crate) fn new(policy_key: PolicyPublicKey, counter: NvIndex, object: SealedObject) -> Self {
        Self {
            policy_key,
            counter,
            object,
        }
    }

    /// The operator's policy key whose signed policies unseal it.
    pub fn policy_key(&self) -> &PolicyPublicKey {
        &self.policy_key
    }

    /// The rollback counter.
    pub fn counter(&self) -> NvIndex {
        self.counter
    }

    /// The TPM's sealed data object.
    pub fn object(&self) -> &SealedObject {
        &self.object
    }

    /// The canonical encoding: magic | format u16 | policy key (SEC1 uncompressed, 65) |
    /// counter u32 | TPM2B_PRIVATE | TPM2B_PUBLIC, integers big-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            16 + 2 + 65 + 4 + self.object.private.len() + self.object.public.len(),
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        out.extend_from_slice(&self.policy_key.to_sec1());
        out.extend_from_slice(&self.counter.handle().to_be_bytes());
        out.extend_from_slice(&self.object.private);
        out.extend_from_slice(&self.object.public);
        out
    }

    /// Parses the canonical encoding, and checks that the object is a sealed data object
    /// usable only through a policy, whose authPolicy is PolicyAuthorize(the file's key).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealFormatError> {
        use SealFormatError::*;
        let mut r = Reader::new(bytes);
        let magic = r.take(MAGIC.len()).map_err(|_| BadMagic)?;
        if magic != MAGIC {
            return Err(BadMagic);
        }
        let format = r.u16().map_err(|_| Truncated("format version"))?;
        if format != FORMAT_VERSION {
            return Err(UnsupportedFormat(format));
        }
        let key = r.take(65).map_err(|_| Truncated("policy key"))?;
        if key[0] != 4 {
            return Err(BadPolicyKey); // the canonical form is uncompressed
        }
        let policy_key = PolicyPublicKey::from_sec1(key).map_err(|_| BadPolicyKey)?;
        let raw = r.u32().map_err(|_| Truncated("counter"))?;
        let counter = NvIndex::new(raw).map_err(|_| BadCounter(raw))?;
        let private = with_size(r.tpm2b().map_err(|_| Truncated("TPM private area"))?);
        let public_body = r.tpm2b().map_err(|_| Truncated("TPM public area"))?;
        if r.remaining() != 0 {
            return Err(TrailingBytes(r.remaining()));
        }
        check_public(public_body, &policy_key)?;
        Ok(Self {
            policy_key,
            counter,
            object: SealedObject {
                private,
                public: with_size(public_body),
            },
        })
    }
}

fn with_size(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Checks a TPMT_PUBLIC: a keyed-hash sealed data object (SHA-256 names), no password
/// use, authPolicy = PolicyAuthorize(`key`, POLICY_REF).
fn check_public(body: &[u8], key: &PolicyPublicKey) -> Result<(), SealFormatError> {
    use SealFormatError::NotASealedObject as Not;
    let mut r = Reader::new(body);
    let short = |_| Not("public area truncated");
    let (ty, name_alg, attributes) = (
        r.u16().map_err(short)?,
        r.u16().map_err(short)?,
        r.u32().map_err(short)?,
    );
    let auth_policy = r.tpm2b().map_err(short)?;
    if ty != ALG_KEYEDHASH {
        return Err(Not("not a keyed-hash object"));
    }
    if name_alg != ALG_SHA256 {
        return Err(Not("name algorithm is not SHA-256"));
    }
    if attributes & USER_WITH_AUTH != 0 {
        return Err(Not("userWithAuth is set (a password could unseal it)"));
    }
    if auth_policy != policy_authorize_digest(&key.name(), POLICY_REF) {
        return Err(SealFormatError::PolicyKeyMismatch);
    }
    Ok(())
}
