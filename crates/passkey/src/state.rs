//! Ceremony state kept between `begin_*` and `finish_*`.
//!
//! Both states serialise to bytes (versioned JSON). The bytes are **not** authenticated:
//! keep them in the verifying process's memory, or seal them before they leave it.

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{PasskeyAuthentication, PasskeyRegistration, Uuid};

use crate::binding::{ApprovalBinding, NONCE_LEN};
use crate::error::PasskeyError;

/// Version of the state encodings.
const VERSION: u8 = 1;

/// A registration in progress, made by
/// [`Passkeys::begin_registration`](crate::Passkeys::begin_registration) and consumed by
/// [`Passkeys::finish_registration`](crate::Passkeys::finish_registration).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationState {
    pub(crate) registration_v: u8,
    pub(crate) user_uuid: Uuid,
    pub(crate) challenge: Vec<u8>,
    pub(crate) expires_at: u64,
    pub(crate) existing: Vec<Vec<u8>>,
    pub(crate) inner: PasskeyRegistration,
}

/// An approval in progress, made by
/// [`Passkeys::begin_approval`](crate::Passkeys::begin_approval) and consumed by
/// [`Passkeys::finish_approval`](crate::Passkeys::finish_approval). It remembers the
/// [`ApprovalBinding`], the nonce of the challenge and the expiry.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthenticationState {
    pub(crate) approval_v: u8,
    pub(crate) confirmation_id: [u8; 16],
    pub(crate) transaction_hash: [u8; 32],
    pub(crate) nonce: [u8; NONCE_LEN],
    pub(crate) expires_at: u64,
    pub(crate) inner: PasskeyAuthentication,
}

impl RegistrationState {
    pub(crate) fn new(
        user_uuid: Uuid,
        challenge: Vec<u8>,
        expires_at: u64,
        existing: Vec<Vec<u8>>,
        inner: PasskeyRegistration,
    ) -> Self {
        Self {
            registration_v: VERSION,
            user_uuid,
            challenge,
            expires_at,
            existing,
            inner,
        }
    }

    /// The state as bytes, to keep until the browser answers.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a registration state always serialises")
    }

    /// Reads bytes made by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PasskeyError> {
        let s: Self = serde_json::from_slice(bytes).map_err(|_| PasskeyError::MalformedState)?;
        if s.registration_v != VERSION {
            return Err(PasskeyError::MalformedState);
        }
        Ok(s)
    }

    /// The user the passkey is being registered for.
    pub fn user_uuid(&self) -> Uuid {
        self.user_uuid
    }

    /// When the ceremony expires, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

impl AuthenticationState {
    pub(crate) fn new(
        binding: &ApprovalBinding,
        nonce: [u8; NONCE_LEN],
        expires_at: u64,
        inner: PasskeyAuthentication,
    ) -> Self {
        Self {
            approval_v: VERSION,
            confirmation_id: binding.confirmation_id,
            transaction_hash: binding.transaction_hash,
            nonce,
            expires_at,
            inner,
        }
    }

    /// The state as bytes, to keep until the browser answers.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an authentication state always serialises")
    }

    /// Reads bytes made by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PasskeyError> {
        let s: Self = serde_json::from_slice(bytes).map_err(|_| PasskeyError::MalformedState)?;
        if s.approval_v != VERSION {
            return Err(PasskeyError::MalformedState);
        }
        Ok(s)
    }

    /// The confirmation and transaction this approval is for.
    pub fn binding(&self) -> ApprovalBinding {
        ApprovalBinding {
            confirmation_id: self.confirmation_id,
            transaction_hash: self.transaction_hash,
        }
    }

    /// The WebAuthn challenge of this approval (derived from the binding and the nonce).
    pub fn challenge(&self) -> [u8; 32] {
        self.binding().challenge(&self.nonce)
    }

    /// When the ceremony expires, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }
}
