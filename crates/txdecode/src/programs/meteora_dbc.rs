//! Meteora Dynamic Bonding Curve (`dbcij3LWUppWqq96dh6gJWwBifmcGfLSB5D4DuSMaqN`): the two
//! swap instructions, keyed on their Anchor discriminator (`sha256("global:<name>")[..8]`).
//!
//! Layouts checked against the program's source, MeteoraAg/dynamic-bonding-curve at commit
//! b4f9547 (release 0.1.10): `programs/dynamic-bonding-curve/src/lib.rs` (`swap`, `swap2`),
//! `instructions/swap/ix_swap.rs` (`SwapCtx`, `SwapParameters`, `SwapParameters2`,
//! `SwapMode`, `handle_swap_wrapper`) and `swap_partial_fill.rs`, and against the published
//! IDLs `scripts/idl/release_0.1.2.json` and `release_0.1.6.json` (same accounts).
//!
//! Both instructions take the same 15 accounts: [pool_authority, config, pool,
//! **input_token_account**, **output_token_account**, base_vault, quote_vault,
//! **base_mint**, **quote_mint**, **payer** (signer, the input account's authority),
//! token_base_program, token_quote_program, referral_token_account?, event_authority,
//! program], then remaining accounts (the instructions sysvar when the rate limiter
//! applies).
//!
//! - `swap(amount_in u64, minimum_amount_out u64)`: exact input, minimum output;
//! - `swap2(amount_0 u64, amount_1 u64, swap_mode u8)`: `swap_mode` 0 ExactIn
//!   (`amount_in, minimum_amount_out`), 1 PartialFill (`amount_in, minimum_amount_out`,
//!   but only the part of `amount_in` the curve can take before it completes is used, so
//!   the input is at most `amount_in`; the minimum output is still checked), 2 ExactOut
//!   (`amount_out, maximum_amount_in`). Any other mode fails on chain and is malformed here.
//!
//! The direction is decided on chain by comparing the input account's mint with
//! `base_mint` (base to quote when equal, quote to base otherwise; the token transfers then
//! enforce the mints), so the two mints are reported as pool mints, side unknown. A SOL
//! pool trades wrapped SOL through token accounts. `referral_token_account`, when present,
//! receives a share of the trading fee out of the pool's vault, which the swap charges
//! anyway: it is not an extra debit of the user. Every other DBC instruction is refused as
//! unsupported.

use super::{Accounts, Data, DexSwap, InstructionError};
use crate::effects::Effect;

/// `sha256("global:swap")[..8]`.
const SWAP: [u8; 8] = [0xf8, 0xc6, 0x9e, 0x91, 0xe1, 0x75, 0x87, 0xc8];
/// `sha256("global:swap2")[..8]`.
const SWAP2: [u8; 8] = [0x41, 0x4b, 0x3f, 0x4c, 0xeb, 0x5b, 0x5b, 0x88];

/// Accounts of a swap.
const ACCOUNTS: usize = 15;
const INPUT_TOKEN_ACCOUNT: usize = 3;
const OUTPUT_TOKEN_ACCOUNT: usize = 4;
const BASE_MINT: usize = 7;
const QUOTE_MINT: usize = 8;
const PAYER: usize = 9;

/// The supported swap instructions as `(name, discriminator)`, for tests and docs.
pub fn swap_discriminators() -> impl Iterator<Item = (&'static str, [u8; 8])> {
    [("swap", SWAP), ("swap2", SWAP2)].into_iter()
}

/// Decodes one Meteora Dynamic Bonding Curve instruction (swaps only).
pub(crate) fn decode(a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let (d, args) = super::anchor(data)?;
    let (instruction, v2) = match d {
        SWAP => ("meteora dbc swap", false),
        SWAP2 => ("meteora dbc swap2", true),
        other => return Err(super::unsupported_discriminator(other)),
    };
    a.require(ACCOUNTS)?;
    let mut d = Data::new(args);
    let amount_0 = d.u64()?;
    let amount_1 = d.u64()?;
    let mode = if v2 { d.u8()? } else { super::METEORA_EXACT_IN };
    d.finish()?;
    let (amount_in, amount_out) = super::meteora_swap_mode_bounds(amount_0, amount_1, mode)?;
    Ok(vec![DexSwap {
        instruction,
        authority: a.addr(PAYER)?,
        source: a.addr(INPUT_TOKEN_ACCOUNT)?,
        destination: a.addr(OUTPUT_TOKEN_ACCOUNT)?,
        source_mint: None,
        destination_mint: None,
        pool_mints: vec![a.addr(BASE_MINT)?, a.addr(QUOTE_MINT)?],
        amount_in,
        amount_out,
    }
    .effect()])
}
