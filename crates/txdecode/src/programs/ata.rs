//! Associated Token Account program (`ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL`):
//! empty data or 0 Create, 1 CreateIdempotent, 2 RecoverNested.

use super::{Accounts, InstructionError};
use crate::effects::Effect;

/// Decodes one Associated Token Account instruction.
pub(crate) fn decode(a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let tag = match data {
        [] => 0,
        [t] => *t,
        _ => return Err(InstructionError::TrailingData),
    };
    match tag {
        // [payer, ata, wallet, mint, system_program, token_program]
        0 | 1 => {
            a.require(6)?;
            Ok(vec![Effect::CreateAssociatedTokenAccount {
                payer: a.party(0)?,
                account: a.party(1)?,
                wallet: a.party(2)?,
                mint: a.addr(3)?,
                token_program: a.addr(5)?,
                idempotent: tag == 1,
            }])
        }
        // [nested, nested_mint, destination, owner_ata, owner_mint, wallet, token_program]
        2 => {
            a.require(7)?;
            Ok(vec![Effect::RecoverNested {
                nested: a.party(0)?,
                destination: a.party(2)?,
                wallet: a.party(5)?,
                mint: a.addr(1)?,
            }])
        }
        other => Err(InstructionError::UnsupportedTag(u32::from(other))),
    }
}
