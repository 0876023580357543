//! Token-2022 beyond transfers: mint and account configuration, withheld fees, transfer
//! hooks, and the confidential-transfer instructions Custos does not decode.

mod common;

use common::*;
use custos_txdecode::programs::{TOKEN_2022_PROGRAM, TOKEN_PROGRAM};
use custos_txdecode::{associated_token_address, Effect, Pubkey, TokenConfigKind, Verdict};
use solana_message::{AccountMeta, Instruction};

fn ix(program: Pubkey, data: Vec<u8>, accounts: &[(Pubkey, bool)]) -> Instruction {
    Instruction::new_with_bytes(
        program,
        &data,
        accounts
            .iter()
            .map(|(k, signer)| AccountMeta::new(*k, *signer))
            .collect(),
    )
}

#[test]
fn extension_initialisation_is_neutral_and_updates_by_the_user_are_confirmed() {
    let me = key(1);
    let mint = key(20);
    let cases: Vec<(Vec<u8>, &str, TokenConfigKind)> = vec![
        (
            vec![36, 0].into_iter().chain([3; 64]).collect(),
            "TransferHook Initialize",
            TokenConfigKind::Initialize,
        ),
        (
            vec![36, 1].into_iter().chain([3; 32]).collect(),
            "TransferHook Update",
            TokenConfigKind::Update,
        ),
        (
            vec![39, 1].into_iter().chain([3; 32]).collect(),
            "MetadataPointer Update",
            TokenConfigKind::Update,
        ),
        (
            vec![28, 0, 2],
            "DefaultAccountState Initialize",
            TokenConfigKind::Initialize,
        ),
        (
            vec![33, 1, 5, 0],
            "InterestBearingMint UpdateRate",
            TokenConfigKind::Update,
        ),
        (
            vec![43, 1].into_iter().chain([0; 16]).collect(),
            "ScaledUiAmount UpdateMultiplier",
            TokenConfigKind::Update,
        ),
        (vec![44, 1], "Pausable Pause", TokenConfigKind::Update),
        (
            vec![35].into_iter().chain([4; 32]).collect(),
            "InitializePermanentDelegate",
            TokenConfigKind::Initialize,
        ),
        (
            vec![32],
            "InitializeNonTransferableMint",
            TokenConfigKind::Initialize,
        ),
        (
            vec![25, 0],
            "InitializeMintCloseAuthority",
            TokenConfigKind::Initialize,
        ),
        (
            vec![26, 5, 10, 0, 1, 0, 0, 0, 0, 0, 0, 0],
            "SetTransferFee",
            TokenConfigKind::Update,
        ),
    ];
    for (data, name, kind) in cases {
        let a = judge(
            &[ix(
                TOKEN_2022_PROGRAM,
                data.clone(),
                &[(mint, false), (me, true)],
            )],
            &me,
        );
        match &a.effects[0] {
            Effect::TokenConfigure {
                name: n, kind: k, ..
            } => {
                assert_eq!((*n, *k), (name, kind));
            }
            other => panic!("{name}: {other:?}"),
        }
        let expected = if kind == TokenConfigKind::Update {
            Verdict::Confirm
        } else {
            Verdict::Auto
        };
        assert_eq!(a.verdict, expected, "{name}: {:?}", a.reasons);
        // One byte more is malformed, never silently accepted.
        let mut long = data;
        long.push(0);
        let a = judge(
            &[ix(TOKEN_2022_PROGRAM, long, &[(mint, false), (me, true)])],
            &me,
        );
        assert_eq!(a.verdict, Verdict::Reject, "{name} with trailing data");
    }
}

#[test]
fn mints_and_multisigs_initialise_under_both_programs() {
    let me = key(1);
    let mint = key(20);
    let mut data = vec![20, 6];
    data.extend_from_slice(&[1; 32]);
    data.push(0);
    for program in [TOKEN_PROGRAM, TOKEN_2022_PROGRAM] {
        let a = judge(&[ix(program, data.clone(), &[(mint, false)])], &me);
        assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
        let a = judge(
            &[ix(program, vec![19, 1], &[(key(30), false), (me, false)])],
            &me,
        );
        assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
    }
    // InitializeMint with a freeze authority tag of 2 is malformed.
    let mut bad = vec![20, 6];
    bad.extend_from_slice(&[1; 32]);
    bad.push(2);
    assert_eq!(
        judge(&[ix(TOKEN_PROGRAM, bad, &[(mint, false)])], &me).verdict,
        Verdict::Reject
    );
}

#[test]
fn turning_off_a_protection_of_your_account_is_confirmed() {
    let me = key(1);
    let account = associated_token_address(&me, &key(20), &TOKEN_2022_PROGRAM).unwrap();
    for (data, verdict) in [
        (vec![34, 0], Verdict::Auto),
        (vec![34, 1], Verdict::Confirm),
        (vec![30, 0], Verdict::Auto),
        (vec![30, 1], Verdict::Confirm),
    ] {
        let a = judge(
            &[ix(
                TOKEN_2022_PROGRAM,
                data.clone(),
                &[(account, false), (me, true)],
            )],
            &me,
        );
        assert_eq!(a.verdict, verdict, "{data:?}: {:?}", a.reasons);
    }
}

#[test]
fn withheld_fees_to_a_stranger_and_confidential_transfers_are_not_auto() {
    let me = key(1);
    let a = judge(
        &[ix(
            TOKEN_2022_PROGRAM,
            vec![26, 2],
            &[(key(20), false), (key(9), false), (me, true)],
        )],
        &me,
    );
    assert!(matches!(a.effects[0], Effect::WithdrawWithheld { .. }));
    assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);
    // ConfidentialTransferExtension: value moves invisibly; refused as not decoded.
    let a = judge(&[ix(TOKEN_2022_PROGRAM, vec![27, 7], &[(me, true)])], &me);
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(
        a.reasons[0].contains("not one Custos decodes"),
        "{:?}",
        a.reasons
    );
    // Extension tags mean nothing to the classic token program.
    let a = judge(&[ix(TOKEN_PROGRAM, vec![34, 0], &[(me, true)])], &me);
    assert_eq!(a.verdict, Verdict::Reject);
}

#[test]
fn a_token_2022_transfer_with_hook_accounts_is_flagged() {
    let me = key(1);
    let mint = key(20);
    let src = associated_token_address(&me, &mint, &TOKEN_2022_PROGRAM).unwrap();
    let dst = associated_token_address(&key(2), &mint, &TOKEN_2022_PROGRAM).unwrap();
    let mut data = vec![12];
    data.extend_from_slice(&5u64.to_le_bytes());
    data.push(6);
    let a = assess_as(
        &parse_legacy(
            &[ix(
                TOKEN_2022_PROGRAM,
                data,
                &[
                    (src, false),
                    (mint, false),
                    (dst, false),
                    (me, true),
                    (key(40), false),
                    (key(41), false),
                ],
            )],
            &me,
        ),
        me,
        &[key(2)],
    );
    assert_eq!(a.verdict, Verdict::Auto, "{:?}", a.reasons);
    assert!(
        a.warnings.iter().any(|w| w.contains("transfer hook")),
        "{:?}",
        a.warnings
    );
    match &a.effects[0] {
        Effect::TokenTransfer { extra_accounts, .. } => assert_eq!(extra_accounts.len(), 2),
        other => panic!("{other:?}"),
    }
}
