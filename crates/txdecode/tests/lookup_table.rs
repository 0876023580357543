//! Address Lookup Table program: decoding and verdicts.

mod common;

use common::*;
use custos_txdecode::programs::{ADDRESS_LOOKUP_TABLE_PROGRAM, SYSTEM_PROGRAM};
use custos_txdecode::{Effect, LookupTableAction, Pubkey, Verdict};
use solana_message::{AccountMeta, Instruction};

fn alt(tag: u32, rest: &[u8], accounts: Vec<AccountMeta>) -> Instruction {
    let mut data = tag.to_le_bytes().to_vec();
    data.extend_from_slice(rest);
    Instruction::new_with_bytes(ADDRESS_LOOKUP_TABLE_PROGRAM, &data, accounts)
}

fn create(table: &Pubkey, authority: &Pubkey, payer: &Pubkey) -> Instruction {
    let mut rest = 123_456u64.to_le_bytes().to_vec();
    rest.push(254);
    alt(
        0,
        &rest,
        vec![
            AccountMeta::new(*table, false),
            AccountMeta::new_readonly(*authority, true),
            AccountMeta::new(*payer, true),
            AccountMeta::new_readonly(SYSTEM_PROGRAM, false),
        ],
    )
}

fn extend(table: &Pubkey, authority: &Pubkey, payer: Option<&Pubkey>, n: u64) -> Instruction {
    let mut rest = n.to_le_bytes().to_vec();
    for i in 0..n {
        rest.extend_from_slice(key(100u8.wrapping_add(i as u8)).as_ref());
    }
    let mut accounts = vec![
        AccountMeta::new(*table, false),
        AccountMeta::new_readonly(*authority, true),
    ];
    if let Some(p) = payer {
        accounts.push(AccountMeta::new(*p, true));
        accounts.push(AccountMeta::new_readonly(SYSTEM_PROGRAM, false));
    }
    alt(2, &rest, accounts)
}

fn simple(tag: u32, table: &Pubkey, authority: &Pubkey) -> Instruction {
    alt(
        tag,
        &[],
        vec![
            AccountMeta::new(*table, false),
            AccountMeta::new_readonly(*authority, true),
        ],
    )
}

fn close(table: &Pubkey, authority: &Pubkey, recipient: &Pubkey) -> Instruction {
    alt(
        4,
        &[],
        vec![
            AccountMeta::new(*table, false),
            AccountMeta::new_readonly(*authority, true),
            AccountMeta::new(*recipient, false),
        ],
    )
}

#[test]
fn create_own_table_is_auto() {
    let (me, table) = (key(1), key(40));
    let a = judge(&[create(&table, &me, &me)], &me);
    assert_eq!(a.verdict, Verdict::Auto, "{a:?}");
    assert!(matches!(
        &a.effects[0],
        Effect::LookupTable {
            action: LookupTableAction::Create,
            payer: Some(p),
            ..
        } if p.own
    ));
    assert!(
        a.summary.starts_with("Create lookup table"),
        "{}",
        a.summary
    );
}

#[test]
fn paying_for_someone_elses_table_confirms() {
    let (me, them, table) = (key(1), key(9), key(40));
    let a = judge(&[create(&table, &them, &me)], &me);
    assert_eq!(a.verdict, Verdict::Confirm, "{a:?}");
    assert!(a.reasons[0].contains("Pays the rent"), "{:?}", a.reasons);
    let a = judge(&[extend(&table, &them, Some(&me), 2)], &me);
    assert_eq!(a.verdict, Verdict::Confirm, "{a:?}");
}

#[test]
fn extend_and_deactivate_own_table_are_auto() {
    let (me, table) = (key(1), key(40));
    let a = judge(&[extend(&table, &me, Some(&me), 3)], &me);
    assert_eq!(a.verdict, Verdict::Auto, "{a:?}");
    assert!(matches!(
        &a.effects[0],
        Effect::LookupTable {
            new_addresses: 3,
            ..
        }
    ));
    assert_eq!(
        judge(&[extend(&table, &me, None, 1)], &me).verdict,
        Verdict::Auto
    );
    assert_eq!(judge(&[simple(3, &table, &me)], &me).verdict, Verdict::Auto);
}

#[test]
fn freeze_own_table_confirms() {
    let (me, table) = (key(1), key(40));
    let a = judge(&[simple(1, &table, &me)], &me);
    assert_eq!(a.verdict, Verdict::Confirm, "{a:?}");
    assert!(
        a.reasons[0].contains("never be recovered"),
        "{:?}",
        a.reasons
    );
}

#[test]
fn close_judged_by_recipient() {
    let (me, them, table) = (key(1), key(9), key(40));
    assert_eq!(
        judge(&[close(&table, &me, &me)], &me).verdict,
        Verdict::Auto
    );
    let a = judge(&[close(&table, &me, &them)], &me);
    assert_eq!(a.verdict, Verdict::Confirm, "{a:?}");
    assert!(a.reasons[0].contains("sends its SOL to"), "{:?}", a.reasons);
}

#[test]
fn malformed_lookup_table_instructions_reject() {
    let (me, table) = (key(1), key(40));
    let acc = vec![
        AccountMeta::new(table, false),
        AccountMeta::new_readonly(me, true),
    ];
    let cases = [
        alt(9, &[], acc.clone()),
        alt(0, &[1, 2, 3], acc.clone()),
        alt(3, &[0], acc.clone()),
        // Extend with no addresses, and with a length past the data.
        alt(2, &0u64.to_le_bytes(), acc.clone()),
        alt(2, &5u64.to_le_bytes(), acc.clone()),
        alt(2, &u64::MAX.to_le_bytes(), acc.clone()),
        // Close without recipient.
        alt(4, &[], acc),
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
