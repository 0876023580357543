//! Offline prediction of the TPM PCR 11 value that systemd-stub produces when it boots a
//! unified kernel image (UKI), for the SHA-256 bank.
//!
//! Groundwork for issue 6 (sealing the master key to PCR 7 + 11): nothing in Custos calls
//! this crate yet. It models **systemd 252** (Debian bookworm's `systemd-boot-efi`
//! `linuxx64.efi.stub`); later systemd versions measure more sections (`.uname`, `.sbat`,
//! `.ucode`, `.profile`) and their values would differ.
//!
//! - [`predict_pcr11`] computes the value from the sections' contents ([`UkiSections`]);
//!   it equals `systemd-measure calculate --bank=sha256 --phase=: --linux=... ...` byte for
//!   byte (checked against the tool in `tests/systemd_measure.rs`).
//! - [`measurement_events`] lists the individual extends (name + digest), for docs,
//!   debugging and comparison with a TPM event log.
//! - [`PeImage`] / [`read_uki_sections`] read the sections back out of a built UKI file, so
//!   the prediction can be made from the final, signed image.
//!
//! The measurement rules (systemd 252, `src/boot/efi/stub.c`): PCR 11 starts at 32 zero
//! bytes; for each present, non-empty section of `.linux`, `.osrel`, `.cmdline`, `.initrd`,
//! `.splash`, `.dtb`, `.pcrpkey` in that order (`.pcrsig` is never measured), the stub
//! extends SHA-256 of the name with its NUL (`".linux\0"`), then SHA-256 of the section's
//! in-memory bytes (`VirtualSize` bytes). Boot phase words are only measured by
//! `systemd-pcrphase` in a systemd userspace, which Custos (as `/init`) does not run.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod eventlog;
pub mod guid;
pub mod pcr;
pub mod pcr7;
pub mod pe;
pub mod predict;
pub mod section;
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
pub use section::{UkiSection, UkiSections};
pub use varstore::{VarStore, VarStoreError, Variable};

/// Predicts PCR 11 from a built UKI file: [`read_uki_sections`] then [`predict_pcr11`].
pub fn predict_pcr11_from_image(file: &[u8]) -> Result<[u8; 32], PeError> {
    Ok(predict_pcr11(&read_uki_sections(file)?))
}
