//! The Custos signer.
//!
//! The signer is the only process that holds the master key. It is a pure
//! function of (request, sealed records) plus its keys: it authenticates every
//! record itself, decodes the transaction, asks the policy, and signs only an
//! `auto` verdict. Plaintext private keys exist only inside [`Service::sign`]
//! for the duration of one signature and are zeroized on drop.
//!
//! Its crate graph holds no networking, async runtime or database code; the
//! only channel it has is the socket pair to the bridge ([`process`]).
//!
//! [`confirm`] holds the state machine of Telegram confirmations (issue 4):
//! built and tested, not wired into the service yet.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod confirm;
pub mod process;
pub mod service;

pub use service::{Service, StartError};
