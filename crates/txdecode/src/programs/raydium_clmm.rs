//! Raydium CLMM (`CAMMCzo5YL8w4VFF8KVHrK22GGUsp5VTaW7grrKgrWqK`): the swap instructions,
//! keyed on their Anchor discriminator (`sha256("global:<name>")[..8]`).
//!
//! Layouts checked against the program's source, raydium-io/raydium-clmm
//! `programs/amm/src/lib.rs` and `instructions/{swap,swap_v2,swap_router_base_in}.rs` at
//! commit 03b44b7, and against the published IDL raydium-io/raydium-idl
//! `raydium_clmm/amm_v3.json`.
//!
//! - `swap(amount: u64, other_amount_threshold: u64, sqrt_price_limit_x64: u128,
//!   is_base_input: bool)`: [payer (signer), amm_config, pool_state, input_token_account,
//!   output_token_account, input_vault, output_vault, observation_state, token_program,
//!   tick_array, (more tick arrays)...]. Names no mint.
//! - `swap_v2` (same arguments): [payer, amm_config, pool_state, input_token_account,
//!   output_token_account, input_vault, output_vault, observation_state, token_program,
//!   token_program_2022, memo_program, input_vault_mint, output_vault_mint, (bitmap
//!   extension, tick arrays)...].
//!
//!   With `is_base_input` the swap spends `amount` for at least `other_amount_threshold`;
//!   without it, it buys `amount` for at most `other_amount_threshold`. The swap stops
//!   when the price reaches `sqrt_price_limit_x64`, and the program requires a complete
//!   fill only when that limit is 0 (`exact_internal`, `exact_internal_v2`: "Does't allow
//!   partial filled without specified limit_price"). So with a limit (the mainnet
//!   exact-output `swap_v2` in `tests/dex/raydium` sends one) an exact-input swap spends
//!   at most `amount` (the minimum output still holds) and an exact-output swap delivers
//!   any amount up to `amount` for at most `other_amount_threshold` (reported as at least
//!   0: nothing bounds the output). Without a limit both `amount`s are exact. The router
//!   passes no limit.
//! - `swap_router_base_in(amount_in: u64, amount_out_minimum: u64)`: [payer,
//!   input_token_account, input_token_mint, token_program, token_program_2022,
//!   memo_program], then one group per hop: [amm_config, pool_state, output_token_account,
//!   input_vault, output_vault, output_token_mint, observation_state], followed by that
//!   hop's bitmap extension and tick arrays. Each hop's output account is the next hop's
//!   input, and `amount_out_minimum` bounds what the last hop delivers.
//!
//!   The program finds where the next hop starts by the data length of the accounts (the
//!   first one after a hop whose length is an `AmmConfig`'s), which the transaction does
//!   not show. So only a route that cannot hold a second hop is decoded: the first hop
//!   always starts at position 6, and a second hop needs seven more accounts, so with at
//!   most six accounts after the first hop's group (at most 19 in all) the route is a
//!   single swap into `output_token_account` (position 8) of mint `output_token_mint`
//!   (position 11). A longer account list may route the output anywhere and is refused
//!   as unsupported.
//!
//! Every other instruction is unsupported.

use super::{Accounts, Data, DexSwap, InstructionError};
use crate::effects::{Effect, SwapAmount};

/// `swap` discriminator.
const SWAP: [u8; 8] = [0xf8, 0xc6, 0x9e, 0x91, 0xe1, 0x75, 0x87, 0xc8];
/// `swap_v2` discriminator.
const SWAP_V2: [u8; 8] = [0x2b, 0x04, 0xed, 0x0b, 0x1a, 0xc9, 0x1e, 0x62];
/// `swap_router_base_in` discriminator.
const SWAP_ROUTER_BASE_IN: [u8; 8] = [0x45, 0x7d, 0x73, 0xda, 0xf5, 0xba, 0xf2, 0xc4];

/// Accounts named by `swap` (through the first tick array).
const SWAP_ACCOUNTS: usize = 10;
/// Accounts named by `swap_v2`.
const SWAP_V2_ACCOUNTS: usize = 13;
/// Fixed accounts of `swap_router_base_in`.
const ROUTER_FIXED: usize = 6;
/// Accounts of one router hop group.
const ROUTER_HOP: usize = 7;
/// `swap_router_base_in` with one hop group.
const ROUTER_MIN: usize = ROUTER_FIXED + ROUTER_HOP;
/// The fewest accounts with which a second hop could follow the first.
const ROUTER_TWO_HOPS: usize = ROUTER_MIN + ROUTER_HOP;

/// Positions shared by `swap` and `swap_v2`.
const PAYER: usize = 0;
const INPUT_TOKEN_ACCOUNT: usize = 3;
const OUTPUT_TOKEN_ACCOUNT: usize = 4;
/// `swap_v2` mints.
const INPUT_VAULT_MINT: usize = 11;
const OUTPUT_VAULT_MINT: usize = 12;
/// `swap_router_base_in` positions (the output ones are in the first hop group).
const ROUTER_INPUT_TOKEN_ACCOUNT: usize = 1;
const ROUTER_INPUT_TOKEN_MINT: usize = 2;
const ROUTER_OUTPUT_TOKEN_ACCOUNT: usize = ROUTER_FIXED + 2;
const ROUTER_OUTPUT_TOKEN_MINT: usize = ROUTER_FIXED + 5;

/// The supported swap instructions as `(name, discriminator)`, for tests and docs.
pub fn swap_discriminators() -> impl Iterator<Item = (&'static str, [u8; 8])> {
    [
        ("swap", SWAP),
        ("swap_v2", SWAP_V2),
        ("swap_router_base_in", SWAP_ROUTER_BASE_IN),
    ]
    .into_iter()
}

/// `sqrt_price_limit_x64` of 0: the program uses the extreme price and refuses a partial
/// fill.
const NO_PRICE_LIMIT: u128 = 0;

/// `swap` / `swap_v2` arguments as input and output bounds.
fn single_amounts(args: &[u8]) -> Result<(SwapAmount, SwapAmount), InstructionError> {
    let mut d = Data::new(args);
    let amount = d.u64()?;
    let other_amount_threshold = d.u64()?;
    let sqrt_price_limit_x64 = u128::from_le_bytes(d.bytes::<16>()?);
    let is_base_input = d.bool()?;
    d.finish()?;
    let complete_fill = sqrt_price_limit_x64 == NO_PRICE_LIMIT;
    Ok(match (is_base_input, complete_fill) {
        (true, true) => super::one_side_exact(true, amount, other_amount_threshold),
        (true, false) => (
            SwapAmount::AtMost(amount),
            SwapAmount::AtLeast(other_amount_threshold),
        ),
        (false, true) => super::one_side_exact(false, other_amount_threshold, amount),
        (false, false) => (
            SwapAmount::AtMost(other_amount_threshold),
            SwapAmount::AtLeast(0),
        ),
    })
}

/// Decodes one Raydium CLMM instruction (swaps only).
pub(crate) fn decode(a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let (d, args) = super::anchor(data)?;
    let swap = match d {
        SWAP => {
            a.require(SWAP_ACCOUNTS)?;
            let (amount_in, amount_out) = single_amounts(args)?;
            DexSwap {
                instruction: "raydium clmm swap",
                authority: a.addr(PAYER)?,
                source: a.addr(INPUT_TOKEN_ACCOUNT)?,
                destination: a.addr(OUTPUT_TOKEN_ACCOUNT)?,
                source_mint: None,
                destination_mint: None,
                pool_mints: Vec::new(),
                amount_in,
                amount_out,
            }
        }
        SWAP_V2 => {
            a.require(SWAP_V2_ACCOUNTS)?;
            let (amount_in, amount_out) = single_amounts(args)?;
            DexSwap {
                instruction: "raydium clmm swap_v2",
                authority: a.addr(PAYER)?,
                source: a.addr(INPUT_TOKEN_ACCOUNT)?,
                destination: a.addr(OUTPUT_TOKEN_ACCOUNT)?,
                source_mint: Some(a.addr(INPUT_VAULT_MINT)?),
                destination_mint: Some(a.addr(OUTPUT_VAULT_MINT)?),
                pool_mints: Vec::new(),
                amount_in,
                amount_out,
            }
        }
        SWAP_ROUTER_BASE_IN => {
            a.require(ROUTER_MIN)?;
            if a.require(ROUTER_TWO_HOPS).is_ok() {
                // A second hop may follow: the final output account is not knowable.
                return Err(super::unsupported_discriminator(d));
            }
            let (amount_in, amount_out_minimum) = super::two_u64(args)?;
            DexSwap {
                instruction: "raydium clmm swap_router_base_in",
                authority: a.addr(PAYER)?,
                source: a.addr(ROUTER_INPUT_TOKEN_ACCOUNT)?,
                destination: a.addr(ROUTER_OUTPUT_TOKEN_ACCOUNT)?,
                source_mint: Some(a.addr(ROUTER_INPUT_TOKEN_MINT)?),
                destination_mint: Some(a.addr(ROUTER_OUTPUT_TOKEN_MINT)?),
                pool_mints: Vec::new(),
                amount_in: SwapAmount::Exact(amount_in),
                amount_out: SwapAmount::AtLeast(amount_out_minimum),
            }
        }
        other => return Err(super::unsupported_discriminator(other)),
    };
    Ok(vec![swap.effect()])
}
