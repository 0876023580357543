//! Raydium swap decoders (AMM v4, CPMM, CLMM, Launchpad): discriminators, hand-built swaps
//! for each variant and policy outcome, malformed instructions, and mainnet instructions
//! (carbon's CLMM fixtures and agavesim's CLMM transaction).

mod common;

use common::*;
use custos_txdecode::programs::{
    raydium_amm_v4, raydium_clmm, raydium_cpmm, raydium_launchpad, MEMO_PROGRAM, NATIVE_MINT,
    RAYDIUM_AMM_V4_PROGRAM, RAYDIUM_CLMM_PROGRAM, RAYDIUM_CPMM_PROGRAM, RAYDIUM_LAUNCHPAD_PROGRAM,
    SYSTEM_PROGRAM, TOKEN_2022_PROGRAM, TOKEN_PROGRAM,
};
use custos_txdecode::SwapAmount::{AtLeast, AtMost, Exact};
use custos_txdecode::{Addr, Assessment, Effect, ParsedTransaction, Pubkey, SwapAmount, Verdict};
use solana_message::{AccountMeta, Instruction};

// ---------------------------------------------------------------------------------------
// Helpers.

/// Pool-side accounts: distinct, and never anyone's token account.
fn pool(n: u8) -> Pubkey {
    key(100 + n)
}

/// A swap effect's fields, with each party's address and ownership, after the policy's
/// ownership annotation and mint inference.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    instruction: &'static str,
    authority: (Pubkey, bool),
    source: (Pubkey, bool),
    destination: (Pubkey, bool),
    source_mint: Option<Pubkey>,
    destination_mint: Option<Pubkey>,
    amount_in: SwapAmount,
    amount_out: SwapAmount,
    platform_fee_bps: u16,
    platform_fee_account: Option<(Pubkey, bool)>,
}

/// A swap's fields when it pays no platform fee; each party is `(address, own)`.
fn no_fee(
    instruction: &'static str,
    authority: (Pubkey, bool),
    source: (Pubkey, bool),
    destination: (Pubkey, bool),
    (source_mint, destination_mint): (Option<Pubkey>, Option<Pubkey>),
    (amount_in, amount_out): (SwapAmount, SwapAmount),
) -> Seen {
    Seen {
        instruction,
        authority,
        source,
        destination,
        source_mint,
        destination_mint,
        amount_in,
        amount_out,
        platform_fee_bps: 0,
        platform_fee_account: None,
    }
}

fn known(a: &Addr) -> Pubkey {
    *a.known().expect("a known address")
}

fn seen(a: &Assessment) -> Seen {
    let s = swaps(a);
    assert_eq!(s.len(), 1, "{:#?}", a.effects);
    match s[0] {
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
            assert!(pool_mints.is_empty());
            assert_eq!(*quote, None);
            Seen {
                instruction,
                authority: (known(&authority.address), authority.own),
                source: (known(&source.address), source.own),
                destination: (known(&destination.address), destination.own),
                source_mint: source_mint.as_ref().map(known),
                destination_mint: destination_mint.as_ref().map(known),
                amount_in: *amount_in,
                amount_out: *amount_out,
                platform_fee_bps: *platform_fee_bps,
                platform_fee_account: platform_fee_account
                    .as_ref()
                    .map(|p| (known(&p.address), p.own)),
            }
        }
        _ => unreachable!(),
    }
}

/// Asserts the only swap is `instruction`, signed by `s.payer` and between the accounts of
/// `s` (all proven the payer's, both mints known), for `amounts` with no platform fee,
/// and that the verdict is Auto; `what` names the case.
fn assert_own_swap_auto(
    a: &Assessment,
    instruction: &'static str,
    s: &Sides,
    (amount_in, amount_out): (SwapAmount, SwapAmount),
    what: &str,
) {
    let want = no_fee(
        instruction,
        (s.payer, true),
        (s.source, true),
        (s.destination, true),
        (Some(s.input_mint), Some(s.output_mint)),
        (amount_in, amount_out),
    );
    assert_eq!(seen(a), want, "{what}");
    assert_eq!(a.verdict, Verdict::Auto, "{what}: {:?}", a.reasons);
}

/// Judges `ix` for `me` after `me`'s idempotent creation of its own (Token program)
/// associated token account for `mint`, which proves that account `me`'s.
fn judge_with_own_ata(me: &Pubkey, mint: &Pubkey, ix: Instruction) -> Assessment {
    judge(&[create_own_ata(me, mint, &TOKEN_PROGRAM), ix], me)
}

/// The instruction is refused as malformed (not as merely unsupported), with `why` in the
/// reason.
fn assert_malformed(ixs: &[Instruction], me: &Pubkey, why: &str) {
    assert_refused(ixs, me, why, false, "is malformed");
}

/// The instruction is opaque: well-formed as far as read, but not one Custos decodes.
fn assert_unsupported(ixs: &[Instruction], me: &Pubkey, why: &str) {
    assert_refused(ixs, me, why, true, "not one Custos decodes");
}

/// Refused, with no swap, a Malformed effect of the given kind whose error contains `why`,
/// and a reason containing `reason`.
fn assert_refused(ixs: &[Instruction], me: &Pubkey, why: &str, unsupported: bool, reason: &str) {
    let a = judge(ixs, me);
    assert_eq!(a.verdict, Verdict::Reject, "{why}: {:?}", a.reasons);
    assert!(swaps(&a).is_empty());
    assert!(
        a.effects.iter().any(|e| matches!(
            e,
            Effect::Malformed {
                unsupported: u,
                error,
                ..
            } if *u == unsupported && error.contains(why)
        )),
        "{why}: {:#?}",
        a.effects
    );
    assert!(
        a.reasons.iter().any(|r| r.contains(reason)),
        "{:?}",
        a.reasons
    );
}

fn two_u64(tag: &[u8], x: u64, y: u64) -> Vec<u8> {
    let mut d = tag.to_vec();
    d.extend_from_slice(&x.to_le_bytes());
    d.extend_from_slice(&y.to_le_bytes());
    d
}

/// Every cut of `data` short of its full length, and the full data with one byte more.
fn bad_lengths(data: &[u8]) -> Vec<(Vec<u8>, &'static str)> {
    let mut v: Vec<(Vec<u8>, &'static str)> = (1..data.len())
        .map(|n| (data[..n].to_vec(), "instruction data too short"))
        .collect();
    let mut long = data.to_vec();
    long.push(0);
    v.push((long, "unexpected trailing instruction data"));
    v
}

/// Every `bad_lengths` cut of `good`'s data, with `good`'s accounts, is malformed.
fn assert_bad_lengths_malformed(good: &Instruction, me: &Pubkey) {
    for (data, why) in bad_lengths(&good.data) {
        let ix = Instruction::new_with_bytes(good.program_id, &data, good.accounts.clone());
        assert_malformed(&[ix], me, why);
    }
}

// ---------------------------------------------------------------------------------------
// Discriminators.

#[test]
fn discriminators_are_anchor_hashes() {
    type Listed = Vec<(&'static str, [u8; 8])>;
    let cases: [(&str, Listed, &[&str]); 3] = [
        (
            "cpmm",
            raydium_cpmm::swap_discriminators().collect(),
            &["swap_base_input", "swap_base_output"],
        ),
        (
            "clmm",
            raydium_clmm::swap_discriminators().collect(),
            &["swap", "swap_v2", "swap_router_base_in"],
        ),
        (
            "launchpad",
            raydium_launchpad::swap_discriminators().collect(),
            &[
                "buy_exact_in",
                "buy_exact_out",
                "sell_exact_in",
                "sell_exact_out",
            ],
        ),
    ];
    for (program, list, names) in cases {
        let got: Vec<&str> = list.iter().map(|(n, _)| *n).collect();
        assert_eq!(got, names, "{program}");
        for (name, disc) in list {
            assert_eq!(disc, anchor_discriminator(name), "{program} {name}");
        }
    }
    // The values in the notes and IDLs (hex, byte order).
    let hex_of = |it: Vec<(&str, [u8; 8])>| -> Vec<String> {
        it.into_iter().map(|(_, d)| hex::encode(d)).collect()
    };
    assert_eq!(
        hex_of(raydium_cpmm::swap_discriminators().collect()),
        ["8fbe5adac41e33de", "37d96256a34ab4ad"]
    );
    assert_eq!(
        hex_of(raydium_clmm::swap_discriminators().collect()),
        ["f8c69e91e17587c8", "2b04ed0b1ac91e62", "457d73daf5baf2c4"]
    );
    assert_eq!(
        hex_of(raydium_launchpad::swap_discriminators().collect()),
        [
            "faea0d7bd59c13ec",
            "18d3742869039938",
            "9527de9bd37c981a",
            "5fc8472208090ba6"
        ]
    );
    // AMM v4 is not Anchor: one tag byte.
    let tags: Vec<(&str, u8)> = raydium_amm_v4::swap_tags().collect();
    assert_eq!(
        tags,
        [
            ("swap_base_in", 9),
            ("swap_base_out", 11),
            ("swap_base_in_v2", 16),
            ("swap_base_out_v2", 17)
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Raydium AMM v4.

const AMM: Pubkey = RAYDIUM_AMM_V4_PROGRAM;

/// A v1 swap: 18 accounts, or 17 without `amm_target_orders`.
fn amm_v1(
    tag: u8,
    x: u64,
    y: u64,
    target_orders: bool,
    source: Pubkey,
    destination: Pubkey,
    owner: Pubkey,
) -> Instruction {
    let mut accounts = vec![ro(TOKEN_PROGRAM), rw(pool(0)), ro(pool(1)), rw(pool(2))];
    if target_orders {
        accounts.push(rw(pool(3)));
    }
    accounts.extend([
        rw(pool(4)),  // coin vault
        rw(pool(5)),  // pc vault
        ro(pool(6)),  // market program
        rw(pool(7)),  // market
        rw(pool(8)),  // bids
        rw(pool(9)),  // asks
        rw(pool(10)), // event queue
        rw(pool(11)), // market coin vault
        rw(pool(12)), // market pc vault
        ro(pool(13)), // vault signer
        rw(source),
        rw(destination),
        signer(owner),
    ]);
    Instruction::new_with_bytes(AMM, &two_u64(&[tag], x, y), accounts)
}

/// A v2 swap: 8 accounts.
fn amm_v2(
    tag: u8,
    x: u64,
    y: u64,
    source: Pubkey,
    destination: Pubkey,
    owner: Pubkey,
) -> Instruction {
    Instruction::new_with_bytes(
        AMM,
        &two_u64(&[tag], x, y),
        vec![
            ro(TOKEN_PROGRAM),
            rw(pool(0)),
            ro(pool(1)),
            rw(pool(4)),
            rw(pool(5)),
            rw(source),
            rw(destination),
            signer(owner),
        ],
    )
}

#[test]
fn amm_v4_swap_into_own_ata_is_auto_only_when_the_mint_is_named() {
    let me = key(1);
    let mint = key(40);
    let (src, dst) = (ata(&me, &NATIVE_MINT), ata(&me, &mint));
    for target_orders in [true, false] {
        let ix = amm_v1(9, 1_000_000, 250, target_orders, src, dst, me);
        // With the bot's CreateIdempotent for the output mint, the destination is
        // provably the user's ATA.
        let a = judge_with_own_ata(&me, &mint, ix.clone());
        assert_eq!(
            seen(&a),
            no_fee(
                "raydium amm v4 swap_base_in",
                (me, true),
                (src, true),
                (dst, true),
                // Not named by the instruction: inferred from the proven ATAs.
                (Some(NATIVE_MINT), Some(mint)),
                (Exact(1_000_000), AtLeast(250)),
            ),
            "target orders {target_orders}"
        );
        assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);

        // The same swap alone: the output mint is named nowhere, so the destination
        // cannot be proven the user's.
        let a = judge(&[ix], &me);
        let s = seen(&a);
        assert_eq!(s.destination, (dst, false));
        assert_eq!(s.destination_mint, None);
        assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);
        assert!(
            a.reasons
                .iter()
                .any(|r| r.starts_with("Swap output goes to") && r.contains("(not yours)")),
            "{:?}",
            a.reasons
        );
    }
}

#[test]
fn amm_v4_swap_to_a_foreign_account_is_confirm() {
    let (me, them) = (key(1), key(9));
    let mint = key(40);
    let foreign = ata(&them, &mint);
    let a = judge_with_own_ata(
        &me,
        &mint,
        amm_v1(9, 1_000, 1, true, ata(&me, &NATIVE_MINT), foreign, me),
    );
    assert_eq!(seen(&a).destination, (foreign, false));
    assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);
}

#[test]
fn amm_v4_each_variant_decodes() {
    let me = key(1);
    let mint = key(40);
    // Selling the token for wSOL: the wSOL ATA is always provable.
    let (src, dst) = (ata(&me, &mint), ata(&me, &NATIVE_MINT));
    let exact_in = (Exact(7_000), AtLeast(3_000));
    let exact_out = (AtMost(7_000), Exact(3_000));
    let mut v2_long = amm_v2(16, 7_000, 3_000, src, dst, me);
    v2_long.accounts.push(ro(pool(20))); // ignored by the program
    let cases = [
        (
            "raydium amm v4 swap_base_in",
            amm_v1(9, 7_000, 3_000, true, src, dst, me),
            exact_in,
        ),
        (
            "raydium amm v4 swap_base_out",
            amm_v1(11, 7_000, 3_000, true, src, dst, me),
            exact_out,
        ),
        (
            "raydium amm v4 swap_base_out",
            amm_v1(11, 7_000, 3_000, false, src, dst, me),
            exact_out,
        ),
        (
            "raydium amm v4 swap_base_in_v2",
            amm_v2(16, 7_000, 3_000, src, dst, me),
            exact_in,
        ),
        ("raydium amm v4 swap_base_in_v2", v2_long, exact_in),
        (
            "raydium amm v4 swap_base_out_v2",
            amm_v2(17, 7_000, 3_000, src, dst, me),
            exact_out,
        ),
    ];
    for (name, ix, (amount_in, amount_out)) in cases {
        let a = judge(&[ix], &me);
        let s = seen(&a);
        assert_eq!(s.instruction, name);
        assert_eq!(
            (s.amount_in, s.amount_out),
            (amount_in, amount_out),
            "{name}"
        );
        assert_eq!(s.authority, (me, true), "{name}");
        // The source's mint is named nowhere: not provable (nor needed).
        assert_eq!(s.source, (src, false), "{name}");
        assert_eq!(s.destination, (dst, true), "{name}");
        assert_eq!(s.destination_mint, Some(NATIVE_MINT), "{name}");
        assert_eq!(a.verdict, Verdict::Auto, "{name}: {:?}", a.reasons);
    }
}

#[test]
fn amm_v4_malformed_swaps_reject() {
    let me = key(1);
    let (src, dst) = (ata(&me, &NATIVE_MINT), ata(&me, &USDC));
    for tag in [9, 11] {
        let good = amm_v1(tag, 5, 6, true, src, dst, me);
        assert_bad_lengths_malformed(&good, &me);
        // 16 accounts: fewer than the program's 17.
        let mut short = amm_v1(tag, 5, 6, false, src, dst, me);
        short.accounts.remove(3);
        assert_malformed(&[short], &me, "needs 17 accounts, has 16");
        // 19 accounts: more than the program's 18 (it fails WrongAccountsNumber).
        let mut long = good.clone();
        long.accounts.push(ro(pool(20)));
        assert_malformed(&[long], &me, "invalid length 19");
    }
    for tag in [16, 17] {
        let good = amm_v2(tag, 5, 6, src, dst, me);
        assert_bad_lengths_malformed(&good, &me);
        let mut short = good.clone();
        short.accounts.pop();
        assert_malformed(&[short], &me, "needs 8 accounts, has 7");
    }
    // No data at all.
    let ix = Instruction::new_with_bytes(AMM, &[], vec![signer(me)]);
    assert_malformed(&[ix], &me, "empty instruction data");
}

#[test]
fn amm_v4_other_instructions_are_unsupported() {
    let me = key(1);
    // Deposit (3), Withdraw (4), SimulateInfo (12), an unknown tag (200).
    for tag in [3u8, 4, 12, 200] {
        let ix = Instruction::new_with_bytes(AMM, &two_u64(&[tag], 1, 2), vec![signer(me)]);
        assert_unsupported(&[ix], &me, &format!("unsupported instruction tag {tag}"));
    }
}

// ---------------------------------------------------------------------------------------
// Raydium CPMM.

const CPMM: Pubkey = RAYDIUM_CPMM_PROGRAM;
const SWAP_BASE_INPUT: [u8; 8] = [0x8f, 0xbe, 0x5a, 0xda, 0xc4, 0x1e, 0x33, 0xde];
const SWAP_BASE_OUTPUT: [u8; 8] = [0x37, 0xd9, 0x62, 0x56, 0xa3, 0x4a, 0xb4, 0xad];

struct Sides {
    payer: Pubkey,
    source: Pubkey,
    destination: Pubkey,
    input_mint: Pubkey,
    output_mint: Pubkey,
}

/// `owner` swaps from its ATA for `input_mint` into its ATA for `output_mint`.
fn sides(owner: Pubkey, input_mint: Pubkey, output_mint: Pubkey) -> Sides {
    Sides {
        payer: owner,
        source: ata(&owner, &input_mint),
        destination: ata(&owner, &output_mint),
        input_mint,
        output_mint,
    }
}

fn cpmm(disc: [u8; 8], x: u64, y: u64, s: &Sides, output_program: Pubkey) -> Instruction {
    Instruction::new_with_bytes(
        CPMM,
        &two_u64(&disc, x, y),
        vec![
            signer(s.payer),
            ro(pool(1)), // authority
            ro(pool(2)), // amm_config
            rw(pool(0)), // pool_state
            rw(s.source),
            rw(s.destination),
            rw(pool(4)), // input vault
            rw(pool(5)), // output vault
            ro(TOKEN_PROGRAM),
            ro(output_program),
            ro(s.input_mint),
            ro(s.output_mint),
            rw(pool(6)), // observation
        ],
    )
}

#[test]
fn cpmm_swaps_decode_and_judge() {
    let (me, them) = (key(1), key(9));
    let mint = key(40);
    let buy = sides(me, NATIVE_MINT, mint);
    // swap_base_input into the user's ATA, which the bot creates first.
    let a = judge_with_own_ata(
        &me,
        &mint,
        cpmm(SWAP_BASE_INPUT, 1_000_000, 42_000, &buy, TOKEN_PROGRAM),
    );
    assert_own_swap_auto(
        &a,
        "raydium cpmm swap_base_input",
        &buy,
        (Exact(1_000_000), AtLeast(42_000)),
        "raydium cpmm swap_base_input",
    );

    // The instruction names both mints: no ATA creation needed to prove the output.
    let a = judge(
        &[cpmm(
            SWAP_BASE_OUTPUT,
            1_000_000,
            42_000,
            &buy,
            TOKEN_PROGRAM,
        )],
        &me,
    );
    let s = seen(&a);
    assert_eq!(s.instruction, "raydium cpmm swap_base_output");
    assert_eq!(
        (s.amount_in, s.amount_out),
        (AtMost(1_000_000), Exact(42_000))
    );
    assert_eq!(s.destination, (buy.destination, true));
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);

    // A Token-2022 output mint: the user's Token-2022 ATA is provable too.
    let t22 = Sides {
        destination: ata_2022(&me, &mint),
        ..buy
    };
    let a = judge(
        &[cpmm(SWAP_BASE_INPUT, 5, 4, &t22, TOKEN_2022_PROGRAM)],
        &me,
    );
    assert_eq!(seen(&a).destination, (t22.destination, true));
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);

    // Output to someone else's account, or to a non-ATA account of the user's: confirm.
    for destination in [ata(&them, &mint), key(50)] {
        let s = Sides {
            payer: me,
            source: ata(&me, &NATIVE_MINT),
            destination,
            input_mint: NATIVE_MINT,
            output_mint: mint,
        };
        let a = judge(&[cpmm(SWAP_BASE_INPUT, 5, 4, &s, TOKEN_PROGRAM)], &me);
        assert_eq!(seen(&a).destination, (destination, false));
        assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);
    }

    // Someone else's swap into their own account: neutral for the fee payer.
    let s = sides(them, NATIVE_MINT, mint);
    let a = judge(&[cpmm(SWAP_BASE_INPUT, 5, 4, &s, TOKEN_PROGRAM)], &me);
    assert_eq!(seen(&a).authority, (them, false));
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
}

#[test]
fn cpmm_malformed_swaps_reject() {
    let me = key(1);
    let s = sides(me, NATIVE_MINT, USDC);
    for disc in [SWAP_BASE_INPUT, SWAP_BASE_OUTPUT] {
        let good = cpmm(disc, 5, 6, &s, TOKEN_PROGRAM);
        assert_bad_lengths_malformed(&good, &me);
        let mut short = good.clone();
        short.accounts.pop();
        assert_malformed(&[short], &me, "needs 13 accounts, has 12");
    }
    // Another CPMM instruction (deposit): unsupported.
    let deposit = anchor_discriminator("deposit");
    let ix = Instruction::new_with_bytes(CPMM, &two_u64(&deposit, 1, 2), vec![signer(me)]);
    assert_unsupported(
        &[ix],
        &me,
        &format!(
            "unsupported instruction discriminator {}",
            hex::encode(deposit)
        ),
    );
}

// ---------------------------------------------------------------------------------------
// Raydium CLMM.

const CLMM: Pubkey = RAYDIUM_CLMM_PROGRAM;
const CLMM_SWAP: [u8; 8] = [0xf8, 0xc6, 0x9e, 0x91, 0xe1, 0x75, 0x87, 0xc8];
const CLMM_SWAP_V2: [u8; 8] = [0x2b, 0x04, 0xed, 0x0b, 0x1a, 0xc9, 0x1e, 0x62];
const CLMM_ROUTER: [u8; 8] = [0x45, 0x7d, 0x73, 0xda, 0xf5, 0xba, 0xf2, 0xc4];

/// `swap` / `swap_v2` data with no price limit (0), with which the program requires a
/// complete fill (a limit allows partial fills: see `tests/dex_crosscheck.rs`).
fn clmm_args(disc: [u8; 8], amount: u64, threshold: u64, base_input: u8) -> Vec<u8> {
    let mut d = two_u64(&disc, amount, threshold);
    d.extend_from_slice(&0u128.to_le_bytes()); // sqrt_price_limit_x64
    d.push(base_input);
    d
}

/// `swap`: 10 named accounts and `tick_arrays` more.
fn clmm_swap(data: Vec<u8>, s: &Sides, tick_arrays: u8) -> Instruction {
    let mut accounts = vec![
        signer(s.payer),
        ro(pool(2)), // amm_config
        rw(pool(0)), // pool_state
        rw(s.source),
        rw(s.destination),
        rw(pool(4)), // input vault
        rw(pool(5)), // output vault
        rw(pool(6)), // observation
        ro(TOKEN_PROGRAM),
        rw(pool(30)), // tick array
    ];
    accounts.extend((1..=tick_arrays).map(|i| rw(pool(30 + i))));
    Instruction::new_with_bytes(CLMM, &data, accounts)
}

/// `swap_v2`: 13 named accounts, then a bitmap extension and tick arrays.
fn clmm_swap_v2(data: Vec<u8>, s: &Sides) -> Instruction {
    Instruction::new_with_bytes(
        CLMM,
        &data,
        vec![
            signer(s.payer),
            ro(pool(2)),
            rw(pool(0)),
            rw(s.source),
            rw(s.destination),
            rw(pool(4)),
            rw(pool(5)),
            rw(pool(6)),
            ro(TOKEN_PROGRAM),
            ro(TOKEN_2022_PROGRAM),
            ro(MEMO_PROGRAM),
            ro(s.input_mint),
            ro(s.output_mint),
            rw(pool(29)), // bitmap extension
            rw(pool(30)), // tick arrays
            rw(pool(31)),
        ],
    )
}

/// `swap_router_base_in` with one hop group and `extra` accounts after it (bitmap
/// extension, tick arrays).
fn clmm_router(amount_in: u64, min_out: u64, s: &Sides, extra: u8) -> Instruction {
    let mut accounts = vec![
        signer(s.payer),
        rw(s.source),
        rw(s.input_mint),
        ro(TOKEN_PROGRAM),
        ro(TOKEN_2022_PROGRAM),
        ro(MEMO_PROGRAM),
        // hop: amm_config, pool_state, output account, input vault, output vault,
        // output mint, observation
        ro(pool(2)),
        rw(pool(0)),
        rw(s.destination),
        rw(pool(4)),
        rw(pool(5)),
        ro(s.output_mint),
        rw(pool(6)),
    ];
    accounts.extend((0..extra).map(|i| rw(pool(30 + i))));
    Instruction::new_with_bytes(CLMM, &two_u64(&CLMM_ROUTER, amount_in, min_out), accounts)
}

#[test]
fn clmm_swap_names_no_mint_so_needs_the_ata_creation() {
    let me = key(1);
    let mint = key(40);
    let s = sides(me, NATIVE_MINT, mint);
    let ix = clmm_swap(clmm_args(CLMM_SWAP, 2_000, 1_500, 1), &s, 2);
    let a = judge_with_own_ata(&me, &mint, ix.clone());
    assert_own_swap_auto(
        &a,
        "raydium clmm swap",
        &s,
        (Exact(2_000), AtLeast(1_500)),
        "raydium clmm swap",
    );
    // Alone, the output account cannot be proven the user's.
    let a = judge(&[ix], &me);
    assert_eq!(seen(&a).destination, (s.destination, false));
    assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);

    // Exact output (is_base_input false): `amount` is the output, the threshold the most
    // that may be paid. Only the one named tick array.
    let a = judge_with_own_ata(
        &me,
        &mint,
        clmm_swap(clmm_args(CLMM_SWAP, 2_000, 1_500, 0), &s, 0),
    );
    let got = seen(&a);
    assert_eq!(
        (got.amount_in, got.amount_out),
        (AtMost(1_500), Exact(2_000))
    );
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
}

#[test]
fn clmm_swap_v2_names_its_mints() {
    let (me, them) = (key(1), key(9));
    let mint = key(40);
    let sell = Sides {
        payer: me,
        source: ata_2022(&me, &mint),
        destination: ata(&me, &NATIVE_MINT),
        input_mint: mint,
        output_mint: NATIVE_MINT,
    };
    for (base_input, amounts) in [
        (1, (Exact(900), AtLeast(10))),
        (0, (AtMost(10), Exact(900))),
    ] {
        let a = judge(
            &[clmm_swap_v2(
                clmm_args(CLMM_SWAP_V2, 900, 10, base_input),
                &sell,
            )],
            &me,
        );
        assert_own_swap_auto(
            &a,
            "raydium clmm swap_v2",
            &sell,
            amounts,
            &format!("swap_v2 is_base_input {base_input}"),
        );
    }
    let to_them = Sides {
        destination: ata(&them, &NATIVE_MINT),
        ..sell
    };
    let a = judge(
        &[clmm_swap_v2(clmm_args(CLMM_SWAP_V2, 900, 10, 1), &to_them)],
        &me,
    );
    assert_eq!(seen(&a).destination, (to_them.destination, false));
    assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);
}

#[test]
fn clmm_router_single_hop_decodes_multi_hop_is_unsupported() {
    let (me, them) = (key(1), key(9));
    let mint = key(40);
    let s = sides(me, NATIVE_MINT, mint);
    // One hop group plus 0 to 6 accounts (bitmap extension, tick arrays): no room for a
    // second hop's seven accounts.
    for extra in 0..=6 {
        let a = judge(&[clmm_router(3_000, 2_500, &s, extra)], &me);
        assert_own_swap_auto(
            &a,
            "raydium clmm swap_router_base_in",
            &s,
            (Exact(3_000), AtLeast(2_500)),
            &format!("extra {extra}"),
        );
    }
    let foreign = Sides {
        destination: ata(&them, &mint),
        ..s
    };
    let a = judge(&[clmm_router(3_000, 2_500, &foreign, 3)], &me);
    assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);

    // Seven accounts after the first hop could be a second hop sending the output
    // anywhere: refused as opaque.
    assert_unsupported(
        &[clmm_router(3_000, 2_500, &s, 7)],
        &me,
        "unsupported instruction discriminator 457d73daf5baf2c4",
    );
}

#[test]
fn clmm_malformed_swaps_reject() {
    let me = key(1);
    let s = sides(me, NATIVE_MINT, USDC);
    let cases = [
        (clmm_swap(clmm_args(CLMM_SWAP, 5, 6, 1), &s, 0), 10),
        (clmm_swap_v2(clmm_args(CLMM_SWAP_V2, 5, 6, 1), &s), 13),
        (clmm_router(5, 6, &s, 0), 13),
    ];
    for (good, needed) in cases {
        assert_bad_lengths_malformed(&good, &me);
        let mut short = good.clone();
        short.accounts.truncate(needed - 1);
        assert_malformed(
            &[short],
            &me,
            &format!("needs {needed} accounts, has {}", needed - 1),
        );
    }
    // `is_base_input` is a borsh bool: 0 or 1.
    assert_malformed(
        &[clmm_swap(clmm_args(CLMM_SWAP, 5, 6, 2), &s, 0)],
        &me,
        "invalid enum value 2",
    );
    // open_position_v2 and the Whirlpool-only two_hop_swap: unsupported here.
    for name in ["open_position_v2", "two_hop_swap"] {
        let d = anchor_discriminator(name);
        let ix = Instruction::new_with_bytes(CLMM, &two_u64(&d, 1, 2), vec![signer(me)]);
        assert_unsupported(&[ix], &me, "unsupported instruction discriminator");
    }
}

// ---------------------------------------------------------------------------------------
// Raydium Launchpad.

const LAUNCHPAD: Pubkey = RAYDIUM_LAUNCHPAD_PROGRAM;
const BUY_EXACT_IN: [u8; 8] = [0xfa, 0xea, 0x0d, 0x7b, 0xd5, 0x9c, 0x13, 0xec];
const BUY_EXACT_OUT: [u8; 8] = [0x18, 0xd3, 0x74, 0x28, 0x69, 0x03, 0x99, 0x38];
const SELL_EXACT_IN: [u8; 8] = [0x95, 0x27, 0xde, 0x9b, 0xd3, 0x7c, 0x98, 0x1a];
const SELL_EXACT_OUT: [u8; 8] = [0x5f, 0xc8, 0x47, 0x22, 0x08, 0x09, 0x0b, 0xa6];

struct Trade {
    payer: Pubkey,
    user_base: Pubkey,
    user_quote: Pubkey,
    base_mint: Pubkey,
    quote_mint: Pubkey,
    /// `Some` when a share fee receiver precedes the fee vaults.
    share_fee_receiver: Option<Pubkey>,
}

fn launchpad(disc: [u8; 8], x: u64, y: u64, share_fee_rate: u64, t: &Trade) -> Instruction {
    let mut data = two_u64(&disc, x, y);
    data.extend_from_slice(&share_fee_rate.to_le_bytes());
    let mut accounts = vec![
        signer(t.payer),
        ro(pool(1)), // authority
        ro(pool(2)), // global_config
        ro(pool(3)), // platform_config
        rw(pool(0)), // pool_state
        rw(t.user_base),
        rw(t.user_quote),
        rw(pool(4)), // base vault
        rw(pool(5)), // quote vault
        ro(t.base_mint),
        ro(t.quote_mint),
        ro(TOKEN_PROGRAM),
        ro(TOKEN_PROGRAM),
        ro(pool(7)), // event authority
        ro(LAUNCHPAD),
    ];
    accounts.extend(t.share_fee_receiver.map(rw));
    accounts.extend([ro(SYSTEM_PROGRAM), rw(pool(8)), rw(pool(9))]);
    Instruction::new_with_bytes(LAUNCHPAD, &data, accounts)
}

fn my_trade(me: Pubkey, base_mint: Pubkey) -> Trade {
    Trade {
        payer: me,
        user_base: ata(&me, &base_mint),
        user_quote: ata(&me, &NATIVE_MINT),
        base_mint,
        quote_mint: NATIVE_MINT,
        share_fee_receiver: None,
    }
}

#[test]
fn launchpad_buys_and_sells_decode() {
    let me = key(1);
    let mint = key(40);
    let t = my_trade(me, mint);
    let exact_in = (Exact(1_000), AtLeast(77));
    // The exact-out forms take (amount_out, maximum_amount_in).
    let exact_out = (AtMost(77), Exact(1_000));
    // (instruction, discriminator, buys the token, amounts)
    #[rustfmt::skip]
    let cases = [
        ("raydium launchpad buy_exact_in", BUY_EXACT_IN, true, exact_in),
        ("raydium launchpad buy_exact_out", BUY_EXACT_OUT, true, exact_out),
        ("raydium launchpad sell_exact_in", SELL_EXACT_IN, false, exact_in),
        ("raydium launchpad sell_exact_out", SELL_EXACT_OUT, false, exact_out),
    ];
    for (name, disc, buy, amounts) in cases {
        let (source, destination, input_mint, output_mint) = if buy {
            (t.user_quote, t.user_base, NATIVE_MINT, mint)
        } else {
            (t.user_base, t.user_quote, mint, NATIVE_MINT)
        };
        let sides = Sides {
            payer: me,
            source,
            destination,
            input_mint,
            output_mint,
        };
        let a = judge_with_own_ata(&me, &mint, launchpad(disc, 1_000, 77, 0, &t));
        assert_own_swap_auto(&a, name, &sides, amounts, name);
    }

    // Tokens bought into someone else's account: confirm.
    let them = key(9);
    let to_them = Trade {
        user_base: ata(&them, &mint),
        ..my_trade(me, mint)
    };
    let a = judge(&[launchpad(BUY_EXACT_IN, 1_000, 77, 0, &to_them)], &me);
    assert_eq!(seen(&a).destination, (to_them.user_base, false));
    assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);
    // Proceeds of a sale paid to someone else's wSOL account: confirm.
    let to_them = Trade {
        user_quote: ata(&them, &NATIVE_MINT),
        ..my_trade(me, mint)
    };
    let a = judge(&[launchpad(SELL_EXACT_IN, 1_000, 77, 0, &to_them)], &me);
    assert_eq!(seen(&a).destination, (to_them.user_quote, false));
    assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);
}

#[test]
fn launchpad_share_fee_is_a_platform_fee() {
    let (me, them) = (key(1), key(9));
    let mint = key(40);
    let receiver = ata(&them, &NATIVE_MINT);
    let with_receiver = |r: Option<Pubkey>| Trade {
        share_fee_receiver: r,
        ..my_trade(me, mint)
    };
    // 0.5 % (5000 ppm = 50 bps) to a stranger: within the default 100 bps cap.
    let a = judge(
        &[launchpad(
            BUY_EXACT_IN,
            1_000,
            77,
            5_000,
            &with_receiver(Some(receiver)),
        )],
        &me,
    );
    let s = seen(&a);
    assert_eq!(s.platform_fee_bps, 50);
    assert_eq!(s.platform_fee_account, Some((receiver, false)));
    // The receiver takes the first remaining account; the user's accounts are unmoved.
    assert_eq!(s.destination, (ata(&me, &mint), true));
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);

    // 2 % (200 bps) to a stranger: above the cap.
    let a = judge(
        &[launchpad(
            SELL_EXACT_IN,
            1_000,
            77,
            20_000,
            &with_receiver(Some(receiver)),
        )],
        &me,
    );
    assert_eq!(seen(&a).platform_fee_bps, 200);
    assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);
    assert!(
        a.reasons
            .iter()
            .any(|r| r.starts_with("Swap pays a 2 % (200 bps) platform fee to")),
        "{:?}",
        a.reasons
    );

    // The same fee to the user's own wSOL account: fine.
    let a = judge(
        &[launchpad(
            SELL_EXACT_IN,
            1_000,
            77,
            20_000,
            &with_receiver(Some(ata(&me, &NATIVE_MINT))),
        )],
        &me,
    );
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);

    // A fee with no receiver account at all (only the 15 named accounts): still judged.
    let mut ix = launchpad(BUY_EXACT_IN, 1_000, 77, 20_000, &with_receiver(None));
    ix.accounts.truncate(15);
    let a = judge(&[ix], &me);
    let s = seen(&a);
    assert_eq!((s.platform_fee_bps, s.platform_fee_account), (200, None));
    assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);

    // No fee: the first remaining account (System) is not a receiver.
    let a = judge(
        &[launchpad(BUY_EXACT_IN, 1_000, 77, 0, &with_receiver(None))],
        &me,
    );
    let s = seen(&a);
    assert_eq!((s.platform_fee_bps, s.platform_fee_account), (0, None));
}

#[test]
fn launchpad_malformed_trades_reject() {
    let me = key(1);
    let t = my_trade(me, USDC);
    for disc in [BUY_EXACT_IN, BUY_EXACT_OUT, SELL_EXACT_IN, SELL_EXACT_OUT] {
        let good = launchpad(disc, 5, 6, 0, &t);
        assert_bad_lengths_malformed(&good, &me);
        let mut short = good.clone();
        short.accounts.truncate(14);
        assert_malformed(&[short], &me, "needs 15 accounts, has 14");
    }
    for name in ["initialize_v2", "claim_creator_fee", "migrate_to_cpswap"] {
        let d = anchor_discriminator(name);
        let ix = Instruction::new_with_bytes(LAUNCHPAD, &two_u64(&d, 1, 2), vec![signer(me)]);
        assert_unsupported(&[ix], &me, "unsupported instruction discriminator");
    }
}

// ---------------------------------------------------------------------------------------
// Mainnet instructions and transactions.

const DATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dex/raydium");

/// A carbon fixture (one mainnet instruction: accounts and hex data) as an instruction.
fn carbon_instruction(file: &str) -> Instruction {
    let path = format!("{DATA_DIR}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let program: Pubkey = v["program_id"].as_str().unwrap().parse().unwrap();
    let accounts = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| AccountMeta {
            pubkey: a["pubkey"].as_str().unwrap().parse().unwrap(),
            is_signer: a["is_signer"].as_bool().unwrap(),
            is_writable: a["is_writable"].as_bool().unwrap(),
        })
        .collect();
    let data = hex::decode(v["data"].as_str().unwrap()).unwrap();
    Instruction::new_with_bytes(program, &data, accounts)
}

#[test]
fn mainnet_clmm_swap_decodes() {
    // Carbon's swap fixture (solscan tx 2zfGgM8L…): exactly 1_863_648 of a token the
    // instruction does not name, for wSOL, with no minimum.
    let ix = carbon_instruction("carbon_clmm_swap_ix.json");
    let payer = pk("G55uUb8EpRrFzudVaYe2QGpRHj6WT6erm4H3UttnJ1oC");
    let out = pk("8VrjZTc99eXswEkv9eTk7soVjajTejsgmBHzzenNbjEm");
    let a = judge(&[ix], &payer);
    assert_eq!(
        seen(&a),
        no_fee(
            "raydium clmm swap",
            (payer, true),
            // The input mint is named nowhere: not provable (nor needed).
            (pk("E7p2yWDZZDErC4hNsYKazgLfjqBwcnYohNno4fSpGWhv"), false),
            // The payer's wSOL ATA (the wrapped-SOL mint is always considered).
            (out, true),
            (None, Some(NATIVE_MINT)),
            (Exact(1_863_648), AtLeast(0)),
        )
    );
    // Checked independently of the decoder.
    assert_eq!(ata(&payer, &NATIVE_MINT), out);
    assert!(
        a.warnings.iter().any(|w| w.contains("no minimum output")),
        "{:?}",
        a.warnings
    );
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
}

#[test]
fn mainnet_clmm_swap_v2_decodes() {
    // Carbon's swap_v2 fixture (solscan tx 2j2dXLtd…): 4_345_224_260 lamports of wSOL
    // asked for at most 500_000_000_000_000 of a pump.fun token. The instruction sets a
    // price limit, so the program may fill it partially: the output is not guaranteed.
    let ix = carbon_instruction("carbon_clmm_swap_v2_ix.json");
    let data = ix.data.clone();
    let payer = pk("5ukRnMzZfZUa3gNy2ECDsE63HSuMqL52pWa2ryAcnzPW");
    let token = pk("3hiYB9c4VYhWbwkDgSbEv22cpsNvdYZHuVWMnnNgpump");
    let (src, out) = (
        pk("DBVe5zJdfMDtoZ8y93Nz7aKCmraq1XNKQodMfKiWPdAG"),
        pk("6QRRR7s1KThgYxSBzaFbVTBnkR9XpbVhYumfJMK9hv3x"),
    );
    let a = judge(&[ix], &payer);
    assert_eq!(
        seen(&a),
        no_fee(
            "raydium clmm swap_v2",
            (payer, true),
            (src, true),
            // Not the payer's ATA: a wSOL account the original transaction set up
            // outside this one instruction, so alone it is not provably the payer's.
            (out, false),
            (Some(token), Some(NATIVE_MINT)),
            (AtMost(500_000_000_000_000), AtLeast(0)),
        )
    );
    // Checked independently of the decoder: a price limit, and exact output.
    assert_ne!(data[24..40], [0u8; 16]);
    assert_eq!(data[40], 0);
    assert_eq!(ata(&payer, &token), src);
    assert_ne!(ata(&payer, &NATIVE_MINT), out);
    assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);
}

#[test]
fn mainnet_agavesim_clmm_transaction_decodes() {
    // agavesim's JSON1 (fixtures/solana/agavesim_wire.json): a whole signed mainnet v0
    // transaction. Compute budget, a fresh wSOL account funded with 0.3021 SOL and
    // initialised for the payer, a Raydium CLMM swap_v2 of 0.3 SOL, then the wSOL account
    // closed back to the payer.
    let entry = load("agavesim_wire.json")
        .into_iter()
        .find(|e| e["name"] == "agavesim:JSON1")
        .unwrap();
    let bytes = decode_data("b64", entry["data"].as_str().unwrap()).unwrap();
    let tx = ParsedTransaction::parse_any(&bytes).unwrap();
    let payer = *tx.fee_payer().unwrap();
    assert_eq!(payer, pk("98QXkwe6DThTsTq7tukKF4g9Wc6WnRbZyTBZ1iBupY39"));
    let a = assess_as(&tx, payer, &[]);
    check(&a);
    let token = pk("7eR1yv7pUzhaqQneKJ2fmVTRuzY61ja5KwfbBrLsq1Gu");
    let out = pk("GG7wqYHurrpmME4fBouwwHDkT81kdeUXqhayTybVdJkr");
    assert_eq!(
        seen(&a),
        no_fee(
            "raydium clmm swap_v2",
            (payer, true),
            // Initialised for the payer by this transaction.
            (pk("FXCF9YobD2zEzMV3rBxMds5BJKgnQoBoSx6PYvDQqDG6"), true),
            (out, true),
            (Some(NATIVE_MINT), Some(token)),
            (Exact(300_000_000), AtLeast(800_313_332_326)),
        )
    );
    // Checked independently of the decoder: the output is the payer's ATA.
    assert_eq!(ata(&payer, &token), out);
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
}
