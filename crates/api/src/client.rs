//! Connecting to a running Custos from its data directory.
//!
//! `custos serve` publishes where its API listens in `<data-dir>/run/api.addr`
//! and, in development mode, keeps a CA and a client certificate in
//! `<data-dir>/tls/`. This is the client side of that contract, shared by the
//! CLI, the load generator and tests.

use crate::v1::custos_client::CustosClient;
use crate::v1::{
    AwaitDecisionRequest, AwaitDecisionResponse, CreateLinkRequest, CreateLinkResponse,
    DecisionStatus, GetLinkRequest, GetLinkResponse,
};
use std::path::Path;
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// File (relative to the data dir) holding the API's listen address.
pub const API_ADDR_FILE: &str = "run/api.addr";
/// Directory (relative to the data dir) holding TLS material.
pub const TLS_DIR: &str = "tls";
/// CA certificate that both sides trust.
pub const CA_CERT: &str = "ca.pem";
/// Client certificate.
pub const CLIENT_CERT: &str = "client.pem";
/// Client private key.
pub const CLIENT_KEY: &str = "client.key";
/// Name the server's certificate is issued to.
pub const SERVER_NAME: &str = "localhost";

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Opens one connection (one TCP + TLS + HTTP/2 session) to the server whose
/// address and client credentials are in `data_dir`. Errors are one line.
pub async fn connect(data_dir: &Path) -> Result<CustosClient<Channel>, String> {
    let addr_file = data_dir.join(API_ADDR_FILE);
    let addr = std::fs::read_to_string(&addr_file).map_err(|e| {
        format!(
            "no running Custos found for data dir {} ({}: {e}); start it with `custos serve --data-dir {}`",
            data_dir.display(),
            addr_file.display(),
            data_dir.display()
        )
    })?;
    let addr = addr.trim();
    let tls = data_dir.join(TLS_DIR);
    let config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(&tls.join(CA_CERT))?))
        .identity(Identity::from_pem(
            read(&tls.join(CLIENT_CERT))?,
            read(&tls.join(CLIENT_KEY))?,
        ))
        .domain_name(SERVER_NAME);
    let channel = Channel::from_shared(format!("https://{addr}"))
        .map_err(|e| e.to_string())?
        .tls_config(config)
        .map_err(|e| e.to_string())?
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|e| format!("cannot connect to Custos at {addr}: {e}"))?;
    Ok(CustosClient::new(channel).max_decoding_message_size(64 * 1024 * 1024))
}

/// Longest wait the server grants one `AwaitDecision` call (10 minutes).
pub const MAX_AWAIT_PER_CALL: Duration = Duration::from_secs(600);

/// `CreateLink`: a one-time `https://t.me/<bot>?start=<payload>` link that binds the
/// user's Telegram account once opened. `FAILED_PRECONDITION` when no bot is
/// configured or connected yet, or the user is already linked.
pub async fn create_link(
    client: &mut CustosClient<Channel>,
    user_id: &str,
) -> Result<CreateLinkResponse, tonic::Status> {
    client
        .create_link(CreateLinkRequest {
            user_id: user_id.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// `GetLink`: whether the user has linked a Telegram account, and which.
pub async fn get_link(
    client: &mut CustosClient<Channel>,
    user_id: &str,
) -> Result<GetLinkResponse, tonic::Status> {
    client
        .get_link(GetLinkRequest {
            user_id: user_id.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// `AwaitDecision`, for as long as `timeout` (any length: longer waits are made of
/// several calls of at most [`MAX_AWAIT_PER_CALL`]). Returns the first answer that is
/// no longer PENDING, or the PENDING answer once `timeout` has passed. A zero timeout
/// asks once and returns at once.
pub async fn await_decision(
    client: &mut CustosClient<Channel>,
    confirmation_id: &str,
    timeout: Duration,
) -> Result<AwaitDecisionResponse, tonic::Status> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let wait = left.min(MAX_AWAIT_PER_CALL);
        let answer = client
            .await_decision(AwaitDecisionRequest {
                confirmation_id: confirmation_id.to_owned(),
                timeout_ms: wait.as_millis() as u64,
            })
            .await?
            .into_inner();
        if answer.status != DecisionStatus::Pending as i32 || left <= wait {
            return Ok(answer);
        }
    }
}

/// The lowercase name of a [`DecisionStatus`] value ("pending", "approved",
/// "rejected", "expired", "failed", "exported"; "unspecified" for anything else).
pub fn decision_status_name(status: i32) -> &'static str {
    match DecisionStatus::try_from(status) {
        Ok(DecisionStatus::Pending) => "pending",
        Ok(DecisionStatus::Approved) => "approved",
        Ok(DecisionStatus::Rejected) => "rejected",
        Ok(DecisionStatus::Expired) => "expired",
        Ok(DecisionStatus::Failed) => "failed",
        Ok(DecisionStatus::Exported) => "exported",
        Ok(DecisionStatus::Unspecified) | Err(_) => "unspecified",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_status_names() {
        assert_eq!(
            decision_status_name(DecisionStatus::Approved as i32),
            "approved"
        );
        assert_eq!(
            decision_status_name(DecisionStatus::Failed as i32),
            "failed"
        );
        assert_eq!(decision_status_name(0), "unspecified");
        assert_eq!(decision_status_name(99), "unspecified");
    }
}
