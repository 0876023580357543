//! Meteora DLMM (`LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo`): the six swap
//! instructions, keyed on their Anchor discriminator (`sha256("global:<name>")[..8]`).
//!
//! Layouts checked against the published IDL, MeteoraAg/dlmm-sdk at commit fb02e51a
//! (`idls/dlmm.json`, program `lb_clmm` 0.12.0), the SDK's CLI (`cli/src/instructions/
//! swap_*.rs`) and the mainnet instruction fixtures of sevenlabs-hq/carbon
//! (`decoders/meteora-dlmm-decoder/tests/fixtures/swap*_ix.json`). The program's own
//! source is not public.
//!
//! Every variant has the same accounts: [lb_pair, bin_array_bitmap_extension?, reserve_x,
//! reserve_y, **user_token_in**, **user_token_out**, **token_x_mint**, **token_y_mint**,
//! oracle, host_fee_in?, **user**, token_x_program, token_y_program, (memo_program: the
//! `2` variants only), event_authority, program] (15, or 16 for the `2` variants), then
//! bin arrays and transfer-hook accounts as remaining accounts.
//!
//! - `swap(amount_in u64, min_amount_out u64)`, `swap2(..., remaining_accounts_info)`:
//!   exact input, minimum output.
//! - `swap_exact_out(max_in_amount u64, out_amount u64)`, `swap_exact_out2(...,
//!   remaining_accounts_info)`: maximum input, exact output.
//! - `swap_with_price_impact(amount_in u64, active_id Option<i32>, max_price_impact_bps
//!   u16)`, `swap_with_price_impact2(..., remaining_accounts_info)`: exact input bounded by
//!   a price impact from `active_id` (or the pool's active bin) instead of a minimum output.
//!   The instruction states no minimum output, so the output is reported as at least 0
//!   (and the policy warns that any price is accepted): a price-impact bound is relative to
//!   a bin the instruction may not even name, and cannot be turned into an amount here.
//!
//! `remaining_accounts_info` (the `2` variants, not optional) is `slices: Vec<{
//! accounts_type: AccountsType, length: u8 }>` where `AccountsType` is `TransferHookX`,
//! `TransferHookY`, `TransferHookReward`, `TransferHookMultiReward(u8)` or
//! `TransferHookReferral`.
//!
//! The direction is decided on chain from `user_token_in`'s mint, so the two mints are
//! reported as pool mints (side unknown). `host_fee_in`, when present, receives a share of
//! the protocol fee (`HOST_FEE_BPS` of it, per the SDK's `commons`), which the swap charges
//! anyway: it is not an extra debit of the user. Every other DLMM instruction is refused as
//! unsupported.

use super::{Accounts, Data, DexSwap, InstructionError};
use crate::effects::{Effect, SwapAmount};

/// `sha256("global:swap")[..8]`.
const SWAP: [u8; 8] = [0xf8, 0xc6, 0x9e, 0x91, 0xe1, 0x75, 0x87, 0xc8];
/// `sha256("global:swap2")[..8]`.
const SWAP2: [u8; 8] = [0x41, 0x4b, 0x3f, 0x4c, 0xeb, 0x5b, 0x5b, 0x88];
/// `sha256("global:swap_exact_out")[..8]`.
const SWAP_EXACT_OUT: [u8; 8] = [0xfa, 0x49, 0x65, 0x21, 0x26, 0xcf, 0x4b, 0xb8];
/// `sha256("global:swap_exact_out2")[..8]`.
const SWAP_EXACT_OUT2: [u8; 8] = [0x2b, 0xd7, 0xf7, 0x84, 0x89, 0x3c, 0xf3, 0x51];
/// `sha256("global:swap_with_price_impact")[..8]`.
const SWAP_WITH_PRICE_IMPACT: [u8; 8] = [0x38, 0xad, 0xe6, 0xd0, 0xad, 0xe4, 0x9c, 0xcd];
/// `sha256("global:swap_with_price_impact2")[..8]`.
const SWAP_WITH_PRICE_IMPACT2: [u8; 8] = [0x4a, 0x62, 0xc0, 0xd6, 0xb1, 0x33, 0x4b, 0x33];

/// Which amounts the instruction fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `amount_in, min_amount_out`.
    ExactIn,
    /// `max_in_amount, out_amount`.
    ExactOut,
    /// `amount_in, active_id: Option<i32>, max_price_impact_bps: u16`.
    PriceImpact,
}

/// One swap instruction.
struct Layout {
    name: &'static str,
    discriminator: [u8; 8],
    mode: Mode,
    /// The `2` variants: a memo program account and `remaining_accounts_info`.
    v2: bool,
}

const LAYOUTS: [Layout; 6] = [
    Layout {
        name: "meteora dlmm swap",
        discriminator: SWAP,
        mode: Mode::ExactIn,
        v2: false,
    },
    Layout {
        name: "meteora dlmm swap2",
        discriminator: SWAP2,
        mode: Mode::ExactIn,
        v2: true,
    },
    Layout {
        name: "meteora dlmm swap_exact_out",
        discriminator: SWAP_EXACT_OUT,
        mode: Mode::ExactOut,
        v2: false,
    },
    Layout {
        name: "meteora dlmm swap_exact_out2",
        discriminator: SWAP_EXACT_OUT2,
        mode: Mode::ExactOut,
        v2: true,
    },
    Layout {
        name: "meteora dlmm swap_with_price_impact",
        discriminator: SWAP_WITH_PRICE_IMPACT,
        mode: Mode::PriceImpact,
        v2: false,
    },
    Layout {
        name: "meteora dlmm swap_with_price_impact2",
        discriminator: SWAP_WITH_PRICE_IMPACT2,
        mode: Mode::PriceImpact,
        v2: true,
    },
];

/// Account positions.
const USER_TOKEN_IN: usize = 4;
const USER_TOKEN_OUT: usize = 5;
const TOKEN_X_MINT: usize = 6;
const TOKEN_Y_MINT: usize = 7;
const USER: usize = 10;

/// Tag of `AccountsType::TransferHookMultiReward(u8)`, the one variant with a field.
const MULTI_REWARD: u8 = 3;
/// Variants of `AccountsType`.
const ACCOUNTS_TYPE_VARIANTS: u8 = 5;

/// The supported instructions as `(name, discriminator)`, for tests and docs.
pub fn discriminators() -> impl Iterator<Item = (&'static str, [u8; 8])> {
    LAYOUTS.iter().map(|l| {
        let name = l.name.strip_prefix("meteora dlmm ").unwrap_or(l.name);
        (name, l.discriminator)
    })
}

/// `RemainingAccountsInfo` (not optional here): only read to check the data is well formed
/// and fully consumed.
fn remaining_accounts_info(d: &mut Data<'_>) -> Result<(), InstructionError> {
    let n = d.u32()?;
    for _ in 0..n {
        let kind = d.u8()?;
        if kind >= ACCOUNTS_TYPE_VARIANTS {
            return Err(InstructionError::InvalidEnum(u32::from(kind)));
        }
        if kind == MULTI_REWARD {
            let _reward_index = d.u8()?;
        }
        let _length = d.u8()?;
    }
    Ok(())
}

/// Reads the arguments and returns the input and output bounds.
fn bounds(layout: &Layout, args: &[u8]) -> Result<(SwapAmount, SwapAmount), InstructionError> {
    let mut d = Data::new(args);
    let bounds = match layout.mode {
        Mode::ExactIn | Mode::ExactOut => {
            // (amount_in, min_amount_out) or (max_in_amount, out_amount)
            let input = d.u64()?;
            let output = d.u64()?;
            super::one_side_exact(matches!(layout.mode, Mode::ExactIn), input, output)
        }
        Mode::PriceImpact => {
            let amount_in = d.u64()?;
            let _active_id = d.option(|d| d.bytes::<4>())?;
            let _max_price_impact_bps = d.u16()?;
            (SwapAmount::Exact(amount_in), SwapAmount::AtLeast(0))
        }
    };
    if layout.v2 {
        remaining_accounts_info(&mut d)?;
    }
    d.finish()?;
    Ok(bounds)
}

/// Decodes one Meteora DLMM instruction (swaps only).
pub(crate) fn decode(a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let (d, args) = super::anchor(data)?;
    let layout = LAYOUTS
        .iter()
        .find(|l| l.discriminator == d)
        .ok_or_else(|| super::unsupported_discriminator(d))?;
    let (amount_in, amount_out) = bounds(layout, args)?;
    a.require(if layout.v2 { 16 } else { 15 })?;
    Ok(vec![DexSwap {
        instruction: layout.name,
        authority: a.addr(USER)?,
        source: a.addr(USER_TOKEN_IN)?,
        destination: a.addr(USER_TOKEN_OUT)?,
        source_mint: None,
        destination_mint: None,
        pool_mints: vec![a.addr(TOKEN_X_MINT)?, a.addr(TOKEN_Y_MINT)?],
        amount_in,
        amount_out,
    }
    .effect()])
}
