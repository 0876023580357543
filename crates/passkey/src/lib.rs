//! Passkey (WebAuthn) ceremonies that the Custos signer verifies itself.
//!
//! This crate has one job: run the two WebAuthn ceremonies Custos needs, on top of
//! [webauthn-rs](https://docs.rs/webauthn-rs/0.6.2) 0.6.2, in a form the signer can link:
//!
//! - **registration**: [`Passkeys::begin_registration`] makes the options the browser
//!   passes to `navigator.credentials.create()` and a [`RegistrationState`];
//!   [`Passkeys::finish_registration`] checks the browser's answer and returns a
//!   [`StoredPasskey`];
//! - **approval**: [`Passkeys::begin_approval`] makes the options for
//!   `navigator.credentials.get()`, with a challenge bound to one confirmation and one
//!   transaction ([`ApprovalBinding`]), and an [`AuthenticationState`];
//!   [`Passkeys::finish_approval`] checks the assertion and returns [`ApprovedBy`].
//!
//! # README: how the signer will use it
//!
//! ```text
//! let rp = Passkeys::new(PasskeyConfig { rp_id: "localhost".into(),
//!     rp_origin: "https://localhost:8443".parse()?, rp_name: "Custos".into() })?;
//!
//! // Registration (the user has approved adding a factor):
//! let (options_json, state) = rp.begin_registration(user_id, user_uuid, &existing)?;
//! //   options_json -> page -> navigator.credentials.create() -> client_json
//! let passkey: StoredPasskey = rp.finish_registration(state, &client_json)?;
//! //   passkey.to_bytes() -> the user's authenticated security record
//!
//! // Approval of a pending confirmation:
//! let binding = ApprovalBinding { confirmation_id, transaction_hash };
//! let (options_json, state) = rp.begin_approval(&passkeys, &binding)?;
//! //   options_json -> page -> navigator.credentials.get() -> client_json
//! let approved = rp.finish_approval(state, &binding, &client_json)?;
//! passkey.record_approval(&approved)?; // then store the record again
//! ```
//!
//! # Where it is used
//!
//! Only the signer depends on this crate (`custos_signer::second_factor`): the pool serves
//! the HTTPS page and carries the browser's JSON to the signer inside the sealed channel;
//! the signer runs the ceremonies, keeps the [`StoredPasskey`]s encrypted in the user's
//! authenticated security record, and gates withdrawals, exports and security changes on
//! [`ApprovedBy`]. The bridge and the pool do not depend on it.
//!
//! # Crate graph
//!
//! The normal dependencies are webauthn-rs (pure-Rust crypto, without its default
//! `attestation` feature, with `danger-allow-state-serialisation` so that ceremony state
//! can be kept as bytes), serde/serde_json, sha2, subtle, getrandom, base64 and
//! thiserror. `cargo tree -p custos-passkey -e normal` contains none of the crates the
//! signer must not link (tokio, mio, socket2, hyper, h2, http, tonic, tower, axum,
//! reqwest, rustls, openssl, rusqlite, ...): webauthn-rs brings `url`, `uuid`, `rand`,
//! RustCrypto curves and an X.509 parser, and no network, runtime or database crate. The
//! software authenticator of the tests (passkey-client, passkey-authenticator) is a
//! dev-dependency only.
//!
//! # How an approval is bound to a confirmation and a transaction
//!
//! [`Passkeys::begin_approval`] draws 16 random bytes (the nonce) and sets the WebAuthn
//! challenge to
//!
//! ```text
//! challenge = SHA-256("custos/v1/passkey-approval" || confirmation_id (16 bytes)
//!                     || transaction_hash (32 bytes) || nonce (16 bytes))
//! ```
//!
//! (every field has a fixed length, so the concatenation is unambiguous; see
//! [`ApprovalBinding::challenge`]). The challenge replaces the random one webauthn-rs drew,
//! both in the options sent to the browser and in webauthn-rs's own ceremony state. The
//! [`AuthenticationState`] keeps the binding, the nonce and an expiry.
//!
//! The authenticator signs `authenticatorData || SHA-256(clientDataJSON)`, and
//! `clientDataJSON` contains the challenge, so the signature commits to the confirmation id
//! and the transaction hash. [`Passkeys::finish_approval`] is given the binding again by its
//! caller (the signer takes it from its own confirmation, never from the browser), and
//! refuses the assertion unless:
//!
//! 1. the state was made for that same binding ([`PasskeyError::BindingMismatch`]),
//! 2. the challenge recomputed from that binding and the state's nonce is the one in the
//!    state (so a state whose challenge was altered is refused too:
//!    [`PasskeyError::MalformedState`]),
//! 3. webauthn-rs accepts the assertion for that challenge: `clientDataJSON` names it
//!    ([`PasskeyError::ChallengeMismatch`]: an assertion made for another confirmation,
//!    another transaction or another ceremony), the origin is the configured one
//!    ([`PasskeyError::WrongOrigin`]), the RP id hash matches, the credential is one of
//!    the user's ([`PasskeyError::UnknownCredential`]), the signature is valid
//!    ([`PasskeyError::InvalidSignature`]), user verification was performed
//!    ([`PasskeyError::UserNotVerified`]: the request says `required`, and the UV flag is
//!    checked again on the result) and the signature counter did not go backwards
//!    ([`PasskeyError::CounterRegressed`]),
//! 4. the challenge has not been used before ([`PasskeyError::Replayed`]).
//!
//! # Single use and replay
//!
//! Many passkeys (synchronised ones in particular) always report a signature counter of
//! 0, so the counter cannot be relied on to stop a replay. Each [`Passkeys`] therefore
//! remembers the challenge of every ceremony it finished successfully until that ceremony's
//! expiry (after which its state is refused anyway, [`PasskeyError::StateExpired`]): the
//! same assertion submitted twice is refused the second time, even with a copy of the
//! state. Memory is bounded by the number of successful ceremonies within one
//! [`CEREMONY_TIMEOUT`]. This record lives in memory, like the signer's pending
//! confirmations, and does not survive a restart; neither do states kept in the signer's
//! memory. A state kept anywhere else must be sealed by the caller (it is not
//! authenticated by this crate), and states must not outlive a restart of the process that
//! verifies them.
//!
//! # Storage
//!
//! A [`StoredPasskey`] is public data (a credential id, a public key, a counter and some
//! flags) but it decides who can approve: keep it only in the user's authenticated
//! security record. After each approval, [`StoredPasskey::record_approval`] updates its
//! counter. This crate checks that a new credential is not one of the user's existing
//! passkeys; that it is not registered to another user is the caller's check.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The shared test helpers name the crate by its package name.
#[cfg(test)]
extern crate self as custos_passkey;

mod binding;
mod ceremony;
mod config;
mod error;
mod spent;
mod state;
mod stored;

pub use binding::{ApprovalBinding, APPROVAL_DOMAIN};
pub use ceremony::{ApprovedBy, Passkeys};
pub use config::{PasskeyConfig, CEREMONY_TIMEOUT};
pub use error::{ConfigError, PasskeyError};
pub use state::{AuthenticationState, RegistrationState};
pub use stored::StoredPasskey;

/// The URL type of [`PasskeyConfig::rp_origin`] (re-exported from webauthn-rs).
pub use webauthn_rs::prelude::Url;
/// The user handle type of [`Passkeys::begin_registration`] (re-exported from webauthn-rs).
pub use webauthn_rs::prelude::Uuid;
