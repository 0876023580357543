//! A registered passkey, as it is kept in the user's security record.

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::Passkey;

use crate::ceremony::ApprovedBy;
use crate::error::PasskeyError;

/// Version of the stored passkey encoding.
const VERSION: u8 = 1;

/// A registered passkey: its credential id, public key, signature counter and backup
/// flags. Not secret, but it decides who can approve: keep it only in the user's
/// authenticated security record.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredPasskey {
    passkey_v: u8,
    passkey: Passkey,
}

impl StoredPasskey {
    pub(crate) fn new(passkey: Passkey) -> Self {
        Self {
            passkey_v: VERSION,
            passkey,
        }
    }

    pub(crate) fn passkey(&self) -> &Passkey {
        &self.passkey
    }

    /// The credential id (raw bytes).
    pub fn credential_id(&self) -> &[u8] {
        self.passkey.cred_id()
    }

    /// The passkey as bytes (versioned JSON).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a passkey always serialises")
    }

    /// Reads bytes made by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PasskeyError> {
        let s: Self = serde_json::from_slice(bytes).map_err(|_| PasskeyError::MalformedPasskey)?;
        if s.passkey_v != VERSION {
            return Err(PasskeyError::MalformedPasskey);
        }
        Ok(s)
    }

    /// Records a successful approval made with this passkey: raises the stored
    /// signature counter (so a cloned authenticator is noticed) and updates the backup
    /// flags. Returns whether anything changed (then store the passkey again).
    pub fn record_approval(&mut self, approved: &ApprovedBy) -> Result<bool, PasskeyError> {
        self.passkey
            .update_credential(&approved.result)
            .ok_or(PasskeyError::OtherCredential)
    }
}
