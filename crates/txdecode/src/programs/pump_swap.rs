//! PumpSwap AMM (`pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA`): the trade instructions,
//! keyed on their Anchor discriminator (`sha256("global:<name>")[..8]`).
//!
//! Layouts checked against the program's published IDL: pump-fun/pump-public-docs
//! `idl/pump_amm.json` (every version from commit df5013e, April 2025, to 3c6721a, May
//! 2026) and the newer `idls/pump_amm.json` shipped in pump-fun's `pump-rust-client` 0.5.0
//! crate (MIT, which adds the v2 trades and `multi_hop_swap`), with the docs
//! `docs/instructions/PUMP_SWAP_TRADE_V2.md` and `MULTI_HOP_SWAP.md`, the mainnet
//! instruction fixtures of sevenlabs-hq/carbon (`decoders/pump-swap-decoder/tests/
//! fixtures/buy_with_track_volume_{true,false}.json`) and the mainnet `buy` transaction in
//! `fixtures/solana/agavesim_wire.json` (JSON2).
//!
//! Single-pool trades: [pool, **user**, global_config, **base_mint**, **quote_mint**,
//! **user_base_token_account**, **user_quote_token_account**, pool_base_token_account,
//! pool_quote_token_account, ...]. A buy takes quote tokens and gives base tokens; a sell
//! the reverse. Both sides are token accounts (a SOL pool trades wrapped SOL).
//! - `buy(base_amount_out u64, max_quote_amount_in u64, track_volume OptionBool?)`:
//!   exactly `base_amount_out` for at most `max_quote_amount_in` (fees included);
//! - `buy_exact_quote_in(spendable_quote_in u64, min_base_amount_out u64, track_volume?)`;
//! - `sell(base_amount_in u64, min_quote_amount_out u64)`;
//! - `buy_v2`, `buy_exact_quote_in_v2`, `sell_v2`: the same arguments without
//!   `track_volume`, 17 accounts (fees stay in the pool).
//!
//! The v1 account lists grew over time: 17 accounts (…, protocol_fee_recipient,
//! protocol_fee_recipient_token_account, base_token_program, quote_token_program,
//! system_program, associated_token_program, event_authority, program), 19 (+
//! coin_creator_vault_ata, coin_creator_vault_authority), `buy` 21 (+ global and user
//! volume accumulators), then 23 / `sell` 21 (+ fee_config, fee_program);
//! `buy_exact_quote_in` came with 23. The positions read here never moved, so 17 accounts
//! are required (23 for `buy_exact_quote_in`); later and cashback remaining accounts are
//! allowed. `track_volume` is a one-byte bool that may be left off the end of the data
//! (mainnet buys without it exist); when present it must be 0 or 1.
//!
//! `multi_hop_swap(amount_in u64, min_amount_out u64)`: [**user**,
//! **user_in_token_account**, **user_out_token_account**, global_config, fee_config,
//! user_volume_accumulator, buyback_fee_recipient, token_program, token_2022_program,
//! system_program, event_authority, program, pump_program, pump_global, pump_fee_config,
//! pump_event_authority], then 5 accounts per hop [base_mint, quote_mint, pool or bonding
//! curve, base vault, quote vault]. Exact in: `amount_in` leaves `user_in_token_account`
//! and at least `min_amount_out` reaches `user_out_token_account`. Which mint is the input
//! depends on that account's mint (the hop is a buy when it is the hop's quote mint), so
//! the hops' mints are reported as pool mints, side unknown. When the route starts
//! (ends) on a SOL bonding curve, native SOL leaves (reaches) the `user` wallet instead and
//! the user's wrapped SOL account is only read for its mint; the token accounts are
//! reported either way, which is conservative for the output. At least one complete hop
//! is required and the hop accounts must come in complete groups of 5.
//!
//! Every other PumpSwap instruction is refused as unsupported.

use super::{Accounts, Data, DexSwap, InstructionError};
use crate::effects::{Addr, Effect, SwapAmount};

/// What the two amount arguments are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `base_amount_out` (exact), `max_quote_amount_in` (at most).
    Buy,
    /// `spendable_quote_in` (exact), `min_base_amount_out` (at least).
    BuyExactQuoteIn,
    /// `base_amount_in` (exact), `min_quote_amount_out` (at least).
    Sell,
}

/// One single-pool trade instruction.
#[derive(Debug)]
struct Layout {
    name: &'static str,
    discriminator: [u8; 8],
    kind: Kind,
    /// Followed by the optional `track_volume: OptionBool`.
    track_volume: bool,
    /// Minimum accounts.
    accounts: usize,
}

const BUY: Layout = Layout {
    name: "pumpswap buy",
    discriminator: [0x66, 0x06, 0x3d, 0x12, 0x01, 0xda, 0xeb, 0xea],
    kind: Kind::Buy,
    track_volume: true,
    accounts: 17,
};

const BUY_EXACT_QUOTE_IN: Layout = Layout {
    name: "pumpswap buy_exact_quote_in",
    discriminator: [0xc6, 0x2e, 0x15, 0x52, 0xb4, 0xd9, 0xe8, 0x70],
    kind: Kind::BuyExactQuoteIn,
    track_volume: true,
    accounts: 23,
};

const SELL: Layout = Layout {
    name: "pumpswap sell",
    discriminator: [0x33, 0xe6, 0x85, 0xa4, 0x01, 0x7f, 0x83, 0xad],
    kind: Kind::Sell,
    track_volume: false,
    accounts: 17,
};

const BUY_V2: Layout = Layout {
    name: "pumpswap buy_v2",
    discriminator: [0xb8, 0x17, 0xee, 0x61, 0x67, 0xc5, 0xd3, 0x3d],
    kind: Kind::Buy,
    track_volume: false,
    accounts: 17,
};

const BUY_EXACT_QUOTE_IN_V2: Layout = Layout {
    name: "pumpswap buy_exact_quote_in_v2",
    discriminator: [0xc2, 0xab, 0x1c, 0x46, 0x68, 0x4d, 0x5b, 0x2f],
    kind: Kind::BuyExactQuoteIn,
    track_volume: false,
    accounts: 17,
};

const SELL_V2: Layout = Layout {
    name: "pumpswap sell_v2",
    discriminator: [0x5d, 0xf6, 0x82, 0x3c, 0xe7, 0xe9, 0x40, 0xb2],
    kind: Kind::Sell,
    track_volume: false,
    accounts: 17,
};

const LAYOUTS: [&Layout; 6] = [
    &BUY,
    &BUY_EXACT_QUOTE_IN,
    &SELL,
    &BUY_V2,
    &BUY_EXACT_QUOTE_IN_V2,
    &SELL_V2,
];

/// Single-pool account positions.
const USER: usize = 1;
const BASE_MINT: usize = 3;
const QUOTE_MINT: usize = 4;
const USER_BASE_TOKEN_ACCOUNT: usize = 5;
const USER_QUOTE_TOKEN_ACCOUNT: usize = 6;

/// `multi_hop_swap` discriminator.
const MULTI_HOP_SWAP: [u8; 8] = [0x2b, 0x64, 0x49, 0x13, 0xe9, 0xf6, 0x6f, 0x94];
const MULTI_HOP_NAME: &str = "pumpswap multi_hop_swap";
/// `multi_hop_swap` fixed accounts, and accounts per hop.
const MULTI_HOP_FIXED: usize = 16;
const HOP_ACCOUNTS: usize = 5;
const MULTI_HOP_USER: usize = 0;
const MULTI_HOP_IN: usize = 1;
const MULTI_HOP_OUT: usize = 2;

/// The supported instructions as `(name, discriminator)`, for tests and docs.
pub fn swap_discriminators() -> impl Iterator<Item = (&'static str, [u8; 8])> {
    LAYOUTS
        .iter()
        .map(|l| (l.name, l.discriminator))
        .chain([(MULTI_HOP_NAME, MULTI_HOP_SWAP)])
        .map(|(name, d)| (name.strip_prefix("pumpswap ").unwrap_or(name), d))
}

/// Decodes a single-pool trade with its layout.
fn decode_trade(
    layout: &Layout,
    a: &Accounts<'_>,
    args: &[u8],
) -> Result<Vec<Effect>, InstructionError> {
    a.require(layout.accounts)?;
    let mut d = Data::new(args);
    let first = d.u64()?;
    let second = d.u64()?;
    if layout.track_volume && d.remaining() > 0 {
        // `track_volume: OptionBool`: bookkeeping for volume rewards only.
        d.bool()?;
    }
    d.finish()?;
    let base = (a.addr(USER_BASE_TOKEN_ACCOUNT)?, a.addr(BASE_MINT)?);
    let quote = (a.addr(USER_QUOTE_TOKEN_ACCOUNT)?, a.addr(QUOTE_MINT)?);
    let (amount_in, amount_out) = match layout.kind {
        // (base_amount_out, max_quote_amount_in)
        Kind::Buy => super::one_side_exact(false, second, first),
        Kind::BuyExactQuoteIn | Kind::Sell => super::one_side_exact(true, first, second),
    };
    let ((source, source_mint), (destination, destination_mint)) = match layout.kind {
        Kind::Buy | Kind::BuyExactQuoteIn => (quote, base),
        Kind::Sell => (base, quote),
    };
    Ok(vec![DexSwap {
        instruction: layout.name,
        authority: a.addr(USER)?,
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

/// Decodes `multi_hop_swap`.
fn decode_multi_hop(a: &Accounts<'_>, args: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    a.require(MULTI_HOP_FIXED + HOP_ACCOUNTS)?;
    let hop_accounts = a.len().saturating_sub(MULTI_HOP_FIXED);
    let partial = hop_accounts % HOP_ACCOUNTS;
    if partial != 0 {
        return Err(InstructionError::NotEnoughAccounts {
            needed: a.len().saturating_add(HOP_ACCOUNTS - partial),
            got: a.len(),
        });
    }
    let (amount_in, min_amount_out) = super::two_u64(args)?;
    let mut pool_mints: Vec<Addr> = Vec::new();
    for hop in 0..hop_accounts / HOP_ACCOUNTS {
        let start = MULTI_HOP_FIXED + hop * HOP_ACCOUNTS;
        // [base_mint, quote_mint, venue, base vault, quote vault]
        for mint in [a.addr(start)?, a.addr(start + 1)?] {
            if !pool_mints.contains(&mint) {
                pool_mints.push(mint);
            }
        }
    }
    Ok(vec![DexSwap {
        instruction: MULTI_HOP_NAME,
        authority: a.addr(MULTI_HOP_USER)?,
        source: a.addr(MULTI_HOP_IN)?,
        destination: a.addr(MULTI_HOP_OUT)?,
        source_mint: None,
        destination_mint: None,
        pool_mints,
        amount_in: SwapAmount::Exact(amount_in),
        amount_out: SwapAmount::AtLeast(min_amount_out),
    }
    .effect()])
}

/// Decodes one PumpSwap AMM instruction (trades only).
pub(crate) fn decode(a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let (d, args) = super::anchor(data)?;
    if d == MULTI_HOP_SWAP {
        return decode_multi_hop(a, args);
    }
    let layout = LAYOUTS
        .iter()
        .find(|l| l.discriminator == d)
        .ok_or_else(|| super::unsupported_discriminator(d))?;
    decode_trade(layout, a, args)
}
