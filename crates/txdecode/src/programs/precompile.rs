//! Signature-verification precompiles (Ed25519, secp256k1, secp256r1). They check
//! signatures carried in the instruction data against data in this or other
//! instructions, and fail the transaction if one does not verify; they take no accounts
//! and move nothing. Only the offsets header is checked here (layouts from the agave
//! precompile sources): a count, then fixed-size offset records.

use super::{Data, InstructionError};
use crate::effects::Effect;

/// Which precompile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Ed25519SigVerify111...`: u8 count, u8 padding, 14-byte offset records.
    Ed25519,
    /// `KeccakSecp256k1111...`: u8 count, 11-byte offset records.
    Secp256k1,
    /// `Secp256r1SigVerify1...`: u8 count, u8 padding, 14-byte offset records.
    Secp256r1,
}

/// Decodes a precompile instruction's header.
pub(crate) fn decode(kind: Kind, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let mut d = Data::new(data);
    let count = d.u8()?;
    let (name, record) = match kind {
        Kind::Ed25519 => ("Ed25519", 14usize),
        Kind::Secp256k1 => ("secp256k1", 11),
        Kind::Secp256r1 => ("secp256r1", 14),
    };
    if kind != Kind::Secp256k1 {
        let _padding = d.u8()?;
    }
    if count == 0 {
        return Err(InstructionError::InvalidLength(0));
    }
    d.slice(usize::from(count).saturating_mul(record))?;
    Ok(vec![Effect::SignatureCheck {
        precompile: name,
        signatures: count,
    }])
}
