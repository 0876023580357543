//! A minimal, strict reader of a PE/COFF image's section table, to read a built UKI's
//! sections back the way systemd-stub finds them.
//!
//! systemd-stub 252 (`pe_memory_locate_sections()` in `src/boot/efi/pe.c`) matches a
//! section when its 8-byte name *starts with* a known name (a `memcmp` of the known name's
//! length), lets a later match override an earlier one, and measures `VirtualSize` bytes at
//! the section's `VirtualAddress` in the loaded image. The firmware's loader copies
//! `min(VirtualSize, SizeOfRawData)` bytes from the file there and zero-fills the rest.
//! [`PeImage::uki_sections`] reproduces those bytes, and refuses the two cases where the
//! stub's matching would silently differ from a plain reading of the table: a name that
//! only starts with a known name (`.linuxX`), and two sections with the same known name.

use crate::section::{UkiSection, UkiSections};

/// Why a file could not be read as a PE image, or its UKI sections not extracted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeError {
    /// A structure lies (partly) beyond the end of the file.
    #[error(
        "{what} at offset {offset} ({len} bytes) lies beyond the end of the {file_len}-byte file"
    )]
    Truncated {
        /// The structure being read.
        what: &'static str,
        /// Its offset in the file.
        offset: u64,
        /// Its length in bytes.
        len: u64,
        /// The file's length.
        file_len: usize,
    },
    /// The file does not start with the DOS header magic `MZ`.
    #[error("not a PE image: no MZ signature")]
    NoMzSignature,
    /// There is no `PE\0\0` signature where the DOS header points.
    #[error("not a PE image: no PE signature at offset {offset}")]
    NoPeSignature {
        /// The offset the DOS header's `e_lfanew` points at.
        offset: u32,
    },
    /// The optional header is neither PE32 (0x10b) nor PE32+ (0x20b).
    #[error("unknown optional header magic {0:#06x}")]
    UnknownOptionalHeaderMagic(u16),
    /// The optional header is too short for the fields read from it.
    #[error("optional header of {size} bytes is too short (needs {needed})")]
    OptionalHeaderTooShort {
        /// `SizeOfOptionalHeader` from the COFF header.
        size: u16,
        /// The bytes needed.
        needed: u16,
    },
    /// A section's memory range does not fit in the image's `SizeOfImage`.
    #[error("section {name:?} (virtual address {virtual_address:#x}, size {virtual_size:#x}) lies outside the {size_of_image:#x}-byte image")]
    SectionOutsideImage {
        /// The section's name.
        name: String,
        /// Its `VirtualAddress`.
        virtual_address: u32,
        /// Its `VirtualSize`.
        virtual_size: u32,
        /// The image's `SizeOfImage`.
        size_of_image: u32,
    },
    /// Two sections carry the same known UKI name; systemd-stub would use the last one.
    #[error("the image has more than one {0} section")]
    DuplicateSection(UkiSection),
    /// A section's name starts with a known UKI name without being it; systemd-stub would
    /// take it for that section.
    #[error("section {name:?} would be taken for {section} by systemd-stub")]
    AmbiguousSectionName {
        /// The section's full name.
        name: String,
        /// The known section it prefix-matches.
        section: UkiSection,
    },
}

/// One entry of a PE section table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeSection {
    /// The raw 8-byte name, NUL-padded.
    pub name: [u8; 8],
    /// `VirtualSize`: the section's size in memory.
    pub virtual_size: u32,
    /// `VirtualAddress`: its offset from the image base in memory.
    pub virtual_address: u32,
    /// `SizeOfRawData`: its size in the file.
    pub size_of_raw_data: u32,
    /// `PointerToRawData`: its offset in the file.
    pub pointer_to_raw_data: u32,
}

impl PeSection {
    /// The name up to its first NUL, lossily decoded (for messages).
    pub fn name_lossy(&self) -> String {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(8);
        String::from_utf8_lossy(&self.name[..end]).into_owned()
    }
}

/// A parsed PE image: its headers' few fields used here and its section table, borrowing
/// the file's bytes.
#[derive(Debug, Clone)]
pub struct PeImage<'a> {
    file: &'a [u8],
    image_base: u64,
    size_of_image: u32,
    sections: Vec<PeSection>,
}

const DOS_HEADER_LEN: u64 = 0x40;
const COFF_HEADER_LEN: u64 = 20;
const SECTION_HEADER_LEN: u64 = 40;
const PE32_MAGIC: u16 = 0x10b;
const PE32_PLUS_MAGIC: u16 = 0x20b;
/// Bytes of the optional header read here: up to and including `SizeOfImage` (offset 56).
const OPTIONAL_HEADER_NEEDED: u16 = 60;

fn slice<'a>(
    file: &'a [u8],
    what: &'static str,
    offset: u64,
    len: u64,
) -> Result<&'a [u8], PeError> {
    let truncated = PeError::Truncated {
        what,
        offset,
        len,
        file_len: file.len(),
    };
    let end = offset.checked_add(len).ok_or(truncated.clone())?;
    if end > file.len() as u64 {
        return Err(truncated);
    }
    // Both fit in the file's length, so in usize.
    Ok(&file[offset as usize..end as usize])
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<'a> PeImage<'a> {
    /// Parses the headers and section table of the PE image in `file`.
    pub fn parse(file: &'a [u8]) -> Result<Self, PeError> {
        let dos = slice(file, "DOS header", 0, DOS_HEADER_LEN)?;
        if &dos[..2] != b"MZ" {
            return Err(PeError::NoMzSignature);
        }
        let pe_offset = u32_at(dos, 0x3c);
        let sig = slice(file, "PE signature", pe_offset.into(), 4)?;
        if sig != b"PE\0\0" {
            return Err(PeError::NoPeSignature { offset: pe_offset });
        }
        let coff_offset = u64::from(pe_offset) + 4;
        let coff = slice(file, "COFF header", coff_offset, COFF_HEADER_LEN)?;
        let number_of_sections = u16_at(coff, 2);
        let optional_len = u16_at(coff, 16);
        if optional_len < OPTIONAL_HEADER_NEEDED {
            return Err(PeError::OptionalHeaderTooShort {
                size: optional_len,
                needed: OPTIONAL_HEADER_NEEDED,
            });
        }
        let optional_offset = coff_offset + COFF_HEADER_LEN;
        let optional = slice(
            file,
            "optional header",
            optional_offset,
            optional_len.into(),
        )?;
        let image_base = match u16_at(optional, 0) {
            PE32_MAGIC => u32_at(optional, 28).into(),
            PE32_PLUS_MAGIC => {
                u64::from(u32_at(optional, 24)) | u64::from(u32_at(optional, 28)) << 32
            }
            other => return Err(PeError::UnknownOptionalHeaderMagic(other)),
        };
        let size_of_image = u32_at(optional, 56);
        let table_offset = optional_offset + u64::from(optional_len);
        let table = slice(
            file,
            "section table",
            table_offset,
            u64::from(number_of_sections) * SECTION_HEADER_LEN,
        )?;
        let sections = table
            .chunks_exact(SECTION_HEADER_LEN as usize)
            .map(|h| {
                let mut name = [0; 8];
                name.copy_from_slice(&h[..8]);
                PeSection {
                    name,
                    virtual_size: u32_at(h, 8),
                    virtual_address: u32_at(h, 12),
                    size_of_raw_data: u32_at(h, 16),
                    pointer_to_raw_data: u32_at(h, 20),
                }
            })
            .collect();
        Ok(Self {
            file,
            image_base,
            size_of_image,
            sections,
        })
    }

    /// The preferred load address (`ImageBase`).
    pub fn image_base(&self) -> u64 {
        self.image_base
    }

    /// The image's size in memory (`SizeOfImage`).
    pub fn size_of_image(&self) -> u32 {
        self.size_of_image
    }

    /// The section table, in file order.
    pub fn sections(&self) -> &[PeSection] {
        &self.sections
    }

    /// The section's bytes as the firmware loads them: `VirtualSize` bytes, the first
    /// `min(VirtualSize, SizeOfRawData)` from the file, the rest zero.
    pub fn section_in_memory(&self, section: &PeSection) -> Result<Vec<u8>, PeError> {
        let in_image = section
            .virtual_address
            .checked_add(section.virtual_size)
            .is_some_and(|end| end <= self.size_of_image);
        if !in_image {
            return Err(PeError::SectionOutsideImage {
                name: section.name_lossy(),
                virtual_address: section.virtual_address,
                virtual_size: section.virtual_size,
                size_of_image: self.size_of_image,
            });
        }
        let from_file = section.virtual_size.min(section.size_of_raw_data);
        let raw = slice(
            self.file,
            "section data",
            section.pointer_to_raw_data.into(),
            from_file.into(),
        )?;
        let mut bytes = Vec::with_capacity(section.virtual_size as usize);
        bytes.extend_from_slice(raw);
        bytes.resize(section.virtual_size as usize, 0);
        Ok(bytes)
    }

    /// The known UKI sections of the image, with the contents systemd-stub measures.
    ///
    /// Errors when two sections share a known name or a name only starts with a known one
    /// (see the module docs), and when a known section's bytes lie outside the file or
    /// image.
    pub fn uki_sections(&self) -> Result<UkiSections, PeError> {
        let mut out = UkiSections::new();
        for pe_section in &self.sections {
            for known in UkiSection::ALL {
                let prefix = known.name().as_bytes();
                if !pe_section.name.starts_with(prefix) {
                    continue;
                }
                if pe_section.name[prefix.len()..].iter().any(|&b| b != 0) {
                    return Err(PeError::AmbiguousSectionName {
                        name: pe_section.name_lossy(),
                        section: known,
                    });
                }
                if out.get(known).is_some() {
                    return Err(PeError::DuplicateSection(known));
                }
                out.set(known, self.section_in_memory(pe_section)?);
            }
        }
        Ok(out)
    }
}

/// Reads the known UKI sections out of a built image file (see [`PeImage::uki_sections`]).
pub fn read_uki_sections(file: &[u8]) -> Result<UkiSections, PeError> {
    PeImage::parse(file)?.uki_sections()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal PE32+ image: DOS header, PE header at 0x40, a 60-byte optional header
    /// and the given sections (name, contents, virtual size), data from offset 0x400.
    fn build(sections: &[(&[u8], &[u8], u32)]) -> Vec<u8> {
        let mut f = vec![0u8; 0x400];
        f[..2].copy_from_slice(b"MZ");
        f[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        f[0x40..0x44].copy_from_slice(b"PE\0\0");
        f[0x46..0x48].copy_from_slice(&(sections.len() as u16).to_le_bytes());
        f[0x54..0x56].copy_from_slice(&60u16.to_le_bytes());
        let opt = 0x58;
        f[opt..opt + 2].copy_from_slice(&PE32_PLUS_MAGIC.to_le_bytes());
        f[opt + 24..opt + 32].copy_from_slice(&0x1_4000_0000u64.to_le_bytes());
        f[opt + 56..opt + 60].copy_from_slice(&0x10_0000u32.to_le_bytes());
        let mut table = opt + 60;
        let mut va = 0x1000u32;
        for (name, data, vsize) in sections {
            let ptr = f.len() as u32;
            f.extend_from_slice(data);
            let h = &mut f[table..table + 40];
            h[..name.len()].copy_from_slice(name);
            h[8..12].copy_from_slice(&vsize.to_le_bytes());
            h[12..16].copy_from_slice(&va.to_le_bytes());
            h[16..20].copy_from_slice(&(data.len() as u32).to_le_bytes());
            h[20..24].copy_from_slice(&ptr.to_le_bytes());
            table += 40;
            va += 0x1000;
        }
        f
    }

    #[test]
    fn reads_sections_and_zero_fills_past_raw_data() {
        let f = build(&[
            (b".text", b"code", 4),
            (b".linux", b"kern", 4),
            (b".cmdline", b"ab", 5),
            (b".initrd", b"initrd!!", 3),
        ]);
        let img = PeImage::parse(&f).unwrap();
        assert_eq!(img.image_base(), 0x1_4000_0000);
        assert_eq!(img.sections().len(), 4);
        assert_eq!(img.sections()[1].name_lossy(), ".linux");
        let s = img.uki_sections().unwrap();
        assert_eq!(s.get(UkiSection::Linux), Some(&b"kern"[..]));
        // VirtualSize larger than the raw data: the loader zero-fills.
        assert_eq!(s.get(UkiSection::Cmdline), Some(&b"ab\0\0\0"[..]));
        // VirtualSize smaller than the raw data (file alignment padding): cut.
        assert_eq!(s.get(UkiSection::Initrd), Some(&b"ini"[..]));
        assert_eq!(s.get(UkiSection::Osrel), None);
        assert_eq!(read_uki_sections(&f).unwrap(), s);
    }

    #[test]
    fn refuses_prefix_and_duplicate_names() {
        let f = build(&[(b".linuxX", b"k", 1)]);
        assert_eq!(
            read_uki_sections(&f),
            Err(PeError::AmbiguousSectionName {
                name: ".linuxX".into(),
                section: UkiSection::Linux
            })
        );
        let f = build(&[(b".initrd", b"a", 1), (b".initrd", b"b", 1)]);
        assert_eq!(
            read_uki_sections(&f),
            Err(PeError::DuplicateSection(UkiSection::Initrd))
        );
    }

    #[test]
    fn refuses_malformed_headers() {
        let good = build(&[(b".linux", b"k", 1)]);
        assert!(matches!(
            PeImage::parse(&good[..0x30]),
            Err(PeError::Truncated {
                what: "DOS header",
                ..
            })
        ));
        let mut f = good.clone();
        f[0] = b'X';
        assert_eq!(PeImage::parse(&f).unwrap_err(), PeError::NoMzSignature);
        let mut f = good.clone();
        f[0x41] = b'X';
        assert_eq!(
            PeImage::parse(&f).unwrap_err(),
            PeError::NoPeSignature { offset: 0x40 }
        );
        let mut f = good.clone();
        f[0x3c..0x40].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            PeImage::parse(&f),
            Err(PeError::Truncated {
                what: "PE signature",
                ..
            })
        ));
        let mut f = good.clone();
        f[0x58] = 0x07;
        assert_eq!(
            PeImage::parse(&f).unwrap_err(),
            PeError::UnknownOptionalHeaderMagic(0x207)
        );
        let mut f = good.clone();
        f[0x54..0x56].copy_from_slice(&20u16.to_le_bytes());
        assert!(matches!(
            PeImage::parse(&f),
            Err(PeError::OptionalHeaderTooShort { size: 20, .. })
        ));
        let mut f = good.clone();
        f[0x46..0x48].copy_from_slice(&0xffffu16.to_le_bytes());
        assert!(matches!(
            PeImage::parse(&f),
            Err(PeError::Truncated {
                what: "section table",
                ..
            })
        ));
    }

    #[test]
    fn refuses_section_data_outside_file_or_image() {
        // Raw data pointer beyond the end of the file.
        let mut f = build(&[(b".linux", b"kern", 4)]);
        let h = 0x58 + 60;
        f[h + 20..h + 24].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert!(matches!(
            read_uki_sections(&f),
            Err(PeError::Truncated {
                what: "section data",
                ..
            })
        ));
        // VirtualSize beyond SizeOfImage (and one that overflows u32).
        for vsize in [0x10_0000, u32::MAX] {
            let f = build(&[(b".linux", b"kern", vsize)]);
            assert!(matches!(
                read_uki_sections(&f),
                Err(PeError::SectionOutsideImage { .. })
            ));
        }
    }
}
