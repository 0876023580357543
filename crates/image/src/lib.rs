//! The Custos boot image (issue 6): a reproducible initramfs and unified kernel image (UKI)
//! with `custos` as `/init`, its Secure Boot signature and release manifest, and a qemu
//! harness that boots it under OVMF Secure Boot with a software TPM.
//!
//! - [`cpio`]: a deterministic "newc" (`070701`) cpio writer: sorted paths, zero times
//!   and owners, inode numbers by position, so identical contents give identical bytes.
//! - [`mod@gzip`]: gzip with a fixed header (no name, mtime 0), as the kernel unpacks it.
//! - [`uki`]: assembles a UKI with `objcopy` from systemd-stub 252 and the sections, reads
//!   the sections back with `custos-measure` and returns the predicted PCR 11.
//! - [`kernel`]: fetches the Debian cloud kernel and the virtio modules (load order from
//!   [`modinfo`]).
//! - [`keys`] and [`vars`]: the operator's PK/KEK/db and an OVMF variable store with them
//!   enrolled.
//! - [`build`]: the image itself: initramfs, UKI, `sbsign`, `release.json`.
//! - [`vm`]: qemu + OVMF + swtpm for tests.
//!
//! The `custos-image` binary drives all of it (`fetch-kernel`, `keys`, `ovmf-vars`,
//! `build`); `scripts/build-image.sh` is the one command.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod build;
pub mod cpio;
pub mod gzip;
pub mod kernel;
pub mod keys;
pub mod modinfo;
mod tool;
pub mod uki;
pub mod vars;
pub mod vm;

pub use build::{build, BuildError, BuildOptions, Release, Signer};
pub use cpio::{Cpio, CpioError};
pub use gzip::gzip;
pub use kernel::{Kernel, KernelError};
pub use keys::{KeySet, KeysError};
pub use tool::ToolError;
pub use uki::{build_uki, BuiltUki, UkiError, STUB_PATH};
pub use vars::VarsError;
pub use vm::{Swtpm, Vm, VmConfig, VmError};
