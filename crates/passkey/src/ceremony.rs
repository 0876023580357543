//! The ceremonies.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use subtle::ConstantTimeEq;
use webauthn_rs::prelude::{
    AuthenticationResult, PasskeyAuthentication, PublicKeyCredential, RegisterPublicKeyCredential,
    Uuid, Webauthn, WebauthnBuilder,
};

use crate::binding::{ApprovalBinding, NONCE_LEN};
use crate::config::{PasskeyConfig, CEREMONY_TIMEOUT};
use crate::error::{ConfigError, PasskeyError};
use crate::spent::Spent;
use crate::state::{AuthenticationState, RegistrationState};
use crate::stored::StoredPasskey;

/// The outcome of a successful approval: which passkey approved, and its counter.
#[derive(Debug, Clone)]
pub struct ApprovedBy {
    /// The credential id of the passkey that approved.
    pub credential_id: Vec<u8>,
    /// The signature counter the authenticator reported (0 for authenticators without
    /// one, which includes most synchronised passkeys).
    pub counter: u32,
    pub(crate) result: AuthenticationResult,
}

/// The relying party: runs registrations and approvals for one RP id and one origin.
///
/// It is `Send + Sync`; the only state it keeps is the set of challenges already used
/// (see the crate docs, "Single use and replay"), so use one instance per process.
#[derive(Debug)]
pub struct Passkeys {
    webauthn: Webauthn,
    config: PasskeyConfig,
    spent: Mutex<Spent>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Replaces the challenge webauthn-rs drew in a serialised ceremony state by `new`.
/// Returns the old challenge. `field` is the state's wrapper field (`ast` or `rs`).
fn state_challenge(
    state: &mut serde_json::Value,
    field: &str,
    new: Option<&[u8]>,
) -> Option<Vec<u8>> {
    let slot = state.get_mut(field)?.get_mut("challenge")?;
    let old = URL_SAFE_NO_PAD.decode(slot.as_str()?).ok()?;
    if let Some(new) = new {
        *slot = serde_json::Value::String(URL_SAFE_NO_PAD.encode(new));
    }
    Some(old)
}

impl Passkeys {
    /// Checks `config` and builds the relying party.
    pub fn new(config: PasskeyConfig) -> Result<Self, ConfigError> {
        if config.rp_id.is_empty() || config.rp_name.is_empty() {
            return Err(ConfigError::Empty);
        }
        let o = &config.rp_origin;
        if o.scheme() != "https"
            || o.domain().is_none()
            || !o.username().is_empty()
            || o.password().is_some()
            || o.path() != "/"
            || o.query().is_some()
            || o.fragment().is_some()
        {
            return Err(ConfigError::BadOrigin);
        }
        let host = o.domain().unwrap_or_default();
        if host != config.rp_id && !host.ends_with(&format!(".{}", config.rp_id)) {
            return Err(ConfigError::OriginNotInRpId);
        }
        let webauthn = WebauthnBuilder::new(&config.rp_id, &config.rp_origin)
            .map_err(|e| ConfigError::Webauthn(e.to_string()))?
            .rp_name(&config.rp_name)
            .timeout(CEREMONY_TIMEOUT)
            .build()
            .map_err(|e| ConfigError::Webauthn(e.to_string()))?;
        Ok(Self {
            webauthn,
            config,
            spent: Mutex::new(Spent::default()),
        })
    }

    /// The configuration this relying party was built from.
    pub fn config(&self) -> &PasskeyConfig {
        &self.config
    }

    /// Starts registering a passkey for the user `user_id` (shown by the browser as the
    /// account name) whose WebAuthn user handle is `user_uuid`. `existing` are the
    /// user's passkeys: the browser is told not to register one of them again, and
    /// [`finish_registration`](Self::finish_registration) refuses one.
    ///
    /// Returns the `CreationChallengeResponse` JSON for `navigator.credentials.create()`
    /// (user verification required, no attestation) and the state to keep.
    pub fn begin_registration(
        &self,
        user_id: &str,
        user_uuid: Uuid,
        existing: &[StoredPasskey],
    ) -> Result<(String, RegistrationState), PasskeyError> {
        if user_id.is_empty() {
            return Err(PasskeyError::InvalidUser);
        }
        let existing: Vec<Vec<u8>> = existing
            .iter()
            .map(|p| p.credential_id().to_vec())
            .collect();
        let exclude = (!existing.is_empty()).then(|| existing.clone());
        let (ccr, reg) = self
            .webauthn
            .start_passkey_registration(user_uuid, user_id, user_id, exclude)
            .map_err(PasskeyError::from_webauthn)?;
        let mut value = serde_json::to_value(&reg).map_err(|_| PasskeyError::MalformedState)?;
        let challenge =
            state_challenge(&mut value, "rs", None).ok_or(PasskeyError::MalformedState)?;
        let json = serde_json::to_string(&ccr).map_err(|_| PasskeyError::MalformedState)?;
        let state = RegistrationState::new(
            user_uuid,
            challenge,
            now().saturating_add(CEREMONY_TIMEOUT.as_secs()),
            existing,
            reg,
        );
        Ok((json, state))
    }

    /// Finishes a registration with the browser's answer (the JSON of the
    /// `PublicKeyCredential` that `navigator.credentials.create()` returned).
    pub fn finish_registration(
        &self,
        state: RegistrationState,
        client_json: &str,
    ) -> Result<StoredPasskey, PasskeyError> {
        self.finish_registration_at(state, client_json, now())
    }

    pub(crate) fn finish_registration_at(
        &self,
        state: RegistrationState,
        client_json: &str,
        now: u64,
    ) -> Result<StoredPasskey, PasskeyError> {
        if now > state.expires_at {
            return Err(PasskeyError::StateExpired);
        }
        if self.is_spent(&state.challenge) {
            return Err(PasskeyError::Replayed);
        }
        let reg: RegisterPublicKeyCredential = serde_json::from_str(client_json)
            .map_err(|e| PasskeyError::MalformedResponse(e.to_string()))?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&reg, &state.inner)
            .map_err(PasskeyError::from_webauthn)?;
        if state
            .existing
            .iter()
            .any(|id| id.as_slice() == passkey.cred_id().as_slice())
        {
            return Err(PasskeyError::CredentialAlreadyRegistered);
        }
        self.spend(&state.challenge, state.expires_at, now)?;
        Ok(StoredPasskey::new(passkey))
    }

    /// Starts an approval of `binding` with one of `passkeys` (the user's).
    ///
    /// Returns the `RequestChallengeResponse` JSON for `navigator.credentials.get()`
    /// (user verification required; the challenge is derived from the binding, see the
    /// crate docs) and the state to keep.
    pub fn begin_approval(
        &self,
        passkeys: &[StoredPasskey],
        binding: &ApprovalBinding,
    ) -> Result<(String, AuthenticationState), PasskeyError> {
        self.begin_approval_at(passkeys, binding, now())
    }

    pub(crate) fn begin_approval_at(
        &self,
        passkeys: &[StoredPasskey],
        binding: &ApprovalBinding,
        now: u64,
    ) -> Result<(String, AuthenticationState), PasskeyError> {
        if passkeys.is_empty() {
            return Err(PasskeyError::NoPasskeys);
        }
        let creds: Vec<_> = passkeys.iter().map(|p| p.passkey().clone()).collect();
        let (mut rcr, auth) = self
            .webauthn
            .start_passkey_authentication(&creds)
            .map_err(PasskeyError::from_webauthn)?;

        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce).map_err(|_| PasskeyError::Random)?;
        let challenge = binding.challenge(&nonce);

        // Put the bound challenge in place of the random one webauthn-rs drew: in the
        // options for the browser, and in webauthn-rs's own state (which checks it).
        let mut value = serde_json::to_value(&auth).map_err(|_| PasskeyError::MalformedState)?;
        let drawn = state_challenge(&mut value, "ast", Some(&challenge))
            .ok_or(PasskeyError::MalformedState)?;
        if drawn != rcr.public_key.challenge {
            return Err(PasskeyError::MalformedState);
        }
        rcr.public_key.challenge = challenge.to_vec();
        let auth: PasskeyAuthentication =
            serde_json::from_value(value).map_err(|_| PasskeyError::MalformedState)?;

        let json = serde_json::to_string(&rcr).map_err(|_| PasskeyError::MalformedState)?;
        let state = AuthenticationState::new(
            binding,
            nonce,
            now.saturating_add(CEREMONY_TIMEOUT.as_secs()),
            auth,
        );
        Ok((json, state))
    }

    /// Finishes an approval of `binding` with the browser's answer (the JSON of the
    /// `PublicKeyCredential` that `navigator.credentials.get()` returned).
    ///
    /// `binding` must come from the caller's own record of what is being approved, never
    /// from the browser. See the crate docs for every check made.
    pub fn finish_approval(
        &self,
        state: AuthenticationState,
        binding: &ApprovalBinding,
        client_json: &str,
    ) -> Result<ApprovedBy, PasskeyError> {
        self.finish_approval_at(state, binding, client_json, now())
    }

    pub(crate) fn finish_approval_at(
        &self,
        state: AuthenticationState,
        binding: &ApprovalBinding,
        client_json: &str,
        now: u64,
    ) -> Result<ApprovedBy, PasskeyError> {
        if !state.binding().ct_eq(binding) {
            return Err(PasskeyError::BindingMismatch);
        }
        if now > state.expires_at {
            return Err(PasskeyError::StateExpired);
        }
        // The challenge webauthn-rs will check must be the one derived from the binding.
        let expected = binding.challenge(&state.nonce);
        let mut value =
            serde_json::to_value(&state.inner).map_err(|_| PasskeyError::MalformedState)?;
        let in_state =
            state_challenge(&mut value, "ast", None).ok_or(PasskeyError::MalformedState)?;
        if in_state.ct_eq(&expected).unwrap_u8() != 1 {
            return Err(PasskeyError::MalformedState);
        }
        if self.is_spent(&expected) {
            return Err(PasskeyError::Replayed);
        }
        let cred: PublicKeyCredential = serde_json::from_str(client_json)
            .map_err(|e| PasskeyError::MalformedResponse(e.to_string()))?;
        let result = self
            .webauthn
            .finish_passkey_authentication(&cred, &state.inner)
            .map_err(PasskeyError::from_webauthn)?;
        // webauthn-rs enforces the `required` policy; check the flag again regardless.
        if !result.user_verified() {
            return Err(PasskeyError::UserNotVerified);
        }
        self.spend(&expected, state.expires_at, now)?;
        Ok(ApprovedBy {
            credential_id: result.cred_id().to_vec(),
            counter: result.counter(),
            result,
        })
    }

    fn is_spent(&self, challenge: &[u8]) -> bool {
        self.spent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(challenge)
    }

    fn spend(&self, challenge: &[u8], expires_at: u64, now: u64) -> Result<(), PasskeyError> {
        let fresh = self
            .spent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(challenge, expires_at, now);
        if fresh {
            Ok(())
        } else {
            Err(PasskeyError::Replayed)
        }
    }
}

// The software authenticator of the integration tests, for the tests below that need
// to move the clock.
#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod common;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ceremony::common;

    fn config(origin: &str) -> PasskeyConfig {
        PasskeyConfig {
            rp_id: "localhost".into(),
            rp_origin: origin.parse().unwrap(),
            rp_name: "Custos".into(),
        }
    }

    #[test]
    fn config_is_checked() {
        assert!(Passkeys::new(config("https://localhost:8443")).is_ok());
        assert_eq!(
            Passkeys::new(config("http://localhost:8443")).unwrap_err(),
            ConfigError::BadOrigin
        );
        assert_eq!(
            Passkeys::new(config("https://localhost:8443/page")).unwrap_err(),
            ConfigError::BadOrigin
        );
        assert_eq!(
            Passkeys::new(config("https://example.com")).unwrap_err(),
            ConfigError::OriginNotInRpId
        );
        assert_eq!(
            Passkeys::new(config("https://notlocalhost")).unwrap_err(),
            ConfigError::OriginNotInRpId
        );
        let mut c = config("https://localhost");
        c.rp_name.clear();
        assert_eq!(Passkeys::new(c).unwrap_err(), ConfigError::Empty);
    }

    #[test]
    fn begin_errors() {
        let p = Passkeys::new(config("https://localhost:8443")).unwrap();
        let b = ApprovalBinding {
            confirmation_id: [0; 16],
            transaction_hash: [0; 32],
        };
        assert!(matches!(
            p.begin_approval(&[], &b),
            Err(PasskeyError::NoPasskeys)
        ));
        assert!(matches!(
            p.begin_registration("", Uuid::nil(), &[]),
            Err(PasskeyError::InvalidUser)
        ));
    }

    #[test]
    fn expired_states_are_refused() {
        let p = common::passkeys();
        let mut dev = common::Device::new();

        let (options, state) = p.begin_registration("alice", Uuid::new_v4(), &[]).unwrap();
        let response = dev.register(&options).unwrap();
        let expiry = state.expires_at();
        let copy = state.to_bytes();
        assert!(matches!(
            p.finish_registration_at(state, &response, expiry + 1),
            Err(PasskeyError::StateExpired)
        ));
        let state = RegistrationState::from_bytes(&copy).unwrap();
        let stored = p.finish_registration_at(state, &response, expiry).unwrap();

        let b = ApprovalBinding {
            confirmation_id: [1; 16],
            transaction_hash: [2; 32],
        };
        let (options, state) = p.begin_approval_at(&[stored], &b, 1_000).unwrap();
        assert_eq!(state.expires_at(), 1_000 + CEREMONY_TIMEOUT.as_secs());
        let response = dev.approve(&options).unwrap();
        let copy = state.to_bytes();
        let again = || AuthenticationState::from_bytes(&copy).unwrap();
        assert!(matches!(
            p.finish_approval_at(state, &b, &response, 1_301),
            Err(PasskeyError::StateExpired)
        ));
        assert!(p.finish_approval_at(again(), &b, &response, 1_300).is_ok());
        assert!(matches!(
            p.finish_approval_at(again(), &b, &response, 1_300),
            Err(PasskeyError::Replayed)
        ));
        // Once the ceremony has expired its challenge may be forgotten: the state is
        // refused as expired anyway.
        assert!(matches!(
            p.finish_approval_at(again(), &b, &response, 1_301),
            Err(PasskeyError::StateExpired)
        ));
    }
}
