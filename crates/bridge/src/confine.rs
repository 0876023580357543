//! The bridge's confinement: an mTLS API server with a SQLite store.
//!
//! It may read and write only its data directory (the store, its TLS files, the address
//! file) and bind only its API port; it makes no outgoing connection (no `connect` at all,
//! and landlock allows no TCP connect), executes nothing, and can neither trace nor read
//! another process's memory (no `ptrace`, no `process_vm_readv`/`writev`; `/proc` is
//! outside its landlock rules). A call off the list fails with `EPERM`: a rare call
//! missed here must not take the API down.

use custos_sys::allow;
use custos_sys::confine::libc;
use custos_sys::confine::{
    thread_start, Arg, Files, Identity, Memory, Mismatch, Network, Policy, Syscall, SyscallTable,
    TcpPorts,
};
use std::path::Path;

/// The bridge's policy: `data_dir` read-write, `listen_port` the API's port (0: any
/// ephemeral one); `identity` is taken when it starts as root.
pub fn policy(identity: Option<Identity>, data_dir: &Path, listen_port: u16) -> Policy {
    Policy {
        role: "bridge",
        identity,
        network: Network::Shared,
        memory: Memory::Unlocked,
        files: Files {
            read_only: Vec::new(),
            read_write: vec![data_dir.to_owned()],
        },
        tcp: Some(TcpPorts {
            bind: vec![listen_port],
            connect: Vec::new(),
        }),
        syscalls: syscalls(),
    }
}

/// The bridge's system call table.
pub fn syscalls() -> SyscallTable {
    let mut calls = Vec::new();
    // Sockets: its three socket pairs, and the API listener (IPv4 or IPv6 TCP only) with
    // the connections it accepts. No connect: the bridge never dials out. socketpair is
    // tokio's signal wake-up pipe.
    for family in [libc::AF_INET, libc::AF_INET6] {
        calls.push(Syscall::allow(libc::SYS_socket, "socket").when(&[Arg::eq32(0, family as u64)]));
    }
    calls.extend(allow![
        SYS_bind,
        SYS_listen,
        SYS_accept4,
        SYS_setsockopt,
        SYS_getsockname,
        SYS_getpeername,
        SYS_shutdown,
        SYS_socketpair,
        SYS_recvfrom,
    ]);
    calls.push(Syscall::allow(libc::SYS_sendto, "sendto").when(&[Arg::masked64(4, u64::MAX, 0)]));
    // Non-blocking mode for adopted sockets (tokio's from_std). (The request type is
    // `c_ulong` with glibc and `c_int` with musl: hence the cast.)
    #[allow(clippy::unnecessary_cast)]
    calls
        .push(Syscall::allow(libc::SYS_ioctl, "ioctl").when(&[Arg::eq32(1, libc::FIONBIO as u64)]));
    // I/O on descriptors: sockets, the store, TLS files, stderr logs.
    calls.extend(allow![
        SYS_read,
        SYS_write,
        SYS_writev,
        SYS_pread64,
        SYS_pwrite64,
        SYS_close,
        SYS_fcntl,
    ]);
    // The store (SQLite with its journal) and the files in the data directory, which
    // landlock limits to that directory. mkdir: std's create_dir_all of the existing run/
    // (created by the supervisor) needs its EEXIST; landlock lets it create no directory.
    // No fchown (SQLite calls it only as root).
    calls.extend(allow![
        SYS_openat,
        SYS_newfstatat,
        SYS_statx,
        // With musl, SQLite's open, stat, lstat and fstat are these calls.
        SYS_open,
        SYS_stat,
        SYS_lstat,
        SYS_fstat,
        SYS_access,
        SYS_fsync,
        SYS_fdatasync,
        SYS_ftruncate,
        SYS_unlink,
        SYS_rename,
        SYS_mkdir,
    ]);
    // The async runtime: epoll (musl's epoll_wait is epoll_pwait), its wake-up eventfd.
    calls.extend(allow![
        SYS_epoll_create1,
        SYS_epoll_ctl,
        SYS_epoll_wait,
        SYS_epoll_pwait,
        SYS_eventfd2,
    ]);
    // Memory.
    calls.extend(allow![
        SYS_mmap,
        SYS_munmap,
        SYS_mremap,
        SYS_madvise,
        SYS_brk,
        SYS_mprotect
    ]);
    // Threads (tokio workers, blocking store calls): threads only, never a new process.
    calls.extend(thread_start());
    calls.extend(allow![SYS_getpid, SYS_geteuid, SYS_futex, SYS_sched_yield]);
    // Time, randomness (TLS), signals (SIGTERM drains requests), the end.
    calls.extend(allow![
        SYS_clock_gettime,
        SYS_clock_nanosleep,
        SYS_nanosleep,
        SYS_getrandom,
        SYS_rt_sigaction,
        SYS_rt_sigprocmask,
        SYS_rt_sigreturn,
        SYS_sigaltstack,
        SYS_exit,
        SYS_exit_group,
    ]);
    SyscallTable {
        calls,
        mismatch: Mismatch::Eperm,
    }
}
