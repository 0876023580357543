//! PID 1 of the Custos boot image.
//!
//! The static `custos` binary is `/init` of a signed unified kernel image (Debian cloud
//! kernel 6.1: virtio PCI/blk/net are modules; ext4, devtmpfs, securityfs and the TPM CRB
//! driver are built in; no IP autoconfiguration). This crate is what it does as PID 1,
//! as explicit steps, each a function with its own error type so it can be tested alone:
//!
//! 1. [`mounts::mount_basics`]: proc, sysfs, devtmpfs, securityfs, tmpfs on /run and /tmp;
//! 2. [`ImageConfig::load`]: `/etc/custos/image.toml`, strictly validated;
//! 3. [`modules::load_modules`]: finit_module(2) in order (already loaded is fine);
//! 4. [`memory_encryption::check_memory_encryption`]: AMD SME/SEV state from the kernel
//!    log and CPU flags; refuses when required and absent;
//! 5. [`network::configure_network`]: lo, then a static IPv4 address, link and default
//!    route through a small rtnetlink client ([`rtnetlink`]);
//! 6. [`disk::wait_for_data_disk`] + [`disk::mount_data_disk`]: the virtio disk with the
//!    configured serial, ext4, `nosuid,nodev,noexec`;
//! 7. [`tpm::wait_for_tpm`]: the TPM device node.
//!
//! [`run_init`] runs them ([`boot`]), then the supervisor as its child ([`supervise`],
//! reaping every orphan as PID 1 must), and powers off ([`power_off`]) whatever happens.
//! Every line it prints starts with `custos-init:`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod disk;
pub mod memory_encryption;
pub mod modules;
pub mod mounts;
pub mod network;
pub mod rtnetlink;
mod run;
pub mod tpm;

pub use config::{ConfigError, ImageConfig, Ipv4Cidr, NetworkConfig, IMAGE_CONFIG_PATH};
pub use memory_encryption::{MemoryEncryption, MemoryEncryptionReport};
pub use run::{
    boot, is_pid1, log, power_off, run_init, supervise, ChildExit, InitError, LOG_PREFIX,
};
