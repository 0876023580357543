//! Why an unseal was refused.

use std::fmt;

use crate::error::Error;
use crate::hex;
use crate::rc::ResponseCode;

/// The step of the policy session at which the TPM refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyCheck {
    /// TPM2_PolicyPCR: PCR 7 or 11 is not the policy's value.
    Pcrs,
    /// TPM2_PolicyNV: the counter is beyond the policy's version.
    Counter,
    /// TPM2_PolicyAuthorize: the session's digest is not the signed one, or the ticket
    /// is not the TPM's own.
    Authorize,
    /// TPM2_Unseal: the object is sealed to another policy key.
    SealedObject,
}

impl fmt::Display for PolicyCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyCheck::Pcrs => "PolicyPCR (PCR 7/11 differ from the signed policy)",
            PolicyCheck::Counter => "PolicyNV (the counter is beyond the policy's version)",
            PolicyCheck::Authorize => "PolicyAuthorize (the session is not the signed policy)",
            PolicyCheck::SealedObject => "Unseal (the object is sealed to another policy key)",
        })
    }
}

/// One PCR whose current value is not the policy's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcrDiff {
    /// The PCR index (7 or 11).
    pub pcr: u8,
    /// The value the signed policy expects.
    pub policy: [u8; 32],
    /// The value the TPM holds now.
    pub current: [u8; 32],
}

impl fmt::Display for PcrDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PCR {}: policy {}, current {}",
            self.pcr,
            hex::encode(&self.policy),
            hex::encode(&self.current)
        )
    }
}

fn list(diffs: &[PcrDiff]) -> String {
    diffs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why the master key was not unsealed. Never carries secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnsealError {
    /// The policy names another rollback counter than the sealed key.
    #[error("the policy was signed for NV counter {policy:#010x}, but the key is sealed with counter {sealed:#010x}")]
    CounterMismatch {
        /// The policy's counter index.
        policy: u32,
        /// The sealed key's counter index.
        sealed: u32,
    },
    /// The signature is not the sealed key's policy key's over this policy: signed by
    /// another key, or altered.
    #[error("the policy is not signed by the sealed key's policy key (another key, or altered)")]
    NotSignedByPolicyKey,
    /// This boot's PCRs are not the policy's (another image, or Secure Boot state).
    #[error("this boot's PCRs differ from the signed policy: {}", list(.0))]
    PcrMismatch(Vec<PcrDiff>),
    /// The counter has passed the policy's version: an older image than one already run.
    #[error("rolled back: the counter is at {counter}, beyond the policy's version {version}")]
    RolledBack {
        /// The counter's value.
        counter: u64,
        /// The policy's version.
        version: u64,
    },
    /// The TPM itself refused the policy at `check`.
    #[error("the TPM refused the policy at {check}: {rc}")]
    PolicyMismatch {
        /// The refusing step.
        check: PolicyCheck,
        /// The TPM's response code.
        rc: ResponseCode,
    },
    /// The object unsealed to data that is not a 32-byte key.
    #[error("the sealed data is {0} bytes, not a 32-byte key")]
    WrongSecretLength(usize),
    /// Any other TPM failure (transport, unexpected response code, counter state).
    #[error(transparent)]
    Tpm(#[from] Error),
}
