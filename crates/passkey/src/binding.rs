//! The approval binding: what an approval is for, and the challenge derived from it.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Domain separation string of the approval challenge.
pub const APPROVAL_DOMAIN: &[u8] = b"custos/v1/passkey-approval";

/// Length of the random nonce mixed into every approval challenge.
pub(crate) const NONCE_LEN: usize = 16;

/// What a passkey approval approves: one confirmation, one transaction.
///
/// The signer builds it from its own confirmation record; it never comes from the
/// browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApprovalBinding {
    /// The confirmation's 128-bit id.
    pub confirmation_id: [u8; 16],
    /// SHA-256 of the transaction the user approves.
    pub transaction_hash: [u8; 32],
}

impl ApprovalBinding {
    /// The WebAuthn challenge for this binding and `nonce`:
    /// `SHA-256(APPROVAL_DOMAIN || confirmation_id || transaction_hash || nonce)`.
    pub fn challenge(&self, nonce: &[u8; 16]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(APPROVAL_DOMAIN);
        h.update(self.confirmation_id);
        h.update(self.transaction_hash);
        h.update(nonce);
        h.finalize().into()
    }

    /// Constant-time equality (the binding is not secret, but the comparison costs
    /// nothing).
    pub(crate) fn ct_eq(&self, other: &Self) -> bool {
        let a = self
            .confirmation_id
            .ct_eq(&other.confirmation_id)
            .unwrap_u8();
        let b = self
            .transaction_hash
            .ct_eq(&other.transaction_hash)
            .unwrap_u8();
        (a & b) == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_commits_to_every_field() {
        let b = ApprovalBinding {
            confirmation_id: [1; 16],
            transaction_hash: [2; 32],
        };
        let n = [3; 16];
        let c = b.challenge(&n);
        let mut other = b;
        other.confirmation_id[15] ^= 1;
        assert_ne!(c, other.challenge(&n));
        let mut other = b;
        other.transaction_hash[0] ^= 1;
        assert_ne!(c, other.challenge(&n));
        assert_ne!(c, b.challenge(&[4; 16]));
        // The documented construction, spelled out.
        let mut input = APPROVAL_DOMAIN.to_vec();
        input.extend_from_slice(&[1; 16]);
        input.extend_from_slice(&[2; 32]);
        input.extend_from_slice(&[3; 16]);
        assert_eq!(c, <[u8; 32]>::from(Sha256::digest(&input)));
        assert!(b.ct_eq(&b) && !b.ct_eq(&other));
    }
}
