//! Relying-party configuration.

use std::time::Duration;

use webauthn_rs::prelude::Url;

/// How long a ceremony may take, from `begin_*` to `finish_*`. It is also the timeout
/// the browser is given. Five minutes, like a confirmation's default expiry.
pub const CEREMONY_TIMEOUT: Duration = Duration::from_secs(300);

/// The relying party: who the passkeys are for, and the one origin allowed to use them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyConfig {
    /// The RP id, a domain such as `localhost` or `custos.example.com`. Passkeys are
    /// scoped to it: changing it later orphans every registered passkey.
    pub rp_id: String,
    /// The exact origin of the page that runs the ceremonies, such as
    /// `https://localhost:8443`. Scheme, host and port must all match; no other origin
    /// (not a subdomain, not another port) is accepted.
    pub rp_origin: Url,
    /// The name browsers show for the relying party, such as `Custos`.
    pub rp_name: String,
}
