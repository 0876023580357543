//! Webhook mode: instead of long polling, Telegram POSTs each update to the
//! pool's HTTPS listener.
//!
//! * At start the pool draws a random secret (32 bytes, base64url) and calls
//!   `setWebhook` with it as `secret_token`, `max_connections` 1 (updates
//!   come one at a time, in order) and the `allowed_updates` of polling.
//! * A request is accepted only when its `X-Telegram-Bot-Api-Secret-Token`
//!   header equals the secret (compared in constant time); otherwise it gets
//!   401 and is ignored.
//! * The same acknowledgement rule as polling ([`crate::events`]): the pool
//!   answers 200, which is what confirms the update to Telegram, only once the
//!   bridge has acknowledged the events made from it. If that takes longer than
//!   [`WebhookSettings::ack_wait`], the answer is 503 and Telegram delivers the
//!   update again later; a repeated delivery of the update being handled is not
//!   handled twice.

use super::{lock, Core, Running};
use crate::telegram::types::Update;
use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use zeroize::Zeroizing;

/// The header Telegram sends the secret in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
/// Largest update body read.
const MAX_UPDATE_BYTES: usize = 1 << 20;

/// Where and how the pool receives updates in webhook mode.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Address the HTTPS listener binds.
    pub listen: SocketAddr,
    /// The URL Telegram posts to (`https://...`, reaching `listen`).
    pub public_url: String,
    /// The listener's certificate chain (PEM).
    pub cert_pem: PathBuf,
    /// The listener's private key (PEM, PKCS#8, SEC1 or PKCS#1).
    pub key_pem: PathBuf,
    /// How long a delivery waits for the bridge's acknowledgement before it is
    /// answered 503 (default 8 s; Telegram gives up on a webhook call after
    /// some tens of seconds).
    pub ack_wait: Duration,
}

impl WebhookSettings {
    /// Settings with the default [`WebhookSettings::ack_wait`].
    pub fn new(
        listen: SocketAddr,
        public_url: impl Into<String>,
        cert_pem: impl Into<PathBuf>,
        key_pem: impl Into<PathBuf>,
    ) -> Self {
        Self {
            listen,
            public_url: public_url.into(),
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
            ack_wait: Duration::from_secs(8),
        }
    }
}

/// A fresh random secret token (43 characters of `A-Za-z0-9_-`).
fn draw_secret() -> Result<Zeroizing<String>, String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(bytes.as_mut())
        .map_err(|_| "no system randomness for the webhook secret".to_string())?;
    Ok(Zeroizing::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref()),
    ))
}

/// Equality that takes the same time wherever the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(super) fn tls_acceptor(ws: &WebhookSettings) -> Result<TlsAcceptor, String> {
    let certs = crate::rpc::pem_certs(&ws.cert_pem).map_err(|e| {
        format!(
            "webhook certificate {}: {}",
            ws.cert_pem.display(),
            match e {
                crate::rpc::PemError::Read(e) => e.to_string(),
                crate::rpc::PemError::Bad(r) => r,
            }
        )
    })?;
    let key = PrivateKeyDer::from_pem_file(&ws.key_pem)
        .map_err(|e| format!("webhook key {}: {e}", ws.key_pem.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(
            certs.into_iter().map(CertificateDer::into_owned).collect(),
            key,
        )
        .map_err(|e| format!("webhook certificate and key: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

struct Ctx {
    core: Arc<Core>,
    running: Arc<Running>,
    secret: Zeroizing<String>,
    ack_wait: Duration,
    /// The update being handled (or last handled) and the events queued by
    /// then.
    last: Mutex<Option<(i64, u64)>>,
}

/// Binds the listener, serves it in the background and registers the webhook
/// (retrying `setWebhook` until it works). Errors are secret-free.
pub(super) async fn start(
    core: &Arc<Core>,
    running: &Arc<Running>,
    ws: &WebhookSettings,
) -> Result<(), String> {
    let acceptor = match &core.material.webhook_tls {
        Some(Ok(a)) => a.clone(),
        Some(Err(e)) => return Err(e.clone()),
        None => tls_acceptor(ws)?,
    };
    let listener = TcpListener::bind(ws.listen)
        .await
        .map_err(|e| format!("webhook listener {}: {e}", ws.listen))?;
    let secret = draw_secret()?;
    let params = serde_json::json!({
        "url": ws.public_url,
        "secret_token": secret.as_str(),
        "max_connections": 1,
        "allowed_updates": ["message", "callback_query"],
        "drop_pending_updates": false,
    });
    let ctx = Arc::new(Ctx {
        core: core.clone(),
        running: running.clone(),
        secret,
        ack_wait: ws.ack_wait,
        last: Mutex::new(None),
    });
    tracing::info!(listen = %ws.listen, url = %ws.public_url, "telegram webhook listener");
    tokio::spawn(serve(ctx, listener, acceptor));
    let mut shutdown = core.shutdown.clone();
    let mut backoff = Duration::from_millis(200);
    loop {
        let r: Result<bool, _> = running
            .client
            .call("setWebhook", &params, core.settings.request_timeout)
            .await;
        match r {
            Ok(_) => return Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "telegram setWebhook failed; retrying");
                core.set_error(Some(format!("setWebhook: {e}")));
            }
        }
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return Err("shutting down".into()),
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(core.settings.backoff_max);
    }
}

async fn serve(ctx: Arc<Ctx>, listener: TcpListener, acceptor: TlsAcceptor) {
    let mut shutdown = ctx.core.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            a = listener.accept() => a,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "webhook accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (ctx, acceptor) = (ctx.clone(), acceptor.clone());
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "webhook TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            let service = hyper::service::service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, Infallible>(on_request(&ctx, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service);
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => {}
                r = conn => if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "webhook connection ended");
                },
            }
        });
    }
}

fn answer(status: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

async fn on_request(ctx: &Ctx, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::POST {
        return answer(StatusCode::METHOD_NOT_ALLOWED);
    }
    let authentic = req
        .headers()
        .get(SECRET_HEADER)
        .is_some_and(|v| constant_time_eq(v.as_bytes(), ctx.secret.as_bytes()));
    if !authentic {
        tracing::warn!("webhook request without the right secret token ignored");
        return answer(StatusCode::UNAUTHORIZED);
    }
    let body = match Limited::new(req.into_body(), MAX_UPDATE_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return answer(StatusCode::BAD_REQUEST),
    };
    let update: Update = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "webhook update does not decode");
            return answer(StatusCode::BAD_REQUEST);
        }
    };
    let id = update.update_id;
    let seen = match *lock(&ctx.last) {
        Some((last, seq)) if id == last => Some(seq),
        Some((last, _)) if id < last => return answer(StatusCode::OK),
        _ => None,
    };
    let seq = match seen {
        Some(seq) => seq,
        None => {
            let core = &ctx.core;
            core.updates.fetch_add(1, Ordering::Relaxed);
            core.handle_update(&ctx.running, update).await;
            let seq = core.events.queued();
            *lock(&ctx.last) = Some((id, seq));
            seq
        }
    };
    if ctx.core.events.wait_acked(seq, ctx.ack_wait).await {
        answer(StatusCode::OK)
    } else {
        answer(StatusCode::SERVICE_UNAVAILABLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_compared_whole() {
        let (a, b) = (draw_secret().unwrap(), draw_secret().unwrap());
        assert_eq!(a.len(), 43);
        assert_ne!(*a, *b);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-'));
        assert!(constant_time_eq(a.as_bytes(), a.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), b.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), &a.as_bytes()[..42]));
        assert!(!constant_time_eq(b"", a.as_bytes()));
    }
}
