//! Cross-checks of the DEX decoders against the programs' published source and IDLs,
//! independently of the decoders' own comments: one test per subtle point (a direction
//! flag, an optional account, a bound the program enforces only under some arguments) and
//! a regression test for every discrepancy the review found.

mod common;

use common::*;
use custos_txdecode::programs::{
    MEMO_PROGRAM, NATIVE_MINT, RAYDIUM_CLMM_PROGRAM, TOKEN_2022_PROGRAM, TOKEN_PROGRAM,
};
use custos_txdecode::{Assessment, Effect, Intent, PolicyConfig, Pubkey, SwapAmount, Verdict};
use solana_message::Instruction;

// ---------------------------------------------------------------------------------------
// Helpers.

/// Pool-side accounts: distinct, and never anyone's token account.
fn pool(n: u8) -> Pubkey {
    key(100 + n)
}

/// The one swap of an assessment: (source, destination, amount_in, amount_out).
fn the_swap(a: &Assessment) -> (Pubkey, Pubkey, SwapAmount, SwapAmount) {
    let s = swaps(a);
    assert_eq!(s.len(), 1, "{:#?}", a.effects);
    match s[0] {
        Effect::Swap {
            source,
            destination,
            amount_in,
            amount_out,
            ..
        } => (
            *source.address.known().unwrap(),
            *destination.address.known().unwrap(),
            *amount_in,
            *amount_out,
        ),
        other => panic!("not a swap: {other:?}"),
    }
}

fn swap_intent(input_mint: Pubkey, output_mint: Pubkey, max_in: u64, min_out: u64) -> Intent {
    Intent::Swap {
        input_mint,
        output_mint,
        max_amount_in: max_in,
        min_amount_out: min_out,
    }
}

// ---------------------------------------------------------------------------------------
// Raydium CLMM: `sqrt_price_limit_x64`.
//
// raydium-io/raydium-clmm @ 03b44b7, `instructions/swap.rs` (`exact_internal`) and
// `swap_v2.rs` (`exact_internal_v2`): the swap loop stops when the price reaches
// `sqrt_price_limit_x64`, and the program insists on a complete fill ("Does't allow
// partial filled without specified limit_price") only when the limit is 0. With a limit,
// an exact-input swap may spend less than `amount` (the minimum output still holds), and
// an exact-output swap may deliver less than `amount` (only the maximum input holds).

const CLMM_SWAP: [u8; 8] = [0xf8, 0xc6, 0x9e, 0x91, 0xe1, 0x75, 0x87, 0xc8];
const CLMM_SWAP_V2: [u8; 8] = [0x2b, 0x04, 0xed, 0x0b, 0x1a, 0xc9, 0x1e, 0x62];

fn clmm_args(disc: [u8; 8], amount: u64, threshold: u64, limit: u128, base_input: bool) -> Vec<u8> {
    let mut d = disc.to_vec();
    d.extend_from_slice(&amount.to_le_bytes());
    d.extend_from_slice(&threshold.to_le_bytes());
    d.extend_from_slice(&limit.to_le_bytes());
    d.push(u8::from(base_input));
    d
}

/// `swap` (10 named accounts) or `swap_v2` (13), from `source` to `destination`.
fn clmm(
    v2: bool,
    data: Vec<u8>,
    payer: Pubkey,
    source: Pubkey,
    destination: Pubkey,
    mints: (Pubkey, Pubkey),
) -> Instruction {
    let mut accounts = vec![
        signer(payer),
        ro(pool(2)), // amm_config
        rw(pool(0)), // pool_state
        rw(source),
        rw(destination),
        rw(pool(4)), // input vault
        rw(pool(5)), // output vault
        rw(pool(6)), // observation
        ro(TOKEN_PROGRAM),
    ];
    if v2 {
        accounts.extend([
            ro(TOKEN_2022_PROGRAM),
            ro(MEMO_PROGRAM),
            ro(mints.0),
            ro(mints.1),
        ]);
    }
    accounts.push(rw(pool(30))); // tick array
    Instruction::new_with_bytes(RAYDIUM_CLMM_PROGRAM, &data, accounts)
}

#[test]
fn clmm_price_limit_allows_partial_fills() {
    let me = key(1);
    let mint = key(40);
    let (source, destination) = (ata(&me, &NATIVE_MINT), ata(&me, &mint));
    let limit = u128::MAX / 3;
    for (v2, disc) in [(false, CLMM_SWAP), (true, CLMM_SWAP_V2)] {
        let run = |limit: u128, base_input: bool| {
            let ix = clmm(
                v2,
                clmm_args(disc, 2_000, 1_500, limit, base_input),
                me,
                source,
                destination,
                (NATIVE_MINT, mint),
            );
            judge(&[create_own_ata(&me, &mint, &TOKEN_PROGRAM), ix], &me)
        };
        // No limit: the program requires a complete fill, so both sides are exact.
        let a = run(0, true);
        assert_eq!(
            the_swap(&a),
            (
                source,
                destination,
                SwapAmount::Exact(2_000),
                SwapAmount::AtLeast(1_500)
            )
        );
        let a = run(0, false);
        assert_eq!(
            (the_swap(&a).2, the_swap(&a).3),
            (SwapAmount::AtMost(1_500), SwapAmount::Exact(2_000))
        );
        // A limit: exact in may stop early (spend less), exact out may deliver less.
        let a = run(limit, true);
        assert_eq!(
            (the_swap(&a).2, the_swap(&a).3),
            (SwapAmount::AtMost(2_000), SwapAmount::AtLeast(1_500)),
            "v2 {v2}"
        );
        let a = run(limit, false);
        assert_eq!(
            (the_swap(&a).2, the_swap(&a).3),
            (SwapAmount::AtMost(1_500), SwapAmount::AtLeast(0)),
            "v2 {v2}"
        );
        assert!(
            a.warnings.iter().any(|w| w.contains("no minimum output")),
            "{:?}",
            a.warnings
        );
    }
}

#[test]
fn clmm_partial_exact_out_does_not_meet_a_minimum_output_intent() {
    // An intent promising at least 2_000 out is met by an exact-output swap of 2_000 only
    // when the program must fill it completely.
    let me = key(1);
    let mint = key(40);
    let (source, destination) = (ata(&me, &NATIVE_MINT), ata(&me, &mint));
    let intent = swap_intent(NATIVE_MINT, mint, 1_500, 2_000);
    let config = PolicyConfig::default();
    let ixs = |limit: u128| {
        vec![
            create_own_ata(&me, &mint, &TOKEN_PROGRAM),
            clmm(
                true,
                clmm_args(CLMM_SWAP_V2, 2_000, 1_500, limit, false),
                me,
                source,
                destination,
                (NATIVE_MINT, mint),
            ),
        ]
    };
    let a = judge_with(&ixs(0), &me, &config, Some(&intent));
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
    let a = judge_with(&ixs(u128::MAX / 3), &me, &config, Some(&intent));
    assert_eq!(a.verdict, Verdict::Reject, "{:?}", a.reasons);
}
