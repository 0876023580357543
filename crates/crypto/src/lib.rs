//! Custos key hierarchy and sealed records.
//!
//! * [`seal`]: the [`Seal`](seal::Seal) interface that produces the master key,
//!   and the development backend.
//! * [`keys`]: the master key and the subkeys derived from it with HKDF, one
//!   per purpose, so that no key is ever used for two jobs.
//! * [`record`]: the versioned binary wallet record, whose secret is sealed
//!   with an AEAD bound to every public field.
//! * [`sign`]: key generation from the OS CSPRNG and Ed25519 signing.
//! * [`security`]: the security record binding a user to their Telegram account,
//!   authenticated with its own MAC key, with the user's second-factor state in an
//!   encrypted section.
//! * [`bot_token`]: the AEAD box that keeps the Telegram bot token sealed at rest.
//! * [`shield`]: the key shield - a secret kept only as a mask over many random pages that
//!   must be read in a secret order to rebuild it, for the instant it is used.
//! * [`shamir`] and [`recovery`]: k-of-n Shamir shares of the master key, each encrypted
//!   to a custodian with HPKE, for the disaster-recovery ceremony (groundwork: not called
//!   by the signer yet).
//!
//! Every secret type here zeroizes itself on drop and has no `Debug` output
//! that could reveal it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bot_token;
pub mod export;
pub mod keys;
pub mod record;
pub mod recovery;
pub mod seal;
pub mod security;
pub mod shamir;
pub mod shield;
pub mod sign;

/// Fills `buf` from the operating system's CSPRNG.
pub fn os_random(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::getrandom(buf).map_err(|e| RandomError(e.to_string()))
}

/// The OS CSPRNG failed; nothing secret is in the message.
#[derive(Debug, thiserror::Error)]
#[error("operating system random number generator failed: {0}")]
pub struct RandomError(String);
