//! Errors.

use webauthn_rs::prelude::WebauthnError;

/// Why a [`PasskeyConfig`](crate::PasskeyConfig) was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The RP id or the RP name is empty.
    #[error("the relying party id and name must not be empty")]
    Empty,
    /// The origin is not `https://host[:port]` (with no path, query or fragment).
    #[error("the origin must be https://host[:port] with nothing after it")]
    BadOrigin,
    /// The origin's host is neither the RP id nor a subdomain of it.
    #[error("the origin's host is not the relying party id or a subdomain of it")]
    OriginNotInRpId,
    /// webauthn-rs refused the configuration.
    #[error("webauthn-rs refused the configuration: {0}")]
    Webauthn(String),
}

/// Why a ceremony failed. Each refusal has its own variant; none of them changes
/// anything (a failed `finish_*` records nothing).
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The user id is empty.
    #[error("the user id must not be empty")]
    InvalidUser,
    /// `begin_approval` was given no passkey.
    #[error("the user has no passkey")]
    NoPasskeys,
    /// The system random number generator failed.
    #[error("the random number generator failed")]
    Random,
    /// The browser's JSON is not a WebAuthn response of the expected kind.
    #[error("malformed WebAuthn response: {0}")]
    MalformedResponse(String),
    /// The state bytes are not a state of this version, or were altered.
    #[error("malformed ceremony state")]
    MalformedState,
    /// The stored passkey bytes are not a passkey of this version.
    #[error("malformed stored passkey")]
    MalformedPasskey,
    /// The ceremony is older than [`CEREMONY_TIMEOUT`](crate::CEREMONY_TIMEOUT).
    #[error("the ceremony has expired")]
    StateExpired,
    /// The state was made for another confirmation or another transaction than the one
    /// being approved.
    #[error("the ceremony was started for another confirmation or transaction")]
    BindingMismatch,
    /// The response answers another challenge: it was made for another confirmation,
    /// another transaction or another ceremony.
    #[error("the response answers another challenge")]
    ChallengeMismatch,
    /// `clientDataJSON` names another origin than the configured one.
    #[error("the response comes from another origin")]
    WrongOrigin,
    /// The authenticator data is for another RP id.
    #[error("the response is for another relying party id")]
    WrongRpId,
    /// `clientDataJSON.type` is not the one of this ceremony (`webauthn.create` or
    /// `webauthn.get`).
    #[error("the response is for another kind of ceremony")]
    WrongCeremonyType,
    /// The authenticator did not verify the user (UV flag not set). Required for every
    /// registration and every approval.
    #[error("the authenticator did not verify the user")]
    UserNotVerified,
    /// The authenticator did not test user presence (UP flag not set).
    #[error("the authenticator did not test user presence")]
    UserNotPresent,
    /// The assertion was made with a credential that is not one of the passkeys the
    /// ceremony was started with.
    #[error("the credential is not one of the user's passkeys")]
    UnknownCredential,
    /// The signature does not verify (altered `clientDataJSON`, authenticator data or
    /// signature).
    #[error("the signature does not verify")]
    InvalidSignature,
    /// The signature counter did not increase: the authenticator may have been cloned.
    #[error("the signature counter went backwards: possibly a cloned authenticator")]
    CounterRegressed,
    /// The response was already accepted once.
    #[error("the response was already used")]
    Replayed,
    /// The new credential is already one of the user's passkeys.
    #[error("this passkey is already registered")]
    CredentialAlreadyRegistered,
    /// The approval given to [`StoredPasskey::record_approval`](crate::StoredPasskey::record_approval)
    /// was made with another credential.
    #[error("the approval was made with another passkey")]
    OtherCredential,
    /// Any other refusal by webauthn-rs (unsupported algorithm, malformed authenticator
    /// data, ...).
    #[error("webauthn-rs refused the response: {0}")]
    Webauthn(WebauthnError),
}

impl PasskeyError {
    /// Maps a webauthn-rs error to the precise variant.
    pub(crate) fn from_webauthn(e: WebauthnError) -> Self {
        match e {
            WebauthnError::MismatchedChallenge => Self::ChallengeMismatch,
            WebauthnError::InvalidRPOrigin | WebauthnError::CredentialCrossOrigin => {
                Self::WrongOrigin
            }
            WebauthnError::InvalidRPIDHash => Self::WrongRpId,
            WebauthnError::InvalidClientDataType => Self::WrongCeremonyType,
            WebauthnError::UserNotVerified => Self::UserNotVerified,
            WebauthnError::UserNotPresent => Self::UserNotPresent,
            WebauthnError::CredentialNotFound => Self::UnknownCredential,
            WebauthnError::AuthenticationFailure | WebauthnError::SignatureInvalid => {
                Self::InvalidSignature
            }
            WebauthnError::CredentialPossibleCompromise => Self::CounterRegressed,
            WebauthnError::CredentialAlreadyExists
            | WebauthnError::CredentialExcludedFromRequest => Self::CredentialAlreadyRegistered,
            WebauthnError::ParseJSONFailure(e) => Self::MalformedResponse(e.to_string()),
            other => Self::Webauthn(other),
        }
    }
}
