//! Building the boot image: the initramfs (`/init` = the static `custos` binary, its image
//! configuration, the kernel modules), the unified kernel image around it, its Secure Boot
//! signature and the release manifest.
//!
//! Output directory:
//! - `custos-unsigned.efi`: the UKI; identical bytes for identical inputs;
//! - `custos.efi`: the same signed with the db key by `sbsign` (when a key is given);
//! - `release.json`: [`Release`].
//!
//! Initramfs layout: `/init` (0755), `/etc/custos/image.toml` (0644),
//! `/lib/modules/<name>.ko` (0644) and `/lib/modules/load-order` (their file names, one
//! per line, dependencies first), `/dev/console` (char 5:1, so `/init` starts with its
//! standard streams on the console), empty `/dev /proc /sys /run /tmp /data`.

use std::path::{Path, PathBuf};
use std::process::Command;

use custos_measure::{predict_pcr11_from_image, PeError, UkiSection, UkiSections};
use sha2::{Digest, Sha256};

use crate::cpio::{Cpio, CpioError};
use crate::kernel::Kernel;
use crate::tool::{run, ToolError};
use crate::uki::{build_uki, UkiError, STUB_PATH};

/// The kernel command line when none is given: console on the first serial port, and a
/// panic (e.g. `/init` exiting) reboots at once, which ends qemu under `-no-reboot`.
pub const DEFAULT_CMDLINE: &str = "console=ttyS0 panic=-1";
/// The unsigned UKI's file name in the output directory.
pub const UNSIGNED_UKI: &str = "custos-unsigned.efi";
/// The signed UKI's file name in the output directory.
pub const SIGNED_UKI: &str = "custos.efi";
/// The release manifest's file name in the output directory.
pub const RELEASE_JSON: &str = "release.json";
/// The initramfs file listing the modules in load order.
pub const MODULE_ORDER_PATH: &str = "lib/modules/load-order";
/// Where the image configuration is in the initramfs.
pub const IMAGE_TOML_PATH: &str = "etc/custos/image.toml";

/// Why the image could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// An input or output file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `image.toml` is not TOML or has no non-negative integer `version`.
    #[error("image configuration: {0}")]
    Config(String),
    /// The initramfs could not be assembled.
    #[error("initramfs: {0}")]
    Cpio(#[from] CpioError),
    /// The UKI could not be assembled.
    #[error(transparent)]
    Uki(#[from] UkiError),
    /// `sbsign` failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// PCR 7 could not be predicted (the variable store or the db certificate).
    #[error("PCR 7 prediction: {0}")]
    Pcr7(#[from] custos_measure::Pcr7Error),
    /// The signed image cannot be read back as a UKI.
    #[error("the signed image cannot be read back: {0}")]
    SignedReadBack(PeError),
    /// Signing changed what systemd-stub measures (it must only add a signature).
    #[error("the signed image's PCR 11 differs from the unsigned one's")]
    SignedPcr11Differs,
}

/// The db key and certificate (PEM) the UKI is signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// Private key file.
    pub key: PathBuf,
    /// Certificate file.
    pub cert: PathBuf,
}

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// The static `custos` binary, installed as `/init`.
    pub custos: PathBuf,
    /// The kernel and modules (from [`crate::kernel::load`]).
    pub kernel: Kernel,
    /// The image configuration file, copied to `/etc/custos/image.toml`.
    pub config: PathBuf,
    /// The kernel command line.
    pub cmdline: String,
    /// The db key to sign with; without it only the unsigned UKI is written.
    pub signer: Option<Signer>,
    /// The enrolled OVMF variable store the image will boot with; with a signer, PCR 7 is
    /// predicted from it (see [`predict_pcr7`]).
    pub ovmf_vars: Option<PathBuf>,
}

/// The release manifest (`release.json`): one definition, shared with the verifiers.
pub use custos_measure::release::Release;

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
    let what = what.into();
    move |source| BuildError::Io { what, source }
}

/// The `version` of an `image.toml` text: a non-negative integer.
pub fn config_version(text: &str) -> Result<u64, BuildError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| BuildError::Config(e.message().to_owned()))?;
    match table.get("version") {
        Some(toml::Value::Integer(v)) => {
            u64::try_from(*v).map_err(|_| BuildError::Config(format!("version {v} is negative")))
        }
        Some(other) => Err(BuildError::Config(format!(
            "version must be an integer, not {}",
            other.type_str()
        ))),
        None => Err(BuildError::Config("no `version`".into())),
    }
}

/// The `.osrel` section: identifies the image and its version to systemd-stub and tools.
pub fn os_release(version: u64) -> String {
    format!("NAME=\"Custos\"\nID=custos\nVERSION_ID={version}\nPRETTY_NAME=\"Custos {version}\"\n")
}

/// The gzip-compressed initramfs for `init`, `config` and the kernel's modules.
pub fn initramfs(init: &[u8], config: &[u8], kernel: &Kernel) -> Result<Vec<u8>, BuildError> {
    let mut cpio = Cpio::new();
    cpio.add_file("init", 0o755, init)?;
    cpio.add_file(IMAGE_TOML_PATH, 0o644, config)?;
    let mut order = String::new();
    for module in &kernel.modules {
        let name = module
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| BuildError::Config(format!("bad module path {}", module.display())))?;
        let bytes = std::fs::read(module).map_err(io(format!("read {}", module.display())))?;
        cpio.add_file(&format!("lib/modules/{name}"), 0o644, bytes)?;
        order.push_str(name);
        order.push('\n');
    }
    cpio.add_file(MODULE_ORDER_PATH, 0o644, order.into_bytes())?;
    for dir in ["dev", "proc", "sys", "run", "data"] {
        cpio.add_dir(dir, 0o755)?;
    }
    cpio.add_dir("tmp", 0o1777)?;
    cpio.add_char_device("dev/console", 0o600, 5, 1)?;
    Ok(cpio.to_gzip())
}

/// Predicts PCR 7 (sha256) for booting an image signed with the db certificate
/// `db_cert_pem` under the enrolled variable store `ovmf_vars`, with
/// [`custos_measure::predict_pcr7`] (Secure Boot policy events plus the db authority).
pub fn predict_pcr7(ovmf_vars: &Path, db_cert_pem: &Path) -> Result<[u8; 32], BuildError> {
    let vars = std::fs::read(ovmf_vars).map_err(io(format!("read {}", ovmf_vars.display())))?;
    // The firmware's db holds the certificate in DER; openssl converts any PEM form.
    let der = run(
        Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(db_cert_pem),
        "Debian package openssl",
    )?
    .stdout;
    Ok(custos_measure::predict_pcr7(&vars, &der)?)
}

/// Builds the image into `out` (created if needed) and writes `release.json`.
pub fn build(opts: &BuildOptions, out: &Path) -> Result<Release, BuildError> {
    let init =
        std::fs::read(&opts.custos).map_err(io(format!("read {}", opts.custos.display())))?;
    let config =
        std::fs::read(&opts.config).map_err(io(format!("read {}", opts.config.display())))?;
    let config_text = std::str::from_utf8(&config)
        .map_err(|_| BuildError::Config("image.toml is not UTF-8".into()))?;
    let version = config_version(config_text)?;
    let kernel = std::fs::read(&opts.kernel.vmlinuz)
        .map_err(io(format!("read {}", opts.kernel.vmlinuz.display())))?;

    let sections = UkiSections::new()
        .with(UkiSection::Linux, kernel)
        .with(UkiSection::Osrel, os_release(version).into_bytes())
        .with(UkiSection::Cmdline, opts.cmdline.clone().into_bytes())
        .with(UkiSection::Initrd, initramfs(&init, &config, &opts.kernel)?);
    let uki = build_uki(Path::new(STUB_PATH), &sections)?;

    std::fs::create_dir_all(out).map_err(io(format!("create {}", out.display())))?;
    let unsigned = out.join(UNSIGNED_UKI);
    std::fs::write(&unsigned, &uki.image).map_err(io(format!("write {}", unsigned.display())))?;

    let uki_sha256 = match &opts.signer {
        None => None,
        Some(signer) => {
            let signed = out.join(SIGNED_UKI);
            run(
                Command::new("sbsign")
                    .arg("--key")
                    .arg(&signer.key)
                    .arg("--cert")
                    .arg(&signer.cert)
                    .arg("--output")
                    .arg(&signed)
                    .arg(&unsigned),
                "Debian package sbsigntool",
            )?;
            let bytes = std::fs::read(&signed).map_err(io(format!("read {}", signed.display())))?;
            // The signature lives outside the measured sections; check that it stayed so.
            let pcr11 = predict_pcr11_from_image(&bytes).map_err(BuildError::SignedReadBack)?;
            if pcr11 != uki.pcr11 {
                return Err(BuildError::SignedPcr11Differs);
            }
            Some(Sha256::digest(&bytes).into())
        }
    };
    let pcr7 = match (&opts.ovmf_vars, &opts.signer) {
        (Some(vars), Some(signer)) => Some(predict_pcr7(vars, &signer.cert)?),
        _ => None,
    };
    let release = Release {
        version,
        kernel_package: opts.kernel.package.clone(),
        kernel_version: opts.kernel.version.clone(),
        cmdline: opts.cmdline.clone(),
        unsigned_uki_sha256: Sha256::digest(&uki.image).into(),
        uki_sha256,
        pcr11: uki.pcr11,
        pcr7,
    };
    let path = out.join(RELEASE_JSON);
    std::fs::write(&path, release.to_json()).map_err(io(format!("write {}", path.display())))?;
    Ok(release)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(config_version("version = 7\nlisten = \"x\"\n").unwrap(), 7);
        for bad in ["", "version = -1", "version = \"1\"", "version = ="] {
            assert!(
                matches!(config_version(bad), Err(BuildError::Config(_))),
                "{bad}"
            );
        }
    }
}
