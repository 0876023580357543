//! Shared test helpers: fixture loading, transaction building and judging.
#![allow(dead_code)]

use base64::Engine;
use custos_txdecode::programs::{
    ATA_PROGRAM, COMPUTE_BUDGET_PROGRAM, SYSTEM_PROGRAM, TOKEN_2022_PROGRAM, TOKEN_PROGRAM,
};
use custos_txdecode::{
    assess, assess_with_intent, associated_token_address, Assessment, Context, Effect, Intent,
    LookupTables, ParsedTransaction, PolicyConfig, Pubkey,
};
use sha2::{Digest, Sha256};
use solana_message::{AccountMeta, Hash, Instruction, Message, VersionedMessage};
use solana_transaction::versioned::VersionedTransaction;

pub const FIXTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/solana");

pub const FIXTURE_FILES: &[&str] = &[
    "walletcore.json",
    "walletcore_msgs.json",
    "visualsign.json",
    "ledger.json",
    "agavesim_wire.json",
];

pub fn load(file: &str) -> Vec<serde_json::Value> {
    let path = format!("{FIXTURE_DIR}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// Decodes fixture data by its `enc` field.
pub fn decode_data(enc: &str, data: &str) -> Option<Vec<u8>> {
    custos_txdecode::text::decode_named(enc, data)
}

/// Every fixture entry: (file, name, bytes, entry).
pub fn all_entries() -> Vec<(String, String, Vec<u8>, serde_json::Value)> {
    let mut out = Vec::new();
    for file in FIXTURE_FILES {
        for e in load(file) {
            let name = e["name"].as_str().unwrap_or("?").to_owned();
            let enc = e["enc"].as_str().unwrap_or("auto");
            let data = e["data"].as_str().unwrap_or("");
            let bytes = decode_data(enc, data).unwrap_or_default();
            out.push(((*file).to_owned(), name, bytes, e));
        }
    }
    out
}

/// Lookup tables rebuilt from an agavesim entry's loaded_writable / loaded_readonly.
pub fn tables_for(tx: &ParsedTransaction, entry: &serde_json::Value) -> LookupTables {
    let mut tables = LookupTables::empty();
    let addrs = |k: &str| -> Vec<Pubkey> {
        entry[k]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()?.parse().ok()).collect())
            .unwrap_or_default()
    };
    let (w, r) = (addrs("loaded_writable"), addrs("loaded_readonly"));
    if w.is_empty() && r.is_empty() {
        return tables;
    }
    let (mut wi, mut ri) = (w.iter(), r.iter());
    let mut contents: std::collections::BTreeMap<Pubkey, Vec<Pubkey>> = Default::default();
    for l in tx.address_table_lookups() {
        let t = contents.entry(l.account_key).or_default();
        for (idxs, it) in [
            (&l.writable_indexes, &mut wi),
            (&l.readonly_indexes, &mut ri),
        ] {
            for &i in idxs {
                let i = usize::from(i);
                if t.len() <= i {
                    t.resize(i + 1, Pubkey::default());
                }
                if let Some(a) = it.next() {
                    t[i] = *a;
                }
            }
        }
    }
    for (k, v) in contents {
        tables.insert(k, v).unwrap();
    }
    tables
}

pub fn assess_as(tx: &ParsedTransaction, signer: Pubkey, own: &[Pubkey]) -> Assessment {
    let tables = LookupTables::empty();
    let config = PolicyConfig::default();
    assess(
        tx,
        &Context {
            signer,
            own_wallets: own,
            lookup_tables: &tables,
            config: &config,
        },
    )
}

pub fn key(n: u8) -> Pubkey {
    let mut b = [0u8; 32];
    b[0] = n;
    b[31] = 0xA5;
    Pubkey::new_from_array(b)
}

/// A signed-looking legacy wire transaction (zero signatures) from instructions.
pub fn legacy_wire(instructions: &[Instruction], payer: &Pubkey) -> Vec<u8> {
    let msg =
        Message::new_with_blockhash(instructions, Some(payer), &Hash::new_from_array([7; 32]));
    let tx = VersionedTransaction::new_unsigned(VersionedMessage::Legacy(msg));
    wincode::serialize(&tx).unwrap()
}

pub fn parse_legacy(instructions: &[Instruction], payer: &Pubkey) -> ParsedTransaction {
    ParsedTransaction::parse(&legacy_wire(instructions, payer)).unwrap()
}

// ---------------------------------------------------------------------------------------
// Judging.

/// Every assessment must render, serialise, and describe each effect in one line.
pub fn check(a: &Assessment) {
    assert!(!a.to_text().is_empty());
    serde_json::to_string(a).unwrap();
    assert_eq!(a.descriptions().len(), a.effects.len());
}

/// A legacy transaction of `ixs` paid and signed by `me`, assessed with the default policy,
/// no own wallets and no lookup tables.
pub fn judge(ixs: &[Instruction], me: &Pubkey) -> Assessment {
    judge_own(ixs, me, &[])
}

/// [`judge`], with `own` as the user's other wallets.
pub fn judge_own(ixs: &[Instruction], me: &Pubkey, own: &[Pubkey]) -> Assessment {
    let a = assess_as(&parse_legacy(ixs, me), *me, own);
    check(&a);
    a
}

/// [`judge`], under `config` and, if given, an intent.
pub fn judge_with(
    ixs: &[Instruction],
    me: &Pubkey,
    config: &PolicyConfig,
    intent: Option<&Intent>,
) -> Assessment {
    let tables = LookupTables::empty();
    let a = assess_with_intent(
        &parse_legacy(ixs, me),
        &Context {
            signer: *me,
            own_wallets: &[],
            lookup_tables: &tables,
            config,
        },
        intent,
    );
    check(&a);
    a
}

/// The swap effects of an assessment.
pub fn swaps(a: &Assessment) -> Vec<&Effect> {
    a.effects
        .iter()
        .filter(|e| matches!(e, Effect::Swap { .. }))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Keys and accounts.

pub const USDC: Pubkey = Pubkey::from_str_const("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v");

pub fn pk(s: &str) -> Pubkey {
    s.parse().unwrap()
}

pub fn ro(k: Pubkey) -> AccountMeta {
    AccountMeta::new_readonly(k, false)
}

pub fn rw(k: Pubkey) -> AccountMeta {
    AccountMeta::new(k, false)
}

/// A writable signer.
pub fn signer(k: Pubkey) -> AccountMeta {
    AccountMeta::new(k, true)
}

/// A read-only signer.
pub fn ro_signer(k: Pubkey) -> AccountMeta {
    AccountMeta::new_readonly(k, true)
}

/// `wallet`'s associated token account for `mint` under the Token program.
pub fn ata(wallet: &Pubkey, mint: &Pubkey) -> Pubkey {
    associated_token_address(wallet, mint, &TOKEN_PROGRAM).unwrap()
}

/// `wallet`'s associated token account for `mint` under Token-2022.
pub fn ata_2022(wallet: &Pubkey, mint: &Pubkey) -> Pubkey {
    associated_token_address(wallet, mint, &TOKEN_2022_PROGRAM).unwrap()
}

/// The first 8 bytes of `sha256("global:<name>")`: an Anchor instruction discriminator.
pub fn anchor_discriminator(name: &str) -> [u8; 8] {
    let h = Sha256::digest(format!("global:{name}").as_bytes());
    let mut d = [0u8; 8];
    d.copy_from_slice(&h[..8]);
    d
}

// ---------------------------------------------------------------------------------------
// Instructions of the system, compute budget, token and ATA programs.

/// System Transfer of `lamports` from `from` (signer) to `to`.
pub fn sol_transfer(from: &Pubkey, to: &Pubkey, lamports: u64) -> Instruction {
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&lamports.to_le_bytes());
    Instruction::new_with_bytes(SYSTEM_PROGRAM, &data, vec![signer(*from), rw(*to)])
}

pub fn cu_limit(units: u32) -> Instruction {
    let mut data = vec![2];
    data.extend_from_slice(&units.to_le_bytes());
    Instruction::new_with_bytes(COMPUTE_BUDGET_PROGRAM, &data, vec![])
}

pub fn cu_price(micro_lamports: u64) -> Instruction {
    let mut data = vec![3];
    data.extend_from_slice(&micro_lamports.to_le_bytes());
    Instruction::new_with_bytes(COMPUTE_BUDGET_PROGRAM, &data, vec![])
}

/// ATA CreateIdempotent of `wallet`'s account for `mint` under `token_program`, paid by
/// `payer`.
pub fn create_ata(
    payer: &Pubkey,
    wallet: &Pubkey,
    mint: &Pubkey,
    token_program: &Pubkey,
) -> Instruction {
    let account = associated_token_address(wallet, mint, token_program).unwrap();
    Instruction::new_with_bytes(
        ATA_PROGRAM,
        &[1],
        vec![
            signer(*payer),
            rw(account),
            ro(*wallet),
            ro(*mint),
            ro(SYSTEM_PROGRAM),
            ro(*token_program),
        ],
    )
}

/// [`create_ata`] paid by `wallet` itself.
pub fn create_own_ata(wallet: &Pubkey, mint: &Pubkey, token_program: &Pubkey) -> Instruction {
    create_ata(wallet, wallet, mint, token_program)
}

/// Token SyncNative of `account`.
pub fn sync_native(token_program: &Pubkey, account: &Pubkey) -> Instruction {
    Instruction::new_with_bytes(*token_program, &[17], vec![rw(*account)])
}

/// Token CloseAccount of `account` into `dest`, by `owner`.
pub fn close_token_account(account: &Pubkey, dest: &Pubkey, owner: &Pubkey) -> Instruction {
    Instruction::new_with_bytes(
        TOKEN_PROGRAM,
        &[9],
        vec![rw(*account), rw(*dest), ro_signer(*owner)],
    )
}

/// Token TransferChecked of `amount` (`decimals`) from `src` to `dst`, by `owner`.
pub fn transfer_checked(
    token_program: &Pubkey,
    src: &Pubkey,
    mint: &Pubkey,
    dst: &Pubkey,
    owner: &Pubkey,
    amount: u64,
    decimals: u8,
) -> Instruction {
    let mut data = vec![12];
    data.extend_from_slice(&amount.to_le_bytes());
    data.push(decimals);
    Instruction::new_with_bytes(
        *token_program,
        &data,
        vec![rw(*src), ro(*mint), rw(*dst), ro_signer(*owner)],
    )
}
