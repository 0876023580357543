//! The Debian cloud kernel: downloaded with `apt-get download` into a cache directory,
//! unpacked with `dpkg-deb -x`, reduced to `vmlinuz` and the virtio modules the image
//! needs, in load order.
//!
//! Cache layout (`DIR` is `--cache`):
//! - `DIR/<package>_<version>_amd64.deb`: the package as downloaded (reused when present);
//! - `DIR/<package>/vmlinuz`, `DIR/<package>/modules/<name>.ko`, `DIR/<package>/kernel.json`
//!   ([`Kernel`]: package, version, paths, module load order);
//! - `DIR/selected`: the package name the last fetch chose, which a build uses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::modinfo::{self, ModinfoError};
use crate::tool::{run, ToolError};

/// The modules the image loads (virtio PCI transport, block and network devices); the
/// cloud kernel builds them as modules. Their load order comes from their `depends=`.
pub const NEEDED_MODULES: [&str; 9] = [
    "virtio",
    "virtio_ring",
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_pci",
    "virtio_blk",
    "failover",
    "net_failover",
    "virtio_net",
];

/// Name of the file in the cache naming the selected package.
const SELECTED: &str = "selected";
/// Name of the per-package description file.
const KERNEL_JSON: &str = "kernel.json";

/// Why the kernel could not be fetched or loaded from the cache.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// A tool (apt-cache, apt-get, dpkg-deb) failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// A file in the cache could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No package name matched the Debian cloud kernel pattern.
    #[error("apt-cache knows no linux-image-6.1.0-N-cloud-amd64 package (run apt-get update)")]
    NoPackage,
    /// The package name is not a Debian cloud kernel image.
    #[error("{0:?} is not a linux-image-*-cloud-amd64 package name")]
    BadPackage(String),
    /// The package has no single kernel release directory, vmlinuz or a needed module.
    #[error("the package lacks {0}")]
    Missing(String),
    /// A module's metadata could not be read, or its dependencies not ordered.
    #[error("module {module}: {source}")]
    Modinfo {
        /// The module (or the set, for ordering errors).
        module: String,
        /// What is wrong.
        source: ModinfoError,
    },
    /// The cache has nothing selected or its description is unreadable.
    #[error("kernel cache {dir}: {reason} (run `custos-image fetch-kernel --cache {dir}`)")]
    Cache {
        /// The cache directory.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A kernel extracted into the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kernel {
    /// Debian package name, e.g. `linux-image-6.1.0-48-cloud-amd64`.
    pub package: String,
    /// Debian package version, e.g. `6.1.172-1`.
    pub version: String,
    /// Kernel release (`uname -r`), e.g. `6.1.0-48-cloud-amd64`.
    pub release: String,
    /// The kernel image (bzImage).
    pub vmlinuz: PathBuf,
    /// The needed modules' files, in load order (dependencies first).
    pub modules: Vec<PathBuf>,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> KernelError {
    let what = what.into();
    move |source| KernelError::Io { what, source }
}

/// True for `linux-image-<abi>-cloud-amd64` names (no `-dbg`/`-unsigned` variants).
fn is_cloud_package(name: &str) -> bool {
    name.strip_prefix("linux-image-")
        .and_then(|r| r.strip_suffix("-cloud-amd64"))
        .is_some_and(|abi| {
            !abi.is_empty()
                && abi
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
        })
}

/// The sort key of a cloud kernel package: its ABI's numbers (`6.1.0-48` -> [6,1,0,48]).
fn abi_key(name: &str) -> Vec<u64> {
    name.trim_start_matches("linux-image-")
        .trim_end_matches("-cloud-amd64")
        .split(['.', '-'])
        .map(|n| n.parse().unwrap_or(0))
        .collect()
}

/// The newest `linux-image-6.1.0-N-cloud-amd64` apt knows.
pub fn newest_package() -> Result<String, KernelError> {
    let out = run(
        Command::new("apt-cache").args([
            "search",
            "--names-only",
            r"^linux-image-6\.1\.0-[0-9]+-cloud-amd64$",
        ]),
        "Debian package apt",
    )?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| is_cloud_package(n))
        .max_by_key(|n| abi_key(n))
        .map(str::to_owned)
        .ok_or(KernelError::NoPackage)
}

/// A `.deb` of `package` already in `cache`, if any (the last by name when several).
fn cached_deb(cache: &Path, package: &str) -> Result<Option<PathBuf>, KernelError> {
    let prefix = format!("{package}_");
    let mut debs: Vec<PathBuf> = std::fs::read_dir(cache)
        .map_err(io(format!("list {}", cache.display())))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
        .collect();
    debs.sort();
    Ok(debs.pop())
}

/// Downloads (unless cached) and extracts `package` (default: [`newest_package`]) into
/// `cache`, selects it for builds and returns it.
pub fn fetch(cache: &Path, package: Option<&str>) -> Result<Kernel, KernelError> {
    let package = match package {
        Some(p) if is_cloud_package(p) => p.to_owned(),
        Some(p) => return Err(KernelError::BadPackage(p.to_owned())),
        None => newest_package()?,
    };
    std::fs::create_dir_all(cache).map_err(io(format!("create {}", cache.display())))?;
    let deb = match cached_deb(cache, &package)? {
        Some(deb) => deb,
        None => {
            run(
                Command::new("apt-get")
                    .args(["download", "-q", &package])
                    .current_dir(cache),
                "Debian package apt",
            )?;
            cached_deb(cache, &package)?.ok_or_else(|| {
                KernelError::Missing(format!("a .deb after apt-get download {package}"))
            })?
        }
    };
    let version = run(
        Command::new("dpkg-deb").arg("-f").arg(&deb).arg("Version"),
        "Debian package dpkg",
    )?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();

    let dir = cache.join(&package);
    if let Ok(kernel) = read_kernel(&dir) {
        if kernel.version == version {
            select(cache, &package)?;
            return Ok(kernel);
        }
    }
    let kernel = extract(&deb, &dir, &package, &version)?;
    select(cache, &package)?;
    Ok(kernel)
}

/// Unpacks `deb` into a scratch directory and copies vmlinuz and the needed modules to
/// `dir` (replacing it), writing `kernel.json`.
fn extract(deb: &Path, dir: &Path, package: &str, version: &str) -> Result<Kernel, KernelError> {
    let scratch = tempfile::tempdir_in(dir.parent().unwrap_or(Path::new(".")))
        .map_err(io("create a scratch directory"))?;
    run(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(deb)
            .arg(scratch.path()),
        "Debian package dpkg",
    )?;
    let root = scratch.path();
    let modules_root = ["lib/modules", "usr/lib/modules"]
        .iter()
        .map(|d| root.join(d))
        .find(|d| d.is_dir())
        .ok_or_else(|| KernelError::Missing("lib/modules".into()))?;
    let mut releases: Vec<String> = std::fs::read_dir(&modules_root)
        .map_err(io("list lib/modules"))?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    let release = match releases.as_mut_slice() {
        [one] => std::mem::take(one),
        _ => {
            return Err(KernelError::Missing(
                "exactly one lib/modules/<release>".into(),
            ))
        }
    };
    let vmlinuz = root.join("boot").join(format!("vmlinuz-{release}"));
    if !vmlinuz.is_file() {
        return Err(KernelError::Missing(format!("boot/vmlinuz-{release}")));
    }

    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    find_modules(&modules_root.join(&release), &mut found)?;
    let mut deps = BTreeMap::new();
    for name in NEEDED_MODULES {
        let path = found
            .get(name)
            .ok_or_else(|| KernelError::Missing(format!("module {name}.ko")))?;
        let bytes = std::fs::read(path).map_err(io(format!("read {}", path.display())))?;
        let list = modinfo::depends(&bytes).map_err(|source| KernelError::Modinfo {
            module: name.to_owned(),
            source,
        })?;
        deps.insert(name.to_owned(), list);
    }
    let order = modinfo::load_order(&deps).map_err(|source| KernelError::Modinfo {
        module: "(set)".into(),
        source,
    })?;

    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io(format!("remove {}", dir.display())))?;
    }
    let mod_dir = dir.join("modules");
    std::fs::create_dir_all(&mod_dir).map_err(io(format!("create {}", mod_dir.display())))?;
    let kernel_path = dir.join("vmlinuz");
    std::fs::copy(&vmlinuz, &kernel_path).map_err(io("copy vmlinuz"))?;
    let mut modules = Vec::with_capacity(order.len());
    for name in &order {
        let to = mod_dir.join(format!("{name}.ko"));
        std::fs::copy(&found[name], &to).map_err(io(format!("copy {name}.ko")))?;
        modules.push(to);
    }
    let kernel = Kernel {
        package: package.to_owned(),
        version: version.to_owned(),
        release,
        vmlinuz: kernel_path,
        modules,
    };
    let json = serde_json::to_vec_pretty(&kernel).expect("a Kernel serializes");
    std::fs::write(dir.join(KERNEL_JSON), json).map_err(io("write kernel.json"))?;
    Ok(kernel)
}

/// Collects `name -> path` of every `*.ko` under `dir`.
fn find_modules(dir: &Path, found: &mut BTreeMap<String, PathBuf>) -> Result<(), KernelError> {
    for entry in std::fs::read_dir(dir).map_err(io(format!("list {}", dir.display())))? {
        let path = entry.map_err(io(format!("list {}", dir.display())))?.path();
        if path.is_dir() {
            find_modules(&path, found)?;
        } else if let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".ko"))
        {
            found.insert(name.to_owned(), path.clone());
        }
    }
    Ok(())
}

fn select(cache: &Path, package: &str) -> Result<(), KernelError> {
    std::fs::write(cache.join(SELECTED), format!("{package}\n")).map_err(io("write selected"))
}

fn read_kernel(dir: &Path) -> Result<Kernel, String> {
    let json = std::fs::read(dir.join(KERNEL_JSON)).map_err(|e| format!("{KERNEL_JSON}: {e}"))?;
    let kernel: Kernel =
        serde_json::from_slice(&json).map_err(|e| format!("{KERNEL_JSON}: {e}"))?;
    if !kernel.vmlinuz.is_file() || kernel.modules.iter().any(|m| !m.is_file()) {
        return Err("files listed in kernel.json are missing".into());
    }
    Ok(kernel)
}

/// The kernel the last [`fetch`] into `cache` selected.
pub fn load(cache: &Path) -> Result<Kernel, KernelError> {
    let err = |reason: String| KernelError::Cache {
        dir: cache.to_owned(),
        reason,
    };
    let selected = std::fs::read_to_string(cache.join(SELECTED))
        .map_err(|e| err(format!("no selected kernel: {e}")))?;
    let package = selected.trim();
    if !is_cloud_package(package) {
        return Err(err(format!("selected {package:?} is not a cloud kernel")));
    }
    read_kernel(&cache.join(package)).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names() {
        assert!(is_cloud_package("linux-image-6.1.0-48-cloud-amd64"));
        assert!(!is_cloud_package(
            "linux-image-6.1.0-48-cloud-amd64-unsigned"
        ));
        assert!(!is_cloud_package("linux-image-cloud-amd64"));
        assert!(!is_cloud_package("linux-image-6.1.0-48-cloud-amd64; rm"));
        assert!(
            abi_key("linux-image-6.1.0-48-cloud-amd64")
                > abi_key("linux-image-6.1.0-9-cloud-amd64")
        );
    }
}
