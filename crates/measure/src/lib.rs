//! Offline prediction of TPM PCR 11 for a unified kernel image (UKI).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
