//! Writes the seed corpora of the three targets, made by custos-tpm's own code and a real
//! TPM (swtpm, started as crates/tpm's tests start it): the reference policy signed by
//! the fixed policy key and one by a random key; master keys sealed by `genesis`; the
//! reference quote signed by the fixed software AK, and swtpm quotes for the target to
//! sign again.
//!
//! Usage: `seed_corpus <corpus dir>` (see `../seed-corpus.sh`); writes
//! `<corpus dir>/<target>/seed-<name>`. swtpm's keys are random, so the sealed keys and
//! swtpm quotes differ per run.

use custos_tpm::policy::{sign_policy, ImagePolicy, PolicySigningKey};
use custos_tpm::seal::genesis;
use custos_tpm::NvIndex;
use custos_tpm_fuzz::{
    policy_key, reference_attest, reference_policy, selection, sign, COUNTER, EXTEND, NONCE,
};
use std::path::Path;
use std::process::ExitCode;

#[path = "../../tests/common/mod.rs"]
mod common;

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) -> Result<(), String> {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    let f = d.join(format!("seed-{name}"));
    std::fs::write(&f, bytes).map_err(|e| format!("{}: {e}", f.display()))
}

fn run(dir: &Path) -> Result<(), String> {
    let key = policy_key();
    write(
        dir,
        "signed_policy",
        "reference",
        &reference_policy(&key).to_bytes(),
    )?;
    let other = ImagePolicy {
        version: 0,
        pcr7: [0; 32],
        pcr11: [0xff; 32],
    };
    let counter = NvIndex::new(COUNTER).map_err(|e| e.to_string())?;
    let random = PolicySigningKey::generate();
    write(
        dir,
        "signed_policy",
        "random-key",
        &sign_policy(&other, counter, &random).to_bytes(),
    )?;

    let (_sw, mut tpm) = common::Swtpm::started();
    let sealed = genesis(&mut tpm, &[0x42; 32], &key.public_key(), counter)
        .map_err(|e| format!("genesis: {e}"))?;
    write(dir, "sealed_key", "genesis", &sealed.to_bytes())?;
    let other_counter = NvIndex::new(COUNTER + 1).map_err(|e| e.to_string())?;
    let sealed = genesis(&mut tpm, &[0x43; 32], &random.public_key(), other_counter)
        .map_err(|e| format!("genesis: {e}"))?;
    write(dir, "sealed_key", "random-key", &sealed.to_bytes())?;

    // quote: the mode byte (even: as given; odd: the target signs the attestation).
    let attest = reference_attest();
    let mut raw = vec![0u8];
    raw.extend_from_slice(&attest);
    raw.extend_from_slice(&sign(&attest));
    write(dir, "quote", "reference", &raw)?;
    for (pcr, value) in [7, 11].into_iter().zip(EXTEND) {
        tpm.pcr_extend(pcr, &value)
            .map_err(|e| format!("extend: {e}"))?;
    }
    let ak = tpm
        .create_attestation_key()
        .map_err(|e| format!("attestation key: {e}"))?;
    for (name, mode, nonce) in [
        ("swtpm", 1u8, &NONCE[..]),
        ("swtpm-short-nonce", 3, b"short"),
    ] {
        let quote = tpm
            .quote(&ak, nonce, &selection())
            .map_err(|e| format!("quote: {e}"))?;
        let mut seed = vec![mode];
        seed.extend_from_slice(&quote.attest);
        write(dir, "quote", name, &seed)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: seed_corpus <corpus dir>");
        return ExitCode::from(2);
    };
    match run(Path::new(&dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seed_corpus: {e}");
            ExitCode::FAILURE
        }
    }
}
