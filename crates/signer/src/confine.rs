//! The signer's confinement: what the process that holds the keys may still do once it
//! has unsealed the master key and read its files.
//!
//! It serves one socket pair to the bridge (and, with a TPM seal, talks to the TPM over the
//! descriptor it opened before). It creates no socket, opens no file, executes nothing,
//! traces nothing; a call off this list kills it (an unexpected call in the signer is an
//! attack, not a bug to survive). It runs in a network namespace of its own, with all
//! memory locked, not dumpable and without core dumps; as root, under its own uid.

use custos_sys::allow;
use custos_sys::confine::libc;
use custos_sys::confine::{
    thread_start, Arg, Files, Identity, Memory, Mismatch, Network, Policy, Syscall, SyscallTable,
};

/// The kernel's first real-time signal, which the C library reserves for its threads.
const SIGRTMIN: u64 = 32;

/// The signer's policy; `identity` is taken when it starts as root.
pub fn policy(identity: Option<Identity>) -> Policy {
    Policy {
        role: "signer",
        identity,
        network: Network::Own,
        memory: Memory::LockAll,
        // Everything it reads (seal, policy, bot token, TPM, event log) is read before.
        files: Files::default(),
        tcp: None,
        syscalls: syscalls(),
    }
}

/// The signer's system call table.
pub fn syscalls() -> SyscallTable {
    let mut calls = Vec::new();
    // Its socket to the bridge, the TPM descriptor (a device, or swtpm's TCP socket in
    // tests), and log lines to stderr. sendto/recvfrom are what std's socket read/write
    // use; sendto only without a destination address (no datagram to anywhere).
    calls.extend(allow![SYS_read, SYS_write, SYS_recvfrom]);
    calls.push(Syscall::allow(libc::SYS_sendto, "sendto").when(&[Arg::masked64(4, u64::MAX, 0)]));
    // UnixStream::try_clone (separate reader and writer halves): a duplicate, nothing new
    // (musl sets FD_CLOEXEC on it again with F_SETFD); and F_GETFD, with which std checks in
    // debug builds that a descriptor it closes is open.
    for cmd in [libc::F_DUPFD_CLOEXEC, libc::F_SETFD, libc::F_GETFD] {
        calls.push(Syscall::allow(libc::SYS_fcntl, "fcntl").when(&[Arg::eq32(1, cmd as u64)]));
    }
    calls.extend(allow![SYS_close]);
    // Memory: the allocator, thread stacks, and the key shield's locked, undumped pages
    // (mlock, madvise DONTDUMP/WIPEONFORK), re-randomized on a background thread.
    calls.extend(allow![
        SYS_mmap,
        SYS_munmap,
        SYS_mremap,
        SYS_madvise,
        SYS_brk,
        SYS_mprotect,
        SYS_mlock,
        SYS_munlock,
    ]);
    // Time: expiries and the re-randomizer's sleep (clock_gettime is usually in the vDSO).
    calls.extend(allow![
        SYS_clock_gettime,
        SYS_clock_nanosleep,
        SYS_nanosleep
    ]);
    // Keys, nonces, the shield's fresh pages.
    calls.extend(allow![SYS_getrandom]);
    // Locks, channels and condition variables between the reader, workers and writer.
    calls.extend(allow![SYS_futex, SYS_sched_yield]);
    // Worker and re-randomizer threads (threads only, never a new process).
    calls.extend(thread_start());
    // Signals: the alternate stack std sets per thread, masks, and the return from a handler.
    calls.extend(allow![
        SYS_sigaltstack,
        SYS_rt_sigprocmask,
        SYS_rt_sigreturn
    ]);
    // The C library installs its internal thread signal handlers (SIGCANCEL = SIGRTMIN,
    // SIGSETXID = SIGRTMIN + 1) at the first thread it creates; no other handler changes.
    for internal in [SIGRTMIN, SIGRTMIN + 1] {
        calls.push(
            Syscall::allow(libc::SYS_rt_sigaction, "rt_sigaction").when(&[Arg::eq32(0, internal)]),
        );
    }
    // The end.
    calls.extend(allow![SYS_exit, SYS_exit_group]);
    SyscallTable {
        calls,
        mismatch: Mismatch::Kill,
    }
}
