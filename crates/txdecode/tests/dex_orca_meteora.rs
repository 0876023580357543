//! Direct DEX swaps of Orca Whirlpool, Meteora DLMM, Meteora DAMM v1 and Meteora DAMM v2:
//! discriminators, every swap variant, direction flags, exact-in / exact-out bounds, the
//! policy verdict for own and foreign destinations, malformed data, and mainnet
//! instructions (see `tests/dex/orca-meteora/README.md`).

mod common;

use common::*;
use custos_txdecode::programs::{
    meteora_damm_v1, meteora_damm_v2, meteora_dlmm, orca_whirlpool, MEMO_PROGRAM,
    METEORA_DAMM_V1_PROGRAM, METEORA_DAMM_V2_PROGRAM, METEORA_DLMM_PROGRAM, NATIVE_MINT,
    ORCA_WHIRLPOOL_PROGRAM, TOKEN_2022_PROGRAM, TOKEN_PROGRAM,
};
use custos_txdecode::SwapAmount::{AtLeast, AtMost, Exact};
use custos_txdecode::{Assessment, Effect, Pubkey, SwapAmount, Verdict};
use solana_message::{AccountMeta, Instruction};

const WHIRLPOOL: Pubkey = ORCA_WHIRLPOOL_PROGRAM;
const DLMM: Pubkey = METEORA_DLMM_PROGRAM;
const DAMM_V1: Pubkey = METEORA_DAMM_V1_PROGRAM;
const DAMM_V2: Pubkey = METEORA_DAMM_V2_PROGRAM;

// ---------------------------------------------------------------------------------------
// Keys and instruction helpers.

fn me() -> Pubkey {
    key(1)
}

fn stranger() -> Pubkey {
    key(2)
}

/// Mints: input, intermediate, output (or X / Y).
fn mint_a() -> Pubkey {
    key(200)
}

fn mint_b() -> Pubkey {
    key(201)
}

fn mint_c() -> Pubkey {
    key(202)
}

/// An account of the pool (vault, tick array, ...), never the user's.
fn pool_account(n: u8) -> Pubkey {
    key(100 + n)
}

/// The fields of a decoded swap, with known addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    instruction: &'static str,
    authority: Pubkey,
    source: Pubkey,
    destination: Pubkey,
    source_mint: Option<Pubkey>,
    destination_mint: Option<Pubkey>,
    pool_mints: Vec<Pubkey>,
    amount_in: SwapAmount,
    amount_out: SwapAmount,
}

/// The view of a swap the user signs, from `source` to `destination`, each with its mint.
fn my_view(
    instruction: &'static str,
    (source, source_mint): (Pubkey, Option<Pubkey>),
    (destination, destination_mint): (Pubkey, Option<Pubkey>),
    pool_mints: Vec<Pubkey>,
    (amount_in, amount_out): (SwapAmount, SwapAmount),
) -> View {
    View {
        instruction,
        authority: me(),
        source,
        destination,
        source_mint,
        destination_mint,
        pool_mints,
        amount_in,
        amount_out,
    }
}

/// Asserts the only swap is `want`, into an account proven the user's, and the verdict
/// is Auto; `what` names the case.
fn assert_own_auto(a: &Assessment, want: View, what: &str) {
    assert_eq!(only_view(a), want, "{what}");
    assert!(destination_is_own(a), "{what}");
    assert_eq!(a.verdict, Verdict::Auto, "{what}: {:?}", a.reasons);
}

fn views(a: &Assessment) -> Vec<View> {
    let k = |a: &custos_txdecode::Addr| *a.known().unwrap();
    a.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Swap {
                instruction,
                authority,
                source,
                destination,
                source_mint,
                destination_mint,
                pool_mints,
                amount_in,
                amount_out,
                quote,
                platform_fee_bps,
                platform_fee_account,
            } => {
                assert_eq!(*quote, None);
                assert_eq!(*platform_fee_bps, 0);
                assert_eq!(*platform_fee_account, None);
                Some(View {
                    instruction,
                    authority: k(&authority.address),
                    source: k(&source.address),
                    destination: k(&destination.address),
                    source_mint: source_mint.as_ref().map(k),
                    destination_mint: destination_mint.as_ref().map(k),
                    pool_mints: pool_mints.iter().map(k).collect(),
                    amount_in: *amount_in,
                    amount_out: *amount_out,
                })
            }
            _ => None,
        })
        .collect()
}

fn only_view(a: &Assessment) -> View {
    let v = views(a);
    assert_eq!(v.len(), 1, "{:#?}", a.effects);
    v.into_iter().next().unwrap()
}

/// Whether the single swap's destination was proven the user's.
fn destination_is_own(a: &Assessment) -> bool {
    let own: Vec<bool> = a
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Swap { destination, .. } => Some(destination.own),
            _ => None,
        })
        .collect();
    assert_eq!(own.len(), 1, "{:#?}", a.effects);
    own[0]
}

/// Judges `ix` for the user after instructions creating the user's own (Token program)
/// associated token accounts for `mints`, which proves those accounts the user's.
fn judge_with_own_atas(mints: &[Pubkey], ix: Instruction) -> Assessment {
    let mut ixs: Vec<Instruction> = mints
        .iter()
        .map(|m| create_own_ata(&me(), m, &TOKEN_PROGRAM))
        .collect();
    ixs.push(ix);
    judge(&ixs, &me())
}

/// Asserts the transaction is refused as malformed (not merely unsupported).
fn assert_malformed(ixs: &[Instruction], what: &str) {
    let a = judge(ixs, &me());
    assert_eq!(a.verdict, Verdict::Reject, "{what}: {:?}", a.reasons);
    assert!(
        a.effects.iter().any(|e| matches!(
            e,
            Effect::Malformed {
                unsupported: false,
                ..
            }
        )),
        "{what}: {:#?}",
        a.effects
    );
    assert!(views(&a).is_empty(), "{what}");
}

/// Truncated data, trailing data and one account too few are all refused.
fn assert_strict(ix: &Instruction, needed_accounts: usize, what: &str) {
    assert!(ix.accounts.len() >= needed_accounts);
    let mut short = ix.clone();
    short.data.pop();
    assert_malformed(&[short], &format!("{what}: truncated"));
    let mut long = ix.clone();
    long.data.push(0);
    assert_malformed(&[long], &format!("{what}: trailing byte"));
    let mut few = ix.clone();
    few.accounts.truncate(needed_accounts - 1);
    assert_malformed(&[few], &format!("{what}: too few accounts"));
    let mut disc_only = ix.clone();
    disc_only.data.truncate(8);
    assert_malformed(&[disc_only], &format!("{what}: no arguments"));
    let mut no_disc = ix.clone();
    no_disc.data.truncate(7);
    assert_malformed(&[no_disc], &format!("{what}: short discriminator"));
}

/// An unsupported instruction of a supported program: opaque, refused by default.
fn assert_unsupported(program: Pubkey, name: &str) {
    let ix = Instruction::new_with_bytes(program, &anchor_discriminator(name), vec![signer(me())]);
    let a = judge(&[ix], &me());
    assert_eq!(a.verdict, Verdict::Reject, "{name}");
    assert!(
        matches!(
            a.effects.as_slice(),
            [Effect::Malformed {
                unsupported: true,
                ..
            }]
        ),
        "{name}: {:#?}",
        a.effects
    );
}

// ---------------------------------------------------------------------------------------
// Discriminators.

/// A decoder's supported instructions as `(name, discriminator)`.
type Discriminators = Vec<(&'static str, [u8; 8])>;

#[test]
fn discriminators_are_anchor_hashes() {
    let tables: [(&str, Discriminators, &[&str]); 4] = [
        (
            "orca whirlpool",
            orca_whirlpool::discriminators().collect(),
            &["swap", "swap_v2", "two_hop_swap", "two_hop_swap_v2"],
        ),
        (
            "meteora dlmm",
            meteora_dlmm::discriminators().collect(),
            &[
                "swap",
                "swap2",
                "swap_exact_out",
                "swap_exact_out2",
                "swap_with_price_impact",
                "swap_with_price_impact2",
            ],
        ),
        (
            "meteora damm v1",
            meteora_damm_v1::discriminators().collect(),
            &["swap"],
        ),
        (
            "meteora damm v2",
            meteora_damm_v2::discriminators().collect(),
            &["swap", "swap2"],
        ),
    ];
    for (program, list, names) in tables {
        let got: Vec<&str> = list.iter().map(|(n, _)| *n).collect();
        assert_eq!(got, names, "{program}");
        for (name, d) in list {
            assert_eq!(d, anchor_discriminator(name), "{program} {name}");
        }
    }
    // The values in the shared notes.
    for (name, hex) in [
        ("swap", "f8c69e91e17587c8"),
        ("swap_v2", "2b04ed0b1ac91e62"),
        ("two_hop_swap", "c360ed6c44a2dbe6"),
        ("two_hop_swap_v2", "ba8fd11dfe02c275"),
        ("swap2", "414b3f4ceb5b5b88"),
        ("swap_exact_out", "fa49652126cf4bb8"),
        ("swap_exact_out2", "2bd7f784893cf351"),
        ("swap_with_price_impact", "38ade6d0ade49ccd"),
        ("swap_with_price_impact2", "4a62c0d6b1334b33"),
    ] {
        assert_eq!(hex::encode(anchor_discriminator(name)), hex, "{name}");
    }
}

#[test]
fn other_instructions_are_unsupported() {
    for name in [
        "open_position",
        "increase_liquidity",
        "collect_fees",
        "initialize_pool",
    ] {
        assert_unsupported(WHIRLPOOL, name);
    }
    for name in ["add_liquidity", "claim_fee", "initialize_position"] {
        assert_unsupported(DLMM, name);
    }
    for name in ["add_balance_liquidity", "remove_balance_liquidity"] {
        assert_unsupported(DAMM_V1, name);
    }
    for name in ["add_liquidity", "claim_position_fee", "create_position"] {
        assert_unsupported(DAMM_V2, name);
    }
}

// ---------------------------------------------------------------------------------------
// Orca Whirlpool.

/// Arguments shared by the single-pool swaps.
#[derive(Clone, Copy)]
struct OrcaArgs {
    amount: u64,
    threshold: u64,
    is_input: bool,
    a_to_b: bool,
    /// `sqrt_price_limit`: 0 for none (the current SDKs), or an explicit limit.
    limit: u128,
}

/// `OrcaArgs` without an explicit price limit.
fn orca_args(amount: u64, threshold: u64, is_input: bool, a_to_b: bool) -> OrcaArgs {
    OrcaArgs {
        amount,
        threshold,
        is_input,
        a_to_b,
        limit: NO_LIMIT,
    }
}

/// No explicit sqrt price limit.
const NO_LIMIT: u128 = 0;
/// `MIN_SQRT_PRICE_X64` and `MAX_SQRT_PRICE_X64`: the explicit extreme limits the legacy
/// SDK and aggregators send (as in the mainnet instructions).
const MIN_SQRT_PRICE: u128 = 4_295_048_016;
const MAX_SQRT_PRICE: u128 = 79_226_673_515_401_279_992_447_579_055;

/// `swap` / `swap_v2` data; `v2` carries `remaining_accounts_info` (`None`, or the slices
/// as `(accounts_type, length)`).
fn orca_swap_data(v2: Option<Option<&[(u8, u8)]>>, args: OrcaArgs) -> Vec<u8> {
    let mut d = anchor_discriminator(if v2.is_some() { "swap_v2" } else { "swap" }).to_vec();
    d.extend_from_slice(&args.amount.to_le_bytes());
    d.extend_from_slice(&args.threshold.to_le_bytes());
    d.extend_from_slice(&args.limit.to_le_bytes());
    d.push(u8::from(args.is_input));
    d.push(u8::from(args.a_to_b));
    if let Some(info) = v2 {
        remaining_accounts_info(&mut d, info);
    }
    d
}

fn remaining_accounts_info(d: &mut Vec<u8>, info: Option<&[(u8, u8)]>) {
    match info {
        None => d.push(0),
        Some(slices) => {
            d.push(1);
            d.extend_from_slice(&(slices.len() as u32).to_le_bytes());
            for (kind, len) in slices {
                d.push(*kind);
                d.push(*len);
            }
        }
    }
}

/// `swap`: [token_program, token_authority, whirlpool, owner_a, vault_a, owner_b, vault_b,
/// tick_array_0..2, oracle].
fn orca_swap(authority: Pubkey, owner_a: Pubkey, owner_b: Pubkey, args: OrcaArgs) -> Instruction {
    Instruction::new_with_bytes(
        WHIRLPOOL,
        &orca_swap_data(None, args),
        vec![
            ro(TOKEN_PROGRAM),
            signer(authority),
            rw(pool_account(0)),
            rw(owner_a),
            rw(pool_account(1)),
            rw(owner_b),
            rw(pool_account(2)),
            rw(pool_account(3)),
            rw(pool_account(4)),
            rw(pool_account(5)),
            ro(pool_account(6)),
        ],
    )
}

/// `swap_v2`: [token_program_a, token_program_b, memo, token_authority, whirlpool, mint_a,
/// mint_b, owner_a, vault_a, owner_b, vault_b, tick_array_0..2, oracle].
fn orca_swap_v2(
    authority: Pubkey,
    (mint_a, owner_a): (Pubkey, Pubkey),
    (mint_b, owner_b): (Pubkey, Pubkey),
    args: OrcaArgs,
    info: Option<&[(u8, u8)]>,
) -> Instruction {
    Instruction::new_with_bytes(
        WHIRLPOOL,
        &orca_swap_data(Some(info), args),
        vec![
            ro(TOKEN_2022_PROGRAM),
            ro(TOKEN_PROGRAM),
            ro(MEMO_PROGRAM),
            signer(authority),
            rw(pool_account(0)),
            ro(mint_a),
            ro(mint_b),
            rw(owner_a),
            rw(pool_account(1)),
            rw(owner_b),
            rw(pool_account(2)),
            rw(pool_account(3)),
            rw(pool_account(4)),
            rw(pool_account(5)),
            rw(pool_account(6)),
        ],
    )
}

#[test]
fn orca_swap_a_to_b_exact_in_into_own_ata_is_auto() {
    let args = orca_args(1_000_000, 990_000, true, true);
    let ix = orca_swap(me(), ata(&me(), &mint_a()), ata(&me(), &mint_b()), args);
    let a = judge(
        &[
            cu_limit(200_000),
            create_own_ata(&me(), &mint_b(), &TOKEN_PROGRAM),
            ix,
        ],
        &me(),
    );
    // Not named by the instruction: inferred by the policy from the proven ATA.
    assert_own_auto(
        &a,
        my_view(
            "orca whirlpool swap",
            (ata(&me(), &mint_a()), None),
            (ata(&me(), &mint_b()), Some(mint_b())),
            vec![],
            (Exact(1_000_000), AtLeast(990_000)),
        ),
        "orca whirlpool swap",
    );
}

#[test]
fn orca_swap_b_to_a_exact_out_follows_the_flags() {
    let args = orca_args(5_000, 7_777, false, false);
    let ix = orca_swap(me(), ata(&me(), &mint_a()), ata(&me(), &mint_b()), args);
    let a = judge_with_own_atas(&[mint_a()], ix);
    let v = only_view(&a);
    assert_eq!(v.source, ata(&me(), &mint_b()));
    assert_eq!(v.destination, ata(&me(), &mint_a()));
    assert_eq!(v.amount_in, AtMost(7_777));
    assert_eq!(v.amount_out, Exact(5_000));
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);

    // The same instruction read with the other flag would pay into the B account: the
    // user's ATA for mint B is not proven (mint B is named nowhere), so it needs a look.
    let args = OrcaArgs {
        a_to_b: true,
        ..args
    };
    let ix = orca_swap(me(), ata(&me(), &mint_a()), ata(&me(), &mint_b()), args);
    let a = judge_with_own_atas(&[mint_a()], ix);
    assert_eq!(only_view(&a).destination, ata(&me(), &mint_b()));
    assert!(!destination_is_own(&a));
    assert_eq!(a.verdict, Verdict::Confirm);
}

#[test]
fn orca_swap_without_a_named_output_mint_needs_confirmation() {
    let args = orca_args(1_000, 900, true, true);
    let ix = orca_swap(me(), ata(&me(), &mint_a()), ata(&me(), &mint_b()), args);
    let a = judge(&[ix], &me());
    assert!(!destination_is_own(&a));
    assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);
}

#[test]
fn orca_swap_into_a_foreign_account_is_confirm() {
    let args = orca_args(1_000, 900, true, true);
    let theirs = ata(&stranger(), &mint_b());
    let ix = orca_swap(me(), ata(&me(), &mint_a()), theirs, args);
    let a = judge_with_own_atas(&[mint_b()], ix);
    assert_eq!(only_view(&a).destination, theirs);
    assert!(!destination_is_own(&a));
    assert_eq!(a.verdict, Verdict::Confirm);
    assert!(
        a.reasons.iter().any(|r| r.contains("Swap output goes to")),
        "{:?}",
        a.reasons
    );
}

#[test]
fn orca_swap_v2_names_its_mints_by_direction() {
    let args = orca_args(2_500_000, 1, true, false);
    // B (classic) -> A (Token-2022); one supplemental tick array as a trailing account.
    let mut ix = orca_swap_v2(
        me(),
        (mint_a(), ata_2022(&me(), &mint_a())),
        (mint_b(), ata(&me(), &mint_b())),
        args,
        Some(&[(6, 1)]),
    );
    ix.accounts.push(rw(pool_account(7)));
    let a = judge(&[ix], &me());
    assert_own_auto(
        &a,
        my_view(
            "orca whirlpool swap_v2",
            (ata(&me(), &mint_b()), Some(mint_b())),
            (ata_2022(&me(), &mint_a()), Some(mint_a())),
            vec![],
            (Exact(2_500_000), AtLeast(1)),
        ),
        "orca whirlpool swap_v2",
    );
}

#[test]
fn orca_swap_v2_exact_out_and_foreign_destination() {
    let args = orca_args(42, 1_000, false, true);
    let ix = orca_swap_v2(
        me(),
        (mint_a(), ata(&me(), &mint_a())),
        (mint_b(), ata(&stranger(), &mint_b())),
        args,
        None,
    );
    let a = judge(&[ix], &me());
    let v = only_view(&a);
    assert_eq!(v.source, ata(&me(), &mint_a()));
    assert_eq!(v.destination, ata(&stranger(), &mint_b()));
    assert_eq!(v.source_mint, Some(mint_a()));
    assert_eq!(v.destination_mint, Some(mint_b()));
    assert_eq!(v.amount_in, AtMost(1_000));
    assert_eq!(v.amount_out, Exact(42));
    assert_eq!(a.verdict, Verdict::Confirm);
}

#[test]
fn orca_explicit_price_limits_allow_partial_fills() {
    let (x, y) = (ata(&me(), &mint_a()), ata(&me(), &mint_b()));
    // (is_input, a_to_b, limit, amount_in, amount_out)
    let cases = [
        (true, true, NO_LIMIT, Exact(1_000), AtLeast(900)),
        (true, true, MIN_SQRT_PRICE, AtMost(1_000), AtLeast(900)),
        (true, false, MAX_SQRT_PRICE, AtMost(1_000), AtLeast(900)),
        (false, true, NO_LIMIT, AtMost(900), Exact(1_000)),
        (false, true, MIN_SQRT_PRICE, AtMost(900), AtLeast(0)),
        (false, false, 12_345, AtMost(900), AtLeast(0)),
    ];
    for (is_input, a_to_b, limit, amount_in, amount_out) in cases {
        let args = OrcaArgs {
            amount: 1_000,
            threshold: 900,
            is_input,
            a_to_b,
            limit,
        };
        for v2 in [false, true] {
            let ix = if v2 {
                orca_swap_v2(me(), (mint_a(), x), (mint_b(), y), args, None)
            } else {
                orca_swap(me(), x, y, args)
            };
            let a = judge_with_own_atas(&[mint_a(), mint_b()], ix);
            let v = only_view(&a);
            let what = format!("is_input {is_input} limit {limit} v2 {v2}");
            assert_eq!(
                (v.amount_in, v.amount_out),
                (amount_in, amount_out),
                "{what}"
            );
            // An unbounded output is a warning, not a refusal: the user's own accounts.
            assert_eq!(a.verdict, Verdict::Auto, "{what}: {:?}", a.reasons);
            assert_eq!(
                a.warnings.iter().any(|w| w.contains("no minimum output")),
                amount_out == AtLeast(0),
                "{what}: {:?}",
                a.warnings
            );
        }
    }
    // Two hops: the first hop's limit governs the input, the second hop's the output.
    let owners = two_hop_owners(x, y, y, ata(&me(), &mint_c()), true, true);
    let two_hop_cases = [
        (
            true,
            (MIN_SQRT_PRICE, NO_LIMIT),
            AtMost(1_000),
            AtLeast(900),
        ),
        (true, (NO_LIMIT, MIN_SQRT_PRICE), Exact(1_000), AtLeast(900)),
        (false, (MIN_SQRT_PRICE, NO_LIMIT), AtMost(900), Exact(1_000)),
        (false, (NO_LIMIT, MIN_SQRT_PRICE), AtMost(900), AtLeast(0)),
    ];
    for (is_input, limits, amount_in, amount_out) in two_hop_cases {
        for v2 in [None, Some(None)] {
            let data = two_hop_data_with_limits(v2, 1_000, 900, is_input, (true, true), limits);
            let ix = if v2.is_some() {
                orca_two_hop_v2(
                    me(),
                    [mint_a(), mint_b(), mint_c()],
                    x,
                    ata(&me(), &mint_c()),
                    data,
                )
            } else {
                orca_two_hop(me(), owners, data)
            };
            let a = judge_with_own_atas(&[mint_c()], ix);
            let v = only_view(&a);
            assert_eq!(
                (v.amount_in, v.amount_out),
                (amount_in, amount_out),
                "is_input {is_input} limits {limits:?} v2 {}",
                v2.is_some()
            );
            assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
        }
    }
}

/// `two_hop_swap` data without explicit price limits.
fn two_hop_data(
    v2: Option<Option<&[(u8, u8)]>>,
    amount: u64,
    threshold: u64,
    is_input: bool,
    a_to_b_one: bool,
    a_to_b_two: bool,
) -> Vec<u8> {
    two_hop_data_with_limits(
        v2,
        amount,
        threshold,
        is_input,
        (a_to_b_one, a_to_b_two),
        (NO_LIMIT, NO_LIMIT),
    )
}

/// `two_hop_swap` / `two_hop_swap_v2` data.
fn two_hop_data_with_limits(
    v2: Option<Option<&[(u8, u8)]>>,
    amount: u64,
    threshold: u64,
    is_input: bool,
    (a_to_b_one, a_to_b_two): (bool, bool),
    (limit_one, limit_two): (u128, u128),
) -> Vec<u8> {
    let mut d = anchor_discriminator(if v2.is_some() {
        "two_hop_swap_v2"
    } else {
        "two_hop_swap"
    })
    .to_vec();
    d.extend_from_slice(&amount.to_le_bytes());
    d.extend_from_slice(&threshold.to_le_bytes());
    d.push(u8::from(is_input));
    d.push(u8::from(a_to_b_one));
    d.push(u8::from(a_to_b_two));
    d.extend_from_slice(&limit_one.to_le_bytes());
    d.extend_from_slice(&limit_two.to_le_bytes());
    if let Some(info) = v2 {
        remaining_accounts_info(&mut d, info);
    }
    d
}

/// `two_hop_swap`: [token_program, token_authority, whirlpool_one, whirlpool_two,
/// one_a, vault_one_a, one_b, vault_one_b, two_a, vault_two_a, two_b, vault_two_b,
/// tick arrays one 0..2, tick arrays two 0..2, oracle_one, oracle_two].
fn orca_two_hop(authority: Pubkey, owners: [Pubkey; 4], data: Vec<u8>) -> Instruction {
    let [one_a, one_b, two_a, two_b] = owners;
    let mut accounts = vec![
        ro(TOKEN_PROGRAM),
        signer(authority),
        rw(pool_account(0)),
        rw(pool_account(1)),
        rw(one_a),
        rw(pool_account(2)),
        rw(one_b),
        rw(pool_account(3)),
        rw(two_a),
        rw(pool_account(4)),
        rw(two_b),
        rw(pool_account(5)),
    ];
    accounts.extend((10..18).map(|n| rw(pool_account(n))));
    Instruction::new_with_bytes(WHIRLPOOL, &data, accounts)
}

/// The owner accounts of a two-hop swap from `input` through `mid` to `output`, placed
/// by the direction flags.
fn two_hop_owners(
    input: Pubkey,
    mid_out: Pubkey,
    mid_in: Pubkey,
    output: Pubkey,
    a_to_b_one: bool,
    a_to_b_two: bool,
) -> [Pubkey; 4] {
    let (one_a, one_b) = if a_to_b_one {
        (input, mid_out)
    } else {
        (mid_out, input)
    };
    let (two_a, two_b) = if a_to_b_two {
        (mid_in, output)
    } else {
        (output, mid_in)
    };
    [one_a, one_b, two_a, two_b]
}

#[test]
fn orca_two_hop_swap_is_one_swap_from_first_input_to_last_output() {
    let (input, mid, output) = (
        ata(&me(), &mint_a()),
        ata(&me(), &mint_b()),
        ata(&me(), &mint_c()),
    );
    for a_to_b_one in [true, false] {
        for a_to_b_two in [true, false] {
            let owners = two_hop_owners(input, mid, mid, output, a_to_b_one, a_to_b_two);
            let data = two_hop_data(None, 110_000, 194_634_640, true, a_to_b_one, a_to_b_two);
            let ix = orca_two_hop(me(), owners, data);
            let a = judge_with_own_atas(&[mint_c()], ix);
            let what = format!("a_to_b_one {a_to_b_one}, a_to_b_two {a_to_b_two}");
            assert_eq!(
                only_view(&a),
                // Inferred from the proven output ATA.
                my_view(
                    "orca whirlpool two_hop_swap",
                    (input, None),
                    (output, Some(mint_c())),
                    vec![],
                    (Exact(110_000), AtLeast(194_634_640))
                ),
                "{what}"
            );
            assert_eq!(a.verdict, Verdict::Auto, "{what}: {:?}", a.reasons);
        }
    }
}

#[test]
fn orca_two_hop_swap_exact_out_bounds_the_first_input() {
    // An exact-out two-hop swap from the user's mint A account to `output` (mint C).
    let judge_exact_out = |output: Pubkey, a_to_b_one: bool| {
        let (input, mid) = (ata(&me(), &mint_a()), ata(&me(), &mint_b()));
        let owners = two_hop_owners(input, mid, mid, output, a_to_b_one, true);
        let data = two_hop_data(None, 500, 9_000, false, a_to_b_one, true);
        judge_with_own_atas(&[mint_c()], orca_two_hop(me(), owners, data))
    };
    let a = judge_exact_out(ata(&me(), &mint_c()), false);
    let v = only_view(&a);
    assert_eq!(v.source, ata(&me(), &mint_a()));
    assert_eq!(v.destination, ata(&me(), &mint_c()));
    assert_eq!(v.amount_in, AtMost(9_000));
    assert_eq!(v.amount_out, Exact(500));
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);

    // Output into someone else's account.
    let a = judge_exact_out(ata(&stranger(), &mint_c()), true);
    assert_eq!(only_view(&a).destination, ata(&stranger(), &mint_c()));
    assert_eq!(a.verdict, Verdict::Confirm);
}

#[test]
fn orca_two_hop_swap_with_split_intermediate_accounts_is_two_swaps() {
    // Hop one pays the intermediate token to a stranger's account while hop two debits
    // the user's own intermediate account: reported as two swaps, the first one foreign.
    let foreign_mid = ata(&stranger(), &mint_b());
    let owners = two_hop_owners(
        ata(&me(), &mint_a()),
        foreign_mid,
        ata(&me(), &mint_b()),
        ata(&me(), &mint_c()),
        true,
        false,
    );
    let ix = orca_two_hop(
        me(),
        owners,
        two_hop_data(None, 1_000, 2_000, true, true, false),
    );
    let a = judge_with_own_atas(&[mint_b(), mint_c()], ix);
    let v = views(&a);
    assert_eq!(
        v,
        vec![
            my_view(
                "orca whirlpool two_hop_swap (first hop)",
                (ata(&me(), &mint_a()), None),
                (foreign_mid, None),
                vec![],
                (Exact(1_000), AtLeast(0))
            ),
            // Inferred from the proven ATAs.
            my_view(
                "orca whirlpool two_hop_swap (second hop)",
                (ata(&me(), &mint_b()), Some(mint_b())),
                (ata(&me(), &mint_c()), Some(mint_c())),
                vec![],
                (AtMost(u64::MAX), AtLeast(2_000))
            ),
        ]
    );
    assert_eq!(a.verdict, Verdict::Confirm);
    assert!(
        a.reasons.iter().any(|r| r.contains("Swap output goes to")),
        "{:?}",
        a.reasons
    );
}

/// `two_hop_swap_v2`: [whirlpool_one, whirlpool_two, mint_input, mint_intermediate,
/// mint_output, token_program_input, token_program_intermediate, token_program_output,
/// owner_input, vault_one_input, vault_one_intermediate, vault_two_intermediate,
/// vault_two_output, owner_output, token_authority, tick arrays one 0..2, tick arrays
/// two 0..2, oracle_one, oracle_two, memo].
fn orca_two_hop_v2(
    authority: Pubkey,
    mints: [Pubkey; 3],
    input: Pubkey,
    output: Pubkey,
    data: Vec<u8>,
) -> Instruction {
    let [mint_in, mint_mid, mint_out] = mints;
    let mut accounts = vec![
        rw(pool_account(0)),
        rw(pool_account(1)),
        ro(mint_in),
        ro(mint_mid),
        ro(mint_out),
        ro(TOKEN_PROGRAM),
        ro(TOKEN_2022_PROGRAM),
        ro(TOKEN_PROGRAM),
        rw(input),
        rw(pool_account(2)),
        rw(pool_account(3)),
        rw(pool_account(4)),
        rw(pool_account(5)),
        rw(output),
        signer(authority),
    ];
    accounts.extend((10..18).map(|n| rw(pool_account(n))));
    accounts.push(ro(MEMO_PROGRAM));
    Instruction::new_with_bytes(WHIRLPOOL, &data, accounts)
}

#[test]
fn orca_two_hop_swap_v2_uses_the_named_input_and_output() {
    let mints = [mint_a(), mint_b(), mint_c()];
    for (is_input, flags) in [(true, (false, true)), (false, (true, false))] {
        let data = two_hop_data(
            Some(Some(&[(3, 0), (7, 1), (8, 0)])),
            40_139_172,
            35_000,
            is_input,
            flags.0,
            flags.1,
        );
        let mut ix = orca_two_hop_v2(
            me(),
            mints,
            ata(&me(), &mint_a()),
            ata(&me(), &mint_c()),
            data,
        );
        ix.accounts.push(rw(pool_account(20)));
        let a = judge(&[ix], &me());
        let (amount_in, amount_out) = if is_input {
            (Exact(40_139_172), AtLeast(35_000))
        } else {
            (AtMost(35_000), Exact(40_139_172))
        };
        assert_eq!(
            only_view(&a),
            my_view(
                "orca whirlpool two_hop_swap_v2",
                (ata(&me(), &mint_a()), Some(mint_a())),
                (ata(&me(), &mint_c()), Some(mint_c())),
                vec![],
                (amount_in, amount_out)
            )
        );
        assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
    }
    // Foreign output.
    let ix = orca_two_hop_v2(
        me(),
        mints,
        ata(&me(), &mint_a()),
        ata(&stranger(), &mint_c()),
        two_hop_data(Some(None), 1, 1, true, true, true),
    );
    let a = judge(&[ix], &me());
    assert_eq!(only_view(&a).destination, ata(&stranger(), &mint_c()));
    assert_eq!(a.verdict, Verdict::Confirm);
}

#[test]
fn orca_malformed_instructions_are_refused() {
    let args = orca_args(1, 1, true, true);
    let (x, y) = (ata(&me(), &mint_a()), ata(&me(), &mint_b()));
    let swap = orca_swap(me(), x, y, args);
    assert_strict(&swap, 11, "swap");
    let swap_v2 = orca_swap_v2(me(), (mint_a(), x), (mint_b(), y), args, None);
    assert_strict(&swap_v2, 15, "swap_v2");
    let owners = two_hop_owners(x, y, y, ata(&me(), &mint_c()), true, true);
    let two_hop = orca_two_hop(me(), owners, two_hop_data(None, 1, 1, true, true, true));
    assert_strict(&two_hop, 20, "two_hop_swap");
    let two_hop_v2 = orca_two_hop_v2(
        me(),
        [mint_a(), mint_b(), mint_c()],
        x,
        y,
        two_hop_data(Some(None), 1, 1, true, true, true),
    );
    assert_strict(&two_hop_v2, 24, "two_hop_swap_v2");

    // A bool other than 0 / 1 (amount_specified_is_input, then a_to_b).
    for offset in [8 + 8 + 8 + 16, 8 + 8 + 8 + 16 + 1] {
        let mut bad = swap.clone();
        bad.data[offset] = 2;
        assert_malformed(&[bad], "bool 2");
    }
    // A two-hop direction flag other than 0 / 1.
    let mut bad = two_hop.clone();
    bad.data[8 + 8 + 8 + 2] = 0xff;
    assert_malformed(&[bad], "a_to_b_two 255");
    // An option tag other than 0 / 1.
    let mut bad = swap_v2.clone();
    *bad.data.last_mut().unwrap() = 2;
    assert_malformed(&[bad], "option tag 2");
    // An accounts type past the last variant, and a slice cut short.
    let bad = orca_swap_v2(me(), (mint_a(), x), (mint_b(), y), args, Some(&[(13, 1)]));
    assert_malformed(&[bad], "accounts type 13");
    let ok = orca_swap_v2(me(), (mint_a(), x), (mint_b(), y), args, Some(&[(12, 0)]));
    assert_eq!(views(&judge(&[ok], &me())).len(), 1);
    let mut bad = orca_swap_v2(me(), (mint_a(), x), (mint_b(), y), args, Some(&[(0, 1)]));
    bad.data.pop();
    assert_malformed(&[bad], "slice cut short");
    // A slice count larger than the data.
    let mut bad = orca_swap_v2(me(), (mint_a(), x), (mint_b(), y), args, Some(&[]));
    let n = bad.data.len();
    bad.data[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_malformed(&[bad], "huge slice count");
}

// ---------------------------------------------------------------------------------------
// Meteora DLMM.

/// DLMM arguments by variant.
#[derive(Clone, Copy, Debug)]
enum DlmmArgs {
    ExactIn {
        amount_in: u64,
        min_out: u64,
    },
    ExactOut {
        max_in: u64,
        out: u64,
    },
    PriceImpact {
        amount_in: u64,
        active_id: Option<i32>,
        bps: u16,
    },
}

/// Data of a DLMM swap; `info` (the `2` variants) is the slices of
/// `remaining_accounts_info`, as raw slice bytes.
fn dlmm_data(args: DlmmArgs, info: Option<&[&[u8]]>) -> Vec<u8> {
    let suffix = if info.is_some() { "2" } else { "" };
    let mut d = Vec::new();
    match args {
        DlmmArgs::ExactIn { amount_in, min_out } => {
            d.extend_from_slice(&anchor_discriminator(&format!("swap{suffix}")));
            d.extend_from_slice(&amount_in.to_le_bytes());
            d.extend_from_slice(&min_out.to_le_bytes());
        }
        DlmmArgs::ExactOut { max_in, out } => {
            d.extend_from_slice(&anchor_discriminator(&format!("swap_exact_out{suffix}")));
            d.extend_from_slice(&max_in.to_le_bytes());
            d.extend_from_slice(&out.to_le_bytes());
        }
        DlmmArgs::PriceImpact {
            amount_in,
            active_id,
            bps,
        } => {
            d.extend_from_slice(&anchor_discriminator(&format!(
                "swap_with_price_impact{suffix}"
            )));
            d.extend_from_slice(&amount_in.to_le_bytes());
            match active_id {
                None => d.push(0),
                Some(id) => {
                    d.push(1);
                    d.extend_from_slice(&id.to_le_bytes());
                }
            }
            d.extend_from_slice(&bps.to_le_bytes());
        }
    }
    if let Some(slices) = info {
        d.extend_from_slice(&(slices.len() as u32).to_le_bytes());
        for s in slices {
            d.extend_from_slice(s);
        }
    }
    d
}

/// DLMM accounts: [lb_pair, bitmap_extension?, reserve_x, reserve_y, user_token_in,
/// user_token_out, token_x_mint, token_y_mint, oracle, host_fee_in?, user,
/// token_x_program, token_y_program, (memo), event_authority, program].
fn dlmm_swap(
    user: Pubkey,
    token_in: Pubkey,
    token_out: Pubkey,
    host_fee_in: Option<Pubkey>,
    data: Vec<u8>,
    v2: bool,
) -> Instruction {
    let mut accounts = vec![
        rw(pool_account(0)),
        ro(DLMM),
        rw(pool_account(1)),
        rw(pool_account(2)),
        rw(token_in),
        rw(token_out),
        ro(mint_a()),
        ro(mint_b()),
        rw(pool_account(3)),
        host_fee_in.map(rw).unwrap_or(ro(DLMM)),
        signer(user),
        ro(TOKEN_PROGRAM),
        ro(TOKEN_PROGRAM),
    ];
    if v2 {
        accounts.push(ro(MEMO_PROGRAM));
    }
    accounts.push(ro(pool_account(4)));
    accounts.push(ro(DLMM));
    // Bin arrays.
    accounts.push(rw(pool_account(5)));
    accounts.push(rw(pool_account(6)));
    Instruction::new_with_bytes(DLMM, &data, accounts)
}

fn dlmm_cases() -> Vec<(DlmmArgs, &'static str, SwapAmount, SwapAmount)> {
    vec![
        (
            DlmmArgs::ExactIn {
                amount_in: 60_165_522,
                min_out: 1_234,
            },
            "swap",
            Exact(60_165_522),
            AtLeast(1_234),
        ),
        (
            DlmmArgs::ExactOut {
                max_in: 3_826_290_145,
                out: 4_891_000_000_000,
            },
            "swap_exact_out",
            AtMost(3_826_290_145),
            Exact(4_891_000_000_000),
        ),
        (
            DlmmArgs::PriceImpact {
                amount_in: 58_823,
                active_id: Some(-533),
                bps: 1_000,
            },
            "swap_with_price_impact",
            Exact(58_823),
            AtLeast(0),
        ),
        (
            DlmmArgs::PriceImpact {
                amount_in: 7,
                active_id: None,
                bps: 50,
            },
            "swap_with_price_impact",
            Exact(7),
            AtLeast(0),
        ),
    ]
}

#[test]
fn dlmm_every_variant_decodes_into_own_accounts_as_auto() {
    let infos: [&[&[u8]]; 3] = [&[], &[&[0, 1], &[1, 0]], &[&[3, 2, 1], &[4, 1]]];
    for (args, name, amount_in, amount_out) in dlmm_cases() {
        for v2 in [None, Some(infos[0]), Some(infos[1]), Some(infos[2])] {
            for host_fee in [None, Some(ata(&me(), &mint_b()))] {
                let instruction =
                    format!("meteora dlmm {name}{}", if v2.is_some() { "2" } else { "" });
                // Y -> X: the mints are named without a side.
                let mut ix = dlmm_swap(
                    me(),
                    ata(&me(), &mint_b()),
                    ata(&me(), &mint_a()),
                    host_fee,
                    dlmm_data(args, v2),
                    v2.is_some(),
                );
                if v2.is_some() && v2 != Some(infos[0]) {
                    ix.accounts.push(ro(pool_account(9)));
                }
                let a = judge(&[ix], &me());
                let v = only_view(&a);
                assert_eq!(v.instruction, instruction);
                // Inferred from the proven ATAs.
                let mints = (Some(mint_b()), Some(mint_a()));
                assert_own_auto(
                    &a,
                    my_view(
                        v.instruction,
                        (ata(&me(), &mint_b()), mints.0),
                        (ata(&me(), &mint_a()), mints.1),
                        vec![mint_a(), mint_b()],
                        (amount_in, amount_out),
                    ),
                    &instruction,
                );
                if amount_out == AtLeast(0) {
                    assert!(
                        a.warnings.iter().any(|w| w.contains("no minimum output")),
                        "{:?}",
                        a.warnings
                    );
                }
            }
        }
    }
}

#[test]
fn dlmm_output_into_a_foreign_account_is_confirm() {
    for (args, name, _, _) in dlmm_cases() {
        for v2 in [false, true] {
            let info: Option<&[&[u8]]> = v2.then_some(&[]);
            let ix = dlmm_swap(
                me(),
                ata(&me(), &mint_a()),
                ata(&stranger(), &mint_b()),
                None,
                dlmm_data(args, info),
                v2,
            );
            let a = judge(&[ix], &me());
            assert_eq!(only_view(&a).destination, ata(&stranger(), &mint_b()));
            assert!(!destination_is_own(&a));
            assert_eq!(a.verdict, Verdict::Confirm, "{name} v2={v2}");
        }
    }
}

#[test]
fn dlmm_malformed_instructions_are_refused() {
    for (args, name, _, _) in dlmm_cases() {
        for v2 in [false, true] {
            let info: Option<&[&[u8]]> = v2.then_some(&[&[3, 0, 1]]);
            let ix = dlmm_swap(
                me(),
                ata(&me(), &mint_a()),
                ata(&me(), &mint_b()),
                None,
                dlmm_data(args, info),
                v2,
            );
            assert_strict(&ix, if v2 { 16 } else { 15 }, name);
        }
    }
    let exact_in = DlmmArgs::ExactIn {
        amount_in: 1,
        min_out: 1,
    };
    let build = |info: &[&[u8]]| {
        dlmm_swap(
            me(),
            ata(&me(), &mint_a()),
            ata(&me(), &mint_b()),
            None,
            dlmm_data(exact_in, Some(info)),
            true,
        )
    };
    // An accounts type past TransferHookReferral.
    assert_malformed(&[build(&[&[5, 1]])], "accounts type 5");
    // TransferHookMultiReward without its reward index.
    assert_malformed(&[build(&[&[3, 1]])], "multi reward cut short");
    // A `2` variant without remaining_accounts_info at all (it is not optional).
    let mut bare = build(&[]);
    bare.data.truncate(bare.data.len() - 4);
    assert_malformed(&[bare], "no remaining_accounts_info");
    // The v1 layout with the v2 accounts is fine (trailing accounts are allowed), but the
    // v2 layout with 15 accounts is not.
    let mut v2_short = build(&[]);
    v2_short.accounts.truncate(15);
    assert_malformed(&[v2_short], "swap2 with 15 accounts");
    // An option tag other than 0 / 1 in swap_with_price_impact.
    let mut bad = dlmm_swap(
        me(),
        ata(&me(), &mint_a()),
        ata(&me(), &mint_b()),
        None,
        dlmm_data(
            DlmmArgs::PriceImpact {
                amount_in: 1,
                active_id: None,
                bps: 1,
            },
            None,
        ),
        false,
    );
    bad.data[16] = 2;
    assert_malformed(&[bad], "option tag 2");
}

// ---------------------------------------------------------------------------------------
// Meteora DAMM v1.

/// DAMM v1 `swap`: [pool, user_source_token, user_destination_token, a_vault, b_vault,
/// a_token_vault, b_token_vault, a_vault_lp_mint, b_vault_lp_mint, a_vault_lp, b_vault_lp,
/// protocol_token_fee, user, vault_program, token_program].
fn damm_v1_swap(
    user: Pubkey,
    source: Pubkey,
    destination: Pubkey,
    amount: u64,
    min: u64,
) -> Instruction {
    let mut data = anchor_discriminator("swap").to_vec();
    data.extend_from_slice(&amount.to_le_bytes());
    data.extend_from_slice(&min.to_le_bytes());
    let mut accounts = vec![rw(pool_account(0)), rw(source), rw(destination)];
    accounts.extend((1..10).map(|n| rw(pool_account(n))));
    accounts.push(signer(user));
    accounts.push(ro(pool_account(10)));
    accounts.push(ro(TOKEN_PROGRAM));
    Instruction::new_with_bytes(DAMM_V1, &data, accounts)
}

#[test]
fn damm_v1_swap_into_own_ata_is_auto() {
    let ix = damm_v1_swap(
        me(),
        ata(&me(), &NATIVE_MINT),
        ata(&me(), &USDC),
        1_000_000_000,
        150_000_000,
    );
    let a = judge_with_own_atas(&[USDC], ix.clone());
    assert_eq!(
        only_view(&a),
        // Inferred from the proven ATAs.
        my_view(
            "meteora damm v1 swap",
            (ata(&me(), &NATIVE_MINT), Some(NATIVE_MINT)),
            (ata(&me(), &USDC), Some(USDC)),
            vec![],
            (Exact(1_000_000_000), AtLeast(150_000_000))
        )
    );
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
    // Trailing accounts are allowed.
    let mut longer = ix.clone();
    longer.accounts.push(rw(pool_account(11)));
    let a = judge_with_own_atas(&[USDC], longer);
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
    // Without a named output mint, ownership cannot be proven.
    let a = judge(&[ix], &me());
    assert!(!destination_is_own(&a));
    assert_eq!(a.verdict, Verdict::Confirm);
}

#[test]
fn damm_v1_swap_into_a_foreign_account_is_confirm() {
    let ix = damm_v1_swap(
        me(),
        ata(&me(), &NATIVE_MINT),
        ata(&stranger(), &USDC),
        10,
        9,
    );
    let a = judge_with_own_atas(&[USDC], ix);
    assert_eq!(only_view(&a).destination, ata(&stranger(), &USDC));
    assert_eq!(a.verdict, Verdict::Confirm);
}

#[test]
fn damm_v1_malformed_instructions_are_refused() {
    let ix = damm_v1_swap(me(), ata(&me(), &NATIVE_MINT), ata(&me(), &USDC), 10, 9);
    assert_strict(&ix, 15, "damm v1 swap");
}

// ---------------------------------------------------------------------------------------
// Meteora DAMM v2.

/// DAMM v2 accounts: [pool_authority, pool, input_token_account, output_token_account,
/// token_a_vault, token_b_vault, token_a_mint, token_b_mint, payer, token_a_program,
/// token_b_program, referral_token_account?, event_authority, program].
fn damm_v2_swap(
    payer: Pubkey,
    input: Pubkey,
    output: Pubkey,
    referral: Option<Pubkey>,
    data: Vec<u8>,
) -> Instruction {
    Instruction::new_with_bytes(
        DAMM_V2,
        &data,
        vec![
            ro(pool_account(0)),
            rw(pool_account(1)),
            rw(input),
            rw(output),
            rw(pool_account(2)),
            rw(pool_account(3)),
            ro(mint_a()),
            ro(mint_b()),
            signer(payer),
            ro(TOKEN_PROGRAM),
            ro(TOKEN_2022_PROGRAM),
            referral.map(rw).unwrap_or(ro(DAMM_V2)),
            ro(pool_account(4)),
            ro(DAMM_V2),
        ],
    )
}

fn damm_v2_swap_data(amount_in: u64, min_out: u64) -> Vec<u8> {
    let mut d = anchor_discriminator("swap").to_vec();
    d.extend_from_slice(&amount_in.to_le_bytes());
    d.extend_from_slice(&min_out.to_le_bytes());
    d
}

fn damm_v2_swap2_data(amount_0: u64, amount_1: u64, mode: u8) -> Vec<u8> {
    let mut d = anchor_discriminator("swap2").to_vec();
    d.extend_from_slice(&amount_0.to_le_bytes());
    d.extend_from_slice(&amount_1.to_le_bytes());
    d.push(mode);
    d
}

#[test]
fn damm_v2_swap_and_every_swap2_mode() {
    let cases = [
        (
            damm_v2_swap_data(1_000, 900),
            "meteora damm v2 swap",
            Exact(1_000),
            AtLeast(900),
        ),
        (
            damm_v2_swap2_data(1_000, 900, 0),
            "meteora damm v2 swap2",
            Exact(1_000),
            AtLeast(900),
        ),
        (
            damm_v2_swap2_data(1_000, 900, 1),
            "meteora damm v2 swap2",
            AtMost(1_000),
            AtLeast(900),
        ),
        (
            damm_v2_swap2_data(1_000, 900, 2),
            "meteora damm v2 swap2",
            AtMost(900),
            Exact(1_000),
        ),
    ];
    for (data, instruction, amount_in, amount_out) in cases {
        for referral in [None, Some(ata(&stranger(), &mint_a()))] {
            // B (Token-2022 ATA) -> A.
            let ix = damm_v2_swap(
                me(),
                ata_2022(&me(), &mint_b()),
                ata(&me(), &mint_a()),
                referral,
                data.clone(),
            );
            let a = judge(&[ix], &me());
            assert_eq!(
                only_view(&a),
                // Inferred from the proven ATAs.
                my_view(
                    instruction,
                    (ata_2022(&me(), &mint_b()), Some(mint_b())),
                    (ata(&me(), &mint_a()), Some(mint_a())),
                    vec![mint_a(), mint_b()],
                    (amount_in, amount_out)
                )
            );
            assert_eq!(a.verdict, Verdict::Auto, "{instruction}: {:?}", a.reasons);
        }
        let ix = damm_v2_swap(
            me(),
            ata(&me(), &mint_a()),
            ata(&stranger(), &mint_b()),
            None,
            data.clone(),
        );
        let a = judge(&[ix], &me());
        assert!(!destination_is_own(&a));
        assert_eq!(a.verdict, Verdict::Confirm, "{instruction}");
    }
}

#[test]
fn damm_v2_malformed_instructions_are_refused() {
    let (x, y) = (ata(&me(), &mint_a()), ata(&me(), &mint_b()));
    assert_strict(
        &damm_v2_swap(me(), x, y, None, damm_v2_swap_data(1, 1)),
        14,
        "swap",
    );
    assert_strict(
        &damm_v2_swap(me(), x, y, None, damm_v2_swap2_data(1, 1, 2)),
        14,
        "swap2",
    );
    for mode in [3u8, 0xff] {
        let ix = damm_v2_swap(me(), x, y, None, damm_v2_swap2_data(1, 1, mode));
        assert_malformed(&[ix], &format!("swap mode {mode}"));
    }
}

// ---------------------------------------------------------------------------------------
// Mainnet instructions.

const MAINNET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/dex/orca-meteora/mainnet_instructions.json"
);

/// One mainnet instruction, rebuilt as the only instruction of a legacy transaction whose
/// fee payer is `authority` (the instructions were recorded with their accounts, some
/// from inner instructions; the rest of the transactions is not needed to decode them).
fn mainnet(name: &str, authority: &str) -> (Pubkey, Instruction) {
    let text = std::fs::read_to_string(MAINNET).unwrap();
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let e = entries
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name}"));
    let program: Pubkey = e["program"].as_str().unwrap().parse().unwrap();
    let authority: Pubkey = authority.parse().unwrap();
    let accounts = e["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let k: Pubkey = a[0].as_str().unwrap().parse().unwrap();
            AccountMeta {
                pubkey: k,
                is_signer: a[1].as_bool().unwrap() || k == authority,
                is_writable: a[2].as_bool().unwrap() || k == authority,
            }
        })
        .collect();
    let data = hex::decode(e["data_hex"].as_str().unwrap()).unwrap();
    (
        authority,
        Instruction::new_with_bytes(program, &data, accounts),
    )
}

/// What a mainnet instruction decodes to. Mints are the instruction's own plus those the
/// policy infers from proven associated token accounts; `own` is whether the destination
/// is provably the authority's (only the mints named by this one instruction count).
struct Expected {
    fixture: &'static str,
    instruction: &'static str,
    authority: &'static str,
    source: &'static str,
    destination: &'static str,
    source_mint: Option<&'static str>,
    destination_mint: Option<&'static str>,
    pool_mints: &'static [&'static str],
    amount_in: SwapAmount,
    amount_out: SwapAmount,
    own: bool,
}

const WSOL: &str = "So11111111111111111111111111111111111111112";
const USDC_STR: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";

const EXPECTED: &[Expected] = &[
    Expected {
        // No mint named: the output account cannot be proven the user's on its own.
        fixture: "orca-whirlpool:swap",
        instruction: "orca whirlpool swap",
        authority: "6sZGtMnbfZYrma9bKnTkLwjRYXBoTpzcP72cCAWPMhrk",
        // a_to_b = false: B -> A.
        source: "2YJnKoCuGn5HfSokHWd7ExMrjnQHmWB4j4ro5fo4gKaa",
        destination: "51zQuBTBwidrpuYb55h3QNo1mgazmui6YQSg8V9APbHV",
        source_mint: None,
        destination_mint: None,
        pool_mints: &[],
        // Explicit (extreme) price limit: may fill partially.
        amount_in: AtMost(85_373_619),
        amount_out: AtLeast(0),
        own: false,
    },
    Expected {
        // An aggregator's inner instruction: the output account is not the authority's
        // associated token account.
        fixture: "orca-whirlpool:swap_v2",
        instruction: "orca whirlpool swap_v2",
        authority: "6TYDxGmVxkBPBmEfnmLXx6jVff9LknsjRHqdTjVyZmG8",
        source: "13Ma7KdfbBrF8NmDBnVTkwny7tjrZxYHCfn6a3FFbRUa",
        destination: "CX9yaoQw5YfpLH7Lamm5p2395ssKH2k3Gv8JDHL1vKM9",
        source_mint: Some(WSOL),
        destination_mint: Some("7GCihgDB8fe6KNjn2MYtkzZcRjQy3t9GHdC8uHYmW2hr"),
        pool_mints: &[],
        amount_in: AtMost(367_897_999),
        amount_out: AtLeast(1),
        own: false,
    },
    Expected {
        // No mint named, as for `swap`.
        fixture: "orca-whirlpool:two_hop_swap",
        instruction: "orca whirlpool two_hop_swap",
        authority: "GdTFjcR2iTnix7LQV417XkjmjnfGfBdxAWvjtujkoYfc",
        // a_to_b_one = true (one_a -> one_b), a_to_b_two = false (two_b -> two_a), and
        // one_b == two_b is the shared intermediate account.
        source: "3aQVx4SNRBV1SYbQmLbCD1CyL8zAEPBQCjxbLms11Jh1",
        destination: "DTVGJCJJNCg7L29KNC8dK6r8H4VVGtLVgk5QdX1jQQe5",
        source_mint: None,
        destination_mint: None,
        pool_mints: &[],
        amount_in: AtMost(110_000),
        amount_out: AtLeast(194_634_640),
        own: false,
    },
    Expected {
        fixture: "orca-whirlpool:two_hop_swap_v2",
        instruction: "orca whirlpool two_hop_swap_v2",
        authority: "CTgympSD3hkBhH2XYWfGCigrFh3ZHAvnxwAfm7nCbExY",
        source: "4Ht7H3BYgFtzsDBybgenETHuiLu7WQauBFuRACVa1Uzx",
        destination: "Aqb9GRGQbSC4jgKaBEoJmMzMtmomeH52FTTExjdZ6Taz",
        source_mint: Some("J1toso1uCk3RLmjorhTtrVwY9HJ7X8V9yYac6Y7kGCPn"),
        destination_mint: Some(USDC_STR),
        pool_mints: &[],
        amount_in: AtMost(40_139_172),
        amount_out: AtLeast(0),
        own: true,
    },
    Expected {
        fixture: "meteora-dlmm:swap",
        instruction: "meteora dlmm swap",
        authority: "CfKSQ1DbJa79XGp3fieJJwnskHBbWkgrpC3DmL6rTzQH",
        source: "GjxJ1KCKU6tduWpgJKXA81spVK5mHZHbXNFTSvFELqgN",
        destination: "7sfqR1grUb5jCTrpYm31cc1HA4quapJ8ur8ZdkUwUqtS",
        source_mint: Some(WSOL),
        destination_mint: Some("Cy1GS2FqefgaMbi45UunrUzin1rfEmTUYnomddzBpump"),
        pool_mints: &["Cy1GS2FqefgaMbi45UunrUzin1rfEmTUYnomddzBpump", WSOL],
        amount_in: Exact(60_165_522),
        amount_out: AtLeast(0),
        own: true,
    },
    Expected {
        fixture: "meteora-dlmm:swap2",
        instruction: "meteora dlmm swap2",
        authority: "AmZaQwdMRKNC5JzRUujZfrVFyjmoUuvrRmc6iKnQHEv6",
        source: "CPVAAuzZGX4nBk1o42qLVSZf9PQEVGdh6wcpxw8bF6Ar",
        destination: "53mNdjYekY37E5JQ9vXB57seaTxt2j6degVmcXLVr77r",
        source_mint: Some("27G8MtK7VtTcCHkpASjSDdkWWYfoqT6ggEuKidVJidD4"),
        destination_mint: Some(USDC_STR),
        pool_mints: &["27G8MtK7VtTcCHkpASjSDdkWWYfoqT6ggEuKidVJidD4", USDC_STR],
        amount_in: Exact(217_206_901),
        amount_out: AtLeast(0),
        own: true,
    },
    Expected {
        // Neither token account is an associated token account of the user (and the
        // user's own input account is also its host fee account).
        fixture: "meteora-dlmm:swap_exact_out",
        instruction: "meteora dlmm swap_exact_out",
        authority: "HuTshmtwcQkWBLzgW3m4uwcmik7Lmz4YFpYcTqMJpXiP",
        source: "BF9S5Kvygv3Qf4aSnjyG98aoij11k3yiSLBHcxTa53h3",
        destination: "He2uhHBU7uE9BiSe2QLRzQd9U3fWwjZY5anmC9k84nzd",
        source_mint: None,
        destination_mint: None,
        pool_mints: &[WSOL, USDC_STR],
        amount_in: AtMost(u64::MAX),
        amount_out: Exact(5_950_000),
        own: false,
    },
    Expected {
        fixture: "meteora-dlmm:swap_exact_out2",
        instruction: "meteora dlmm swap_exact_out2",
        authority: "G3ztVULQTspy6wBwKVtGHMfX3GBi1FtsfQHzz3RU2bon",
        source: "GShxvtESt69624EjwvbLBTHmQYcBUn6KKce3Wm7fCqmL",
        destination: "8y1KDhsqTqi9poaExmnGJ9mUaNa8K1Y5fi6M1LsXZwYi",
        source_mint: Some(WSOL),
        destination_mint: Some("Ey59PH7Z4BFU4HjyKnyMdWt5GGN76KazTAwQihoUXRnk"),
        pool_mints: &["Ey59PH7Z4BFU4HjyKnyMdWt5GGN76KazTAwQihoUXRnk", WSOL],
        amount_in: AtMost(3_826_290_145),
        amount_out: Exact(4_891_000_000_000),
        own: true,
    },
    Expected {
        fixture: "meteora-dlmm:swap_with_price_impact2",
        instruction: "meteora dlmm swap_with_price_impact2",
        authority: "6ZgXjkSmcAqV2ELiRv33D16CQV5GAkFpL8jmuBg5QfPY",
        source: "2YGA6ogjCtCJGg5HaPpreiH7qeiQEWsboiV1UhNVk8LB",
        destination: "J1aRY8W75LHRoTrQjKri9ZrnZWVwH6b9pMYAJYLCxQk1",
        source_mint: Some(WSOL),
        destination_mint: Some("7VnT8zHzorYS92snKC4CZU2veigEVnVVBSxTw7G1pump"),
        pool_mints: &["7VnT8zHzorYS92snKC4CZU2veigEVnVVBSxTw7G1pump", WSOL],
        amount_in: Exact(58_823),
        amount_out: AtLeast(0),
        own: true,
    },
];

#[test]
fn mainnet_instructions_decode_with_their_recorded_amounts() {
    let text = std::fs::read_to_string(MAINNET).unwrap();
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(entries.len(), EXPECTED.len());
    for x in EXPECTED {
        let (user, ix) = mainnet(x.fixture, x.authority);
        let a = judge(&[ix], &user);
        assert_eq!(
            only_view(&a),
            View {
                instruction: x.instruction,
                authority: pk(x.authority),
                source: pk(x.source),
                destination: pk(x.destination),
                source_mint: x.source_mint.map(pk),
                destination_mint: x.destination_mint.map(pk),
                pool_mints: x.pool_mints.iter().map(|m| pk(m)).collect(),
                amount_in: x.amount_in,
                amount_out: x.amount_out,
            },
            "{}",
            x.fixture
        );
        assert_eq!(destination_is_own(&a), x.own, "{}", x.fixture);
        assert_eq!(
            a.verdict,
            if x.own {
                Verdict::Auto
            } else {
                Verdict::Confirm
            },
            "{}: {:?}",
            x.fixture,
            a.reasons
        );
    }
}
