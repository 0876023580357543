//! Tips, operator fees and intents, on the usual Jupiter swap shape (wrap SOL, create
//! the output ATA, route, unwrap) with extras appended.

mod common;

use common::*;
use custos_txdecode::policy::JITO_TIP_ACCOUNTS;
use custos_txdecode::programs::{JUPITER_V6_PROGRAM, NATIVE_MINT, TOKEN_PROGRAM};
use custos_txdecode::tokens::Base58Address;
use custos_txdecode::{Intent, PolicyConfig, Pubkey, Verdict};
use solana_message::{AccountMeta, Instruction};

const EVENT_AUTHORITY: Pubkey =
    Pubkey::from_str_const("D8cy77BBepLMngZx6ZukaTff5hCt1HrWyKk3Hnd9oitf");

/// A USDC TransferChecked.
fn token_transfer(src: &Pubkey, dst: &Pubkey, owner: &Pubkey, amount: u64) -> Instruction {
    transfer_checked(&TOKEN_PROGRAM, src, &USDC, dst, owner, amount, 6)
}

/// Jupiter `route`: 2_000_000 lamports of wSOL for at least 1_542_899 USDC (quote
/// 1_550_653, 0.5 % slippage), output to `me`'s USDC ATA.
fn route(me: &Pubkey) -> Instruction {
    let mut data = vec![0xe5, 0x17, 0xcb, 0x97, 0x7a, 0xe3, 0xad, 0x2a];
    data.extend_from_slice(&[1, 0, 0, 0, 0x2f, 1, 0, 100, 0]);
    data.extend_from_slice(&2_000_000u64.to_le_bytes());
    data.extend_from_slice(&1_550_653u64.to_le_bytes());
    data.extend_from_slice(&50u16.to_le_bytes());
    data.push(0);
    Instruction::new_with_bytes(
        JUPITER_V6_PROGRAM,
        &data,
        vec![
            ro(TOKEN_PROGRAM),
            AccountMeta::new(*me, true),
            rw(ata(me, &NATIVE_MINT)),
            rw(ata(me, &USDC)),
            ro(JUPITER_V6_PROGRAM),
            ro(USDC),
            ro(JUPITER_V6_PROGRAM),
            ro(EVENT_AUTHORITY),
            ro(JUPITER_V6_PROGRAM),
        ],
    )
}

/// The usual swap, with `extra` appended.
fn swap_with(me: &Pubkey, extra: Vec<Instruction>) -> Vec<Instruction> {
    let wsol = ata(me, &NATIVE_MINT);
    let mut ixs = vec![
        create_ata(me, me, &NATIVE_MINT, &TOKEN_PROGRAM),
        sol_transfer(me, &wsol, 2_000_000),
        sync_native(&TOKEN_PROGRAM, &wsol),
        create_ata(me, me, &USDC, &TOKEN_PROGRAM),
        route(me),
        close_token_account(&wsol, me, me),
    ];
    ixs.extend(extra);
    ixs
}

#[test]
fn the_jito_tip_accounts_are_the_tip_payment_program_pdas() {
    let program = Pubkey::from_str_const("T1pyyaTNZsKv2WcRAB8oVnk93mLJw2XzjtVYqCsaHqt");
    for (n, expected) in JITO_TIP_ACCOUNTS.iter().enumerate() {
        let seed = format!("TIP_ACCOUNT_{n}");
        let (pda, _) = Pubkey::find_program_address(&[seed.as_bytes()], &program);
        assert_eq!(pda, *expected, "{seed}");
    }
}

#[test]
fn a_tip_within_the_cap_is_signed_and_a_huge_one_is_put_to_the_user() {
    let me = key(1);
    let config = PolicyConfig::default();
    let tip = JITO_TIP_ACCOUNTS[3];
    let a = judge_with(
        &swap_with(&me, vec![sol_transfer(&me, &tip, 100_000)]),
        &me,
        &config,
        None,
    );
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
    assert!(
        a.warnings.iter().any(|w| w.contains("0.0001 SOL tip")),
        "{:?}",
        a.warnings
    );
    assert_eq!(a.fee.tip_lamports, 100_000);
    assert!(a.to_text().contains("plus a 0.0001 SOL tip"));

    // Two tips adding up past the cap.
    let huge = vec![
        sol_transfer(&me, &tip, 6_000_000),
        sol_transfer(&me, &JITO_TIP_ACCOUNTS[0], 6_000_000),
    ];
    let a = judge_with(&swap_with(&me, huge), &me, &config, None);
    assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);
    assert!(
        a.reasons[0].starts_with("Tips 0.012 SOL"),
        "{:?}",
        a.reasons
    );

    // Nozomi's tip accounts are known too.
    let nozomi = custos_txdecode::policy::NOZOMI_TIP_ACCOUNTS[16];
    let a = judge_with(
        &swap_with(&me, vec![sol_transfer(&me, &nozomi, 1_000_000)]),
        &me,
        &config,
        None,
    );
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);

    // The same SOL to an address that is not a tip account is a withdrawal.
    let a = judge_with(
        &swap_with(&me, vec![sol_transfer(&me, &key(9), 100_000)]),
        &me,
        &config,
        None,
    );
    assert_eq!(a.verdict, Verdict::Confirm);
}

#[test]
fn operator_fees_are_capped_by_share_of_the_swap() {
    let me = key(1);
    let operator = key(50);
    let config = PolicyConfig {
        operator_fee_accounts: vec![Base58Address(operator)],
        ..PolicyConfig::default()
    };
    // 1 % of the 2_000_000-lamport input is 20_000.
    let ok = judge_with(
        &swap_with(&me, vec![sol_transfer(&me, &operator, 20_000)]),
        &me,
        &config,
        None,
    );
    assert_eq!(ok.verdict, Verdict::Auto, "{:?}", ok.reasons);
    assert!(ok
        .warnings
        .iter()
        .any(|w| w.contains("operator fee of 0.00002 SOL")));
    let over = judge_with(
        &swap_with(&me, vec![sol_transfer(&me, &operator, 20_001)]),
        &me,
        &config,
        None,
    );
    assert_eq!(over.verdict, Verdict::Confirm, "{:?}", over.reasons);

    // A USDC fee to the operator's USDC ATA, against the 1_542_899 USDC minimum output.
    let fee = token_transfer(&ata(&me, &USDC), &ata(&operator, &USDC), &me, 15_428);
    let a = judge_with(&swap_with(&me, vec![fee]), &me, &config, None);
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
    let fee = token_transfer(&ata(&me, &USDC), &ata(&operator, &USDC), &me, 15_429);
    assert_eq!(
        judge_with(&swap_with(&me, vec![fee]), &me, &config, None).verdict,
        Verdict::Confirm
    );

    // Without a swap there is nothing to take a share of: the user is asked.
    let alone = judge_with(&[sol_transfer(&me, &operator, 1)], &me, &config, None);
    assert_eq!(alone.verdict, Verdict::Confirm, "{:?}", alone.reasons);
    // An unconfigured operator is just a third party.
    let a = judge_with(
        &swap_with(&me, vec![sol_transfer(&me, &operator, 20_000)]),
        &me,
        &PolicyConfig::default(),
        None,
    );
    assert_eq!(a.verdict, Verdict::Confirm);
}

fn swap_intent(min_out: u64, max_in: u64) -> Intent {
    Intent::Swap {
        input_mint: NATIVE_MINT,
        output_mint: USDC,
        max_amount_in: max_in,
        min_amount_out: min_out,
    }
}

#[test]
fn a_swap_matching_its_intent_is_auto_and_any_difference_is_refused() {
    let me = key(1);
    let config = PolicyConfig::default();
    let ixs = swap_with(&me, vec![]);
    let a = judge_with(&ixs, &me, &config, Some(&swap_intent(1_542_899, 2_000_000)));
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);

    for (intent, why) in [
        (swap_intent(1_542_900, 2_000_000), "less than the intended"),
        (swap_intent(1_000_000, 1_999_999), "more than the intended"),
        (
            Intent::Swap {
                input_mint: NATIVE_MINT,
                output_mint: key(77),
                max_amount_in: 2_000_000,
                min_amount_out: 1,
            },
            "output mint",
        ),
        (
            Intent::Transfer {
                destination: key(9),
                mint: None,
                amount: 1,
            },
            "0 transfers leave",
        ),
    ] {
        let a = judge_with(&ixs, &me, &config, Some(&intent));
        assert_eq!(a.verdict, Verdict::Reject, "{intent:?}");
        assert!(
            a.reasons[0].starts_with("Does not match the stated intent")
                && a.reasons[0].contains(why),
            "{:?}",
            a.reasons
        );
    }

    // A transfer appended to the intended swap: refused, not merely confirmed.
    let a = judge_with(
        &swap_with(&me, vec![sol_transfer(&me, &key(9), 1_000)]),
        &me,
        &config,
        Some(&swap_intent(1_542_899, 2_000_000)),
    );
    assert_eq!(a.verdict, Verdict::Reject, "{:?}", a.reasons);
    assert!(
        a.reasons[0].contains("goes beyond the intent"),
        "{:?}",
        a.reasons
    );
    // A tip within the cap is part of trading, not beyond the intent.
    let a = judge_with(
        &swap_with(&me, vec![sol_transfer(&me, &JITO_TIP_ACCOUNTS[1], 1_000)]),
        &me,
        &config,
        Some(&swap_intent(1_542_899, 2_000_000)),
    );
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
}

#[test]
fn a_transfer_matching_its_intent_still_needs_the_user() {
    let me = key(1);
    let to = key(9);
    let config = PolicyConfig::default();
    let sol = Intent::Transfer {
        destination: to,
        mint: None,
        amount: 5_000,
    };
    let a = judge_with(&[sol_transfer(&me, &to, 5_000)], &me, &config, Some(&sol));
    assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);
    for ixs in [
        vec![sol_transfer(&me, &to, 5_001)],
        vec![sol_transfer(&me, &key(10), 5_000)],
        vec![
            sol_transfer(&me, &to, 5_000),
            sol_transfer(&me, &key(10), 1),
        ],
    ] {
        let a = judge_with(&ixs, &me, &config, Some(&sol));
        assert_eq!(a.verdict, Verdict::Reject, "{:?}", a.reasons);
    }
    // Tokens: to the recipient's ATA, or refused.
    let usdc = Intent::Transfer {
        destination: to,
        mint: Some(USDC),
        amount: 7,
    };
    let good = token_transfer(&ata(&me, &USDC), &ata(&to, &USDC), &me, 7);
    assert_eq!(
        judge_with(&[good], &me, &config, Some(&usdc)).verdict,
        Verdict::Confirm
    );
    let elsewhere = token_transfer(&ata(&me, &USDC), &ata(&key(10), &USDC), &me, 7);
    let a = judge_with(&[elsewhere], &me, &config, Some(&usdc));
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(a.reasons[0].contains("not"), "{:?}", a.reasons);
}

#[test]
fn intents_parse_from_json_with_specific_errors() {
    let i = Intent::from_json(
        r#"{"swap":{"input_mint":"So11111111111111111111111111111111111111112","output_mint":"EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v","max_amount_in":1,"min_amount_out":2}}"#,
    )
    .unwrap();
    assert_eq!(i, swap_intent(2, 1));
    let e = Intent::from_json(r#"{"transfer":{"destination":"nope","amount":1}}"#).unwrap_err();
    assert!(e.contains("destination \"nope\""), "{e}");
    let e = Intent::from_json(r#"{"swap":{"input_mint":"x"}}"#).unwrap_err();
    assert!(e.starts_with("intent:"), "{e}");
    assert!(Intent::from_json(r#"{"mint":{}}"#).is_err());
}

#[test]
fn policy_files_set_the_new_knobs_and_reject_bad_addresses() {
    let text = r#"
        max_tip_lamports = 5
        operator_fee_accounts = ["11111111111111111111111111111111"]
        max_operator_fee_bps = 50
        unknown_programs = "confirm"
        [[tokens]]
        mint = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
        symbol = "USDC"
        decimals = 6
    "#;
    let c: PolicyConfig = toml::from_str(text).unwrap();
    assert_eq!(c.max_tip_lamports, 5);
    assert_eq!(c.max_operator_fee_bps, 50);
    assert_eq!(c.tip_accounts.len(), 25, "defaults stay for knobs not set");
    let bad: Result<PolicyConfig, _> = toml::from_str("operator_fee_accounts = [\"zz\"]");
    assert!(bad.unwrap_err().to_string().contains("invalid"));
}

#[test]
fn the_documented_example_policy_is_exactly_the_defaults() {
    let text = include_str!("../../../docs/policy.example.toml");
    let c: PolicyConfig = toml::from_str(text).unwrap();
    assert_eq!(c, PolicyConfig::default());
}
