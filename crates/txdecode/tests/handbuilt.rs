//! Hand-built transactions for each policy rule, plus wire-format error cases.

mod common;

use common::*;
use custos_txdecode::programs::{
    ATA_PROGRAM, MEMO_PROGRAM, NATIVE_MINT, SYSTEM_PROGRAM, TOKEN_2022_PROGRAM, TOKEN_PROGRAM,
};
use custos_txdecode::{
    assess, associated_token_address, Context, DecodeError, Effect, LookupTables,
    ParsedTransaction, PolicyConfig, Pubkey, TxVersion, Verdict,
};
use solana_message::{
    compiled_instruction::CompiledInstruction, v0, v1, AccountMeta, Hash, Instruction,
    MessageHeader, VersionedMessage,
};
use solana_transaction::versioned::VersionedTransaction;

fn system(tag: u32, rest: &[u8], accounts: Vec<AccountMeta>) -> Instruction {
    let mut data = tag.to_le_bytes().to_vec();
    data.extend_from_slice(rest);
    Instruction::new_with_bytes(SYSTEM_PROGRAM, &data, accounts)
}

fn token(program: Pubkey, data: Vec<u8>, accounts: Vec<AccountMeta>) -> Instruction {
    Instruction::new_with_bytes(program, &data, accounts)
}

#[test]
fn sol_transfer_to_own_wallet_is_auto() {
    let (me, other_mine) = (key(1), key(2));
    let a = judge_own(
        &[sol_transfer(&me, &other_mine, 500_000_000)],
        &me,
        &[other_mine],
    );
    assert_eq!(a.verdict, Verdict::Auto, "{a:?}");
    assert_eq!(a.fee.base_fee_lamports, 5000);
    assert_eq!(a.fee.priority_fee_lamports, 0);
}

#[test]
fn sol_transfer_to_foreign_is_confirm() {
    let (me, them) = (key(1), key(9));
    let a = judge(&[sol_transfer(&me, &them, 500_000_000)], &me);
    assert_eq!(a.verdict, Verdict::Confirm);
    assert!(a.summary.starts_with("Transfer 0.5 SOL"), "{}", a.summary);
    assert!(a.summary.contains("(not yours)"));
    assert!(
        a.reasons.iter().any(|r| r.contains("0.5 SOL")),
        "{:?}",
        a.reasons
    );
    let text = a.to_text();
    assert!(text.contains("<b>Needs your confirmation</b>"), "{text}");
}

#[test]
fn wrap_and_unwrap_sol_is_auto() {
    let me = key(1);
    let wsol = associated_token_address(&me, &NATIVE_MINT, &TOKEN_PROGRAM).unwrap();
    let wrap = [
        create_ata(&me, &me, &NATIVE_MINT, &TOKEN_PROGRAM),
        sol_transfer(&me, &wsol, 1_000_000),
        sync_native(&TOKEN_PROGRAM, &wsol),
    ];
    assert_eq!(judge(&wrap, &me).verdict, Verdict::Auto);

    let close = close_token_account(&wsol, &me, &me);
    assert_eq!(judge(&[close], &me).verdict, Verdict::Auto);

    // Closing to someone else needs confirmation.
    let close_foreign = close_token_account(&wsol, &key(9), &me);
    assert_eq!(judge(&[close_foreign], &me).verdict, Verdict::Confirm);
}

#[test]
fn own_ata_create_is_auto_foreign_is_confirm() {
    let (me, mint) = (key(1), key(50));
    let a = judge(&[create_ata(&me, &me, &mint, &TOKEN_2022_PROGRAM)], &me);
    assert_eq!(a.verdict, Verdict::Auto, "{a:?}");
    let a = judge(&[create_ata(&me, &key(9), &mint, &TOKEN_PROGRAM)], &me);
    assert_eq!(a.verdict, Verdict::Confirm);
}

#[test]
fn transfer_checked_own_ata_auto_foreign_ata_confirm() {
    let (me, mine2, them, mint) = (key(1), key(2), key(9), key(50));
    let src = associated_token_address(&me, &mint, &TOKEN_PROGRAM).unwrap();
    let own_dst = associated_token_address(&mine2, &mint, &TOKEN_PROGRAM).unwrap();
    let foreign_dst = associated_token_address(&them, &mint, &TOKEN_PROGRAM).unwrap();
    let ix = transfer_checked(&TOKEN_PROGRAM, &src, &mint, &own_dst, &me, 1_500_000, 6);
    let a = judge_own(&[ix], &me, &[mine2]);
    assert_eq!(a.verdict, Verdict::Auto, "{a:?}");
    let ix = transfer_checked(&TOKEN_PROGRAM, &src, &mint, &foreign_dst, &me, 1_500_000, 6);
    let a = judge_own(&[ix], &me, &[mine2]);
    assert_eq!(a.verdict, Verdict::Confirm);
    assert!(a.summary.contains("1.5 tokens"), "{}", a.summary);

    // Unchecked Transfer: destination unproven without a mint -> confirm, base units marked.
    let mut data = vec![3];
    data.extend_from_slice(&7u64.to_le_bytes());
    let ix = token(
        TOKEN_PROGRAM,
        data,
        vec![
            AccountMeta::new(src, false),
            AccountMeta::new(key(77), false),
            AccountMeta::new_readonly(me, true),
        ],
    );
    let a = judge(&[ix], &me);
    assert_eq!(a.verdict, Verdict::Confirm);
    assert!(a.to_text().contains("base units"));
}

#[test]
fn token_2022_transfer_with_fee_decodes() {
    let (me, them, mint) = (key(1), key(9), key(50));
    let src = associated_token_address(&me, &mint, &TOKEN_2022_PROGRAM).unwrap();
    let mut data = vec![26, 1];
    data.extend_from_slice(&1000u64.to_le_bytes());
    data.push(2);
    data.extend_from_slice(&10u64.to_le_bytes());
    let ix = token(
        TOKEN_2022_PROGRAM,
        data,
        vec![
            AccountMeta::new(src, false),
            AccountMeta::new_readonly(mint, false),
            AccountMeta::new(them, false),
            AccountMeta::new_readonly(me, true),
        ],
    );
    let a = judge(&[ix], &me);
    assert_eq!(a.verdict, Verdict::Confirm);
    assert!(matches!(
        a.effects[0],
        Effect::TokenTransfer { fee: Some(10), .. }
    ));
}

#[test]
fn set_authority_to_foreign_rejects() {
    let (me, them, mint) = (key(1), key(9), key(50));
    let acct = associated_token_address(&me, &mint, &TOKEN_PROGRAM).unwrap();
    let mut data = vec![6, 2, 1];
    data.extend_from_slice(them.as_ref());
    let ix = token(
        TOKEN_PROGRAM,
        data,
        vec![
            AccountMeta::new(acct, false),
            AccountMeta::new_readonly(me, true),
        ],
    );
    let a = judge(&[ix], &me);
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(a.reasons[0].contains("AccountOwner"), "{:?}", a.reasons);
}

#[test]
fn approve_foreign_delegate_rejects() {
    let (me, them, mint) = (key(1), key(9), key(50));
    let acct = associated_token_address(&me, &mint, &TOKEN_PROGRAM).unwrap();
    let mut data = vec![4];
    data.extend_from_slice(&u64::MAX.to_le_bytes());
    let ix = token(
        TOKEN_PROGRAM,
        data,
        vec![
            AccountMeta::new(acct, false),
            AccountMeta::new_readonly(them, false),
            AccountMeta::new_readonly(me, true),
        ],
    );
    assert_eq!(judge(&[ix], &me).verdict, Verdict::Reject);
}

#[test]
fn assign_of_wallet_rejects() {
    let me = key(1);
    let ix = system(1, key(66).as_ref(), vec![AccountMeta::new(me, true)]);
    assert_eq!(judge(&[ix], &me).verdict, Verdict::Reject);
}

#[test]
fn durable_nonce_rejects() {
    let (me, nonce) = (key(1), key(40));
    let sysvar: Pubkey = "SysvarRecentB1ockHashes11111111111111111111"
        .parse()
        .unwrap();
    let advance = system(
        4,
        &[],
        vec![
            AccountMeta::new(nonce, false),
            AccountMeta::new_readonly(sysvar, false),
            AccountMeta::new_readonly(me, true),
        ],
    );
    let a = judge_own(&[advance, sol_transfer(&me, &key(2), 1)], &me, &[key(2)]);
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(a.reasons[0].contains("durable nonce"));
}

#[test]
fn priority_fee_cap() {
    let (me, mine2) = (key(1), key(2));
    // 1_000_000 CU * 5_000 micro-lamports = 5_000 lamports -> under the cap.
    let ok = [
        cu_limit(1_000_000),
        cu_price(5_000),
        sol_transfer(&me, &mine2, 1),
    ];
    let a = judge_own(&ok, &me, &[mine2]);
    assert_eq!(a.verdict, Verdict::Auto, "{a:?}");
    assert_eq!(a.fee.priority_fee_lamports, 5_000);
    // Default limit: 1 non-budget instruction -> 200_000 CU; price 100_000_000 micro-lamports
    // -> 20_000_000 lamports, above the 10_000_000 default cap.
    let over = [cu_price(100_000_000), sol_transfer(&me, &mine2, 1)];
    let a = judge_own(&over, &me, &[mine2]);
    assert_eq!(a.verdict, Verdict::Reject);
    assert_eq!(a.fee.priority_fee_lamports, 20_000_000);
    // Rounds up: 1 CU-limit * 1 micro-lamport = 1 lamport.
    let a = judge_own(
        &[cu_limit(1), cu_price(1), sol_transfer(&me, &mine2, 1)],
        &me,
        &[mine2],
    );
    assert_eq!(a.fee.priority_fee_lamports, 1);
}

#[test]
fn memo_is_auto_and_escaped() {
    let me = key(1);
    let ix = Instruction::new_with_bytes(MEMO_PROGRAM, b"<b>hi</b> & bye", vec![]);
    let a = judge(&[ix], &me);
    assert_eq!(a.verdict, Verdict::Auto);
    let text = a.to_text();
    assert!(text.contains("&lt;b&gt;hi&lt;/b&gt; &amp; bye"), "{text}");
}

#[test]
fn unknown_program_rejects_with_name() {
    let me = key(1);
    // OKX's DEX router: named nowhere in Custos, so opaque.
    let okx: Pubkey = "6m2CDdhRgxpH4WjvdzxAYbGxwdGUz5MziiL5jek2kBma"
        .parse()
        .unwrap();
    let ix = Instruction::new_with_bytes(okx, &[1, 2, 3], vec![AccountMeta::new(me, true)]);
    let a = judge(std::slice::from_ref(&ix), &me);
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(a.reasons[0].contains("6m2C…kBma"), "{:?}", a.reasons);
    assert!(a.reasons[0].contains("blind signing refused"));

    // An operator may allow blind signing: then the user is asked, warned first.
    let config = custos_txdecode::PolicyConfig {
        unknown_programs: custos_txdecode::UnknownPrograms::Confirm,
        ..Default::default()
    };
    let tx = parse_legacy(&[ix], &me);
    let tables = custos_txdecode::LookupTables::empty();
    let a = custos_txdecode::assess(
        &tx,
        &custos_txdecode::Context {
            signer: me,
            own_wallets: &[],
            lookup_tables: &tables,
            config: &config,
        },
    );
    assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);
    assert!(
        a.warnings[0].starts_with("BLIND SIGNING"),
        "{:?}",
        a.warnings
    );
    assert!(a.to_text().contains("BLIND SIGNING"));
}

#[test]
fn unsupported_instruction_of_a_known_program_is_opaque_but_broken_data_is_malformed() {
    let me = key(1);
    // A Raydium CPMM instruction with an unknown discriminator: well-formed, unsupported.
    let cpmm = custos_txdecode::programs::RAYDIUM_CPMM_PROGRAM;
    let ix = Instruction::new_with_bytes(cpmm, &[9; 16], vec![AccountMeta::new(me, true)]);
    let a = judge(&[ix], &me);
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(
        a.reasons[0].contains("not one Custos decodes"),
        "{:?}",
        a.reasons
    );
    // Too short to carry a discriminator: malformed whatever the knob says.
    let ix = Instruction::new_with_bytes(cpmm, &[9; 3], vec![AccountMeta::new(me, true)]);
    let a = judge(&[ix], &me);
    assert!(a.reasons[0].contains("is malformed"), "{:?}", a.reasons);
}

#[test]
fn upgradeable_loader_and_batch_reject() {
    let me = key(1);
    let loader: Pubkey = "BPFLoaderUpgradeab1e11111111111111111111111"
        .parse()
        .unwrap();
    let ix = Instruction::new_with_bytes(loader, &[3, 0, 0, 0], vec![AccountMeta::new(me, true)]);
    assert_eq!(judge(&[ix], &me).verdict, Verdict::Reject);
    let batch = token(
        TOKEN_PROGRAM,
        vec![255, 0, 1, 17],
        vec![AccountMeta::new(me, true)],
    );
    assert_eq!(judge(&[batch], &me).verdict, Verdict::Reject);
}

#[test]
fn unwrap_lamports_to_foreign_confirms() {
    let me = key(1);
    let wsol = associated_token_address(&me, &NATIVE_MINT, &TOKEN_PROGRAM).unwrap();
    let mk = |dst: Pubkey| {
        token(
            TOKEN_PROGRAM,
            vec![45, 0],
            vec![
                AccountMeta::new(wsol, false),
                AccountMeta::new(dst, false),
                AccountMeta::new_readonly(me, true),
            ],
        )
    };
    assert_eq!(judge(&[mk(key(9))], &me).verdict, Verdict::Confirm);
    assert_eq!(judge(&[mk(me)], &me).verdict, Verdict::Auto);
}

#[test]
fn malformed_instruction_data_rejects() {
    let me = key(1);
    // Transfer with a truncated amount, and with trailing bytes.
    let short = system(
        2,
        &[1, 2, 3],
        vec![AccountMeta::new(me, true), AccountMeta::new(key(2), false)],
    );
    assert_eq!(judge_own(&[short], &me, &[key(2)]).verdict, Verdict::Reject);
    let long = system(
        2,
        &[0; 9],
        vec![AccountMeta::new(me, true), AccountMeta::new(key(2), false)],
    );
    assert_eq!(judge_own(&[long], &me, &[key(2)]).verdict, Verdict::Reject);
}

#[test]
fn signer_not_required_rejects() {
    let (me, other) = (key(1), key(2));
    let tx = parse_legacy(&[sol_transfer(&other, &me, 1)], &other);
    let a = assess_as(&tx, me, &[]);
    assert_eq!(a.verdict, Verdict::Reject);
    assert!(a
        .reasons
        .iter()
        .any(|r| r.contains("not a required signer")));
}

fn v1_wire(priority_fee: Option<u64>, me: &Pubkey, to: &Pubkey) -> Vec<u8> {
    let mut config = v1::TransactionConfig::empty();
    if let Some(f) = priority_fee {
        config = config.with_priority_fee(f).with_compute_unit_limit(10_000);
    }
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&5u64.to_le_bytes());
    let msg = v1::Message::new(
        MessageHeader {
            num_required_signatures: 1,
            num_readonly_signed_accounts: 0,
            num_readonly_unsigned_accounts: 1,
        },
        config,
        Hash::new_from_array([3; 32]),
        vec![*me, *to, SYSTEM_PROGRAM],
        vec![CompiledInstruction::new_from_raw_parts(2, data, vec![0, 1])],
    );
    let tx = VersionedTransaction {
        signatures: vec![Default::default()],
        message: VersionedMessage::V1(msg),
    };
    wincode::serialize(&tx).unwrap()
}

#[test]
fn v1_priority_fee_in_header() {
    let (me, mine2) = (key(1), key(2));
    let wire = v1_wire(Some(5_000), &me, &mine2);
    let tx = ParsedTransaction::parse(&wire).unwrap();
    assert_eq!(tx.version(), TxVersion::V1);
    // V1: message first, then the signatures.
    assert_eq!(tx.message_bytes(), &wire[..wire.len() - 64]);
    let a = assess_as(&tx, me, &[mine2]);
    assert_eq!(a.verdict, Verdict::Auto, "{a:?}");
    assert_eq!(a.fee.priority_fee_lamports, 5_000);
    assert_eq!(a.fee.compute_unit_limit, 10_000);

    let tx = ParsedTransaction::parse(&v1_wire(Some(20_000_000), &me, &mine2)).unwrap();
    let a = assess_as(&tx, me, &[mine2]);
    assert_eq!(a.verdict, Verdict::Reject);

    // Signature placement for V1 and bare V1 messages.
    let sig = [0xAB; 64];
    let signed = tx.to_wire_with_signature(0, &sig).unwrap();
    assert_eq!(&signed[signed.len() - 64..], &sig);
    let bare = ParsedTransaction::parse_message(tx.message_bytes()).unwrap();
    assert_eq!(bare.to_wire_with_signature(0, &sig).unwrap(), signed);
}

#[test]
fn bare_legacy_message_round_trips_to_wire() {
    let (me, them) = (key(1), key(9));
    let wire = legacy_wire(&[sol_transfer(&me, &them, 1)], &me);
    let tx = ParsedTransaction::parse(&wire).unwrap();
    let msg = ParsedTransaction::parse_any(tx.message_bytes()).unwrap();
    assert!(msg.is_bare_message());
    let sig = [7u8; 64];
    assert_eq!(
        msg.to_wire_with_signature(0, &sig).unwrap(),
        tx.to_wire_with_signature(0, &sig).unwrap()
    );
    assert!(matches!(
        tx.to_wire_with_signature(1, &sig),
        Err(DecodeError::SignerPositionOutOfRange {
            position: 1,
            signers: 1
        })
    ));
}

#[test]
fn v0_lookup_destination_resolution() {
    let (me, mine2) = (key(1), key(2));
    let table = key(200);
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&5u64.to_le_bytes());
    let msg = v0::Message {
        header: MessageHeader {
            num_required_signatures: 1,
            num_readonly_signed_accounts: 0,
            num_readonly_unsigned_accounts: 1,
        },
        account_keys: vec![me, SYSTEM_PROGRAM],
        recent_blockhash: Hash::new_from_array([1; 32]),
        instructions: vec![CompiledInstruction::new_from_raw_parts(1, data, vec![0, 2])],
        address_table_lookups: vec![v0::MessageAddressTableLookup {
            account_key: table,
            writable_indexes: vec![3],
            readonly_indexes: vec![],
        }],
    };
    let wire = wincode::serialize(&VersionedTransaction::new_unsigned(VersionedMessage::V0(
        msg,
    )))
    .unwrap();
    let tx = ParsedTransaction::parse(&wire).unwrap();
    assert_eq!(tx.version(), TxVersion::V0);
    // Without the table, the destination is unknown -> confirm with a warning.
    let a = assess_as(&tx, me, &[mine2]);
    assert_eq!(a.verdict, Verdict::Confirm);
    assert!(!a.warnings.is_empty());
    // With the table, it resolves to an own wallet -> auto.
    let json = format!(
        r#"{{"{table}": ["{}", "{}", "{}", "{mine2}"]}}"#,
        key(5),
        key(6),
        key(7)
    );
    let tables = LookupTables::from_json(&json).unwrap();
    let config = PolicyConfig::default();
    let a = assess(
        &tx,
        &Context {
            signer: me,
            own_wallets: &[mine2],
            lookup_tables: &tables,
            config: &config,
        },
    );
    assert_eq!(a.verdict, Verdict::Auto, "{a:?}");
    assert!(LookupTables::from_json("{\"x\": []}").is_err());
    assert!(LookupTables::from_json("[]").is_err());
}

#[test]
fn wire_errors() {
    let (me, them) = (key(1), key(9));
    let wire = legacy_wire(&[sol_transfer(&me, &them, 1)], &me);
    assert!(ParsedTransaction::parse(&wire).is_ok());
    // Trailing bytes.
    let mut long = wire.clone();
    long.push(0);
    assert_eq!(
        ParsedTransaction::parse(&long).unwrap_err(),
        DecodeError::TrailingBytes(1)
    );
    // Truncated.
    for cut in [1, 10, 64, 65, wire.len() - 1] {
        assert!(ParsedTransaction::parse(&wire[..cut]).is_err(), "cut {cut}");
        assert!(
            ParsedTransaction::parse_any(&wire[..cut]).is_err(),
            "cut {cut}"
        );
    }
    assert_eq!(
        ParsedTransaction::parse(&[]).unwrap_err(),
        DecodeError::Empty
    );
    // Signature count differs from the header.
    let mut two_sigs = vec![2u8];
    two_sigs.extend_from_slice(&[0; 128]);
    two_sigs.extend_from_slice(&wire[65..]);
    assert!(matches!(
        ParsedTransaction::parse(&two_sigs).unwrap_err(),
        DecodeError::SignatureCountMismatch {
            expected: 1,
            found: 2
        }
    ));
    // Non-canonical short-vec: the message's account count (at message offset 3) encoded
    // in two bytes (0x83 0x00 instead of 0x03).
    let msg_start = 65;
    assert_eq!(wire[msg_start + 3], 3);
    let mut noncanon = wire[..msg_start + 3].to_vec();
    noncanon.extend_from_slice(&[0x83, 0x00]);
    noncanon.extend_from_slice(&wire[msg_start + 4..]);
    assert!(ParsedTransaction::parse(&noncanon).is_err());
    // Too large.
    let big = vec![0u8; 5000];
    assert!(matches!(
        ParsedTransaction::parse(&big).unwrap_err(),
        DecodeError::TooLarge { .. }
    ));
    // A legacy transfer whose instruction points past the account list fails sanitize.
    let mut bad = wire.clone();
    let last_ix_program = bad.len() - 1 - 12 - 1 - 2 - 1;
    bad[last_ix_program] = 50;
    assert!(ParsedTransaction::parse(&bad).is_err());
}

#[test]
fn duplicate_keys_rejected() {
    let me = key(1);
    let msg = solana_message::Message {
        header: MessageHeader {
            num_required_signatures: 1,
            num_readonly_signed_accounts: 0,
            num_readonly_unsigned_accounts: 1,
        },
        account_keys: vec![me, me, SYSTEM_PROGRAM],
        recent_blockhash: Hash::default(),
        instructions: vec![],
    };
    let wire = wincode::serialize(&VersionedTransaction::new_unsigned(
        VersionedMessage::Legacy(msg),
    ))
    .unwrap();
    assert_eq!(
        ParsedTransaction::parse(&wire).unwrap_err(),
        DecodeError::DuplicateAccountKey
    );
}

/// A v0 transaction: `me` creates the ATA `account` for `wallet` with the mint behind an
/// unresolved lookup table, then sends tokens from its own ATA to `account`.
fn ata_behind_table_then_transfer(
    me: &Pubkey,
    wallet: &Pubkey,
    account: &Pubkey,
) -> ParsedTransaction {
    let table = key(201);
    let source = key(60);
    // Static: [me (signer, writable), account, source (writable), wallet, system, token,
    // ata program (readonly)]; lookup: the mint, readonly, index 3 -> account index 7.
    let mut transfer = vec![3];
    transfer.extend_from_slice(&9u64.to_le_bytes());
    // The user's own wallet is the fee payer: no second key for it.
    let mut keys = vec![*me, *account, source];
    let wallet_index = if wallet == me {
        0
    } else {
        keys.push(*wallet);
        3
    };
    keys.extend([SYSTEM_PROGRAM, TOKEN_PROGRAM, ATA_PROGRAM]);
    let n = keys.len() as u8;
    let (system, token, ata, mint) = (n - 3, n - 2, n - 1, n);
    let msg = v0::Message {
        header: MessageHeader {
            num_required_signatures: 1,
            num_readonly_signed_accounts: 0,
            num_readonly_unsigned_accounts: if wallet == me { 3 } else { 4 },
        },
        account_keys: keys,
        recent_blockhash: Hash::new_from_array([1; 32]),
        instructions: vec![
            CompiledInstruction::new_from_raw_parts(
                ata,
                vec![1],
                vec![0, 1, wallet_index, mint, system, token],
            ),
            CompiledInstruction::new_from_raw_parts(token, transfer, vec![2, 1, 0]),
        ],
        address_table_lookups: vec![v0::MessageAddressTableLookup {
            account_key: table,
            writable_indexes: vec![],
            readonly_indexes: vec![3],
        }],
    };
    let wire = wincode::serialize(&VersionedTransaction::new_unsigned(VersionedMessage::V0(
        msg,
    )))
    .unwrap();
    ParsedTransaction::parse(&wire).unwrap()
}

#[test]
fn an_ata_the_transaction_creates_for_the_user_is_theirs_even_with_the_mint_unresolved() {
    let me = key(1);
    // The associated token program checks the derivation on chain, so the created
    // account is the user's whatever mint the table holds.
    let mine = key(61);
    let a = assess_as(&ata_behind_table_then_transfer(&me, &me, &mine), me, &[]);
    let Effect::TokenTransfer { destination, .. } = &a.effects[1] else {
        panic!("{:?}", a.effects)
    };
    assert!(destination.own);
    assert!(
        a.reasons.iter().all(|r| !r.contains("Sends")),
        "{:?}",
        a.reasons
    );
    // The same for a stranger's wallet: the tokens leave the user.
    let a = assess_as(
        &ata_behind_table_then_transfer(&me, &key(9), &mine),
        me,
        &[],
    );
    assert_eq!(a.verdict, Verdict::Confirm, "{:?}", a.reasons);
    assert!(
        a.reasons.iter().any(|r| r.contains("Sends 9 base units")),
        "{:?}",
        a.reasons
    );
}
