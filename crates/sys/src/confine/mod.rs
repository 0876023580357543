//! Per-process confinement, applied as explicit steps in a fixed order (the way
//! Firecracker's jailer does it), each failing with its own [`ConfineError`] variant.
//!
//! A process declares a [`Policy`] next to its own code (the signer, bridge and pool each
//! have a `confine` module); [`apply`] carries it out once at start, after the process has
//! read everything it needs and while it is still single-threaded:
//!
//! 1. check that no other thread exists (landlock, namespaces and credentials are
//!    per-thread state: a thread started earlier would escape them);
//! 2. `RLIMIT_CORE = 0` (no core file), and umask 077 (files it creates are its own);
//! 3. memory locking (`mlockall`) where RLIMIT_MEMLOCK is or can be made unlimited;
//! 4. the process's own network namespace, if asked: `unshare(CLONE_NEWNET)` as root,
//!    `CLONE_NEWUSER|CLONE_NEWNET` otherwise (a loud warning if user namespaces are off);
//! 5. as root, the role's unprivileged uid/gid: `setgroups([])`, `setresgid`, `setresuid`,
//!    then a check that root cannot be regained and no capability is left;
//! 6. `PR_SET_DUMPABLE = 0` (after 4 and 5, which reset it);
//! 7. `PR_SET_NO_NEW_PRIVS`;
//! 8. landlock: the declared paths read-only or read-write, nothing else; optionally TCP
//!    ports; signals and abstract Unix sockets scoped to the process;
//! 9. seccomp: the declared allow-list, on every thread (TSYNC).
//!
//! [`apply`] returns a [`Report`] whose `Display` is the one log line a process prints.

mod files;
mod identity;
mod netns;
mod process;
mod syscalls;

pub use files::{Files, TcpPorts};
pub use identity::{Identity, IdentityError};
pub use syscalls::{short_name, thread_start, Arg, Mismatch, Syscall, SyscallTable};

/// The `libc` crate, for policies naming system calls (`libc::SYS_read`) and flags.
pub use libc;

use std::fmt;

/// Whether the process gets its own network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Stays in the namespace it was started in (it needs the network).
    Shared,
    /// A new, empty network namespace (loopback only, down): no route anywhere.
    Own,
}

/// Whether all of the process's memory is locked in RAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memory {
    /// Left as it is (the process holds no secret, or locks its own pages).
    Unlocked,
    /// `mlockall(MCL_CURRENT | MCL_FUTURE)`: nothing of the process reaches swap.
    LockAll,
}

/// Everything one process is confined to.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The role, for errors and the report (`"signer"`).
    pub role: &'static str,
    /// The unprivileged identity taken when the process runs as root (ignored otherwise).
    pub identity: Option<Identity>,
    /// Network namespace.
    pub network: Network,
    /// Memory locking.
    pub memory: Memory,
    /// Filesystem access (landlock); an empty list means no file can be opened.
    pub files: Files,
    /// TCP ports the process may bind and connect to (landlock); `None`: not restricted.
    pub tcp: Option<TcpPorts>,
    /// The system call allow-list (seccomp).
    pub syscalls: SyscallTable,
}

/// Why confinement failed. The process must not go on unconfined: callers exit.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    /// Another thread exists; per-thread steps would not cover it.
    #[error("confinement must start single-threaded, but {0} threads are running")]
    Threads(usize),
    /// Reading this process's thread count failed.
    #[error("reading /proc/self/status: {0}")]
    Status(std::io::Error),
    /// `setrlimit(RLIMIT_CORE, 0)` failed.
    #[error("setrlimit(RLIMIT_CORE, 0): {0}")]
    CoreLimit(nix::Error),
    /// `mlockall` failed although RLIMIT_MEMLOCK is unlimited.
    #[error(transparent)]
    LockMemory(#[from] crate::memory::MemoryError),
    /// `unshare` of the network namespace failed.
    #[error("unshare({flags}): {source}")]
    Unshare {
        /// The namespaces asked for.
        flags: &'static str,
        /// What the kernel said.
        source: nix::Error,
    },
    /// Mapping our ids into a new user namespace failed.
    #[error("writing {file}: {source}")]
    UserNamespaceMap {
        /// `/proc/self/uid_map`, `gid_map` or `setgroups`.
        file: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// Dropping capabilities held in a new user namespace failed.
    #[error("capset (drop all): {0}")]
    DropCapabilities(nix::Error),
    /// Changing identity failed.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// `prctl(PR_SET_DUMPABLE)` failed.
    #[error("prctl(PR_SET_DUMPABLE): {0}")]
    Dumpable(nix::Error),
    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)` failed.
    #[error("prctl(PR_SET_NO_NEW_PRIVS, 1): {0}")]
    NoNewPrivs(nix::Error),
    /// A declared path could not be opened for its landlock rule.
    #[error("landlock: {path}: {source}")]
    LandlockPath {
        /// The path.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Building or enforcing the landlock ruleset failed.
    #[error("landlock: {0}")]
    Landlock(#[from] landlock::RulesetError),
    /// The kernel does not enforce landlock at all.
    #[error(
        "landlock is not enforced by this kernel (needs Linux 5.13+ with landlock in the LSM list)"
    )]
    LandlockUnavailable,
    /// The seccomp filter could not be compiled.
    #[error("seccomp filter: {0}")]
    SeccompCompile(seccompiler::BackendError),
    /// This architecture has no seccomp compiler target.
    #[error("seccomp: unsupported architecture {0}")]
    SeccompArch(&'static str),
    /// Installing the seccomp filter failed.
    #[error("seccomp: {0}")]
    SeccompApply(seccompiler::Error),
}

/// What [`apply`] did, for one log line at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The role.
    pub role: &'static str,
    /// System calls on the allow-list.
    pub syscalls: usize,
    /// What a call off the list gets.
    pub mismatch: Mismatch,
    /// Landlock's enforcement: fully, or partly (an older kernel).
    pub landlock_full: bool,
    /// Read-only paths.
    pub read_only: usize,
    /// Read-write paths.
    pub read_write: usize,
    /// TCP ports restricted by landlock (bind, connect), if the kernel supports it.
    pub tcp: Option<(usize, usize)>,
    /// The uid now held (changed only when started as root).
    pub uid: u32,
    /// Whether the uid was changed.
    pub uid_changed: bool,
    /// Network namespace: own, shared by policy, or shared because user namespaces are off.
    pub netns: NetnsOutcome,
    /// Memory locked: yes, not asked, or failed (unprivileged, over RLIMIT_MEMLOCK).
    pub memory: MemoryOutcome,
}

/// What became of the network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetnsOutcome {
    /// The process is in a new one.
    Own,
    /// It stays in the parent's, as its policy says.
    Shared,
    /// Asked for, but user namespaces are unavailable to an unprivileged process.
    Unavailable,
}

/// What became of memory locking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryOutcome {
    /// All memory locked.
    Locked,
    /// Not asked for.
    NotAsked,
    /// Asked for, but RLIMIT_MEMLOCK is limited and could not be lifted (unprivileged, or
    /// root without CAP_SYS_RESOURCE): locking everything would make every later lock and
    /// allocation fail once the limit is reached, so only the secret pages are locked (by
    /// their owners, within the limit).
    Refused,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} confined: seccomp {} syscalls ({}), landlock ro {} rw {}",
            self.role, self.syscalls, self.mismatch, self.read_only, self.read_write
        )?;
        if !self.landlock_full {
            f.write_str(" (partly: old kernel)")?;
        }
        if let Some((bind, connect)) = self.tcp {
            write!(f, ", tcp bind {bind} connect {connect}")?;
        }
        write!(f, ", uid {}", self.uid)?;
        if !self.uid_changed {
            f.write_str(if self.uid == 0 {
                " (root)"
            } else {
                " (unchanged: not root)"
            })?;
        }
        f.write_str(match self.netns {
            NetnsOutcome::Own => ", own netns",
            NetnsOutcome::Shared => ", shared netns",
            NetnsOutcome::Unavailable => ", SHARED NETNS (user namespaces unavailable)",
        })?;
        f.write_str(match self.memory {
            MemoryOutcome::Locked => ", memory locked",
            MemoryOutcome::NotAsked => "",
            MemoryOutcome::Refused => ", NOT ALL MEMORY LOCKED (RLIMIT_MEMLOCK is limited)",
        })?;
        f.write_str(", not dumpable, no core")
    }
}

/// Applies `policy` to the calling process, in the order described in the module docs.
/// On error the process is partly confined and must exit.
pub fn apply(policy: &Policy) -> Result<Report, ConfineError> {
    let threads = process::thread_count()?;
    if threads != 1 {
        return Err(ConfineError::Threads(threads));
    }
    let root = nix::unistd::geteuid().is_root();
    process::no_core()?;
    process::private_files();
    let memory = match policy.memory {
        Memory::Unlocked => MemoryOutcome::NotAsked,
        Memory::LockAll => process::lock_memory()?,
    };
    let netns = match policy.network {
        Network::Shared => NetnsOutcome::Shared,
        Network::Own => netns::enter_own(root)?,
    };
    let uid_changed = match (&policy.identity, root) {
        (Some(id), true) => {
            identity::become_unprivileged(id)?;
            true
        }
        _ => false,
    };
    // Read now: getuid is not on every allow-list.
    let uid = nix::unistd::getuid().as_raw();
    process::not_dumpable()?;
    process::no_new_privs()?;
    let landlock = files::restrict(&policy.files, policy.tcp.as_ref())?;
    syscalls::install(&policy.syscalls)?;
    Ok(Report {
        role: policy.role,
        syscalls: policy.syscalls.len(),
        mismatch: policy.syscalls.mismatch,
        landlock_full: landlock.full,
        read_only: policy.files.read_only.len(),
        read_write: policy.files.read_write.len(),
        tcp: landlock.tcp,
        uid,
        uid_changed,
        netns,
        memory,
    })
}

/// Whether this process runs as root (effective uid 0): then [`apply`] changes to the
/// policy's identity, and callers prepare files for the roles' uids.
pub fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}
