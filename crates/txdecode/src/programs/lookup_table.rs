//! Address Lookup Table program (`AddressLookupTab1e1111111111111111111111111`): bincode,
//! u32 LE tag: 0 `CreateLookupTable { recent_slot: u64, bump_seed: u8 }`, 1
//! FreezeLookupTable, 2 `ExtendLookupTable { new_addresses: Vec<Pubkey> }` (u64 length
//! prefix, 1 to 256 addresses), 3 DeactivateLookupTable, 4 CloseLookupTable
//! (solana-address-lookup-table-interface 3.1).

use super::{Accounts, Data, InstructionError};
use crate::effects::{Effect, LookupTableAction};

/// Most addresses a lookup table can hold.
const MAX_ADDRESSES: u64 = 256;

fn effect(
    a: &Accounts<'_>,
    action: LookupTableAction,
    payer: Option<usize>,
    recipient: Option<usize>,
    new_addresses: u64,
) -> Result<Effect, InstructionError> {
    Ok(Effect::LookupTable {
        action,
        table: a.party(0)?,
        authority: a.party(1)?,
        payer: payer.map(|i| a.party(i)).transpose()?,
        recipient: recipient.map(|i| a.party(i)).transpose()?,
        new_addresses,
    })
}

/// Reads ExtendLookupTable's `Vec<Pubkey>` and returns its length.
fn addresses(d: &mut Data<'_>) -> Result<u64, InstructionError> {
    let len = d.u64()?;
    if len == 0 || len > MAX_ADDRESSES {
        return Err(InstructionError::InvalidLength(len));
    }
    for _ in 0..len {
        d.pubkey()?;
    }
    Ok(len)
}

/// Decodes one Address Lookup Table instruction.
pub(crate) fn decode(a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let mut d = Data::new(data);
    let tag = d.u32()?;
    let e = match tag {
        // [table, authority, payer, system_program]
        0 => {
            let _recent_slot = d.u64()?;
            let _bump_seed = d.u8()?;
            a.require(4)?;
            effect(a, LookupTableAction::Create, Some(2), None, 0)?
        }
        // [table, authority]
        1 => {
            a.require(2)?;
            effect(a, LookupTableAction::Freeze, None, None, 0)?
        }
        // [table, authority, payer?, system_program?]
        2 => {
            let n = addresses(&mut d)?;
            a.require(2)?;
            let payer = a.addr(2).is_ok().then_some(2);
            effect(a, LookupTableAction::Extend, payer, None, n)?
        }
        // [table, authority]
        3 => {
            a.require(2)?;
            effect(a, LookupTableAction::Deactivate, None, None, 0)?
        }
        // [table, authority, recipient]
        4 => {
            a.require(3)?;
            effect(a, LookupTableAction::Close, None, Some(2), 0)?
        }
        other => return Err(InstructionError::UnsupportedTag(other)),
    };
    d.finish()?;
    Ok(vec![e])
}
