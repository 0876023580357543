//! Writes the seed corpora of the three targets: real encodings made by the signer's own
//! code (a TOTP factor confirmed with an authenticator app's code, a passkey registered
//! by the software authenticator of crates/passkey's tests, records sealed by
//! `custos_crypto::security::seal`) and the messages a user and the Custos page send.
//!
//! Usage: `seed_corpus <corpus dir>` (see `../seed-corpus.sh`); writes
//! `<corpus dir>/<target>/<name>`. Secrets are random, so the bytes differ per run.

use custos_crypto::security::{seal, SecurityRecord};
use custos_passkey::{PasskeyConfig, Passkeys, StoredPasskey, Uuid};
use custos_signer::factors::{
    Factors, Removal, RemovalTarget, FLAG_HAS_FACTOR, FLAG_REQUIRE_FOR_ALL,
};
use custos_signer_fuzz::{record_keys, spec, totp_factor, MASTER_KEY};
use serde_json::{json, Value};
use std::path::Path;
use std::process::ExitCode;
use zeroize::Zeroizing;

#[path = "../../../passkey/tests/common/mod.rs"]
mod device;

const NOW: u64 = 1_800_000_000;

/// A passkey registered for `https://localhost:8443` (the origin of the
/// signer_from_pool service), and the browser's registration response JSON.
fn passkey() -> (StoredPasskey, String) {
    let p = Passkeys::new(PasskeyConfig {
        rp_id: "localhost".into(),
        rp_origin: device::ORIGIN.parse().expect("origin"),
        rp_name: "Custos".into(),
    })
    .expect("relying party");
    let mut dev = device::Device::new();
    let (options, state) = p
        .begin_registration("fuzz-user", Uuid::from_bytes([1; 16]), &[])
        .expect("registration options");
    let response = dev.register(&options).expect("the authenticator registers");
    let stored = p
        .finish_registration(state, &response)
        .expect("the registration verifies");
    (stored, response)
}

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) -> Result<(), String> {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    let f = d.join(name);
    std::fs::write(&f, bytes).map_err(|e| format!("{}: {e}", f.display()))
}

fn factor_states() -> Vec<(&'static str, Zeroizing<Vec<u8>>)> {
    let removal = |target| Removal {
        target,
        effective_at: NOW + 86_400,
        requested_at: NOW,
    };
    let mut locked = totp_factor("locked", NOW);
    for _ in 0..custos_signer::totp::FAILURES_BEFORE_LOCKOUT {
        let _ = locked.verify("no code", NOW);
    }
    assert!(locked.locked_until(NOW).is_some());
    let with = |totp, passkeys: Vec<StoredPasskey>, removal| {
        Factors {
            totp,
            passkeys,
            removal,
        }
        .to_bytes()
    };
    let pk = || passkey().0;
    vec![
        ("none", with(None, vec![], None)),
        ("totp", with(Some(totp_factor("a", NOW)), vec![], None)),
        (
            "totp-removal",
            with(
                Some(totp_factor("b", NOW)),
                vec![],
                Some(removal(RemovalTarget::Totp)),
            ),
        ),
        ("totp-locked", with(Some(locked), vec![], None)),
        (
            "totp-passkey",
            with(Some(totp_factor("c", NOW)), vec![pk()], None),
        ),
        (
            "passkeys-removal",
            with(
                None,
                vec![pk(), pk()],
                Some(removal(RemovalTarget::Passkeys)),
            ),
        ),
    ]
}

fn security_records(states: &[(&str, Zeroizing<Vec<u8>>)]) -> Vec<(String, Vec<u8>)> {
    let keys = record_keys();
    let record = |secrets: Option<Zeroizing<Vec<u8>>>, flags| SecurityRecord {
        user_id: "fuzz-user".into(),
        telegram_id: 5_000_001,
        revision: 3,
        linked_at_unix: NOW,
        flags,
        secrets,
    };
    let mut sealed = vec![(
        "v2-plain".to_owned(),
        seal(&keys, &record(None, 0)).expect("seal"),
    )];
    for (name, s) in states.iter().filter(|(n, _)| *n != "none") {
        let r = record(Some(s.clone()), FLAG_HAS_FACTOR | FLAG_REQUIRE_FOR_ALL);
        sealed.push((format!("v2-{name}"), seal(&keys, &r).expect("seal")));
    }
    // Version 1 (the previous release): no flags, no secrets.
    let mut v1 = b"CSSR\x01".to_vec();
    v1.extend_from_slice(&3u32.to_le_bytes());
    v1.extend_from_slice(&5_000_001u64.to_le_bytes());
    v1.extend_from_slice(&NOW.to_le_bytes());
    v1.push(9);
    v1.extend_from_slice(b"fuzz-user");
    sealed.push(("v1".to_owned(), spec::remac(&MASTER_KEY, &v1)));

    let mut out = Vec::new();
    for (name, bytes) in sealed {
        let body = &bytes[..bytes.len() - spec::MAC_LEN];
        out.push((format!("0-{name}"), [&[0u8][..], &bytes].concat()));
        out.push((format!("1-{name}"), [&[1u8][..], body].concat()));
        // Mode 2 carries the plaintext where the ciphertext goes (see spec::reseal).
        if let Some(s) = states
            .iter()
            .find(|(n, _)| name == format!("v2-{n}"))
            .map(|(_, s)| s)
        {
            let header_end = 30 + "fuzz-user".len() + 4;
            let mut plain = vec![2u8];
            plain.extend_from_slice(&body[..header_end + 24]);
            plain.extend_from_slice(s);
            plain.extend_from_slice(&[0; 16]);
            out.push((format!("2-{name}"), plain));
        }
    }
    out
}

fn pool_inputs(credential: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let commands = [
        "/2fa",
        "/security",
        "/help",
        "/totp",
        "/passkey",
        "/remove_totp",
        "/remove_passkeys",
        "/always_on",
        "/always_off",
        "/cancel_removal",
        "/2fa@custos_bot",
        "/nonsense",
        "123456",
        "ABCD-EFGH-JKMN-PQRS",
        "hello",
    ];
    for (i, c) in commands.iter().enumerate() {
        out.push((format!("text-{i:02}"), [&[0u8][..], c.as_bytes()].concat()));
    }
    out.push(("stranger".into(), b"\x02/2fa".to_vec()));
    let credential: Value = serde_json::from_str(credential).expect("JSON");
    let bodies = [
        json!({"token": "TOKEN", "step": "info"}),
        json!({"token": "TOKEN", "step": "submit", "credential": credential}),
        json!({"token": "TOKEN", "step": "submit", "totp": "123456"}),
        json!({"token": "TOKEN", "step": "submit", "totp": "123456",
               "recipient": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
        json!({"token": "not-a-live-token", "step": "info"}),
    ];
    for (i, b) in bodies.iter().enumerate() {
        out.push((
            format!("page-{i}"),
            [&[3u8][..], b.to_string().as_bytes()].concat(),
        ));
    }
    out.push(("page-malformed".into(), b"\x03{\"token\":".to_vec()));
    out
}

fn run(dir: &Path) -> Result<usize, String> {
    let states = factor_states();
    let mut n = 0;
    for (name, bytes) in &states {
        write(dir, "factor_state", name, bytes)?;
        n += 1;
    }
    for (name, bytes) in security_records(&states) {
        write(dir, "security_record", &name, &bytes)?;
        n += 1;
    }
    let (_, credential) = passkey();
    for (name, bytes) in pool_inputs(&credential) {
        write(dir, "signer_from_pool", &name, &bytes)?;
        n += 1;
    }
    Ok(n)
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: seed_corpus <corpus dir>");
        return ExitCode::from(2);
    };
    match run(Path::new(&dir)) {
        Ok(n) => {
            println!("wrote {n} seed files under {dir}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seed_corpus: {e}");
            ExitCode::FAILURE
        }
    }
}
