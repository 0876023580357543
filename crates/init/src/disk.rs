//! Step `data_disk`: find the virtio-blk disk with the configured serial and mount its
//! ext4 file system. The disk is unmeasured and untrusted (its contents are authenticated
//! by the layers above), so it is mounted `nosuid,nodev,noexec`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};

/// How long to wait for the disk to appear after virtio_blk was loaded.
pub const DISK_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the data disk could not be found or mounted.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// `<sysfs>/block` could not be listed.
    #[error("cannot list {path}: {source}")]
    ListBlock {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No virtio disk with the serial appeared in time.
    #[error("no virtio disk with serial `{serial}` appeared within {waited:?} (seen: {seen})")]
    NotFound {
        /// The serial looked for.
        serial: String,
        /// How long was waited.
        waited: Duration,
        /// The virtio disks and serials that were present, for the console.
        seen: String,
    },
    /// More than one disk carries the serial: which one holds the data is ambiguous.
    #[error("disks {0:?} all have the data disk's serial")]
    Ambiguous(Vec<String>),
    /// The mount point could not be created.
    #[error("cannot create mount point {path}: {source}")]
    MountPoint {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// mount(2) failed.
    #[error("cannot mount {device} (ext4) on {target}: {errno}")]
    Mount {
        /// The block device.
        device: PathBuf,
        /// The mount point.
        target: PathBuf,
        /// The error.
        errno: Errno,
    },
}

/// The virtio disks (`vd*`) under `sys_root/block` with their serials, sorted by name.
/// A disk without a readable `serial` has an empty one.
pub fn virtio_disks(sys_root: &Path) -> Result<Vec<(String, String)>, DiskError> {
    let block = sys_root.join("block");
    let entries = std::fs::read_dir(&block).map_err(|source| DiskError::ListBlock {
        path: block.clone(),
        source,
    })?;
    let mut disks = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| DiskError::ListBlock {
            path: block.clone(),
            source,
        })?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !name.starts_with("vd") {
            continue;
        }
        // virtio-blk pads nothing, but be lenient with a trailing newline or NULs.
        let serial = std::fs::read(entry.path().join("serial"))
            .map(|s| {
                String::from_utf8_lossy(&s)
                    .trim_end_matches(['\n', '\0', ' '])
                    .to_owned()
            })
            .unwrap_or_default();
        disks.push((name, serial));
    }
    disks.sort();
    Ok(disks)
}

/// The name (`vdb`) of the one virtio disk with `serial`, or `None`.
pub fn find_disk_by_serial(sys_root: &Path, serial: &str) -> Result<Option<String>, DiskError> {
    let matching: Vec<String> = virtio_disks(sys_root)?
        .into_iter()
        .filter(|(_, s)| s == serial)
        .map(|(name, _)| name)
        .collect();
    match matching.len() {
        0 => Ok(None),
        1 => Ok(matching.into_iter().next()),
        _ => Err(DiskError::Ambiguous(matching)),
    }
}

/// Waits up to `timeout` for the disk with `serial` and its device node under `dev_root`;
/// returns the node's path (`/dev/vdb`).
pub fn wait_for_data_disk(
    sys_root: &Path,
    dev_root: &Path,
    serial: &str,
    timeout: Duration,
) -> Result<PathBuf, DiskError> {
    let start = Instant::now();
    loop {
        if let Some(name) = find_disk_by_serial(sys_root, serial)? {
            let node = dev_root.join(&name);
            if node.exists() {
                return Ok(node);
            }
        }
        if start.elapsed() >= timeout {
            let seen = virtio_disks(sys_root)?
                .iter()
                .map(|(n, s)| format!("{n}=`{s}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(DiskError::NotFound {
                serial: serial.to_owned(),
                waited: start.elapsed(),
                seen: if seen.is_empty() { "none".into() } else { seen },
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Mounts the ext4 file system on `device` at `target` (created if missing),
/// `nosuid,nodev,noexec`.
pub fn mount_data_disk(device: &Path, target: &Path) -> Result<(), DiskError> {
    std::fs::create_dir_all(target).map_err(|source| DiskError::MountPoint {
        path: target.to_owned(),
        source,
    })?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some(device), target, Some("ext4"), flags, None::<&str>).map_err(|errno| {
        DiskError::Mount {
            device: device.to_owned(),
            target: target.to_owned(),
            errno,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(sys: &Path, name: &str, serial: Option<&str>) {
        let dir = sys.join("block").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(s) = serial {
            std::fs::write(dir.join("serial"), s).unwrap();
        }
    }

    #[test]
    fn finds_disk_by_serial() {
        let t = tempfile::tempdir().unwrap();
        let sys = t.path().join("sys");
        disk(&sys, "vda", Some("boot"));
        disk(&sys, "vdb", Some("custos-data\n"));
        disk(&sys, "vdc", None);
        disk(&sys, "sda", Some("custos-data"));
        disk(&sys, "loop0", None);
        assert_eq!(
            virtio_disks(&sys).unwrap(),
            [
                ("vda".to_owned(), "boot".to_owned()),
                ("vdb".to_owned(), "custos-data".to_owned()),
                ("vdc".to_owned(), String::new())
            ]
        );
        assert_eq!(
            find_disk_by_serial(&sys, "custos-data").unwrap().as_deref(),
            Some("vdb")
        );
        assert_eq!(find_disk_by_serial(&sys, "custos").unwrap(), None);
        disk(&sys, "vdd", Some("custos-data"));
        let e = find_disk_by_serial(&sys, "custos-data").unwrap_err();
        assert!(
            matches!(&e, DiskError::Ambiguous(v) if v == &["vdb", "vdd"]),
            "{e}"
        );
    }

    #[test]
    fn waits_for_disk_and_node() {
        let t = tempfile::tempdir().unwrap();
        let (sys, dev) = (t.path().join("sys"), t.path().join("dev"));
        std::fs::create_dir_all(sys.join("block")).unwrap();
        std::fs::create_dir_all(&dev).unwrap();
        let (sys2, dev2) = (sys.clone(), dev.clone());
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            disk(&sys2, "vdb", Some("custos-data"));
            std::thread::sleep(Duration::from_millis(200));
            std::fs::write(dev2.join("vdb"), b"").unwrap();
        });
        let start = Instant::now();
        let node = wait_for_data_disk(&sys, &dev, "custos-data", Duration::from_secs(5)).unwrap();
        late.join().unwrap();
        assert_eq!(node, dev.join("vdb"));
        assert!(start.elapsed() >= Duration::from_millis(400));
    }

    #[test]
    fn times_out_listing_what_it_saw() {
        let t = tempfile::tempdir().unwrap();
        let sys = t.path().join("sys");
        disk(&sys, "vda", Some("other"));
        let e = wait_for_data_disk(&sys, t.path(), "custos-data", Duration::from_millis(150))
            .unwrap_err();
        match e {
            DiskError::NotFound {
                serial,
                waited,
                seen,
            } => {
                assert_eq!(serial, "custos-data");
                assert!(waited >= Duration::from_millis(150));
                assert_eq!(seen, "vda=`other`");
            }
            e => panic!("{e}"),
        }
        let e = wait_for_data_disk(&t.path().join("none"), t.path(), "x", Duration::ZERO);
        assert!(matches!(e, Err(DiskError::ListBlock { .. })));
    }
}
