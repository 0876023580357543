//! A deterministic "newc" (`070701`) cpio archive writer, the format the Linux kernel
//! unpacks an initramfs from.
//!
//! Every entry's owner, group, modification time and device numbers are 0; entries are
//! written in byte order of their paths (so a directory precedes its contents); inode
//! numbers count up from 1 in that order; a directory's link count is 2 plus its
//! subdirectories. The archive's bytes therefore depend only on the paths, modes and
//! contents added, never on the order of the `add_*` calls or on the build machine.
//!
//! Paths are relative (`"init"`, `"etc/custos/config.toml"`), without `.`/`..`/empty
//! components. Missing parent directories are written with mode `0755`.

use std::collections::BTreeMap;

/// The newc magic: ASCII hex header fields, no CRC.
const MAGIC: &[u8; 6] = b"070701";
/// The name of the entry that ends every archive.
const TRAILER: &str = "TRAILER!!!";
/// File type bits of `mode` (from `<sys/stat.h>`).
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFCHR: u32 = 0o020_000;
/// The permission bits a caller may set (including setuid, setgid and sticky).
const PERMISSION_BITS: u32 = 0o7777;
/// Mode of parent directories nobody added explicitly.
const IMPLICIT_DIR_MODE: u32 = 0o755;

/// Why an entry could not be added to a [`Cpio`] archive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpioError {
    /// The path is empty.
    #[error("empty path")]
    EmptyPath,
    /// The path starts with `/`; archive paths are relative to the initramfs root.
    #[error("path {0:?} is absolute")]
    AbsolutePath(String),
    /// The path contains a NUL byte, which ends a name in the archive.
    #[error("path {0:?} contains a NUL byte")]
    NulInPath(String),
    /// The path has an empty (`a//b`, trailing `/`), `.` or `..` component.
    #[error("path {path:?} has a forbidden component {component:?}")]
    BadComponent {
        /// The path.
        path: String,
        /// The offending component (`""`, `"."` or `".."`).
        component: String,
    },
    /// The mode has bits beyond the permission bits `0o7777` (the type is set by the
    /// `add_*` method).
    #[error("mode {mode:#o} of {path:?} has bits beyond 0o7777")]
    BadMode {
        /// The path.
        path: String,
        /// The mode given.
        mode: u32,
    },
    /// The path was already added.
    #[error("{0:?} was added twice")]
    Duplicate(String),
    /// A parent of the path was added as something other than a directory.
    #[error("{path:?} needs {parent:?} to be a directory, but it was added as a file or symlink")]
    ParentNotDirectory {
        /// The path being added.
        path: String,
        /// Its non-directory ancestor.
        parent: String,
    },
    /// The path was to be added as a file or symlink, but entries were already added below it.
    #[error("{0:?} cannot be a file or symlink: entries were added below it")]
    HasChildren(String),
    /// The contents do not fit the format's 32-bit size field.
    #[error("{path:?} has {len} bytes, more than the format's 4 GiB - 1 limit")]
    TooLarge {
        /// The path.
        path: String,
        /// Its length in bytes.
        len: usize,
    },
    /// A symlink's target is empty or contains a NUL byte.
    #[error("symlink {0:?} has an empty target or one containing NUL")]
    BadSymlinkTarget(String),
}

/// What an archive entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A directory, with its permission bits.
    Dir(u32),
    /// A regular file, with its permission bits and contents.
    File(u32, Vec<u8>),
    /// A symbolic link to the target (mode `0777`, as Linux has for all symlinks).
    Symlink(String),
    /// A character device node: permission bits, major and minor numbers.
    CharDevice(u32, u32, u32),
}

/// A cpio archive being built: add entries in any order, then [`Cpio::to_bytes`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cpio {
    /// Explicitly added entries by path; byte order of the paths is the archive's order.
    entries: BTreeMap<String, Kind>,
}

impl Cpio {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a directory with permission bits `mode` (e.g. `0o755`).
    pub fn add_dir(&mut self, path: &str, mode: u32) -> Result<(), CpioError> {
        check_mode(path, mode)?;
        self.insert(path, Kind::Dir(mode), false)
    }

    /// Adds a regular file with permission bits `mode` (e.g. `0o755` for `/init`).
    pub fn add_file(
        &mut self,
        path: &str,
        mode: u32,
        contents: impl Into<Vec<u8>>,
    ) -> Result<(), CpioError> {
        check_mode(path, mode)?;
        let contents = contents.into();
        check_len(path, contents.len())?;
        self.insert(path, Kind::File(mode, contents), true)
    }

    /// Adds a symbolic link at `path` pointing to `target` (stored verbatim).
    pub fn add_symlink(&mut self, path: &str, target: &str) -> Result<(), CpioError> {
        if target.is_empty() || target.contains('\0') {
            return Err(CpioError::BadSymlinkTarget(path.to_owned()));
        }
        check_len(path, target.len())?;
        self.insert(path, Kind::Symlink(target.to_owned()), true)
    }

    /// Adds a character device node (e.g. `dev/console`, 5:1, which the kernel opens as
    /// `/init`'s standard streams before any devtmpfs is mounted).
    pub fn add_char_device(
        &mut self,
        path: &str,
        mode: u32,
        major: u32,
        minor: u32,
    ) -> Result<(), CpioError> {
        check_mode(path, mode)?;
        self.insert(path, Kind::CharDevice(mode, major, minor), true)
    }

    /// Validates `path` against the entries so far and inserts it.
    fn insert(&mut self, path: &str, kind: Kind, leaf: bool) -> Result<(), CpioError> {
        check_path(path)?;
        if self.entries.contains_key(path) {
            return Err(CpioError::Duplicate(path.to_owned()));
        }
        for parent in ancestors(path) {
            if let Some(k) = self.entries.get(parent) {
                if !matches!(k, Kind::Dir(_)) {
                    return Err(CpioError::ParentNotDirectory {
                        path: path.to_owned(),
                        parent: parent.to_owned(),
                    });
                }
            }
        }
        if leaf {
            let below = format!("{path}/");
            if self
                .entries
                .range(below.clone()..)
                .next()
                .is_some_and(|(p, _)| p.starts_with(&below))
            {
                return Err(CpioError::HasChildren(path.to_owned()));
            }
        }
        self.entries.insert(path.to_owned(), kind);
        Ok(())
    }

    /// The archive: every entry (with implicit parent directories) in path order, then the
    /// `TRAILER!!!` entry.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Implicit parents join the explicit entries; BTreeMap keeps byte order, in which a
        // path's prefix (its parent) always sorts before it.
        let mut all: BTreeMap<&str, &Kind> = BTreeMap::new();
        const IMPLICIT: Kind = Kind::Dir(IMPLICIT_DIR_MODE);
        for (path, kind) in &self.entries {
            for parent in ancestors(path) {
                all.entry(parent).or_insert(&IMPLICIT);
            }
            all.insert(path, kind);
        }
        // A directory has one link from its parent, one from its own `.`, and one from each
        // subdirectory's `..`.
        let mut subdirs: BTreeMap<&str, u32> = BTreeMap::new();
        for (path, kind) in &all {
            if matches!(kind, Kind::Dir(_)) {
                if let Some(parent) = ancestors(path).last() {
                    *subdirs.entry(parent).or_default() += 1;
                }
            }
        }
        let mut out = Vec::new();
        for (ino, (path, kind)) in (1u32..).zip(&all) {
            let mut rdev = (0, 0);
            let (mode, nlink, data): (u32, u32, &[u8]) = match kind {
                Kind::Dir(m) => (
                    S_IFDIR | m,
                    2 + subdirs.get(path).copied().unwrap_or(0),
                    &[],
                ),
                Kind::File(m, c) => (S_IFREG | m, 1, c),
                Kind::Symlink(t) => (S_IFLNK | 0o777, 1, t.as_bytes()),
                Kind::CharDevice(m, major, minor) => {
                    rdev = (*major, *minor);
                    (S_IFCHR | m, 1, &[])
                }
            };
            write_entry(&mut out, ino, mode, nlink, path, data, rdev);
        }
        // GNU cpio and the kernel's own gen_init_cpio write the trailer with one link.
        write_entry(&mut out, 0, 0, 1, TRAILER, &[], (0, 0));
        out
    }

    /// The archive compressed with [`crate::gzip()`], as an initramfs.
    pub fn to_gzip(&self) -> Vec<u8> {
        crate::gzip(&self.to_bytes())
    }
}

/// Appends one newc header, the NUL-terminated name and the data, each padded to 4 bytes.
/// `rdev` is a device node's (major, minor), else (0, 0).
fn write_entry(
    out: &mut Vec<u8>,
    ino: u32,
    mode: u32,
    nlink: u32,
    name: &str,
    data: &[u8],
    rdev: (u32, u32),
) {
    let start = out.len();
    out.extend_from_slice(MAGIC);
    // Lengths were checked against u32 when the entry was added.
    let filesize = u32::try_from(data.len()).expect("checked when added");
    let namesize = u32::try_from(name.len() + 1).expect("paths are short");
    // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
    // rdevminor, namesize, check.
    let (rmajor, rminor) = rdev;
    for field in [
        ino, mode, 0, 0, nlink, 0, filesize, 0, 0, rmajor, rminor, namesize, 0,
    ] {
        out.extend_from_slice(format!("{field:08X}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    // The header (110 bytes) plus the name is padded to a multiple of 4 from the entry's
    // start; entries start 4-aligned, so padding the whole buffer is the same.
    pad4(out, start);
    out.extend_from_slice(data);
    pad4(out, start);
}

/// Pads `out` with NULs so that its length past `start` is a multiple of 4.
fn pad4(out: &mut Vec<u8>, start: usize) {
    let len = out.len() - start;
    out.resize(out.len() + (4 - len % 4) % 4, 0);
}

/// The strict ancestors of a checked path, outermost first (`"a/b/c"` gives `a`, `a/b`).
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

fn check_path(path: &str) -> Result<(), CpioError> {
    if path.is_empty() {
        return Err(CpioError::EmptyPath);
    }
    if path.contains('\0') {
        return Err(CpioError::NulInPath(path.to_owned()));
    }
    if path.starts_with('/') {
        return Err(CpioError::AbsolutePath(path.to_owned()));
    }
    if let Some(c) = path
        .split('/')
        .find(|c| c.is_empty() || *c == "." || *c == "..")
    {
        return Err(CpioError::BadComponent {
            path: path.to_owned(),
            component: c.to_owned(),
        });
    }
    Ok(())
}

fn check_mode(path: &str, mode: u32) -> Result<(), CpioError> {
    if mode & !PERMISSION_BITS != 0 {
        return Err(CpioError::BadMode {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

fn check_len(path: &str, len: usize) -> Result<(), CpioError> {
    if u32::try_from(len).is_err() {
        return Err(CpioError::TooLarge {
            path: path.to_owned(),
            len,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_paths_are_refused_precisely() {
        let mut c = Cpio::new();
        assert_eq!(c.add_dir("", 0o755), Err(CpioError::EmptyPath));
        assert_eq!(
            c.add_file("/init", 0o755, b"x".to_vec()),
            Err(CpioError::AbsolutePath("/init".into()))
        );
        assert_eq!(
            c.add_file("a\0b", 0o644, Vec::new()),
            Err(CpioError::NulInPath("a\0b".into()))
        );
        for (path, component) in [("a/../b", ".."), ("./a", "."), ("a//b", ""), ("a/", "")] {
            assert_eq!(
                c.add_file(path, 0o644, Vec::new()),
                Err(CpioError::BadComponent {
                    path: path.into(),
                    component: component.into()
                })
            );
        }
        assert_eq!(
            c.add_file("f", 0o100_644, Vec::new()),
            Err(CpioError::BadMode {
                path: "f".into(),
                mode: 0o100_644
            })
        );
        assert_eq!(
            c.add_symlink("l", ""),
            Err(CpioError::BadSymlinkTarget("l".into()))
        );
        assert_eq!(c, Cpio::new(), "nothing was added");
    }

    #[test]
    fn conflicts_are_refused() {
        let mut c = Cpio::new();
        c.add_file("etc/x", 0o644, b"1".to_vec()).unwrap();
        assert_eq!(
            c.add_file("etc/x", 0o644, b"2".to_vec()),
            Err(CpioError::Duplicate("etc/x".into()))
        );
        assert_eq!(
            c.add_file("etc/x/y", 0o644, Vec::new()),
            Err(CpioError::ParentNotDirectory {
                path: "etc/x/y".into(),
                parent: "etc/x".into()
            })
        );
        assert_eq!(
            c.add_symlink("etc", "/x"),
            Err(CpioError::HasChildren("etc".into()))
        );
        // An explicit directory where an implicit one would go is fine.
        c.add_dir("etc", 0o700).unwrap();
    }

    #[test]
    fn layout_of_a_small_archive() {
        let mut c = Cpio::new();
        c.add_file("a/b", 0o600, b"hello".to_vec()).unwrap();
        let bytes = c.to_bytes();
        // Entry 1: directory "a" (implicit, 0755, 2 links), name "a\0" -> 110+2 = 112.
        let dir = format!(
            "070701{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}a\0",
            1, 0o40755, 0, 0, 2, 0, 0, 0, 0, 0, 0, 2, 0
        );
        assert_eq!(&bytes[..112], dir.as_bytes());
        // Entry 2: file "a/b": 110 + 4 name bytes = 114, padded to 116; 5 data bytes + 3.
        let file = format!(
            "070701{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}a/b\0\0\0hello\0\0\0",
            2, 0o100600, 0, 0, 1, 0, 5, 0, 0, 0, 0, 4, 0
        );
        assert_eq!(&bytes[112..112 + 124], file.as_bytes());
        // Trailer: 110 + 11 = 121, padded to 124.
        let trailer = format!(
            "070701{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}TRAILER!!!\0\0\0\0",
            0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 11, 0
        );
        assert_eq!(&bytes[236..], trailer.as_bytes());
    }

    #[test]
    fn directory_link_counts() {
        let mut c = Cpio::new();
        c.add_dir("d/e", 0o755).unwrap();
        c.add_dir("d/f", 0o755).unwrap();
        c.add_file("d/g", 0o644, Vec::new()).unwrap();
        let bytes = c.to_bytes();
        // The first entry is "d": 2 + two subdirectories.
        assert_eq!(&bytes[38..46], b"00000004");
    }
}
