//! The Custos pool process.
//!
//! In the finished system this is the only process that talks to Telegram:
//! an HTTPS client pool holding the signer bot's token, with rate limits and
//! retries, relaying end-to-end authenticated messages between the signer and
//! the user through the bridge. The Telegram client arrives in a later issue;
//! today the process is wired in (it holds its socket to the bridge and its
//! control socket to the supervisor) and answers health checks, so the
//! process topology is already the final one.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use custos_ipc::control::{ComponentHealth, ControlRequest, ControlResponse};
use custos_ipc::Envelope;
use custos_supervisor::aio;
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;

/// Runs the pool until the supervisor or the bridge hangs up.
pub async fn run(mut bridge: UnixStream, mut control: UnixStream) {
    let mut scratch = [0u8; 1];
    loop {
        tokio::select! {
            msg = aio::read_frame::<Envelope<ControlRequest>, _>(&mut control) => match msg {
                Ok(Envelope { id, body: ControlRequest::Health }) => {
                    let body = ControlResponse::Health(ComponentHealth {
                        component: "pool".into(),
                        ok: true,
                        detail: "telegram client not configured yet".into(),
                    });
                    if aio::write_frame(&mut control, &Envelope { id, body }).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::info!(reason = %e, "control channel closed; exiting");
                    return;
                }
            },
            // Nothing is relayed yet; a closed bridge socket means shutdown.
            n = bridge.read(&mut scratch) => {
                if !matches!(n, Ok(n) if n > 0) {
                    tracing::info!("bridge closed its socket; exiting");
                    return;
                }
            }
        }
    }
}
