//! Stake program (`Stake11111111111111111111111111111111111111`): bincode, u32 LE tag
//! (solana-stake-interface 4.3). `StakeAuthorize` is a u32 (0 Staker, 1 Withdrawer),
//! options are a 0/1 byte then the value, seeds a u64 length then UTF-8.
//!
//! Withdraw is decoded as a [`Effect::SolTransfer`] from the stake account to the
//! recipient, signed by the withdraw authority. GetMinimumDelegation (13, a simulation-only
//! query) and Redelegate (15, disabled on chain) are refused as unsupported.

use super::system::seed;
use super::{Accounts, Data, InstructionError};
use crate::effects::{Addr, Effect, Party, StakeAction, StakeRole};
use crate::Pubkey;

fn role(d: &mut Data<'_>) -> Result<StakeRole, InstructionError> {
    match d.u32()? {
        0 => Ok(StakeRole::Staker),
        1 => Ok(StakeRole::Withdrawer),
        other => Err(InstructionError::InvalidEnum(other)),
    }
}

fn known(k: Pubkey) -> Party {
    Party::new(Addr::Known(k))
}

fn authorize(
    a: &Accounts<'_>,
    role: StakeRole,
    authority: usize,
    new_authority: Party,
) -> Result<Effect, InstructionError> {
    Ok(Effect::StakeAuthorize {
        stake_account: a.party(0)?,
        role,
        authority: a.party(authority)?,
        new_authority,
    })
}

fn operation(
    a: &Accounts<'_>,
    action: StakeAction,
    other: Option<usize>,
    authority: Option<usize>,
    lamports: Option<u64>,
) -> Result<Effect, InstructionError> {
    Ok(Effect::StakeOperation {
        action,
        stake_account: a.party(0)?,
        other_account: other.map(|i| a.party(i)).transpose()?,
        authority: authority.map(|i| a.party(i)).transpose()?,
        lamports,
    })
}

/// Initialize(Authorized { staker, withdrawer }, Lockup { unix_timestamp, epoch,
/// custodian }): [stake, rent]
fn initialize(a: &Accounts<'_>, d: &mut Data<'_>) -> Result<Effect, InstructionError> {
    let staker = d.pubkey()?;
    let withdrawer = d.pubkey()?;
    let lockup_unix_timestamp = d.i64()?;
    let lockup_epoch = d.u64()?;
    let custodian = d.pubkey()?;
    a.require(2)?;
    Ok(Effect::StakeInitialize {
        stake_account: a.party(0)?,
        staker: known(staker),
        withdrawer: known(withdrawer),
        lockup_unix_timestamp,
        lockup_epoch,
        custodian: known(custodian),
    })
}

/// `SetLockup(LockupArgs { Option<i64>, Option<u64>, Option<Pubkey> })`: [stake, authority]
fn set_lockup(a: &Accounts<'_>, d: &mut Data<'_>) -> Result<Effect, InstructionError> {
    let unix_timestamp = d.option(Data::i64)?;
    let epoch = d.option(Data::u64)?;
    let custodian = d.option(Data::pubkey)?;
    a.require(2)?;
    Ok(Effect::StakeSetLockup {
        stake_account: a.party(0)?,
        authority: a.party(1)?,
        unix_timestamp,
        epoch,
        custodian: custodian.map(known),
    })
}

/// `SetLockupChecked(LockupCheckedArgs { Option<i64>, Option<u64> })`:
/// [stake, authority, new_custodian?]
fn set_lockup_checked(a: &Accounts<'_>, d: &mut Data<'_>) -> Result<Effect, InstructionError> {
    let unix_timestamp = d.option(Data::i64)?;
    let epoch = d.option(Data::u64)?;
    a.require(2)?;
    Ok(Effect::StakeSetLockup {
        stake_account: a.party(0)?,
        authority: a.party(1)?,
        unix_timestamp,
        epoch,
        custodian: a.party(2).ok(),
    })
}

/// Decodes one Stake instruction.
pub(crate) fn decode(a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let mut d = Data::new(data);
    let tag = d.u32()?;
    let e = match tag {
        0 => initialize(a, &mut d)?,
        // Authorize(new, role): [stake, clock, authority, custodian?]
        1 => {
            let new = d.pubkey()?;
            let role = role(&mut d)?;
            a.require(3)?;
            authorize(a, role, 2, known(new))?
        }
        // DelegateStake: [stake, vote, clock, stake_history, unused, authority]
        2 => {
            a.require(6)?;
            Effect::StakeDelegate {
                stake_account: a.party(0)?,
                vote_account: a.addr(1)?,
                authority: a.party(5)?,
            }
        }
        // Split(lamports): [stake, split_stake, authority]
        3 => {
            let lamports = d.u64()?;
            a.require(3)?;
            operation(a, StakeAction::Split, Some(1), Some(2), Some(lamports))?
        }
        // Withdraw(lamports): [stake, recipient, clock, stake_history, authority, custodian?]
        4 => {
            let lamports = d.u64()?;
            a.require(5)?;
            Effect::SolTransfer {
                from: a.party(0)?,
                to: a.party(1)?,
                authority: a.party(4)?,
                lamports,
            }
        }
        // Deactivate: [stake, clock, authority]
        5 => {
            a.require(3)?;
            operation(a, StakeAction::Deactivate, None, Some(2), None)?
        }
        6 => set_lockup(a, &mut d)?,
        // Merge: [destination, source, clock, stake_history, authority]
        7 => {
            a.require(5)?;
            operation(a, StakeAction::Merge, Some(1), Some(4), None)?
        }
        // AuthorizeWithSeed { new, role, seed, owner }: [stake, base, clock, custodian?]
        8 => {
            let new = d.pubkey()?;
            let role = role(&mut d)?;
            seed(&mut d)?;
            let _owner = d.pubkey()?;
            a.require(3)?;
            authorize(a, role, 1, known(new))?
        }
        // InitializeChecked: [stake, rent, staker, withdrawer]
        9 => {
            a.require(4)?;
            Effect::StakeInitialize {
                stake_account: a.party(0)?,
                staker: a.party(2)?,
                withdrawer: a.party(3)?,
                lockup_unix_timestamp: 0,
                lockup_epoch: 0,
                custodian: known(Pubkey::default()),
            }
        }
        // AuthorizeChecked(role): [stake, clock, authority, new_authority, custodian?]
        10 => {
            let role = role(&mut d)?;
            a.require(4)?;
            authorize(a, role, 2, a.party(3)?)?
        }
        // AuthorizeCheckedWithSeed { role, seed, owner }:
        // [stake, base, clock, new_authority, custodian?]
        11 => {
            let role = role(&mut d)?;
            seed(&mut d)?;
            let _owner = d.pubkey()?;
            a.require(4)?;
            authorize(a, role, 1, a.party(3)?)?
        }
        12 => set_lockup_checked(a, &mut d)?,
        // DeactivateDelinquent: [stake, delinquent_vote, reference_vote]
        14 => {
            a.require(3)?;
            operation(a, StakeAction::DeactivateDelinquent, None, None, None)?
        }
        // MoveStake(lamports) / MoveLamports(lamports): [source, destination, authority]
        16 | 17 => {
            let lamports = d.u64()?;
            a.require(3)?;
            let action = if tag == 16 {
                StakeAction::MoveStake
            } else {
                StakeAction::MoveLamports
            };
            operation(a, action, Some(1), Some(2), Some(lamports))?
        }
        other => return Err(InstructionError::UnsupportedTag(other)),
    };
    d.finish()?;
    Ok(vec![e])
}
