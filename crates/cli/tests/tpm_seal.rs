//! The TPM seal on a host with swtpm (no VM): genesis, serving with the TPM seal,
//! attestation, and disaster recovery into a fresh TPM from k custodian shares (k-1
//! refused). The measured-boot tests (`measured_boot.rs`) run the same seal inside the
//! signed image under qemu.

mod common;

use common::*;
use custos_image::vm::{Swtpm, TcpPower};
use std::path::{Path, PathBuf};
use std::process::Output;

/// A release manifest with these PCR values.
fn write_release(path: &Path, version: u64, pcr7: [u8; 32], pcr11: [u8; 32]) {
    let release = custos_measure::Release {
        version,
        kernel_package: "none (host swtpm)".into(),
        kernel_version: "none".into(),
        cmdline: String::new(),
        unsigned_uki_sha256: [0; 32],
        uki_sha256: None,
        pcr11,
        pcr7: Some(pcr7),
    };
    std::fs::write(path, release.to_json()).unwrap();
}

/// The release manifest for a TPM whose PCR 7 and 11 are still zero (a host swtpm that
/// no firmware measured into).
fn zero_release(path: &Path, version: u64) {
    write_release(path, version, [0; 32], [0; 32]);
}

fn run(dir: &Path, args: &[&str]) -> Output {
    cli(dir, args)
}

fn swtpm_arg(tpm: &Swtpm) -> String {
    format!("swtpm:{}", tpm.tcp_addrs().unwrap().0)
}

struct Ceremony {
    root: PathBuf,
    policy_key: PathBuf,
    policy_pub: PathBuf,
    custodians: Vec<(PathBuf, PathBuf)>,
}

fn ceremony(root: &Path) -> Ceremony {
    let keys = root.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let op = keys.join("operator");
    ok(
        &run(root, &["policy", "keygen", "--out", op.to_str().unwrap()]),
        "policy keygen",
    );
    let custodians = (1..=3)
        .map(|i| {
            let c = keys.join(format!("custodian{i}"));
            ok(
                &run(root, &["recovery", "keygen", "--out", c.to_str().unwrap()]),
                "recovery keygen",
            );
            (c.with_extension("pub"), c.with_extension("key"))
        })
        .collect();
    Ceremony {
        root: root.to_owned(),
        policy_key: op.with_extension("key"),
        policy_pub: op.with_extension("pub.pem"),
        custodians,
    }
}

impl Ceremony {
    fn init(&self, data: &Path, tpm: &Swtpm) -> serde_json::Value {
        let mut args = vec![
            "init".to_owned(),
            "--seal".into(),
            "tpm".into(),
            "--tpm".into(),
            swtpm_arg(tpm),
            "--policy-key".into(),
            self.policy_pub.display().to_string(),
            "--threshold".into(),
            "2".into(),
            "--format".into(),
            "json".into(),
        ];
        for (public, _) in &self.custodians {
            args.extend(["--custodian".into(), public.display().to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        serde_json::from_str(&ok(&run(data, &args), "custos init")).unwrap()
    }

    /// Signs a policy for zero PCRs at `version` into `<data>/policies/<version>.policy`.
    fn sign_zero_policy(&self, data: &Path, version: u64) -> PathBuf {
        let release = self.root.join(format!("release-{version}.json"));
        zero_release(&release, version);
        let dir = data.join("policies");
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join(format!("{version}.policy"));
        let _ = std::fs::remove_file(&out);
        ok(
            &run(
                data,
                &[
                    "policy",
                    "sign",
                    "--key",
                    self.policy_key.to_str().unwrap(),
                    "--release",
                    release.to_str().unwrap(),
                    "--out",
                    out.to_str().unwrap(),
                ],
            ),
            "policy sign",
        );
        out
    }
}

fn serve_tpm(data: &Path, tpm: &Swtpm, policy: &Path) -> Server {
    Server::start_with(
        data,
        &[
            "--seal",
            "tpm",
            "--tpm",
            &swtpm_arg(tpm),
            "--image-policy",
            policy.to_str().unwrap(),
        ],
    )
}

#[test]
fn genesis_serves_attests_and_recovers_into_a_new_tpm_from_k_shares_only() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let c = ceremony(root);

    // Genesis on TPM A.
    let tpm_a = Swtpm::tcp(&root.join("tpm-a"), TcpPower::StartedUp).unwrap();
    let data = root.join("data");
    let g = c.init(&data, &tpm_a);
    assert_eq!(g["threshold"], 2);
    assert_eq!(g["shares"].as_array().unwrap().len(), 3);
    let version = g["counter_value"].as_u64().unwrap();
    assert!(data.join("tpm-seal.bin").is_file());
    assert!(!data.join("dev-seal.key").exists());
    // A second genesis would replace the key: refused, nothing changed.
    let before = std::fs::read(data.join("tpm-seal.bin")).unwrap();
    let again = run(
        &data,
        &[
            "init",
            "--seal",
            "tpm",
            "--tpm",
            &swtpm_arg(&tpm_a),
            "--policy-key",
            c.policy_pub.to_str().unwrap(),
            "--threshold",
            "2",
            "--custodian",
            c.custodians[0].0.to_str().unwrap(),
            "--custodian",
            c.custodians[1].0.to_str().unwrap(),
        ],
    );
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(std::fs::read(data.join("tpm-seal.bin")).unwrap(), before);

    // Serve with the TPM seal: the master key unseals under the signed policy.
    let policy = c.sign_zero_policy(&data, version);
    let mut server = serve_tpm(&data, &tpm_a, &policy);
    let health = server.json(&["health", "--format", "json"]);
    assert_eq!(health["seal"], "tpm", "{health}");
    assert_eq!(health["seal_secure"], true, "{health}");
    let a = server.create_wallet("alice");
    let b = server.create_wallet("alice");
    let tx = transfer_tx(&b58(&a), &b58(&b), 5000, &[7u8; 32]);
    let signed = server.json(&["sign", "--wallet", &a, "--format", "json", &b64(&tx)]);
    assert_eq!(signed["status"], "signed", "{signed}");

    // Attestation: a live quote verifies against the (zero-PCR) release ...
    let release = root.join(format!("release-{version}.json"));
    let v = server.json(&[
        "attest",
        "verify",
        "--release",
        release.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(v["verified"], true, "{v}");
    // ... saved evidence verifies only with the nonce it was fetched with.
    let evidence = root.join("evidence.json");
    let nonce = "11".repeat(32);
    ok(
        &server.cli(&[
            "attest",
            "fetch",
            "--nonce",
            &nonce,
            "--out",
            evidence.to_str().unwrap(),
        ]),
        "attest fetch",
    );
    let verify = |nonce: &str, release: &Path| attest_verify(&data, release, &evidence, nonce);
    ok(&verify(&nonce, &release), "attest verify (saved evidence)");
    let wrong = verify(&"22".repeat(32), &release);
    assert_eq!(wrong.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("nonce"));
    // ... and not against another release's measurements.
    let other = root.join("release-other.json");
    write_release(&other, version, [0; 32], [1; 32]);
    let mismatch = verify(&nonce, &other);
    assert_eq!(mismatch.status.code(), Some(6));
    assert!(
        String::from_utf8_lossy(&mismatch.stderr).contains("PCR 11"),
        "{}",
        String::from_utf8_lossy(&mismatch.stderr)
    );
    // A pinned attestation key: this TPM's passes, another key is refused.
    let ak =
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&evidence).unwrap())
            .unwrap()["ak_public"]
            .as_str()
            .unwrap()
            .to_owned();
    let pin = |key: &str| {
        let file = root.join("ak.hex");
        std::fs::write(&file, key).unwrap();
        server.cli(&[
            "attest",
            "verify",
            "--release",
            release.to_str().unwrap(),
            "--ak",
            file.to_str().unwrap(),
        ])
    };
    ok(&pin(&ak), "attest verify with the pinned key");
    let other_key = format!("04{}", "ab".repeat(64));
    let unpinned = pin(&other_key);
    assert_eq!(unpinned.status.code(), Some(6));
    assert!(
        String::from_utf8_lossy(&unpinned.stderr).contains("pinned"),
        "{}",
        String::from_utf8_lossy(&unpinned.stderr)
    );
    server.kill_tree();
    drop(server);
    drop(tpm_a);

    // Disaster: TPM A is gone. A fresh TPM B and the store and kit, without the seal.
    let tpm_b = Swtpm::tcp(&root.join("tpm-b"), TcpPower::StartedUp).unwrap();
    let data_b = root.join("data-b");
    copy_dir(&data, &data_b);
    std::fs::remove_file(data_b.join("tpm-seal.bin")).unwrap();
    std::fs::remove_dir_all(data_b.join("policies")).unwrap();
    let kit = data.join("recovery/kit-header.bin");
    let shares: Vec<PathBuf> = g["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| PathBuf::from(s.as_str().unwrap()))
        .collect();
    let rebuild = |pairs: &[(usize, usize)]| {
        let mut args = vec![
            "recovery".to_owned(),
            "rebuild".into(),
            "--tpm".into(),
            swtpm_arg(&tpm_b),
            "--policy-key".into(),
            c.policy_pub.display().to_string(),
            "--kit".into(),
            kit.display().to_string(),
        ];
        for &(share, key) in pairs {
            args.extend(["--share".into(), shares[share].display().to_string()]);
            args.extend([
                "--custodian-key".into(),
                c.custodians[key].1.display().to_string(),
            ]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&data_b, &args)
    };
    // k-1 = 1 share: refused, nothing sealed.
    let one = rebuild(&[(0, 0)]);
    assert!(!one.status.success());
    assert!(!data_b.join("tpm-seal.bin").exists());
    // A share with the wrong custodian's key: refused.
    let wrong_key = rebuild(&[(0, 1), (1, 1)]);
    assert!(!wrong_key.status.success());
    assert!(!data_b.join("tpm-seal.bin").exists());
    // k = 2 shares (the first and the third custodian): sealed to TPM B.
    ok(&rebuild(&[(0, 0), (2, 2)]), "recovery rebuild");
    assert!(data_b.join("tpm-seal.bin").is_file());

    // The same master key: the old records open and sign the same bytes.
    // A fresh swtpm's counter starts where TPM A's did.
    let policy_b = c.sign_zero_policy(&data_b, version);
    let mut server_b = serve_tpm(&data_b, &tpm_b, &policy_b);
    let signed_b = server_b.json(&["sign", "--wallet", &a, "--format", "json", &b64(&tx)]);
    assert_eq!(signed_b["status"], "signed", "{signed_b}");
    assert_eq!(signed_b["transaction"], signed["transaction"]);
    server_b.kill_tree();
}
