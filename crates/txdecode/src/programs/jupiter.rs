//! Jupiter aggregator v6 (`JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4`): the route
//! instructions only, keyed on their Anchor discriminator (`sha256("global:<name>")[..8]`).
//!
//! Only the fixed arguments and the account positions of the outer instruction are decoded
//! (layouts from Jupiter's published v6 IDL). The `route_plan` vector is never decoded: its
//! step enum gains variants over time, and the steps only matter through the amounts and
//! the destination, which are checked here. v1 routes end with a fixed tail after
//! `route_plan`; v2 routes put the amounts before it. Every other Jupiter instruction is
//! refused as unsupported.

use super::{Accounts, Data, InstructionError, JUPITER_V6_PROGRAM};
use crate::effects::{Effect, SwapAmount};

/// Basis points in 100 %.
const BPS_DENOMINATOR: u128 = 10_000;

/// Which amount the route fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Exact input, minimum output: `in_amount, quoted_out_amount`.
    ExactIn,
    /// Exact output, maximum input: `out_amount, quoted_in_amount`.
    ExactOut,
    /// Input from the token ledger, minimum output: `quoted_out_amount` only.
    TokenLedger,
}

/// Where the fixed arguments sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Args {
    /// v1: `[id u8]`, `route_plan`, then the amounts and `platform_fee_bps: u8`.
    V1,
    /// v2: `[id u8]`, the amounts, `platform_fee_bps: u16`, `positive_slippage_bps: u16`,
    /// then `route_plan`.
    V2,
}

/// One route instruction: discriminator, argument layout and account positions.
#[derive(Debug)]
struct Layout {
    name: &'static str,
    discriminator: [u8; 8],
    args: Args,
    mode: Mode,
    /// Shared-accounts routes start their arguments with an `id: u8`.
    shared: bool,
    /// Accounts the IDL lists (optional ones hold the program id when absent).
    accounts: usize,
    authority: usize,
    source: usize,
    /// The optional `destination_token_account`, or the required one of shared routes.
    destination: usize,
    /// `user_destination_token_account`, used when the optional destination is absent.
    user_destination: Option<usize>,
    source_mint: Option<usize>,
    destination_mint: usize,
    /// The optional `platform_fee_account` (v1 only).
    platform_fee: Option<usize>,
}

/// `route`: [token_program, user_transfer_authority, user_source_ta,
/// user_destination_ta, destination_ta?, destination_mint, platform_fee_account?,
/// event_authority, program].
const ROUTE: Layout = Layout {
    name: "jupiter route",
    discriminator: [0xe5, 0x17, 0xcb, 0x97, 0x7a, 0xe3, 0xad, 0x2a],
    args: Args::V1,
    mode: Mode::ExactIn,
    shared: false,
    accounts: 9,
    authority: 1,
    source: 2,
    destination: 4,
    user_destination: Some(3),
    source_mint: None,
    destination_mint: 5,
    platform_fee: Some(6),
};

/// `route_with_token_ledger`: as `route`, plus token_ledger before event_authority.
const ROUTE_WITH_TOKEN_LEDGER: Layout = Layout {
    name: "jupiter route_with_token_ledger",
    discriminator: [0x96, 0x56, 0x47, 0x74, 0xa7, 0x5d, 0x0e, 0x68],
    mode: Mode::TokenLedger,
    accounts: 10,
    ..ROUTE
};

/// `exact_out_route`: [token_program, user_transfer_authority, user_source_ta,
/// user_destination_ta, destination_ta?, source_mint, destination_mint,
/// platform_fee_account?, token_2022_program?, event_authority, program].
const EXACT_OUT_ROUTE: Layout = Layout {
    name: "jupiter exact_out_route",
    discriminator: [0xd0, 0x33, 0xef, 0x97, 0x7b, 0x2b, 0xed, 0x5c],
    args: Args::V1,
    mode: Mode::ExactOut,
    shared: false,
    accounts: 11,
    authority: 1,
    source: 2,
    destination: 4,
    user_destination: Some(3),
    source_mint: Some(5),
    destination_mint: 6,
    platform_fee: Some(7),
};

/// `shared_accounts_route`: [token_program, program_authority, user_transfer_authority,
/// source_ta, program_source_ta, program_destination_ta, destination_ta, source_mint,
/// destination_mint, platform_fee_account?, token_2022_program?, event_authority, program].
const SHARED_ACCOUNTS_ROUTE: Layout = Layout {
    name: "jupiter shared_accounts_route",
    discriminator: [0xc1, 0x20, 0x9b, 0x33, 0x41, 0xd6, 0x9c, 0x81],
    args: Args::V1,
    mode: Mode::ExactIn,
    shared: true,
    accounts: 13,
    authority: 2,
    source: 3,
    destination: 6,
    user_destination: None,
    source_mint: Some(7),
    destination_mint: 8,
    platform_fee: Some(9),
};

/// `shared_accounts_exact_out_route`: accounts as `shared_accounts_route`.
const SHARED_ACCOUNTS_EXACT_OUT_ROUTE: Layout = Layout {
    name: "jupiter shared_accounts_exact_out_route",
    discriminator: [0xb0, 0xd1, 0x69, 0xa8, 0x9a, 0x7d, 0x45, 0x3e],
    mode: Mode::ExactOut,
    ..SHARED_ACCOUNTS_ROUTE
};

/// `route_v2`: [user_transfer_authority, user_source_ta, user_destination_ta,
/// source_mint, destination_mint, source_token_program, destination_token_program,
/// destination_ta?, event_authority, program].
const ROUTE_V2: Layout = Layout {
    name: "jupiter route_v2",
    discriminator: [0xbb, 0x64, 0xfa, 0xcc, 0x31, 0xc4, 0xaf, 0x14],
    args: Args::V2,
    mode: Mode::ExactIn,
    shared: false,
    accounts: 10,
    authority: 0,
    source: 1,
    destination: 7,
    user_destination: Some(2),
    source_mint: Some(3),
    destination_mint: 4,
    platform_fee: None,
};

/// `exact_out_route_v2`: accounts as `route_v2`.
const EXACT_OUT_ROUTE_V2: Layout = Layout {
    name: "jupiter exact_out_route_v2",
    discriminator: [0x9d, 0x8a, 0xb8, 0x52, 0x15, 0xf4, 0xf3, 0x24],
    mode: Mode::ExactOut,
    ..ROUTE_V2
};

/// `shared_accounts_route_v2`: [program_authority, user_transfer_authority, source_ta,
/// program_source_ta, program_destination_ta, destination_ta, source_mint,
/// destination_mint, source_token_program, destination_token_program, event_authority,
/// program].
const SHARED_ACCOUNTS_ROUTE_V2: Layout = Layout {
    name: "jupiter shared_accounts_route_v2",
    discriminator: [0xd1, 0x98, 0x53, 0x93, 0x7c, 0xfe, 0xd8, 0xe9],
    args: Args::V2,
    mode: Mode::ExactIn,
    shared: true,
    accounts: 12,
    authority: 1,
    source: 2,
    destination: 5,
    user_destination: None,
    source_mint: Some(6),
    destination_mint: 7,
    platform_fee: None,
};

/// `shared_accounts_exact_out_route_v2`: accounts as `shared_accounts_route_v2`.
const SHARED_ACCOUNTS_EXACT_OUT_ROUTE_V2: Layout = Layout {
    name: "jupiter shared_accounts_exact_out_route_v2",
    discriminator: [0x35, 0x60, 0xe5, 0xca, 0xd8, 0xbb, 0xfa, 0x18],
    mode: Mode::ExactOut,
    ..SHARED_ACCOUNTS_ROUTE_V2
};

/// Every supported route instruction.
const LAYOUTS: [&Layout; 9] = [
    &ROUTE,
    &ROUTE_WITH_TOKEN_LEDGER,
    &EXACT_OUT_ROUTE,
    &SHARED_ACCOUNTS_ROUTE,
    &SHARED_ACCOUNTS_EXACT_OUT_ROUTE,
    &ROUTE_V2,
    &EXACT_OUT_ROUTE_V2,
    &SHARED_ACCOUNTS_ROUTE_V2,
    &SHARED_ACCOUNTS_EXACT_OUT_ROUTE_V2,
];

/// The supported route instructions as `(name, discriminator)`, for tests and docs.
pub fn route_discriminators() -> impl Iterator<Item = (&'static str, [u8; 8])> {
    LAYOUTS.iter().map(|l| {
        let name = l.name.strip_prefix("jupiter ").unwrap_or(l.name);
        (name, l.discriminator)
    })
}

/// The fixed arguments of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fixed {
    /// `in_amount` (exact-in) or `out_amount` (exact-out); absent for token-ledger routes.
    amount: Option<u64>,
    /// `quoted_out_amount` (exact-in, token ledger) or `quoted_in_amount` (exact-out).
    quoted: u64,
    slippage_bps: u16,
    platform_fee_bps: u16,
}

/// Length of a borsh `Vec` length prefix: `route_plan` must at least have one.
const VEC_PREFIX: usize = 4;

/// Reads the amounts of a v1 route: they are the last bytes of the data, after the
/// undecoded `route_plan`.
fn fixed_v1(mode: Mode, args: &[u8]) -> Result<Fixed, InstructionError> {
    let tail_len = match mode {
        Mode::ExactIn | Mode::ExactOut => 8 + 8 + 2 + 1,
        Mode::TokenLedger => 8 + 2 + 1,
    };
    let plan_len = args
        .len()
        .checked_sub(tail_len)
        .filter(|n| *n >= VEC_PREFIX)
        .ok_or(InstructionError::DataTooShort)?;
    let mut d = Data::new(args);
    d.slice(plan_len)?;
    let amount = match mode {
        Mode::ExactIn | Mode::ExactOut => Some(d.u64()?),
        Mode::TokenLedger => None,
    };
    let quoted = d.u64()?;
    let slippage_bps = d.u16()?;
    let platform_fee_bps = u16::from(d.u8()?);
    d.finish()?;
    Ok(Fixed {
        amount,
        quoted,
        slippage_bps,
        platform_fee_bps,
    })
}

/// Reads the amounts of a v2 route: they come first, `route_plan` follows.
fn fixed_v2(args: &[u8]) -> Result<Fixed, InstructionError> {
    let mut d = Data::new(args);
    let amount = d.u64()?;
    let quoted = d.u64()?;
    let slippage_bps = d.u16()?;
    let platform_fee_bps = d.u16()?;
    let _positive_slippage_bps = d.u16()?;
    if d.remaining() < VEC_PREFIX {
        return Err(InstructionError::DataTooShort);
    }
    Ok(Fixed {
        amount: Some(amount),
        quoted,
        slippage_bps,
        platform_fee_bps,
    })
}

/// `quoted * (10000 - slippage) / 10000`, rounded down (0 when slippage is 100 % or more).
pub(crate) fn min_out(quoted: u64, slippage_bps: u16) -> u64 {
    let keep = BPS_DENOMINATOR.saturating_sub(u128::from(slippage_bps));
    let v = u128::from(quoted).saturating_mul(keep) / BPS_DENOMINATOR;
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// `quoted * (10000 + slippage) / 10000`, rounded up (never understates what may leave).
pub(crate) fn max_in(quoted: u64, slippage_bps: u16) -> u64 {
    let grow = BPS_DENOMINATOR.saturating_add(u128::from(slippage_bps));
    let v = u128::from(quoted)
        .saturating_mul(grow)
        .div_ceil(BPS_DENOMINATOR);
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// Input and output bounds of a route.
fn bounds(mode: Mode, f: &Fixed) -> (SwapAmount, SwapAmount) {
    match (mode, f.amount) {
        (Mode::ExactOut, Some(out)) => (
            SwapAmount::AtMost(max_in(f.quoted, f.slippage_bps)),
            SwapAmount::Exact(out),
        ),
        (Mode::ExactIn, Some(input)) => (
            SwapAmount::Exact(input),
            SwapAmount::AtLeast(min_out(f.quoted, f.slippage_bps)),
        ),
        _ => (
            SwapAmount::FromTokenLedger,
            SwapAmount::AtLeast(min_out(f.quoted, f.slippage_bps)),
        ),
    }
}

/// Decodes a route instruction with its layout.
fn decode_route(
    layout: &Layout,
    a: &Accounts<'_>,
    args: &[u8],
) -> Result<Vec<Effect>, InstructionError> {
    a.require(layout.accounts)?;
    let args = if layout.shared {
        args.split_first()
            .map(|(_id, rest)| rest)
            .ok_or(InstructionError::DataTooShort)?
    } else {
        args
    };
    let fixed = match layout.args {
        Args::V1 => fixed_v1(layout.mode, args)?,
        Args::V2 => fixed_v2(args)?,
    };
    let destination = match layout.user_destination {
        Some(user) => match a.optional(layout.destination, &JUPITER_V6_PROGRAM)? {
            Some(d) => d,
            None => a.addr(user)?,
        },
        None => a.addr(layout.destination)?,
    };
    let platform_fee_account = match layout.platform_fee {
        Some(i) => a.optional(i, &JUPITER_V6_PROGRAM)?,
        None => None,
    };
    let (amount_in, amount_out) = bounds(layout.mode, &fixed);
    Ok(vec![Effect::Swap {
        instruction: layout.name,
        authority: a.party(layout.authority)?,
        source: a.party(layout.source)?,
        destination: crate::effects::Party::new(destination),
        source_mint: layout.source_mint.map(|i| a.addr(i)).transpose()?,
        destination_mint: Some(a.addr(layout.destination_mint)?),
        pool_mints: Vec::new(),
        amount_in,
        amount_out,
        quote: Some(crate::effects::SwapQuote {
            quoted_amount: fixed.quoted,
            slippage_bps: fixed.slippage_bps,
        }),
        platform_fee_bps: fixed.platform_fee_bps,
        platform_fee_account: platform_fee_account.map(crate::effects::Party::new),
    }])
}

/// Decodes one Jupiter v6 instruction (routes only).
pub(crate) fn decode(a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let (discriminator, args) = data
        .split_first_chunk::<8>()
        .ok_or(InstructionError::DataTooShort)?;
    let layout = LAYOUTS
        .iter()
        .find(|l| l.discriminator == *discriminator)
        .ok_or(InstructionError::UnsupportedDiscriminator(
            u64::from_be_bytes(*discriminator),
        ))?;
    decode_route(layout, a, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slippage_bounds() {
        assert_eq!(min_out(1_550_653, 50), 1_542_899);
        assert_eq!(min_out(100, 10_000), 0);
        assert_eq!(min_out(100, u16::MAX), 0);
        assert_eq!(min_out(u64::MAX, 0), u64::MAX);
        assert_eq!(max_in(1_000, 50), 1_005);
        assert_eq!(max_in(1_001, 50), 1_007);
        assert_eq!(max_in(u64::MAX, 1), u64::MAX);
    }

    #[test]
    fn v1_tail_needs_a_route_plan_prefix() {
        let tail = [0u8; 19];
        assert_eq!(
            fixed_v1(Mode::ExactIn, &tail),
            Err(InstructionError::DataTooShort)
        );
        let mut args = vec![0u8; 4];
        args.extend_from_slice(&7u64.to_le_bytes());
        args.extend_from_slice(&9u64.to_le_bytes());
        args.extend_from_slice(&50u16.to_le_bytes());
        args.push(3);
        let f = fixed_v1(Mode::ExactIn, &args);
        assert_eq!(
            f,
            Ok(Fixed {
                amount: Some(7),
                quoted: 9,
                slippage_bps: 50,
                platform_fee_bps: 3
            })
        );
    }
}
