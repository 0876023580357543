//! Assembling a unified kernel image (UKI) from systemd-stub and its sections with
//! `objcopy`, checked by reading it back, with its PCR 11 predicted offline.
//!
//! Debian bookworm has no `ukify`, so the image is built the way systemd documented before
//! it: `objcopy --add-section .linux=FILE --change-section-vma .linux=ADDR ...` on the stub.
//! Each section is placed at the next page-aligned address after the previous one, starting
//! after the stub's own last section, so the sections never overlap in memory.

use std::path::{Path, PathBuf};
use std::process::Command;

use custos_measure::{predict_pcr11, read_uki_sections, PeError, PeImage, UkiSection, UkiSections};

/// The systemd-stub of Debian's `systemd-boot-efi` (systemd 252), the one `custos-measure`
/// models.
pub const STUB_PATH: &str = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";

/// Sections are placed on page boundaries in memory.
const PAGE: u64 = 0x1000;

/// Why a UKI could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum UkiError {
    /// The stub file could not be read.
    #[error("cannot read the stub {path}: {source}")]
    ReadStub {
        /// The stub's path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The stub is not a PE image this crate can read.
    #[error("the stub {path} is not a readable PE image: {source}")]
    StubNotPe {
        /// The stub's path.
        path: PathBuf,
        /// What is wrong with it.
        source: PeError,
    },
    /// The stub already carries a UKI section; adding another would make it ambiguous.
    #[error("the stub {path} already has a {section} section")]
    StubHasSection {
        /// The stub's path.
        path: PathBuf,
        /// The section it has.
        section: UkiSection,
    },
    /// No `.linux` section was given: systemd-stub has nothing to boot.
    #[error("no .linux section (kernel) given")]
    NoKernel,
    /// A section's address would overflow 64 bits (absurdly large inputs).
    #[error("section {0} does not fit in the address space")]
    AddressOverflow(UkiSection),
    /// A scratch file could not be written or the image read back.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `objcopy` could not be started.
    #[error("cannot run objcopy (Debian package binutils): {0}")]
    SpawnObjcopy(std::io::Error),
    /// `objcopy` failed.
    #[error("objcopy failed ({status}): {stderr}")]
    Objcopy {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// Its standard error, lossily decoded.
        stderr: String,
    },
    /// The built image could not be read as a UKI.
    #[error("the built image cannot be read back: {0}")]
    ReadBack(PeError),
    /// A section of the built image differs from what was given (missing, extra or other
    /// bytes), so the prediction would not describe the input.
    #[error("section {0} of the built image differs from the input")]
    SectionMismatch(UkiSection),
}

/// A unified kernel image and the PCR 11 (SHA-256 bank) systemd-stub 252 will measure
/// when it boots it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltUki {
    /// The PE image file's bytes (unsigned).
    pub image: Vec<u8>,
    /// The predicted PCR 11, read from `image` itself with
    /// [`custos_measure::predict_pcr11_from_image`]'s rules.
    pub pcr11: [u8; 32],
}

/// Builds a UKI from the stub at `stub` (normally [`STUB_PATH`]) and `sections` with
/// `objcopy`, reads the sections back out of the result (they must equal the input) and
/// predicts its PCR 11.
///
/// Empty sections are left out: systemd-stub neither loads nor measures them, and
/// `objcopy` gives them no bytes. Sections are added in systemd-stub's table order, so the
/// same inputs give the same image byte for byte.
pub fn build_uki(stub: &Path, sections: &UkiSections) -> Result<BuiltUki, UkiError> {
    let stub_bytes = std::fs::read(stub).map_err(|source| UkiError::ReadStub {
        path: stub.to_owned(),
        source,
    })?;
    let stub_err = |source| UkiError::StubNotPe {
        path: stub.to_owned(),
        source,
    };
    let pe = PeImage::parse(&stub_bytes).map_err(stub_err)?;
    if let Some((section, _)) = pe.uki_sections().map_err(stub_err)?.iter().next() {
        return Err(UkiError::StubHasSection {
            path: stub.to_owned(),
            section,
        });
    }
    let wanted: UkiSections = sections
        .iter()
        .filter(|(_, c)| !c.is_empty())
        .fold(UkiSections::new(), |acc, (s, c)| acc.with(s, c));
    if wanted.get(UkiSection::Linux).is_none() {
        return Err(UkiError::NoKernel);
    }

    // First free page after the stub's own sections, as an absolute address (objcopy's
    // VMAs include the image base).
    let stub_end = pe
        .sections()
        .iter()
        .map(|s| u64::from(s.virtual_address) + u64::from(s.virtual_size))
        .max()
        .unwrap_or(0);
    let mut vma = Some(pe.image_base())
        .zip(align_up(stub_end))
        .and_then(|(b, e)| b.checked_add(e))
        .ok_or(UkiError::AddressOverflow(UkiSection::Linux))?;

    let dir = tempfile::tempdir().map_err(|source| UkiError::Io {
        what: "create a scratch directory".into(),
        source,
    })?;
    let mut cmd = Command::new("objcopy");
    for (section, contents) in wanted.iter() {
        let name = section.name();
        // Section names start with '.'; the rest is a safe file name.
        let file = dir.path().join(&name[1..]);
        std::fs::write(&file, contents).map_err(|source| UkiError::Io {
            what: format!("write {}", file.display()),
            source,
        })?;
        cmd.arg("--add-section")
            .arg(format!("{name}={}", file.display()))
            .arg("--change-section-vma")
            .arg(format!("{name}={vma:#x}"));
        vma = u64::try_from(contents.len())
            .ok()
            .and_then(|len| vma.checked_add(len))
            .and_then(align_up)
            .ok_or(UkiError::AddressOverflow(section))?;
    }
    let out = dir.path().join("image.efi");
    let output = cmd
        .arg(stub)
        .arg(&out)
        .output()
        .map_err(UkiError::SpawnObjcopy)?;
    if !output.status.success() {
        return Err(UkiError::Objcopy {
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let image = std::fs::read(&out).map_err(|source| UkiError::Io {
        what: format!("read {}", out.display()),
        source,
    })?;

    let read = read_uki_sections(&image).map_err(UkiError::ReadBack)?;
    for section in UkiSection::ALL {
        if read.get(section) != wanted.get(section) {
            return Err(UkiError::SectionMismatch(section));
        }
    }
    // The prediction is made from what was read out of the file, not from the input.
    Ok(BuiltUki {
        pcr11: predict_pcr11(&read),
        image,
    })
}

/// Rounds `x` up to a page boundary; `None` on overflow.
fn align_up(x: u64) -> Option<u64> {
    Some(x.checked_add(PAGE - 1)? & !(PAGE - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_up_pages() {
        assert_eq!(align_up(0), Some(0));
        assert_eq!(align_up(1), Some(0x1000));
        assert_eq!(align_up(0x1000), Some(0x1000));
        assert_eq!(align_up(0x1001), Some(0x2000));
        assert_eq!(align_up(u64::MAX), None);
    }

    #[test]
    fn missing_stub_and_kernel_are_reported() {
        let err = build_uki(Path::new("/nonexistent/stub"), &UkiSections::new()).unwrap_err();
        assert!(matches!(err, UkiError::ReadStub { .. }), "{err}");
        let err = build_uki(Path::new(STUB_PATH), &UkiSections::new()).unwrap_err();
        assert!(matches!(err, UkiError::NoKernel), "{err}");
    }
}
