//! The steps against the real kernel, inside fresh network and mount namespaces so the host
//! is untouched. Needs root and `unshare`, `ip`, `mkfs.ext4`, `losetup` (util-linux,
//! iproute2, e2fsprogs); a missing tool fails the test.
//!
//! Each test re-runs itself (this test binary, `--exact NAME`) under `unshare`, with an
//! environment variable telling the inner run to do the work: the namespaces then cover
//! the whole inner process, not one thread of the test harness.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use custos_init::disk::{mount_data_disk, DiskError};
use custos_init::memory_encryption::read_kmsg;
use custos_init::mounts::mount_basics;
use custos_init::network::{configure_network, NetworkError};
use custos_init::rtnetlink::NetlinkError;
use custos_init::NetworkConfig;
use nix::errno::Errno;

const INNER: &str = "CUSTOS_INIT_NAMESPACE_TEST";

/// In the outer run: runs test `name` again under `unshare ARGS` and asserts it passed;
/// returns false. In the inner run: returns true (the caller does the work).
fn inside(name: &str, unshare_args: &[&str]) -> bool {
    if std::env::var(INNER).as_deref() == Ok(name) {
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(unshare_args)
        .arg(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(INNER, name)
        .output()
        .expect("run unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "inner run failed: {stdout}\n{stderr}");
    // The inner harness must have run exactly this test, not filtered it away.
    assert!(
        stdout.contains("1 passed"),
        "inner run did not run {name}: {stdout}"
    );
    false
}

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn network_in_fresh_netns() {
    if !inside("network_in_fresh_netns", &["--net"]) {
        return;
    }
    // A fresh namespace has loopback only, and down.
    assert!(sh("ip -o link show lo").contains("<LOOPBACK>"));
    sh("ip link add v0 type veth peer name v1");
    let net = NetworkConfig {
        interface: "v0".into(),
        address: "10.0.2.15/24".parse().unwrap(),
        gateway: Some(Ipv4Addr::new(10, 0, 2, 2)),
    };
    let done = configure_network(Some(&net), Duration::from_secs(1)).unwrap();
    assert_eq!(
        done,
        [
            "ip link set lo up",
            "ip addr add 10.0.2.15/24 dev v0",
            "ip link set v0 up",
            "ip route add default via 10.0.2.2 dev v0",
        ]
    );
    assert!(sh("ip -o link show lo").contains("<LOOPBACK,UP,LOWER_UP>"));
    assert!(sh("ip -o link show v0").contains(",UP"));
    let addr = sh("ip -o -4 addr show dev v0");
    assert!(addr.contains("inet 10.0.2.15/24 "), "{addr}");
    let routes = sh("ip -d route show");
    assert!(
        routes.contains("unicast default via 10.0.2.2 dev v0 proto boot scope global"),
        "{routes}"
    );
    assert!(sh("ip -o -4 addr show dev lo").contains("inet 127.0.0.1/8"));

    // The kernel's refusal comes back through the ack: the address exists now.
    let e = configure_network(Some(&net), Duration::from_secs(1)).unwrap_err();
    match e {
        NetworkError::Netlink { what, source } => {
            assert_eq!(what, "ip addr add 10.0.2.15/24 dev v0");
            assert_eq!(source, NetlinkError::Refused(Errno::EEXIST));
        }
        e => panic!("{e}"),
    }

    // Only loopback when no network is configured.
    assert_eq!(
        configure_network(None, Duration::ZERO).unwrap(),
        ["ip link set lo up"]
    );

    let missing = NetworkConfig {
        interface: "eth9".into(),
        ..net
    };
    let e = configure_network(Some(&missing), Duration::from_millis(200)).unwrap_err();
    assert!(
        matches!(&e, NetworkError::NoInterface { name, waited } if name == "eth9" && *waited >= Duration::from_millis(200)),
        "{e}"
    );
}

/// The options field (6th) of the mountinfo line for `target`, and its file system type.
fn mount_of(target: &Path) -> Option<(String, String)> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let target = target.to_str().unwrap();
    info.lines().rev().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.get(4) != Some(&target) {
            return None;
        }
        let dash = fields.iter().position(|f| *f == "-")?;
        Some((fields[5].to_owned(), fields[dash + 1].to_owned()))
    })
}

#[test]
fn basic_mounts_in_fresh_mount_ns() {
    if !inside(
        "basic_mounts_in_fresh_mount_ns",
        &["--mount", "--propagation", "private"],
    ) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let done = mount_basics(root.path()).unwrap();
    let expected = [
        ("proc", "proc", "nosuid,nodev,noexec"),
        ("sys", "sysfs", "nosuid,nodev,noexec"),
        ("dev", "devtmpfs", "nosuid,noexec"),
        ("sys/kernel/security", "securityfs", "nosuid,nodev,noexec"),
        ("run", "tmpfs", "nosuid,nodev,noexec"),
        ("tmp", "tmpfs", "nosuid,nodev"),
    ];
    assert_eq!(done.len(), expected.len());
    for ((target, fstype, opts), path) in expected.iter().zip(&done) {
        assert_eq!(*path, root.path().join(target));
        let (options, fs) = mount_of(path).unwrap_or_else(|| panic!("{target} not mounted"));
        assert_eq!(fs, *fstype, "{target}");
        for opt in opts.split(',') {
            assert!(
                options.split(',').any(|o| o == opt),
                "{target}: {options} lacks {opt}"
            );
        }
    }
    assert!(root.path().join("proc/self/status").exists());
    assert!(root.path().join("dev/null").exists());
    assert!(root.path().join("sys/block").is_dir());
    let tmp_mode = std::fs::metadata(root.path().join("tmp")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&tmp_mode.permissions()) & 0o7777,
        0o1777
    );
}

#[test]
fn data_disk_ext4_mount_in_fresh_mount_ns() {
    if !inside(
        "data_disk_ext4_mount_in_fresh_mount_ns",
        &["--mount", "--propagation", "private"],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("data.img");
    let image = image.to_str().unwrap();
    sh(&format!(
        "truncate -s 16M {image} && mkfs.ext4 -q -F -L custos-data {image}"
    ));
    // Loop devices are not namespaced: detach in every case.
    let loopdev = sh(&format!("losetup -f --show {image}")).trim().to_owned();
    struct Detach(String);
    impl Drop for Detach {
        fn drop(&mut self) {
            let _ = Command::new("losetup").args(["-d", &self.0]).status();
        }
    }
    let _detach = Detach(loopdev.clone());

    let target = dir.path().join("mnt/data");
    mount_data_disk(Path::new(&loopdev), &target).unwrap();
    let (options, fs) = mount_of(&target).expect("data disk mounted");
    assert_eq!(fs, "ext4");
    for opt in ["nosuid", "nodev", "noexec"] {
        assert!(
            options.split(',').any(|o| o == opt),
            "{options} lacks {opt}"
        );
    }
    std::fs::write(target.join("probe"), b"written").unwrap();
    nix::mount::umount(&target).unwrap();

    // A device without ext4 is refused with the kernel's error.
    let e = mount_data_disk(Path::new("/dev/null"), &target).unwrap_err();
    assert!(matches!(e, DiskError::Mount { .. }), "{e}");
}

#[test]
fn kmsg_reads_without_blocking() {
    // /dev/kmsg blocks at its end unless opened non-blocking; this returns promptly with
    // what the log holds.
    let start = std::time::Instant::now();
    let log = read_kmsg(Path::new("/dev/kmsg")).expect("read /dev/kmsg (needs root)");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(
        log.contains("Linux version"),
        "{}",
        &log[..log.len().min(300)]
    );
}
