//! The HTTPS listener of the page: routing, limits, the origin check and the security
//! headers every response carries.

use super::assets;
use super::hub::{PageHub, RelayError};
use super::PageOrigin;
use custos_ipc::telegram::{SecretString, MAX_PAGE_BODY};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use zeroize::Zeroizing;

/// The API path.
pub const API_PATH: &str = "/p/api";
/// Connections served at once; further ones wait in the kernel's accept queue.
pub const MAX_CONNECTIONS: usize = 512;
/// Time allowed for a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for reading a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Age after which a connection is closed (after its request in flight, if any).
const MAX_CONNECTION_AGE: Duration = Duration::from_secs(120);
/// Time allowed for reading a request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The Content-Security-Policy of every response: only the page's own script, style and
/// API; no framing, no forms, no `<base>`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

/// Headers set on every response, whatever its status.
const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("strict-transport-security", "max-age=63072000"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

/// Serves the page on `listener` until the returned future is dropped (which also ends
/// every connection it serves).
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    hub: Arc<PageHub>,
    origin: PageOrigin,
) {
    let acceptor = TlsAcceptor::from(tls);
    let origin = Arc::new(origin);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    // Connection tasks live in the set, so dropping `serve` aborts them all.
    let mut connections = JoinSet::new();
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "page accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (acceptor, hub, origin) = (acceptor.clone(), hub.clone(), origin.clone());
        connections.spawn(async move {
            let _slot = slot;
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "page TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let service = hyper::service::service_fn(move |req| {
                let (hub, origin) = (hub.clone(), origin.clone());
                async move { Ok::<_, Infallible>(handle(&hub, &origin, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(tls), service);
            tokio::pin!(conn);
            // An old connection is closed once its request in flight is answered, so
            // idle keep-alive connections cannot hold the slots forever.
            let r = tokio::select! {
                r = conn.as_mut() => r,
                () = tokio::time::sleep(MAX_CONNECTION_AGE) => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "page connection ended");
            }
        });
    }
}

/// Answers one request (the routes are listed in the module docs of [`super`]).
async fn handle(
    hub: &PageHub,
    origin: &PageOrigin,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let mut response = route(hub, origin, req).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(*name, HeaderValue::from_static(value));
    }
    response
}

async fn route(
    hub: &PageHub,
    origin: &PageOrigin,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    // A request another site's page made (CSRF) carries that site's origin.
    // Every Origin header must be ours: a request with two cannot pass on the first.
    let foreign = req
        .headers()
        .get_all(header::ORIGIN)
        .iter()
        .any(|o| o.as_bytes() != origin.as_str().as_bytes());
    if foreign {
        tracing::debug!("page request from a foreign origin refused");
        return error(StatusCode::FORBIDDEN, "foreign origin");
    }
    let path = req.uri().path();
    if path == API_PATH {
        if req.method() != Method::POST {
            return not_allowed("POST");
        }
        return api(hub, req).await;
    }
    match assets::find(path) {
        Some(asset) if req.method() == Method::GET => {
            let mut r = Response::new(Full::new(Bytes::from_static(asset.body.as_bytes())));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            );
            r
        }
        Some(_) => not_allowed("GET"),
        None => error(StatusCode::NOT_FOUND, "not found"),
    }
}

async fn api(hub: &PageHub, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if !is_json(req.headers().get(header::CONTENT_TYPE)) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content type must be application/json",
        );
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_PAGE_BODY as u64) {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    }
    let body = match tokio::time::timeout(BODY_TIMEOUT, read_body(req.into_body())).await {
        Ok(Ok(b)) => b,
        Ok(Err(BodyError::TooLarge)) => {
            return error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
        }
        Ok(Err(BodyError::Read)) => {
            return error(StatusCode::BAD_REQUEST, "request body unreadable")
        }
        Err(_) => return error(StatusCode::REQUEST_TIMEOUT, "request body too slow"),
    };
    // Only well-formed JSON objects reach the signer; the pool reads nothing else of it.
    let is_object =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(body.expose()).is_ok();
    if !is_object {
        return error(StatusCode::BAD_REQUEST, "body must be a JSON object");
    }
    match hub.relay(body).await {
        Ok(answer) => {
            let Ok(status) = StatusCode::from_u16(answer.status) else {
                tracing::warn!(
                    status = answer.status,
                    "signer gave a page reply an invalid status"
                );
                return error(StatusCode::BAD_GATEWAY, "invalid answer");
            };
            let mut r = Response::new(Full::new(Bytes::copy_from_slice(
                answer.body.expose().as_bytes(),
            )));
            *r.status_mut() = status;
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(RelayError::Busy) => error(StatusCode::SERVICE_UNAVAILABLE, "busy, try again"),
        Err(RelayError::TimedOut) => {
            error(StatusCode::GATEWAY_TIMEOUT, "no answer in time, try again")
        }
    }
}

enum BodyError {
    TooLarge,
    Read,
}

/// Reads the body into one buffer that is wiped if it is not a valid UTF-8 string (the
/// body holds the page token, perhaps a one-time code).
async fn read_body(mut body: Incoming) -> Result<SecretString, BodyError> {
    let mut buf = Zeroizing::new(Vec::new());
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Read)?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > MAX_PAGE_BODY {
                return Err(BodyError::TooLarge);
            }
            buf.extend_from_slice(&data);
        }
    }
    let text = String::from_utf8(std::mem::take(&mut *buf)).map_err(|e| {
        // Wipe the rejected bytes too.
        drop(Zeroizing::new(e.into_bytes()));
        BodyError::Read
    })?;
    Ok(SecretString::new(text))
}

/// True for `application/json`, with parameters (`; charset=utf-8`) or not.
fn is_json(v: Option<&HeaderValue>) -> bool {
    v.and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// A JSON error answer in the page protocol's shape: `{"ok":false,"error":...}`.
fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "ok": false, "error": message }).to_string();
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        let h = |s: &'static str| Some(HeaderValue::from_static(s));
        assert!(is_json(h("application/json").as_ref()));
        assert!(is_json(h("Application/JSON; charset=utf-8").as_ref()));
        assert!(!is_json(h("text/plain").as_ref()));
        assert!(!is_json(h("application/jsonp").as_ref()));
        assert!(!is_json(None));
    }
}
