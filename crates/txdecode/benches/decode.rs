//! Decoder cost: `ParsedTransaction::parse_any` + `assess`, and `Assessment::to_text`
//! separately, for a Jupiter swap fixture, the largest fixture that parses, and a plain
//! SOL transfer between two of the user's own wallets.
//!
//! Run with:
//! `cargo bench -p custos-txdecode --bench decode -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use custos_txdecode::programs::{NATIVE_MINT, TOKEN_PROGRAM};
use custos_txdecode::{
    assess, associated_token_address, Assessment, Context, LookupTables, ParsedTransaction,
    PolicyConfig, Pubkey,
};
use std::hint::black_box;

const FIXTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/solana");
const FIXTURE_FILES: &[&str] = &[
    "walletcore.json",
    "walletcore_msgs.json",
    "visualsign.json",
    "ledger.json",
    "agavesim_wire.json",
];

fn load(file: &str) -> Vec<serde_json::Value> {
    let path = format!("{FIXTURE_DIR}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Fixture data by its `enc` (see `custos_txdecode::text::decode_named`).
fn decode_data(enc: &str, data: &str) -> Option<Vec<u8>> {
    custos_txdecode::text::decode_named(enc, data)
}

/// Every fixture entry that parses: (file:name, bytes).
fn parsing_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for file in FIXTURE_FILES {
        for e in load(file) {
            let name = e["name"].as_str().unwrap_or("?");
            let enc = e["enc"].as_str().unwrap_or("auto");
            let data = e["data"].as_str().unwrap_or("");
            if let Some(bytes) = decode_data(enc, data) {
                if ParsedTransaction::parse_any(&bytes).is_ok() {
                    out.push((format!("{file}:{name}"), bytes));
                }
            }
        }
    }
    out
}

/// The legacy wire SOL transfer the signer bench uses (215 bytes, one signature slot).
fn transfer(from: &Pubkey, to: &Pubkey, lamports: u64) -> Vec<u8> {
    let mut tx = vec![1u8];
    tx.extend_from_slice(&[0u8; 64]);
    tx.extend_from_slice(&[1, 0, 1, 3]);
    tx.extend_from_slice(from.as_ref());
    tx.extend_from_slice(to.as_ref());
    tx.extend_from_slice(&[0u8; 32]); // System program
    tx.extend_from_slice(&[0x5a; 32]); // recent blockhash
    tx.extend_from_slice(&[1, 2, 2, 0, 1, 12]);
    tx.extend_from_slice(&2u32.to_le_bytes());
    tx.extend_from_slice(&lamports.to_le_bytes());
    tx
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    signer: Pubkey,
    own_wallets: Vec<Pubkey>,
}

fn cases() -> Vec<Case> {
    let fixtures = parsing_fixtures();
    let fee_payer = |bytes: &[u8]| -> Pubkey {
        *ParsedTransaction::parse_any(bytes)
            .expect("parses")
            .fee_payer()
            .expect("has a fee payer")
    };

    let (_, jupiter) = fixtures
        .iter()
        .find(|(n, _)| {
            n.starts_with("visualsign.json:") && n.contains("test_jupiter_swap_transaction")
        })
        .expect("visualsign test_jupiter_swap_transaction fixture");
    let (largest_name, largest) = fixtures
        .iter()
        .max_by_key(|(_, b)| b.len())
        .expect("at least one fixture parses");
    eprintln!(
        "largest parsing fixture: {largest_name} ({} bytes)",
        largest.len()
    );
    eprintln!("jupiter fixture: {} bytes", jupiter.len());

    let (_, pumpswap) = fixtures
        .iter()
        .find(|(n, _)| n.ends_with("agavesim:JSON2"))
        .expect("agavesim PumpSwap buy fixture");
    let (_, clmm) = fixtures
        .iter()
        .find(|(n, _)| n.ends_with("agavesim:JSON1"))
        .expect("agavesim Raydium CLMM fixture");

    let a = Pubkey::new_from_array([0x11; 32]);
    let b = Pubkey::new_from_array([0x22; 32]);
    vec![
        Case {
            name: "jupiter_swap",
            bytes: jupiter.clone(),
            signer: fee_payer(jupiter),
            own_wallets: Vec::new(),
        },
        Case {
            name: "largest_fixture",
            bytes: largest.clone(),
            signer: fee_payer(largest),
            own_wallets: Vec::new(),
        },
        Case {
            name: "pumpswap_buy",
            bytes: pumpswap.clone(),
            signer: fee_payer(pumpswap),
            own_wallets: Vec::new(),
        },
        Case {
            name: "raydium_clmm_swap",
            bytes: clmm.clone(),
            signer: fee_payer(clmm),
            own_wallets: Vec::new(),
        },
        Case {
            name: "sol_transfer_own",
            bytes: transfer(&a, &b, 1_000_000),
            signer: a,
            own_wallets: vec![b],
        },
    ]
}

fn decode_assess(
    bytes: &[u8],
    signer: Pubkey,
    own_wallets: &[Pubkey],
    tables: &LookupTables,
    config: &PolicyConfig,
) -> Assessment {
    let tx = ParsedTransaction::parse_any(bytes).expect("parses");
    assess(
        &tx,
        &Context {
            signer,
            own_wallets,
            lookup_tables: tables,
            config,
        },
    )
}

fn bench(c: &mut Criterion) {
    let tables = LookupTables::empty();
    let config = PolicyConfig::default();
    let cases = cases();

    let mut g = c.benchmark_group("parse");
    for case in &cases {
        g.throughput(Throughput::Bytes(case.bytes.len() as u64));
        g.bench_function(BenchmarkId::from_parameter(case.name), |bch| {
            bch.iter(|| ParsedTransaction::parse_any(black_box(&case.bytes)).expect("parses"))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("decode_assess");
    for case in &cases {
        g.throughput(Throughput::Bytes(case.bytes.len() as u64));
        g.bench_function(BenchmarkId::from_parameter(case.name), |bch| {
            bch.iter(|| {
                decode_assess(
                    black_box(&case.bytes),
                    case.signer,
                    &case.own_wallets,
                    &tables,
                    &config,
                )
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("to_text");
    for case in &cases {
        let a = decode_assess(
            &case.bytes,
            case.signer,
            &case.own_wallets,
            &tables,
            &config,
        );
        eprintln!("{}: {:?} - {}", case.name, a.verdict, a.summary);
        g.bench_function(BenchmarkId::from_parameter(case.name), |bch| {
            bch.iter(|| black_box(&a).to_text())
        });
    }
    g.finish();

    // One associated-token-address derivation (SHA-256 per bump tried plus an off-curve
    // check): what `assess` pays per (wallet, mint, token program) once it has to prove
    // that a token account is the user's.
    let wallet = cases[0].signer;
    c.bench_function("associated_token_address", |bch| {
        bch.iter(|| associated_token_address(black_box(&wallet), &NATIVE_MINT, &TOKEN_PROGRAM))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
