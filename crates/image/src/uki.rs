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
    let mut image = std::fs::read(&out).map_err(|source| UkiError::Io {
        what: format!("read {}", out.display()),
        source,
    })?;
    // objcopy stamps the PE header with the current time (binutils 2.40 ignores
    // SOURCE_DATE_EPOCH); zero it so identical inputs give identical images.
    clear_pe_timestamp(&mut image).map_err(UkiError::ReadBack)?;

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

/// Offset of the COFF header's `TimeDateStamp` from the `PE\0\0` signature.
const TIMESTAMP_OFFSET: usize = 8;
/// Offset of the optional header's `CheckSum` from the signature (same in PE32 and PE32+).
const CHECKSUM_OFFSET: usize = 4 + 20 + 64;

/// The file offset of the `PE\0\0` signature of a valid PE image whose headers reach
/// the checksum field.
fn pe_signature_offset(image: &[u8]) -> Result<usize, PeError> {
    PeImage::parse(image)?;
    // parse checked the DOS header and the signature at e_lfanew.
    let lfanew = u32::from_le_bytes([image[0x3c], image[0x3d], image[0x3e], image[0x3f]]) as usize;
    if image.len() < lfanew + CHECKSUM_OFFSET + 4 {
        return Err(PeError::Truncated {
            what: "optional header checksum",
            offset: (lfanew + CHECKSUM_OFFSET) as u64,
            len: 4,
            file_len: image.len(),
        });
    }
    Ok(lfanew)
}

/// Sets the PE header's `TimeDateStamp` to 0 and recomputes its `CheckSum` (when it had
/// one). Neither is measured by systemd-stub; both are covered by nothing else either.
pub fn clear_pe_timestamp(image: &mut [u8]) -> Result<(), PeError> {
    let pe = pe_signature_offset(image)?;
    image[pe + TIMESTAMP_OFFSET..pe + TIMESTAMP_OFFSET + 4].fill(0);
    let at = pe + CHECKSUM_OFFSET;
    if image[at..at + 4] != [0; 4] {
        let sum = pe_checksum(image, at);
        image[at..at + 4].copy_from_slice(&sum.to_le_bytes());
    }
    Ok(())
}

/// The PE image checksum (as `imagehlp!CheckSumMappedFile` computes it): the one's
/// complement style 16-bit sum of the file with the checksum field read as zero, plus the
/// file's length.
pub fn pe_checksum(image: &[u8], checksum_at: usize) -> u32 {
    let mut sum: u64 = 0;
    for (i, chunk) in image.chunks(2).enumerate() {
        let off = i * 2;
        if (checksum_at..checksum_at + 4).contains(&off) {
            continue;
        }
        let word = u16::from_le_bytes([chunk[0], chunk.get(1).copied().unwrap_or(0)]);
        sum += u64::from(word);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    // The PE format caps images below 4 GiB; the length is added modulo 2^32.
    (sum as u32).wrapping_add(image.len() as u32)
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
    fn checksum_matches_objcopys_and_timestamp_is_cleared() {
        // objcopy writes a valid checksum; recomputing it must give the same value.
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.efi");
        let status = Command::new("objcopy")
            .args(["--add-section", "x.data=/dev/null"])
            .arg(STUB_PATH)
            .arg(&out)
            .status()
            .expect("objcopy (Debian package binutils)");
        assert!(status.success());
        let mut image = std::fs::read(&out).unwrap();
        let pe = pe_signature_offset(&image).unwrap();
        let at = pe + CHECKSUM_OFFSET;
        let theirs = u32::from_le_bytes(image[at..at + 4].try_into().unwrap());
        assert_ne!(theirs, 0);
        assert_eq!(pe_checksum(&image, at), theirs);
        assert_ne!(image[pe + 8..pe + 12], [0; 4]);
        clear_pe_timestamp(&mut image).unwrap();
        assert_eq!(image[pe + 8..pe + 12], [0; 4]);
        let ours = u32::from_le_bytes(image[at..at + 4].try_into().unwrap());
        assert_eq!(pe_checksum(&image, at), ours);
        assert!(clear_pe_timestamp(&mut [0u8; 8]).is_err());
    }

    #[test]
    fn missing_stub_and_kernel_are_reported() {
        let err = build_uki(Path::new("/nonexistent/stub"), &UkiSections::new()).unwrap_err();
        assert!(matches!(err, UkiError::ReadStub { .. }), "{err}");
        let err = build_uki(Path::new(STUB_PATH), &UkiSections::new()).unwrap_err();
        assert!(matches!(err, UkiError::NoKernel), "{err}");
    }
}
