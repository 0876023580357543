//! A small Solana JSON-RPC client over HTTPS: `getAccountInfo` only.
//!
//! * HTTP/1.1 over rustls (ring), with the hyper-util connection pool: idle
//!   connections are kept alive and reused, so a lookup costs one round trip.
//! * Trust roots: Mozilla's (compiled in through `webpki-roots`) plus, optionally,
//!   the certificates of one PEM file (`--rpc-ca-cert`), for a private endpoint.
//! * Only `https://` URLs. The URL may carry an API key in its path or query, so it
//!   is never logged: [`RpcClient::endpoint`] shows scheme, host and port only.
//! * Every call is bounded: [`CONNECT_TIMEOUT`] to connect, [`REQUEST_TIMEOUT`] for
//!   the whole exchange, [`MAX_RESPONSE_BYTES`] of body, [`MAX_CONCURRENT_CALLS`]
//!   calls in flight (more wait their turn).
//! * Answers are parsed strictly ([`parse_account_response`]); garbage is an error,
//!   never a panic.

use crate::alt;
use base64::Engine;
use custos_ipc::pool::TableOutcome;
use custos_ipc::signer::PublicKey;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::http::uri::Scheme;
use hyper::{Request, Uri};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Time allowed to open a TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time allowed for a whole call: waiting for a free slot, connection, TLS
/// handshake, request and body.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(4);
/// Largest response body read. A full lookup table is 8248 bytes, about 11 KiB in
/// base64 and JSON.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Calls in flight at once; more wait, so a flood of unknown tables cannot turn
/// into a flood of RPC calls.
pub const MAX_CONCURRENT_CALLS: usize = 16;
/// Idle keep-alive connections kept per host.
const MAX_IDLE_CONNECTIONS: usize = 16;
/// How long an idle connection is kept (many providers close theirs after 60 s).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest error message from the endpoint repeated in ours.
const MAX_MESSAGE_CHARS: usize = 200;

/// Why the client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The URL does not parse.
    #[error("--rpc-url is not a valid URL: {0}")]
    BadUrl(String),
    /// Not `https://`.
    #[error("--rpc-url must be an https:// URL")]
    NotHttps,
    /// No host, or user information in the URL.
    #[error("--rpc-url must name a host and carry no user information")]
    BadAuthority,
    /// The CA file could not be read.
    #[error("--rpc-ca-cert {path}: {source}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The CA file holds no usable certificate.
    #[error("--rpc-ca-cert {path}: {reason}")]
    CaCert {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// Why one call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// No complete answer within [`REQUEST_TIMEOUT`].
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Connecting, TLS or HTTP failed.
    #[error("transport: {0}")]
    Transport(String),
    /// A status other than 200.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The body exceeded [`MAX_RESPONSE_BYTES`].
    #[error("response larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    /// The body is not JSON.
    #[error("response is not JSON: {0}")]
    Json(String),
    /// JSON, but not a JSON-RPC answer of the expected shape.
    #[error("malformed JSON-RPC response: {0}")]
    Malformed(&'static str),
    /// The answer is for another request.
    #[error("JSON-RPC response id does not match the request")]
    IdMismatch,
    /// The endpoint answered with a JSON-RPC error.
    #[error("JSON-RPC error {code}: {message}")]
    Rpc {
        /// Error code.
        code: i64,
        /// Error message (truncated).
        message: String,
    },
}

/// An account as `getAccountInfo` returns it (only what is needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Owning program.
    pub owner: PublicKey,
    /// Account data.
    pub data: Vec<u8>,
}

/// A Solana JSON-RPC client.
pub struct RpcClient {
    client: Client<HttpsConnector, Full<Bytes>>,
    uri: Uri,
    endpoint: String,
    next_id: AtomicU64,
    calls: Semaphore,
    made: AtomicU64,
}

impl RpcClient {
    /// Sets up a client for `url` (`https://` only), trusting Mozilla's roots and
    /// the certificates in `extra_ca` (PEM), if given.
    pub fn new(url: &str, extra_ca: Option<&Path>) -> Result<Self, SetupError> {
        let uri: Uri = url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| SetupError::BadUrl(e.to_string()))?;
        if uri.scheme() != Some(&Scheme::HTTPS) {
            return Err(SetupError::NotHttps);
        }
        let authority = uri.authority().ok_or(SetupError::BadAuthority)?;
        if authority.as_str().contains('@') || authority.host().is_empty() {
            return Err(SetupError::BadAuthority);
        }
        let endpoint = format!(
            "https://{}:{}",
            authority.host(),
            uri.port_u16().unwrap_or(443)
        );

        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = extra_ca {
            for cert in read_pem_certs(path)? {
                roots.add(cert).map_err(|e| SetupError::CaCert {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];

        let connector = HttpsConnector::new(tls, CONNECT_TIMEOUT);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_max_idle_per_host(MAX_IDLE_CONNECTIONS)
            .build(connector);
        Ok(Self {
            client,
            uri,
            endpoint,
            next_id: AtomicU64::new(1),
            calls: Semaphore::new(MAX_CONCURRENT_CALLS),
            made: AtomicU64::new(0),
        })
    }

    /// Scheme, host and port of the endpoint (never its path or query, which may
    /// hold an API key).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Calls made so far.
    pub fn calls_made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// `getAccountInfo` at the finalized commitment: `None` if there is no such
    /// account. The whole call, waiting for a free slot included, takes at most
    /// [`REQUEST_TIMEOUT`].
    pub async fn get_account_info(&self, address: &PublicKey) -> Result<Option<Account>, RpcError> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.call_get_account_info(address)).await {
            Ok(result) => result,
            Err(_) => Err(RpcError::Timeout(REQUEST_TIMEOUT)),
        }
    }

    async fn call_get_account_info(
        &self,
        address: &PublicKey,
    ) -> Result<Option<Account>, RpcError> {
        let _permit = self
            .calls
            .acquire()
            .await
            .map_err(|_| RpcError::Transport("client is shutting down".into()))?;
        self.made.fetch_add(1, Ordering::Relaxed);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": "getAccountInfo",
            "params": [
                bs58::encode(address).into_string(),
                {"encoding": "base64", "commitment": "finalized"}
            ]
        })
        .to_string();
        let request = Request::post(self.uri.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| RpcError::Transport(e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| RpcError::Transport(error_chain(&e)))?;
        let status = response.status();
        if status != hyper::StatusCode::OK {
            return Err(RpcError::Status(status.as_u16()));
        }
        let announced = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
            return Err(RpcError::TooLarge);
        }
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    RpcError::TooLarge
                } else {
                    RpcError::Transport(error_chain(e.as_ref()))
                }
            })?
            .to_bytes();
        parse_account_response(&body, id)
    }

    /// Fetches and parses one lookup table: every entry it holds. Failures are
    /// logged here, once per call (the cache keeps them briefly, so once per table
    /// every few seconds at most).
    pub async fn fetch_table(&self, table: &PublicKey) -> TableOutcome {
        let outcome = match self.get_account_info(table).await {
            Ok(None) => TableOutcome::NotFound,
            Ok(Some(account)) => match alt::parse(&account.owner, &account.data) {
                Ok(addresses) => TableOutcome::Found(addresses),
                Err(e) => TableOutcome::NotALookupTable(e.to_string()),
            },
            Err(e) => TableOutcome::Unavailable(format!("rpc {}: {e}", self.endpoint)),
        };
        let table = bs58::encode(table).into_string();
        match &outcome {
            TableOutcome::Found(entries) => {
                tracing::debug!(%table, entries = entries.len(), "lookup table read")
            }
            TableOutcome::NotFound => tracing::info!(%table, "lookup table account not found"),
            TableOutcome::NotALookupTable(e) => {
                tracing::warn!(%table, error = %e, "account is not a lookup table")
            }
            TableOutcome::Unavailable(e) => {
                tracing::warn!(%table, error = %e, "could not read a lookup table")
            }
        }
        outcome
    }
}

/// Why a CA file could not be used.
pub(crate) enum PemError {
    /// It could not be read.
    Read(std::io::Error),
    /// It holds no usable certificate.
    Bad(String),
}

/// The certificates of a PEM file (an extra trust root), shared by the RPC and the
/// Telegram clients.
pub(crate) fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let pem = std::fs::read(path).map_err(PemError::Read)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PemError::Bad(format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(PemError::Bad("no CERTIFICATE section found".into()));
    }
    Ok(certs)
}

fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, SetupError> {
    pem_certs(path).map_err(|e| match e {
        PemError::Read(source) => SetupError::CaFile {
            path: path.display().to_string(),
            source,
        },
        PemError::Bad(reason) => SetupError::CaCert {
            path: path.display().to_string(),
            reason,
        },
    })
}

/// An error and its sources on one line ("a: b: c").
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn truncate(s: &str) -> String {
    s.chars().take(MAX_MESSAGE_CHARS).collect()
}

/// Parses the body of a `getAccountInfo` answer to request `id` (base64 encoding).
/// `Ok(None)`: the account does not exist.
pub fn parse_account_response(body: &[u8], id: u64) -> Result<Option<Account>, RpcError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| RpcError::Json(e.to_string()))?;
    let obj = v.as_object().ok_or(RpcError::Malformed("not an object"))?;
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(RpcError::Malformed("jsonrpc is not \"2.0\""));
    }
    if let Some(err) = obj.get("error") {
        let code = err
            .get("code")
            .and_then(Value::as_i64)
            .ok_or(RpcError::Malformed("error without an integer code"))?;
        let message = err.get("message").and_then(Value::as_str).unwrap_or("");
        return Err(RpcError::Rpc {
            code,
            message: truncate(message),
        });
    }
    if obj.get("id").and_then(Value::as_u64) != Some(id) {
        return Err(RpcError::IdMismatch);
    }
    let result = obj
        .get("result")
        .and_then(Value::as_object)
        .ok_or(RpcError::Malformed("no result object"))?;
    let value = result
        .get("value")
        .ok_or(RpcError::Malformed("result without value"))?;
    if value.is_null() {
        return Ok(None);
    }
    let account = value
        .as_object()
        .ok_or(RpcError::Malformed("value is neither null nor an object"))?;
    let owner = account
        .get("owner")
        .and_then(Value::as_str)
        .ok_or(RpcError::Malformed("account without an owner string"))?;
    let mut owner_key = [0u8; 32];
    match bs58::decode(owner).onto(&mut owner_key) {
        Ok(32) => {}
        _ => return Err(RpcError::Malformed("owner is not a base58 public key")),
    }
    let data = match account
        .get("data")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        Some([Value::String(data), Value::String(encoding)]) if encoding == "base64" => data,
        _ => {
            return Err(RpcError::Malformed(
                "data is not [\"<base64>\", \"base64\"]",
            ))
        }
    };
    let data = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| RpcError::Malformed("data is not valid base64"))?;
    Ok(Some(Account {
        owner: owner_key,
        data,
    }))
}

/// Connects TCP (hyper-util's connector: DNS, timeout, keep-alive) and then TLS.
#[derive(Clone)]
pub(crate) struct HttpsConnector {
    tcp: HttpConnector,
    tls: tokio_rustls::TlsConnector,
}

impl HttpsConnector {
    /// A connector using `tls`, with `connect_timeout` for TCP, no Nagle and TCP
    /// keep-alive (shared with the Telegram client).
    pub(crate) fn new(tls: rustls::ClientConfig, connect_timeout: Duration) -> Self {
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(connect_timeout));
        tcp.set_nodelay(true);
        tcp.set_keepalive(Some(Duration::from_secs(30)));
        Self {
            tcp,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<Uri> for HttpsConnector {
    type Response = TlsIo;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<TlsIo, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let mut tcp = self.tcp.clone();
        let tls = self.tls.clone();
        Box::pin(async move {
            if dst.scheme() != Some(&Scheme::HTTPS) {
                return Err("refusing a connection that is not https".into());
            }
            let host = dst
                .host()
                .ok_or("URL has no host")?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let name = ServerName::try_from(host)?;
            let stream = tcp.call(dst).await?.into_inner();
            let stream = tls.connect(name, stream).await?;
            Ok(TlsIo(TokioIo::new(stream)))
        })
    }
}

/// A TLS connection, as hyper wants it.
pub(crate) struct TlsIo(TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>);

impl Connection for TlsIo {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for TlsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for TlsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(value: &str) -> Vec<u8> {
        format!(r#"{{"jsonrpc":"2.0","id":7,"result":{{"context":{{"slot":5}},"value":{value}}}}}"#)
            .into_bytes()
    }

    fn account_json(owner: &str, data_b64: &str) -> String {
        format!(
            r#"{{"data":["{data_b64}","base64"],"executable":false,"lamports":1,"owner":"{owner}","rentEpoch":0,"space":3}}"#
        )
    }

    const ALT: &str = "AddressLookupTab1e1111111111111111111111111";

    #[test]
    fn parses_an_account_and_a_missing_account() {
        let got = parse_account_response(&answer(&account_json(ALT, "AQID")), 7).unwrap();
        assert_eq!(
            got,
            Some(Account {
                owner: alt::PROGRAM_ID,
                data: vec![1, 2, 3]
            })
        );
        assert_eq!(parse_account_response(&answer("null"), 7).unwrap(), None);
    }

    #[test]
    fn garbage_is_a_precise_error() {
        let cases: &[(&[u8], RpcError)] = &[
            (b"", RpcError::Json(String::new())),
            (b"<html>500</html>", RpcError::Json(String::new())),
            (b"[]", RpcError::Malformed("not an object")),
            (
                br#"{"id":7,"result":{"value":null}}"#,
                RpcError::Malformed("jsonrpc is not \"2.0\""),
            ),
            (
                br#"{"jsonrpc":"2.0","id":8,"result":{"value":null}}"#,
                RpcError::IdMismatch,
            ),
            (
                br#"{"jsonrpc":"2.0","id":7}"#,
                RpcError::Malformed("no result object"),
            ),
            (
                br#"{"jsonrpc":"2.0","id":7,"result":{}}"#,
                RpcError::Malformed("result without value"),
            ),
            (
                br#"{"jsonrpc":"2.0","id":7,"result":{"value":5}}"#,
                RpcError::Malformed("value is neither null nor an object"),
            ),
            (
                br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32602,"message":"Invalid param"}}"#,
                RpcError::Rpc {
                    code: -32602,
                    message: "Invalid param".into(),
                },
            ),
            (
                br#"{"jsonrpc":"2.0","id":7,"error":{"message":"x"}}"#,
                RpcError::Malformed("error without an integer code"),
            ),
        ];
        for (body, want) in cases {
            let got = parse_account_response(body, 7).unwrap_err();
            match (want, &got) {
                (RpcError::Json(_), RpcError::Json(_)) => {}
                _ => assert_eq!(&got, want, "{}", String::from_utf8_lossy(body)),
            }
        }
        let bad_accounts = [
            (
                account_json("not-base58-0OIl", "AQID"),
                "owner is not a base58 public key",
            ),
            (account_json("1111", "AQID"), "owner is not a base58 public key"),
            (account_json(ALT, "!!!"), "data is not valid base64"),
            (
                r#"{"owner":"AddressLookupTab1e1111111111111111111111111","data":"AQID"}"#.into(),
                "data is not [\"<base64>\", \"base64\"]",
            ),
            (
                r#"{"owner":"AddressLookupTab1e1111111111111111111111111","data":["AQID","base58"]}"#
                    .into(),
                "data is not [\"<base64>\", \"base64\"]",
            ),
            (
                r#"{"owner":"AddressLookupTab1e1111111111111111111111111","data":["AQID","base64","x"]}"#
                    .into(),
                "data is not [\"<base64>\", \"base64\"]",
            ),
            (r#"{"data":["AQID","base64"]}"#.into(), "account without an owner string"),
        ];
        for (account, want) in bad_accounts {
            assert_eq!(
                parse_account_response(&answer(&account), 7),
                Err(RpcError::Malformed(want)),
                "{account}"
            );
        }
    }

    #[test]
    fn long_rpc_error_messages_are_truncated() {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":7,"error":{{"code":1,"message":"{}"}}}}"#,
            "x".repeat(5000)
        );
        match parse_account_response(body.as_bytes(), 7) {
            Err(RpcError::Rpc { message, .. }) => assert_eq!(message.len(), MAX_MESSAGE_CHARS),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn urls_must_be_https_with_a_plain_host() {
        assert!(matches!(
            RpcClient::new("http://127.0.0.1:8899", None),
            Err(SetupError::NotHttps)
        ));
        assert!(matches!(
            RpcClient::new("not a url", None),
            Err(SetupError::BadUrl(_))
        ));
        assert!(matches!(
            RpcClient::new("https://user:pw@rpc.example.com/", None),
            Err(SetupError::BadAuthority)
        ));
        let c = RpcClient::new("https://rpc.example.com/?api-key=SECRET", None).unwrap();
        assert_eq!(c.endpoint(), "https://rpc.example.com:443");
        let c = RpcClient::new("https://127.0.0.1:8899", None).unwrap();
        assert_eq!(c.endpoint(), "https://127.0.0.1:8899");
    }

    #[test]
    fn ca_file_problems_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        assert!(matches!(
            RpcClient::new("https://x.example", Some(&missing)),
            Err(SetupError::CaFile { .. })
        ));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "hello\n").unwrap();
        let err = RpcClient::new("https://x.example", Some(&empty))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("no CERTIFICATE section"), "{err}");
    }
}
