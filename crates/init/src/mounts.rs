//! Step `mount_basics`: the kernel file systems PID 1 needs before anything else.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};

/// One file system `mount_basics` mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasicMount {
    /// The mount source (informational for pseudo file systems).
    pub source: &'static str,
    /// Where, relative to the root.
    pub target: &'static str,
    /// The file system type.
    pub fstype: &'static str,
    /// Mount flags.
    pub flags: MsFlags,
    /// File system options, if any.
    pub data: Option<&'static str>,
}

const NOSUID_NODEV_NOEXEC: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// The mounts in order: `/sys/kernel/security` lives inside sysfs, so sysfs comes first.
/// Nothing here needs exec or set-uid; `/dev` keeps device nodes (no `nodev`).
pub const BASIC_MOUNTS: [BasicMount; 6] = [
    BasicMount {
        source: "proc",
        target: "proc",
        fstype: "proc",
        flags: NOSUID_NODEV_NOEXEC,
        data: None,
    },
    BasicMount {
        source: "sysfs",
        target: "sys",
        fstype: "sysfs",
        flags: NOSUID_NODEV_NOEXEC,
        data: None,
    },
    BasicMount {
        source: "devtmpfs",
        target: "dev",
        fstype: "devtmpfs",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NOEXEC),
        data: Some("mode=0755"),
    },
    BasicMount {
        source: "securityfs",
        target: "sys/kernel/security",
        fstype: "securityfs",
        flags: NOSUID_NODEV_NOEXEC,
        data: None,
    },
    BasicMount {
        source: "tmpfs",
        target: "run",
        fstype: "tmpfs",
        flags: NOSUID_NODEV_NOEXEC,
        data: Some("mode=0755"),
    },
    BasicMount {
        source: "tmpfs",
        target: "tmp",
        fstype: "tmpfs",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV),
        data: Some("mode=1777"),
    },
];

/// Why a basic mount failed.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// The mount point could not be created.
    #[error("cannot create mount point {path}: {source}")]
    MountPoint {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// mount(2) failed.
    #[error("cannot mount {fstype} on {path}: {errno}")]
    Mount {
        /// The file system type.
        fstype: &'static str,
        /// The mount point.
        path: PathBuf,
        /// The error.
        errno: Errno,
    },
}

/// Mounts [`BASIC_MOUNTS`] under `root` (`/` in the guest; a scratch directory in tests),
/// creating missing mount points. Returns the mount points in order.
pub fn mount_basics(root: &Path) -> Result<Vec<PathBuf>, MountError> {
    let mut done = Vec::with_capacity(BASIC_MOUNTS.len());
    for m in &BASIC_MOUNTS {
        let path = root.join(m.target);
        std::fs::create_dir_all(&path).map_err(|source| MountError::MountPoint {
            path: path.clone(),
            source,
        })?;
        mount(Some(m.source), &path, Some(m.fstype), m.flags, m.data).map_err(|errno| {
            MountError::Mount {
                fstype: m.fstype,
                path: path.clone(),
                errno,
            }
        })?;
        done.push(path);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn securityfs_after_sysfs_and_targets_relative() {
        let sys = BASIC_MOUNTS.iter().position(|m| m.target == "sys").unwrap();
        let sec = BASIC_MOUNTS
            .iter()
            .position(|m| m.fstype == "securityfs")
            .unwrap();
        assert!(sys < sec);
        assert!(BASIC_MOUNTS.iter().all(|m| !m.target.starts_with('/')));
        let dev = BASIC_MOUNTS.iter().find(|m| m.target == "dev").unwrap();
        assert!(
            !dev.flags.contains(MsFlags::MS_NODEV),
            "/dev must allow device nodes"
        );
    }
}
