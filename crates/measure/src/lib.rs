//! Offline measured-boot arithmetic for the Custos boot image (sha256 bank): predicting
//! PCR 7 and PCR 11, reading the firmware event log, and the release manifest they are
//! checked against.
//!
//! - PCR 11 ([`predict`], [`pe`], [`section`]): the value systemd-stub produces when it
//!   boots a unified kernel image (UKI). It models **systemd 252** (Debian bookworm's
//!   `systemd-boot-efi` `linuxx64.efi.stub`); later systemd versions measure more sections
//!   (`.uname`, `.sbat`, `.ucode`, `.profile`) and their values would differ.
//!   [`predict_pcr11`] equals `systemd-measure calculate --bank=sha256 --phase=: ...` byte
//!   for byte (checked against the tool in `tests/systemd_measure.rs`);
//!   [`read_uki_sections`] reads the sections back out of a built UKI.
//! - PCR 7 ([`pcr7`], [`varstore`]): the value OVMF produces under Secure Boot, from the
//!   enrolled variable store file and the db certificate that verifies the image
//!   ([`predict_pcr7`]; checked against `virt-fw-measure` in `tests/virt_fw_measure.rs`).
//! - [`eventlog`]: a strict reader of the TCG crypto-agile event log Linux exposes in
//!   `/sys/kernel/security/tpm0/binary_bios_measurements`, its sha256 replay and
//!   systemd-stub's PCR 11 events (checked against `tpm2_eventlog`).
//! - [`release`]: the release manifest (`version`, `kernel`, `uki_sha256`, `pcr7`,
//!   `pcr11`) and [`Release::check_pcrs`].
//!
//! The PCR 11 measurement rules (systemd 252, `src/boot/efi/stub.c`): PCR 11 starts at 32
//! zero bytes; for each present, non-empty section of `.linux`, `.osrel`, `.cmdline`,
//! `.initrd`, `.splash`, `.dtb`, `.pcrpkey` in that order (`.pcrsig` is never measured),
//! the stub extends SHA-256 of the name with its NUL (`".linux\0"`), then SHA-256 of the
//! section's in-memory bytes (`VirtualSize` bytes). Boot phase words are only measured by
//! `systemd-pcrphase` in a systemd userspace, which Custos (as `/init`) does not run.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod eventlog;
pub mod guid;
pub mod pcr;
pub mod pcr7;
pub mod pe;
pub mod predict;
pub mod release;
pub mod section;
mod utf16;
pub mod varstore;

pub use eventlog::{Event, EventLog, EventLogError, EventType, StubEvent, StubMeasured};
pub use guid::Guid;
pub use pcr::{extend, PcrBank};
pub use pcr7::{predict_pcr7, Pcr7Error, Pcr7Event, Pcr7Measured};
pub use pe::{read_uki_sections, PeError, PeImage, PeSection};
pub use predict::{
    measurement_events, phase_events, predict_pcr11, predict_pcr11_at_phase, replay, Measured,
    MeasurementEvent,
};
pub use release::{CheckError, Mismatch, Release, ReleaseError};
pub use section::{UkiSection, UkiSections};
pub use varstore::{VarStore, VarStoreError, Variable};

/// Predicts PCR 11 from a built UKI file: [`read_uki_sections`] then [`predict_pcr11`].
pub fn predict_pcr11_from_image(file: &[u8]) -> Result<[u8; 32], PeError> {
    Ok(predict_pcr11(&read_uki_sections(file)?))
}
