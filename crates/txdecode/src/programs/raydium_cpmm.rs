//! Raydium CPMM (`CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C`): the swap instructions,
//! keyed on their Anchor discriminator (`sha256("global:<name>")[..8]`).
//!
//! Layouts checked against the program's source, raydium-io/raydium-cp-swap
//! `programs/cp-swap/src/lib.rs` and `instructions/swap_base_input.rs` (the `Swap`
//! accounts struct, shared by `swap_base_output`) at commit 609780f, and against the
//! published IDL raydium-io/raydium-idl `raydium_cpmm/raydium_cp_swap.json`.
//!
//! Both instructions take the same 13 accounts: [payer (signer, the input account's
//! authority), authority, amm_config, pool_state, input_token_account,
//! output_token_account, input_vault, output_vault, input_token_program,
//! output_token_program, input_token_mint, output_token_mint, observation_state].
//!
//! - `swap_base_input(amount_in: u64, minimum_amount_out: u64)`;
//! - `swap_base_output(max_amount_in: u64, amount_out: u64)`.
//!
//! Every other instruction is unsupported.

use super::{Accounts, DexSwap, InstructionError};
use crate::effects::Effect;

/// `swap_base_input` discriminator.
const SWAP_BASE_INPUT: [u8; 8] = [0x8f, 0xbe, 0x5a, 0xda, 0xc4, 0x1e, 0x33, 0xde];
/// `swap_base_output` discriminator.
const SWAP_BASE_OUTPUT: [u8; 8] = [0x37, 0xd9, 0x62, 0x56, 0xa3, 0x4a, 0xb4, 0xad];

/// Accounts of a swap.
const ACCOUNTS: usize = 13;
const PAYER: usize = 0;
const INPUT_TOKEN_ACCOUNT: usize = 4;
const OUTPUT_TOKEN_ACCOUNT: usize = 5;
const INPUT_TOKEN_MINT: usize = 10;
const OUTPUT_TOKEN_MINT: usize = 11;

/// The supported swap instructions as `(name, discriminator)`, for tests and docs.
pub fn swap_discriminators() -> impl Iterator<Item = (&'static str, [u8; 8])> {
    [
        ("swap_base_input", SWAP_BASE_INPUT),
        ("swap_base_output", SWAP_BASE_OUTPUT),
    ]
    .into_iter()
}

/// Decodes one Raydium CPMM instruction (swaps only).
pub(crate) fn decode(a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let (d, args) = super::anchor(data)?;
    let (instruction, exact_in) = match d {
        SWAP_BASE_INPUT => ("raydium cpmm swap_base_input", true),
        SWAP_BASE_OUTPUT => ("raydium cpmm swap_base_output", false),
        other => return Err(super::unsupported_discriminator(other)),
    };
    a.require(ACCOUNTS)?;
    // (amount_in, minimum_amount_out) or (max_amount_in, amount_out)
    let (input, output) = super::two_u64(args)?;
    let (amount_in, amount_out) = super::one_side_exact(exact_in, input, output);
    Ok(vec![DexSwap {
        instruction,
        authority: a.addr(PAYER)?,
        source: a.addr(INPUT_TOKEN_ACCOUNT)?,
        destination: a.addr(OUTPUT_TOKEN_ACCOUNT)?,
        source_mint: Some(a.addr(INPUT_TOKEN_MINT)?),
        destination_mint: Some(a.addr(OUTPUT_TOKEN_MINT)?),
        pool_mints: Vec::new(),
        amount_in,
        amount_out,
    }
    .effect()])
}
