//! Step `load_modules`: the kernel modules of the image (the Debian cloud kernel builds
//! virtio PCI, virtio-blk and virtio-net as modules), loaded with finit_module(2) from
//! files in the measured initramfs.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::kmod::{finit_module, ModuleInitFlags};

/// Where the initramfs keeps the modules.
pub const MODULES_DIR: &str = "/lib/modules";

/// The file the image builder writes with the module file names in load order (one per
/// line); used when `image.toml` has no `modules` list.
pub const LOAD_ORDER_FILE: &str = "load-order";

/// What loading one module did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleLoad {
    /// The module was loaded now.
    Loaded,
    /// The module was already loaded (EEXIST), e.g. built in by an earlier step.
    AlreadyLoaded,
}

/// Why the modules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// The load-order file could not be read.
    #[error("cannot read module load order {path}: {source}")]
    LoadOrder {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A load-order line is not a plain `.ko` file name.
    #[error("module load order {path}: bad entry `{entry}`")]
    LoadOrderEntry {
        /// The file.
        path: PathBuf,
        /// The line.
        entry: String,
    },
    /// A module file could not be opened.
    #[error("cannot open module {path}: {source}")]
    Open {
        /// The module file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The kernel refused the module.
    #[error("finit_module {path}: {errno}")]
    Load {
        /// The module file.
        path: PathBuf,
        /// The error (e.g. ENOENT for a missing dependency symbol, ENOEXEC for a module of
        /// another kernel).
        errno: Errno,
    },
}

/// Reads `dir/load-order`: module file names, one per line; blank lines and `#`
/// comments are skipped.
pub fn read_load_order(dir: &Path) -> Result<Vec<String>, ModuleError> {
    let path = dir.join(LOAD_ORDER_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| ModuleError::LoadOrder {
        path: path.clone(),
        source,
    })?;
    let mut names = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if crate::config::check_module_name(line).is_err() {
            return Err(ModuleError::LoadOrderEntry {
                path,
                entry: line.to_owned(),
            });
        }
        names.push(line.to_owned());
    }
    Ok(names)
}

/// Loads `names` (file names in `dir`) in order. A module that is already loaded is fine;
/// any other failure stops at that module.
pub fn load_modules(dir: &Path, names: &[String]) -> Result<Vec<ModuleLoad>, ModuleError> {
    names
        .iter()
        .map(|name| load_module(&dir.join(name)))
        .collect()
}

/// Loads one module file.
pub fn load_module(path: &Path) -> Result<ModuleLoad, ModuleError> {
    let file = std::fs::File::open(path).map_err(|source| ModuleError::Open {
        path: path.to_owned(),
        source,
    })?;
    match finit_module(&file, c"", ModuleInitFlags::empty()) {
        Ok(()) => Ok(ModuleLoad::Loaded),
        Err(Errno::EEXIST) => Ok(ModuleLoad::AlreadyLoaded),
        Err(errno) => Err(ModuleError::Load {
            path: path.to_owned(),
            errno,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_order_skips_comments_and_refuses_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(LOAD_ORDER_FILE),
            "# order\nvirtio.ko\n\n virtio_ring.ko \nvirtio_pci.ko\n",
        )
        .unwrap();
        assert_eq!(
            read_load_order(dir.path()).unwrap(),
            ["virtio.ko", "virtio_ring.ko", "virtio_pci.ko"]
        );
        std::fs::write(dir.path().join(LOAD_ORDER_FILE), "virtio.ko\n../x.ko\n").unwrap();
        let e = read_load_order(dir.path()).unwrap_err();
        assert!(matches!(&e, ModuleError::LoadOrderEntry { entry, .. } if entry == "../x.ko"));
        let e = read_load_order(&dir.path().join("none")).unwrap_err();
        assert!(matches!(e, ModuleError::LoadOrder { .. }));
    }

    #[test]
    fn missing_module_file_is_an_open_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = load_modules(dir.path(), &["virtio.ko".to_owned()]).unwrap_err();
        assert!(matches!(&e, ModuleError::Open { path, .. } if path.ends_with("virtio.ko")));
    }

    #[test]
    fn kernel_refuses_a_non_module() {
        // Not an ELF module: the kernel answers ENOEXEC (or EPERM where module loading is
        // forbidden to this container); either way it is a Load error naming the file.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bogus.ko"), b"not an ELF file").unwrap();
        let e = load_modules(dir.path(), &["bogus.ko".to_owned()]).unwrap_err();
        assert!(
            matches!(&e, ModuleError::Load { path, .. } if path.ends_with("bogus.ko")),
            "{e}"
        );
    }
}
