//! Wire-format parsing: legacy, v0 and V1 transactions and bare messages.
//!
//! Parsing is strict: the bytes must re-encode to exactly the input, the message must pass
//! the runtime's sanitize (or V1 validate) checks, and sizes are bounded before decoding.

use crate::error::DecodeError;
use crate::Pubkey;
use solana_message::v0::MessageAddressTableLookup;
use solana_message::VersionedMessage;
use solana_transaction::versioned::VersionedTransaction;
use std::collections::BTreeSet;
use std::ops::Range;
use wincode::config::Config;

/// Largest legacy or v0 wire transaction (the packet size limit).
pub const MAX_LEGACY_TX_SIZE: usize = 1232;
/// Largest V1 wire transaction.
pub const MAX_V1_TX_SIZE: usize = 4096;
/// Size of one signature.
pub const SIGNATURE_LEN: usize = 64;
/// Preallocation limit handed to the decoder (inputs are at most 4096 bytes anyway).
const PREALLOC_LIMIT: usize = 64 * 1024;

fn decode_config() -> impl Config {
    wincode::config::Configuration::default().with_preallocation_size_limit::<PREALLOC_LIMIT>()
}

/// Transaction message version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TxVersion {
    /// Legacy message (no version prefix).
    Legacy,
    /// Version 0 message (address lookup tables).
    V0,
    /// Version 1 message (SIMD-0385: config in the header, up to 4096 bytes).
    V1,
}

impl TxVersion {
    /// The largest wire transaction this version allows.
    pub fn max_tx_size(self) -> usize {
        match self {
            TxVersion::Legacy | TxVersion::V0 => MAX_LEGACY_TX_SIZE,
            TxVersion::V1 => MAX_V1_TX_SIZE,
        }
    }
}

/// A parsed, sanitized transaction (or bare message) together with its exact bytes.
#[derive(Debug, Clone)]
pub struct ParsedTransaction {
    version: TxVersion,
    /// The input bytes (a wire transaction, or a bare message when `from_message`).
    bytes: Vec<u8>,
    /// Where the message sits in `bytes`.
    message_range: Range<usize>,
    /// Offset of the first signature in `bytes` (meaningless when `from_message`).
    signatures_offset: usize,
    from_message: bool,
    message: VersionedMessage,
}

fn version_of(message: &VersionedMessage) -> TxVersion {
    match message {
        VersionedMessage::Legacy(_) => TxVersion::Legacy,
        VersionedMessage::V0(_) => TxVersion::V0,
        VersionedMessage::V1(_) => TxVersion::V1,
    }
}

fn read_error(e: wincode::ReadError) -> DecodeError {
    DecodeError::Malformed(e.to_string())
}

/// Compares a re-encoding with the input.
fn check_canonical(input: &[u8], reencoded: &[u8]) -> Result<(), DecodeError> {
    if input == reencoded {
        Ok(())
    } else if input.len() > reencoded.len() && input.starts_with(reencoded) {
        Err(DecodeError::TrailingBytes(input.len() - reencoded.len()))
    } else {
        Err(DecodeError::NonCanonical)
    }
}

/// Runs sanitize (legacy/v0) or validate (V1) and the duplicate-key check.
fn check_message(message: &VersionedMessage) -> Result<(), DecodeError> {
    match message {
        VersionedMessage::V1(m) => m.validate().map_err(DecodeError::V1Invalid)?,
        other => other.sanitize().map_err(DecodeError::Sanitize)?,
    }
    let keys = message.static_account_keys();
    let unique: BTreeSet<&Pubkey> = keys.iter().collect();
    if unique.len() != keys.len() {
        return Err(DecodeError::DuplicateAccountKey);
    }
    Ok(())
}

fn wire_size(version: TxVersion, message_len: usize, signatures: usize) -> usize {
    let prefix = match version {
        TxVersion::Legacy | TxVersion::V0 => 1,
        TxVersion::V1 => 0,
    };
    message_len
        .saturating_add(prefix)
        .saturating_add(signatures.saturating_mul(SIGNATURE_LEN))
}

impl ParsedTransaction {
    /// Parses a wire-format transaction (legacy, v0 or V1). Rejects: trailing bytes,
    /// non-canonical encodings (re-serialising must give back the exact input bytes), failed
    /// sanitize / V1 validate, size above 1232 bytes for legacy/v0 or 4096 for V1, signature
    /// count != num_required_signatures.
    pub fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.is_empty() {
            return Err(DecodeError::Empty);
        }
        if bytes.len() > MAX_V1_TX_SIZE {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: MAX_V1_TX_SIZE,
            });
        }
        let tx: VersionedTransaction =
            wincode::config::deserialize(bytes, decode_config()).map_err(read_error)?;
        let version = version_of(&tx.message);
        if bytes.len() > version.max_tx_size() {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: version.max_tx_size(),
            });
        }
        let required = usize::from(tx.message.header().num_required_signatures);
        if tx.signatures.len() != required {
            return Err(DecodeError::SignatureCountMismatch {
                expected: required,
                found: tx.signatures.len(),
            });
        }
        let reencoded = wincode::serialize(&tx).map_err(|_| DecodeError::NonCanonical)?;
        check_canonical(bytes, &reencoded)?;
        check_message(&tx.message)?;
        let sig_bytes = required.saturating_mul(SIGNATURE_LEN);
        let (message_range, signatures_offset) = match version {
            // One-byte short-vec count (< 128, guaranteed by the decoder), signatures, message.
            TxVersion::Legacy | TxVersion::V0 => (1usize.saturating_add(sig_bytes)..bytes.len(), 1),
            // Message first, then exactly `required` signatures.
            TxVersion::V1 => {
                let end = bytes
                    .len()
                    .checked_sub(sig_bytes)
                    .ok_or(DecodeError::NonCanonical)?;
                (0..end, end)
            }
        };
        if message_range.start > message_range.end {
            return Err(DecodeError::NonCanonical);
        }
        Ok(Self {
            version,
            bytes: bytes.to_vec(),
            message_range,
            signatures_offset,
            from_message: false,
            message: tx.message,
        })
    }

    /// Parses a bare message (no signatures); signatures are treated as all-zero placeholders.
    /// The wire transaction it would form must fit the version's size limit.
    pub fn parse_message(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.is_empty() {
            return Err(DecodeError::Empty);
        }
        if bytes.len() > MAX_V1_TX_SIZE {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: MAX_V1_TX_SIZE,
            });
        }
        let message: VersionedMessage =
            wincode::config::deserialize(bytes, decode_config()).map_err(read_error)?;
        let version = version_of(&message);
        let required = usize::from(message.header().num_required_signatures);
        let wire = wire_size(version, bytes.len(), required);
        if wire > version.max_tx_size() {
            return Err(DecodeError::TooLarge {
                len: wire,
                max: version.max_tx_size(),
            });
        }
        let reencoded = wincode::serialize(&message).map_err(|_| DecodeError::NonCanonical)?;
        check_canonical(bytes, &reencoded)?;
        check_message(&message)?;
        Ok(Self {
            version,
            bytes: bytes.to_vec(),
            message_range: 0..bytes.len(),
            signatures_offset: 0,
            from_message: true,
            message,
        })
    }

    /// Tries `parse`, then `parse_message`.
    pub fn parse_any(bytes: &[u8]) -> Result<Self, DecodeError> {
        match Self::parse(bytes) {
            Ok(tx) => Ok(tx),
            Err(as_transaction) => {
                Self::parse_message(bytes).map_err(|as_message| DecodeError::Unparseable {
                    as_transaction: Box::new(as_transaction),
                    as_message: Box::new(as_message),
                })
            }
        }
    }

    /// The message version.
    pub fn version(&self) -> TxVersion {
        self.version
    }

    /// True when this was parsed from a bare message (no signatures on the wire).
    pub fn is_bare_message(&self) -> bool {
        self.from_message
    }

    /// The exact message bytes that signers sign (a slice of the input).
    pub fn message_bytes(&self) -> &[u8] {
        self.bytes.get(self.message_range.clone()).unwrap_or(&[])
    }

    /// Required signers, in signature order.
    pub fn required_signers(&self) -> &[Pubkey] {
        let keys = self.message.static_account_keys();
        let n = usize::from(self.message.header().num_required_signatures);
        keys.get(..n).unwrap_or(keys)
    }

    /// Position of `key` among required signers, if it is one.
    pub fn signer_position(&self, key: &Pubkey) -> Option<usize> {
        self.required_signers().iter().position(|k| k == key)
    }

    /// The account keys stored in the message itself (not loaded from lookup tables).
    pub fn static_account_keys(&self) -> &[Pubkey] {
        self.message.static_account_keys()
    }

    /// The fee payer (first static account key).
    pub fn fee_payer(&self) -> Option<&Pubkey> {
        self.message.static_account_keys().first()
    }

    /// Address lookup tables referenced by a v0 message (empty for legacy and V1).
    pub fn address_table_lookups(&self) -> &[MessageAddressTableLookup] {
        self.message.address_table_lookups().unwrap_or(&[])
    }

    /// The decoded message.
    pub fn message(&self) -> &VersionedMessage {
        &self.message
    }

    /// The signature at signer `position` as it appears on the wire (all zero for a
    /// bare message).
    pub fn signature(&self, position: usize) -> Option<[u8; 64]> {
        if position >= self.required_signers().len() {
            return None;
        }
        if self.from_message {
            return Some([0u8; 64]);
        }
        let start = self
            .signatures_offset
            .checked_add(position.checked_mul(SIGNATURE_LEN)?)?;
        let slice = self.bytes.get(start..start.checked_add(SIGNATURE_LEN)?)?;
        slice.try_into().ok()
    }

    /// The wire transaction with `signature` placed at signer `position`; all other bytes
    /// unchanged. For a transaction parsed with parse_message, builds the full wire
    /// transaction with zero placeholders for the other signatures.
    pub fn to_wire_with_signature(
        &self,
        position: usize,
        signature: &[u8; 64],
    ) -> Result<Vec<u8>, DecodeError> {
        let signers = self.required_signers().len();
        if position >= signers {
            return Err(DecodeError::SignerPositionOutOfRange { position, signers });
        }
        let mut wire = if self.from_message {
            let placeholders = vec![0u8; signers.saturating_mul(SIGNATURE_LEN)];
            let mut out = Vec::with_capacity(wire_size(self.version, self.bytes.len(), signers));
            match self.version {
                TxVersion::Legacy | TxVersion::V0 => {
                    // `signers` < 128 for legacy/v0 (the first message byte has its top bit
                    // clear), so the short-vec count is one byte.
                    let count = u8::try_from(signers).map_err(|_| DecodeError::NonCanonical)?;
                    out.push(count);
                    out.extend_from_slice(&placeholders);
                    out.extend_from_slice(&self.bytes);
                }
                TxVersion::V1 => {
                    out.extend_from_slice(&self.bytes);
                    out.extend_from_slice(&placeholders);
                }
            }
            out
        } else {
            self.bytes.clone()
        };
        let sig_start = if self.from_message {
            match self.version {
                TxVersion::Legacy | TxVersion::V0 => 1,
                TxVersion::V1 => self.bytes.len(),
            }
        } else {
            self.signatures_offset
        };
        let start = position
            .checked_mul(SIGNATURE_LEN)
            .and_then(|o| o.checked_add(sig_start))
            .ok_or(DecodeError::NonCanonical)?;
        let end = start
            .checked_add(SIGNATURE_LEN)
            .ok_or(DecodeError::NonCanonical)?;
        let slot = wire.get_mut(start..end).ok_or(DecodeError::NonCanonical)?;
        slot.copy_from_slice(signature);
        Ok(wire)
    }
}
