//! Orca Whirlpool (`whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc`): the four swap
//! instructions, keyed on their Anchor discriminator (`sha256("global:<name>")[..8]`).
//!
//! Layouts checked against the program source, orca-so/whirlpools at commit 630c0e01
//! (`programs/whirlpool/src/lib.rs`, `instructions/swap.rs`, `instructions/two_hop_swap.rs`,
//! `instructions/v2/swap.rs`, `instructions/v2/two_hop_swap.rs`,
//! `util/v2/remaining_accounts_utils.rs`), its generated Rust client
//! (`rust-sdk/client/src/generated/instructions/*.rs`, same discriminators and account
//! order) and the IDL in anchorageoss/visualsign-parser (`presets/orca_whirlpool`).
//!
//! - `swap(amount u64, other_amount_threshold u64, sqrt_price_limit u128,
//!   amount_specified_is_input bool, a_to_b bool)`: accounts [token_program,
//!   **token_authority**, whirlpool, **token_owner_account_a**, token_vault_a,
//!   **token_owner_account_b**, token_vault_b, tick_array_0..2, oracle] (11).
//! - `swap_v2(... as swap, remaining_accounts_info Option<RemainingAccountsInfo>)`:
//!   [token_program_a, token_program_b, memo_program, **token_authority**, whirlpool,
//!   **token_mint_a**, **token_mint_b**, **token_owner_account_a**, token_vault_a,
//!   **token_owner_account_b**, token_vault_b, tick_array_0..2, oracle] (15).
//! - `two_hop_swap(amount u64, other_amount_threshold u64, amount_specified_is_input bool,
//!   a_to_b_one bool, a_to_b_two bool, sqrt_price_limit_one u128, sqrt_price_limit_two
//!   u128)`: [token_program, **token_authority**, whirlpool_one, whirlpool_two,
//!   token_owner_account_one_a, token_vault_one_a, token_owner_account_one_b,
//!   token_vault_one_b, token_owner_account_two_a, token_vault_two_a,
//!   token_owner_account_two_b, token_vault_two_b, tick_array_one_0..2,
//!   tick_array_two_0..2, oracle_one, oracle_two] (20).
//! - `two_hop_swap_v2(... as two_hop_swap, remaining_accounts_info
//!   Option<RemainingAccountsInfo>)`: [whirlpool_one, whirlpool_two, **token_mint_input**,
//!   token_mint_intermediate, **token_mint_output**, token_program_input,
//!   token_program_intermediate, token_program_output, **token_owner_account_input**,
//!   token_vault_one_input, token_vault_one_intermediate, token_vault_two_intermediate,
//!   token_vault_two_output, **token_owner_account_output**, **token_authority**,
//!   tick_array_one_0..2, tick_array_two_0..2, oracle_one, oracle_two, memo_program] (24).
//!
//! Semantics. `a_to_b` takes token A from `token_owner_account_a` and pays token B into
//! `token_owner_account_b` (and the reverse when false). `amount_specified_is_input` makes
//! `amount` the input and `other_amount_threshold` the minimum output; otherwise `amount`
//! is the output and `other_amount_threshold` the maximum input. For the two-hop swaps the
//! threshold applies to the first hop's input or the second hop's output, so the
//! user-level effect is one swap from the first hop's input account to the second hop's
//! output account.
//!
//! Partial fills (`swap_manager::swap`): the swap stops when the price reaches
//! `sqrt_price_limit`, and only an exact-output swap *without* an explicit limit (0) is
//! refused when it cannot fill completely. So with an explicit limit (what the legacy SDK
//! and aggregators send: often the extreme price, i.e. no price bound at all) an exact-in
//! swap may spend less than `amount` (reported as at most `amount`; the minimum output
//! still holds), and an exact-out swap may deliver any amount up to `amount` for up to
//! `other_amount_threshold` (reported as at least 0: nothing bounds the output). Without
//! an explicit limit the bounds are reported as exact. For two-hop swaps the first hop's
//! limit governs the input (a short second hop is refused as an intermediate mismatch) and
//! the second hop's limit the output.
//!
//! The v1 two-hop swap routes the intermediate token through the user's accounts: hop one
//! pays it into `token_owner_account_one_{b,a}` and hop two takes it from
//! `token_owner_account_two_{a,b}`. When those are the same account (as the SDKs build
//! it) the intermediate amount nets out and one swap is reported. When they differ, the
//! intermediate tokens land in one account and are debited from another, so the
//! instruction is reported as two swaps: the first hop's output account is then judged
//! like any swap destination, and the bounds nobody states are reported as such (the
//! first hop's output as at least 0, the second hop's input as at most `u64::MAX`). The
//! v2 two-hop swap moves the intermediate token vault to vault, never through the user.
//!
//! Trailing accounts (supplemental tick arrays, transfer-hook accounts, an adaptive-fee
//! oracle) are allowed. Every other Whirlpool instruction is refused as unsupported.

use super::{Accounts, Data, DexSwap, InstructionError};
use crate::effects::{Effect, SwapAmount};

/// `sha256("global:swap")[..8]`.
const SWAP: [u8; 8] = [0xf8, 0xc6, 0x9e, 0x91, 0xe1, 0x75, 0x87, 0xc8];
/// `sha256("global:swap_v2")[..8]`.
const SWAP_V2: [u8; 8] = [0x2b, 0x04, 0xed, 0x0b, 0x1a, 0xc9, 0x1e, 0x62];
/// `sha256("global:two_hop_swap")[..8]`.
const TWO_HOP_SWAP: [u8; 8] = [0xc3, 0x60, 0xed, 0x6c, 0x44, 0xa2, 0xdb, 0xe6];
/// `sha256("global:two_hop_swap_v2")[..8]`.
const TWO_HOP_SWAP_V2: [u8; 8] = [0xba, 0x8f, 0xd1, 0x1d, 0xfe, 0x02, 0xc2, 0x75];

/// Variants of the program's `AccountsType` enum (`TransferHookA` .. `TransferHookWithdrawalB`).
const ACCOUNTS_TYPE_VARIANTS: u8 = 13;

/// The supported instructions as `(name, discriminator)`, for tests and docs.
pub fn discriminators() -> impl Iterator<Item = (&'static str, [u8; 8])> {
    [
        ("swap", SWAP),
        ("swap_v2", SWAP_V2),
        ("two_hop_swap", TWO_HOP_SWAP),
        ("two_hop_swap_v2", TWO_HOP_SWAP_V2),
    ]
    .into_iter()
}

/// A borsh `u128` (a sqrt price limit).
fn u128(d: &mut Data<'_>) -> Result<u128, InstructionError> {
    Ok(u128::from_le_bytes(d.bytes::<16>()?))
}

/// `Option<RemainingAccountsInfo>`: `slices: Vec<{ accounts_type: AccountsType (u8 tag),
/// length: u8 }>`. Only read to check the data is well formed and fully consumed.
fn remaining_accounts_info(d: &mut Data<'_>) -> Result<(), InstructionError> {
    d.option(|d| {
        let n = d.u32()?;
        for _ in 0..n {
            let kind = d.u8()?;
            if kind >= ACCOUNTS_TYPE_VARIANTS {
                return Err(InstructionError::InvalidEnum(u32::from(kind)));
            }
            let _length = d.u8()?;
        }
        Ok(())
    })
    .map(|_| ())
}

/// `NO_EXPLICIT_SQRT_PRICE_LIMIT`: the program then uses the extreme price and refuses
/// partial exact-output fills.
const NO_EXPLICIT_LIMIT: u128 = 0;

/// Input and output bounds from `amount`, `other_amount_threshold`,
/// `amount_specified_is_input` and the price limits that govern the input side and the
/// output side (the same limit for a single swap).
fn bounds(
    amount: u64,
    threshold: u64,
    is_input: bool,
    input_limit: u128,
    output_limit: u128,
) -> (SwapAmount, SwapAmount) {
    if is_input {
        let amount_in = if input_limit == NO_EXPLICIT_LIMIT {
            SwapAmount::Exact(amount)
        } else {
            SwapAmount::AtMost(amount)
        };
        (amount_in, SwapAmount::AtLeast(threshold))
    } else {
        let amount_out = if output_limit == NO_EXPLICIT_LIMIT {
            SwapAmount::Exact(amount)
        } else {
            SwapAmount::AtLeast(0)
        };
        (SwapAmount::AtMost(threshold), amount_out)
    }
}

/// Picks `(source, destination)` from the A and B accounts by the direction flag.
fn by_direction<T>(a: T, b: T, a_to_b: bool) -> (T, T) {
    if a_to_b {
        (a, b)
    } else {
        (b, a)
    }
}

/// `swap` and `swap_v2`.
fn decode_swap(a: &Accounts<'_>, args: &[u8], v2: bool) -> Result<Vec<Effect>, InstructionError> {
    let mut d = Data::new(args);
    let amount = d.u64()?;
    let threshold = d.u64()?;
    let sqrt_price_limit = u128(&mut d)?;
    let is_input = d.bool()?;
    let a_to_b = d.bool()?;
    if v2 {
        remaining_accounts_info(&mut d)?;
    }
    d.finish()?;
    // (accounts, token_authority, token_owner_account_a, token_owner_account_b)
    let (needed, authority, owner_a, owner_b) = if v2 { (15, 3, 7, 9) } else { (11, 1, 3, 5) };
    a.require(needed)?;
    let (source, destination) = by_direction(a.addr(owner_a)?, a.addr(owner_b)?, a_to_b);
    let (source_mint, destination_mint) = if v2 {
        let (i, o) = by_direction(a.addr(5)?, a.addr(6)?, a_to_b);
        (Some(i), Some(o))
    } else {
        (None, None)
    };
    let (amount_in, amount_out) = bounds(
        amount,
        threshold,
        is_input,
        sqrt_price_limit,
        sqrt_price_limit,
    );
    Ok(vec![DexSwap {
        instruction: if v2 {
            "orca whirlpool swap_v2"
        } else {
            "orca whirlpool swap"
        },
        authority: a.addr(authority)?,
        source,
        destination,
        source_mint,
        destination_mint,
        pool_mints: Vec::new(),
        amount_in,
        amount_out,
    }
    .effect()])
}

/// The common arguments of `two_hop_swap` and `two_hop_swap_v2`.
struct TwoHopArgs {
    amount: u64,
    threshold: u64,
    is_input: bool,
    a_to_b_one: bool,
    a_to_b_two: bool,
    sqrt_price_limit_one: u128,
    sqrt_price_limit_two: u128,
}

impl TwoHopArgs {
    /// Bounds of the whole route: the first hop's limit for the input, the second's for
    /// the output.
    fn bounds(&self) -> (SwapAmount, SwapAmount) {
        bounds(
            self.amount,
            self.threshold,
            self.is_input,
            self.sqrt_price_limit_one,
            self.sqrt_price_limit_two,
        )
    }
}

fn two_hop_args(d: &mut Data<'_>) -> Result<TwoHopArgs, InstructionError> {
    let amount = d.u64()?;
    let threshold = d.u64()?;
    let is_input = d.bool()?;
    let a_to_b_one = d.bool()?;
    let a_to_b_two = d.bool()?;
    let sqrt_price_limit_one = u128(d)?;
    let sqrt_price_limit_two = u128(d)?;
    Ok(TwoHopArgs {
        amount,
        threshold,
        is_input,
        a_to_b_one,
        a_to_b_two,
        sqrt_price_limit_one,
        sqrt_price_limit_two,
    })
}

/// `two_hop_swap`: user tokens pass through the intermediate owner accounts.
fn decode_two_hop(a: &Accounts<'_>, args: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let mut d = Data::new(args);
    let t = two_hop_args(&mut d)?;
    d.finish()?;
    a.require(20)?;
    let authority = a.addr(1)?;
    let (source, intermediate_out) = by_direction(a.addr(4)?, a.addr(6)?, t.a_to_b_one);
    let (intermediate_in, destination) = by_direction(a.addr(8)?, a.addr(10)?, t.a_to_b_two);
    let (amount_in, amount_out) = t.bounds();
    // Provably the same account: equal addresses, or the same lookup-table slot. Two
    // different slots that hold the same address are reported as two hops (conservative).
    if intermediate_out == intermediate_in {
        return Ok(vec![DexSwap {
            instruction: "orca whirlpool two_hop_swap",
            authority,
            source,
            destination,
            source_mint: None,
            destination_mint: None,
            pool_mints: Vec::new(),
            amount_in,
            amount_out,
        }
        .effect()]);
    }
    Ok(vec![
        DexSwap {
            instruction: "orca whirlpool two_hop_swap (first hop)",
            authority: authority.clone(),
            source,
            destination: intermediate_out,
            source_mint: None,
            destination_mint: None,
            pool_mints: Vec::new(),
            amount_in,
            amount_out: SwapAmount::AtLeast(0),
        }
        .effect(),
        DexSwap {
            instruction: "orca whirlpool two_hop_swap (second hop)",
            authority,
            source: intermediate_in,
            destination,
            source_mint: None,
            destination_mint: None,
            pool_mints: Vec::new(),
            amount_in: SwapAmount::AtMost(u64::MAX),
            amount_out,
        }
        .effect(),
    ])
}

/// `two_hop_swap_v2`: named input and output accounts and mints; the intermediate token
/// moves vault to vault.
fn decode_two_hop_v2(a: &Accounts<'_>, args: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let mut d = Data::new(args);
    let t = two_hop_args(&mut d)?;
    remaining_accounts_info(&mut d)?;
    d.finish()?;
    a.require(24)?;
    let (amount_in, amount_out) = t.bounds();
    Ok(vec![DexSwap {
        instruction: "orca whirlpool two_hop_swap_v2",
        authority: a.addr(14)?,
        source: a.addr(8)?,
        destination: a.addr(13)?,
        source_mint: Some(a.addr(2)?),
        destination_mint: Some(a.addr(4)?),
        pool_mints: Vec::new(),
        amount_in,
        amount_out,
    }
    .effect()])
}

/// Decodes one Orca Whirlpool instruction (swaps only).
pub(crate) fn decode(a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let (d, args) = super::anchor(data)?;
    match d {
        SWAP => decode_swap(a, args, false),
        SWAP_V2 => decode_swap(a, args, true),
        TWO_HOP_SWAP => decode_two_hop(a, args),
        TWO_HOP_SWAP_V2 => decode_two_hop_v2(a, args),
        _ => Err(super::unsupported_discriminator(d)),
    }
}
