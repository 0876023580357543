//! The PCR 11 measurements systemd-stub 252 makes, and the value they produce.
//!
//! systemd-stub (`src/boot/efi/stub.c` in systemd 252) walks its `unified_sections[]` table
//! in order and, for every section that is present with a non-zero size, except `.pcrsig`,
//! makes two measurements into PCR 11:
//!
//! 1. the section's name as a C string *including* its terminating NUL (`".linux\0"`);
//! 2. the section's bytes as loaded in memory: `VirtualSize` bytes at its
//!    `VirtualAddress` (see [`crate::pe`] for how they come from the file).
//!
//! After the stub, userspace `systemd-pcrphase` may extend PCR 11 with boot phase words
//! (`enter-initrd`, `leave-initrd`, ...; each word's bytes without a NUL). Custos runs as
//! `/init` with no systemd, so no phase is measured: the value Custos sees is
//! [`predict_pcr11`], which is what `systemd-measure calculate --phase=:` prints.

use crate::pcr::{extend, PcrBank};
use crate::section::{UkiSection, UkiSections};

/// What one PCR 11 measurement covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measured {
    /// A section's name, with its NUL terminator (made by systemd-stub).
    SectionName(UkiSection),
    /// A section's contents (made by systemd-stub).
    SectionContents(UkiSection),
    /// One word of a boot phase (made by `systemd-pcrphase`, not by the stub).
    PhaseWord(String),
}

/// One extend of PCR 11: what was measured and the digest extended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasurementEvent {
    /// What was measured.
    pub measured: Measured,
    /// The bank's digest of the measured bytes, as extended into the PCR.
    pub digest: [u8; 32],
}

impl std::fmt::Display for MeasurementEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.digest {
            write!(f, "{b:02x}")?;
        }
        match &self.measured {
            Measured::SectionName(s) => write!(f, " name of {s}"),
            Measured::SectionContents(s) => write!(f, " contents of {s}"),
            Measured::PhaseWord(w) => write!(f, " phase word {w:?}"),
        }
    }
}

/// The PCR 11 measurements systemd-stub 252 makes for `sections`, in order (sha256 bank).
///
/// Absent and empty sections, and `.pcrsig`, make no measurement.
pub fn measurement_events(sections: &UkiSections) -> Vec<MeasurementEvent> {
    let bank = PcrBank::Sha256;
    let mut events = Vec::new();
    for section in UkiSection::MEASURED {
        let Some(contents) = sections.get(section).filter(|c| !c.is_empty()) else {
            continue;
        };
        let mut name = section.name().as_bytes().to_vec();
        name.push(0); // the stub measures strsize8(): the name with its NUL
        events.push(MeasurementEvent {
            measured: Measured::SectionName(section),
            digest: bank.digest(&name),
        });
        events.push(MeasurementEvent {
            measured: Measured::SectionContents(section),
            digest: bank.digest(contents),
        });
    }
    events
}

/// The measurements `systemd-pcrphase` makes for a boot phase such as
/// `"enter-initrd:leave-initrd"`: one per non-empty colon-separated word, in order.
///
/// `""` and `":"` are the phase before any word, with no measurement.
pub fn phase_events(phase: &str) -> Vec<MeasurementEvent> {
    phase
        .split(':')
        .filter(|w| !w.is_empty())
        .map(|w| MeasurementEvent {
            measured: Measured::PhaseWord(w.to_owned()),
            digest: PcrBank::Sha256.digest(w.as_bytes()),
        })
        .collect()
}

/// The PCR value after extending each event's digest, in order, into a reset PCR.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a MeasurementEvent>) -> [u8; 32] {
    events
        .into_iter()
        .fold(PcrBank::Sha256.initial_value(), |pcr, e| {
            extend(&pcr, &e.digest)
        })
}

/// The sha256-bank value of PCR 11 right after systemd-stub 252 booted a UKI with these
/// sections, before any boot phase is measured: what Custos as `/init` finds, and what
/// `systemd-measure calculate --bank=sha256 --phase=:` prints for the same files.
pub fn predict_pcr11(sections: &UkiSections) -> [u8; 32] {
    replay(&measurement_events(sections))
}

/// The sha256-bank value of PCR 11 at boot phase `phase` (see [`phase_events`]): what
/// `systemd-measure calculate --bank=sha256 --phase=<phase>` prints.
pub fn predict_pcr11_at_phase(sections: &UkiSections, phase: &str) -> [u8; 32] {
    let mut events = measurement_events(sections);
    events.extend(phase_events(phase));
    replay(&events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> [u8; 32] {
        let mut out = [0; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    // Values printed by systemd-measure 252.39 on this machine (the integration tests in
    // tests/ check many more against the live tool).
    #[test]
    fn linux_only_matches_systemd_measure() {
        let s = UkiSections::new().with(UkiSection::Linux, b"abc".to_vec());
        assert_eq!(
            predict_pcr11(&s),
            hex("add59ff908ec30e42b7f32f055c9e9831e369067aba40e64693631392fe0166b")
        );
        assert_eq!(
            predict_pcr11_at_phase(&s, "enter-initrd:leave-initrd"),
            hex("71ca6620990c5cb263a7d2bc37c2ffda3c3542a1222545b8e4d31c2cf4f0786c")
        );
    }

    #[test]
    fn events_name_then_contents_in_table_order() {
        let s = UkiSections::new()
            .with(UkiSection::Pcrpkey, b"k".to_vec())
            .with(UkiSection::Pcrsig, b"sig".to_vec())
            .with(UkiSection::Cmdline, Vec::new())
            .with(UkiSection::Initrd, b"i".to_vec())
            .with(UkiSection::Linux, b"l".to_vec());
        let what: Vec<_> = measurement_events(&s)
            .into_iter()
            .map(|e| e.measured)
            .collect();
        assert_eq!(
            what,
            [
                Measured::SectionName(UkiSection::Linux),
                Measured::SectionContents(UkiSection::Linux),
                Measured::SectionName(UkiSection::Initrd),
                Measured::SectionContents(UkiSection::Initrd),
                Measured::SectionName(UkiSection::Pcrpkey),
                Measured::SectionContents(UkiSection::Pcrpkey),
            ]
        );
        let first = &measurement_events(&s)[0];
        assert_eq!(first.digest, PcrBank::Sha256.digest(b".linux\0"));
        assert!(first.to_string().ends_with(" name of .linux"));
    }

    #[test]
    fn empty_phase_and_no_sections() {
        assert!(phase_events(":").is_empty());
        assert!(phase_events("").is_empty());
        assert_eq!(phase_events("a::b").len(), 2);
        assert_eq!(predict_pcr11(&UkiSections::new()), [0; 32]);
    }
}
