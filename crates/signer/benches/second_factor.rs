//! What a second factor costs the signer: checking a TOTP code, re-sealing and reading a
//! security record with its factor state, and encrypting a key export (HPKE).
//!
//! Run with:
//! `cargo bench -p custos-signer --bench second_factor -- --warm-up-time 1 --measurement-time 5`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use custos_crypto::export::{seal_export, ExportContext, RecipientKey};
use custos_crypto::keys::{MasterKey, RecordKeys};
use custos_crypto::security::{self, SecurityRecord};
use custos_signer::factors::{Factors, FLAG_HAS_FACTOR};
use custos_signer::totp::{Enrolment, TotpFactor};
use std::hint::black_box;
use zeroize::Zeroizing;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// An active factor, as enrolled through the bot.
fn factor() -> TotpFactor {
    let (mut pending, offer) = Enrolment::begin("bench", "Custos").expect("enrolment");
    let app = totp_rs::Totp::from_url(offer.uri()).expect("uri");
    let t = now();
    pending
        .confirm(&app.generate(t).to_string(), t)
        .expect("first code")
}

fn benches(c: &mut Criterion) {
    let keys = RecordKeys::derive(&MasterKey::from_bytes(Zeroizing::new([7; 32])));
    let factor_bytes = factor().to_bytes();
    let mut g = c.benchmark_group("second_factor");

    // A wrong code: the three window steps are computed and compared (a right code
    // costs the same and can be used only once). The factor is decoded per iteration,
    // outside the measurement, so failures never reach the lock-out.
    g.bench_function("totp_verify", |b| {
        b.iter_batched(
            || TotpFactor::from_bytes(&factor_bytes).expect("factor"),
            |mut f| black_box(f.verify(black_box("000000"), now()).is_err()),
            BatchSize::SmallInput,
        )
    });

    // After every use or failure the record is sealed again (XChaCha20-Poly1305 of the
    // factor state + HMAC), and read back on the next request.
    let record = SecurityRecord {
        user_id: "user:42@bot".into(),
        telegram_id: 123_456_789,
        revision: 7,
        linked_at_unix: 1_800_000_000,
        flags: FLAG_HAS_FACTOR,
        secrets: Some(
            Factors {
                totp: Some(TotpFactor::from_bytes(&factor_bytes).expect("factor")),
                ..Factors::default()
            }
            .to_bytes(),
        ),
    };
    g.bench_function("security_record_seal", |b| {
        b.iter(|| black_box(security::seal(&keys, black_box(&record)).expect("sealed")))
    });
    let sealed = security::seal(&keys, &record).expect("sealed");
    g.bench_function("security_record_open_and_decode", |b| {
        b.iter(|| {
            let r = security::authenticate(&keys, black_box(&sealed)).expect("authentic");
            black_box(
                Factors::from_bytes(r.secrets.as_deref().map(|s| s.as_slice())).expect("factors"),
            )
        })
    });

    // An export: HPKE (X25519, HKDF-SHA256, AES-128-GCM) of the 32-byte seed to the
    // browser's key, including the check that the seed is the wallet's.
    let seed = Zeroizing::new([9u8; 32]);
    let wallet = custos_crypto::sign::public_key(&seed);
    let browser = x25519_dalek::StaticSecret::from([5u8; 32]);
    let recipient =
        RecipientKey::from_bytes(x25519_dalek::PublicKey::from(&browser).as_bytes()).expect("key");
    let context = ExportContext {
        wallet,
        confirmation_id: [3; 16],
    };
    g.bench_function("export_seal", |b| {
        b.iter(|| black_box(seal_export(&recipient, &context, &seed).expect("sealed")))
    });
    g.finish();
}

criterion_group!(second_factor, benches);
criterion_main!(second_factor);
