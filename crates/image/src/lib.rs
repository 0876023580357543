//! Reproducible pieces of the Custos boot image (issue 6): an initramfs archive and a
//! unified kernel image (UKI) whose PCR 11 is predicted offline.
//!
//! Groundwork: nothing in Custos uses this crate yet. The image it is meant for has the
//! static `custos` binary as `/init` plus its config and policy in a reproducible
//! initramfs, wrapped with a Debian cloud kernel by systemd-stub into one UKI, then signed
//! for Secure Boot (signing is not here yet).
//!
//! - [`cpio`]: a deterministic "newc" (`070701`) cpio writer: sorted paths, zero times
//!   and owners, inode numbers by position, so identical contents give identical bytes.
//! - [`mod@gzip`]: gzip with a fixed header (no name, mtime 0), as the kernel unpacks it.
//! - [`uki`]: assembles a UKI with `objcopy` from systemd-stub 252 and the sections, reads
//!   the sections back with `custos-measure` and returns the predicted PCR 11.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cpio;
pub mod gzip;
pub mod uki;

pub use cpio::{Cpio, CpioError};
pub use gzip::gzip;
pub use uki::{build_uki, BuiltUki, UkiError, STUB_PATH};
