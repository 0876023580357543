//! Error types of the crate.

use solana_message::v1::MessageError;
use solana_sanitize::SanitizeError;

/// Why a byte string is not an acceptable transaction or message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is empty.
    #[error("empty input")]
    Empty,
    /// The input (or the wire transaction it would form) is larger than the version allows.
    #[error("transaction is {len} bytes, above the {max}-byte limit")]
    TooLarge {
        /// Size of the (would-be) wire transaction in bytes.
        len: usize,
        /// Limit for this version.
        max: usize,
    },
    /// The bytes do not follow the wire format (truncated, bad lengths, bad version, ...).
    #[error("malformed encoding: {0}")]
    Malformed(String),
    /// A valid encoding is followed by extra bytes.
    #[error("{0} trailing bytes after the encoded data")]
    TrailingBytes(usize),
    /// The bytes decode, but re-encoding does not give the same bytes back.
    #[error("non-canonical encoding")]
    NonCanonical,
    /// A legacy or v0 message failed the runtime's sanitize checks.
    #[error("message failed sanitize: {0}")]
    Sanitize(SanitizeError),
    /// A V1 message failed validation.
    #[error("V1 message invalid: {0}")]
    V1Invalid(MessageError),
    /// The number of signatures differs from the header's `num_required_signatures`.
    #[error("{found} signatures present, {expected} required")]
    SignatureCountMismatch {
        /// `num_required_signatures` from the header.
        expected: usize,
        /// Signatures in the wire transaction.
        found: usize,
    },
    /// The same address appears twice among the static account keys.
    #[error("duplicate account key")]
    DuplicateAccountKey,
    /// `to_wire_with_signature` was given a position outside the required signers.
    #[error("signer position {position} out of range ({signers} required signers)")]
    SignerPositionOutOfRange {
        /// The position asked for.
        position: usize,
        /// Number of required signers.
        signers: usize,
    },
    /// Neither a wire transaction nor a bare message (from `parse_any`).
    #[error("not a transaction ({as_transaction}) nor a message ({as_message})")]
    Unparseable {
        /// Error when parsed as a wire transaction.
        as_transaction: Box<DecodeError>,
        /// Error when parsed as a bare message.
        as_message: Box<DecodeError>,
    },
}

/// Why a lookup-table JSON document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// Not JSON of the shape `{"<table>": ["<address>", ...]}`.
    #[error("invalid lookup table JSON: {0}")]
    Json(String),
    /// A table or entry is not a base58 32-byte address.
    #[error("invalid address {0:?}")]
    InvalidAddress(String),
    /// A table holds more than 256 addresses (the on-chain maximum).
    #[error("lookup table {table} has {len} entries, more than 256")]
    TooManyEntries {
        /// The table address.
        table: String,
        /// Number of entries given.
        len: usize,
    },
}
