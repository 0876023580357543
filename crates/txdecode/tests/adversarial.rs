//! Adversarial transactions: one test per classification pitfall of the issue, each built
//! by tampering with a REAL swap from the fixtures (a Jupiter route, legacy; and a v0
//! swap) the way a compromised backend would, then judged for the real fee payer.

mod common;

use common::*;
use custos_txdecode::policy::JITO_TIP_ACCOUNTS;
use custos_txdecode::programs::{COMPUTE_BUDGET_PROGRAM, SYSTEM_PROGRAM, TOKEN_PROGRAM};
use custos_txdecode::{
    assess_with_intent, Assessment, Context, Effect, Intent, LookupTables, ParsedTransaction,
    PolicyConfig, Pubkey, Verdict,
};
use solana_message::compiled_instruction::CompiledInstruction;
use solana_message::v0::MessageAddressTableLookup;
use solana_message::{MessageHeader, VersionedMessage};
use solana_transaction::versioned::VersionedTransaction;

/// A legacy Jupiter route: 0.0001 SOL for at least 81_147 JitoSOL into the payer's ATA.
const LEGACY_SWAP: &str = "visualsign:visualsign.rs:904:test_jupiter_swap_transaction";
/// A v0 Jupiter swap into the payer's ATA.
const V0_SWAP: &str = "visualsign:visualsign.rs:985:test_v0_transaction";

/// Which reason must carry a text, and how.
#[derive(Clone, Copy, Debug)]
enum Reason<'a> {
    /// The first reason starts with the text.
    FirstStartsWith(&'a str),
    /// The first reason contains the text.
    FirstContains(&'a str),
    /// Some reason contains the text.
    AnyContains(&'a str),
}

/// Asserts `a`'s verdict and that its reasons carry `reason`; `what` names the case.
fn assert_judged(a: &Assessment, verdict: Verdict, reason: Reason, what: &str) {
    assert_eq!(a.verdict, verdict, "{what}: {:?}", a.reasons);
    let found = match reason {
        Reason::FirstStartsWith(text) => a.reasons[0].starts_with(text),
        Reason::FirstContains(text) => a.reasons[0].contains(text),
        Reason::AnyContains(text) => a.reasons.iter().any(|r| r.contains(text)),
    };
    assert!(found, "{what}: want {reason:?}: {:?}", a.reasons);
}

fn fixture(name: &str) -> VersionedTransaction {
    let (_, _, bytes, _) = all_entries()
        .into_iter()
        .find(|(_, n, _, _)| n == name)
        .unwrap_or_else(|| panic!("fixture {name} missing"));
    wincode::deserialize(&bytes).unwrap()
}

fn stranger() -> Pubkey {
    Pubkey::from_str_const("7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU")
}

/// Mutable views of a message's header, static keys and instructions.
fn parts(
    m: &mut VersionedMessage,
) -> (
    &mut MessageHeader,
    &mut Vec<Pubkey>,
    &mut Vec<CompiledInstruction>,
) {
    match m {
        VersionedMessage::Legacy(m) => (&mut m.header, &mut m.account_keys, &mut m.instructions),
        VersionedMessage::V0(m) => (&mut m.header, &mut m.account_keys, &mut m.instructions),
        _ => panic!("only legacy and v0 bases"),
    }
}

/// The index of `key` among the static keys, adding it as a non-signer (writable or
/// not) in its header class and shifting every later index (lookups included).
fn key_index(m: &mut VersionedMessage, key: Pubkey, writable: bool) -> u8 {
    let (header, keys, ixs) = parts(m);
    if let Some(i) = keys.iter().position(|k| *k == key) {
        return i as u8;
    }
    let pos = if writable {
        keys.len() - usize::from(header.num_readonly_unsigned_accounts)
    } else {
        header.num_readonly_unsigned_accounts += 1;
        keys.len()
    };
    keys.insert(pos, key);
    let pos = pos as u8;
    for ix in ixs.iter_mut() {
        if ix.program_id_index >= pos {
            ix.program_id_index += 1;
        }
        for a in ix.accounts.iter_mut() {
            if *a >= pos {
                *a += 1;
            }
        }
    }
    pos
}

fn payer(tx: &VersionedTransaction) -> Pubkey {
    tx.message.static_account_keys()[0]
}

/// Appends (or, with `first`, prepends) an instruction.
fn add(
    tx: &mut VersionedTransaction,
    first: bool,
    program: Pubkey,
    accounts: &[(Pubkey, bool)],
    data: Vec<u8>,
) {
    // Insert every key first: each insertion can shift the indexes of earlier ones.
    key_index(&mut tx.message, program, false);
    for (k, w) in accounts {
        key_index(&mut tx.message, *k, *w);
    }
    let program_id_index = key_index(&mut tx.message, program, false);
    let accounts = accounts
        .iter()
        .map(|(k, w)| key_index(&mut tx.message, *k, *w))
        .collect();
    let ix = CompiledInstruction {
        program_id_index,
        accounts,
        data,
    };
    let (_, _, ixs) = parts(&mut tx.message);
    if first {
        ixs.insert(0, ix);
    } else {
        ixs.push(ix);
    }
}

/// Appends a System Transfer from the payer to `to`.
fn append_sol_transfer(tx: &mut VersionedTransaction, to: Pubkey, lamports: u64) {
    let me = payer(tx);
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&lamports.to_le_bytes());
    add(tx, false, SYSTEM_PROGRAM, &[(me, true), (to, true)], data);
}

fn judge_tx_with(
    tx: &VersionedTransaction,
    tables: &LookupTables,
    intent: Option<&Intent>,
) -> Assessment {
    let bytes = wincode::serialize(tx).unwrap();
    let parsed = ParsedTransaction::parse(&bytes).unwrap();
    let config = PolicyConfig::default();
    let a = assess_with_intent(
        &parsed,
        &Context {
            signer: payer(tx),
            own_wallets: &[],
            lookup_tables: tables,
            config: &config,
        },
        intent,
    );
    check(&a);
    a
}

fn judge_tx(tx: &VersionedTransaction) -> Assessment {
    judge_tx_with(tx, &LookupTables::empty(), None)
}

/// The swap's output account, and the payer's input token account.
fn swap_accounts(a: &Assessment) -> (Pubkey, Pubkey) {
    a.effects
        .iter()
        .find_map(|e| match e {
            Effect::Swap {
                destination,
                source,
                ..
            } => Some((
                *destination.address.known().unwrap(),
                *source.address.known().unwrap(),
            )),
            _ => None,
        })
        .expect("a swap")
}

#[test]
fn the_untampered_swaps_are_auto() {
    for name in [LEGACY_SWAP, V0_SWAP] {
        let a = judge_tx(&fixture(name));
        assert_eq!(a.verdict, Verdict::Auto, "{name}: {:?}", a.reasons);
    }
}

#[test]
fn a_transfer_appended_to_a_real_swap_needs_the_user() {
    for name in [LEGACY_SWAP, V0_SWAP] {
        let mut tx = fixture(name);
        append_sol_transfer(&mut tx, stranger(), 1_000_000);
        let a = judge_tx(&tx);
        assert_judged(
            &a,
            Verdict::Confirm,
            Reason::AnyContains("Sends 0.001 SOL to 7xKX"),
            name,
        );
    }
}

#[test]
fn a_swap_whose_output_goes_to_a_foreign_account_needs_the_user() {
    let mut tx = fixture(LEGACY_SWAP);
    let (dest, _) = swap_accounts(&judge_tx(&tx));
    // Point the route's output account at a stranger's account.
    let (_, keys, _) = parts(&mut tx.message);
    let i = keys.iter().position(|k| *k == dest).unwrap();
    keys[i] = stranger();
    let a = judge_tx(&tx);
    assert_judged(
        &a,
        Verdict::Confirm,
        Reason::FirstStartsWith("Swap output goes to 7xKX"),
        "foreign swap output",
    );
}

#[test]
fn a_durable_nonce_makes_a_real_swap_refused() {
    let mut tx = fixture(LEGACY_SWAP);
    let me = payer(&tx);
    let recent = Pubkey::from_str_const("SysvarRecentB1ockHashes11111111111111111111");
    add(
        &mut tx,
        true,
        SYSTEM_PROGRAM,
        &[(stranger(), true), (recent, false), (me, false)],
        4u32.to_le_bytes().to_vec(),
    );
    let a = judge_tx(&tx);
    assert_judged(
        &a,
        Verdict::Reject,
        Reason::FirstContains("durable nonce"),
        "durable nonce",
    );
}

#[test]
fn set_authority_approve_and_assign_appended_to_a_swap_are_refused() {
    let base = fixture(LEGACY_SWAP);
    let (dest, source) = swap_accounts(&judge_tx(&base));
    let me = payer(&base);
    let with_stranger = |mut data: Vec<u8>| {
        data.extend_from_slice(stranger().as_ref());
        data
    };
    let mut approve = vec![4];
    approve.extend_from_slice(&u64::MAX.to_le_bytes());
    let cases = [
        (
            "SetAuthority",
            TOKEN_PROGRAM,
            vec![(dest, true), (me, false)],
            with_stranger(vec![6, 2, 1]),
        ),
        (
            "Approve",
            TOKEN_PROGRAM,
            vec![(source, true), (stranger(), false), (me, false)],
            approve,
        ),
        (
            "Assign",
            SYSTEM_PROGRAM,
            vec![(me, true)],
            with_stranger(1u32.to_le_bytes().to_vec()),
        ),
    ];
    for (what, program, accounts, data) in cases {
        let mut tx = base.clone();
        add(&mut tx, false, program, &accounts, data);
        let a = judge_tx(&tx);
        let stranger = stranger().to_string();
        assert_judged(
            &a,
            Verdict::Reject,
            Reason::FirstContains(&stranger[..4]),
            what,
        );
    }
}

/// Judges the legacy swap with a Token program instruction appended whose accounts are
/// the swap's output account, a stranger's and the payer: `[output, stranger, payer]`.
fn judge_token_instruction_on_the_output(data: Vec<u8>) -> Assessment {
    let mut tx = fixture(LEGACY_SWAP);
    let (dest, _) = swap_accounts(&judge_tx(&tx));
    let me = payer(&tx);
    add(
        &mut tx,
        false,
        TOKEN_PROGRAM,
        &[(dest, true), (stranger(), true), (me, false)],
        data,
    );
    judge_tx(&tx)
}

#[test]
fn closing_the_output_account_to_a_foreign_destination_needs_the_user() {
    let a = judge_token_instruction_on_the_output(vec![9]);
    assert_judged(
        &a,
        Verdict::Confirm,
        Reason::AnyContains("7xKX"),
        "close to a stranger",
    );
}

#[test]
fn a_huge_priority_fee_is_refused_and_a_huge_tip_needs_the_user() {
    let mut tx = fixture(LEGACY_SWAP);
    // Replace (or add) the compute unit price: 10 SOL worth at the route's limit.
    let mut data = vec![3];
    data.extend_from_slice(&(10_000_000_000_000_000u64).to_le_bytes());
    let cb = key_index(&mut tx.message, COMPUTE_BUDGET_PROGRAM, false);
    let (_, _, ixs) = parts(&mut tx.message);
    ixs.retain(|ix| !(ix.program_id_index == cb && ix.data.first() == Some(&3)));
    add(&mut tx, true, COMPUTE_BUDGET_PROGRAM, &[], data);
    let a = judge_tx(&tx);
    assert_judged(
        &a,
        Verdict::Reject,
        Reason::FirstStartsWith("priority fee"),
        "priority fee",
    );

    let mut tx = fixture(LEGACY_SWAP);
    append_sol_transfer(&mut tx, JITO_TIP_ACCOUNTS[5], 2_000_000_000);
    let a = judge_tx(&tx);
    assert_judged(
        &a,
        Verdict::Confirm,
        Reason::FirstStartsWith("Tips 2 SOL"),
        "tip",
    );
}

#[test]
fn a_destination_hidden_behind_a_lookup_table_is_foreign_until_custos_resolves_it() {
    let mut tx = fixture(V0_SWAP);
    let me = payer(&tx);
    let table = Pubkey::from_str_const("4zWzJH2yPqYr9GZ5mQ8WyQ3NRYLnTtX6ZWLtEbDhJ9Qm");
    // A transfer whose destination is entry 0 of a new table: its account index is the
    // first writable lookup slot, before every readonly lookup.
    let me_index = key_index(&mut tx.message, me, true);
    let system = key_index(&mut tx.message, SYSTEM_PROGRAM, false);
    let VersionedMessage::V0(m) = &mut tx.message else {
        panic!("v0 base")
    };
    let writable_before: usize = m
        .address_table_lookups
        .iter()
        .map(|l| l.writable_indexes.len())
        .sum();
    let slot = (m.account_keys.len() + writable_before) as u8;
    for ix in m.instructions.iter_mut() {
        for a in ix.accounts.iter_mut() {
            if *a >= slot {
                *a += 1;
            }
        }
    }
    m.address_table_lookups.push(MessageAddressTableLookup {
        account_key: table,
        writable_indexes: vec![0],
        readonly_indexes: vec![],
    });
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&5_000_000u64.to_le_bytes());
    m.instructions.push(CompiledInstruction {
        program_id_index: system,
        accounts: vec![me_index, slot],
        data,
    });

    // Without the table's contents the destination is unknown: the user is asked.
    let a = judge_tx(&tx);
    assert_judged(
        &a,
        Verdict::Confirm,
        Reason::AnyContains("lookup-table 4zWz"),
        "unresolved lookup table",
    );

    // Custos's view of the table shows the user's own wallet: auto.
    let mut own = LookupTables::empty();
    own.insert(table, vec![me]).unwrap();
    assert_eq!(judge_tx_with(&tx, &own, None).verdict, Verdict::Auto);
    // ...or a stranger: the user is asked.
    let mut theirs = LookupTables::empty();
    theirs.insert(table, vec![stranger()]).unwrap();
    assert_eq!(judge_tx_with(&tx, &theirs, None).verdict, Verdict::Confirm);
}

#[test]
fn an_unknown_program_appended_to_a_swap_is_refused() {
    let mut tx = fixture(LEGACY_SWAP);
    let me = payer(&tx);
    add(&mut tx, false, stranger(), &[(me, false)], vec![1, 2, 3]);
    let a = judge_tx(&tx);
    assert_judged(
        &a,
        Verdict::Reject,
        Reason::FirstContains("unknown program 7xKX"),
        "unknown program",
    );
}

#[test]
fn a_token_batch_hiding_a_transfer_needs_the_user() {
    // Batch: one Transfer(5) entry using 3 accounts [source, destination, owner].
    let mut data = vec![255, 3, 9, 3];
    data.extend_from_slice(&5u64.to_le_bytes());
    let a = judge_token_instruction_on_the_output(data);
    assert_judged(
        &a,
        Verdict::Confirm,
        Reason::AnyContains("7xKX"),
        "token batch",
    );
}

#[test]
fn an_intent_turns_each_tampering_into_a_refusal() {
    let base = fixture(LEGACY_SWAP);
    let a = judge_tx(&base);
    let intent = a
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Swap {
                source_mint,
                destination_mint,
                amount_in,
                amount_out,
                ..
            } => Some(Intent::Swap {
                input_mint: *source_mint.as_ref()?.known()?,
                output_mint: *destination_mint.as_ref()?.known()?,
                max_amount_in: amount_in.amount()?,
                min_amount_out: amount_out.amount()?,
            }),
            _ => None,
        })
        .expect("the fixture's swap names both mints");
    let none = LookupTables::empty();
    assert_eq!(
        judge_tx_with(&base, &none, Some(&intent)).verdict,
        Verdict::Auto
    );
    let mut tx = base;
    append_sol_transfer(&mut tx, stranger(), 1);
    let a = judge_tx_with(&tx, &none, Some(&intent));
    assert_eq!(a.verdict, Verdict::Reject, "{:?}", a.reasons);
}
