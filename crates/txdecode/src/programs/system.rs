//! System program (`11111111111111111111111111111111`): bincode, u32 LE tag, tags 0-13.

use super::{Accounts, Data, InstructionError};
use crate::effects::{Addr, Effect, NonceAction};

const MAX_SEED_LEN: u64 = 32;

/// Reads a bincode `String` seed (u64 length + UTF-8 bytes, at most 32 bytes).
pub(crate) fn seed(d: &mut Data<'_>) -> Result<(), InstructionError> {
    let len = d.u64()?;
    if len > MAX_SEED_LEN {
        return Err(InstructionError::SeedTooLong);
    }
    let bytes = d.slice(usize::try_from(len).map_err(|_| InstructionError::SeedTooLong)?)?;
    std::str::from_utf8(bytes).map_err(|_| InstructionError::InvalidUtf8)?;
    Ok(())
}

fn nonce(action: NonceAction, a: &Accounts<'_>) -> Result<Effect, InstructionError> {
    Ok(Effect::Nonce {
        action,
        nonce_account: a.party(0)?,
    })
}

/// Decodes one System instruction.
pub(crate) fn decode(a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let mut d = Data::new(data);
    let tag = d.u32()?;
    let effects = match tag {
        // CreateAccount { lamports, space, owner }: [funding, new]
        0 => {
            let lamports = d.u64()?;
            let space = d.u64()?;
            let owner = d.pubkey()?;
            a.require(2)?;
            vec![Effect::CreateAccount {
                payer: Some(a.party(0)?),
                account: a.party(1)?,
                lamports,
                space,
                owner_program: Addr::Known(owner),
            }]
        }
        // Assign { owner }: [account]
        1 => {
            let owner = d.pubkey()?;
            vec![Effect::Assign {
                account: a.party(0)?,
                owner_program: Addr::Known(owner),
            }]
        }
        // Transfer { lamports }: [from, to]
        2 => {
            let lamports = d.u64()?;
            a.require(2)?;
            vec![Effect::SolTransfer {
                from: a.party(0)?,
                to: a.party(1)?,
                authority: a.party(0)?,
                lamports,
            }]
        }
        // CreateAccountWithSeed { base, seed, lamports, space, owner }: [funding, created, base?]
        3 => {
            let _base = d.pubkey()?;
            seed(&mut d)?;
            let lamports = d.u64()?;
            let space = d.u64()?;
            let owner = d.pubkey()?;
            a.require(2)?;
            vec![Effect::CreateAccount {
                payer: Some(a.party(0)?),
                account: a.party(1)?,
                lamports,
                space,
                owner_program: Addr::Known(owner),
            }]
        }
        // AdvanceNonceAccount: [nonce, recent_blockhashes, authority]
        4 => vec![nonce(NonceAction::Advance, a)?],
        // WithdrawNonceAccount(lamports): [nonce, to, recent_blockhashes, rent, authority]
        5 => {
            let lamports = d.u64()?;
            a.require(5)?;
            vec![
                nonce(NonceAction::Withdraw, a)?,
                Effect::SolTransfer {
                    from: a.party(0)?,
                    to: a.party(1)?,
                    authority: a.party(4)?,
                    lamports,
                },
            ]
        }
        // InitializeNonceAccount(authority): [nonce, recent_blockhashes, rent]
        6 => {
            let _authority = d.pubkey()?;
            vec![nonce(NonceAction::Initialize, a)?]
        }
        // AuthorizeNonceAccount(new authority): [nonce, authority]
        7 => {
            let _authority = d.pubkey()?;
            vec![nonce(NonceAction::Authorize, a)?]
        }
        // Allocate { space }: [account]
        8 => {
            let space = d.u64()?;
            vec![Effect::Allocate {
                account: a.party(0)?,
                space,
            }]
        }
        // AllocateWithSeed { base, seed, space, owner }: [account, base]
        9 => {
            let _base = d.pubkey()?;
            seed(&mut d)?;
            let space = d.u64()?;
            let owner = d.pubkey()?;
            a.require(2)?;
            vec![
                Effect::Allocate {
                    account: a.party(0)?,
                    space,
                },
                Effect::Assign {
                    account: a.party(0)?,
                    owner_program: Addr::Known(owner),
                },
            ]
        }
        // AssignWithSeed { base, seed, owner }: [account, base]
        10 => {
            let _base = d.pubkey()?;
            seed(&mut d)?;
            let owner = d.pubkey()?;
            a.require(2)?;
            vec![Effect::Assign {
                account: a.party(0)?,
                owner_program: Addr::Known(owner),
            }]
        }
        // TransferWithSeed { lamports, from_seed, from_owner }: [from, base, to]
        11 => {
            let lamports = d.u64()?;
            seed(&mut d)?;
            let _from_owner = d.pubkey()?;
            a.require(3)?;
            vec![Effect::SolTransfer {
                from: a.party(0)?,
                to: a.party(2)?,
                authority: a.party(1)?,
                lamports,
            }]
        }
        // UpgradeNonceAccount: [nonce]
        12 => vec![nonce(NonceAction::Upgrade, a)?],
        // CreateAccountAllowPrefund { lamports, space, owner }: [new, funding (if lamports > 0)]
        13 => {
            let lamports = d.u64()?;
            let space = d.u64()?;
            let owner = d.pubkey()?;
            let payer = if lamports > 0 {
                a.require(2)?;
                Some(a.party(1)?)
            } else {
                None
            };
            vec![Effect::CreateAccount {
                payer,
                account: a.party(0)?,
                lamports,
                space,
                owner_program: Addr::Known(owner),
            }]
        }
        other => return Err(InstructionError::UnsupportedTag(other)),
    };
    d.finish()?;
    Ok(effects)
}
