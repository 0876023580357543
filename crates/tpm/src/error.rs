//! The errors of this crate.

use crate::rc::ResponseCode;

/// Why a TPM operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TPM could not be reached, or the connection broke.
    #[error("TPM transport: {0}")]
    Io(#[from] std::io::Error),
    /// The TPM refused the command; match on [`ResponseCode::rc`] for the reason.
    #[error("the TPM returned {0}")]
    Tpm(ResponseCode),
    /// The policy session's digest is not the sealed object's policy: the PCRs (the
    /// measured boot) are not the ones the object was sealed to.
    #[error("the PCRs do not match the sealed object's policy ({0})")]
    PolicyMismatch(ResponseCode),
    /// The TPM's response does not parse as the command's response.
    #[error("malformed TPM response: {0}")]
    Malformed(&'static str),
    /// A request this crate will not send (e.g. a PCR index beyond the selection size).
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// The NV index exists but is not a counter (`TPM_NT_COUNTER`): someone else's index,
    /// which Custos must not treat as its rollback counter.
    #[error("NV index {index:#010x} is not a counter")]
    NotACounter {
        /// The NV index handle.
        index: u32,
    },
    /// The NV index is a counter whose public area differs from the one Custos defines
    /// (attributes, name algorithm, size or policy), so its value cannot be trusted.
    #[error("NV index {index:#010x}: {what} differ from Custos's counter (expected {expected:#x}, found {found:#x})")]
    NvPublicMismatch {
        /// The NV index handle.
        index: u32,
        /// Which field differs, e.g. "attributes".
        what: &'static str,
        /// The value Custos defines (for the policy: 1 if one is expected, 0 if not).
        expected: u32,
        /// The value the TPM reports.
        found: u32,
    },
    /// The rollback counter was never incremented, so it has no value (and no final name).
    #[error("NV counter {index:#010x} was never incremented (genesis did not complete)")]
    CounterUnwritten {
        /// The NV index handle.
        index: u32,
    },
    /// The rollback counter is already beyond the value it was to be advanced to.
    #[error("NV counter {index:#010x} is at {value}, beyond {target}: it only goes up")]
    CounterAhead {
        /// The NV index handle.
        index: u32,
        /// Its value.
        value: u64,
        /// The requested value.
        target: u64,
    },
    /// Advancing the counter would take more increments than allowed at once.
    #[error("NV counter {index:#010x} is at {value}: advancing to {target} takes more than {max} increments (a mistyped version?)")]
    CounterJump {
        /// The NV index handle.
        index: u32,
        /// Its value.
        value: u64,
        /// The requested value.
        target: u64,
        /// The most increments allowed at once.
        max: u64,
    },
}
