//! SPL Token (`Tokenkeg...`) and Token-2022 (`TokenzQd...`): u8 tag, little-endian fields.
//! Multisig authorities are allowed (extra signer accounts after the listed ones).
//!
//! Batch (tag 255, spl-token-interface 3.0) is decoded recursively: after the tag comes a
//! sequence of entries `(num_accounts: u8, data_len: u8, data: [u8; data_len])`, and each
//! entry takes the next `num_accounts` accounts of the outer instruction. Each entry is
//! decoded with this same decoder and its effects are returned as if top-level; a Batch
//! nested inside a Batch is refused (the program refuses it too).

use super::{Accounts, Data, InstructionError};
use crate::effects::{Addr, Effect, TokenProgram};

/// Token-2022 TransferFeeExtension tag.
const TRANSFER_FEE_EXTENSION: u8 = 26;
/// TransferFeeExtension sub-instruction TransferCheckedWithFee.
const TRANSFER_CHECKED_WITH_FEE: u8 = 1;
/// Batch tag.
const BATCH: u8 = 255;

/// Name of a SetAuthority authority type.
pub fn authority_type_name(t: u8) -> &'static str {
    match t {
        0 => "MintTokens",
        1 => "FreezeAccount",
        2 => "AccountOwner",
        3 => "CloseAccount",
        4 => "TransferFeeConfig",
        5 => "WithheldWithdraw",
        6 => "CloseMint",
        7 => "InterestRate",
        8 => "PermanentDelegate",
        9 => "ConfidentialTransferMint",
        10 => "TransferHookProgramId",
        11 => "ConfidentialTransferFeeConfig",
        12 => "MetadataPointer",
        13 => "GroupPointer",
        14 => "GroupMemberPointer",
        15 => "ScaledUiAmount",
        16 => "Pause",
        _ => "Unknown",
    }
}

fn option_pubkey(d: &mut Data<'_>) -> Result<Option<Addr>, InstructionError> {
    match d.u8()? {
        0 => Ok(None),
        1 => Ok(Some(Addr::Known(d.pubkey()?))),
        other => Err(InstructionError::InvalidOption(other)),
    }
}

fn option_u64(d: &mut Data<'_>) -> Result<Option<u64>, InstructionError> {
    match d.u8()? {
        0 => Ok(None),
        1 => Ok(Some(d.u64()?)),
        other => Err(InstructionError::InvalidOption(other)),
    }
}

/// Decodes one token instruction; a Batch yields the effects of all its entries.
pub(crate) fn decode(
    p: TokenProgram,
    a: &Accounts<'_>,
    data: &[u8],
) -> Result<Vec<Effect>, InstructionError> {
    match data.split_first() {
        Some((&BATCH, entries)) => batch(p, a, entries),
        _ => decode_single(p, a, data).map(|e| vec![e]),
    }
}

/// Decodes the entries of a Batch (the data after the tag). An empty batch, an entry that
/// overruns the data or the accounts, and an entry that does not decode are all errors
/// (wrapped in [`InstructionError::BatchEntry`] with the entry's position). Accounts left
/// over after the last entry are not used by the program and are ignored.
fn batch(
    p: TokenProgram,
    a: &Accounts<'_>,
    entries: &[u8],
) -> Result<Vec<Effect>, InstructionError> {
    if entries.is_empty() {
        return Err(InstructionError::EmptyBatch);
    }
    let mut d = Data::new(entries);
    let mut next_account = 0usize;
    let mut effects = Vec::new();
    let mut entry = 0usize;
    while d.remaining() > 0 {
        let effect = batch_entry(p, a, &mut d, &mut next_account).map_err(|e| {
            InstructionError::BatchEntry {
                entry,
                error: Box::new(e),
            }
        })?;
        effects.push(effect);
        entry = entry.saturating_add(1);
    }
    Ok(effects)
}

/// Reads and decodes one Batch entry, advancing `next_account` past its accounts.
fn batch_entry(
    p: TokenProgram,
    a: &Accounts<'_>,
    d: &mut Data<'_>,
    next_account: &mut usize,
) -> Result<Effect, InstructionError> {
    let num_accounts = usize::from(d.u8()?);
    let data_len = usize::from(d.u8()?);
    let data = d.slice(data_len)?;
    let accounts = a.range(*next_account, num_accounts)?;
    *next_account = next_account.saturating_add(num_accounts);
    decode_single(p, &accounts, data)
}

/// Decodes one token instruction other than Batch (a Batch here is a nested one: refused).
fn decode_single(
    p: TokenProgram,
    a: &Accounts<'_>,
    data: &[u8],
) -> Result<Effect, InstructionError> {
    let mut d = Data::new(data);
    let tag = d.u8().map_err(|_| InstructionError::EmptyData)?;
    let effect = match tag {
        // InitializeAccount: [account, mint, owner, rent]
        1 => {
            a.require(4)?;
            Effect::InitializeTokenAccount {
                program: p,
                account: a.party(0)?,
                mint: a.addr(1)?,
                owner: a.party(2)?,
            }
        }
        // Transfer(amount): [source, destination, authority, signers...]
        3 => {
            let amount = d.u64()?;
            a.require(3)?;
            Effect::TokenTransfer {
                program: p,
                source: a.party(0)?,
                destination: a.party(1)?,
                authority: a.party(2)?,
                mint: None,
                amount,
                decimals: None,
                fee: None,
            }
        }
        // Approve(amount): [source, delegate, owner, signers...]
        4 => {
            let amount = d.u64()?;
            a.require(3)?;
            Effect::TokenApprove {
                program: p,
                source: a.party(0)?,
                delegate: a.party(1)?,
                owner: a.party(2)?,
                mint: None,
                amount,
                decimals: None,
            }
        }
        // Revoke: [source, owner, signers...]
        5 => {
            a.require(2)?;
            Effect::TokenRevoke {
                program: p,
                source: a.party(0)?,
                owner: a.party(1)?,
            }
        }
        // SetAuthority(type, COption<Pubkey>): [account_or_mint, current_authority, signers...]
        6 => {
            let authority_type = d.u8()?;
            let new_authority = option_pubkey(&mut d)?;
            a.require(2)?;
            Effect::SetAuthority {
                program: p,
                account: a.party(0)?,
                current_authority: a.party(1)?,
                authority_type,
                authority_name: authority_type_name(authority_type),
                new_authority: new_authority.map(crate::effects::Party::new),
            }
        }
        // MintTo(amount) / MintToChecked(amount, decimals): [mint, account, authority, ...]
        7 | 14 => {
            let amount = d.u64()?;
            let decimals = if tag == 14 { Some(d.u8()?) } else { None };
            a.require(3)?;
            Effect::TokenMint {
                program: p,
                mint: a.addr(0)?,
                destination: a.party(1)?,
                authority: a.party(2)?,
                amount,
                decimals,
            }
        }
        // Burn(amount) / BurnChecked(amount, decimals): [account, mint, authority, ...]
        8 | 15 => {
            let amount = d.u64()?;
            let decimals = if tag == 15 { Some(d.u8()?) } else { None };
            a.require(3)?;
            Effect::TokenBurn {
                program: p,
                account: a.party(0)?,
                mint: a.addr(1)?,
                authority: a.party(2)?,
                amount,
                decimals,
            }
        }
        // CloseAccount: [account, destination, authority, ...]
        9 => {
            a.require(3)?;
            Effect::CloseAccount {
                program: p,
                account: a.party(0)?,
                destination: a.party(1)?,
                authority: a.party(2)?,
            }
        }
        // FreezeAccount / ThawAccount: [account, mint, authority, ...]
        10 | 11 => {
            a.require(3)?;
            Effect::FreezeThaw {
                program: p,
                account: a.party(0)?,
                mint: a.addr(1)?,
                authority: a.party(2)?,
                freeze: tag == 10,
            }
        }
        // TransferChecked(amount, decimals): [source, mint, destination, authority, ...]
        12 => {
            let amount = d.u64()?;
            let decimals = d.u8()?;
            a.require(4)?;
            Effect::TokenTransfer {
                program: p,
                source: a.party(0)?,
                destination: a.party(2)?,
                authority: a.party(3)?,
                mint: Some(a.addr(1)?),
                amount,
                decimals: Some(decimals),
                fee: None,
            }
        }
        // ApproveChecked(amount, decimals): [source, mint, delegate, owner, ...]
        13 => {
            let amount = d.u64()?;
            let decimals = d.u8()?;
            a.require(4)?;
            Effect::TokenApprove {
                program: p,
                source: a.party(0)?,
                delegate: a.party(2)?,
                owner: a.party(3)?,
                mint: Some(a.addr(1)?),
                amount,
                decimals: Some(decimals),
            }
        }
        // InitializeAccount2(owner): [account, mint, rent]; InitializeAccount3(owner): [account, mint]
        16 | 18 => {
            let owner = d.pubkey()?;
            a.require(if tag == 16 { 3 } else { 2 })?;
            Effect::InitializeTokenAccount {
                program: p,
                account: a.party(0)?,
                mint: a.addr(1)?,
                owner: crate::effects::Party::new(Addr::Known(owner)),
            }
        }
        // SyncNative: [account]
        17 => Effect::SyncNative {
            program: p,
            account: a.party(0)?,
        },
        // GetAccountDataSize: [mint] + extension types (u16 each) - read only.
        21 => {
            a.require(1)?;
            let rest = d.slice(data.len().saturating_sub(1))?;
            if rest.len() % 2 != 0 {
                return Err(InstructionError::TrailingData);
            }
            Effect::TokenQuery {
                program: p,
                name: "GetAccountDataSize",
            }
        }
        // InitializeImmutableOwner: [account]
        22 => Effect::InitializeImmutableOwner {
            program: p,
            account: a.party(0)?,
        },
        // AmountToUiAmount(amount): [mint] - read only.
        23 => {
            let _ = d.u64()?;
            a.require(1)?;
            Effect::TokenQuery {
                program: p,
                name: "AmountToUiAmount",
            }
        }
        // UiAmountToAmount(ui_amount: str): [mint] - read only.
        24 => {
            let rest = d.slice(data.len().saturating_sub(1))?;
            std::str::from_utf8(rest).map_err(|_| InstructionError::InvalidUtf8)?;
            a.require(1)?;
            Effect::TokenQuery {
                program: p,
                name: "UiAmountToAmount",
            }
        }
        // TransferFeeExtension / TransferCheckedWithFee(amount, decimals, fee):
        // [source, mint, destination, authority, ...] (Token-2022 only)
        TRANSFER_FEE_EXTENSION if p == TokenProgram::Token2022 => {
            let sub = d.u8()?;
            if sub != TRANSFER_CHECKED_WITH_FEE {
                return Err(InstructionError::UnsupportedTag(
                    u32::from(TRANSFER_FEE_EXTENSION) << 8 | u32::from(sub),
                ));
            }
            let amount = d.u64()?;
            let decimals = d.u8()?;
            let fee = d.u64()?;
            a.require(4)?;
            Effect::TokenTransfer {
                program: p,
                source: a.party(0)?,
                destination: a.party(2)?,
                authority: a.party(3)?,
                mint: Some(a.addr(1)?),
                amount,
                decimals: Some(decimals),
                fee: Some(fee),
            }
        }
        // WithdrawExcessLamports: [source, destination, authority, ...]
        38 => {
            a.require(3)?;
            Effect::WithdrawExcessLamports {
                program: p,
                source: a.party(0)?,
                destination: a.party(1)?,
                authority: a.party(2)?,
            }
        }
        // UnwrapLamports(Option<u64>): [source, destination, authority, ...]
        45 => {
            let lamports = option_u64(&mut d)?;
            a.require(3)?;
            Effect::UnwrapLamports {
                program: p,
                source: a.party(0)?,
                destination: a.party(1)?,
                authority: a.party(2)?,
                lamports,
            }
        }
        // Batch inside a Batch (top-level batches are handled by `decode`).
        BATCH => return Err(InstructionError::NestedBatch),
        other => return Err(InstructionError::UnsupportedTag(u32::from(other))),
    };
    d.finish()?;
    Ok(effect)
}
