//! A software authenticator (passkey-rs) driven like a browser would drive one.

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake};

use custos_passkey::{PasskeyConfig, Passkeys, Url};
use passkey_authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod};
use passkey_client::{Client, DefaultClientData, WebauthnError};
use passkey_crypto::rust_crypto::RustCryptoBackend;
use passkey_types::ctap2::{Aaguid, Ctap2Error};
use passkey_types::webauthn::{CredentialCreationOptions, CredentialRequestOptions};
use passkey_types::Passkey;

/// The origin of the Custos page in these tests.
pub const ORIGIN: &str = "https://localhost:8443";

pub fn passkeys() -> Passkeys {
    Passkeys::new(PasskeyConfig {
        rp_id: "localhost".into(),
        rp_origin: ORIGIN.parse().unwrap(),
        rp_name: "Custos".into(),
    })
    .unwrap()
}

/// Runs a future that never waits on I/O (the software authenticator's).
pub fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark()
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// The user at the authenticator. Present always; verified only when the authenticator
/// can verify (`can_verify`) *and* the request asks for it: it honours the requested
/// flag, so a request downgraded to `discouraged` yields an assertion without UV.
pub struct User {
    pub can_verify: bool,
}

impl UserValidationMethod for User {
    type PasskeyItem = Passkey;

    fn check_user<'a, 'life0, 'async_trait>(
        &'life0 self,
        _hint: UiHint<'a, Self::PasskeyItem>,
        presence: bool,
        verification: bool,
    ) -> Pin<Box<dyn Future<Output = Result<UserCheck, Ctap2Error>> + Send + 'async_trait>>
    where
        'a: 'async_trait,
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let check = UserCheck {
            presence,
            verification: verification && self.can_verify,
        };
        Box::pin(async move { Ok(check) })
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        self.can_verify.then_some(true)
    }
}

/// A device: one software authenticator holding at most one passkey, behind a client
/// that plays the browser at `origin`.
pub struct Device {
    client: Client<Option<Passkey>, User, RustCryptoBackend, public_suffix::PublicSuffixList, ()>,
    pub origin: Url,
}

impl Device {
    /// A device that can verify its user, at the Custos origin.
    pub fn new() -> Self {
        Self::with(None, true, false)
    }

    /// A device with the given store, user-verification capability and counter policy.
    pub fn with(store: Option<Passkey>, can_verify: bool, counter: bool) -> Self {
        let mut auth = Authenticator::new(
            Aaguid::new_empty(),
            store,
            User { can_verify },
            RustCryptoBackend,
        );
        auth.set_make_credentials_with_signature_counter(counter);
        Self {
            client: Client::new(auth).allows_insecure_localhost(true),
            origin: ORIGIN.parse().unwrap(),
        }
    }

    /// The same passkey on another device (a clone of the store).
    pub fn clone_with(&self, can_verify: bool) -> Self {
        Self::with(
            self.client.authenticator().store().clone(),
            can_verify,
            false,
        )
    }

    /// Answers `navigator.credentials.create(options)`; returns the response JSON.
    pub fn register(&mut self, options_json: &str) -> Result<String, WebauthnError> {
        let options: CredentialCreationOptions = serde_json::from_str(options_json).unwrap();
        let origin = self.origin.clone();
        let created = block_on(self.client.register(&origin, options, DefaultClientData))?;
        Ok(serde_json::to_string(&created).unwrap())
    }

    /// Answers `navigator.credentials.get(options)`; returns the response JSON.
    pub fn approve(&mut self, options_json: &str) -> Result<String, WebauthnError> {
        let options: CredentialRequestOptions = serde_json::from_str(options_json).unwrap();
        let origin = self.origin.clone();
        let asserted = block_on(
            self.client
                .authenticate(&origin, options, DefaultClientData),
        )?;
        Ok(serde_json::to_string(&asserted).unwrap())
    }
}
