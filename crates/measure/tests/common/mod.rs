//! Helpers shared by the integration tests: the reference tool and test data.

use std::path::{Path, PathBuf};
use std::process::Command;

use custos_measure::{UkiSection, UkiSections};

/// systemd-measure, from Debian's `systemd` package (252 in bookworm).
pub const SYSTEMD_MEASURE: &str = "/usr/lib/systemd/systemd-measure";

/// The `systemd-measure` option that names a section's file; `.pcrsig` has none (it is
/// never measured).
fn option(section: UkiSection) -> Option<&'static str> {
    Some(match section {
        UkiSection::Linux => "--linux",
        UkiSection::Osrel => "--osrel",
        UkiSection::Cmdline => "--cmdline",
        UkiSection::Initrd => "--initrd",
        UkiSection::Splash => "--splash",
        UkiSection::Dtb => "--dtb",
        UkiSection::Pcrpkey => "--pcrpkey",
        UkiSection::Pcrsig => return None,
    })
}

/// Deterministic pseudo-random bytes (xorshift64*), so failures reproduce.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
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

/// Writes each present section to a file in `dir`, named after the section.
pub fn write_sections(dir: &Path, sections: &UkiSections) -> Vec<(UkiSection, PathBuf)> {
    sections
        .iter()
        .map(|(s, contents)| {
            let path = dir.join(&s.name()[1..]);
            std::fs::write(&path, contents).unwrap();
            (s, path)
        })
        .collect()
}

/// PCR 11 (sha256) as `systemd-measure calculate` computes it for these files at `phase`.
/// Panics, rather than skipping, when the tool is missing.
pub fn systemd_measure(files: &[(UkiSection, PathBuf)], phase: &str) -> [u8; 32] {
    assert!(
        Path::new(SYSTEMD_MEASURE).exists(),
        "{SYSTEMD_MEASURE} is missing: install the Debian package `systemd` (scripts/test.sh does)"
    );
    let mut cmd = Command::new(SYSTEMD_MEASURE);
    cmd.arg("calculate")
        .arg("--bank=sha256")
        .arg(format!("--phase={phase}"));
    for (section, path) in files {
        if let Some(opt) = option(*section) {
            cmd.arg(format!("{opt}={}", path.display()));
        }
    }
    let out = cmd.output().expect("run systemd-measure");
    assert!(
        out.status.success(),
        "systemd-measure failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "unexpected systemd-measure output: {stdout}"
    );
    let hex = lines[0]
        .strip_prefix("11:sha256=")
        .unwrap_or_else(|| panic!("unexpected systemd-measure output: {stdout}"));
    hex::decode(hex).unwrap().try_into().unwrap()
}
