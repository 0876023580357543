//! SPL Token (`Tokenkeg...`) and Token-2022 (`TokenzQd...`): u8 tag, little-endian fields.
//! Multisig authorities are allowed (extra signer accounts after the listed ones).
//!
//! Batch (tag 255, spl-token-interface 3.0) is decoded recursively: after the tag comes a
//! sequence of entries `(num_accounts: u8, data_len: u8, data: [u8; data_len])`, and each
//! entry takes the next `num_accounts` accounts of the outer instruction. Each entry is
//! decoded with this same decoder and its effects are returned as if top-level; a Batch
//! nested inside a Batch is refused (the program refuses it too).

use super::{Accounts, Data, InstructionError};
use crate::effects::{Addr, Effect, Party, TokenConfigKind, TokenProgram};

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
                extra_accounts: a.rest(3),
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
                extra_accounts: a.rest(4),
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
                return transfer_fee(p, a, data);
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
                extra_accounts: a.rest(4),
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
        // InitializeMint(decimals, authority, COption freeze): [mint, rent];
        // InitializeMint2: [mint].
        0 | 20 => {
            let _decimals = d.u8()?;
            let _authority = d.pubkey()?;
            let _freeze = option_pubkey(&mut d)?;
            a.require(if tag == 0 { 2 } else { 1 })?;
            initialize(
                p,
                a,
                if tag == 0 {
                    "InitializeMint"
                } else {
                    "InitializeMint2"
                },
            )?
        }
        // InitializeMultisig(m): [multisig, rent, signers...]; InitializeMultisig2: [multisig, signers...]
        2 | 19 => {
            let _m = d.u8()?;
            a.require(if tag == 2 { 3 } else { 2 })?;
            let name = if tag == 2 {
                "InitializeMultisig"
            } else {
                "InitializeMultisig2"
            };
            initialize(p, a, name)?
        }
        // Token-2022 only from here.
        _ if p == TokenProgram::Token2022 && tag != BATCH => return extension(p, a, data),
        // Batch inside a Batch (top-level batches are handled by `decode`).
        BATCH => return Err(InstructionError::NestedBatch),
        other => return Err(InstructionError::UnsupportedTag(u32::from(other))),
    };
    d.finish()?;
    Ok(effect)
}

fn config(
    p: TokenProgram,
    name: &'static str,
    kind: TokenConfigKind,
    account: Party,
    authority: Option<Party>,
) -> Effect {
    Effect::TokenConfigure {
        program: p,
        name,
        kind,
        account,
        authority,
    }
}

/// Initialisation of the instruction's first account (a new mint, account or multisig).
fn initialize(
    p: TokenProgram,
    a: &Accounts<'_>,
    name: &'static str,
) -> Result<Effect, InstructionError> {
    Ok(config(
        p,
        name,
        TokenConfigKind::Initialize,
        a.party(0)?,
        None,
    ))
}

/// An update of the first account with the second as authority (multisig signers may
/// follow).
fn update(
    p: TokenProgram,
    a: &Accounts<'_>,
    name: &'static str,
) -> Result<Effect, InstructionError> {
    a.require(2)?;
    Ok(config(
        p,
        name,
        TokenConfigKind::Update,
        a.party(0)?,
        Some(a.party(1)?),
    ))
}

/// TransferFeeExtension (tag 26) sub-instructions other than TransferCheckedWithFee.
fn transfer_fee(
    p: TokenProgram,
    a: &Accounts<'_>,
    data: &[u8],
) -> Result<Effect, InstructionError> {
    let mut d = Data::new(data.get(1..).unwrap_or_default());
    let sub = d.u8()?;
    let effect = match sub {
        // InitializeTransferFeeConfig(COption config authority, COption withdraw authority,
        // basis points u16, maximum fee u64): [mint]
        0 => {
            let _ = option_pubkey(&mut d)?;
            let _ = option_pubkey(&mut d)?;
            let _ = d.u16()?;
            let _ = d.u64()?;
            initialize(p, a, "InitializeTransferFeeConfig")?
        }
        // WithdrawWithheldTokensFromMint: [mint, destination, authority, signers...]
        2 => {
            a.require(3)?;
            Effect::WithdrawWithheld {
                mint: a.addr(0)?,
                destination: a.party(1)?,
                authority: a.party(2)?,
            }
        }
        // WithdrawWithheldTokensFromAccounts(num_token_accounts): [mint, destination,
        // authority, signers..., sources...]
        3 => {
            let n = usize::from(d.u8()?);
            a.require(n.saturating_add(3))?;
            Effect::WithdrawWithheld {
                mint: a.addr(0)?,
                destination: a.party(1)?,
                authority: a.party(2)?,
            }
        }
        // HarvestWithheldTokensToMint: [mint, sources...] - permissionless, moves fees
        // already withheld into the mint.
        4 => {
            a.require(1)?;
            Effect::TokenQuery {
                program: p,
                name: "HarvestWithheldTokensToMint",
            }
        }
        // SetTransferFee(basis points u16, maximum fee u64): [mint, authority, signers...]
        5 => {
            let _ = d.u16()?;
            let _ = d.u64()?;
            update(p, a, "SetTransferFee")?
        }
        other => {
            return Err(InstructionError::UnsupportedTag(
                u32::from(TRANSFER_FEE_EXTENSION) << 8 | u32::from(other),
            ))
        }
    };
    d.finish()?;
    Ok(effect)
}

/// Token-2022 instructions beyond the SPL Token set (tags 25..=44 except those handled
/// elsewhere). Confidential transfers (27, 37, 42) and CreateNativeMint (31) are not
/// decoded: their effects cannot be shown from the instruction alone.
fn extension(p: TokenProgram, a: &Accounts<'_>, data: &[u8]) -> Result<Effect, InstructionError> {
    let mut d = Data::new(data);
    let tag = d.u8()?;
    // Extensions with Initialize (sub 0) and authority-signed Update (sub 1) forms whose
    // data are fixed-size: (tag, name of initialize, initialize length, name of update,
    // update length).
    const PAIRED: &[(u8, &str, usize, &str, usize)] = &[
        (
            28,
            "DefaultAccountState Initialize",
            1,
            "DefaultAccountState Update",
            1,
        ),
        (
            33,
            "InterestBearingMint Initialize",
            34,
            "InterestBearingMint UpdateRate",
            2,
        ),
        (36, "TransferHook Initialize", 64, "TransferHook Update", 32),
        (
            39,
            "MetadataPointer Initialize",
            64,
            "MetadataPointer Update",
            32,
        ),
        (40, "GroupPointer Initialize", 64, "GroupPointer Update", 32),
        (
            41,
            "GroupMemberPointer Initialize",
            64,
            "GroupMemberPointer Update",
            32,
        ),
        (
            43,
            "ScaledUiAmount Initialize",
            40,
            "ScaledUiAmount UpdateMultiplier",
            16,
        ),
    ];
    let effect = match tag {
        // InitializeMintCloseAuthority(COption<Pubkey>): [mint]
        25 => {
            let _ = option_pubkey(&mut d)?;
            initialize(p, a, "InitializeMintCloseAuthority")?
        }
        // Reallocate(extension types as u16 each): [account, payer, system, owner, signers...]
        29 => {
            a.require(4)?;
            let rest = d.slice(d.remaining())?;
            if rest.len() % 2 != 0 {
                return Err(InstructionError::TrailingData);
            }
            // The payer (account 1) funds the larger account: judged as the authority,
            // so a user paying for someone else's account is asked.
            config(
                p,
                "Reallocate",
                TokenConfigKind::Update,
                a.party(0)?,
                Some(a.party(1)?),
            )
        }
        // MemoTransfer / CpiGuard: 0 Enable, 1 Disable: [account, owner, signers...]
        30 | 34 => {
            let sub = d.u8()?;
            a.require(2)?;
            let (name, kind) = match (tag, sub) {
                (30, 0) => ("MemoTransfer Enable", TokenConfigKind::EnableProtection),
                (30, 1) => ("MemoTransfer Disable", TokenConfigKind::DisableProtection),
                (_, 0) => ("CpiGuard Enable", TokenConfigKind::EnableProtection),
                (_, 1) => ("CpiGuard Disable", TokenConfigKind::DisableProtection),
                (_, other) => {
                    return Err(InstructionError::UnsupportedTag(
                        u32::from(tag) << 8 | u32::from(other),
                    ))
                }
            };
            config(p, name, kind, a.party(0)?, Some(a.party(1)?))
        }
        // InitializeNonTransferableMint: [mint]
        32 => initialize(p, a, "InitializeNonTransferableMint")?,
        // InitializePermanentDelegate(delegate): [mint]
        35 => {
            let _ = d.pubkey()?;
            initialize(p, a, "InitializePermanentDelegate")?
        }
        // Pausable: 0 Initialize(authority) [mint]; 1 Pause, 2 Resume [mint, authority, signers...]
        44 => match d.u8()? {
            0 => {
                let _ = d.pubkey()?;
                initialize(p, a, "Pausable Initialize")?
            }
            1 => update(p, a, "Pausable Pause")?,
            2 => update(p, a, "Pausable Resume")?,
            other => return Err(InstructionError::UnsupportedTag(44 << 8 | u32::from(other))),
        },
        _ => {
            let Some((_, init, init_len, upd, upd_len)) = PAIRED.iter().find(|(t, ..)| *t == tag)
            else {
                return Err(InstructionError::UnsupportedTag(u32::from(tag)));
            };
            match d.u8()? {
                0 => {
                    d.slice(*init_len)?;
                    initialize(p, a, init)?
                }
                1 => {
                    d.slice(*upd_len)?;
                    update(p, a, upd)?
                }
                other => {
                    return Err(InstructionError::UnsupportedTag(
                        u32::from(tag) << 8 | u32::from(other),
                    ))
                }
            }
        }
    };
    d.finish()?;
    Ok(effect)
}
