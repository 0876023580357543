//! In-process signing path of the signer (no IPC, no network), compared with
//! raw ed25519-dalek signing of the same message bytes.
//!
//! Run with:
//! `cargo bench -p custos-signer --bench sign -- --warm-up-time 1 --measurement-time 5`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use custos_crypto::keys::{KeyVault, RecordKeys};
use custos_crypto::record;
use custos_crypto::seal::{DevSeal, Seal};
use custos_ipc::signer::{CreateWallet, SignOutcome, SignRequest, SignerRequest, SignerResponse};
use custos_ipc::{read_frame, write_frame, Envelope};
use custos_signer::Service;
use custos_txdecode::{
    assess, Context, LookupTables, ParsedTransaction, PolicyConfig, Pubkey, Verdict,
};
use ed25519_dalek::{Signer, SigningKey};
use std::hint::black_box;
use zeroize::Zeroizing;

/// Distinct transactions cycled through, so no two consecutive signatures
/// are of the same bytes.
const RING: u64 = 1024;

/// The legacy wire transfer the default policy signs at once (215 bytes;
/// the signed message is the 150 bytes after the signature slot).
fn transfer(from: &[u8; 32], to: &[u8; 32], lamports: u64) -> Vec<u8> {
    let mut tx = vec![1u8];
    tx.extend_from_slice(&[0u8; 64]);
    tx.extend_from_slice(&[1, 0, 1, 3]);
    tx.extend_from_slice(from);
    tx.extend_from_slice(to);
    tx.extend_from_slice(&[0u8; 32]);
    tx.extend_from_slice(&[0x5a; 32]);
    tx.extend_from_slice(&[1, 2, 2, 0, 1, 12]);
    tx.extend_from_slice(&2u32.to_le_bytes());
    tx.extend_from_slice(&lamports.to_le_bytes());
    tx
}

struct Fixture {
    _dir: tempfile::TempDir,
    service: Service,
    /// The same keys, with 10,000 other users who asked for the second factor on every
    /// signature loaded: the signing path looks the owner up in that set.
    strict_service: Service,
    keys: RecordKeys,
    /// The same keys in the key shield, as the service holds them.
    vault: KeyVault,
    requests: Vec<SignRequest>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let seal = DevSeal::in_data_dir(dir.path());
    let service = Service::start(&seal, PolicyConfig::default()).expect("signer starts");
    // The same seal yields the same master key, hence the service's record keys.
    let keys = RecordKeys::derive(&seal.unseal_or_create().expect("unseal"));
    let vault = KeyVault::new(seal.unseal_or_create().expect("unseal")).expect("shield");
    // Fixed keys, imported, rather than `create_wallet`'s random ones: the
    // policy derives the wallets' associated token addresses, whose bump
    // search (and so its cost) depends on the addresses, so random wallets
    // make runs incomparable (27-67 µs for the policy step alone was seen).
    // The signing path does not look at the imported flag.
    let new = |seed: u8| {
        service
            .import_wallet(
                "bench-user".to_owned(),
                Some(42),
                &Zeroizing::new([seed; 32]),
            )
            .expect("wallet imported")
    };
    let (a, b) = (new(1), new(2));
    // Both shapes of wallet creation work; the random one is exercised once.
    service
        .create_wallet(CreateWallet {
            user_id: "bench-user".to_owned(),
            telegram_id: Some(42),
        })
        .expect("wallet created");
    let strict_service = Service::start(&seal, PolicyConfig::default()).expect("signer starts");
    let loaded = strict_service.load_security_records(strict_records(&keys, 10_000));
    assert_eq!((loaded.loaded, loaded.refused), (10_000, 0));
    let requests = (0..RING)
        .map(|n| SignRequest {
            wallet: a.pubkey,
            record: a.record.clone(),
            related_records: vec![b.record.clone()],
            transaction: transfer(&a.pubkey, &b.pubkey, 1_000 + n),
            lookup_tables: Vec::new(),
            offered_lookup_tables: Vec::new(),
            intent: None,
            security_record: None,
        })
        .collect();
    Fixture {
        _dir: dir,
        service,
        strict_service,
        keys,
        vault,
        requests,
    }
}

/// Security records of `n` users with a TOTP factor and "second factor for every
/// signature" on (one factor state, sealed into each record).
fn strict_records(keys: &RecordKeys, n: usize) -> Vec<Vec<u8>> {
    use custos_signer::factors::{Factors, FLAG_HAS_FACTOR, FLAG_REQUIRE_FOR_ALL};
    let (mut pending, offer) =
        custos_signer::totp::Enrolment::begin("bench", "Custos").expect("enrolment");
    let app = totp_rs::Totp::from_url(offer.uri()).expect("uri");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let factor = pending
        .confirm(&app.generate(now).to_string(), now)
        .expect("first code");
    let secrets = Factors {
        totp: Some(factor),
        ..Factors::default()
    }
    .to_bytes();
    (0..n)
        .map(|i| {
            custos_crypto::security::seal(
                keys,
                &custos_crypto::security::SecurityRecord {
                    user_id: format!("strict-user-{i}"),
                    telegram_id: 1_000 + i as u64,
                    revision: 1,
                    linked_at_unix: now,
                    flags: FLAG_HAS_FACTOR | FLAG_REQUIRE_FOR_ALL,
                    secrets: Some(secrets.clone()),
                },
            )
            .expect("sealed")
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let f = fixture();
    // The path must sign, or the benchmark measures a rejection.
    match f.service.sign(&f.requests[0]).expect("sign") {
        SignOutcome::Signed { .. } => {}
        other => panic!("the benchmark transfer was not auto-signed: {other:?}"),
    }

    let mut g = c.benchmark_group("signer");
    g.throughput(Throughput::Elements(1));

    // Everything the signer process does per request, minus the socket:
    // authenticate both records, decode, judge, decrypt the seed, sign,
    // re-serialize the signed transaction.
    let mut i = 0usize;
    g.bench_function("service_sign", |bch| {
        bch.iter(|| {
            i = (i + 1) % f.requests.len();
            black_box(f.service.sign(black_box(&f.requests[i])).expect("sign"))
        })
    });

    // The same, with 10,000 "always" users loaded (the owner is not one of them): the
    // cost of the set lookup on the automatic path.
    let mut i = 0usize;
    g.bench_function("service_sign_10k_always_users", |bch| {
        bch.iter(|| {
            i = (i + 1) % f.requests.len();
            black_box(
                f.strict_service
                    .sign(black_box(&f.requests[i]))
                    .expect("sign"),
            )
        })
    });

    // The baseline: ed25519-dalek on the same 150-byte message bytes.
    let key = SigningKey::from_bytes(&[42u8; 32]);
    let messages: Vec<&[u8]> = f.requests.iter().map(|r| &r.transaction[65..]).collect();
    let mut i = 0usize;
    g.bench_function("raw_ed25519_sign", |bch| {
        bch.iter(|| {
            i = (i + 1) % messages.len();
            black_box(key.sign(black_box(messages[i])))
        })
    });

    // Record handling alone: MAC check + header parse, then AEAD open.
    let rec = &f.requests[0].record;
    g.bench_function("record_authenticate_open", |bch| {
        bch.iter(|| {
            let r = record::authenticate(&f.keys, black_box(rec)).expect("authentic");
            black_box(r.open(&f.keys).expect("opens"))
        })
    });
    g.bench_function("record_authenticate", |bch| {
        bch.iter(|| black_box(record::authenticate(&f.keys, black_box(rec)).expect("authentic")))
    });

    // Issue 7: what the key shield costs. Rebuilding the record keys from the shield (walk
    // 16 pages, SHA-256, ChaCha20 pad) alone; the stack scrub after each request; and the
    // key-using steps of a signature (authenticate the wallet's and a related record,
    // open the seed, sign) with plain keys and with the shield, in the same run.
    g.bench_function("key_shield_rebuild", |bch| {
        bch.iter(|| {
            f.vault
                .with_record_keys(|k| black_box(k as *const RecordKeys))
        })
    });
    // For comparison: the hash OpenSSH's unshield spends per use (SHA-512 of its 16 KiB
    // prekey; its AES-CTR decryption of the key comes on top).
    let prekey = vec![0x5au8; 16 * 1024];
    g.bench_function("openssh_style_prekey_hash_16k", |bch| {
        bch.iter(|| {
            use sha2::Digest;
            black_box(sha2::Sha512::digest(black_box(&prekey)))
        })
    });
    g.bench_function("scrub_stack", |bch| {
        bch.iter(custos_sys::memory::scrub_stack)
    });
    let prepared = custos_crypto::sign::prepare_public_key(&f.requests[0].wallet).expect("key");
    let key_steps = |keys: &RecordKeys, req: &SignRequest| {
        let w = record::authenticate(keys, &req.record).expect("authentic");
        let r = record::authenticate(keys, &req.related_records[0]).expect("authentic");
        let seed = w.open(keys).expect("opens");
        black_box(r.header.pubkey);
        custos_crypto::sign::sign_prepared(&seed, &prepared, &req.transaction[65..])
    };
    let mut i = 0usize;
    g.bench_function("key_steps_plain_keys", |bch| {
        bch.iter(|| {
            i = (i + 1) % f.requests.len();
            black_box(key_steps(&f.keys, black_box(&f.requests[i])))
        })
    });
    let mut i = 0usize;
    g.bench_function("key_steps_shielded_keys", |bch| {
        bch.iter(|| {
            i = (i + 1) % f.requests.len();
            black_box(
                f.vault
                    .with_record_keys(|k| key_steps(k, black_box(&f.requests[i]))),
            )
        })
    });

    // Decoding and policy alone.
    let signer = Pubkey::new_from_array(f.requests[0].wallet);
    let other = record::authenticate(&f.keys, &f.requests[0].related_records[0])
        .expect("authentic")
        .header
        .pubkey;
    let own = [Pubkey::new_from_array(other)];
    let tables = LookupTables::empty();
    let config = PolicyConfig::default();
    let mut i = 0usize;
    g.bench_function("decode_assess", |bch| {
        bch.iter(|| {
            i = (i + 1) % f.requests.len();
            let tx =
                ParsedTransaction::parse(black_box(&f.requests[i].transaction)).expect("parses");
            let ctx = Context {
                signer,
                own_wallets: &own,
                lookup_tables: &tables,
                config: &config,
            };
            let a = assess(&tx, &ctx);
            assert_eq!(a.verdict, Verdict::Auto);
            black_box(a)
        })
    });

    // The IPC codec the bridge and signer add around a request (both
    // directions, in memory: framing and serialization, no socket).
    let response = Envelope {
        id: 7,
        body: SignerResponse::Sign(f.service.sign(&f.requests[0]).expect("sign")),
    };
    let request = Envelope {
        id: 7,
        body: SignerRequest::Sign(f.requests[0].clone()),
    };
    let mut buf = Vec::with_capacity(4096);
    g.bench_function("ipc_codec_roundtrip", |bch| {
        bch.iter(|| {
            buf.clear();
            write_frame(&mut buf, black_box(&request)).expect("encode");
            let req: Envelope<SignerRequest> = read_frame(&mut buf.as_slice()).expect("decode");
            buf.clear();
            write_frame(&mut buf, black_box(&response)).expect("encode");
            let resp: Envelope<SignerResponse> = read_frame(&mut buf.as_slice()).expect("decode");
            black_box((req, resp))
        })
    });
    g.finish();
}

criterion_group!(sign, benches);
criterion_main!(sign);
