//! OVMF variable stores with the operator's Secure Boot keys enrolled, made with
//! `virt-fw-vars` from the PyPI package `virt-firmware` (not packaged in Debian bookworm).
//!
//! The tool lives in a Python venv: the one named by `CUSTOS_VIRT_FW`, or else
//! `~/.cache/custos/virt-firmware`, created on first use with `python3 -m venv` and
//! `pip install virt-firmware==`[`VIRT_FIRMWARE_VERSION`].

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::keys::{KeySet, KeysError};
use crate::tool::{run, ToolError};

/// The pinned `virt-firmware` release.
pub const VIRT_FIRMWARE_VERSION: &str = "26.10";
/// The environment variable naming an existing venv with `virt-firmware`.
pub const VIRT_FW_ENV: &str = "CUSTOS_VIRT_FW";
/// Debian's (`ovmf`) empty 4 MiB variable store, the template.
pub const OVMF_VARS_TEMPLATE: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";
/// Debian's Secure Boot capable OVMF code (needs SMM and a secure pflash).
pub const OVMF_CODE_SECBOOT: &str = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";

/// Why the variable store could not be made.
#[derive(Debug, thiserror::Error)]
pub enum VarsError {
    /// A tool (python3, pip, virt-fw-vars) failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// The key set is incomplete.
    #[error(transparent)]
    Keys(#[from] KeysError),
    /// No venv could be found or made.
    #[error("no virt-firmware: {0}")]
    NoVirtFirmware(String),
}

/// The venv holding `virt-firmware`: `$CUSTOS_VIRT_FW`, or the per-user cache (made when
/// missing). Returns its directory; the tools are in `bin/`.
pub fn virt_firmware_venv() -> Result<PathBuf, VarsError> {
    if let Some(dir) = std::env::var_os(VIRT_FW_ENV) {
        let dir = PathBuf::from(dir);
        if !dir.join("bin/virt-fw-vars").is_file() {
            return Err(VarsError::NoVirtFirmware(format!(
                "{VIRT_FW_ENV}={} has no bin/virt-fw-vars",
                dir.display()
            )));
        }
        return Ok(dir);
    }
    let home = std::env::var_os("HOME")
        .ok_or_else(|| VarsError::NoVirtFirmware(format!("neither {VIRT_FW_ENV} nor HOME set")))?;
    let dir = PathBuf::from(home).join(".cache/custos/virt-firmware");
    if dir.join("bin/virt-fw-vars").is_file() {
        return Ok(dir);
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| VarsError::NoVirtFirmware(format!("create {}: {e}", parent.display())))?;
    }
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&dir),
        "python3 with the venv module",
    )?;
    run(
        Command::new(dir.join("bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check"])
            .arg(format!("virt-firmware=={VIRT_FIRMWARE_VERSION}")),
        "pip in the venv (needs PyPI)",
    )?;
    if !dir.join("bin/virt-fw-vars").is_file() {
        return Err(VarsError::NoVirtFirmware(format!(
            "pip install into {} gave no virt-fw-vars",
            dir.display()
        )));
    }
    Ok(dir)
}

/// Writes to `out` a copy of `template` (normally [`OVMF_VARS_TEMPLATE`]) with PK, KEK
/// and db from `keys` enrolled (no Microsoft keys) and Secure Boot enabled.
pub fn enroll(keys: &KeySet, template: &Path, out: &Path) -> Result<(), VarsError> {
    let guid = keys.owner_guid()?;
    for role in crate::keys::ROLES {
        let pem = keys.cert_pem(role);
        if !pem.is_file() {
            return Err(KeysError::Io {
                what: format!("read {}", pem.display()),
                source: std::io::ErrorKind::NotFound.into(),
            }
            .into());
        }
    }
    let venv = virt_firmware_venv()?;
    run(
        Command::new(venv.join("bin/virt-fw-vars"))
            .arg("--input")
            .arg(template)
            .arg("--output")
            .arg(out)
            .arg("--set-pk")
            .arg(&guid)
            .arg(keys.cert_pem("PK"))
            .arg("--add-kek")
            .arg(&guid)
            .arg(keys.cert_pem("KEK"))
            .arg("--add-db")
            .arg(&guid)
            .arg(keys.cert_pem("db"))
            .arg("--no-microsoft")
            .arg("--secure-boot"),
        "virt-fw-vars from the virt-firmware venv",
    )?;
    Ok(())
}
