//! The real boot image under qemu (TCG) with OVMF Secure Boot and a software TPM: built by
//! the `custos-image` binary from the Debian cloud kernel and a static musl `custos`, the
//! signed image reaches `/init`, the unsigned one is refused by the firmware, and two
//! builds give the same unsigned UKI.
//!
//! Inputs: `CUSTOS_MUSL_BIN` (a static custos; else it is built here for
//! x86_64-unknown-linux-musl), `CUSTOS_KERNEL_CACHE` (default `~/.cache/custos/kernel`,
//! filled with `apt-get download` on first use), `CUSTOS_VIRT_FW` (a virt-firmware venv;
//! else one is made in `~/.cache/custos/virt-firmware`). Missing tools fail the tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use custos_image::build::{Release, MODULE_ORDER_PATH};
use custos_image::kernel::NEEDED_MODULES;
use custos_image::vm::{make_ext4, read_ext4_file};
use custos_image::{Vm, VmConfig};
use custos_measure::{predict_pcr11_from_image, read_uki_sections, UkiSection};
use sha2::{Digest, Sha256};

/// What the kernel prints when it hands over to the initramfs's `/init`.
const INIT_MARKER: &str = "Run /init as init process";
/// Generous: TCG boots take ~15 s alone, more when other tests load the machine.
const BOOT_TIMEOUT: Duration = Duration::from_secs(240);

const IMAGE_TOML: &str = "version = 5\n";

/// One image build shared by the tests of this file.
struct Fixture {
    dir: PathBuf,
    custos: PathBuf,
    kernel_cache: PathBuf,
    vars: PathBuf,
    out: PathBuf,
}

/// VMs run one at a time: two TCG guests on this machine's two cores would distort the
/// boot times this file reports.
static VM_LOCK: Mutex<()> = Mutex::new(());

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_custos-image"))
}

/// Runs `cmd`, panicking with its output on failure; returns stdout.
fn check(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn custos_musl() -> PathBuf {
    custos_image::vm::inputs::musl_custos(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
        Path::new(env!("CARGO_TARGET_TMPDIR")),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn kernel_cache() -> PathBuf {
    custos_image::vm::inputs::kernel_cache()
}

fn build_cmd(f: &Fixture, out: &Path, signed: bool) -> Command {
    let mut cmd = cli();
    cmd.arg("build")
        .arg("--custos")
        .arg(&f.custos)
        .arg("--kernel-cache")
        .arg(&f.kernel_cache)
        .arg("--config")
        .arg(f.dir.join("image.toml"))
        .arg("--out")
        .arg(out);
    if signed {
        let keys = f.dir.join("keys");
        cmd.arg("--db-key")
            .arg(keys.join("db.key"))
            .arg("--db-cert")
            .arg(keys.join("db.pem"))
            .arg("--ovmf-vars")
            .arg(&f.vars);
    }
    cmd
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("boot-fixture");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("image.toml"), IMAGE_TOML).unwrap();
        let kernel_cache = kernel_cache();
        let started = Instant::now();
        check(cli().arg("fetch-kernel").arg("--cache").arg(&kernel_cache));
        check(cli().arg("keys").arg("--out").arg(dir.join("keys")));
        let vars = dir.join("vars.fd");
        check(
            cli()
                .arg("ovmf-vars")
                .arg("--keys")
                .arg(dir.join("keys"))
                .arg("--out")
                .arg(&vars),
        );
        let f = Fixture {
            custos: custos_musl(),
            kernel_cache,
            vars,
            out: dir.join("out"),
            dir,
        };
        let build_started = Instant::now();
        check(&mut build_cmd(&f, &f.out, true));
        eprintln!(
            "fixture ready in {:?} (image build {:?})",
            started.elapsed(),
            build_started.elapsed()
        );
        f
    })
}

fn release(out: &Path) -> Release {
    Release::from_json(&std::fs::read_to_string(out.join("release.json")).unwrap()).unwrap()
}

#[test]
fn signed_image_boots_to_init_under_secure_boot() {
    let f = fixture();
    let _one_vm = VM_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let tpm_state = f.dir.join("tpm-signed");
    // A data disk is attached (qemu must accept it) and still readable afterwards.
    let contents = f.dir.join("data-contents");
    std::fs::create_dir_all(&contents).unwrap();
    std::fs::write(contents.join("attest-nonce"), b"n0nce").unwrap();
    let data = f.dir.join("data.img");
    make_ext4(&data, &contents, 16).unwrap();
    let mut config = VmConfig::new(f.out.join("custos.efi"), &f.vars);
    config.tpm_state = Some(tpm_state.clone());
    config.data_disk = Some(data.clone());
    let mut vm = Vm::start(config).unwrap();
    let took = vm.wait_for(INIT_MARKER, BOOT_TIMEOUT).unwrap();
    eprintln!("signed image reached /init in {took:?}");
    let log = vm.serial_log();
    vm.kill();
    // The kernel saw Secure Boot on and a TPM 2.0 (the CRB device the firmware used).
    assert!(log.contains("Secure boot enabled"), "{log}");
    assert!(!log.contains("Access Denied"), "{log}");
    // The TPM's state was written to the caller's directory.
    assert!(tpm_state.join("tpm2-00.permall").is_file());
    assert_eq!(read_ext4_file(&data, "/attest-nonce").unwrap(), b"n0nce");
}

#[test]
fn unsigned_image_is_refused_by_the_firmware() {
    let f = fixture();
    let _one_vm = VM_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut vm = Vm::start(VmConfig::new(f.out.join("custos-unsigned.efi"), &f.vars)).unwrap();
    let took = vm.wait_for("Access Denied", BOOT_TIMEOUT).unwrap();
    eprintln!("unsigned image refused after {took:?}");
    // Give a (wrongly) started kernel time to show up before looking.
    std::thread::sleep(Duration::from_secs(3));
    let log = vm.serial_log();
    vm.kill();
    assert!(!log.contains("Linux version"), "{log}");
    assert!(!log.contains(INIT_MARKER), "{log}");
}

#[test]
fn two_builds_give_identical_unsigned_ukis_and_a_matching_manifest() {
    let f = fixture();
    let second = f.dir.join("out-again");
    // At least a second later: a build that stamps the time would differ.
    std::thread::sleep(Duration::from_millis(1100));
    check(&mut build_cmd(f, &second, false));
    let first_uki = std::fs::read(f.out.join("custos-unsigned.efi")).unwrap();
    let second_uki = std::fs::read(second.join("custos-unsigned.efi")).unwrap();
    assert!(first_uki == second_uki, "unsigned UKIs differ");
    assert!(
        !second.join("custos.efi").exists(),
        "no key, no signed image"
    );

    let r = release(&f.out);
    let r2 = release(&second);
    assert_eq!(r.version, 5);
    assert_eq!(r.kernel_package, r2.kernel_package);
    assert!(r.kernel_package.starts_with("linux-image-6.1.0-"), "{r:?}");
    assert!(!r.kernel_version.is_empty());
    assert_eq!(r.unsigned_uki_sha256[..], Sha256::digest(&first_uki)[..]);
    assert_eq!(r.unsigned_uki_sha256, r2.unsigned_uki_sha256);
    let signed = std::fs::read(f.out.join("custos.efi")).unwrap();
    assert_eq!(r.uki_sha256, Some(Sha256::digest(&signed).into()));
    assert_eq!(r2.uki_sha256, None);
    // PCR 7 is predicted for the signed build (variable store + db certificate) only.
    let pcr7 = r
        .pcr7
        .expect("signed build with --ovmf-vars predicts PCR 7");
    assert_ne!(pcr7, [0u8; 32]);
    assert_eq!(r2.pcr7, None);
    // PCR 11 is the same from either file and from either build.
    let pcr11 = predict_pcr11_from_image(&signed).unwrap();
    assert_eq!(r.pcr11, pcr11);
    assert_eq!(r2.pcr11, pcr11);

    // The sections: osrel names the version, the initramfs has /init (the custos binary),
    // the config, the modules in load order and /dev/console.
    let sections = read_uki_sections(&signed).unwrap();
    let osrel = String::from_utf8(sections.get(UkiSection::Osrel).unwrap().to_vec()).unwrap();
    assert!(osrel.contains("VERSION_ID=5\n"), "{osrel}");
    assert_eq!(
        sections.get(UkiSection::Cmdline).unwrap(),
        b"console=ttyS0 panic=-1"
    );
    let root = f.dir.join("initrd-root");
    std::fs::create_dir_all(&root).unwrap();
    let gz = f.dir.join("initrd.gz");
    std::fs::write(&gz, sections.get(UkiSection::Initrd).unwrap()).unwrap();
    check(Command::new("sh").current_dir(&root).arg("-c").arg(format!(
        "gzip -dc {} | cpio -i --quiet --no-absolute-filenames",
        gz.display()
    )));
    assert_eq!(
        std::fs::read(root.join("init")).unwrap(),
        std::fs::read(&f.custos).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/custos/image.toml")).unwrap(),
        IMAGE_TOML
    );
    let order = std::fs::read_to_string(root.join(MODULE_ORDER_PATH)).unwrap();
    let order: Vec<&str> = order.lines().collect();
    assert_eq!(order.len(), NEEDED_MODULES.len());
    for m in NEEDED_MODULES {
        assert!(root.join(format!("lib/modules/{m}.ko")).is_file(), "{m}");
    }
    let pos = |m: &str| order.iter().position(|o| *o == format!("{m}.ko")).unwrap();
    assert!(pos("virtio_ring") < pos("virtio_pci") && pos("virtio") < pos("virtio_blk"));
    assert!(pos("failover") < pos("net_failover") && pos("net_failover") < pos("virtio_net"));
    for d in ["dev", "proc", "sys", "run", "tmp", "data"] {
        assert!(root.join(d).is_dir(), "{d}");
    }
}
