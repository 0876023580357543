//! Stake program: decoding, verdicts, and the stake fixtures.

mod common;

use common::*;
use custos_txdecode::programs::STAKE_PROGRAM;
use custos_txdecode::{Effect, ParsedTransaction, Pubkey, StakeAction, StakeRole, Verdict};
use solana_message::{AccountMeta, Instruction};

fn stake(tag: u32, rest: &[u8], accounts: Vec<AccountMeta>) -> Instruction {
    let mut data = tag.to_le_bytes().to_vec();
    data.extend_from_slice(rest);
    Instruction::new_with_bytes(STAKE_PROGRAM, &data, accounts)
}

const STAKE_ACCT: u8 = 40;

fn authorize(me: &Pubkey, new: &Pubkey, role: u32) -> Instruction {
    let mut rest = new.to_bytes().to_vec();
    rest.extend_from_slice(&role.to_le_bytes());
    stake(
        1,
        &rest,
        vec![rw(key(STAKE_ACCT)), ro(key(80)), ro_signer(*me)],
    )
}

fn withdraw(me: &Pubkey, to: &Pubkey, lamports: u64) -> Instruction {
    stake(
        4,
        &lamports.to_le_bytes(),
        vec![
            rw(key(STAKE_ACCT)),
            rw(*to),
            ro(key(80)),
            ro(key(81)),
            ro_signer(*me),
        ],
    )
}

fn initialize(staker: &Pubkey, withdrawer: &Pubkey, lockup_epoch: u64) -> Instruction {
    let mut rest = staker.to_bytes().to_vec();
    rest.extend_from_slice(withdrawer.as_ref());
    rest.extend_from_slice(&0i64.to_le_bytes());
    rest.extend_from_slice(&lockup_epoch.to_le_bytes());
    rest.extend_from_slice(Pubkey::default().as_ref());
    stake(0, &rest, vec![rw(key(STAKE_ACCT)), ro(key(82))])
}

#[test]
fn authorize_hand_over_rejects() {
    let (me, them) = (key(1), key(9));
    for role in [0, 1] {
        let a = judge(&[authorize(&me, &them, role)], &me);
        assert_eq!(a.verdict, Verdict::Reject, "{a:?}");
        assert!(a.reasons[0].starts_with("Hands the"), "{:?}", a.reasons);
    }
    // To the user's own key: fine.
    assert_eq!(judge(&[authorize(&me, &me, 1)], &me).verdict, Verdict::Auto);
    // Invalid StakeAuthorize value.
    let a = judge(&[authorize(&me, &them, 2)], &me);
    assert!(matches!(a.effects[0], Effect::Malformed { .. }), "{a:?}");
}

#[test]
fn authorize_checked_and_with_seed_forms() {
    let (me, them) = (key(1), key(9));
    // AuthorizeChecked(Withdrawer): [stake, clock, authority, new_authority]
    let checked = stake(
        10,
        &1u32.to_le_bytes(),
        vec![
            rw(key(STAKE_ACCT)),
            ro(key(80)),
            ro_signer(me),
            ro_signer(them),
        ],
    );
    let a = judge(&[checked], &me);
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(matches!(
        &a.effects[0],
        Effect::StakeAuthorize {
            role: StakeRole::Withdrawer,
            new_authority,
            ..
        } if new_authority.address.known() == Some(&them)
    ));
    // AuthorizeWithSeed { new, role, seed, owner }: [stake, base, clock]
    let mut rest = them.to_bytes().to_vec();
    rest.extend_from_slice(&0u32.to_le_bytes());
    rest.extend_from_slice(&4u64.to_le_bytes());
    rest.extend_from_slice(b"seed");
    rest.extend_from_slice(STAKE_PROGRAM.as_ref());
    let with_seed = stake(
        8,
        &rest,
        vec![rw(key(STAKE_ACCT)), ro_signer(me), ro(key(80))],
    );
    assert_eq!(judge(&[with_seed], &me).verdict, Verdict::Reject);
    // AuthorizeCheckedWithSeed { role, seed, owner }: [stake, base, clock, new]
    let mut rest = 1u32.to_le_bytes().to_vec();
    rest.extend_from_slice(&0u64.to_le_bytes());
    rest.extend_from_slice(STAKE_PROGRAM.as_ref());
    let checked_seed = stake(
        11,
        &rest,
        vec![
            rw(key(STAKE_ACCT)),
            ro_signer(me),
            ro(key(80)),
            ro_signer(me),
        ],
    );
    assert_eq!(judge(&[checked_seed], &me).verdict, Verdict::Auto);
}

#[test]
fn withdraw_judged_by_recipient() {
    let (me, them) = (key(1), key(9));
    assert_eq!(
        judge(&[withdraw(&me, &me, 1_000_000_000)], &me).verdict,
        Verdict::Auto
    );
    let a = judge(&[withdraw(&me, &them, 1_000_000_000)], &me);
    assert_eq!(a.verdict, Verdict::Confirm, "{a:?}");
    assert!(a.reasons[0].starts_with("Sends 1 SOL"), "{:?}", a.reasons);
}

#[test]
fn initialize_with_own_or_foreign_authorities() {
    let (me, them) = (key(1), key(9));
    assert_eq!(
        judge(&[initialize(&me, &me, 0)], &me).verdict,
        Verdict::Auto
    );
    let a = judge(&[initialize(&me, &them, 0)], &me);
    assert_eq!(a.verdict, Verdict::Confirm);
    assert!(
        a.reasons[0].contains("as withdraw authority"),
        "{:?}",
        a.reasons
    );
    let a = judge(&[initialize(&me, &me, 900)], &me);
    assert_eq!(a.verdict, Verdict::Confirm);
    assert!(
        a.reasons[0].starts_with("Locks stake account"),
        "{:?}",
        a.reasons
    );
    // InitializeChecked: [stake, rent, staker, withdrawer]
    let checked = stake(
        9,
        &[],
        vec![rw(key(STAKE_ACCT)), ro(key(82)), ro(me), ro_signer(me)],
    );
    assert_eq!(judge(&[checked], &me).verdict, Verdict::Auto);
}

#[test]
fn delegate_confirms_and_bookkeeping_is_auto() {
    let me = key(1);
    let delegate = stake(
        2,
        &[],
        vec![
            rw(key(STAKE_ACCT)),
            ro(key(90)),
            ro(key(80)),
            ro(key(81)),
            ro(key(83)),
            ro_signer(me),
        ],
    );
    let a = judge(&[delegate], &me);
    assert_eq!(a.verdict, Verdict::Confirm);
    assert!(
        a.reasons[0].starts_with("Delegates stake account"),
        "{:?}",
        a.reasons
    );

    let deactivate = stake(
        5,
        &[],
        vec![rw(key(STAKE_ACCT)), ro(key(80)), ro_signer(me)],
    );
    let split = stake(
        3,
        &5u64.to_le_bytes(),
        vec![rw(key(STAKE_ACCT)), rw(key(41)), ro_signer(me)],
    );
    let merge = stake(
        7,
        &[],
        vec![
            rw(key(STAKE_ACCT)),
            rw(key(41)),
            ro(key(80)),
            ro(key(81)),
            ro_signer(me),
        ],
    );
    let move_lamports = stake(
        17,
        &5u64.to_le_bytes(),
        vec![rw(key(STAKE_ACCT)), rw(key(41)), ro_signer(me)],
    );
    let a = judge(&[deactivate, split, merge, move_lamports], &me);
    assert_eq!(a.verdict, Verdict::Auto, "{a:?}");
    let actions: Vec<StakeAction> = a
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::StakeOperation { action, .. } => Some(*action),
            _ => None,
        })
        .collect();
    assert_eq!(
        actions,
        [
            StakeAction::Deactivate,
            StakeAction::Split,
            StakeAction::Merge,
            StakeAction::MoveLamports
        ]
    );
}

#[test]
fn set_lockup_with_foreign_custodian_rejects() {
    let (me, them) = (key(1), key(9));
    let lockup = |custodian: Option<&Pubkey>, epoch: Option<u64>| {
        let mut rest = vec![0];
        match epoch {
            Some(e) => {
                rest.push(1);
                rest.extend_from_slice(&e.to_le_bytes());
            }
            None => rest.push(0),
        }
        match custodian {
            Some(c) => {
                rest.push(1);
                rest.extend_from_slice(c.as_ref());
            }
            None => rest.push(0),
        }
        stake(6, &rest, vec![rw(key(STAKE_ACCT)), ro_signer(me)])
    };
    let a = judge(&[lockup(Some(&them), None)], &me);
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(a.reasons[0].contains("lockup custodian"), "{:?}", a.reasons);
    assert_eq!(
        judge(&[lockup(Some(&me), None)], &me).verdict,
        Verdict::Auto
    );
    assert_eq!(
        judge(&[lockup(None, Some(500))], &me).verdict,
        Verdict::Confirm
    );
    // SetLockupChecked with a new custodian account that is not the user's.
    let checked = stake(
        12,
        &[0, 0],
        vec![rw(key(STAKE_ACCT)), ro_signer(me), ro_signer(them)],
    );
    assert_eq!(judge(&[checked], &me).verdict, Verdict::Reject);
    // Invalid option tag.
    let bad = stake(6, &[2, 0, 0], vec![rw(key(STAKE_ACCT)), ro_signer(me)]);
    assert_eq!(judge(&[bad], &me).verdict, Verdict::Reject);
}

#[test]
fn malformed_stake_instructions_reject() {
    let me = key(1);
    let cases = [
        stake(13, &[], vec![]),
        stake(15, &[], vec![rw(key(STAKE_ACCT))]),
        stake(99, &[], vec![rw(key(STAKE_ACCT))]),
        stake(4, &[1, 2], vec![rw(key(STAKE_ACCT))]),
        stake(
            5,
            &[0],
            vec![rw(key(STAKE_ACCT)), ro(key(80)), ro_signer(me)],
        ),
        // Withdraw with too few accounts.
        stake(4, &1u64.to_le_bytes(), vec![rw(key(STAKE_ACCT)), rw(me)]),
        Instruction::new_with_bytes(STAKE_PROGRAM, &[1, 0], vec![]),
    ];
    for ix in cases {
        let a = judge(std::slice::from_ref(&ix), &me);
        assert_eq!(a.verdict, Verdict::Reject, "{:?}", ix.data);
        assert!(
            matches!(a.effects[0], Effect::Malformed { .. }),
            "{:?}",
            a.effects
        );
    }
}

#[test]
fn stake_fixtures_decode() {
    let mut seen = 0;
    for (file, name, bytes, _) in all_entries() {
        if file != "walletcore.json" && file != "ledger.json" {
            continue;
        }
        let Ok(tx) = ParsedTransaction::parse_any(&bytes) else {
            continue;
        };
        let uses_stake = tx.message().instructions().iter().any(|ix| {
            tx.static_account_keys()
                .get(usize::from(ix.program_id_index))
                == Some(&STAKE_PROGRAM)
        });
        if !uses_stake {
            continue;
        }
        seen += 1;
        let a = assess_as(&tx, *tx.fee_payer().unwrap(), &[]);
        for e in &a.effects {
            assert!(
                !matches!(e, Effect::Malformed { .. } | Effect::UnknownProgram { .. }),
                "{file}:{name}: {e:?}"
            );
        }
        // Withdrawals in wallet-core's fixtures go back to the signer.
        if name.contains("solana_sign.rs:358") || name.contains("solana_sign.rs:386") {
            assert_eq!(a.verdict, Verdict::Auto, "{name}: {:?}", a.reasons);
        }
    }
    assert!(seen >= 8, "only {seen} stake fixtures");
}
