//! The bridge's end of the socket pair to the signer.
//!
//! A [`Link`]: many requests in flight, answers matched by id. If the signer goes
//! away the bridge exits (status 3): without a signer it can do nothing useful, and
//! the supervisor fails closed.

use crate::link::{CallError, Link, LinkConfig};
use custos_ipc::channel::Sealed;
use custos_ipc::signer::{
    AttestRequest, Attestation, CreateLink, LinkCreated, Relay, SignerError, SignerHealth,
    SignerRequest, SignerResponse,
};
use std::time::Duration;

/// How long one signer call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests queued for the writer.
const QUEUE_DEPTH: usize = 4096;

/// Why a signer call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LinkError {
    /// The signer's socket is closed.
    #[error("signer is unavailable")]
    Unavailable,
    /// No answer in time.
    #[error("signer did not answer within {0:?}")]
    Timeout(Duration),
    /// An answer of the wrong type.
    #[error("signer sent an unexpected answer")]
    Unexpected,
}

/// A cloneable handle to the signer.
#[derive(Clone)]
pub struct SignerLink(Link<SignerRequest, SignerResponse>);

impl SignerLink {
    /// Starts the reader and writer tasks on the socket.
    pub fn start(socket: tokio::net::UnixStream) -> Self {
        Self(Link::start(
            socket,
            LinkConfig {
                peer: "signer",
                queue_depth: QUEUE_DEPTH,
                write_buffer: 64 * 1024,
                call_timeout: CALL_TIMEOUT,
                exit_status: 3,
            },
        ))
    }

    /// Sends one request and waits for its answer.
    pub async fn call(&self, body: SignerRequest) -> Result<SignerResponse, LinkError> {
        self.0.call(body).await.map_err(|e| match e {
            CallError::Unavailable => LinkError::Unavailable,
            CallError::Timeout(t) => LinkError::Timeout(t),
        })
    }

    /// Asks for a one-time Telegram link for `user_id`. The outer error is the link's,
    /// the inner one the signer's answer (e.g. `FailedPrecondition`: already linked, or
    /// no bot set up).
    pub async fn create_link(
        &self,
        user_id: String,
        security_record: Option<Vec<u8>>,
    ) -> Result<Result<LinkCreated, SignerError>, LinkError> {
        match self
            .call(SignerRequest::CreateLink(CreateLink {
                user_id,
                security_record,
            }))
            .await?
        {
            SignerResponse::LinkCreated(l) => Ok(Ok(l)),
            SignerResponse::Error(e) => Ok(Err(e)),
            _ => Err(LinkError::Unexpected),
        }
    }

    /// `StartPool`: the pool's sealed configuration, or the signer's refusal
    /// (`FailedPrecondition` when no bot is set up).
    pub async fn start_pool(&self) -> Result<Result<Relay, SignerError>, LinkError> {
        self.relay(SignerRequest::StartPool).await
    }

    /// Hands a sealed message from the pool to the signer.
    pub async fn from_pool(&self, sealed: Sealed) -> Result<Result<Relay, SignerError>, LinkError> {
        self.relay(SignerRequest::FromPool(sealed)).await
    }

    /// The periodic tick (expires overdue confirmations).
    pub async fn tick(&self) -> Result<Result<Relay, SignerError>, LinkError> {
        self.relay(SignerRequest::Tick).await
    }

    async fn relay(&self, body: SignerRequest) -> Result<Result<Relay, SignerError>, LinkError> {
        match self.call(body).await? {
            SignerResponse::Relay(r) => Ok(Ok(r)),
            SignerResponse::Error(e) => Ok(Err(e)),
            _ => Err(LinkError::Unexpected),
        }
    }

    /// Asks the signer for a TPM quote with the caller's nonce (the inner error is the
    /// signer's refusal, e.g. `FailedPrecondition` without a TPM seal).
    pub async fn attest(
        &self,
        nonce: Vec<u8>,
    ) -> Result<Result<Attestation, SignerError>, LinkError> {
        match self
            .call(SignerRequest::Attest(AttestRequest { nonce }))
            .await?
        {
            SignerResponse::Attested(a) => Ok(Ok(a)),
            SignerResponse::Error(e) => Ok(Err(e)),
            _ => Err(LinkError::Unexpected),
        }
    }

    /// Asks the signer for its health.
    pub async fn health(&self) -> Result<SignerHealth, LinkError> {
        match self.call(SignerRequest::Health).await? {
            SignerResponse::Health(h) => Ok(h),
            _ => Err(LinkError::Unexpected),
        }
    }
}
