//! Seccomp: a declared allow-list compiled to BPF by seccompiler (Firecracker's compiler)
//! and installed on every thread.

use super::ConfineError;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;
use std::fmt;

/// What a system call off the list gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// The whole process is killed (SIGSYS): for the signer, where an unexpected call is an
    /// attack, not a bug to survive.
    Kill,
    /// The call fails with `EPERM`: for network-facing processes, where a rare call missed
    /// in the list must not take the service down.
    Eperm,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mismatch::Kill => "kill",
            Mismatch::Eperm => "EPERM",
        })
    }
}

/// A condition on one argument of a call (compared as 64 bits, or as the low 32 bits for
/// `int` arguments, so a sign-extended value cannot slip past).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    index: u8,
    dword: bool,
    mask: Option<u64>,
    value: u64,
}

impl Arg {
    /// Argument `index` (an `int`) equals `value`.
    pub const fn eq32(index: u8, value: u64) -> Self {
        Self {
            index,
            dword: true,
            mask: None,
            value,
        }
    }

    /// Argument `index` (an `int` of flags) has exactly `value` in the bits of `mask`.
    pub const fn masked32(index: u8, mask: u64, value: u64) -> Self {
        Self {
            index,
            dword: true,
            mask: Some(mask),
            value,
        }
    }

    /// Argument `index` (a `long` or pointer-sized value) has exactly `value` in the bits
    /// of `mask`.
    pub const fn masked64(index: u8, mask: u64, value: u64) -> Self {
        Self {
            index,
            dword: false,
            mask: Some(mask),
            value,
        }
    }

    fn condition(&self) -> Result<SeccompCondition, seccompiler::BackendError> {
        SeccompCondition::new(
            self.index,
            if self.dword {
                SeccompCmpArgLen::Dword
            } else {
                SeccompCmpArgLen::Qword
            },
            match self.mask {
                Some(m) => SeccompCmpOp::MaskedEq(m),
                None => SeccompCmpOp::Eq,
            },
            self.value,
        )
    }
}

/// One entry of the table: a system call, allowed always or only when one of its argument
/// patterns matches, or answered with an error number without running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syscall {
    /// The name (for reports and tests).
    pub name: &'static str,
    /// The number on this architecture.
    pub nr: i64,
    /// Allowed when any of these patterns matches (each: all its conditions hold);
    /// empty: always.
    when: Vec<Vec<Arg>>,
    /// Answered with this errno instead of being allowed.
    errno: Option<i32>,
}

impl Syscall {
    /// Allows the call whatever its arguments.
    pub fn allow(nr: i64, name: &'static str) -> Self {
        Self {
            name,
            nr,
            when: Vec::new(),
            errno: None,
        }
    }

    /// Adds an argument pattern: the call is allowed only when one of its patterns holds.
    #[must_use]
    pub fn when(mut self, all_of: &[Arg]) -> Self {
        self.when.push(all_of.to_vec());
        self
    }

    /// Fails the call with `errno` without running it (e.g. `clone3` with `ENOSYS`, so the
    /// C library falls back to `clone`, whose flags a filter can check).
    pub fn fail(nr: i64, name: &'static str, errno: i32) -> Self {
        Self {
            name,
            nr,
            when: Vec::new(),
            errno: Some(errno),
        }
    }

    /// Whether the call may run (with its argument patterns, if any).
    pub fn is_allowed(&self) -> bool {
        self.errno.is_none()
    }
}

/// Allows system calls by their `libc` constant, whatever their arguments:
/// `allow![SYS_read, SYS_write]` is a `Vec<Syscall>` named "read" and "write".
#[macro_export]
macro_rules! allow {
    ($($name:ident),* $(,)?) => {
        vec![$($crate::confine::Syscall::allow(
            $crate::confine::libc::$name as i64,
            $crate::confine::short_name(stringify!($name)),
        )),*]
    };
}

/// What starting a thread takes, with std over glibc or musl - the same for every role:
///
/// * `clone` only with `CLONE_THREAD`: a thread, never a new process;
/// * `clone3` answered with `ENOSYS`, so the C library falls back to `clone`, whose flags
///   a filter can see (`clone3` passes them behind a pointer);
/// * what a new thread does first: register its robust futex list and rseq, read its id
///   and CPU affinity (stack guard set-up), name itself (`prctl(PR_SET_NAME)`, no other
///   `prctl`).
pub fn thread_start() -> Vec<Syscall> {
    let mut calls = vec![
        Syscall::allow(libc::SYS_clone, "clone").when(&[Arg::masked64(
            0,
            libc::CLONE_THREAD as u64,
            libc::CLONE_THREAD as u64,
        )]),
        Syscall::fail(libc::SYS_clone3, "clone3", libc::ENOSYS),
        Syscall::allow(libc::SYS_prctl, "prctl").when(&[Arg::eq32(0, libc::PR_SET_NAME as u64)]),
    ];
    calls.extend(crate::allow![
        SYS_set_robust_list,
        SYS_rseq,
        SYS_gettid,
        SYS_sched_getaffinity
    ]);
    calls
}

/// `"SYS_read"` -> `"read"` (for [`allow!`]).
pub fn short_name(constant: &'static str) -> &'static str {
    constant.strip_prefix("SYS_").unwrap_or(constant)
}

/// A process's system call table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallTable {
    /// The entries.
    pub calls: Vec<Syscall>,
    /// What any other call gets.
    pub mismatch: Mismatch,
}

impl SyscallTable {
    /// Distinct system calls the process may make (a call allowed under several argument
    /// patterns counts once; entries that fail with an errno are not counted).
    pub fn len(&self) -> usize {
        let allowed: std::collections::BTreeSet<i64> = self
            .calls
            .iter()
            .filter(|c| c.is_allowed())
            .map(|c| c.nr)
            .collect();
        allowed.len()
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the table names `nr` (allowed or answered with an errno).
    pub fn names(&self, nr: i64) -> bool {
        self.calls.iter().any(|c| c.nr == nr)
    }

    /// The BPF programs, in installation order: first one that answers the `fail` entries
    /// with their errno (and allows everything else), then the allow-list. The kernel runs
    /// both on every call and takes the stricter verdict, so an errno entry wins over the
    /// allow-list's "allow" and a mismatch in the allow-list wins over everything.
    pub fn compile(&self) -> Result<Vec<BpfProgram>, ConfineError> {
        let arch = TargetArch::try_from(std::env::consts::ARCH)
            .map_err(|_| ConfineError::SeccompArch(std::env::consts::ARCH))?;
        let compile = |f: Result<SeccompFilter, seccompiler::BackendError>| {
            f.and_then(BpfProgram::try_from)
                .map_err(ConfineError::SeccompCompile)
        };
        let mut programs = Vec::new();
        let mut by_errno: BTreeMap<i32, BTreeMap<i64, Vec<SeccompRule>>> = BTreeMap::new();
        let mut allowed: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        for call in &self.calls {
            match call.errno {
                Some(errno) => {
                    by_errno
                        .entry(errno)
                        .or_default()
                        .insert(call.nr, Vec::new());
                    // Let the allow-list pass it, so the errno filter's answer stands.
                    allowed.insert(call.nr, Vec::new());
                }
                None => {
                    let rules = allowed.entry(call.nr).or_default();
                    for pattern in &call.when {
                        let conditions = pattern
                            .iter()
                            .map(Arg::condition)
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(ConfineError::SeccompCompile)?;
                        rules.push(
                            SeccompRule::new(conditions).map_err(ConfineError::SeccompCompile)?,
                        );
                    }
                }
            }
        }
        for (errno, calls) in by_errno {
            programs.push(compile(SeccompFilter::new(
                calls,
                SeccompAction::Allow,
                SeccompAction::Errno(errno as u32),
                arch,
            ))?);
        }
        programs.push(compile(SeccompFilter::new(
            allowed,
            match self.mismatch {
                Mismatch::Kill => SeccompAction::KillProcess,
                Mismatch::Eperm => SeccompAction::Errno(libc::EPERM as u32),
            },
            SeccompAction::Allow,
            arch,
        ))?);
        Ok(programs)
    }
}

/// Installs the table on every thread of the process (TSYNC).
pub(super) fn install(table: &SyscallTable) -> Result<(), ConfineError> {
    for program in table.compile()? {
        seccompiler::apply_filter_all_threads(&program).map_err(ConfineError::SeccompApply)?;
    }
    Ok(())
}
