//! The confinement mechanism on the real kernel, each test in a forked, single-threaded
//! child: landlock with an empty list opens nothing, a mismatch answers EPERM or kills,
//! errno entries (clone3 -> ENOSYS) let threads start through clone, the identity step
//! refuses root and leaves no capability, and an unprivileged process gets its own network
//! namespace through a user namespace.

use custos_sys::allow;
use custos_sys::confine::{
    libc, thread_start, Files, Identity, Memory, Mismatch, NetnsOutcome, Network, Policy,
    SyscallTable,
};

#[path = "support/probe.rs"]
mod probe;
use probe::*;

/// A minimal table for a Rust program that opens files and starts threads (with the
/// roles' shared [`thread_start`] group, tested here).
fn table(mismatch: Mismatch) -> SyscallTable {
    let mut calls = allow![
        SYS_read,
        SYS_write,
        SYS_openat,
        SYS_close,
        SYS_mmap,
        SYS_munmap,
        SYS_mprotect,
        SYS_madvise,
        SYS_brk,
        SYS_futex,
        SYS_sigaltstack,
        SYS_rt_sigprocmask,
        SYS_rt_sigaction,
        SYS_fcntl,
        SYS_statx,
        SYS_newfstatat,
        SYS_exit,
        SYS_exit_group,
        SYS_getuid,
        SYS_unshare,
    ];
    calls.extend(thread_start());
    SyscallTable { calls, mismatch }
}

fn policy(mismatch: Mismatch) -> Policy {
    Policy {
        role: "test",
        identity: None,
        network: Network::Shared,
        memory: Memory::Unlocked,
        files: Files::default(),
        tcp: None,
        syscalls: table(mismatch),
    }
}

#[test]
fn an_empty_file_list_opens_no_file() {
    if let Some(end) = confined(
        "an_empty_file_list_opens_no_file",
        || policy(Mismatch::Kill),
        |_| io_errno(std::fs::read("/etc/hostname")),
    ) {
        assert_eq!(end, End::Exit(libc::EACCES));
    }
}

#[test]
fn a_listed_file_opens_and_nothing_beside_it() {
    let name = "a_listed_file_opens_and_nothing_beside_it";
    let dir = std::env::temp_dir().join("custos-sys-confine-test");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("allowed"), b"yes").unwrap();
    std::fs::write(dir.join("other"), b"no").unwrap();
    let with_file = || Policy {
        files: Files {
            read_only: vec![std::env::temp_dir().join("custos-sys-confine-test/allowed")],
            read_write: Vec::new(),
        },
        ..policy(Mismatch::Kill)
    };
    if let Some(end) = confined(name, with_file, |report| {
        assert_eq!(report.read_only, 1);
        let ok = io_errno(std::fs::read(dir.join("allowed")));
        if ok != 0 {
            return 50 + ok;
        }
        // Read-only: no writing it either.
        let write = io_errno(std::fs::write(dir.join("allowed"), b"changed"));
        if write != libc::EACCES {
            return 80 + write;
        }
        io_errno(std::fs::read(dir.join("other")))
    }) {
        assert_eq!(end, End::Exit(libc::EACCES));
    }
}

#[test]
fn a_call_off_the_list_fails_with_eperm_or_kills() {
    let name = "a_call_off_the_list_fails_with_eperm_or_kills";
    // getppid is on neither list.
    #[allow(unsafe_code)]
    let getppid = || -> i32 {
        // SAFETY: getppid takes no arguments.
        errno_of(unsafe { libc::syscall(libc::SYS_getppid) })
    };
    if let Some(end) = confined(name, || policy(Mismatch::Eperm), |_| getppid()) {
        assert_eq!(end, End::Exit(libc::EPERM));
    }
    if let Some(end) = confined(name, || policy(Mismatch::Kill), |_| getppid()) {
        assert_eq!(end, End::Signal(libc::SIGSYS));
    }
}

#[test]
fn threads_start_through_clone_when_clone3_answers_enosys() {
    if let Some(end) = confined(
        "threads_start_through_clone_when_clone3_answers_enosys",
        || policy(Mismatch::Kill),
        |report| {
            assert_eq!(report.syscalls, table(Mismatch::Kill).len());
            let t = std::thread::Builder::new()
                .name("worker".into())
                .spawn(|| 7)
                .unwrap();
            if t.join().unwrap() == 7 {
                0
            } else {
                1
            }
        },
    ) {
        assert_eq!(end, End::Exit(0));
    }
}

#[test]
fn the_identity_step_refuses_root_and_leaves_no_capability() {
    let name = "the_identity_step_refuses_root_and_leaves_no_capability";
    assert!(
        custos_sys::confine::running_as_root(),
        "this test changes uids: run it as root (CI does)"
    );
    let as_root = || Policy {
        identity: Some(Identity { uid: 0, gid: 0 }),
        ..policy(Mismatch::Kill)
    };
    // Refused: the helper's child exits 100 when apply fails.
    if let Some(end) = confined(name, as_root, |_| 0) {
        assert_eq!(end, End::Exit(100));
    }
    let as_user = || Policy {
        identity: Some(Identity {
            uid: 64199,
            gid: 64199,
        }),
        ..policy(Mismatch::Kill)
    };
    if let Some(end) = confined(name, as_user, |report| {
        assert!(report.uid_changed);
        #[allow(unsafe_code)]
        // SAFETY: getuid takes no arguments.
        let uid = unsafe { libc::getuid() };
        if uid == 64199 && report.uid == 64199 {
            0
        } else {
            1
        }
    }) {
        assert_eq!(end, End::Exit(0));
    }
}

#[test]
fn an_unprivileged_process_gets_its_own_network_namespace() {
    let name = "an_unprivileged_process_gets_its_own_network_namespace";
    let own_netns = || Policy {
        network: Network::Own,
        ..policy(Mismatch::Kill)
    };
    if let Some(end) = confined_as(name, Some(65534), own_netns, |report| {
        if report.netns != NetnsOutcome::Own || report.uid_changed {
            return 1;
        }
        // No socket could reach anything: loopback only, and down.
        match std::fs::read("/proc/self/net/dev") {
            Err(e) => e.raw_os_error().unwrap_or(-1),
            Ok(_) => 2,
        }
    }) {
        // /proc is outside the (empty) landlock list: the namespace is checked by the
        // report; the read is refused.
        assert_eq!(end, End::Exit(libc::EACCES));
    }
}
