//! The confinement of a live `custos serve`: each child runs with its seccomp filter, no
//! new privileges, no capabilities, no core dumps; the signer in a network namespace of its
//! own; as root, under three distinct unprivileged uids, such that the bridge's uid cannot
//! open the signer's memory and the pool's uid cannot read the store.

mod common;

use common::Server;
use std::collections::HashMap;
use std::process::Command;

/// A field of /proc/PID/status.
fn status(pid: i32, field: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_owned()
}

fn netns(pid: i32) -> std::path::PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap()
}

/// Runs `sh -c script` under `uid`/`gid` (std drops supplementary groups); (success, stderr).
fn sh_as(uid: u32, gid: u32, script: &str) -> (bool, String) {
    use std::os::unix::process::CommandExt;
    let out = Command::new("sh")
        .args(["-c", script])
        .uid(uid)
        .gid(gid)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_child_runs_confined_and_the_uids_keep_them_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"));
    // A wallet, so the store holds records.
    server.create_wallet("confinement-user");
    let children: HashMap<String, i32> = server
        .children()
        .into_iter()
        .map(|(pid, comm)| (comm, pid))
        .collect();
    let pid = |name: &str| {
        *children
            .get(name)
            .unwrap_or_else(|| panic!("no {name} among {children:?}"))
    };
    let (signer, bridge, pool) = (
        pid("custos-signer"),
        pid("custos-bridge"),
        pid("custos-pool"),
    );
    let root = nix::unistd::geteuid().is_root();
    let mut uids = Vec::new();
    for (name, pid) in [
        ("signer", signer),
        ("bridge", bridge),
        ("pool", pid("custos-pool")),
    ] {
        assert_eq!(status(pid, "Seccomp"), "2", "{name}: seccomp filter mode");
        assert_eq!(status(pid, "NoNewPrivs"), "1", "{name}");
        for caps in ["CapEff", "CapPrm", "CapAmb"] {
            assert_eq!(status(pid, caps), "0000000000000000", "{name}: {caps}");
        }
        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
        let core = limits
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .unwrap();
        assert_eq!(
            core.split_whitespace().skip(4).take(2).collect::<Vec<_>>(),
            ["0", "0"],
            "{name}: {core}"
        );
        let uid: Vec<u32> = status(pid, "Uid")
            .split_whitespace()
            .map(|u| u.parse().unwrap())
            .collect();
        assert!(
            uid.iter().all(|u| *u == uid[0]),
            "{name}: real, effective, saved, fs uid: {uid:?}"
        );
        uids.push(uid[0]);
        assert!(
            server
                .log_text()
                .contains(&format!("{name} confined: seccomp")),
            "{name} logs its confinement:\n{}",
            server.log_text()
        );
    }
    // The signer alone has a network namespace of its own.
    let supervisor = server.pid();
    assert_ne!(netns(signer), netns(supervisor), "signer netns");
    assert_eq!(netns(bridge), netns(supervisor), "bridge netns");
    assert_eq!(netns(pool), netns(supervisor), "pool netns");

    if !root {
        assert!(
            uids.iter().all(|u| *u == uids[0]),
            "no uid change when not root"
        );
        return;
    }
    assert!(
        uids.iter().all(|u| *u != 0),
        "no child runs as root: {uids:?}"
    );
    assert!(
        uids[0] != uids[1] && uids[1] != uids[2] && uids[0] != uids[2],
        "three distinct uids: {uids:?}"
    );
    let gid = |pid: i32| -> u32 {
        status(pid, "Gid")
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (bridge_uid, pool_uid, signer_uid) = (uids[1], uids[2], uids[0]);
    // The bridge's uid cannot open the signer's memory (another uid), nor can the signer's
    // own uid (not dumpable).
    let open_mem = format!("exec 3< /proc/{signer}/mem");
    for (who, uid, gid) in [
        ("bridge", bridge_uid, gid(bridge)),
        ("signer", signer_uid, gid(signer)),
    ] {
        let (ok, err) = sh_as(uid, gid, &open_mem);
        assert!(!ok, "uid {uid} ({who}) opened the signer's memory");
        assert!(err.contains("Permission denied"), "{who}: {err}");
    }
    // The pool's uid cannot read the store nor list the data directory.
    let data = tmp.path().join("data");
    let store = data.join("custos.sqlite3");
    assert!(store.exists());
    let (ok, err) = sh_as(pool_uid, gid(pool), &format!("exec 3< {}", store.display()));
    assert!(
        !ok && err.contains("Permission denied"),
        "pool uid read the store: {err}"
    );
    let (ok, _) = sh_as(pool_uid, gid(pool), &format!("ls {}", data.display()));
    assert!(!ok, "pool uid listed the data directory");
    // The bridge's uid can use the store, but not the signer's sealed master key.
    let (ok, err) = sh_as(
        bridge_uid,
        gid(bridge),
        &format!("exec 3< {}", store.display()),
    );
    assert!(ok, "bridge uid cannot open its store: {err}");
    for entry in std::fs::read_dir(&data).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("dev-seal") {
            let (ok, _) = sh_as(
                bridge_uid,
                gid(bridge),
                &format!("exec 3< {}", entry.path().display()),
            );
            assert!(!ok, "bridge uid read the seal {name}");
        }
    }
    // Still serving after all this.
    server.create_wallet("confinement-user-2");
}
