//! Token / Token-2022 Batch (tag 255): entries decoded recursively and judged as if
//! top-level; WithdrawExcessLamports / UnwrapLamports judged by destination.

mod common;

use common::*;
use custos_txdecode::programs::{TOKEN_2022_PROGRAM, TOKEN_PROGRAM};
use custos_txdecode::{associated_token_address, Assessment, Effect, Pubkey, Verdict};
use solana_message::{AccountMeta, Instruction};

/// Packs inner instructions into one Batch, as `spl_token_interface::instruction::batch`.
fn batch(program: Pubkey, inner: &[Instruction]) -> Instruction {
    let mut data = vec![255];
    let mut accounts = Vec::new();
    for ix in inner {
        data.push(u8::try_from(ix.accounts.len()).unwrap());
        data.push(u8::try_from(ix.data.len()).unwrap());
        data.extend_from_slice(&ix.data);
        accounts.extend_from_slice(&ix.accounts);
    }
    Instruction::new_with_bytes(program, &data, accounts)
}

fn plain_transfer(program: Pubkey, src: &Pubkey, dst: &Pubkey, owner: &Pubkey) -> Instruction {
    let mut data = vec![3];
    data.extend_from_slice(&1_000u64.to_le_bytes());
    Instruction::new_with_bytes(
        program,
        &data,
        vec![
            AccountMeta::new(*src, false),
            AccountMeta::new(*dst, false),
            AccountMeta::new_readonly(*owner, true),
        ],
    )
}

fn malformed_error(a: &Assessment) -> String {
    a.effects
        .iter()
        .find_map(|e| match e {
            Effect::Malformed { error, .. } => Some(error.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no malformed effect in {:?}", a.effects))
}

#[test]
fn batch_hiding_transfer_to_stranger_confirms() {
    let (me, stranger, mint) = (key(1), key(9), key(50));
    for program in [TOKEN_PROGRAM, TOKEN_2022_PROGRAM] {
        let mine = associated_token_address(&me, &mint, &program).unwrap();
        let theirs = associated_token_address(&stranger, &mint, &program).unwrap();
        let ix = batch(
            program,
            &[
                sync_native(&program, &mine),
                transfer_checked(&program, &mine, &mint, &theirs, &me, 5_000_000, 6),
            ],
        );
        let a = judge(&[ix], &me);
        assert_eq!(a.verdict, Verdict::Confirm, "{a:?}");
        assert_eq!(a.effects.len(), 2);
        assert!(matches!(a.effects[1], Effect::TokenTransfer { .. }));
        assert!(a.reasons[0].contains("Sends 5 "), "{:?}", a.reasons);
    }
}

#[test]
fn batch_of_own_to_own_transfers_is_auto() {
    let (me, other_mine, mint_a, mint_b) = (key(1), key(2), key(50), key(51));
    let p = TOKEN_PROGRAM;
    let ata = |w: &Pubkey, m: &Pubkey| associated_token_address(w, m, &p).unwrap();
    let ix = batch(
        p,
        &[
            transfer_checked(
                &p,
                &ata(&me, &mint_a),
                &mint_a,
                &ata(&other_mine, &mint_a),
                &me,
                7,
                6,
            ),
            transfer_checked(
                &p,
                &ata(&me, &mint_b),
                &mint_b,
                &ata(&me, &mint_b),
                &me,
                9,
                6,
            ),
        ],
    );
    let a = judge_own(&[ix], &me, &[other_mine]);
    assert_eq!(a.verdict, Verdict::Auto, "{a:?}");
    assert_eq!(a.effects.len(), 2);
    for e in &a.effects {
        let Effect::TokenTransfer {
            source,
            destination,
            ..
        } = e
        else {
            panic!("{e:?}");
        };
        assert!(source.own && destination.own, "{e:?}");
    }
}

#[test]
fn batch_entries_use_consecutive_accounts() {
    // The second entry's accounts follow the first entry's: a 3-account plain Transfer
    // after a 1-account SyncNative must see (src, dst, owner), not (mine, src, dst).
    let (me, stranger) = (key(1), key(9));
    let (src, dst) = (key(60), key(61));
    let ix = batch(
        TOKEN_PROGRAM,
        &[
            sync_native(&TOKEN_PROGRAM, &key(62)),
            plain_transfer(TOKEN_PROGRAM, &src, &dst, &me),
        ],
    );
    let a = judge_own(&[ix], &me, &[stranger]);
    let Effect::TokenTransfer {
        source,
        destination,
        authority,
        ..
    } = &a.effects[1]
    else {
        panic!("{:?}", a.effects);
    };
    assert_eq!(source.address.known(), Some(&src));
    assert_eq!(destination.address.known(), Some(&dst));
    assert_eq!(authority.address.known(), Some(&me));
    assert_eq!(a.verdict, Verdict::Confirm);
}

#[test]
fn malformed_batches_reject() {
    let me = key(1);
    let acct = |k: Pubkey| AccountMeta::new(k, false);
    let cases: Vec<(Vec<u8>, Vec<AccountMeta>, &str)> = vec![
        // Data length overruns the batch data.
        (vec![255, 1, 9, 17], vec![acct(key(60))], "batch entry 0"),
        // Entry header cut short.
        (vec![255, 1], vec![acct(key(60))], "batch entry 0"),
        // Second entry claims more accounts than remain.
        (
            vec![255, 1, 1, 17, 2, 1, 17],
            vec![acct(key(60)), acct(key(61))],
            "batch entry 1: instruction needs 3 accounts, has 2",
        ),
        // Entry with empty data.
        (
            vec![255, 0, 0],
            vec![],
            "batch entry 0: empty instruction data",
        ),
        // Inner instruction with trailing bytes.
        (vec![255, 1, 2, 17, 0], vec![acct(key(60))], "trailing"),
        // No entries at all.
        (vec![255], vec![], "empty token batch"),
    ];
    for (data, accounts, want) in cases {
        let ix = Instruction::new_with_bytes(TOKEN_PROGRAM, &data, accounts);
        let a = judge(&[ix], &me);
        assert_eq!(a.verdict, Verdict::Reject, "{data:?}");
        let err = malformed_error(&a);
        assert!(err.contains(want), "{data:?}: {err}");
        assert!(
            a.reasons.iter().any(|r| r.contains("malformed")),
            "{:?}",
            a.reasons
        );
    }
}

#[test]
fn nested_batch_rejects() {
    let me = key(1);
    let mine = associated_token_address(&me, &key(50), &TOKEN_PROGRAM).unwrap();
    let inner = batch(TOKEN_PROGRAM, &[sync_native(&TOKEN_PROGRAM, &mine)]);
    let outer = batch(TOKEN_PROGRAM, &[sync_native(&TOKEN_PROGRAM, &mine), inner]);
    let a = judge(&[outer], &me);
    assert_eq!(a.verdict, Verdict::Reject);
    assert_eq!(
        malformed_error(&a),
        "batch entry 1: token batch nested inside a batch"
    );
}

#[test]
fn withdraw_excess_lamports_judged_by_destination() {
    let me = key(1);
    let mint = key(50);
    let mk = |dst: Pubkey| {
        Instruction::new_with_bytes(
            TOKEN_2022_PROGRAM,
            &[38],
            vec![
                AccountMeta::new(mint, false),
                AccountMeta::new(dst, false),
                AccountMeta::new_readonly(me, true),
            ],
        )
    };
    let a = judge(&[mk(key(9))], &me);
    assert_eq!(a.verdict, Verdict::Confirm, "{a:?}");
    assert!(
        a.reasons[0].contains("Withdraws excess SOL"),
        "{:?}",
        a.reasons
    );
    assert_eq!(judge(&[mk(me)], &me).verdict, Verdict::Auto);
    // Inside a batch the same rule applies.
    let a = judge(&[batch(TOKEN_2022_PROGRAM, &[mk(key(9))])], &me);
    assert_eq!(a.verdict, Verdict::Confirm, "{a:?}");
}

#[test]
fn unwrap_lamports_amount_and_destination() {
    let me = key(1);
    let wsol = key(70);
    let mk = |dst: Pubkey, amount: Option<u64>| {
        let mut data = vec![45];
        match amount {
            None => data.push(0),
            Some(a) => {
                data.push(1);
                data.extend_from_slice(&a.to_le_bytes());
            }
        }
        Instruction::new_with_bytes(
            TOKEN_PROGRAM,
            &data,
            vec![
                AccountMeta::new(wsol, false),
                AccountMeta::new(dst, false),
                AccountMeta::new_readonly(me, true),
            ],
        )
    };
    let a = judge(&[mk(key(9), Some(2_000_000_000))], &me);
    assert_eq!(a.verdict, Verdict::Confirm);
    assert!(a.reasons[0].contains("Unwraps 2 SOL"), "{:?}", a.reasons);
    let a = judge(&[batch(TOKEN_PROGRAM, &[mk(key(9), None)])], &me);
    assert_eq!(a.verdict, Verdict::Confirm);
    assert!(a.reasons[0].contains("all SOL"), "{:?}", a.reasons);
    assert_eq!(judge(&[mk(me, None)], &me).verdict, Verdict::Auto);
}
