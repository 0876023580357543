//! Reading a UKI assembled with objcopy from Debian's systemd-stub 252, and predicting its
//! PCR 11 from the image file, against `systemd-measure` on the input files.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bytes, systemd_measure, write_sections};
use custos_measure::{
    predict_pcr11, predict_pcr11_from_image, read_uki_sections, PeImage, UkiSection, UkiSections,
};

/// The stub from Debian's `systemd-boot-efi`.
const STUB: &str = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";

fn align(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

/// Builds a UKI the way the image script does: objcopy adds each section to the stub, at
/// page-aligned addresses after the stub's own sections. Returns the image's path.
fn assemble(dir: &Path, files: &[(UkiSection, PathBuf)]) -> PathBuf {
    assert!(
        Path::new(STUB).exists(),
        "{STUB} is missing: install the Debian package `systemd-boot-efi` (scripts/test.sh does)"
    );
    let stub = std::fs::read(STUB).unwrap();
    let pe = PeImage::parse(&stub).expect("parse the stub");
    let end = pe
        .sections()
        .iter()
        .map(|s| u64::from(s.virtual_address) + u64::from(s.virtual_size))
        .max()
        .unwrap();
    let mut vma = pe.image_base() + align(end, 0x1000);
    let out = dir.join("custos.efi");
    let mut cmd = Command::new("objcopy");
    for (section, path) in files {
        let name = section.name();
        let len = std::fs::metadata(path).unwrap().len();
        cmd.arg("--add-section")
            .arg(format!("{name}={}", path.display()))
            .arg("--change-section-vma")
            .arg(format!("{name}={vma:#x}"));
        vma = align(vma + len, 0x1000);
    }
    let status = cmd
        .arg(STUB)
        .arg(&out)
        .status()
        .expect("run objcopy (Debian package binutils)");
    assert!(status.success(), "objcopy failed");
    out
}

/// Assembles a UKI from `sections`, reads it back and checks the sections' bytes and the
/// prediction from the file against systemd-measure on the input files.
fn check(sections: &UkiSections) -> [u8; 32] {
    let dir = tempfile::tempdir().unwrap();
    let files = write_sections(dir.path(), sections);
    let image = std::fs::read(assemble(dir.path(), &files)).unwrap();
    let read = read_uki_sections(&image).expect("read the UKI's sections");
    // Empty sections get no bytes in the image; both mean "not measured".
    for section in UkiSection::ALL {
        let want = sections.get(section).filter(|c| !c.is_empty());
        let got = read.get(section).filter(|c| !c.is_empty());
        assert_eq!(got, want, "section {section} read back differently");
    }
    let predicted = predict_pcr11_from_image(&image).unwrap();
    assert_eq!(predicted, systemd_measure(&files, ":"));
    assert_eq!(predicted, predict_pcr11(sections));
    predicted
}

#[test]
fn stub_alone_has_no_uki_sections() {
    let stub = std::fs::read(STUB).unwrap_or_else(|e| panic!("{STUB}: {e}"));
    assert_eq!(read_uki_sections(&stub).unwrap(), UkiSections::new());
    assert_eq!(predict_pcr11_from_image(&stub).unwrap(), [0; 32]);
}

#[test]
fn typical_uki_from_file_matches_systemd_measure() {
    let sections = UkiSections::new()
        .with(UkiSection::Linux, bytes(1, 3_000_001))
        .with(UkiSection::Osrel, b"ID=custos\nVERSION_ID=1\n".to_vec())
        .with(UkiSection::Cmdline, b"console=ttyS0 panic=-1".to_vec())
        .with(UkiSection::Initrd, bytes(2, 1_234_567));
    let a = check(&sections);

    // One byte changed in the initrd: a different image, a different PCR 11.
    let mut initrd = bytes(2, 1_234_567);
    initrd[999_999] ^= 0x80;
    let b = check(&sections.clone().with(UkiSection::Initrd, initrd));
    assert_ne!(a, b);
}

#[test]
fn empty_cmdline_no_initrd_and_optional_sections() {
    let linux = UkiSections::new().with(UkiSection::Linux, bytes(3, 4097));
    check(&linux);
    check(&linux.clone().with(UkiSection::Cmdline, Vec::new()));
    let all = linux
        .clone()
        .with(UkiSection::Osrel, bytes(4, 511))
        .with(UkiSection::Cmdline, b"x".to_vec())
        .with(UkiSection::Initrd, bytes(5, 8193))
        .with(UkiSection::Splash, bytes(6, 300))
        .with(UkiSection::Dtb, bytes(7, 1))
        .with(UkiSection::Pcrsig, b"{\"sha256\":[]}".to_vec())
        .with(UkiSection::Pcrpkey, bytes(8, 451));
    check(&all);
}
