//! PCR 7 prediction checked against `virt-fw-measure` (PyPI `virt-firmware`) on variable
//! stores enrolled by `virt-fw-vars`, with certificates made by `openssl req -x509`.
//!
//! The tools live in a Python venv: `$CUSTOS_VIRT_FW`, else `~/.cache/custos/virt-firmware`
//! (the venv `custos-image` creates). The tests panic, not skip, when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use custos_measure::pcr7::{policy_events, replay_pcr7, uefi_variable_data};
use custos_measure::{extend, predict_pcr7, Guid, Pcr7Measured, PcrBank, VarStore};

const TEMPLATE: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";
const OWNER_A: &str = "8f3ad1e2-5a1b-4c3d-9e8f-0123456789ab";
const OWNER_B: &str = "0d9a6b3c-1e2f-4a5b-8c7d-fedcba987654";

/// The virt-firmware venv's `bin/` directory; panics with instructions when missing.
fn virt_fw_bin() -> PathBuf {
    let venv = match std::env::var_os("CUSTOS_VIRT_FW") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME is not set"))
            .join(".cache/custos/virt-firmware"),
    };
    let bin = venv.join("bin");
    assert!(
        bin.join("virt-fw-measure").is_file() && bin.join("virt-fw-vars").is_file(),
        "no virt-firmware venv at {}: create it with `python3 -m venv {0} && {0}/bin/pip install \
         virt-firmware==26.10` (or run `custos-image ovmf-vars`, which does), or point \
         CUSTOS_VIRT_FW at an existing venv",
        venv.display()
    );
    assert!(
        Path::new(TEMPLATE).is_file(),
        "{TEMPLATE} is missing: install the Debian package `ovmf`"
    );
    bin
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A self-signed certificate `<name>.pem` in `dir`; returns its path and DER bytes.
fn cert(dir: &Path, name: &str) -> (PathBuf, Vec<u8>) {
    let pem = dir.join(format!("{name}.pem"));
    let der = dir.join(format!("{name}.der"));
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
        ])
        .arg("-subj")
        .arg(format!("/CN=custos test {name}"))
        .arg("-keyout")
        .arg(dir.join(format!("{name}.key")))
        .arg("-out")
        .arg(&pem));
    run(Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&pem)
        .arg("-out")
        .arg(&der));
    (pem, std::fs::read(der).unwrap())
}

/// `virt-fw-measure --vars <vars>` with `flag`, as JSON.
fn measure(bin: &Path, vars: &Path, flag: Option<&str>) -> serde_json::Value {
    let mut cmd = Command::new(bin.join("virt-fw-measure"));
    cmd.arg("--vars").arg(vars);
    if let Some(f) = flag {
        cmd.arg(f);
    }
    serde_json::from_slice(&run(&mut cmd)).expect("virt-fw-measure prints JSON")
}

fn hex32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

struct Enrolled {
    _dir: tempfile::TempDir,
    vars: PathBuf,
    db: Vec<(Guid, Vec<u8>)>,
}

/// A copy of the OVMF template with PK, KEK and `db_count` db certificates (alternating
/// owners) enrolled and Secure Boot on.
fn enroll(db_count: usize) -> Enrolled {
    let bin = virt_fw_bin();
    let dir = tempfile::tempdir().unwrap();
    let (pk, _) = cert(dir.path(), "pk");
    let (kek, _) = cert(dir.path(), "kek");
    let vars = dir.path().join("vars.fd");
    let mut cmd = Command::new(bin.join("virt-fw-vars"));
    cmd.arg("--input")
        .arg(TEMPLATE)
        .arg("--output")
        .arg(&vars)
        .args(["--set-pk", OWNER_A])
        .arg(pk)
        .args(["--add-kek", OWNER_A])
        .arg(kek);
    let mut db = Vec::new();
    for i in 0..db_count {
        let owner = if i % 2 == 0 { OWNER_A } else { OWNER_B };
        let (pem, der) = cert(dir.path(), &format!("db{i}"));
        cmd.args(["--add-db", owner]).arg(pem);
        db.push((Guid::parse(owner).unwrap(), der));
    }
    cmd.args(["--no-microsoft", "--secure-boot"]);
    run(&mut cmd);
    Enrolled {
        _dir: dir,
        vars,
        db,
    }
}

/// The authority event's digest, built here from the owner GUID given to virt-fw-vars and
/// openssl's DER, independently of how `custos-measure` finds the entry in db.
fn expected_authority(owner: &Guid, der: &[u8]) -> [u8; 32] {
    let mut entry = owner.0.to_vec();
    entry.extend_from_slice(der);
    PcrBank::Sha256.digest(&uefi_variable_data(
        &Guid::IMAGE_SECURITY_DATABASE,
        "db",
        &entry,
    ))
}

#[test]
fn policy_events_match_virt_fw_measure_event_by_event() {
    let e = enroll(1);
    let bin = virt_fw_bin();
    let store = VarStore::parse(&std::fs::read(&e.vars).unwrap()).unwrap();
    let ours = policy_events(&store).unwrap();
    let records = measure(&bin, &e.vars, None)["records"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(ours.len(), records.len(), "{records:#?}");
    for (o, r) in ours.iter().zip(&records) {
        assert_eq!(r["pcr"], 7);
        let digest = &r["digests"][0];
        assert_eq!(digest["hashAlg"], "sha256");
        assert_eq!(hex::encode(o.digest), digest["digest"], "{:?}", o.measured);
        assert_eq!(hex::encode(&o.data), r["content"]["event_data"]);
        let kind = match o.measured {
            Pcr7Measured::Separator => "EV_SEPARATOR",
            _ => "EV_EFI_VARIABLE_DRIVER_CONFIG",
        };
        assert_eq!(r["content"]["event_type"], kind);
    }
}

#[test]
fn predicted_pcr7_is_virt_fw_measure_plus_the_authority_event() {
    let e = enroll(3);
    let bin = virt_fw_bin();
    let file = std::fs::read(&e.vars).unwrap();
    let values = measure(&bin, &e.vars, Some("--digests"));
    let values = values["values"].as_array().unwrap();
    assert_eq!(values.len(), 1, "{values:#?}");
    assert_eq!(values[0]["pcr"], 7);
    let before_authority = hex32(values[0]["digest"].as_str().unwrap());
    let store = VarStore::parse(&file).unwrap();
    assert_eq!(
        replay_pcr7(&policy_events(&store).unwrap()),
        before_authority
    );

    let mut seen = Vec::new();
    for (owner, der) in &e.db {
        let expected = extend(&before_authority, &expected_authority(owner, der));
        let got = predict_pcr7(&file, der).unwrap();
        assert_eq!(got, expected);
        seen.push(got);
    }
    // Each db certificate gives its own PCR 7.
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), e.db.len());
}

#[test]
fn db_changes_pcr7_and_a_foreign_certificate_is_refused() {
    let a = enroll(1);
    let b = enroll(1);
    let fa = std::fs::read(&a.vars).unwrap();
    let fb = std::fs::read(&b.vars).unwrap();
    assert_ne!(
        predict_pcr7(&fa, &a.db[0].1).unwrap(),
        predict_pcr7(&fb, &b.db[0].1).unwrap()
    );
    assert_eq!(
        predict_pcr7(&fa, &b.db[0].1),
        Err(custos_measure::Pcr7Error::CertificateNotInDb)
    );
}

#[test]
fn secure_boot_off_is_refused() {
    let e = enroll(1);
    run(Command::new(virt_fw_bin().join("virt-fw-vars"))
        .arg("--inplace")
        .arg(&e.vars)
        .args(["--set-false", "SecureBootEnable"]));
    let file = std::fs::read(&e.vars).unwrap();
    assert_eq!(
        predict_pcr7(&file, &e.db[0].1),
        Err(custos_measure::Pcr7Error::SecureBootDisabled(vec![0]))
    );
}
