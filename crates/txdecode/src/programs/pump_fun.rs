//! Pump.fun bonding curve (`6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P`): the trade
//! instructions, keyed on their Anchor discriminator (`sha256("global:<name>")[..8]`).
//!
//! Layouts checked against the program's published IDL: pump-fun/pump-public-docs
//! `idl/pump.json` (every version from commit df5013e, April 2025, to 3c6721a, May 2026)
//! and the newer `idls/pump.json` shipped in pump-fun's `pump-rust-client` 0.5.0 crate
//! (MIT, which adds the v3 trades and `partial_fill`), with the account tables of the
//! docs `docs/instructions/BUY.md`, `SELL.md` and `TRADE_V3.md`, and the mainnet
//! instruction fixtures of sevenlabs-hq/carbon (`decoders/pumpfun-decoder/tests/fixtures/
//! buy_ix.json`, 16 accounts with 24 bytes of arguments, and `sell_ix.json`, 12 accounts).
//!
//! Legacy trades (SOL-paired coins only; native SOL moves in and out of the `user` wallet,
//! the tokens through `associated_user`):
//! - `buy(amount u64, max_sol_cost u64, track_volume OptionBool?, partial_fill
//!   OptionBool?)`: exactly `amount` tokens for at most `max_sol_cost` lamports (fees
//!   included);
//! - `buy_exact_sol_in(spendable_sol_in u64, min_tokens_out u64, track_volume?,
//!   partial_fill?)`: a SOL budget (fees are taken out of it) for at least
//!   `min_tokens_out` tokens;
//! - `sell(amount u64, min_sol_output u64)`: exactly `amount` tokens for at least
//!   `min_sol_output` lamports.
//!
//! Accounts: [global, fee_recipient, **mint**, bonding_curve, associated_bonding_curve,
//! **associated_user**, **user**, system_program, ...]. The list grew over time: `buy` had
//! 12 accounts (…, token_program, rent or creator_vault, event_authority, program), then 14
//! (+ global_volume_accumulator, user_volume_accumulator), then 16 (+ fee_config,
//! fee_program); `sell` had 12, then 14 (+ fee_config, fee_program); `buy_exact_sol_in`
//! came with 16. The positions read here (2, 5, 6) never moved, so 12 accounts are
//! required (16 for `buy_exact_sol_in`), later ones and cashback remaining accounts are
//! allowed.
//!
//! Unified trades (any quote mint; all accounts mandatory):
//! - `buy_v2` / `buy_exact_quote_in_v2` (27 accounts) and `sell_v2` (26): [global,
//!   **base_mint**, **quote_mint**, base_token_program, quote_token_program,
//!   associated_token_program, fee_recipient, associated_quote_fee_recipient,
//!   buyback_fee_recipient, associated_quote_buyback_fee_recipient, bonding_curve,
//!   associated_base_bonding_curve, associated_quote_bonding_curve, **user**,
//!   **associated_base_user**, **associated_quote_user**, ...];
//! - `buy_v3` / `buy_exact_quote_in_v3` / `sell_v3` (17 accounts): [global, **base_mint**,
//!   **quote_mint**, base_token_program, quote_token_program, bonding_curve,
//!   associated_base_bonding_curve, associated_quote_bonding_curve, **user**,
//!   **associated_base_user**, **associated_quote_user**, user_volume_accumulator,
//!   fee_config, buyback_fee_recipient, system_program, event_authority, program].
//!
//! The arguments are those of the legacy trades (`amount, max_sol_cost` /
//! `spendable_quote_in, min_tokens_out` / `amount, min_sol_output`), the buys followed by
//! an optional `partial_fill: OptionBool`. For a SOL-paired coin the `quote_mint` is
//! wrapped SOL and the quote moves as native SOL through the `user` wallet (the docs: "For
//! SOL-paired coins, this is seed constrained but native SOL is used for the transfer";
//! the SDK treats exactly `quote_mint == wrapped SOL` as native); any other quote moves
//! through `associated_quote_user`. When the quote mint is in a lookup table whose contents
//! are not known, the token account is reported (the conservative choice for a sell's
//! destination).
//!
//! `OptionBool` is a one-byte bool that may be left off the end of the data (the IDL marks
//! these arguments optional, and mainnet buys without `track_volume` exist): each one is
//! read only if bytes remain, must be 0 or 1, and nothing may follow the last one.
//!
//! `partial_fill = true` lets a buy that asks for more than the curve has left fill only
//! the remainder and complete the curve, skipping `min_tokens_out` on the exact-in forms
//! (SDK: "the exact-in form then skips `min_tokens_out`"; on v3 it only applies to mayhem
//! coins, which the instruction does not show). Such a buy is reported as receiving up to
//! `amount` (exact-out forms) or at least 0 tokens for up to the budget (exact-in forms).
//!
//! What the user pays besides the trade is rent for the program's own bookkeeping
//! accounts (the user volume accumulator, creator vault, bonding curve top-ups), bounded
//! and not a transfer to anyone. `create` / `create_v2` (a token launch: the user funds the
//! mint, curve and metadata accounts and names the coin's `creator`, who earns its creator
//! fees) are not decoded: no effect states the rent they move or who benefits, so they are
//! refused as unsupported, like every other Pump.fun instruction.

use super::{Accounts, Data, DexSwap, InstructionError, NATIVE_MINT};
use crate::effects::{Addr, Effect, SwapAmount};

/// What the two amount arguments are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `amount` (tokens out, exact), `max_cost` (quote in, at most).
    Buy,
    /// `spendable_in` (quote in), `min_tokens_out` (tokens out, at least).
    BuyExactIn,
    /// `amount` (tokens in, exact), `min_out` (quote out, at least).
    Sell,
}

/// Optional one-byte arguments after the amounts, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    /// `track_volume: OptionBool` (volume rewards bookkeeping only).
    TrackVolume,
    /// `partial_fill: OptionBool`.
    PartialFill,
}

/// Where the quote side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    /// Legacy trades: native SOL through the `user` wallet.
    Native,
    /// Unified trades: `quote_mint`, and the user's quote token account (used unless the
    /// quote mint is wrapped SOL).
    Mint { mint: usize, user_account: usize },
}

/// One trade instruction.
#[derive(Debug)]
struct Layout {
    name: &'static str,
    discriminator: [u8; 8],
    kind: Kind,
    flags: &'static [Flag],
    /// Minimum accounts.
    accounts: usize,
    user: usize,
    base_mint: usize,
    base_user: usize,
    quote: Quote,
}

const LEGACY_BUY_FLAGS: &[Flag] = &[Flag::TrackVolume, Flag::PartialFill];
const BUY_FLAGS: &[Flag] = &[Flag::PartialFill];

const BUY: Layout = Layout {
    name: "pump.fun buy",
    discriminator: [0x66, 0x06, 0x3d, 0x12, 0x01, 0xda, 0xeb, 0xea],
    kind: Kind::Buy,
    flags: LEGACY_BUY_FLAGS,
    accounts: 12,
    user: 6,
    base_mint: 2,
    base_user: 5,
    quote: Quote::Native,
};

const BUY_EXACT_SOL_IN: Layout = Layout {
    name: "pump.fun buy_exact_sol_in",
    discriminator: [0x38, 0xfc, 0x74, 0x08, 0x9e, 0xdf, 0xcd, 0x5f],
    kind: Kind::BuyExactIn,
    accounts: 16,
    ..BUY
};

const SELL: Layout = Layout {
    name: "pump.fun sell",
    discriminator: [0x33, 0xe6, 0x85, 0xa4, 0x01, 0x7f, 0x83, 0xad],
    kind: Kind::Sell,
    flags: &[],
    ..BUY
};

/// v2: accounts 13 user, 14 associated_base_user, 15 associated_quote_user.
const QUOTE_V2: Quote = Quote::Mint {
    mint: 2,
    user_account: 15,
};

const BUY_V2: Layout = Layout {
    name: "pump.fun buy_v2",
    discriminator: [0xb8, 0x17, 0xee, 0x61, 0x67, 0xc5, 0xd3, 0x3d],
    kind: Kind::Buy,
    flags: BUY_FLAGS,
    accounts: 27,
    user: 13,
    base_mint: 1,
    base_user: 14,
    quote: QUOTE_V2,
};

const BUY_EXACT_QUOTE_IN_V2: Layout = Layout {
    name: "pump.fun buy_exact_quote_in_v2",
    discriminator: [0xc2, 0xab, 0x1c, 0x46, 0x68, 0x4d, 0x5b, 0x2f],
    kind: Kind::BuyExactIn,
    ..BUY_V2
};

const SELL_V2: Layout = Layout {
    name: "pump.fun sell_v2",
    discriminator: [0x5d, 0xf6, 0x82, 0x3c, 0xe7, 0xe9, 0x40, 0xb2],
    kind: Kind::Sell,
    flags: &[],
    accounts: 26,
    ..BUY_V2
};

/// v3: accounts 8 user, 9 associated_base_user, 10 associated_quote_user.
const BUY_V3: Layout = Layout {
    name: "pump.fun buy_v3",
    discriminator: [0x07, 0x05, 0x1d, 0xc4, 0xf5, 0x17, 0x65, 0x50],
    kind: Kind::Buy,
    flags: BUY_FLAGS,
    accounts: 17,
    user: 8,
    base_mint: 1,
    base_user: 9,
    quote: Quote::Mint {
        mint: 2,
        user_account: 10,
    },
};

const BUY_EXACT_QUOTE_IN_V3: Layout = Layout {
    name: "pump.fun buy_exact_quote_in_v3",
    discriminator: [0xe1, 0xf7, 0x50, 0x1e, 0xd5, 0xb3, 0x84, 0x88],
    kind: Kind::BuyExactIn,
    ..BUY_V3
};

const SELL_V3: Layout = Layout {
    name: "pump.fun sell_v3",
    discriminator: [0x1c, 0x92, 0xde, 0x77, 0x26, 0xc4, 0x69, 0xd5],
    kind: Kind::Sell,
    flags: &[],
    ..BUY_V3
};

/// Every supported instruction.
const LAYOUTS: [&Layout; 9] = [
    &BUY,
    &BUY_EXACT_SOL_IN,
    &SELL,
    &BUY_V2,
    &BUY_EXACT_QUOTE_IN_V2,
    &SELL_V2,
    &BUY_V3,
    &BUY_EXACT_QUOTE_IN_V3,
    &SELL_V3,
];

/// The supported instructions as `(name, discriminator)`, for tests and docs.
pub fn swap_discriminators() -> impl Iterator<Item = (&'static str, [u8; 8])> {
    LAYOUTS.iter().map(|l| {
        let name = l.name.strip_prefix("pump.fun ").unwrap_or(l.name);
        (name, l.discriminator)
    })
}

/// An `OptionBool` argument that may be left off the end of the data.
fn option_bool(d: &mut Data<'_>) -> Result<Option<bool>, InstructionError> {
    if d.remaining() == 0 {
        return Ok(None);
    }
    d.bool().map(Some)
}

/// Decodes a trade with its layout.
fn decode_trade(
    layout: &Layout,
    a: &Accounts<'_>,
    args: &[u8],
) -> Result<Vec<Effect>, InstructionError> {
    a.require(layout.accounts)?;
    let mut d = Data::new(args);
    let first = d.u64()?;
    let second = d.u64()?;
    let mut partial_fill = false;
    for flag in layout.flags {
        let value = option_bool(&mut d)?;
        if *flag == Flag::PartialFill {
            partial_fill = value == Some(true);
        }
    }
    d.finish()?;

    let user = a.addr(layout.user)?;
    let native = Addr::Known(NATIVE_MINT);
    // The quote mint, and the account the quote leaves or arrives in.
    let (quote_mint, quote_account) = match layout.quote {
        Quote::Native => (native, user.clone()),
        Quote::Mint { mint, user_account } => {
            let mint = a.addr(mint)?;
            let account = if mint == native {
                user.clone()
            } else {
                a.addr(user_account)?
            };
            (mint, account)
        }
    };
    let base_mint = a.addr(layout.base_mint)?;
    let base_account = a.addr(layout.base_user)?;

    let (amount_in, amount_out) = match (layout.kind, partial_fill) {
        (Kind::Buy, false) => (SwapAmount::AtMost(second), SwapAmount::Exact(first)),
        (Kind::Buy, true) => (SwapAmount::AtMost(second), SwapAmount::AtMost(first)),
        (Kind::BuyExactIn, false) => (SwapAmount::Exact(first), SwapAmount::AtLeast(second)),
        (Kind::BuyExactIn, true) => (SwapAmount::AtMost(first), SwapAmount::AtLeast(0)),
        (Kind::Sell, _) => (SwapAmount::Exact(first), SwapAmount::AtLeast(second)),
    };
    let base = (base_account, base_mint);
    let quote = (quote_account, quote_mint);
    let ((source, source_mint), (destination, destination_mint)) = match layout.kind {
        Kind::Buy | Kind::BuyExactIn => (quote, base),
        Kind::Sell => (base, quote),
    };
    Ok(vec![DexSwap {
        instruction: layout.name,
        authority: user,
        source,
        destination,
        source_mint: Some(source_mint),
        destination_mint: Some(destination_mint),
        pool_mints: Vec::new(),
        amount_in,
        amount_out,
    }
    .effect()])
}

/// Decodes one Pump.fun bonding curve instruction (trades only).
pub(crate) fn decode(a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let (d, args) = super::anchor(data)?;
    let layout = LAYOUTS
        .iter()
        .find(|l| l.discriminator == d)
        .ok_or_else(|| super::unsupported_discriminator(d))?;
    decode_trade(layout, a, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_bools_are_optional_and_strict() {
        let mut d = Data::new(&[]);
        assert_eq!(option_bool(&mut d), Ok(None));
        let mut d = Data::new(&[1, 0]);
        assert_eq!(option_bool(&mut d), Ok(Some(true)));
        assert_eq!(option_bool(&mut d), Ok(Some(false)));
        assert_eq!(option_bool(&mut d), Ok(None));
        let mut d = Data::new(&[2]);
        assert_eq!(option_bool(&mut d), Err(InstructionError::InvalidEnum(2)));
    }
}
