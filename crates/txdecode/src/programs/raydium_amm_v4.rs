//! Raydium AMM v4 (`675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8`): the swap instructions.
//!
//! Not an Anchor program: the first data byte is the instruction tag, then packed
//! little-endian arguments. Layouts checked against the program's own source,
//! raydium-io/raydium-amm `program/src/instruction.rs` (`AmmInstruction::unpack` and the
//! account lists of `SwapBaseIn`, `SwapBaseOut`, `SwapBaseInV2`, `SwapBaseOutV2`) and
//! `program/src/processor.rs` (`process_swap_base_in`/`_out` and their `_v2` forms), at
//! commit 27f461d; cross-checked with raydium-io/raydium-idl `raydium_amm/idl.json` and
//! the carbon `raydium-amm-v4-decoder`.
//!
//! - `9` swap_base_in `(amount_in: u64, minimum_amount_out: u64)` and `11` swap_base_out
//!   `(max_amount_in: u64, amount_out: u64)`: 18 accounts, or 17 without the optional
//!   `amm_target_orders` (position 4). The program accepts exactly 17 or 18 accounts and
//!   takes the user's accounts from the end: `user_source`, `user_destination`,
//!   `user_source_owner` (signer) are the last three.
//! - `16` swap_base_in_v2 and `17` swap_base_out_v2 (same arguments): [token_program, amm,
//!   amm_authority, amm_coin_vault, amm_pc_vault, user_source, user_destination,
//!   user_source_owner]; further accounts are ignored by the program.
//!
//! The instruction names no mint, so the swap carries none: the destination is proven the
//! user's only when the transaction names its mint elsewhere (e.g. an associated token
//! account CreateIdempotent for the output mint). The program itself ignores bytes after
//! the two amounts; this decoder refuses them, as it does for every layout. Every other
//! tag is unsupported.

use super::{Accounts, DexSwap, InstructionError};
use crate::effects::Effect;

/// `swap_base_in` tag.
pub const SWAP_BASE_IN: u8 = 9;
/// `swap_base_out` tag.
pub const SWAP_BASE_OUT: u8 = 11;
/// `swap_base_in_v2` tag.
pub const SWAP_BASE_IN_V2: u8 = 16;
/// `swap_base_out_v2` tag.
pub const SWAP_BASE_OUT_V2: u8 = 17;

/// Accounts of a v1 swap without `amm_target_orders`.
const V1_SHORT: usize = 17;
/// Accounts of a v1 swap with `amm_target_orders`.
const V1_FULL: usize = 18;
/// Accounts of a v2 swap.
const V2_ACCOUNTS: usize = 8;
/// Position of `user_source` in a v2 swap (destination and owner follow).
const V2_USER: usize = 5;

/// The supported swap instructions as `(name, tag)`, for tests and docs.
pub fn swap_tags() -> impl Iterator<Item = (&'static str, u8)> {
    [
        ("swap_base_in", SWAP_BASE_IN),
        ("swap_base_out", SWAP_BASE_OUT),
        ("swap_base_in_v2", SWAP_BASE_IN_V2),
        ("swap_base_out_v2", SWAP_BASE_OUT_V2),
    ]
    .into_iter()
}

/// Position of `user_source` in a v1 swap: the last three accounts are the user's, and
/// the program accepts exactly 17 or 18 accounts.
fn v1_user(a: &Accounts<'_>) -> Result<usize, InstructionError> {
    a.require(V1_SHORT)?;
    match a.len() {
        V1_SHORT => Ok(V1_SHORT - 3),
        V1_FULL => Ok(V1_FULL - 3),
        // More accounts than the program accepts (it fails with WrongAccountsNumber).
        n => Err(InstructionError::InvalidLength(n as u64)),
    }
}

/// Decodes one Raydium AMM v4 instruction (swaps only).
pub(crate) fn decode(a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let (&tag, args) = data.split_first().ok_or(InstructionError::EmptyData)?;
    let (instruction, exact_in, user) = match tag {
        SWAP_BASE_IN => ("raydium amm v4 swap_base_in", true, v1_user(a)?),
        SWAP_BASE_OUT => ("raydium amm v4 swap_base_out", false, v1_user(a)?),
        SWAP_BASE_IN_V2 => {
            a.require(V2_ACCOUNTS)?;
            ("raydium amm v4 swap_base_in_v2", true, V2_USER)
        }
        SWAP_BASE_OUT_V2 => {
            a.require(V2_ACCOUNTS)?;
            ("raydium amm v4 swap_base_out_v2", false, V2_USER)
        }
        other => return Err(InstructionError::UnsupportedTag(u32::from(other))),
    };
    // (amount_in, minimum_amount_out) or (max_amount_in, amount_out)
    let (input, output) = super::two_u64(args)?;
    let (amount_in, amount_out) = super::one_side_exact(exact_in, input, output);
    Ok(vec![DexSwap {
        instruction,
        authority: a.addr(user + 2)?,
        source: a.addr(user)?,
        destination: a.addr(user + 1)?,
        source_mint: None,
        destination_mint: None,
        pool_mints: Vec::new(),
        amount_in,
        amount_out,
    }
    .effect()])
}
