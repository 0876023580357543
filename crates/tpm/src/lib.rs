//! A small pure-Rust TPM 2.0 client: no C library, no `unsafe`, so it links into the static
//! (musl) `custos` binary that runs as `/init` of the signed image, where tss-esapi cannot.
//!
//! For issue 6 (sealing the master key to the measured boot state, see
//! docs/design/measured-boot.md). It covers only what sealing to signed PCR 7 + 11
//! policies needs:
//!
//! - `marshal` (private) — big-endian command and response framing;
//! - [`rc`] — TPM response codes decoded into the specification's names
//!   (e.g. `TPM_RC_POLICY_FAIL (0x99d, session 1)`);
//! - [`transport`] — `/dev/tpmrm0` ([`DeviceTransport`]) and swtpm over TCP
//!   ([`SwtpmTransport`]);
//! - [`pcr`] — SHA-256 PCR selections and the offline TPM2_PolicyPCR digest
//!   ([`policy_pcr_digest`]);
//! - [`Tpm`] — the commands: Startup, GetRandom, PCR_Read, PCR_Extend, StartAuthSession,
//!   PolicyPCR, PolicyGetDigest, FlushContext; and sealing: CreatePrimary (ECC P-256
//!   storage key), Create of a sealed data object bound to a policy digest, Load, and
//!   Unseal under a PolicyPCR policy session ([`Error::PolicyMismatch`] when the PCRs moved);
//! - [`nv`] — a monotonic NV counter against rollback (define, increment, read, check);
//! - [`attest`] — an ECC P-256 attestation key, TPM2_Quote with the verifier's nonce, and
//!   [`verify_quote`], the offline check of a quote's signature, nonce and PCRs;
//! - signed policies: TPM2_LoadExternal and TPM2_VerifySignature of an outside P-256 key,
//!   TPM2_PolicyNV, TPM2_PolicyAuthorize, and [`digest`], the names and policy digests
//!   computed offline;
//! - [`policy`] — an image policy (PCR 7 + 11 and a version), signed by the operator's key;
//! - [`seal`] — the master key sealed to such policies, with an NV counter against rollback.
//!
//! Sessions are unsalted and unbound, without parameter encryption: commands and responses
//! cross the bus in the clear. That suits PCR policies (their security is the TPM's check of
//! the PCRs, not a secret in the session), not secrets sent to or from the TPM.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attest;
pub mod digest;
mod error;
mod external;
mod hex;
mod marshal;
pub mod nv;
mod object;
pub mod pcr;
pub mod policy;
mod policy_cmd;
pub mod rc;
pub mod seal;
mod tpm;
pub mod transport;

pub use attest::{
    parse_quote, verify_quote, AkPublic, AttestationKey, Quote, QuoteInfo, VerifyError,
};
pub use digest::{
    ecc_p256_key_name, nv_name, policy_authorize_digest, policy_nv_digest, Name, NvOp,
};
pub use error::Error;
pub use external::{ExternalKey, VerifiedTicket};
pub use nv::{CounterSpec, NvIndex, NvPublic};
pub use object::{ObjectHandle, SealedObject, MAX_SEALED_LEN};
pub use pcr::{extend_policy_pcr, policy_pcr_digest, PcrSelection};
pub use rc::{Rc, RcLocation, ResponseCode};
pub use tpm::{Session, SessionType, Tpm};
pub use transport::{swtpm_power_on, DeviceTransport, SwtpmTransport, Transport};
