//! The signer's TPM: where the master key is sealed ([`seal`]), which TPM that is
//! ([`device`]), and quotes for remote attestation ([`attest`]).
//!
//! Only the signer talks to the TPM: in the authorized image any process that could send
//! TPM commands could satisfy the seal's PCR policy, so the TPM is as sensitive as the key.

pub mod attest;
pub mod device;
pub mod seal;

pub use attest::Attestor;
pub use device::TpmDevice;
