//! The Custos page: a small HTTPS site where a user, coming from a URL button in
//! Telegram, registers a passkey, approves a pending withdrawal with a passkey or a TOTP
//! code, or exports a wallet key that the page decrypts locally.
//!
//! The pool serves it because the pool is the network-facing process; it holds no key
//! material and understands nothing of the page's API: each `POST /p/api` body goes to the
//! signer as a sealed [`ToSigner::Page`](custos_ipc::telegram::ToSigner::Page), and the
//! signer's [`ToPool::PageReply`](custos_ipc::telegram::ToPool::PageReply) is the HTTP
//! answer ([`PageHub`]). The signer runs the WebAuthn ceremonies and the HPKE export.
//!
//! # Routes ([`serve`])
//!
//! | request          | answer                                                        |
//! |------------------|---------------------------------------------------------------|
//! | `GET /p/`        | the page (`index.html`); its token is in the URL fragment     |
//! | `GET /p/page.js` | the script                                                    |
//! | `GET /p/page.css`| the style sheet                                               |
//! | `POST /p/api`    | relayed to the signer: its status and JSON body               |
//! | other methods on those paths | 405                                               |
//! | anything else    | 404                                                           |
//!
//! `POST /p/api` needs `Content-Type: application/json` (else 415) and a body of at most
//! [`MAX_PAGE_BODY`](custos_ipc::telegram::MAX_PAGE_BODY) bytes (else 413) that is a JSON
//! object (else 400). When [`MAX_WAITING`] requests already wait for the signer the answer
//! is 503; without the signer's answer within [`REPLY_TIMEOUT`], 504. Errors the pool
//! makes have the page protocol's shape, `{"ok":false,"error":"..."}`.
//!
//! A request whose `Origin` header is present and is not the configured origin is refused
//! with 403 (cross-site request forgery); browsers send `Origin` on every `POST`.
//!
//! Every response carries a strict Content-Security-Policy
//! ([`CONTENT_SECURITY_POLICY`]: only the page's own script, style and API), `nosniff`,
//! `Referrer-Policy: no-referrer`, `Cache-Control: no-store`, HSTS and framing denial.
//!
//! Bodies are never logged: they hold page tokens, one-time codes and export bundles.

mod assets;
mod http;
mod hub;

pub use http::{serve, API_PATH, CONTENT_SECURITY_POLICY, MAX_CONNECTIONS};
pub use hub::{PageAnswer, PageHub, RelayError, MAX_WAITING, REPLY_TIMEOUT};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Where and as what the page is served.
#[derive(Debug, Clone)]
pub struct PageSettings {
    /// Address the HTTPS listener binds.
    pub listen: SocketAddr,
    /// The page's origin as browsers see it, e.g. `https://custos.example:8443`
    /// (also the WebAuthn origin the signer checks).
    pub origin: String,
    /// The listener's certificate chain (PEM).
    pub cert_pem: PathBuf,
    /// The listener's private key (PEM, PKCS#8, SEC1 or PKCS#1).
    pub key_pem: PathBuf,
}

/// Why the page could not be served.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The origin is not `https://host[:port]` (no path, query, fragment or user).
    #[error("page origin must be https://host[:port], got {0:?}")]
    Origin(String),
    /// The certificate file could not be read or holds no certificate.
    #[error("page certificate {path}: {reason}")]
    Certificate {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The key file could not be read or parsed.
    #[error("page key {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// What is wrong with it (never key material).
        reason: String,
    },
    /// rustls refused the certificate and key.
    #[error("page TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The listener could not be bound.
    #[error("page listener {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// A checked page origin: `https://host[:port]`, lower-case, no trailing slash; the exact
/// string browsers put in the `Origin` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageOrigin(String);

impl PageOrigin {
    /// Checks and normalises `origin` (one trailing `/` is accepted and removed).
    pub fn parse(origin: &str) -> Result<Self, PageError> {
        let bad = || PageError::Origin(origin.to_string());
        let lower = origin.to_ascii_lowercase();
        let trimmed = lower.strip_suffix('/').unwrap_or(&lower);
        let host_port = trimmed.strip_prefix("https://").ok_or_else(bad)?;
        let (host_ok, port) = match host_port.strip_prefix('[') {
            // An IPv6 literal.
            Some(rest) => {
                let (inside, after) = rest.split_once(']').ok_or_else(bad)?;
                let ok = !inside.is_empty()
                    && inside
                        .bytes()
                        .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.');
                let port = match after {
                    "" => None,
                    p => Some(p.strip_prefix(':').ok_or_else(bad)?),
                };
                (ok, port)
            }
            None => {
                let (host, port) = match host_port.split_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (host_port, None),
                };
                let ok = !host.is_empty()
                    && host
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-');
                (ok, port)
            }
        };
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n != 0));
        if !host_ok || !port_ok {
            return Err(bad());
        }
        Ok(Self(trimmed.to_string()))
    }

    /// The origin as a string (`https://host[:port]`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PageSettings {
    /// The checked origin.
    pub fn page_origin(&self) -> Result<PageOrigin, PageError> {
        PageOrigin::parse(&self.origin)
    }

    /// The TLS configuration of the listener (HTTP/1.1 only), from the PEM files.
    pub fn tls_config(&self) -> Result<Arc<rustls::ServerConfig>, PageError> {
        let path = self.cert_pem.display().to_string();
        let certs = crate::rpc::pem_certs(&self.cert_pem).map_err(|e| PageError::Certificate {
            path: path.clone(),
            reason: match e {
                crate::rpc::PemError::Read(e) => e.to_string(),
                crate::rpc::PemError::Bad(r) => r,
            },
        })?;
        let key = PrivateKeyDer::from_pem_file(&self.key_pem).map_err(|e| PageError::Key {
            path: self.key_pem.display().to_string(),
            reason: e.to_string(),
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                certs.into_iter().map(CertificateDer::into_owned).collect(),
                key,
            )?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Loads the TLS material, binds the listener and serves the page in a background task
/// (abort the handle to stop it). Errors are secret-free.
pub async fn start(
    settings: &PageSettings,
    hub: Arc<PageHub>,
) -> Result<tokio::task::JoinHandle<()>, PageError> {
    let origin = settings.page_origin()?;
    let tls = settings.tls_config()?;
    let listener = TcpListener::bind(settings.listen)
        .await
        .map_err(|source| PageError::Bind {
            addr: settings.listen,
            source,
        })?;
    tracing::info!(listen = %settings.listen, origin = origin.as_str(), "custos page listener");
    Ok(tokio::spawn(serve(listener, tls, hub, origin)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked_and_normalised() {
        let ok = |s: &str| PageOrigin::parse(s).unwrap().as_str().to_string();
        assert_eq!(ok("https://localhost:8443"), "https://localhost:8443");
        assert_eq!(ok("https://Custos.Example/"), "https://custos.example");
        assert_eq!(ok("https://[::1]:8443"), "https://[::1]:8443");
        for bad in [
            "http://localhost:8443",
            "https://",
            "https://localhost:8443/p/",
            "https://localhost:0",
            "https://localhost:99999",
            "https://user@localhost",
            "https://localhost?x",
            "localhost:8443",
        ] {
            assert!(PageOrigin::parse(bad).is_err(), "{bad}");
        }
    }
}
