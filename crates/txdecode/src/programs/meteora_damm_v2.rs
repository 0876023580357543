//! Meteora DAMM v2, the CP-AMM (`cpamdpZCGKUy5JxQXB4dcpGPiikHawvSWAd6mEn1sGG`): `swap` and
//! `swap2`, keyed on their Anchor discriminator (`sha256("global:<name>")[..8]`).
//!
//! Layouts checked against the program source, MeteoraAg/damm-v2 at commit a3d3827f
//! (`programs/cp-amm/src/lib.rs`, `entrypoint.rs` (the pinocchio fast path that actually
//! runs both swaps), `instructions/swap/ix_swap.rs`, `ix_p_swap.rs`,
//! `swap_partial_fill.rs`, `swap_exact_out.rs`), the IDL in
//! anchorageoss/visualsign-parser (`presets/meteora_damm_v2`, v0.2.0) and the carbon
//! decoder (sevenlabs-hq/carbon `decoders/meteora-damm-v2-decoder`).
//!
//! Accounts of both: [pool_authority, pool, **input_token_account**,
//! **output_token_account**, token_a_vault, token_b_vault, **token_a_mint**,
//! **token_b_mint**, **payer**, token_a_program, token_b_program, referral_token_account?,
//! event_authority, program] (14), remaining accounts allowed (a sysvar for the rate
//! limiter).
//!
//! - `swap(SwapParameters { amount_in u64, minimum_amount_out u64 })`: exact input,
//!   minimum output.
//! - `swap2(SwapParameters2 { amount_0 u64, amount_1 u64, swap_mode u8 })`, by
//!   `swap_mode`: 0 `ExactIn` (`amount_0` exact input, `amount_1` minimum output);
//!   1 `PartialFill` (`amount_0` is the most that is taken: the pool may consume less when
//!   its price range runs out; `amount_1` minimum output); 2 `ExactOut` (`amount_0` exact
//!   output, `amount_1` maximum input). Any other mode is refused, as the program does.
//!
//! The direction is decided on chain from the input account's mint, so the two mints are
//! reported as pool mints (side unknown). The optional `referral_token_account` receives a
//! referral share of the trading fee from the pool's vault, not an extra debit of the
//! user. Every other instruction is refused as unsupported.

use super::{Accounts, Data, DexSwap, InstructionError};
use crate::effects::{Effect, SwapAmount};

/// `sha256("global:swap")[..8]`.
const SWAP: [u8; 8] = [0xf8, 0xc6, 0x9e, 0x91, 0xe1, 0x75, 0x87, 0xc8];
/// `sha256("global:swap2")[..8]`.
const SWAP2: [u8; 8] = [0x41, 0x4b, 0x3f, 0x4c, 0xeb, 0x5b, 0x5b, 0x88];

/// The supported instructions as `(name, discriminator)`, for tests and docs.
pub fn discriminators() -> impl Iterator<Item = (&'static str, [u8; 8])> {
    [("swap", SWAP), ("swap2", SWAP2)].into_iter()
}

/// Decodes one Meteora DAMM v2 instruction (swaps only).
pub(crate) fn decode(a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let (d, args) = super::anchor(data)?;
    let mut args = Data::new(args);
    let (instruction, (amount_in, amount_out)) = match d {
        SWAP => {
            let amount_in = args.u64()?;
            let minimum_amount_out = args.u64()?;
            (
                "meteora damm v2 swap",
                (
                    SwapAmount::Exact(amount_in),
                    SwapAmount::AtLeast(minimum_amount_out),
                ),
            )
        }
        SWAP2 => {
            let amount_0 = args.u64()?;
            let amount_1 = args.u64()?;
            let mode = args.u8()?;
            (
                "meteora damm v2 swap2",
                super::meteora_swap_mode_bounds(amount_0, amount_1, mode)?,
            )
        }
        _ => return Err(super::unsupported_discriminator(d)),
    };
    args.finish()?;
    a.require(14)?;
    Ok(vec![DexSwap {
        instruction,
        authority: a.addr(8)?,
        source: a.addr(2)?,
        destination: a.addr(3)?,
        source_mint: None,
        destination_mint: None,
        pool_mints: vec![a.addr(6)?, a.addr(7)?],
        amount_in,
        amount_out,
    }
    .effect()])
}
