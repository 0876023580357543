//! Jupiter v6 route instructions: discriminators, fixtures, and hand-built swaps for each
//! policy rule.

mod common;

use common::*;
use custos_txdecode::programs::jupiter::route_discriminators;
use custos_txdecode::programs::{
    JUPITER_V6_PROGRAM, NATIVE_MINT, TOKEN_2022_PROGRAM, TOKEN_PROGRAM,
};
use custos_txdecode::{
    associated_token_address, Addr, Assessment, Effect, ParsedTransaction, PolicyConfig, Pubkey,
    SwapAmount, Verdict,
};
use solana_message::{AccountMeta, Instruction};

const JUP: Pubkey = JUPITER_V6_PROGRAM;
const EVENT_AUTHORITY: Pubkey =
    Pubkey::from_str_const("D8cy77BBepLMngZx6ZukaTff5hCt1HrWyKk3Hnd9oitf");
const WHIRLPOOL: Pubkey = Pubkey::from_str_const("whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc");

const ROUTE: [u8; 8] = [0xe5, 0x17, 0xcb, 0x97, 0x7a, 0xe3, 0xad, 0x2a];
const SHARED_ACCOUNTS_ROUTE: [u8; 8] = [0xc1, 0x20, 0x9b, 0x33, 0x41, 0xd6, 0x9c, 0x81];
const EXACT_OUT_ROUTE: [u8; 8] = [0xd0, 0x33, 0xef, 0x97, 0x7b, 0x2b, 0xed, 0x5c];
const ROUTE_WITH_TOKEN_LEDGER: [u8; 8] = [0x96, 0x56, 0x47, 0x74, 0xa7, 0x5d, 0x0e, 0x68];
const ROUTE_V2: [u8; 8] = [0xbb, 0x64, 0xfa, 0xcc, 0x31, 0xc4, 0xaf, 0x14];
const SHARED_ACCOUNTS_ROUTE_V2: [u8; 8] = [0xd1, 0x98, 0x53, 0x93, 0x7c, 0xfe, 0xd8, 0xe9];
const EXACT_OUT_ROUTE_V2: [u8; 8] = [0x9d, 0x8a, 0xb8, 0x52, 0x15, 0xf4, 0xf3, 0x24];
const SHARED_ACCOUNTS_EXACT_OUT_ROUTE_V2: [u8; 8] =
    [0x35, 0x60, 0xe5, 0xca, 0xd8, 0xbb, 0xfa, 0x18];
/// Jupiter `claim` (not a route).
const CLAIM: [u8; 8] = [0x3e, 0xc6, 0xd6, 0xc1, 0xd5, 0x9f, 0x6c, 0xd2];

/// A one-step route plan: `WhirlpoolSwapV2 { a_to_b: true, remaining_accounts_info: None }`,
/// percent 100, input index 0, output index 1 (as in the mainnet fixture). The decoder
/// never reads it, so any bytes would do.
const ROUTE_PLAN: [u8; 9] = [1, 0, 0, 0, 0x2f, 1, 0, 100, 0];

// ---------------------------------------------------------------------------------------
// Discriminators.

/// The shared helper against a value published independently of it (Jupiter's IDL), so
/// the checks below do not only compare the helper with itself.
#[test]
fn anchor_discriminator_known_answer() {
    assert_eq!(
        hex::encode(anchor_discriminator("route")),
        "e517cb977ae3ad2a"
    );
}

#[test]
fn discriminators_are_anchor_hashes() {
    let names: Vec<&str> = route_discriminators().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "route",
            "route_with_token_ledger",
            "exact_out_route",
            "shared_accounts_route",
            "shared_accounts_exact_out_route",
            "route_v2",
            "exact_out_route_v2",
            "shared_accounts_route_v2",
            "shared_accounts_exact_out_route_v2",
        ]
    );
    for (name, disc) in route_discriminators() {
        assert_eq!(disc, anchor_discriminator(name), "{name}");
    }
    for (name, disc) in [
        ("route", ROUTE),
        ("shared_accounts_route", SHARED_ACCOUNTS_ROUTE),
        ("exact_out_route", EXACT_OUT_ROUTE),
        ("route_with_token_ledger", ROUTE_WITH_TOKEN_LEDGER),
        ("route_v2", ROUTE_V2),
        ("shared_accounts_route_v2", SHARED_ACCOUNTS_ROUTE_V2),
        ("exact_out_route_v2", EXACT_OUT_ROUTE_V2),
        (
            "shared_accounts_exact_out_route_v2",
            SHARED_ACCOUNTS_EXACT_OUT_ROUTE_V2,
        ),
        ("claim", CLAIM),
    ] {
        assert_eq!(disc, anchor_discriminator(name), "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// Builders.

/// v1 exact-in data: discriminator, [id], route_plan, in, quoted_out, slippage, fee (u8).
fn v1_data(disc: [u8; 8], id: Option<u8>, amount: u64, quoted: u64, slip: u16, fee: u8) -> Vec<u8> {
    let mut d = disc.to_vec();
    d.extend(id);
    d.extend_from_slice(&ROUTE_PLAN);
    d.extend_from_slice(&amount.to_le_bytes());
    d.extend_from_slice(&quoted.to_le_bytes());
    d.extend_from_slice(&slip.to_le_bytes());
    d.push(fee);
    d
}

/// v2 data: discriminator, [id], amount, quoted, slippage, fee (u16), positive slippage,
/// route_plan.
fn v2_data(
    disc: [u8; 8],
    id: Option<u8>,
    amount: u64,
    quoted: u64,
    slip: u16,
    fee: u16,
) -> Vec<u8> {
    let mut d = disc.to_vec();
    d.extend(id);
    d.extend_from_slice(&amount.to_le_bytes());
    d.extend_from_slice(&quoted.to_le_bytes());
    d.extend_from_slice(&slip.to_le_bytes());
    d.extend_from_slice(&fee.to_le_bytes());
    d.extend_from_slice(&0u16.to_le_bytes());
    d.extend_from_slice(&ROUTE_PLAN);
    d
}

/// A Jupiter instruction; a DEX program is appended as a remaining account, as the route
/// steps do (it is an account, not an instruction program).
fn jup(data: Vec<u8>, mut accounts: Vec<AccountMeta>) -> Instruction {
    accounts.push(ro(WHIRLPOOL));
    Instruction::new_with_bytes(JUP, &data, accounts)
}

struct Route {
    authority: Pubkey,
    source: Pubkey,
    user_destination: Pubkey,
    destination: Option<Pubkey>,
    destination_mint: Pubkey,
    platform_fee: Option<Pubkey>,
}

/// `route` accounts: [token_program, authority, source, user_destination, destination?,
/// destination_mint, platform_fee?, event_authority, program].
fn route(r: &Route, data: Vec<u8>) -> Instruction {
    jup(
        data,
        vec![
            ro(TOKEN_PROGRAM),
            AccountMeta::new(r.authority, true),
            rw(r.source),
            rw(r.user_destination),
            r.destination.map(rw).unwrap_or(ro(JUP)),
            ro(r.destination_mint),
            r.platform_fee.map(rw).unwrap_or(ro(JUP)),
            ro(EVENT_AUTHORITY),
            ro(JUP),
        ],
    )
}

/// A route swapping wSOL from `me` for USDC into `me`'s USDC ATA.
fn my_route(me: Pubkey) -> Route {
    Route {
        authority: me,
        source: ata(&me, &NATIVE_MINT),
        user_destination: ata(&me, &USDC),
        destination: None,
        destination_mint: USDC,
        platform_fee: None,
    }
}

fn standard_data() -> Vec<u8> {
    v1_data(ROUTE, None, 2_000_000, 1_550_653, 50, 0)
}

fn only_swap(a: &Assessment) -> &Effect {
    let s = swaps(a);
    assert_eq!(s.len(), 1, "{:#?}", a.effects);
    s[0]
}

/// The destination of the single swap, with its ownership.
fn swap_destination(a: &Assessment) -> (Addr, bool) {
    match only_swap(a) {
        Effect::Swap { destination, .. } => (destination.address.clone(), destination.own),
        _ => unreachable!(),
    }
}

// ---------------------------------------------------------------------------------------
// Fixtures.

/// visualsign-parser's `sample_route.json`: instruction 4 of mainnet transaction
/// 441ttot8CzpgsiRHvAHnNTCBwbSnPuhuy43pCjzZU9BKwBuJeW8f4TMU7FYLeqBst6WJeMEHprdQxr4thxqZSxRs
/// (WSOL -> USELESS), rebuilt as a one-instruction transaction with its accounts and data.
fn mainnet_route() -> (Pubkey, Instruction) {
    let k = |s: &str| s.parse::<Pubkey>().unwrap();
    let user = k("B7hSadyLX8YhNT8RDcK8RbnR3KAfX4HbWvV89XmeqitA");
    let accounts = vec![
        ro(TOKEN_PROGRAM),
        AccountMeta::new(user, true),
        rw(k("3c5JEJ3un3HZAtWvZ77nhNGxDGqmWM7uZ1cx4bGDsKE8")),
        rw(k("FAXnNWMXbadmfMTfWtEu3WDymtRwsxYLGdbKoJbfLKsK")),
        ro(JUP),
        ro(k("Dz9mQ9NzkBcCsuGPFJ3r1bS4wgqKMHBPiVuniW8Mbonk")),
        ro(JUP),
        ro(EVENT_AUTHORITY),
        ro(JUP),
        ro(WHIRLPOOL),
        ro(TOKEN_PROGRAM),
        ro(TOKEN_PROGRAM),
        ro(k("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")),
        AccountMeta::new_readonly(user, true),
        rw(k("CCifuNxNLBZV9ch94GQ4QgdrmbBdG13xDfReomzqvhMC")),
        ro(NATIVE_MINT),
        ro(k("Dz9mQ9NzkBcCsuGPFJ3r1bS4wgqKMHBPiVuniW8Mbonk")),
        rw(k("3c5JEJ3un3HZAtWvZ77nhNGxDGqmWM7uZ1cx4bGDsKE8")),
        rw(k("4iBF54K8AY5dbwFZL8JBktqDrRvAnEkBs42aSRDYB14p")),
        rw(k("FAXnNWMXbadmfMTfWtEu3WDymtRwsxYLGdbKoJbfLKsK")),
        rw(k("3YYrbiosq79pthXhFV8MwXThXWgb4Wn85fMiqPoo8dq4")),
        rw(k("FdV51SZanY1thtYtseN5enYiASp78r7gtEcTo3xxg1eS")),
        rw(k("4ThAi4HvBnXpgjBs5BDUQHosHjqMc1G6b9L88Djq1Ue8")),
        rw(k("EHmLbEKVdix9brJJ13ey5o3VHo2f8w8Rr5NEwhBtHrrT")),
        rw(k("68sWwn3c2exPMnAGe2STD3LFAc97bVBvGaGCHSEctK1")),
    ];
    let data =
        hex::decode("e517cb977ae3ad2a010000002f010064000180841e00000000003da9170000000000320000")
            .unwrap();
    (user, Instruction::new_with_bytes(JUP, &data, accounts))
}

#[test]
fn mainnet_route_decodes_with_the_published_amounts() {
    let (user, ix) = mainnet_route();
    let a = judge(&[ix], &user);
    match only_swap(&a) {
        Effect::Swap {
            instruction,
            authority,
            source,
            destination,
            source_mint,
            destination_mint,
            amount_in,
            amount_out,
            quote,
            platform_fee_bps,
            platform_fee_account,
            ..
        } => {
            assert_eq!(*instruction, "jupiter route");
            assert_eq!(authority.address, Addr::Known(user));
            assert!(authority.own);
            // Route does not name the input mint, but the source is the user's wSOL ATA
            // and the ownership set always includes the wrapped-SOL mint.
            assert!(source.own);
            assert_eq!(
                destination.address.to_string(),
                "FAXnNWMXbadmfMTfWtEu3WDymtRwsxYLGdbKoJbfLKsK"
            );
            assert!(destination.own);
            // Route does not name the input mint; the source being the user's wSOL ATA
            // proves it.
            assert_eq!(*source_mint, Some(Addr::Known(NATIVE_MINT)));
            assert_eq!(
                destination_mint
                    .as_ref()
                    .map(ToString::to_string)
                    .as_deref(),
                Some("Dz9mQ9NzkBcCsuGPFJ3r1bS4wgqKMHBPiVuniW8Mbonk")
            );
            assert_eq!(*amount_in, SwapAmount::Exact(2_000_000));
            let q = quote.unwrap();
            assert_eq!(q.quoted_amount, 1_550_653);
            assert_eq!(q.slippage_bps, 50);
            // 1_550_653 * 9950 / 10000 = 1_542_899.7
            assert_eq!(*amount_out, SwapAmount::AtLeast(1_542_899));
            assert_eq!(*platform_fee_bps, 0);
            assert_eq!(*platform_fee_account, None);
        }
        _ => unreachable!(),
    }
    // The destination is the user's USELESS ATA under the classic token program.
    let useless: Pubkey = "Dz9mQ9NzkBcCsuGPFJ3r1bS4wgqKMHBPiVuniW8Mbonk"
        .parse()
        .unwrap();
    assert_eq!(
        ata(&user, &useless).to_string(),
        "FAXnNWMXbadmfMTfWtEu3WDymtRwsxYLGdbKoJbfLKsK"
    );
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
    assert_eq!(
        a.summary,
        "Swap exactly 0.002 SOL for at least 1542899 base units (decimals unknown) \
         of mint Dz9m…bonk, to your account FAXn…LKsK"
    );
}

/// The Jupiter fixtures: (file, name, in_amount, quoted_out, destination, verdict).
const FIXTURE_SWAPS: &[(&str, &str, u64, u64, &str, Verdict)] = &[
    (
        "visualsign.json",
        "visualsign:visualsign.rs:904:test_jupiter_swap_transaction",
        100_000,
        81_555,
        "B92fNF9V69fVPSqXDSK144xS1aWrN8yi95SbowXtbPuq",
        Verdict::Auto,
    ),
    (
        "visualsign.json",
        "visualsign:visualsign.rs:985:test_v0_transaction",
        1_000_000,
        4_790_660,
        "CNnqCiSWvQMRqNdaQ3TvuTMumQ4GcPDhBAMBMNC4j3Q3",
        Verdict::Auto,
    ),
    (
        "visualsign.json",
        "visualsign:lib.rs:31:test_solana_charset_validation",
        1_000_000,
        213_172,
        "A4LJ45pwyDdknYyWx5XVGH4xpPJdgvNdFpkdNhtvmSZL",
        Verdict::Auto,
    ),
    (
        "walletcore.json",
        "wc:solana_transaction.rs:58:test_solana_decode_transaction:encoded_tx",
        1_000_000_000,
        102_012_566,
        "7m57LBTxtzhWn6WdFxKtnoJLBQXyNERLYebebXLVaKy3",
        // The output mint sits in a lookup table the fixture does not provide.
        Verdict::Confirm,
    ),
];

#[test]
fn fixture_swaps_decode() {
    let entries = all_entries();
    for (file, name, amount, quoted, dest, verdict) in FIXTURE_SWAPS {
        let (_, _, bytes, _) = entries
            .iter()
            .find(|(f, n, _, _)| f == file && n == name)
            .unwrap_or_else(|| panic!("fixture {name} missing"));
        let tx = ParsedTransaction::parse_any(bytes).unwrap();
        let payer = *tx.fee_payer().unwrap();
        let a = assess_as(&tx, payer, &[]);
        check(&a);
        match only_swap(&a) {
            Effect::Swap {
                amount_in,
                amount_out,
                quote,
                destination,
                ..
            } => {
                assert_eq!(*amount_in, SwapAmount::Exact(*amount), "{name}");
                let q = quote.unwrap();
                assert_eq!(q.quoted_amount, *quoted, "{name}");
                assert_eq!(q.slippage_bps, 50, "{name}");
                let min = (u128::from(*quoted) * 9950 / 10000) as u64;
                assert_eq!(*amount_out, SwapAmount::AtLeast(min), "{name}");
                assert_eq!(destination.address.to_string(), *dest, "{name}");
                assert_eq!(destination.own, *verdict == Verdict::Auto, "{name}");
            }
            _ => unreachable!(),
        }
        assert_eq!(a.verdict, *verdict, "{name}: {:?}", a.reasons);
    }
}

#[test]
fn fixture_destinations_are_the_fee_payers_atas() {
    // Checked independently of the decoder: the auto fixtures' destinations are the
    // classic-token ATAs of their fee payers for the route's output mint.
    let k = |s: &str| s.parse::<Pubkey>().unwrap();
    for (wallet, mint, dest) in [
        (
            "6DSxAQ2HdBLGYwa3AQf6hXXjNZ762p761ANxBDqrao5P",
            "J1toso1uCk3RLmjorhTtrVwY9HJ7X8V9yYac6Y7kGCPn",
            "B92fNF9V69fVPSqXDSK144xS1aWrN8yi95SbowXtbPuq",
        ),
        (
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            "So11111111111111111111111111111111111111112",
            "CNnqCiSWvQMRqNdaQ3TvuTMumQ4GcPDhBAMBMNC4j3Q3",
        ),
        (
            "6DSxAQ2HdBLGYwa3AQf6hXXjNZ762p761ANxBDqrao5P",
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            "A4LJ45pwyDdknYyWx5XVGH4xpPJdgvNdFpkdNhtvmSZL",
        ),
    ] {
        assert_eq!(ata(&k(wallet), &k(mint)), k(dest));
    }
}

#[test]
fn shared_accounts_route_fixture_data_decodes() {
    // The data of visualsign's shared_accounts_route fixture (whose whole transaction is
    // over the size limit), with hand-picked accounts.
    let data = hex::decode(
        "c1209b3341d69c810502000000196400014f64010240420f0000000000a55e030000000000320000",
    )
    .unwrap();
    let me = key(1);
    let (src, dst) = (ata(&me, &NATIVE_MINT), ata(&me, &USDC));
    let ix = jup(
        data,
        vec![
            ro(TOKEN_PROGRAM),
            ro(key(20)),
            AccountMeta::new(me, true),
            rw(src),
            rw(key(21)),
            rw(key(22)),
            rw(dst),
            ro(NATIVE_MINT),
            ro(USDC),
            ro(JUP),
            ro(JUP),
            ro(EVENT_AUTHORITY),
            ro(JUP),
        ],
    );
    let a = judge(&[ix], &me);
    match only_swap(&a) {
        Effect::Swap {
            instruction,
            source,
            source_mint,
            amount_in,
            amount_out,
            quote,
            platform_fee_account,
            ..
        } => {
            assert_eq!(*instruction, "jupiter shared_accounts_route");
            assert!(source.own);
            assert_eq!(*source_mint, Some(Addr::Known(NATIVE_MINT)));
            assert_eq!(*amount_in, SwapAmount::Exact(1_000_000));
            assert_eq!(quote.unwrap().quoted_amount, 220_837);
            assert_eq!(*amount_out, SwapAmount::AtLeast(219_732));
            assert_eq!(*platform_fee_account, None);
        }
        _ => unreachable!(),
    }
    assert_eq!(swap_destination(&a), (Addr::Known(dst), true));
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
}

// ---------------------------------------------------------------------------------------
// Policy on hand-built routes.

#[test]
fn full_swap_to_own_ata_is_auto() {
    // The usual Jupiter shape: budget, wrap SOL into the own wSOL ATA, create the output
    // ATA, route, unwrap.
    let me = key(1);
    let wsol = ata(&me, &NATIVE_MINT);
    let a = judge(
        &[
            cu_limit(300_000),
            cu_price(10_000),
            create_ata(&me, &me, &NATIVE_MINT, &TOKEN_PROGRAM),
            sol_transfer(&me, &wsol, 2_000_000),
            sync_native(&TOKEN_PROGRAM, &wsol),
            create_ata(&me, &me, &USDC, &TOKEN_PROGRAM),
            route(&my_route(me), standard_data()),
            close_token_account(&wsol, &me, &me),
        ],
        &me,
    );
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
    assert!(
        a.summary
            .starts_with("Swap exactly 0.002 SOL for at least 1.542899 USDC, to your account"),
        "{}",
        a.summary
    );
    assert!(a.summary.contains("to your account"), "{}", a.summary);
}

#[test]
fn explicit_own_destination_and_token_2022_ata_are_own() {
    let me = key(1);
    let t22 = associated_token_address(&me, &USDC, &TOKEN_2022_PROGRAM).unwrap();
    let r = Route {
        destination: Some(t22),
        user_destination: key(30),
        ..my_route(me)
    };
    let a = judge(&[route(&r, standard_data())], &me);
    assert_eq!(swap_destination(&a), (Addr::Known(t22), true));
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
}

#[test]
fn output_to_own_wallet_is_auto() {
    // Native SOL output straight into a wallet of the user.
    let (me, other) = (key(1), key(2));
    let r = Route {
        destination: Some(other),
        destination_mint: NATIVE_MINT,
        ..my_route(me)
    };
    let tx = parse_legacy(&[route(&r, standard_data())], &me);
    let a = assess_as(&tx, me, &[other]);
    check(&a);
    assert_eq!(swap_destination(&a), (Addr::Known(other), true));
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
}

#[test]
fn output_to_foreign_account_is_confirm() {
    let (me, them) = (key(1), key(9));
    let foreign = ata(&them, &USDC);
    for r in [
        // Explicit destination_token_account.
        Route {
            destination: Some(foreign),
            ..my_route(me)
        },
        // user_destination_token_account that is not the user's.
        Route {
            user_destination: foreign,
            ..my_route(me)
        },
        // The user's ATA for a mint the transaction never names: not provable.
        Route {
            user_destination: ata(&me, &key(40)),
            ..my_route(me)
        },
    ] {
        let a = judge(&[route(&r, standard_data())], &me);
        assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);
        let reason = format!(
            "Swap output goes to {}",
            custos_txdecode::describe::short_pubkey(
                &swap_destination(&a).0.known().copied().unwrap()
            )
        );
        assert!(
            a.reasons
                .iter()
                .any(|x| x.starts_with(&reason) && x.contains("(not yours)")),
            "{:?}",
            a.reasons
        );
        assert!(a.summary.contains("(not yours)"), "{}", a.summary);
    }
}

#[test]
fn swap_plus_transfer_to_stranger_is_confirm() {
    let (me, them) = (key(1), key(9));
    let a = judge(
        &[
            route(&my_route(me), standard_data()),
            sol_transfer(&me, &them, 200_000),
        ],
        &me,
    );
    assert_eq!(a.verdict, Verdict::Confirm);
    assert!(
        a.reasons.iter().any(|r| r.starts_with("Sends 0.0002 SOL")),
        "{:?}",
        a.reasons
    );
}

#[test]
fn swap_with_huge_priority_fee_rejects() {
    let me = key(1);
    let a = judge(
        &[
            cu_limit(1_400_000),
            cu_price(1_000_000_000),
            route(&my_route(me), standard_data()),
        ],
        &me,
    );
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(a.reasons[0].starts_with("priority fee"), "{:?}", a.reasons);
}

#[test]
fn truncated_or_malformed_routes_reject() {
    let me = key(1);
    let full = standard_data();
    // Cut anywhere from the discriminator to just before a complete tail + plan prefix.
    for len in [0, 4, 7, 8, 11, 8 + 19, 8 + 19 + 3] {
        let a = judge(&[route(&my_route(me), full[..len].to_vec())], &me);
        assert_eq!(a.verdict, Verdict::Reject, "len {len}");
        assert!(
            matches!(a.effects.as_slice(), [Effect::Malformed { .. }]),
            "len {len}: {:?}",
            a.effects
        );
    }
    // Shared route with only the id byte; v2 route without the route_plan prefix.
    for data in [
        SHARED_ACCOUNTS_ROUTE
            .iter()
            .copied()
            .chain([5])
            .collect::<Vec<u8>>(),
        {
            let mut d = v2_data(ROUTE_V2, None, 1, 1, 50, 0);
            d.truncate(d.len() - ROUTE_PLAN.len());
            d
        },
    ] {
        let a = judge(&[jup(data, vec![AccountMeta::new(me, true); 14])], &me);
        assert_eq!(a.verdict, Verdict::Reject, "{:?}", a.effects);
        assert!(swaps(&a).is_empty());
    }
    // Too few accounts.
    let a = judge(
        &[Instruction::new_with_bytes(
            JUP,
            &full,
            vec![ro(TOKEN_PROGRAM), AccountMeta::new(me, true)],
        )],
        &me,
    );
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(
        a.reasons[0].contains("needs 9 accounts, has 2"),
        "{:?}",
        a.reasons
    );
}

#[test]
fn other_jupiter_instructions_reject() {
    let me = key(1);
    let a = judge(
        &[jup(CLAIM.to_vec(), vec![AccountMeta::new(me, true)])],
        &me,
    );
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(
        a.reasons[0].contains("unsupported instruction discriminator 3ec6d6c1d59f6cd2"),
        "{:?}",
        a.reasons
    );
}

#[test]
fn platform_fee_cap() {
    let (me, them) = (key(1), key(9));
    let fee_to = |fee: u8, account: Pubkey| {
        let r = Route {
            platform_fee: Some(account),
            ..my_route(me)
        };
        judge(
            &[route(
                &r,
                v1_data(ROUTE, None, 2_000_000, 1_550_653, 50, fee),
            )],
            &me,
        )
    };
    // Within the default 100 bps cap: fine even to a foreign fee account.
    let a = fee_to(100, ata(&them, &USDC));
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
    assert!(
        a.summary.contains("platform fee 1 % (100 bps)"),
        "{}",
        a.summary
    );
    // Above it: confirm.
    let a = fee_to(101, ata(&them, &USDC));
    assert_eq!(a.verdict, Verdict::Confirm);
    assert!(
        a.reasons[0].starts_with("Swap pays a 1.01 % (101 bps) platform fee to"),
        "{:?}",
        a.reasons
    );
    // Above it but to the user's own account: fine.
    let a = fee_to(200, ata(&me, &USDC));
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
    // Configurable.
    let config = PolicyConfig {
        max_platform_fee_bps: 250,
        ..PolicyConfig::default()
    };
    let r = Route {
        platform_fee: Some(ata(&them, &USDC)),
        ..my_route(me)
    };
    let a = judge_with(
        &[route(&r, v1_data(ROUTE, None, 1, 1, 50, 200))],
        &me,
        &config,
        None,
    );
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
    // serde default: older configs without the field still load.
    let c: PolicyConfig = serde_json::from_str(r#"{"max_priority_fee_lamports": 5}"#).unwrap();
    assert_eq!(c.max_platform_fee_bps, 100);
    assert_eq!(c.max_slippage_bps, 300);
}

#[test]
fn slippage_cap() {
    let me = key(1);
    let a = judge(
        &[route(
            &my_route(me),
            v1_data(ROUTE, None, 2_000_000, 1_550_653, 10_000, 0),
        )],
        &me,
    );
    match only_swap(&a) {
        Effect::Swap { amount_out, .. } => assert_eq!(*amount_out, SwapAmount::AtLeast(0)),
        _ => unreachable!(),
    }
    assert_eq!(a.verdict, Verdict::Confirm);
    assert!(
        a.reasons[0].starts_with("Swap accepts 100 % (10000 bps) slippage"),
        "{:?}",
        a.reasons
    );
    let a = judge(
        &[route(
            &my_route(me),
            v1_data(ROUTE, None, 2_000_000, 1_550_653, 300, 0),
        )],
        &me,
    );
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
}

#[test]
fn someone_elses_swap_is_neutral() {
    // The user only pays the fee for a stranger's swap into the stranger's account.
    let (me, them) = (key(1), key(9));
    let r = Route {
        destination: Some(key(10)),
        ..my_route(them)
    };
    let ix = route(&r, standard_data());
    let tx = parse_legacy(&[ix], &me);
    let a = assess_as(&tx, me, &[]);
    check(&a);
    let s = only_swap(&a);
    match s {
        Effect::Swap { authority, .. } => assert!(!authority.own),
        _ => unreachable!(),
    }
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
}

#[test]
fn exact_out_and_token_ledger_routes() {
    let me = key(1);
    let (src, dst) = (ata(&me, &NATIVE_MINT), ata(&me, &USDC));
    // exact_out_route: [token_program, authority, source, user_destination, destination?,
    // source_mint, destination_mint, platform_fee?, token_2022_program?, event, program].
    let ix = jup(
        v1_data(EXACT_OUT_ROUTE, None, 5_000, 1_000, 50, 0),
        vec![
            ro(TOKEN_PROGRAM),
            AccountMeta::new(me, true),
            rw(src),
            rw(dst),
            ro(JUP),
            ro(NATIVE_MINT),
            ro(USDC),
            ro(JUP),
            ro(JUP),
            ro(EVENT_AUTHORITY),
            ro(JUP),
        ],
    );
    let a = judge(&[ix], &me);
    match only_swap(&a) {
        Effect::Swap {
            amount_in,
            amount_out,
            source_mint,
            ..
        } => {
            assert_eq!(*amount_out, SwapAmount::Exact(5_000));
            assert_eq!(*amount_in, SwapAmount::AtMost(1_005));
            assert_eq!(*source_mint, Some(Addr::Known(NATIVE_MINT)));
        }
        _ => unreachable!(),
    }
    assert_eq!(swap_destination(&a), (Addr::Known(dst), true));
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
    assert!(
        a.summary
            .starts_with("Swap up to 0.000001005 SOL for exactly 0.005 USDC"),
        "{}",
        a.summary
    );

    // route_with_token_ledger: tail has no in_amount; one more account (token_ledger).
    let mut data = ROUTE_WITH_TOKEN_LEDGER.to_vec();
    data.extend_from_slice(&ROUTE_PLAN);
    data.extend_from_slice(&1_000u64.to_le_bytes());
    data.extend_from_slice(&50u16.to_le_bytes());
    data.push(0);
    let mut accounts = vec![
        ro(TOKEN_PROGRAM),
        AccountMeta::new(me, true),
        rw(src),
        rw(dst),
        ro(JUP),
        ro(USDC),
        ro(JUP),
        rw(key(50)),
        ro(EVENT_AUTHORITY),
        ro(JUP),
    ];
    let a = judge(&[jup(data.clone(), accounts.clone())], &me);
    match only_swap(&a) {
        Effect::Swap {
            amount_in,
            amount_out,
            ..
        } => {
            assert_eq!(*amount_in, SwapAmount::FromTokenLedger);
            assert_eq!(*amount_out, SwapAmount::AtLeast(995));
        }
        _ => unreachable!(),
    }
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
    // With only the 9 accounts of a plain route it is malformed.
    accounts.truncate(9);
    let a = judge(&[Instruction::new_with_bytes(JUP, &data, accounts)], &me);
    assert_eq!(a.verdict, Verdict::Reject);
}

#[test]
fn each_v2_variant_decodes() {
    let (me, them) = (key(1), key(9));
    let (src, dst) = (ata(&me, &NATIVE_MINT), ata(&me, &USDC));
    let foreign = ata(&them, &USDC);
    // route_v2 / exact_out_route_v2: [authority, source, user_destination, source_mint,
    // destination_mint, source_token_program, destination_token_program, destination?,
    // event, program].
    let plain = |disc, destination: Option<Pubkey>| {
        jup(
            v2_data(disc, None, 7_000, 10_000, 100, 20),
            vec![
                AccountMeta::new(me, true),
                rw(src),
                rw(dst),
                ro(NATIVE_MINT),
                ro(USDC),
                ro(TOKEN_PROGRAM),
                ro(TOKEN_PROGRAM),
                destination.map(rw).unwrap_or(ro(JUP)),
                ro(EVENT_AUTHORITY),
                ro(JUP),
            ],
        )
    };
    // shared_accounts_*_v2: [program_authority, authority, source, program_source,
    // program_destination, destination, source_mint, destination_mint,
    // source_token_program, destination_token_program, event, program].
    let shared = |disc, destination: Pubkey| {
        jup(
            v2_data(disc, Some(3), 7_000, 10_000, 100, 20),
            vec![
                ro(key(20)),
                AccountMeta::new(me, true),
                rw(src),
                rw(key(21)),
                rw(key(22)),
                rw(destination),
                ro(NATIVE_MINT),
                ro(USDC),
                ro(TOKEN_PROGRAM),
                ro(TOKEN_2022_PROGRAM),
                ro(EVENT_AUTHORITY),
                ro(JUP),
            ],
        )
    };
    let exact_in = (SwapAmount::Exact(7_000), SwapAmount::AtLeast(9_900));
    let exact_out = (SwapAmount::AtMost(10_100), SwapAmount::Exact(7_000));
    let cases = [
        ("jupiter route_v2", plain(ROUTE_V2, None), exact_in, dst),
        (
            "jupiter route_v2",
            plain(ROUTE_V2, Some(foreign)),
            exact_in,
            foreign,
        ),
        (
            "jupiter exact_out_route_v2",
            plain(EXACT_OUT_ROUTE_V2, None),
            exact_out,
            dst,
        ),
        (
            "jupiter shared_accounts_route_v2",
            shared(SHARED_ACCOUNTS_ROUTE_V2, dst),
            exact_in,
            dst,
        ),
        (
            "jupiter shared_accounts_exact_out_route_v2",
            shared(SHARED_ACCOUNTS_EXACT_OUT_ROUTE_V2, foreign),
            exact_out,
            foreign,
        ),
    ];
    for (name, ix, (amount_in, amount_out), destination) in cases {
        let a = judge(&[ix], &me);
        match only_swap(&a) {
            Effect::Swap {
                instruction,
                amount_in: got_in,
                amount_out: got_out,
                source_mint,
                destination_mint,
                quote,
                platform_fee_bps,
                platform_fee_account,
                ..
            } => {
                assert_eq!(*instruction, name);
                assert_eq!((*got_in, *got_out), (amount_in, amount_out), "{name}");
                assert_eq!(*source_mint, Some(Addr::Known(NATIVE_MINT)));
                assert_eq!(*destination_mint, Some(Addr::Known(USDC)));
                assert_eq!((quote.unwrap().slippage_bps, *platform_fee_bps), (100, 20));
                assert_eq!(*platform_fee_account, None);
            }
            _ => unreachable!(),
        }
        let own = destination == dst;
        assert_eq!(
            swap_destination(&a),
            (Addr::Known(destination), own),
            "{name}"
        );
        let want = if own { Verdict::Auto } else { Verdict::Confirm };
        assert_eq!(a.verdict, want, "{name}: {:?}", a.reasons);
    }
}

#[test]
fn unresolved_destination_is_unproven() {
    // The output account sits in a lookup table that was not provided: confirm.
    use solana_message::{v0, Hash, VersionedMessage};
    use solana_transaction::versioned::VersionedTransaction;
    let me = key(1);
    let table = key(60);
    let ix = route(
        &Route {
            user_destination: key(61),
            ..my_route(me)
        },
        standard_data(),
    );
    let lookup = solana_message::AddressLookupTableAccount {
        key: table,
        addresses: vec![key(61)],
    };
    let msg =
        v0::Message::try_compile(&me, &[ix], &[lookup], Hash::new_from_array([7; 32])).unwrap();
    let wire = wincode::serialize(&VersionedTransaction::new_unsigned(VersionedMessage::V0(
        msg,
    )))
    .unwrap();
    let tx = ParsedTransaction::parse(&wire).unwrap();
    let a = assess_as(&tx, me, &[]);
    check(&a);
    assert!(matches!(
        swap_destination(&a),
        (Addr::Unresolved { .. }, false)
    ));
    assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);
}
