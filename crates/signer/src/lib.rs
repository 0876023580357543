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
//! A `confirm` verdict is not refused outright: the signer asks the wallet owner in
//! Telegram (issue 4). [`confirm`] is the confirmation state machine (single-use button
//! tokens, bound user, expiry), [`link`] the one-time `/start` links that bind a
//! Telegram account to a user (sealed as a security record), and [`telegram`] wires
//! both into the [`Service`] over the channel sealed between the signer and the pool;
//! the bridge only relays opaque blobs. [`bot_token`] keeps the bot token sealed in the
//! data directory; [`messages`] renders what users see.
//!
//! Second factors (issue 5): [`totp`] and `custos-passkey` verify them, [`factors`] is
//! a user's factor state (kept encrypted in their security record), [`guard`] what
//! waits for a factor, and [`second_factor`] wires them into the service: gating of
//! withdrawals, exports and security changes, bot commands, the Custos page's requests
//! and the end-to-end encrypted key export.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod accounts;
pub mod bot_token;
pub mod confine;
pub mod confirm;
pub mod factors;
pub mod guard;
pub mod link;
pub mod messages;
pub mod process;
pub mod second_factor;
pub mod service;
pub mod telegram;
pub mod totp;
pub mod tpm;

pub use confirm::ConfirmConfig;
pub use link::LinkConfig;
pub use service::{Service, StartError};
