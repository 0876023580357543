//! A small pure-Rust TPM 2.0 client.
//!
//! Groundwork for issue 6 (sealing the master key to the measured boot state): nothing in
//! Custos calls it yet.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
