//! Landlock: the files a process may open, the TCP ports it may use, and scoping of signals
//! and abstract Unix sockets to itself.

use super::ConfineError;
use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, PathFd,
    Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};
use std::path::PathBuf;

/// The newest landlock ABI these rules are written for; older kernels enforce a subset.
const ABI_TARGET: ABI = ABI::V6;

/// Paths a process may open; everything else is denied, including `/proc` and `/dev`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Files {
    /// Files (or directory trees) it may read.
    pub read_only: Vec<PathBuf>,
    /// Files (or directory trees) it may read, write, create, truncate and remove files in.
    pub read_write: Vec<PathBuf>,
}

/// TCP ports for landlock's network rules (Linux 6.7+; ignored by older kernels).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpPorts {
    /// Ports it may bind.
    pub bind: Vec<u16>,
    /// Ports it may connect to (empty: no outgoing TCP at all).
    pub connect: Vec<u16>,
}

/// What landlock enforced.
pub(super) struct Enforced {
    pub(super) full: bool,
    pub(super) tcp: Option<(usize, usize)>,
}

fn read_access() -> BitFlags<AccessFs> {
    // Not Execute: nothing is executed (seccomp forbids execve anyway).
    AccessFs::ReadFile | AccessFs::ReadDir
}

fn write_access() -> BitFlags<AccessFs> {
    read_access()
        | AccessFs::WriteFile
        | AccessFs::RemoveFile
        | AccessFs::MakeReg
        | AccessFs::Truncate
}

pub(super) fn restrict(files: &Files, tcp: Option<&TcpPorts>) -> Result<Enforced, ConfineError> {
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(ABI_TARGET))?
        .scope(Scope::from_all(ABI_TARGET))?;
    if tcp.is_some() {
        ruleset = ruleset.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)?;
    }
    let mut created = ruleset.create()?;
    let lists = [
        (&files.read_only, read_access()),
        (&files.read_write, write_access()),
    ];
    for (paths, access) in lists {
        for path in paths {
            let lp = |source| ConfineError::LandlockPath {
                path: path.clone(),
                source,
            };
            let meta = std::fs::metadata(path).map_err(lp)?;
            let fd = PathFd::new(path).map_err(|e| lp(std::io::Error::other(e)))?;
            // Directory-only rights on a file are an error: keep the file ones.
            let access = if meta.is_dir() {
                access
            } else {
                access & AccessFs::from_file(ABI_TARGET)
            };
            created = created.add_rule(PathBeneath::new(fd, access))?;
        }
    }
    if let Some(tcp) = tcp {
        for &port in &tcp.bind {
            created = created.add_rule(NetPort::new(port, AccessNet::BindTcp))?;
        }
        for &port in &tcp.connect {
            created = created.add_rule(NetPort::new(port, AccessNet::ConnectTcp))?;
        }
    }
    let status = created.restrict_self()?;
    let full = match status.ruleset {
        RulesetStatus::FullyEnforced => true,
        RulesetStatus::PartiallyEnforced => false,
        RulesetStatus::NotEnforced => return Err(ConfineError::LandlockUnavailable),
        // A future status: treat it as partial rather than guess.
        #[allow(unreachable_patterns)]
        _ => false,
    };
    // Landlock's network rules arrived in ABI 4: report them only where they hold.
    let net = landlock_abi() >= 4;
    Ok(Enforced {
        full,
        tcp: tcp.filter(|_| net).map(|t| (t.bind.len(), t.connect.len())),
    })
}

/// The kernel's landlock ABI version (0 when landlock is off).
fn landlock_abi() -> i64 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    #[allow(unsafe_code)]
    // SAFETY: landlock_create_ruleset(NULL, 0, VERSION) only returns the ABI version; it
    // reads no memory and creates no descriptor.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    v.max(0)
}
