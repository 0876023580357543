//! The bridge's control channel: answers the supervisor's health checks.

use crate::signer_link::SignerLink;
use custos_ipc::control::{ComponentHealth, ControlRequest, ControlResponse};
use custos_ipc::Envelope;
use custos_store::Store;
use custos_supervisor::aio;
use std::net::SocketAddr;
use std::sync::Arc;

/// What the bridge reports on.
pub struct Status {
    store: Arc<dyn Store>,
    signer: SignerLink,
    api: SocketAddr,
}

impl Status {
    /// Bundles the parts whose health is reported.
    pub fn new(store: Arc<dyn Store>, signer: SignerLink, api: SocketAddr) -> Self {
        Self { store, signer, api }
    }

    /// Checks signer and store.
    pub async fn check(&self) -> ComponentHealth {
        let signer = self.signer.health().await;
        let store = {
            let s = Arc::clone(&self.store);
            tokio::task::spawn_blocking(move || s.health())
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
        };
        let mut problems = Vec::new();
        let seal = match &signer {
            Ok(h) if h.seal_secure => h.seal.clone(),
            Ok(h) => format!("{} (INSECURE)", h.seal),
            Err(e) => {
                problems.push(format!("signer: {e}"));
                "unknown".into()
            }
        };
        if let Err(e) = &store {
            problems.push(format!("store: {e}"));
        }
        ComponentHealth {
            component: "bridge".into(),
            ok: problems.is_empty(),
            detail: if problems.is_empty() {
                format!(
                    "api https://{} (mutual TLS), signer seal {seal}, store ok",
                    self.api
                )
            } else {
                problems.join("; ")
            },
        }
    }
}

/// Serves health checks until the supervisor hangs up, then exits the process.
pub async fn serve(mut socket: tokio::net::UnixStream, status: Status) {
    loop {
        match aio::read_frame::<Envelope<ControlRequest>, _>(&mut socket).await {
            Ok(Envelope {
                id,
                body: ControlRequest::Health,
            }) => {
                let body = ControlResponse::Health(status.check().await);
                if aio::write_frame(&mut socket, &Envelope { id, body })
                    .await
                    .is_err()
                {
                    break;
                }
            }
            Err(e) => {
                tracing::info!(reason = %e, "control channel closed; exiting");
                break;
            }
        }
    }
    std::process::exit(0);
}
