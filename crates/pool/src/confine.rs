//! The pool's confinement: the Telegram client, the Solana RPC client and the Custos
//! page, all network-facing and all parsing what strangers send.
//!
//! It may read only the certificate and key files given on its command line and what
//! name resolution reads (`/etc/hosts`, `resolv.conf`, `nsswitch.conf`, ... and the NSS
//! modules); never the data directory. TCP: it binds only its listeners' ports and
//! connects only to the ports of its configured endpoints and DNS. It executes nothing
//! and traces nothing. A call off the list fails with `EPERM`.

use custos_sys::allow;
use custos_sys::confine::libc;
use custos_sys::confine::{
    thread_start, Arg, Files, Identity, Memory, Mismatch, Network, Policy, Syscall, SyscallTable,
    TcpPorts,
};
use std::path::{Path, PathBuf};

/// Files the C library's name resolution may read (those that exist are allowed).
pub const NAME_RESOLUTION_FILES: &[&str] = &[
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/ld.so.cache",
];

/// Directories holding NSS modules (`libnss_*.so.2`), loaded by name resolution.
const NSS_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
];

/// The DNS port, for resolvers falling back to TCP.
const DNS_PORT: u16 = 53;

/// What the pool is configured to use.
#[derive(Debug, Clone, Default)]
pub struct PoolNeeds {
    /// Certificate and key files it reads after start (page, webhook).
    pub files: Vec<PathBuf>,
    /// Ports it listens on (page, webhook).
    pub listen_ports: Vec<u16>,
    /// Ports of the endpoints it connects to (Bot API, RPC); DNS is added.
    pub connect_ports: Vec<u16>,
}

/// The pool's policy; `identity` is taken when it starts as root.
pub fn policy(identity: Option<Identity>, needs: &PoolNeeds) -> Policy {
    let mut read_only = needs.files.clone();
    read_only.extend(name_resolution_files());
    let mut connect = needs.connect_ports.clone();
    connect.push(DNS_PORT);
    connect.sort_unstable();
    connect.dedup();
    Policy {
        role: "pool",
        identity,
        network: Network::Shared,
        memory: Memory::Unlocked,
        files: Files {
            read_only,
            read_write: Vec::new(),
        },
        tcp: Some(TcpPorts {
            bind: needs.listen_ports.clone(),
            connect,
        }),
        syscalls: syscalls(),
    }
}

/// The system files name resolution reads, those present on this system.
pub fn name_resolution_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = NAME_RESOLUTION_FILES
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect();
    for dir in NSS_DIRS {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with("libnss_") {
                files.push(Path::new(dir).join(name));
            }
        }
    }
    files
}

/// The pool's system call table.
pub fn syscalls() -> SyscallTable {
    let mut calls = Vec::new();
    // Sockets: HTTPS clients and listeners (IPv4/IPv6), DNS over UDP/TCP, and the
    // netlink route socket the C library reads interface addresses from (AI_ADDRCONFIG).
    // No Unix sockets of its own (it gets its socket pairs from the supervisor; tokio's
    // signal pipe is a socketpair).
    for family in [libc::AF_INET, libc::AF_INET6, libc::AF_NETLINK] {
        calls.push(Syscall::allow(libc::SYS_socket, "socket").when(&[Arg::eq32(0, family as u64)]));
    }
    calls.extend(allow![
        SYS_connect,
        SYS_bind,
        SYS_listen,
        SYS_accept4,
        SYS_setsockopt,
        SYS_getsockopt,
        SYS_getsockname,
        SYS_getpeername,
        SYS_shutdown,
        SYS_socketpair,
        SYS_recvfrom,
        SYS_recvmsg,
        SYS_sendto,
        SYS_sendmmsg,
        SYS_poll,
    ]);
    // Non-blocking mode (tokio), bytes waiting on a DNS socket (the C resolver).
    // (The request type is `c_ulong` with glibc and `c_int` with musl: hence the cast.)
    #[allow(clippy::unnecessary_cast)]
    for request in [libc::FIONBIO, libc::FIONREAD] {
        calls.push(Syscall::allow(libc::SYS_ioctl, "ioctl").when(&[Arg::eq32(1, request as u64)]));
    }
    // I/O on descriptors, and the few files landlock lets it read.
    calls.extend(allow![
        SYS_read,
        SYS_write,
        SYS_writev,
        SYS_pread64,
        SYS_lseek,
        SYS_close,
        SYS_fcntl,
        SYS_openat,
        SYS_newfstatat,
        SYS_statx,
        // With musl, the C library's open, stat and fstat are these calls.
        SYS_open,
        SYS_stat,
        SYS_fstat,
        SYS_uname,
    ]);
    // The async runtime (musl's epoll_wait is epoll_pwait).
    calls.extend(allow![
        SYS_epoll_create1,
        SYS_epoll_ctl,
        SYS_epoll_wait,
        SYS_epoll_pwait,
        SYS_eventfd2,
    ]);
    // Memory (and mapping NSS modules).
    calls.extend(allow![
        SYS_mmap,
        SYS_munmap,
        SYS_mremap,
        SYS_madvise,
        SYS_brk,
        SYS_mprotect
    ]);
    // Threads (name resolution runs on blocking threads): threads only, never a new
    // process.
    calls.extend(thread_start());
    calls.extend(allow![SYS_futex, SYS_sched_yield]);
    // Time (rate limits, retries), randomness (TLS), signals, the end.
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
