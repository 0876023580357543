//! Pump.fun bonding curve, PumpSwap AMM and Meteora Dynamic Bonding Curve trades:
//! discriminators, every supported instruction hand-built the way trading bots send it,
//! malformed variants, and mainnet instructions.

mod common;

use common::*;
use custos_txdecode::programs::{
    meteora_dbc, pump_fun, pump_swap, ATA_PROGRAM, METEORA_DBC_PROGRAM, NATIVE_MINT,
    PUMP_FUN_PROGRAM, PUMP_SWAP_PROGRAM, SYSTEM_PROGRAM, TOKEN_2022_PROGRAM, TOKEN_PROGRAM,
};
use custos_txdecode::SwapAmount::{AtLeast, AtMost, Exact};
use custos_txdecode::{
    assess, Addr, Assessment, Context, Effect, ParsedTransaction, PolicyConfig, Pubkey, SwapAmount,
    Verdict,
};
use solana_message::{AccountMeta, Instruction};

const PUMP: Pubkey = PUMP_FUN_PROGRAM;
const AMM: Pubkey = PUMP_SWAP_PROGRAM;
const DBC: Pubkey = METEORA_DBC_PROGRAM;

// ---------------------------------------------------------------------------------------
// Helpers.

/// Discriminator, two u64 arguments, then raw tail bytes.
fn data(name: &str, a: u64, b: u64, tail: &[u8]) -> Vec<u8> {
    let mut d = anchor_discriminator(name).to_vec();
    d.extend_from_slice(&a.to_le_bytes());
    d.extend_from_slice(&b.to_le_bytes());
    d.extend_from_slice(tail);
    d
}

/// Filler accounts (PDAs, programs, fee recipients) that no decoder reads.
fn filler(i: usize) -> Pubkey {
    key(100 + u8::try_from(i).unwrap())
}

/// What a decoded swap must say. Mints are compared after the policy's inference.
#[derive(Debug, Clone)]
struct Want {
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

/// A `Want` from `source` to `destination`, each with its mint.
fn wanted(
    instruction: &'static str,
    authority: Pubkey,
    (source, source_mint): (Pubkey, Option<Pubkey>),
    (destination, destination_mint): (Pubkey, Option<Pubkey>),
    pool_mints: Vec<Pubkey>,
    (amount_in, amount_out): (SwapAmount, SwapAmount),
) -> Want {
    Want {
        instruction,
        authority,
        source,
        destination,
        source_mint,
        destination_mint,
        pool_mints,
        amount_in,
        amount_out,
    }
}

/// A trade by `authority` between a coin side and a quote side, each `(account, mint)`:
/// a buy pays from the quote side into the coin side, a sell the other way round.
fn trade_want(
    instruction: &'static str,
    authority: Pubkey,
    sell: bool,
    ((coin_account, coin), (quote_account, quote_mint)): ((Pubkey, Pubkey), (Pubkey, Pubkey)),
    amounts: (SwapAmount, SwapAmount),
) -> Want {
    let coin_side = (coin_account, Some(coin));
    let quote_side = (quote_account, Some(quote_mint));
    let (source, destination) = if sell {
        (coin_side, quote_side)
    } else {
        (quote_side, coin_side)
    };
    wanted(instruction, authority, source, destination, vec![], amounts)
}

/// Asserts the only swap of `a` is `w`, its ownership flags, and the verdict.
fn expect(a: &Assessment, w: &Want, destination_own: bool, verdict: Verdict) {
    let s = swaps(a);
    assert_eq!(s.len(), 1, "{}: {:?}", w.instruction, a.effects);
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
            let k = |p: &Pubkey| Addr::Known(*p);
            assert_eq!(*instruction, w.instruction);
            assert_eq!(authority.address, k(&w.authority), "{}", w.instruction);
            assert_eq!(source.address, k(&w.source), "{}", w.instruction);
            assert_eq!(destination.address, k(&w.destination), "{}", w.instruction);
            assert_eq!(
                *source_mint,
                w.source_mint.map(Addr::Known),
                "{}",
                w.instruction
            );
            assert_eq!(
                *destination_mint,
                w.destination_mint.map(Addr::Known),
                "{}",
                w.instruction
            );
            assert_eq!(
                *pool_mints,
                w.pool_mints.iter().map(k).collect::<Vec<_>>(),
                "{}",
                w.instruction
            );
            assert_eq!(
                (*amount_in, *amount_out),
                (w.amount_in, w.amount_out),
                "{}",
                w.instruction
            );
            assert_eq!((*quote, *platform_fee_bps), (None, 0));
            assert!(platform_fee_account.is_none());
            assert_eq!(destination.own, destination_own, "{}", w.instruction);
        }
        _ => unreachable!(),
    }
    assert_eq!(a.verdict, verdict, "{}: {:?}", w.instruction, a.reasons);
    if verdict == Verdict::Confirm {
        assert!(
            a.reasons
                .iter()
                .any(|r| r.starts_with("Swap output goes to") && r.contains("(not yours)")),
            "{}: {:?}",
            w.instruction,
            a.reasons
        );
    }
}

/// Asserts the transaction is rejected because an instruction is malformed (not merely
/// unsupported) with an error containing `error`.
fn expect_malformed(a: &Assessment, error: &str) {
    assert_eq!(a.verdict, Verdict::Reject, "{:?}", a.effects);
    assert!(swaps(a).is_empty(), "{:?}", a.effects);
    assert!(
        a.effects.iter().any(|e| matches!(
            e,
            Effect::Malformed { error: m, unsupported: false, .. } if m.contains(error)
        )),
        "want {error:?}: {:?}",
        a.effects
    );
}

fn expect_unsupported(a: &Assessment, hex: &str) {
    assert_eq!(a.verdict, Verdict::Reject, "{:?}", a.effects);
    assert!(
        a.effects.iter().any(|e| matches!(
            e,
            Effect::Malformed { error, unsupported: true, .. }
                if error.contains(&format!("unsupported instruction discriminator {hex}"))
        )),
        "{:?}",
        a.effects
    );
}

// ---------------------------------------------------------------------------------------
// Discriminators.

#[test]
fn discriminators_are_anchor_hashes() {
    let names = |it: Vec<(&'static str, [u8; 8])>| -> Vec<&'static str> {
        for (name, d) in &it {
            assert_eq!(*d, anchor_discriminator(name), "{name}");
        }
        it.into_iter().map(|(n, _)| n).collect()
    };
    assert_eq!(
        names(pump_fun::swap_discriminators().collect()),
        [
            "buy",
            "buy_exact_sol_in",
            "sell",
            "buy_v2",
            "buy_exact_quote_in_v2",
            "sell_v2",
            "buy_v3",
            "buy_exact_quote_in_v3",
            "sell_v3",
        ]
    );
    assert_eq!(
        names(pump_swap::swap_discriminators().collect()),
        [
            "buy",
            "buy_exact_quote_in",
            "sell",
            "buy_v2",
            "buy_exact_quote_in_v2",
            "sell_v2",
            "multi_hop_swap",
        ]
    );
    assert_eq!(
        names(meteora_dbc::swap_discriminators().collect()),
        ["swap", "swap2"]
    );
    // The values in the IDLs and in the shared notes.
    for (name, hex) in [
        ("buy", "66063d1201daebea"),
        ("sell", "33e685a4017f83ad"),
        ("buy_exact_sol_in", "38fc74089edfcd5f"),
        ("buy_exact_quote_in", "c62e1552b4d9e870"),
        ("buy_v2", "b817ee6167c5d33d"),
        ("sell_v2", "5df6823ce7e940b2"),
        ("buy_exact_quote_in_v2", "c2ab1c46684d5b2f"),
        ("buy_v3", "07051dc4f5176550"),
        ("sell_v3", "1c92de7726c469d5"),
        ("buy_exact_quote_in_v3", "e1f7501ed5b38488"),
        ("multi_hop_swap", "2b644913e9f66f94"),
        ("create", "181ec828051c0777"),
        ("create_v2", "d6904cec5f8b31b4"),
        ("swap", "f8c69e91e17587c8"),
        ("swap2", "414b3f4ceb5b5b88"),
    ] {
        assert_eq!(hex::encode(anchor_discriminator(name)), hex, "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// Pump.fun: builders.

/// Legacy `buy` / `buy_exact_sol_in` accounts (16): [global, fee_recipient, mint,
/// bonding_curve, associated_bonding_curve, associated_user, user, system_program,
/// token_program, creator_vault, event_authority, program, global_volume_accumulator,
/// user_volume_accumulator, fee_config, fee_program]; `sell` (14) has creator_vault before
/// token_program and no volume accumulators. Positions 2, 5 and 6 are the same in both.
fn pump_legacy(user: Pubkey, mint: Pubkey, associated_user: Pubkey, n: usize) -> Vec<AccountMeta> {
    placed(
        16,
        [
            (2, ro(mint)),
            (5, rw(associated_user)),
            (6, signer(user)),
            (7, ro(SYSTEM_PROGRAM)),
            (8, ro(TOKEN_PROGRAM)),
            (11, ro(PUMP)),
        ],
        n,
    )
}

/// Where a trade's accounts stand: `len` in all, the user (signer), base and quote mints
/// (read-only), the user's base and quote token accounts (writable), and read-only
/// programs; every other position is a filler account.
struct Layout {
    len: usize,
    user: usize,
    base_mint: usize,
    quote_mint: usize,
    base_user: usize,
    quote_user: usize,
    programs: &'static [(usize, Pubkey)],
}

/// v2 accounts (27 for buys, 26 for sells): base_mint 1, quote_mint 2, user 13,
/// associated_base_user 14, associated_quote_user 15.
const PUMP_V2: Layout = Layout {
    len: 27,
    user: 13,
    base_mint: 1,
    quote_mint: 2,
    base_user: 14,
    quote_user: 15,
    programs: &[
        (3, TOKEN_2022_PROGRAM),
        (4, TOKEN_PROGRAM),
        (5, ATA_PROGRAM),
    ],
};

/// v3 accounts (17): base_mint 1, quote_mint 2, user 8, associated_base_user 9,
/// associated_quote_user 10.
const PUMP_V3: Layout = Layout {
    len: 17,
    user: 8,
    base_mint: 1,
    quote_mint: 2,
    base_user: 9,
    quote_user: 10,
    programs: &[
        (3, TOKEN_2022_PROGRAM),
        (4, TOKEN_PROGRAM),
        (14, SYSTEM_PROGRAM),
        (16, PUMP),
    ],
};

/// v1 accounts (23 for buys, 21 for sells): [pool, user, global_config, base_mint,
/// quote_mint, user_base_token_account, user_quote_token_account, pool_base_token_account,
/// pool_quote_token_account, protocol_fee_recipient, protocol_fee_recipient_token_account,
/// base_token_program, quote_token_program, system_program, associated_token_program,
/// event_authority, program, coin_creator_vault_ata, coin_creator_vault_authority,
/// global_volume_accumulator, user_volume_accumulator, fee_config, fee_program]. v2 trades
/// have 17 accounts with the same first 9.
const AMM_V1: Layout = Layout {
    len: 23,
    user: 1,
    base_mint: 3,
    quote_mint: 4,
    base_user: 5,
    quote_user: 6,
    programs: &[(11, TOKEN_PROGRAM), (12, TOKEN_PROGRAM), (16, AMM)],
};

impl Layout {
    /// The accounts of a trade in this layout, cut to the first `n`.
    fn accounts(
        &self,
        user: Pubkey,
        base_mint: Pubkey,
        quote_mint: Pubkey,
        base_user: Pubkey,
        quote_user: Pubkey,
        n: usize,
    ) -> Vec<AccountMeta> {
        let mut at: Vec<(usize, AccountMeta)> = vec![
            (self.user, signer(user)),
            (self.base_mint, ro(base_mint)),
            (self.quote_mint, ro(quote_mint)),
            (self.base_user, rw(base_user)),
            (self.quote_user, rw(quote_user)),
        ];
        at.extend(self.programs.iter().map(|&(i, p)| (i, ro(p))));
        placed(self.len, at, n)
    }
}

/// `len` filler accounts with `at`'s accounts at their positions, cut to the first `n`.
fn placed(
    len: usize,
    at: impl IntoIterator<Item = (usize, AccountMeta)>,
    n: usize,
) -> Vec<AccountMeta> {
    let mut v: Vec<AccountMeta> = (0..len).map(|i| rw(filler(i))).collect();
    for (i, account) in at {
        v[i] = account;
    }
    v.truncate(n);
    v
}

fn pump(data: Vec<u8>, accounts: Vec<AccountMeta>) -> Instruction {
    Instruction::new_with_bytes(PUMP, &data, accounts)
}

/// A pump coin mint (Token program for legacy coins, Token-2022 for `create_v2` ones).
const COIN: u8 = 30;

// ---------------------------------------------------------------------------------------
// Pump.fun: legacy trades.

#[test]
fn pump_legacy_buy_every_data_form() {
    let me = key(1);
    let coin = key(COIN);
    let dst = ata(&me, &coin);
    let want = |amount_out| {
        wanted(
            "pump.fun buy",
            me,
            (me, Some(NATIVE_MINT)),
            (dst, Some(coin)),
            vec![],
            (AtMost(50_000_000), amount_out),
        )
    };
    // 24 bytes (no OptionBools), track_volume only, both; the account list of every era.
    for (tail, accounts, out) in [
        (&[][..], 12, Exact(1_000_000)),
        (&[][..], 16, Exact(1_000_000)),
        (&[1][..], 14, Exact(1_000_000)),
        (&[0][..], 16, Exact(1_000_000)),
        (&[1, 0][..], 16, Exact(1_000_000)),
        (&[0, 1][..], 16, AtMost(1_000_000)),
        (&[1, 1][..], 17, AtMost(1_000_000)),
    ] {
        let ix = pump(
            data("buy", 1_000_000, 50_000_000, tail),
            pump_legacy(me, coin, dst, accounts),
        );
        let a = judge(
            &[
                cu_limit(100_000),
                create_ata(&me, &me, &coin, &TOKEN_PROGRAM),
                ix,
            ],
            &me,
        );
        expect(&a, &want(out), true, Verdict::Auto);
    }
    let summary = judge(
        &[pump(
            data("buy", 1_000_000, 50_000_000, &[]),
            pump_legacy(me, coin, dst, 16),
        )],
        &me,
    )
    .summary;
    assert!(summary.starts_with("Swap up to 0.05 SOL"), "{summary}");
}

#[test]
fn pump_legacy_buy_to_foreign_account_is_confirm() {
    let (me, them) = (key(1), key(9));
    let coin = key(COIN);
    for dst in [ata(&them, &coin), ata(&me, &key(40)), key(41)] {
        let ix = pump(
            data("buy", 1_000_000, 50_000_000, &[1]),
            pump_legacy(me, coin, dst, 16),
        );
        let a = judge(&[ix], &me);
        let want = wanted(
            "pump.fun buy",
            me,
            (me, Some(NATIVE_MINT)),
            (dst, Some(coin)),
            vec![],
            (AtMost(50_000_000), Exact(1_000_000)),
        );
        expect(&a, &want, false, Verdict::Confirm);
    }
}

#[test]
fn pump_buy_exact_sol_in() {
    let (me, them) = (key(1), key(9));
    let coin = key(COIN);
    let dst = ata(&me, &coin);
    let want = |destination, amount_in, amount_out| {
        wanted(
            "pump.fun buy_exact_sol_in",
            me,
            (me, Some(NATIVE_MINT)),
            (destination, Some(coin)),
            vec![],
            (amount_in, amount_out),
        )
    };
    let exact = (Exact(100_000_000), AtLeast(3_000_000));
    for tail in [&[][..], &[1], &[1, 0]] {
        let ix = pump(
            data("buy_exact_sol_in", 100_000_000, 3_000_000, tail),
            pump_legacy(me, coin, dst, 16),
        );
        let a = judge(&[create_ata(&me, &me, &coin, &TOKEN_PROGRAM), ix], &me);
        expect(&a, &want(dst, exact.0, exact.1), true, Verdict::Auto);
        assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    }
    // partial_fill: the budget is an upper bound and the minimum output can be skipped.
    let ix = pump(
        data("buy_exact_sol_in", 100_000_000, 3_000_000, &[1, 1]),
        pump_legacy(me, coin, dst, 16),
    );
    let a = judge(&[create_ata(&me, &me, &coin, &TOKEN_PROGRAM), ix], &me);
    expect(
        &a,
        &want(dst, AtMost(100_000_000), AtLeast(0)),
        true,
        Verdict::Auto,
    );
    assert!(
        a.warnings.iter().any(|w| w.contains("no minimum output")),
        "{:?}",
        a.warnings
    );
    // Foreign output.
    let foreign = ata(&them, &coin);
    let ix = pump(
        data("buy_exact_sol_in", 100_000_000, 3_000_000, &[]),
        pump_legacy(me, coin, foreign, 16),
    );
    expect(
        &judge(&[ix], &me),
        &want(foreign, exact.0, exact.1),
        false,
        Verdict::Confirm,
    );
    // It never had fewer than 16 accounts.
    let ix = pump(
        data("buy_exact_sol_in", 100_000_000, 3_000_000, &[]),
        pump_legacy(me, coin, dst, 15),
    );
    expect_malformed(&judge(&[ix], &me), "needs 16 accounts, has 15");
}

#[test]
fn pump_legacy_sell() {
    let me = key(1);
    let coin = key(COIN);
    let src = ata(&me, &coin);
    let want = wanted(
        "pump.fun sell",
        me,
        (src, Some(coin)),
        (me, Some(NATIVE_MINT)),
        vec![],
        (Exact(5_000_000), AtLeast(20_000)),
    );
    // 12 accounts (before fee_config), 14, and with cashback remaining accounts.
    for n in [12, 14, 16] {
        let ix = pump(
            data("sell", 5_000_000, 20_000, &[]),
            pump_legacy(me, coin, src, n),
        );
        let a = judge(
            &[cu_limit(80_000), ix, close_token_account(&src, &me, &me)],
            &me,
        );
        expect(&a, &want, true, Verdict::Auto);
    }
    // Selling from a foreign token account still pays the SOL to the signer.
    let foreign = ata(&key(9), &coin);
    let ix = pump(
        data("sell", 5_000_000, 20_000, &[]),
        pump_legacy(me, coin, foreign, 14),
    );
    let a = judge(&[ix], &me);
    expect(
        &a,
        &Want {
            source: foreign,
            ..want.clone()
        },
        true,
        Verdict::Auto,
    );
    // Sells take no OptionBool.
    let ix = pump(
        data("sell", 5_000_000, 20_000, &[0]),
        pump_legacy(me, coin, src, 14),
    );
    expect_malformed(&judge(&[ix], &me), "trailing");
}

#[test]
fn pump_legacy_malformed() {
    let me = key(1);
    let coin = key(COIN);
    let dst = ata(&me, &coin);
    let full = data("buy", 1, 2, &[1, 1]);
    for len in [0, 7, 8, 15, 16, 23] {
        let a = judge(
            &[pump(full[..len].to_vec(), pump_legacy(me, coin, dst, 16))],
            &me,
        );
        expect_malformed(&a, "too short");
    }
    // A third OptionBool is trailing data; a bool must be 0 or 1.
    for (tail, error) in [
        (&[1, 1, 0][..], "trailing"),
        (&[2][..], "invalid enum value 2"),
        (&[1, 7][..], "invalid enum value 7"),
    ] {
        let a = judge(
            &[pump(
                data("buy", 1, 2, tail),
                pump_legacy(me, coin, dst, 16),
            )],
            &me,
        );
        expect_malformed(&a, error);
    }
    // Too few accounts: the user (position 6) is needed, and the 12 of the first layout.
    for n in [6, 10] {
        let a = judge(
            &[pump(data("buy", 1, 2, &[]), {
                let mut v = pump_legacy(me, coin, dst, n);
                v.push(signer(me));
                v
            })],
            &me,
        );
        expect_malformed(&a, &format!("needs 12 accounts, has {}", n + 1));
    }
    let a = judge(
        &[pump(
            data("sell", 1, 2, &[]),
            pump_legacy(me, coin, dst, 11),
        )],
        &me,
    );
    expect_malformed(&a, "needs 12 accounts, has 11");
}

#[test]
fn pump_create_and_other_instructions_are_unsupported() {
    let me = key(1);
    // create(name, symbol, uri, creator): a token launch, refused as unsupported.
    let mut d = anchor_discriminator("create").to_vec();
    for s in ["Coin", "COIN", "https://example.invalid/c.json"] {
        d.extend_from_slice(&u32::try_from(s.len()).unwrap().to_le_bytes());
        d.extend_from_slice(s.as_bytes());
    }
    d.extend_from_slice(me.as_ref());
    let accounts: Vec<AccountMeta> = (0..14)
        .map(|i| if i == 7 { signer(me) } else { rw(filler(i)) })
        .collect();
    let a = judge(&[pump(d, accounts)], &me);
    expect_unsupported(&a, "181ec828051c0777");
    for name in [
        "create_v2",
        "claim_cashback",
        "collect_creator_fee",
        "extend_account",
    ] {
        let a = judge(
            &[pump(anchor_discriminator(name).to_vec(), vec![signer(me)])],
            &me,
        );
        expect_unsupported(&a, &hex::encode(anchor_discriminator(name)));
    }
}

// ---------------------------------------------------------------------------------------
// Pump.fun: v2 and v3 trades.

#[test]
fn pump_v2_and_v3_sol_paired() {
    let me = key(1);
    let coin = key(COIN);
    let base_user = ata_2022(&me, &coin);
    let wsol_user = ata(&me, &NATIVE_MINT);
    let cases: [(&str, &str, &Layout, usize); 6] = [
        ("buy_v2", "pump.fun buy_v2", &PUMP_V2, 27),
        (
            "buy_exact_quote_in_v2",
            "pump.fun buy_exact_quote_in_v2",
            &PUMP_V2,
            27,
        ),
        ("sell_v2", "pump.fun sell_v2", &PUMP_V2, 26),
        ("buy_v3", "pump.fun buy_v3", &PUMP_V3, 17),
        (
            "buy_exact_quote_in_v3",
            "pump.fun buy_exact_quote_in_v3",
            &PUMP_V3,
            17,
        ),
        ("sell_v3", "pump.fun sell_v3", &PUMP_V3, 17),
    ];
    for (name, instruction, layout, n) in cases {
        let sell = name.starts_with("sell");
        let exact_in = name.starts_with("buy_exact");
        // (amount, min_out) for sells and exact-in buys; (amount, max_cost) for buys.
        let (amount_in, amount_out) = if sell || exact_in {
            (Exact(7_000), AtLeast(9_000))
        } else {
            (AtMost(9_000), Exact(7_000))
        };
        // Native SOL moves through the wallet, not the wrapped SOL account.
        let want = trade_want(
            instruction,
            me,
            sell,
            ((base_user, coin), (me, NATIVE_MINT)),
            (amount_in, amount_out),
        );
        let accounts = layout.accounts(me, coin, NATIVE_MINT, base_user, wsol_user, n);
        let a = judge(
            &[
                create_ata(&me, &me, &coin, &TOKEN_2022_PROGRAM),
                pump(data(name, 7_000, 9_000, &[]), accounts.clone()),
            ],
            &me,
        );
        expect(&a, &want, true, Verdict::Auto);
        if !sell {
            // partial_fill present: false keeps the bounds; true loosens the output.
            let a = judge(
                &[pump(data(name, 7_000, 9_000, &[0]), accounts.clone())],
                &me,
            );
            expect(&a, &want, true, Verdict::Auto);
            let a = judge(
                &[pump(data(name, 7_000, 9_000, &[1]), accounts.clone())],
                &me,
            );
            let loose = if exact_in {
                Want {
                    amount_in: AtMost(7_000),
                    amount_out: AtLeast(0),
                    ..want.clone()
                }
            } else {
                Want {
                    amount_out: AtMost(7_000),
                    ..want.clone()
                }
            };
            expect(&a, &loose, true, Verdict::Auto);
            let a = judge(
                &[pump(data(name, 7_000, 9_000, &[1, 1]), accounts.clone())],
                &me,
            );
            expect_malformed(&a, "trailing");
        } else {
            let a = judge(
                &[pump(data(name, 7_000, 9_000, &[0]), accounts.clone())],
                &me,
            );
            expect_malformed(&a, "trailing");
        }
        // Output to a foreign account: a buy's tokens, or (for a SOL sell) nothing the
        // instruction can redirect: the SOL goes to the signer.
        let foreign = ata_2022(&key(9), &coin);
        let a = judge(
            &[pump(
                data(name, 7_000, 9_000, &[]),
                layout.accounts(me, coin, NATIVE_MINT, foreign, wsol_user, n),
            )],
            &me,
        );
        if sell {
            expect(
                &a,
                &Want {
                    source: foreign,
                    ..want.clone()
                },
                true,
                Verdict::Auto,
            );
        } else {
            expect(
                &a,
                &Want {
                    destination: foreign,
                    ..want.clone()
                },
                false,
                Verdict::Confirm,
            );
        }
        // One account short.
        let a = judge(
            &[pump(
                data(name, 7_000, 9_000, &[]),
                layout.accounts(me, coin, NATIVE_MINT, base_user, wsol_user, n - 1),
            )],
            &me,
        );
        expect_malformed(&a, &format!("needs {n} accounts, has {}", n - 1));
        // Truncated.
        let a = judge(
            &[pump(
                data(name, 7_000, 9_000, &[])[..20].to_vec(),
                layout.accounts(me, coin, NATIVE_MINT, base_user, wsol_user, n),
            )],
            &me,
        );
        expect_malformed(&a, "too short");
    }
}

#[test]
fn pump_v2_and_v3_token_paired() {
    let (me, them) = (key(1), key(9));
    let coin = key(COIN);
    let base_user = ata_2022(&me, &coin);
    let usdc_user = ata(&me, &USDC);
    let foreign_usdc = ata(&them, &USDC);
    for (name, layout, n) in [
        ("buy_v2", &PUMP_V2, 27),
        ("sell_v2", &PUMP_V2, 26),
        ("buy_exact_quote_in_v3", &PUMP_V3, 17),
        ("sell_v3", &PUMP_V3, 17),
    ] {
        let sell = name.starts_with("sell");
        let instruction = match name {
            "buy_v2" => "pump.fun buy_v2",
            "sell_v2" => "pump.fun sell_v2",
            "buy_exact_quote_in_v3" => "pump.fun buy_exact_quote_in_v3",
            _ => "pump.fun sell_v3",
        };
        let (amount_in, amount_out) = if name == "buy_v2" {
            (AtMost(9_000), Exact(7_000))
        } else {
            (Exact(7_000), AtLeast(9_000))
        };
        for quote_user in [usdc_user, foreign_usdc] {
            let want = trade_want(
                instruction,
                me,
                sell,
                ((base_user, coin), (quote_user, USDC)),
                (amount_in, amount_out),
            );
            let a = judge(
                &[
                    create_ata(&me, &me, &coin, &TOKEN_2022_PROGRAM),
                    create_ata(&me, &me, &USDC, &TOKEN_PROGRAM),
                    pump(
                        data(name, 7_000, 9_000, &[]),
                        layout.accounts(me, coin, USDC, base_user, quote_user, n),
                    ),
                ],
                &me,
            );
            // A USDC sell pays into associated_quote_user: only the user's own is auto.
            let own = !sell || quote_user == usdc_user;
            let verdict = if own { Verdict::Auto } else { Verdict::Confirm };
            expect(&a, &want, own, verdict);
        }
    }
}

#[test]
fn pump_sol_sell_with_unresolved_quote_mint_reports_the_token_account() {
    // v0 transaction whose quote mint sits in a lookup table that was not provided: the
    // SOL-or-token question cannot be answered, so the quote token account is reported.
    use solana_message::{v0, Hash, VersionedMessage};
    use solana_transaction::versioned::VersionedTransaction;
    let me = key(1);
    let coin = key(COIN);
    let table = key(60);
    let wsol_user = ata(&me, &NATIVE_MINT);
    let ix = pump(
        data("sell_v3", 7_000, 9_000, &[]),
        PUMP_V3.accounts(me, coin, NATIVE_MINT, ata_2022(&me, &coin), wsol_user, 17),
    );
    let lookup = solana_message::AddressLookupTableAccount {
        key: table,
        addresses: vec![NATIVE_MINT],
    };
    let msg =
        v0::Message::try_compile(&me, &[ix], &[lookup], Hash::new_from_array([7; 32])).unwrap();
    let wire = wincode::serialize(&VersionedTransaction::new_unsigned(VersionedMessage::V0(
        msg,
    )))
    .unwrap();
    let tx = ParsedTransaction::parse(&wire).unwrap();
    let a = assess_as(&tx, me, &[]);
    match swaps(&a)[..] {
        [Effect::Swap {
            destination,
            destination_mint,
            ..
        }] => {
            assert_eq!(destination.address, Addr::Known(wsol_user));
            assert!(matches!(destination_mint, Some(Addr::Unresolved { .. })));
        }
        _ => panic!("{:?}", a.effects),
    }
}

// ---------------------------------------------------------------------------------------
// Pump.fun: mainnet instructions.

/// Mainnet `buy` 5aQNWMM88QMAz5uTvSjUduzs28CGDqoCqWevEfCUQtRYM8NFaaWT2BU1YWsoCnA8Ax9bpH5s3ciHgJAKD21E8iKD
/// (16 accounts, 24 bytes of arguments: no `track_volume`), as recorded in
/// sevenlabs-hq/carbon `decoders/pumpfun-decoder/tests/fixtures/buy_ix.json` (MIT).
const MAINNET_BUY: [&str; 16] = [
    "4wTV1YmiEkRvAtNtsSGPtUrqRYQMe5SKy2uB4Jjaxnjf",
    "62qc2CNXwrYqQScmEdiZFFAnJR262PxWEuNQtxfafNgV",
    "7uUTzNs4UFgarqY6TyRnW3ZnMFpcsw1iookL8R5KCGwA",
    "CxHfPAgH6PNLnfq5n5mq4tZK1aQCsMdeygwqaUSjsceN",
    "3AnftTe9GeUkp3HQJTm7tWLeVkojdFCyd33u4XEAMTpe",
    "A1C8VqECGc8CSjmiEpaaNTWeJVqVM3tQXnxcaSkfngxT",
    "9zR4L1w4cCvLndDYYiCBUvNfBPeZBAQWL57wQgW97Pau",
    "11111111111111111111111111111111",
    "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
    "34D2HZjdrSfxhc4j6aduiwbN6uzXKaw73h2jjVBQfJ9p",
    "Ce6TQqeHC9p8KetsN6JsjHK7UTZk7nasjjnr7XxXp9F1",
    "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P",
    "Hq2wp8uJ9jCPsYgNHex8RtqdvMPfVGoYwjvF1ATiwn2Y",
    "3cm5x9jFRrZQzZxnYkm7jYkUy5srwamyMZZTsRPZqfgD",
    "8Wf5TiAheLUqBrKXeYg2JtAFFMWtKdG2BSFgqUcPVwTt",
    "pfeeUxB6jkeY1Hxd7CsFCAjcbHA9rWtchMGdZ6VojVZ",
];
const MAINNET_BUY_DATA: &str = "66063d1201daebeaf6ca190000000000c300000000000000";

/// Mainnet `sell` 4D9kXn1R6K2F7CJjqfn91mMSThXkmjRsWJ3rGJpEDFSexgUPDWWmnwhSxBUf86Q68YH568qLYXTLwdcyMsJ3mAHB
/// (12 accounts, creator-fee era), as recorded in sevenlabs-hq/carbon
/// `decoders/pumpfun-decoder/tests/fixtures/sell_ix.json` (MIT).
const MAINNET_SELL: [&str; 12] = [
    "4wTV1YmiEkRvAtNtsSGPtUrqRYQMe5SKy2uB4Jjaxnjf",
    "62qc2CNXwrYqQScmEdiZFFAnJR262PxWEuNQtxfafNgV",
    "AC69oJv1m7843mdRfoQDneZuyRxYrMq86i2mARMtpump",
    "623TpUDcZjKdmd9wybMveLKSSbgRs2hvwFjygzi4g15B",
    "5rQKu3z4SXShvQkNKSJu9mtsVmgM8AvLoeNbJGvTyQv6",
    "BFgJqMUhraJvzERrt2BbPqbqDcLgbiHMdfdPQAqLtPcR",
    "D8h8aUEaQnBRALrcTxLkaLLCQVCASnLVx17E3m6qfuPF",
    "11111111111111111111111111111111",
    "8rsczKQ9bVT6AcGoD4CqoKySbVErCoXwQH8h7ZjAsUqE",
    "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
    "Ce6TQqeHC9p8KetsN6JsjHK7UTZk7nasjjnr7XxXp9F1",
    "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P",
];
const MAINNET_SELL_DATA: &str = "33e685a4017f83ad003e23b2140000004107240000000000";

/// An instruction from recorded accounts; `signer_at` is the signing account.
fn recorded(program: Pubkey, keys: &[&str], signer_at: usize, hex_data: &str) -> Instruction {
    let accounts = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let k: Pubkey = k.parse().unwrap();
            if i == signer_at {
                signer(k)
            } else {
                rw(k)
            }
        })
        .collect();
    Instruction::new_with_bytes(program, &hex::decode(hex_data).unwrap(), accounts)
}

#[test]
fn pump_mainnet_buy_and_sell() {
    let user = pk(MAINNET_BUY[6]);
    let a = judge(&[recorded(PUMP, &MAINNET_BUY, 6, MAINNET_BUY_DATA)], &user);
    let mint = pk(MAINNET_BUY[2]);
    let associated_user = pk(MAINNET_BUY[5]);
    assert_eq!(associated_user, ata(&user, &mint));
    expect(
        &a,
        &wanted(
            "pump.fun buy",
            user,
            (user, Some(NATIVE_MINT)),
            (associated_user, Some(mint)),
            vec![],
            (AtMost(195), Exact(1_690_358)),
        ),
        true,
        Verdict::Auto,
    );

    let user = pk(MAINNET_SELL[6]);
    let mint = pk(MAINNET_SELL[2]);
    let associated_user = pk(MAINNET_SELL[5]);
    assert_eq!(associated_user, ata(&user, &mint));
    let a = judge(
        &[recorded(PUMP, &MAINNET_SELL, 6, MAINNET_SELL_DATA)],
        &user,
    );
    expect(
        &a,
        &wanted(
            "pump.fun sell",
            user,
            (associated_user, Some(mint)),
            (user, Some(NATIVE_MINT)),
            vec![],
            (Exact(88_888_000_000), AtLeast(2_361_153)),
        ),
        true,
        Verdict::Auto,
    );
}

// ---------------------------------------------------------------------------------------
// PumpSwap.

fn amm(data: Vec<u8>, accounts: Vec<AccountMeta>) -> Instruction {
    Instruction::new_with_bytes(AMM, &data, accounts)
}

/// A SOL-pool PumpSwap buy the way bots send it: wrap SOL into the user's wSOL ATA,
/// create the output ATA, trade, close the wSOL ATA back to the wallet.
fn amm_buy_tx(me: &Pubkey, coin: &Pubkey, trade: Instruction) -> Vec<Instruction> {
    let wsol = ata(me, &NATIVE_MINT);
    vec![
        cu_limit(150_000),
        create_ata(me, me, &NATIVE_MINT, &TOKEN_PROGRAM),
        sol_transfer(me, &wsol, 60_000_000),
        sync_native(&TOKEN_PROGRAM, &wsol),
        create_ata(me, me, coin, &TOKEN_PROGRAM),
        trade,
        close_token_account(&wsol, me, me),
    ]
}

#[test]
fn pumpswap_every_trade() {
    let (me, them) = (key(1), key(9));
    let coin = key(COIN);
    let (base_user, quote_user) = (ata(&me, &coin), ata(&me, &NATIVE_MINT));
    for (name, instruction, n, tails) in [
        ("buy", "pumpswap buy", 23, &[&[][..], &[0], &[1]][..]),
        ("buy", "pumpswap buy", 17, &[&[][..], &[1]][..]),
        (
            "buy_exact_quote_in",
            "pumpswap buy_exact_quote_in",
            23,
            &[&[][..], &[1]][..],
        ),
        ("sell", "pumpswap sell", 21, &[&[][..]][..]),
        ("sell", "pumpswap sell", 17, &[&[][..]][..]),
        ("buy_v2", "pumpswap buy_v2", 17, &[&[][..]][..]),
        (
            "buy_exact_quote_in_v2",
            "pumpswap buy_exact_quote_in_v2",
            17,
            &[&[][..]][..],
        ),
        ("sell_v2", "pumpswap sell_v2", 17, &[&[][..]][..]),
    ] {
        let sell = name.starts_with("sell");
        let (amount_in, amount_out) = if name == "buy" || name == "buy_v2" {
            (AtMost(60_000_000), Exact(2_000_000))
        } else {
            (Exact(2_000_000), AtLeast(60_000_000))
        };
        for tail in tails {
            for (dst_own, base, quote) in [
                (true, base_user, quote_user),
                (false, ata(&them, &coin), ata(&them, &NATIVE_MINT)),
            ] {
                // The user's side that is debited stays the user's; the credited side
                // changes between the cases.
                let (user_base, user_quote) = if sell {
                    (base_user, quote)
                } else {
                    (base, quote_user)
                };
                let trade = amm(
                    data(name, 2_000_000, 60_000_000, tail),
                    AMM_V1.accounts(me, coin, NATIVE_MINT, user_base, user_quote, n),
                );
                let a = if sell {
                    judge(&[cu_limit(150_000), trade], &me)
                } else {
                    judge(&amm_buy_tx(&me, &coin, trade), &me)
                };
                let want = wanted(
                    instruction,
                    me,
                    (
                        if sell { user_base } else { user_quote },
                        Some(if sell { coin } else { NATIVE_MINT }),
                    ),
                    (
                        if sell { user_quote } else { user_base },
                        Some(if sell { NATIVE_MINT } else { coin }),
                    ),
                    vec![],
                    (amount_in, amount_out),
                );
                let verdict = if dst_own {
                    Verdict::Auto
                } else {
                    Verdict::Confirm
                };
                expect(&a, &want, dst_own, verdict);
            }
        }
    }
}

#[test]
fn pumpswap_malformed() {
    let me = key(1);
    let coin = key(COIN);
    let accounts = |n| {
        AMM_V1.accounts(
            me,
            coin,
            NATIVE_MINT,
            ata(&me, &coin),
            ata(&me, &NATIVE_MINT),
            n,
        )
    };
    for (name, tail, n, error) in [
        ("buy", &[1, 0][..], 23, "trailing"),
        ("buy", &[2][..], 23, "invalid enum value 2"),
        ("buy_exact_quote_in", &[0, 0][..], 23, "trailing"),
        ("sell", &[0][..], 21, "trailing"),
        ("buy_v2", &[1][..], 17, "trailing"),
        ("buy_exact_quote_in_v2", &[0][..], 17, "trailing"),
        ("sell_v2", &[0][..], 17, "trailing"),
        ("buy", &[][..], 16, "needs 17 accounts, has 16"),
        ("sell", &[][..], 16, "needs 17 accounts, has 16"),
        ("buy_v2", &[][..], 16, "needs 17 accounts, has 16"),
        (
            "buy_exact_quote_in",
            &[][..],
            22,
            "needs 23 accounts, has 22",
        ),
    ] {
        let a = judge(&[amm(data(name, 1, 2, tail), accounts(n))], &me);
        expect_malformed(&a, error);
    }
    for len in [0, 8, 12, 16, 23] {
        let a = judge(
            &[amm(data("buy", 1, 2, &[1])[..len].to_vec(), accounts(23))],
            &me,
        );
        expect_malformed(&a, "too short");
    }
    for name in ["deposit", "withdraw", "create_pool", "claim_cashback"] {
        let a = judge(
            &[amm(anchor_discriminator(name).to_vec(), vec![signer(me)])],
            &me,
        );
        expect_unsupported(&a, &hex::encode(anchor_discriminator(name)));
    }
}

/// `multi_hop_swap` accounts: 16 fixed ([user, user_in, user_out, global_config,
/// fee_config, user_volume_accumulator, buyback_fee_recipient, token_program,
/// token_2022_program, system_program, event_authority, program, pump_program, pump_global,
/// pump_fee_config, pump_event_authority]), then [base_mint, quote_mint, venue, base vault,
/// quote vault] per hop.
fn multi_hop(
    user: Pubkey,
    input: Pubkey,
    output: Pubkey,
    hops: &[(Pubkey, Pubkey)],
) -> Vec<AccountMeta> {
    let mut v = placed(
        16,
        [
            (0, signer(user)),
            (1, rw(input)),
            (2, rw(output)),
            (7, ro(TOKEN_PROGRAM)),
            (8, ro(TOKEN_2022_PROGRAM)),
            (9, ro(SYSTEM_PROGRAM)),
            (11, ro(AMM)),
            (12, ro(PUMP)),
        ],
        16,
    );
    for (i, (base, quote)) in hops.iter().enumerate() {
        v.push(ro(*base));
        v.push(ro(*quote));
        v.push(rw(filler(20 + 3 * i)));
        v.push(rw(filler(21 + 3 * i)));
        v.push(rw(filler(22 + 3 * i)));
    }
    v
}

#[test]
fn pumpswap_multi_hop_swap() {
    let (me, them) = (key(1), key(9));
    let (a_coin, b_coin) = (key(31), key(32));
    let wsol = ata(&me, &NATIVE_MINT);
    // Buy B with SOL: SOL -> A (A's pool, quote wSOL) -> B (B's curve, quote A).
    let hops = [(a_coin, NATIVE_MINT), (b_coin, a_coin)];
    for (output, own) in [
        (ata_2022(&me, &b_coin), true),
        (ata_2022(&them, &b_coin), false),
        (ata_2022(&me, &key(33)), false),
    ] {
        let a = judge(
            &[
                create_ata(&me, &me, &b_coin, &TOKEN_2022_PROGRAM),
                amm(
                    data("multi_hop_swap", 10_000_000, 123_456, &[]),
                    multi_hop(me, wsol, output, &hops),
                ),
            ],
            &me,
        );
        let want = wanted(
            "pumpswap multi_hop_swap",
            me,
            // Inferred by the policy from the user's wSOL ATA and the output ATA.
            (wsol, Some(NATIVE_MINT)),
            (output, own.then_some(b_coin)),
            vec![a_coin, NATIVE_MINT, b_coin],
            (Exact(10_000_000), AtLeast(123_456)),
        );
        let verdict = if own { Verdict::Auto } else { Verdict::Confirm };
        expect(&a, &want, own, verdict);
    }
    // Sell B for SOL, one hop (B's pool, quote wSOL): the output is the user's wSOL ATA.
    let a = judge(
        &[amm(
            data("multi_hop_swap", 5, 6, &[]),
            multi_hop(me, ata_2022(&me, &b_coin), wsol, &[(b_coin, NATIVE_MINT)]),
        )],
        &me,
    );
    expect(
        &a,
        &wanted(
            "pumpswap multi_hop_swap",
            me,
            (ata_2022(&me, &b_coin), Some(b_coin)),
            (wsol, Some(NATIVE_MINT)),
            vec![b_coin, NATIVE_MINT],
            (Exact(5), AtLeast(6)),
        ),
        true,
        Verdict::Auto,
    );
    // No hop, a partial hop group, trailing data, truncated data.
    let accounts = multi_hop(me, wsol, ata_2022(&me, &b_coin), &hops);
    for (n, error) in [
        (16, "needs 21 accounts, has 16"),
        (20, "needs 21 accounts, has 20"),
        (24, "needs 26 accounts, has 24"),
    ] {
        let a = judge(
            &[amm(
                data("multi_hop_swap", 5, 6, &[]),
                accounts[..n].to_vec(),
            )],
            &me,
        );
        expect_malformed(&a, error);
    }
    let a = judge(
        &[amm(data("multi_hop_swap", 5, 6, &[0]), accounts.clone())],
        &me,
    );
    expect_malformed(&a, "trailing");
    let a = judge(
        &[amm(
            data("multi_hop_swap", 5, 6, &[])[..20].to_vec(),
            accounts,
        )],
        &me,
    );
    expect_malformed(&a, "too short");
}

/// Mainnet PumpSwap `buy` instructions (23 accounts) with and without `track_volume`, as
/// recorded in sevenlabs-hq/carbon `decoders/pump-swap-decoder/tests/fixtures/
/// buy_with_track_volume_{false,true}.json` (MIT; the fixtures carry no signature).
const MAINNET_AMM_BUYS: [([&str; 23], &str); 2] = [
    (
        [
            "A4erfEr1Y2fUKE4wYnZNhGKSXNPUaqaiRYBGWReYMcx5",
            "hnu5iBK8UoHb51UFsH1RYTUAYdrhjHvV5YMTf9T1CYN",
            "ADyA8hdefvWN2dbGGWFotbzWxrAvLW83WG6QCVXvJKqw",
            "8cQynx5ZaJKwdHsuXmSn3Y16RXta7ZTyTS1hW55Gpump",
            "So11111111111111111111111111111111111111112",
            "8ym9VMqKzpPSx23XJbidMf7SVHH8vBuz6ajjT3T3uLtD",
            "2ACnANaaJHStsu37zx9UWMmyhnLRQXauKQHdYdQGVu1G",
            "G8zUuNUnhJE8fhQn1xJcVYEm4rBcfW8iWWgdiLFdyP42",
            "CWMn5gGjwqzNRC7DEoS24A8wDVpJ3iCBuRPsmt52hJba",
            "62qc2CNXwrYqQScmEdiZFFAnJR262PxWEuNQtxfafNgV",
            "94qWNrtmfn42h3ZjUZwWvK1MEo9uVmmrBPd2hpNjYDjb",
            "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
            "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
            "11111111111111111111111111111111",
            "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL",
            "GS4CU59F31iL7aR2Q8zVS8DRrcRnXX1yjQ66TqNVQnaR",
            "pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA",
            "5xPs5ZC32oMhRi8DemHdqxLGsiDpRnXvsAHKud5nLg21",
            "52CD8bFNh3roWGdHwGPbCAuz25Dy8G5pT1ENRefjYeNB",
            "C2aFPdENg4A2HQsmrd5rTw5TaYBX5Ku887cWjbFKtZpw",
            "HEV5ZFfiBRR4akZh2i86asvfguKdy4Fg6HScXc7598tv",
            "5PHirr8joyTMp9JMm6nW7hNDVyEYdkzDqazxPD7RaTjx",
            "pfeeUxB6jkeY1Hxd7CsFCAjcbHA9rWtchMGdZ6VojVZ",
        ],
        "66063d1201daebeaa39e6635b50000004b596f6e00000000",
    ),
    (
        [
            "A4erfEr1Y2fUKE4wYnZNhGKSXNPUaqaiRYBGWReYMcx5",
            "DZyt9ZDH37TARgRa7ikZckeBPnSzJ58TTpjiiefmZC3c",
            "ADyA8hdefvWN2dbGGWFotbzWxrAvLW83WG6QCVXvJKqw",
            "8cQynx5ZaJKwdHsuXmSn3Y16RXta7ZTyTS1hW55Gpump",
            "So11111111111111111111111111111111111111112",
            "3KQz2EZrinHVYPNtYdJApoh3Y3qw7XUGfscaM4sx5zR4",
            "A3ox7VYom2ECS3NUxP9mji1tBcCDk7CBvFvMf3C4vEpZ",
            "G8zUuNUnhJE8fhQn1xJcVYEm4rBcfW8iWWgdiLFdyP42",
            "CWMn5gGjwqzNRC7DEoS24A8wDVpJ3iCBuRPsmt52hJba",
            "7VtfL8fvgNfhz17qKRMjzQEXgbdpnHHHQRh54R9jP2RJ",
            "7GFUN3bWzJMKMRZ34JLsvcqdssDbXnp589SiE33KVwcC",
            "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
            "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
            "11111111111111111111111111111111",
            "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL",
            "GS4CU59F31iL7aR2Q8zVS8DRrcRnXX1yjQ66TqNVQnaR",
            "pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA",
            "5xPs5ZC32oMhRi8DemHdqxLGsiDpRnXvsAHKud5nLg21",
            "52CD8bFNh3roWGdHwGPbCAuz25Dy8G5pT1ENRefjYeNB",
            "C2aFPdENg4A2HQsmrd5rTw5TaYBX5Ku887cWjbFKtZpw",
            "VmEr9F51o1vt3Zsf2NNDQuT9MVv2PoFNdctYPV3kTZo",
            "5PHirr8joyTMp9JMm6nW7hNDVyEYdkzDqazxPD7RaTjx",
            "pfeeUxB6jkeY1Hxd7CsFCAjcbHA9rWtchMGdZ6VojVZ",
        ],
        "66063d1201daebeaa4379b3b18000000c0fd320f0000000001",
    ),
];

#[test]
fn pumpswap_mainnet_buys() {
    for ((keys, hex_data), (base_out, max_in)) in MAINNET_AMM_BUYS.iter().zip([
        (778_284_998_307, 1_852_791_115),
        (104_079_243_172, 255_000_000),
    ]) {
        let user = pk(keys[1]);
        let (base_mint, quote_mint) = (pk(keys[3]), pk(keys[4]));
        let (user_base, user_quote) = (pk(keys[5]), pk(keys[6]));
        let a = judge(&[recorded(AMM, keys, 1, hex_data)], &user);
        // Ownership depends on whether the recorded accounts are the user's ATAs.
        let own = user_base == ata(&user, &base_mint) || user_base == ata_2022(&user, &base_mint);
        expect(
            &a,
            &wanted(
                "pumpswap buy",
                user,
                (user_quote, Some(quote_mint)),
                (user_base, Some(base_mint)),
                vec![],
                (AtMost(max_in), Exact(base_out)),
            ),
            own,
            if own { Verdict::Auto } else { Verdict::Confirm },
        );
    }
}

/// The mainnet PumpSwap buy in `fixtures/solana/agavesim_wire.json` (JSON2, v0, no lookup
/// tables): create the user's wSOL ATA, buy wSOL (the pool's base) with the pool's quote
/// token, close the wSOL ATA back to the wallet.
#[test]
fn pumpswap_agavesim_fixture() {
    let entry = load("agavesim_wire.json")
        .into_iter()
        .find(|e| e["name"] == "agavesim:JSON2")
        .unwrap();
    let bytes = decode_data("b64", entry["data"].as_str().unwrap()).unwrap();
    let tx = ParsedTransaction::parse_any(&bytes).unwrap();
    let me = *tx.fee_payer().unwrap();
    let tables = tables_for(&tx, &entry);
    let config = PolicyConfig::default();
    let a = assess(
        &tx,
        &Context {
            signer: me,
            own_wallets: &[],
            lookup_tables: &tables,
            config: &config,
        },
    );
    assert_eq!(me, pk("95rVs91daKmzom4SM41dg4MRmy5M7rMEHPerenZwWaCq"));
    let wsol = pk("CK1VokWFPPd2K4u3Jah4EPpjoADkyWXasy5gdHH7CZR4");
    assert_eq!(wsol, ata(&me, &NATIVE_MINT));
    expect(
        &a,
        &wanted(
            "pumpswap buy",
            me,
            (
                pk("7Pex41UtrsxvNsNShfbDushiRh5FVVmKEvRPZ7KR65uu"),
                Some(pk("EWV6bjhKF5zkXANCdWPvDs7dofRVk4pKyVTitqgEWj8E")),
            ),
            (wsol, Some(NATIVE_MINT)),
            vec![],
            (AtMost(987_778_000_000_000), Exact(201_692_493)),
        ),
        true,
        Verdict::Auto,
    );
    assert_eq!(
        a.reasons,
        ["Every effect keeps value with your own accounts"]
    );
    assert_eq!(
        a.summary,
        "Swap up to 987778000000000 base units (decimals unknown) of mint EWV6…Wj8E for \
         exactly 0.201692493 SOL, to your account CK1V…CZR4 (+2 more actions)"
    );
}

// ---------------------------------------------------------------------------------------
// Meteora Dynamic Bonding Curve.

/// [pool_authority, config, pool, input_token_account, output_token_account, base_vault,
/// quote_vault, base_mint, quote_mint, payer, token_base_program, token_quote_program,
/// referral_token_account?, event_authority, program].
fn dbc_accounts(
    payer: Pubkey,
    input: Pubkey,
    output: Pubkey,
    base_mint: Pubkey,
    quote_mint: Pubkey,
    referral: Option<Pubkey>,
) -> Vec<AccountMeta> {
    placed(
        15,
        [
            (3, rw(input)),
            (4, rw(output)),
            (7, ro(base_mint)),
            (8, ro(quote_mint)),
            (9, signer(payer)),
            (10, ro(TOKEN_PROGRAM)),
            (11, ro(TOKEN_PROGRAM)),
            (12, referral.map(rw).unwrap_or(ro(DBC))),
            (14, ro(DBC)),
        ],
        15,
    )
}

fn dbc(data: Vec<u8>, accounts: Vec<AccountMeta>) -> Instruction {
    Instruction::new_with_bytes(DBC, &data, accounts)
}

#[test]
fn dbc_swap_and_swap2_every_mode() {
    let (me, them) = (key(1), key(9));
    let coin = key(COIN);
    let (coin_user, wsol_user) = (ata(&me, &coin), ata(&me, &NATIVE_MINT));
    let cases = [
        (
            data("swap", 1_000, 2_000, &[]),
            "meteora dbc swap",
            Exact(1_000),
            AtLeast(2_000),
        ),
        (
            data("swap2", 1_000, 2_000, &[0]),
            "meteora dbc swap2",
            Exact(1_000),
            AtLeast(2_000),
        ),
        (
            data("swap2", 1_000, 2_000, &[1]),
            "meteora dbc swap2",
            AtMost(1_000),
            AtLeast(2_000),
        ),
        (
            data("swap2", 1_000, 2_000, &[2]),
            "meteora dbc swap2",
            AtMost(2_000),
            Exact(1_000),
        ),
    ];
    for (data, instruction, amount_in, amount_out) in cases {
        // Buy (quote wSOL in, base out) and sell (base in, wSOL out), with and without a
        // referral account, to the user's ATA or someone else's.
        for (input, output, input_mint, output_mint) in [
            (wsol_user, coin_user, NATIVE_MINT, coin),
            (coin_user, wsol_user, coin, NATIVE_MINT),
            (wsol_user, ata(&them, &coin), NATIVE_MINT, coin),
            (coin_user, ata(&them, &NATIVE_MINT), coin, NATIVE_MINT),
        ] {
            for referral in [None, Some(key(50))] {
                let mut accounts = dbc_accounts(me, input, output, coin, NATIVE_MINT, referral);
                // The instructions sysvar as a remaining account (rate limiter).
                accounts.push(ro(pk("Sysvar1nstructions1111111111111111111111111")));
                let a = judge(
                    &[
                        create_ata(&me, &me, &coin, &TOKEN_PROGRAM),
                        dbc(data.clone(), accounts),
                    ],
                    &me,
                );
                let own = output == coin_user || output == wsol_user;
                let want = wanted(
                    instruction,
                    me,
                    // The program decides the side from the input account's mint; the
                    // policy infers it from the user's own accounts.
                    (input, Some(input_mint)),
                    (output, Some(output_mint)),
                    vec![coin, NATIVE_MINT],
                    (amount_in, amount_out),
                );
                let verdict = if own { Verdict::Auto } else { Verdict::Confirm };
                expect(&a, &want, own, verdict);
            }
        }
    }
}

#[test]
fn dbc_side_stays_unknown_without_proof() {
    // Neither token account is provably the user's: the mints stay pool mints.
    let me = key(1);
    let (coin, input, output) = (key(COIN), key(51), key(52));
    let a = judge(
        &[dbc(
            data("swap", 1, 2, &[]),
            dbc_accounts(me, input, output, coin, USDC, None),
        )],
        &me,
    );
    expect(
        &a,
        &wanted(
            "meteora dbc swap",
            me,
            (input, None),
            (output, None),
            vec![coin, USDC],
            (Exact(1), AtLeast(2)),
        ),
        false,
        Verdict::Confirm,
    );
}

#[test]
fn dbc_malformed() {
    let me = key(1);
    let coin = key(COIN);
    let accounts = dbc_accounts(
        me,
        ata(&me, &NATIVE_MINT),
        ata(&me, &coin),
        coin,
        NATIVE_MINT,
        None,
    );
    for (data, error) in [
        (data("swap2", 1, 2, &[3]), "invalid enum value 3"),
        (data("swap2", 1, 2, &[0, 0]), "trailing"),
        (data("swap2", 1, 2, &[]), "too short"),
        (data("swap", 1, 2, &[0]), "trailing"),
        (data("swap", 1, 2, &[])[..20].to_vec(), "too short"),
        (anchor_discriminator("swap")[..7].to_vec(), "too short"),
    ] {
        let a = judge(&[dbc(data, accounts.clone())], &me);
        expect_malformed(&a, error);
    }
    let a = judge(
        &[dbc(data("swap", 1, 2, &[]), accounts[..14].to_vec())],
        &me,
    );
    expect_malformed(&a, "needs 15 accounts, has 14");
    for name in [
        "initialize_virtual_pool_with_spl_token",
        "claim_trading_fee",
        "create_locker",
    ] {
        let a = judge(
            &[dbc(anchor_discriminator(name).to_vec(), vec![signer(me)])],
            &me,
        );
        expect_unsupported(&a, &hex::encode(anchor_discriminator(name)));
    }
}
