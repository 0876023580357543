//! Issue 6 acceptance, under qemu (TCG) with OVMF Secure Boot on the operator's keys and
//! a software TPM: only an authorized image can unseal the master key.
//!
//! One genesis, one data disk and one TPM are shared by every boot, in this order:
//! 1. image v1 (signed, policy signed for v1) boots, unseals, serves Health on the
//!    forwarded port, signs a transaction, and its attestation quote verifies (and one
//!    with a wrong nonce does not);
//! 2. v1 with one byte changed in its initramfs, signed with the same key, boots and
//!    refuses to serve with a clear unseal error; the quote it prints does not verify as v1;
//! 3. the unsigned v1 is refused by the firmware;
//! 4. image v2 unseals without resealing (a new policy only) and moves the counter;
//! 5. v1 no longer unseals (rolled back).
//!
//! Inputs as in crates/image/tests/boot.rs (`CUSTOS_MUSL_BIN`, `CUSTOS_KERNEL_CACHE`,
//! `CUSTOS_VIRT_FW`); the image build is timed apart from the boots.

mod common;

use common::*;
use custos_image::build::{BuildOptions, Release, Signer};
use custos_image::vm::{make_ext4, Swtpm, TcpPower};
use custos_image::{KeySet, Vm, VmConfig};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A TCG boot under Secure Boot takes 10-20 s here; more when the machine is loaded.
const BOOT_TIMEOUT: Duration = Duration::from_secs(240);

fn custos_musl() -> PathBuf {
    custos_image::vm::inputs::musl_custos(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
        Path::new(env!("CARGO_TARGET_TMPDIR")),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The image configuration of one release. `tag` is one byte in a comment: changing it
/// changes exactly one byte of the initramfs.
fn image_toml(version: u64, tag: char) -> String {
    format!(
        "# Custos test image, build {tag}\n\
         version = {version}\n\
         listen = \"0.0.0.0:7420\"\n\
         data_disk_serial = \"custos-data\"\n\
         data_mount = \"/data\"\n\
         require_memory_encryption = false\n\
         tpm_device = \"/dev/tpmrm0\"\n\
         \n\
         [network]\n\
         interface = \"eth0\"\n\
         address = \"10.0.2.15/24\"\n\
         gateway = \"10.0.2.2\"\n"
    )
}

struct Images {
    root: PathBuf,
    vars: PathBuf,
    v1: PathBuf,
    v1_modified: PathBuf,
    v2: PathBuf,
}

fn build_images(root: &Path) -> Images {
    let started = Instant::now();
    let custos = custos_musl();
    let kernel = custos_image::kernel::fetch(&custos_image::vm::inputs::kernel_cache(), None)
        .expect("kernel");
    let keys = KeySet::generate(root.join("sb-keys"), "Custos test").expect("Secure Boot keys");
    let vars = root.join("vars.fd");
    custos_image::vars::enroll(
        &keys,
        Path::new(custos_image::vars::OVMF_VARS_TEMPLATE),
        &vars,
    )
    .expect("enroll the keys into OVMF's variables");
    let build_started = Instant::now();
    let build = |name: &str, version: u64, tag: char| {
        let config = root.join(format!("{name}.toml"));
        std::fs::write(&config, image_toml(version, tag)).unwrap();
        let out = root.join(name);
        let release = custos_image::build(
            &BuildOptions {
                custos: custos.clone(),
                kernel: kernel.clone(),
                config,
                cmdline: custos_image::build::DEFAULT_CMDLINE.into(),
                signer: Some(Signer {
                    key: keys.key("db"),
                    cert: keys.cert_pem("db"),
                }),
                ovmf_vars: Some(vars.clone()),
            },
            &out,
        )
        .expect("image build");
        assert!(
            release.pcr7.is_some(),
            "PCR 7 was not predicted: {release:?}"
        );
        out
    };
    let images = Images {
        v1: build("v1", 1, 'a'),
        v1_modified: build("v1-modified", 1, 'b'),
        v2: build("v2", 2, 'a'),
        vars,
        root: root.to_owned(),
    };
    eprintln!(
        "images ready in {:?} (three image builds {:?})",
        started.elapsed(),
        build_started.elapsed()
    );
    images
}

fn release(dir: &Path) -> Release {
    serde_json::from_slice(&std::fs::read(dir.join("release.json")).unwrap()).unwrap()
}

/// The host's view of the guest: its TLS material and the forwarded address.
fn host_dir(root: &Path, data: &Path, vm: &Vm, name: &str) -> PathBuf {
    let host = root.join(name);
    let _ = std::fs::remove_dir_all(&host);
    std::fs::create_dir_all(host.join("run")).unwrap();
    copy_dir(&data.join("tls"), &host.join("tls"));
    std::fs::write(
        host.join("run/api.addr"),
        format!("127.0.0.1:{}", vm.host_port()),
    )
    .unwrap();
    host
}

/// Waits until Health answers through the forwarded port; panics with the serial log if
/// the guest stops or the time runs out.
fn wait_healthy(vm: &mut Vm, host: &Path) -> serde_json::Value {
    let deadline = Instant::now() + BOOT_TIMEOUT;
    loop {
        let out = cli(host, &["health", "--format", "json"]);
        if out.status.success() {
            return serde_json::from_slice(&out.stdout).unwrap();
        }
        if vm.try_status().unwrap().is_some() || Instant::now() > deadline {
            panic!(
                "the guest never served Health; serial log:\n{}",
                vm.serial_log()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn boot(images: &Images, uki: &Path, tpm: &Path, disk: &Path) -> Vm {
    let mut config = VmConfig::new(uki, &images.vars);
    config.tpm_state = Some(tpm.to_owned());
    config.data_disk = Some(disk.to_owned());
    Vm::start(config).expect("start the VM")
}

/// The serial line `CUSTOS-EVIDENCE {json}` a refused image prints.
fn printed_evidence(log: &str) -> String {
    log.lines()
        .find_map(|l| {
            l.split_once("CUSTOS-EVIDENCE ")
                .map(|(_, j)| j.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no evidence printed; serial log:\n{log}"))
}

fn sign_policy(host: &Path, key: &Path, image: &Path, out: &Path) {
    ok(
        &cli(
            host,
            &[
                "policy",
                "sign",
                "--key",
                key.to_str().unwrap(),
                "--release",
                image.join("release.json").to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        ),
        "policy sign",
    );
}

#[test]
fn only_an_authorized_image_unseals_updates_need_no_reseal_and_rollback_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let images = build_images(root);
    let boots_started = Instant::now();

    // Genesis on the TPM the VM will use (swtpm over TCP on the host, same state).
    let tpm_state = root.join("tpm");
    let data = root.join("data");
    let keys = root.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let op = keys.join("operator");
    ok(
        &cli(root, &["policy", "keygen", "--out", op.to_str().unwrap()]),
        "policy keygen",
    );
    let mut custodian_args = Vec::new();
    for i in 1..=3 {
        let c = keys.join(format!("custodian{i}"));
        ok(
            &cli(root, &["recovery", "keygen", "--out", c.to_str().unwrap()]),
            "recovery keygen",
        );
        custodian_args.push("--custodian".to_owned());
        custodian_args.push(c.with_extension("pub").display().to_string());
    }
    {
        let tpm = Swtpm::tcp(&tpm_state, TcpPower::StartedUp).unwrap();
        let mut args = vec![
            "init".to_owned(),
            "--seal".into(),
            "tpm".into(),
            "--tpm".into(),
            format!("swtpm:{}", tpm.tcp_addrs().unwrap().0),
            "--policy-key".into(),
            op.with_extension("pub.pem").display().to_string(),
            "--threshold".into(),
            "2".into(),
        ];
        args.extend(custodian_args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&cli(&data, &args), "custos init");
    }
    let policies = data.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    let op_key = op.with_extension("key");
    sign_policy(root, &op_key, &images.v1, &policies.join("1.policy"));
    // The verifier's nonce for the quote a refused image prints.
    let diag_nonce = "5a".repeat(32);
    std::fs::write(data.join("attest-nonce"), &diag_nonce).unwrap();
    let disk = root.join("data.img");
    make_ext4(&disk, &data, 256).unwrap();

    // 1. The authorized image.
    let t = Instant::now();
    let mut vm = boot(&images, &images.v1.join("custos.efi"), &tpm_state, &disk);
    let host = host_dir(root, &data, &vm, "host-v1");
    let health = wait_healthy(&mut vm, &host);
    eprintln!("v1 served Health {:?} after start", t.elapsed());
    assert_eq!(health["seal"], "tpm", "{health}");
    assert_eq!(health["seal_secure"], true, "{health}");
    let log = vm.serial_log();
    assert!(log.contains("Secure boot enabled"), "{log}");
    let a = cli_json(
        &host,
        &["wallet", "create", "--user", "alice", "--format", "json"],
    );
    let b = cli_json(
        &host,
        &["wallet", "create", "--user", "alice", "--format", "json"],
    );
    let (a, b) = (
        a["wallet"].as_str().unwrap().to_owned(),
        b["wallet"].as_str().unwrap().to_owned(),
    );
    let mut svm = Svm::start();
    svm.airdrop(&a, 1_000_000_000);
    let tx = transfer_tx(&b58(&a), &b58(&b), 1_000_000, &svm.blockhash());
    let signed = cli_json(
        &host,
        &["sign", "--wallet", &a, "--format", "json", &b64(&tx)],
    );
    assert_eq!(signed["status"], "signed", "{signed}");
    let result = svm.send(signed["transaction"].as_str().unwrap());
    assert_eq!(
        result["ok"], true,
        "litesvm refused the transaction: {result}"
    );
    // Attestation: live, against the release; then saved evidence and a wrong nonce.
    let v1_release = images.v1.join("release.json");
    let live = cli_json(
        &host,
        &[
            "attest",
            "verify",
            "--release",
            v1_release.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(live["verified"], true, "{live}");
    assert!(
        live["events"].as_u64().unwrap() > 0,
        "no event log replayed: {live}"
    );
    let evidence = root.join("v1-evidence.json");
    let nonce = "c3".repeat(32);
    ok(
        &cli(
            &host,
            &[
                "attest",
                "fetch",
                "--nonce",
                &nonce,
                "--out",
                evidence.to_str().unwrap(),
            ],
        ),
        "attest fetch",
    );
    ok(
        &attest_verify(&host, &v1_release, &evidence, &nonce),
        "attest verify",
    );
    let replay = attest_verify(&host, &v1_release, &evidence, &"3c".repeat(32));
    assert_eq!(replay.status.code(), Some(6), "a wrong nonce verified");
    vm.kill();
    drop(vm);

    // 2. One byte changed in the initramfs, signed with the same key.
    let t = Instant::now();
    let mut vm = boot(
        &images,
        &images.v1_modified.join("custos.efi"),
        &tpm_state,
        &disk,
    );
    vm.wait_for("cannot unseal the master key", BOOT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}; serial log:\n{}", vm.serial_log()));
    vm.wait_for("CUSTOS-EVIDENCE", Duration::from_secs(60))
        .unwrap();
    vm.wait_exit(Duration::from_secs(60)).unwrap();
    eprintln!("the modified image refused in {:?}", t.elapsed());
    let log = vm.serial_log();
    assert!(
        log.contains("PCR 11"),
        "the error does not name PCR 11:\n{log}"
    );
    assert!(!log.contains("signer ready"), "{log}");
    let host_mod = host_dir(root, &data, &vm, "host-mod");
    assert!(!cli(&host_mod, &["health"]).status.success());
    let printed = root.join("mod-evidence.json");
    std::fs::write(&printed, printed_evidence(&log)).unwrap();
    let as_v1 = attest_verify(&host, &v1_release, &printed, &diag_nonce);
    assert_eq!(
        as_v1.status.code(),
        Some(6),
        "the modified image's quote verified as v1"
    );
    assert!(String::from_utf8_lossy(&as_v1.stderr).contains("PCR 11"));
    // It is a genuine quote of the modified image: it verifies against that build.
    ok(
        &attest_verify(
            &host,
            &images.v1_modified.join("release.json"),
            &printed,
            &diag_nonce,
        ),
        "the modified image's own quote",
    );
    drop(vm);

    // 3. The unsigned image: the firmware refuses it.
    let t = Instant::now();
    let mut vm = boot(
        &images,
        &images.v1.join("custos-unsigned.efi"),
        &tpm_state,
        &disk,
    );
    vm.wait_for("Access Denied", BOOT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}; serial log:\n{}", vm.serial_log()));
    std::thread::sleep(Duration::from_secs(2));
    let log = vm.serial_log();
    vm.kill();
    assert!(!log.contains("Linux version"), "{log}");
    eprintln!("the unsigned image was refused in {:?}", t.elapsed());
    drop(vm);

    // 4. A newer authorized image: a new signed policy, no reseal (tpm-seal.bin untouched).
    let seal_before = custos_image::vm::read_ext4_file(&disk, "/tpm-seal.bin").unwrap();
    add_policy(root, &disk, &op_key, &images.v2, 2);
    let t = Instant::now();
    let mut vm = boot(&images, &images.v2.join("custos.efi"), &tpm_state, &disk);
    let host = host_dir(root, &data, &vm, "host-v2");
    wait_healthy(&mut vm, &host);
    eprintln!("v2 served Health {:?} after start", t.elapsed());
    // Same master key: v1's wallets sign the same bytes.
    let again = cli_json(
        &host,
        &["sign", "--wallet", &a, "--format", "json", &b64(&tx)],
    );
    assert_eq!(again["transaction"], signed["transaction"]);
    let live = cli_json(
        &host,
        &[
            "attest",
            "verify",
            "--release",
            images.v2.join("release.json").to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(live["verified"], true, "{live}");
    vm.kill();
    drop(vm);
    assert_eq!(
        custos_image::vm::read_ext4_file(&disk, "/tpm-seal.bin").unwrap(),
        seal_before
    );

    // 5. Back to v1 after the counter moved to 2: refused by the TPM.
    let mut vm = boot(&images, &images.v1.join("custos.efi"), &tpm_state, &disk);
    vm.wait_for("cannot unseal the master key", BOOT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}; serial log:\n{}", vm.serial_log()));
    vm.wait_exit(Duration::from_secs(60)).unwrap();
    let log = vm.serial_log();
    assert!(log.contains("rolled back"), "{log}");
    drop(vm);

    eprintln!(
        "measured boot: five boots and checks in {:?} (after the image builds)",
        boots_started.elapsed()
    );
    let _ = release(&images.v1);
    let _ = &images.root;
}

/// Signs `image`'s policy as `<version>.policy` and writes it into the data disk.
fn add_policy(root: &Path, disk: &Path, key: &Path, image: &Path, version: u64) {
    let file = root.join(format!("{version}.policy"));
    sign_policy(root, key, image, &file);
    ok(
        &Command::new("debugfs")
            .args(["-w", "-R"])
            .arg(format!(
                "write {} /policies/{version}.policy",
                file.display()
            ))
            .arg(disk)
            .output()
            .expect("debugfs (e2fsprogs)"),
        "debugfs write",
    );
    assert_eq!(
        custos_image::vm::read_ext4_file(disk, &format!("/policies/{version}.policy")).unwrap(),
        std::fs::read(&file).unwrap()
    );
}

fn cli_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(&cli(dir, args), &format!("custos {args:?}"))).unwrap()
}
