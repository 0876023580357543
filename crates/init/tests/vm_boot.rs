//! The steps as PID 1 of the real Debian cloud kernel under qemu (TCG, direct kernel boot,
//! no firmware): `examples/pid1.rs`, built static for musl, is `/init` of an initramfs
//! with the virtio modules; qemu gives it a virtio-net NIC (user networking), a virtio-blk
//! data disk with serial `custos-data` and a CRB TPM backed by swtpm.
//!
//! Needs the kernel cache of `custos-image fetch-kernel` (`CUSTOS_KERNEL_CACHE`, default
//! `~/.cache/custos/kernel`), the musl target, root, and qemu-system-x86_64, swtpm, cpio,
//! mkfs.ext4, debugfs. Anything missing fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sh(cmd: &str, dir: &Path) -> String {
    ok(
        &Command::new("sh")
            .args(["-c", cmd])
            .current_dir(dir)
            .output()
            .unwrap(),
        cmd,
    )
}

/// The example built static for musl, in its own target directory.
fn pid1_musl() -> PathBuf {
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("musl");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    ok(
        &Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(&workspace)
            .env("CARGO_TARGET_DIR", &target_dir)
            .args(["build", "--offline", "--release", "-p", "custos-init"])
            .args(["--example", "pid1", "--target", "x86_64-unknown-linux-musl"])
            .output()
            .expect("run cargo"),
        "building the pid1 example for musl",
    );
    target_dir.join("x86_64-unknown-linux-musl/release/examples/pid1")
}

/// The unpacked kernel: `vmlinuz` and `modules/*.ko`.
fn kernel_dir() -> PathBuf {
    let cache = match std::env::var_os("CUSTOS_KERNEL_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/custos/kernel"),
    };
    let selected = std::fs::read_to_string(cache.join("selected"))
        .expect("kernel cache: run `custos-image fetch-kernel` first");
    cache.join(selected.trim())
}

const MODULES: [&str; 9] = [
    "virtio.ko",
    "virtio_ring.ko",
    "virtio_pci_legacy_dev.ko",
    "virtio_pci_modern_dev.ko",
    "virtio_pci.ko",
    "virtio_blk.ko",
    "failover.ko",
    "net_failover.ko",
    "virtio_net.ko",
];

fn image_toml(require_memory_encryption: bool) -> String {
    format!(
        "version = 1\nlisten = \"0.0.0.0:7420\"\ndata_disk_serial = \"custos-data\"\n\
         data_mount = \"/data\"\nrequire_memory_encryption = {require_memory_encryption}\n\
         tpm_device = \"/dev/tpmrm0\"\nmodules = {MODULES:?}\n\n[network]\n\
         interface = \"eth0\"\naddress = \"10.0.2.15/24\"\ngateway = \"10.0.2.2\"\n"
    )
}

/// Boots the initramfs with `config`; returns the console output.
fn boot(dir: &Path, pid1: &Path, kernel: &Path, config: &str) -> String {
    let root = dir.join("root");
    let _ = std::fs::remove_dir_all(&root);
    for sub in ["etc/custos", "lib/modules", "dev"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::copy(pid1, root.join("init")).unwrap();
    for m in MODULES {
        std::fs::copy(
            kernel.join("modules").join(m),
            root.join("lib/modules").join(m),
        )
        .unwrap();
    }
    std::fs::write(root.join("etc/custos/image.toml"), config).unwrap();
    sh("mknod root/dev/console c 5 1", dir);
    sh(
        "cd root && find . | cpio -o -H newc --quiet | gzip -n > ../initrd.gz",
        dir,
    );
    sh(
        "rm -f data.img && truncate -s 32M data.img && mkfs.ext4 -q -F data.img",
        dir,
    );
    let tpm = dir.join("tpm");
    std::fs::create_dir_all(&tpm).unwrap();
    let sock = tpm.join("sock");
    let _ = std::fs::remove_file(&sock);
    let mut swtpm = Command::new("swtpm")
        .args(["socket", "--tpm2", "--tpmstate"])
        .arg(format!("dir={}", tpm.display()))
        .arg("--ctrl")
        .arg(format!("type=unixio,path={}", sock.display()))
        .stdout(Stdio::null())
        .spawn()
        .expect("run swtpm");
    let started = Instant::now();
    while !sock.exists() {
        assert!(started.elapsed().as_secs() < 10, "swtpm did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = Command::new("timeout")
        .arg("180")
        .arg("qemu-system-x86_64")
        .args(["-m", "512", "-nographic", "-no-reboot", "-kernel"])
        .arg(kernel.join("vmlinuz"))
        .args([
            "-initrd",
            "initrd.gz",
            "-append",
            "console=ttyS0 panic=-1 quiet",
        ])
        .args(["-drive", "file=data.img,if=none,id=d0,format=raw"])
        .args(["-device", "virtio-blk-pci,drive=d0,serial=custos-data"])
        .args([
            "-netdev",
            "user,id=n0",
            "-device",
            "virtio-net-pci,netdev=n0",
        ])
        .arg("-chardev")
        .arg(format!("socket,id=chrtpm,path={}", sock.display()))
        .args([
            "-tpmdev",
            "emulator,id=tpm0,chardev=chrtpm",
            "-device",
            "tpm-crb,tpmdev=tpm0",
        ])
        .current_dir(dir)
        .output()
        .expect("run qemu-system-x86_64");
    let _ = swtpm.kill();
    let _ = swtpm.wait();
    let console = ok(&out, "qemu");
    eprintln!("boot took {:?}", started.elapsed());
    console
}

#[test]
fn pid1_boots_the_cloud_kernel_and_powers_off() {
    let pid1 = pid1_musl();
    let kernel = kernel_dir();
    let dir = tempfile::tempdir().unwrap();

    let console = boot(dir.path(), &pid1, &kernel, &image_toml(false));
    for line in [
        "custos-init: mount_basics: ok (/proc, /sys, /dev, /sys/kernel/security, /run, /tmp)",
        "custos-init: config: ok (/etc/custos/image.toml, version 1)",
        "custos-init: load_modules: ok (virtio.ko, virtio_ring.ko, virtio_pci_legacy_dev.ko, \
         virtio_pci_modern_dev.ko, virtio_pci.ko, virtio_blk.ko, failover.ko, net_failover.ko, \
         virtio_net.ko)",
        "custos-init: memory_encryption: memory encryption active: none",
        "custos-init: network: ok (ip link set lo up; ip addr add 10.0.2.15/24 dev eth0; \
         ip link set eth0 up; ip route add default via 10.0.2.2 dev eth0)",
        "custos-init: data_disk: ok (/dev/vda serial `custos-data` on /data)",
        "custos-init: wait_for_tpm: ok (/dev/tpmrm0 after",
        "custos-init: child: wrote /data/pid1-probe",
        "custos-init: supervisor exited with status 0",
        "custos-init: unmounted /data",
        "custos-init: powering off",
    ] {
        assert!(console.contains(line), "missing `{line}` in:\n{console}");
    }
    // The default route and the subnet route, as the child read them from /proc/net/route.
    assert!(
        console.contains("eth0\t00000000\t0202000A\t0003"),
        "{console}"
    );
    assert!(
        console.contains("eth0\t0002000A\t00000000\t0001"),
        "{console}"
    );
    let probe = sh(
        "debugfs -R 'cat /pid1-probe' data.img 2>/dev/null",
        dir.path(),
    );
    assert_eq!(probe, "written by the pid1 example\n");

    // Required memory encryption under TCG: refused before the disk is touched.
    let console = boot(dir.path(), &pid1, &kernel, &image_toml(true));
    assert!(
        console.contains(
            "custos-init: FAILED: memory_encryption: memory encryption is required but not \
             active: memory encryption active: none"
        ),
        "{console}"
    );
    assert!(console.contains("custos-init: powering off"), "{console}");
    assert!(!console.contains("data_disk: ok"), "{console}");
    assert!(!console.contains("supervisor: started"), "{console}");
}
