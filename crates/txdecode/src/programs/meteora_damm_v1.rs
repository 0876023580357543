//! Meteora DAMM v1, the dynamic AMM (`Eo7WjKq67rjJQSZxS6z3YkapzY3eMj6Xy8X5EQVn5UaB`):
//! `swap` only, keyed on its Anchor discriminator (`sha256("global:swap")[..8]`).
//!
//! Layout checked against the program interface published in MeteoraAg/dynamic-amm-sdk at
//! commit b21e2efb (`programs/dynamic-amm/src/lib.rs`: `swap(in_amount u64,
//! minimum_out_amount u64)`; `programs/dynamic-amm/src/instructions/swap.rs`) and the
//! carbon decoder generated from the IDL (sevenlabs-hq/carbon
//! `decoders/meteora-pools-decoder/src/instructions/swap.rs`).
//!
//! Accounts: [pool, **user_source_token**, **user_destination_token**, a_vault, b_vault,
//! a_token_vault, b_token_vault, a_vault_lp_mint, b_vault_lp_mint, a_vault_lp, b_vault_lp,
//! protocol_token_fee, **user**, vault_program, token_program] (15), remaining accounts
//! allowed. Exact input, minimum output. The instruction names no mint (the direction
//! follows the source account's mint on chain), so ownership of the destination can only
//! be proven from a mint named elsewhere in the transaction (e.g. the ATA creation bots
//! send first). `protocol_token_fee` receives the protocol's share of the trading fee,
//! taken out of the input amount, not on top of it. Every other instruction is refused as
//! unsupported.

use super::{Accounts, DexSwap, InstructionError};
use crate::effects::{Effect, SwapAmount};

/// `sha256("global:swap")[..8]`.
const SWAP: [u8; 8] = [0xf8, 0xc6, 0x9e, 0x91, 0xe1, 0x75, 0x87, 0xc8];

/// The supported instructions as `(name, discriminator)`, for tests and docs.
pub fn discriminators() -> impl Iterator<Item = (&'static str, [u8; 8])> {
    [("swap", SWAP)].into_iter()
}

/// Decodes one Meteora DAMM v1 instruction (`swap` only).
pub(crate) fn decode(a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let (d, args) = super::anchor(data)?;
    if d != SWAP {
        return Err(super::unsupported_discriminator(d));
    }
    let (in_amount, minimum_out_amount) = super::two_u64(args)?;
    a.require(15)?;
    Ok(vec![DexSwap {
        instruction: "meteora damm v1 swap",
        authority: a.addr(12)?,
        source: a.addr(1)?,
        destination: a.addr(2)?,
        source_mint: None,
        destination_mint: None,
        pool_mints: Vec::new(),
        amount_in: SwapAmount::Exact(in_amount),
        amount_out: SwapAmount::AtLeast(minimum_out_amount),
    }
    .effect()])
}
