//! Process-wide switches: thread count, core dumps, dumpability, no new privileges,
//! memory locking.

use super::{ConfineError, MemoryOutcome};
use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};

/// The number of threads in this process, from `/proc/self/status`.
pub(super) fn thread_count() -> Result<usize, ConfineError> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(ConfineError::Status)?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| ConfineError::Status(std::io::Error::other("no Threads: line")))
}

/// No core file, whatever the signal: soft and hard limit 0, so it cannot be raised again.
pub(super) fn no_core() -> Result<(), ConfineError> {
    setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(ConfineError::CoreLimit)
}

/// Files and directories the process creates from now on are readable by its uid only
/// (a store created 0644 would be readable by every other role's uid).
pub(super) fn private_files() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
}

/// Locks all memory (current and future) when RLIMIT_MEMLOCK is, or can be made,
/// unlimited. Otherwise nothing is locked here: with a limit, `MCL_FUTURE` would make the
/// process's allocations and its secret pages' own `mlock` fail once the limit is reached
/// (as soon as root's CAP_IPC_LOCK is gone with the uid change). That case is reported,
/// with a warning, not fatal: secret pages stay locked by their owners.
pub(super) fn lock_memory() -> Result<MemoryOutcome, ConfineError> {
    let unlimited = matches!(
        getrlimit(Resource::RLIMIT_MEMLOCK),
        Ok((RLIM_INFINITY, RLIM_INFINITY))
    ) || setrlimit(Resource::RLIMIT_MEMLOCK, RLIM_INFINITY, RLIM_INFINITY).is_ok();
    if !unlimited {
        eprintln!(
            "custos: WARNING: RLIMIT_MEMLOCK is limited and cannot be lifted (needs \
             CAP_SYS_RESOURCE or a higher limit): only secret pages are locked, not all memory"
        );
        return Ok(MemoryOutcome::Refused);
    }
    crate::memory::lock_all()?;
    Ok(MemoryOutcome::Locked)
}

/// Not dumpable: no core dump, and no `ptrace` or `/proc/PID/mem` access from processes
/// of the same uid; `/proc/PID/*` files become root-owned.
pub(super) fn not_dumpable() -> Result<(), ConfineError> {
    nix::sys::prctl::set_dumpable(false).map_err(ConfineError::Dumpable)
}

/// No new privileges through exec (set-uid binaries, file capabilities); required for an
/// unprivileged process to install landlock and seccomp.
pub(super) fn no_new_privs() -> Result<(), ConfineError> {
    nix::sys::prctl::set_no_new_privs().map_err(ConfineError::NoNewPrivs)
}
