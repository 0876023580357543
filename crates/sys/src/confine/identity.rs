//! The unprivileged identity a role takes when started as root.

use nix::unistd::{Gid, Uid};

/// A uid/gid pair for one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user id.
    pub uid: u32,
    /// The group id (primary; no supplementary groups are kept).
    pub gid: u32,
}

/// Why the identity could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Refused: the role's identity must not be root.
    #[error("refusing to run as uid {uid} gid {gid}: a role's identity must not be root")]
    Root {
        /// The uid.
        uid: u32,
        /// The gid.
        gid: u32,
    },
    /// `setgroups([])` failed.
    #[error("setgroups([]): {0}")]
    SetGroups(nix::Error),
    /// `setresgid` failed.
    #[error("setresgid({0}): {1}")]
    SetGid(u32, nix::Error),
    /// `setresuid` failed.
    #[error("setresuid({0}): {1}")]
    SetUid(u32, nix::Error),
    /// After the change the process still holds a root id or a capability.
    #[error("after dropping to uid {uid}: {what}")]
    NotDropped {
        /// The uid asked for.
        uid: u32,
        /// What was still there.
        what: String,
    },
}

impl Identity {
    /// The ids of system user `name` (and its primary group) if `/etc/passwd` has it, else
    /// the fixed `uid` and `gid`. Called before confinement (name lookup reads files).
    pub fn system_user_or(name: &str, uid: u32, gid: u32) -> Self {
        match nix::unistd::User::from_name(name) {
            Ok(Some(user)) => Self {
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            },
            _ => Self { uid, gid },
        }
    }
}

/// Drops every group, then gid, then uid (in that order: after the uid change the process
/// could no longer change groups), and checks that nothing of root remains.
pub(super) fn become_unprivileged(id: &Identity) -> Result<(), IdentityError> {
    if id.uid == 0 || id.gid == 0 {
        return Err(IdentityError::Root {
            uid: id.uid,
            gid: id.gid,
        });
    }
    let (uid, gid) = (Uid::from_raw(id.uid), Gid::from_raw(id.gid));
    nix::unistd::setgroups(&[]).map_err(IdentityError::SetGroups)?;
    nix::unistd::setresgid(gid, gid, gid).map_err(|e| IdentityError::SetGid(id.gid, e))?;
    nix::unistd::setresuid(uid, uid, uid).map_err(|e| IdentityError::SetUid(id.uid, e))?;
    verify_dropped(id)
}

fn verify_dropped(id: &Identity) -> Result<(), IdentityError> {
    let fail = |what: String| IdentityError::NotDropped { uid: id.uid, what };
    let ids = nix::unistd::getresuid().map_err(|e| fail(format!("getresuid: {e}")))?;
    let gids = nix::unistd::getresgid().map_err(|e| fail(format!("getresgid: {e}")))?;
    if [ids.real, ids.effective, ids.saved] != [Uid::from_raw(id.uid); 3]
        || [gids.real, gids.effective, gids.saved] != [Gid::from_raw(id.gid); 3]
    {
        return Err(fail(format!("ids are {ids:?} {gids:?}")));
    }
    // The real test: asking for root back must fail.
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err(fail("setuid(0) succeeded".into()));
    }
    if nix::unistd::setgid(Gid::from_raw(0)).is_ok() {
        return Err(fail("setgid(0) succeeded".into()));
    }
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| fail(format!("/proc/self/status: {e}")))?;
    for field in ["CapInh:", "CapPrm:", "CapEff:", "CapAmb:"] {
        let value = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .map(str::trim)
            .ok_or_else(|| fail(format!("no {field} in /proc/self/status")))?;
        if u64::from_str_radix(value, 16) != Ok(0) {
            return Err(fail(format!("{field} {value}")));
        }
    }
    if !nix::unistd::getgroups().is_ok_and(|g| g.is_empty()) {
        return Err(fail("supplementary groups remain".into()));
    }
    Ok(())
}
