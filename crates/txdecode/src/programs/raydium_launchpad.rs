//! Raydium Launchpad (LaunchLab, `LanMV9sAd7wArD4vJFi2qDdfnVhFxYSUg6eADduJ3uj`): the
//! bonding-curve trades, keyed on their Anchor discriminator
//! (`sha256("global:<name>")[..8]`).
//!
//! The program's source is not public. Layouts checked against Raydium's published IDL
//! (raydium-io/raydium-docs `public/launchpad_creator_fee_upgrade/raydium_launchpad.json`,
//! version 0.2.0) and its upgrade note next to it (the remaining accounts), Raydium's CPI
//! interface raydium-io/raydium-cpi `programs/launch-cpi/src/{lib,context}.rs` (the `Swap`
//! accounts shared by all four), the instruction builders of raydium-io/raydium-sdk-V2
//! `src/raydium/launchpad/instrument.ts`, and the carbon `raydium-launchpad-decoder`.
//!
//! All four take `(u64, u64, share_fee_rate: u64)` and the same 15 accounts: [payer
//! (signer), authority, global_config, platform_config, pool_state, user_base_token,
//! user_quote_token, base_vault, quote_vault, base_token_mint, quote_token_mint,
//! base_token_program, quote_token_program, event_authority, program], then the remaining
//! accounts [share_fee_receiver (only when `share_fee_rate > 0`), system_program,
//! platform_fee_vault, creator_fee_vault].
//!
//! - `buy_exact_in(amount_in, minimum_amount_out, _)`: quote in, base out;
//! - `buy_exact_out(amount_out, maximum_amount_in, _)`;
//! - `sell_exact_in(amount_in, minimum_amount_out, _)`: base in, quote out;
//! - `sell_exact_out(amount_out, maximum_amount_in, _)`.
//!
//! `share_fee_rate` (parts per million of the trade, paid in the quote token) goes to
//! `share_fee_receiver`, an account the transaction's builder chooses: it is reported as
//! the swap's platform fee (rounded up to whole basis points) and its account, so the
//! policy's platform fee cap applies. The pool's own platform and creator fees are set by
//! the pool's configuration, not by the transaction, and are part of the curve's price.
//!
//! Every other instruction is unsupported.

use super::{Accounts, Data, InstructionError};
use crate::effects::{Effect, Party};

/// `buy_exact_in` discriminator.
const BUY_EXACT_IN: [u8; 8] = [0xfa, 0xea, 0x0d, 0x7b, 0xd5, 0x9c, 0x13, 0xec];
/// `buy_exact_out` discriminator.
const BUY_EXACT_OUT: [u8; 8] = [0x18, 0xd3, 0x74, 0x28, 0x69, 0x03, 0x99, 0x38];
/// `sell_exact_in` discriminator.
const SELL_EXACT_IN: [u8; 8] = [0x95, 0x27, 0xde, 0x9b, 0xd3, 0x7c, 0x98, 0x1a];
/// `sell_exact_out` discriminator.
const SELL_EXACT_OUT: [u8; 8] = [0x5f, 0xc8, 0x47, 0x22, 0x08, 0x09, 0x0b, 0xa6];

/// Accounts the IDL names.
const ACCOUNTS: usize = 15;
const PAYER: usize = 0;
const USER_BASE_TOKEN: usize = 5;
const USER_QUOTE_TOKEN: usize = 6;
const BASE_TOKEN_MINT: usize = 9;
const QUOTE_TOKEN_MINT: usize = 10;
/// The first remaining account: the share fee receiver when `share_fee_rate > 0`.
const SHARE_FEE_RECEIVER: usize = ACCOUNTS;

/// Parts per million in one basis point.
const PPM_PER_BPS: u64 = 100;

/// The supported trade instructions as `(name, discriminator)`, for tests and docs.
pub fn swap_discriminators() -> impl Iterator<Item = (&'static str, [u8; 8])> {
    [
        ("buy_exact_in", BUY_EXACT_IN),
        ("buy_exact_out", BUY_EXACT_OUT),
        ("sell_exact_in", SELL_EXACT_IN),
        ("sell_exact_out", SELL_EXACT_OUT),
    ]
    .into_iter()
}

/// `share_fee_rate` (parts per million) in basis points, rounded up.
fn share_fee_bps(rate_ppm: u64) -> u16 {
    u16::try_from(rate_ppm.div_ceil(PPM_PER_BPS)).unwrap_or(u16::MAX)
}

/// Decodes one Raydium Launchpad instruction (trades only).
pub(crate) fn decode(a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let (d, args) = super::anchor(data)?;
    let (instruction, buy, exact_in) = match d {
        BUY_EXACT_IN => ("raydium launchpad buy_exact_in", true, true),
        BUY_EXACT_OUT => ("raydium launchpad buy_exact_out", true, false),
        SELL_EXACT_IN => ("raydium launchpad sell_exact_in", false, true),
        SELL_EXACT_OUT => ("raydium launchpad sell_exact_out", false, false),
        other => return Err(super::unsupported_discriminator(other)),
    };
    a.require(ACCOUNTS)?;
    let mut data = Data::new(args);
    let first = data.u64()?;
    let second = data.u64()?;
    let share_fee_rate = data.u64()?;
    data.finish()?;
    let (amount_in, amount_out) = if exact_in {
        // (amount_in, minimum_amount_out)
        super::one_side_exact(true, first, second)
    } else {
        // (amount_out, maximum_amount_in)
        super::one_side_exact(false, second, first)
    };
    let (source, destination, source_mint, destination_mint) = if buy {
        (
            USER_QUOTE_TOKEN,
            USER_BASE_TOKEN,
            QUOTE_TOKEN_MINT,
            BASE_TOKEN_MINT,
        )
    } else {
        (
            USER_BASE_TOKEN,
            USER_QUOTE_TOKEN,
            BASE_TOKEN_MINT,
            QUOTE_TOKEN_MINT,
        )
    };
    // Without the receiver the program refuses a share fee; reported with no account, the
    // fee is still judged (as paid to someone else).
    let platform_fee_account = if share_fee_rate > 0 {
        a.addr(SHARE_FEE_RECEIVER).ok().map(Party::new)
    } else {
        None
    };
    Ok(vec![Effect::Swap {
        instruction,
        authority: a.party(PAYER)?,
        source: a.party(source)?,
        destination: a.party(destination)?,
        source_mint: Some(a.addr(source_mint)?),
        destination_mint: Some(a.addr(destination_mint)?),
        pool_mints: Vec::new(),
        amount_in,
        amount_out,
        quote: None,
        platform_fee_bps: share_fee_bps(share_fee_rate),
        platform_fee_account,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_fee_rounds_up_to_basis_points() {
        assert_eq!(share_fee_bps(0), 0);
        assert_eq!(share_fee_bps(1), 1);
        assert_eq!(share_fee_bps(100), 1);
        assert_eq!(share_fee_bps(101), 2);
        assert_eq!(share_fee_bps(10_000), 100);
        assert_eq!(share_fee_bps(1_000_000), 10_000);
        assert_eq!(share_fee_bps(u64::MAX), u16::MAX);
    }
}
