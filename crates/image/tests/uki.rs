//! A UKI built from systemd-stub, a fake kernel and an initramfs from the cpio writer:
//! its sections read back exactly, its predicted PCR 11 equals `systemd-measure` on the
//! same inputs, and building it twice gives the same bytes.

use std::path::Path;
use std::process::Command;

use custos_image::{build_uki, Cpio, UkiError, STUB_PATH};
use custos_measure::{predict_pcr11_from_image, read_uki_sections, UkiSection, UkiSections};

/// systemd-measure, from Debian's `systemd` package (252 in bookworm).
const SYSTEMD_MEASURE: &str = "/usr/lib/systemd/systemd-measure";

/// Deterministic pseudo-random bytes (xorshift64*): a stand-in kernel.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

fn initramfs(init: &[u8]) -> Vec<u8> {
    let mut c = Cpio::new();
    c.add_file("init", 0o755, init).unwrap();
    c.add_file("etc/custos/config.toml", 0o644, b"a = 1\n".to_vec())
        .unwrap();
    c.add_file("etc/custos/policy.toml", 0o600, b"b = 2\n".to_vec())
        .unwrap();
    c.add_dir("dev", 0o755).unwrap();
    c.to_gzip()
}

fn sections(init: &[u8]) -> UkiSections {
    UkiSections::new()
        .with(UkiSection::Linux, bytes(1, 2_000_003))
        .with(UkiSection::Osrel, b"ID=custos\nVERSION_ID=1\n".to_vec())
        .with(UkiSection::Cmdline, b"console=ttyS0 panic=-1".to_vec())
        .with(UkiSection::Initrd, initramfs(init))
}

/// PCR 11 as `systemd-measure calculate --phase=:` computes it from the sections as files.
/// Panics, rather than skipping, when the tool is missing.
fn systemd_measure(sections: &UkiSections) -> [u8; 32] {
    assert!(
        Path::new(SYSTEMD_MEASURE).exists(),
        "{SYSTEMD_MEASURE} is missing: install the Debian package `systemd` (scripts/test.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(SYSTEMD_MEASURE);
    cmd.arg("calculate").arg("--bank=sha256").arg("--phase=:");
    for (section, contents) in sections.iter() {
        let name = &section.name()[1..];
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        cmd.arg(format!("--{name}={}", path.display()));
    }
    let out = cmd.output().expect("run systemd-measure");
    assert!(
        out.status.success(),
        "systemd-measure failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let hex = stdout
        .trim_end()
        .strip_prefix("11:sha256=")
        .unwrap_or_else(|| panic!("unexpected systemd-measure output: {stdout}"));
    hex::decode(hex).unwrap().try_into().unwrap()
}

fn stub() -> &'static Path {
    assert!(
        Path::new(STUB_PATH).exists(),
        "{STUB_PATH} is missing: install the Debian package `systemd-boot-efi` (scripts/test.sh does)"
    );
    Path::new(STUB_PATH)
}

#[test]
fn uki_round_trips_and_matches_systemd_measure() {
    let input = sections(b"\x7fELF custos");
    let built = build_uki(stub(), &input).expect("build the UKI");

    let read = read_uki_sections(&built.image).unwrap();
    assert_eq!(read, input, "the sections read back differently");
    assert_eq!(built.pcr11, systemd_measure(&input));
    assert_eq!(built.pcr11, predict_pcr11_from_image(&built.image).unwrap());

    // Reproducible: the same inputs give the same image.
    let again = build_uki(stub(), &sections(b"\x7fELF custos")).unwrap();
    assert_eq!(again, built);

    // One byte changed in /init: another initramfs, image and PCR 11.
    let other_input = sections(b"\x7fELF custoS");
    let other = build_uki(stub(), &other_input).unwrap();
    assert_ne!(other.image, built.image);
    assert_ne!(other.pcr11, built.pcr11);
    assert_eq!(other.pcr11, systemd_measure(&other_input));
}

#[test]
fn empty_sections_are_left_out() {
    let input = sections(b"x").with(UkiSection::Cmdline, Vec::new());
    let built = build_uki(stub(), &input).unwrap();
    let read = read_uki_sections(&built.image).unwrap();
    assert_eq!(read.get(UkiSection::Cmdline), None);
    let mut without = input.clone();
    without.remove(UkiSection::Cmdline);
    assert_eq!(read, without);
    assert_eq!(built.pcr11, systemd_measure(&without));
}

#[test]
fn a_stub_that_is_already_a_uki_is_refused() {
    let built = build_uki(stub(), &sections(b"x")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("uki.efi");
    std::fs::write(&path, &built.image).unwrap();
    let err = build_uki(&path, &sections(b"y")).unwrap_err();
    assert!(
        matches!(
            err,
            UkiError::StubHasSection {
                section: UkiSection::Linux,
                ..
            }
        ),
        "{err}"
    );
}
