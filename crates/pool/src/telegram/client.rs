//! HTTPS calls to the Bot API: `POST <base>/bot<token>/<method>` with a JSON body
//! (`multipart/form-data` for `sendPhoto`'s upload).
//!
//! * The same stack as [`crate::rpc`]: hyper 1 over rustls (ring), hyper-util's
//!   pool of keep-alive connections, Mozilla's roots plus optionally the
//!   certificates of one PEM file (a private proxy, or the fake server in tests).
//! * Bounded: a connect timeout, a per-call timeout (long polls get their own
//!   `timeout` plus a margin), a largest response body.
//! * Answers are parsed strictly: the `{"ok":...}` envelope, then the result
//!   into a typed value. Every failure is a [`TelegramError`], and
//!   [`TelegramError::kind`] says whether the call may have taken effect, which
//!   is what decides whether a retry could duplicate a message.
//! * The token is in the request path, so request URLs are never logged or put
//!   into errors: logs name the host ([`TelegramClient::endpoint`]) and the
//!   method; error texts from the network are passed through
//!   `BotToken::redact` as well. (The request's parsed `Uri` holds a copy of
//!   the token in memory that is not zeroized when freed; the formatted URL
//!   string is.)

use super::multipart::Form;
use super::token::BotToken;
use super::types::{
    AnswerCallbackQuery, DeleteMessage, EditMessageText, GetUpdates, Message, SendMessage,
    SendPhoto, Update, User,
};
use crate::rpc::{error_chain, HttpsConnector};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::http::uri::Scheme;
use hyper::{Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::CertificateDer;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Telegram's Bot API server.
pub const DEFAULT_BASE_URL: &str = "https://api.telegram.org";
/// Longest `description` from Telegram repeated in an error.
const MAX_DESCRIPTION_CHARS: usize = 300;

/// How the client is set up.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://host[:port][/prefix]`; the default is [`DEFAULT_BASE_URL`].
    pub base_url: String,
    /// A PEM file of extra trusted certificates (read by [`TelegramClient::new`]).
    pub extra_ca: Option<PathBuf>,
    /// Extra trusted certificates already read (e.g. before the process lost
    /// its filesystem access), see [`read_ca_file`].
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Time allowed to open a TCP connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole ordinary call.
    pub request_timeout: Duration,
    /// Added to the long-polling `timeout` of `getUpdates`.
    pub long_poll_margin: Duration,
    /// Largest response body read.
    pub max_response_bytes: usize,
    /// Idle keep-alive connections kept.
    pub max_idle_connections: usize,
    /// How long an idle connection is kept.
    pub idle_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_string(),
            extra_ca: None,
            extra_roots: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            long_poll_margin: Duration::from_secs(10),
            max_response_bytes: 1 << 20,
            max_idle_connections: 32,
            idle_timeout: Duration::from_secs(50),
        }
    }
}

/// Why the client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The base URL does not parse.
    #[error("Telegram base URL is not a valid URL: {0}")]
    BadUrl(String),
    /// Not `https://`.
    #[error("Telegram base URL must be https://")]
    NotHttps,
    /// No host, user information, a query or a fragment.
    #[error(
        "Telegram base URL must be https://host[:port][/path] without user information or query"
    )]
    BadAuthority,
    /// The CA file could not be read.
    #[error("Telegram CA file {path}: {source}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The CA file holds no usable certificate.
    #[error("Telegram CA file {path}: {reason}")]
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

/// Why one call failed. Never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelegramError {
    /// Telegram answered `{"ok":false,...}`.
    #[error("Telegram error {code}: {description}")]
    Api {
        /// `error_code` (also the HTTP status).
        code: u16,
        /// `description` (truncated).
        description: String,
        /// `parameters.retry_after` in seconds (flood control).
        retry_after: Option<u64>,
    },
    /// No connection could be made (refused, unreachable, TLS handshake,
    /// connect timeout): the request was certainly not sent.
    #[error("could not connect: {0}")]
    Connect(String),
    /// No complete answer in time. The request may have been sent and applied.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection failed after it was made. The request may have been
    /// sent and applied.
    #[error("transport: {0}")]
    Transport(String),
    /// An HTTP status without a Bot API envelope (a proxy's error page).
    #[error("HTTP status {0} without a Bot API answer")]
    Status(u16),
    /// The body exceeded the configured limit.
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    /// The answer is not the expected JSON.
    #[error("malformed answer: {0}")]
    Decode(String),
}

/// What a failure says about the call, for retry decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// 429: not applied; retry after this long.
    RateLimited(Duration),
    /// A 5xx answer. Treated as not applied by default (Telegram answers 5xx
    /// when it could not process the call), though a server may have applied
    /// it before failing; see [`crate::telegram::OutboxConfig::retry_server_errors`].
    ServerError,
    /// Not sent at all (no connection): safe to retry.
    NotSent,
    /// Refused by Telegram (400, 403, ...): not applied; a retry will not help.
    Refused,
    /// May or may not have taken effect (timeout, connection lost after
    /// sending, an unreadable answer): a blind retry could duplicate.
    Ambiguous,
}

impl TelegramError {
    /// Classifies the failure (see [`FailureKind`]).
    pub fn kind(&self) -> FailureKind {
        match self {
            TelegramError::Api {
                code: 429,
                retry_after,
                ..
            } => FailureKind::RateLimited(Duration::from_secs(retry_after.unwrap_or(1).max(1))),
            TelegramError::Api { code, .. } if *code >= 500 => FailureKind::ServerError,
            TelegramError::Api { .. } => FailureKind::Refused,
            TelegramError::Status(s) if *s >= 500 => FailureKind::ServerError,
            TelegramError::Status(429) => FailureKind::RateLimited(Duration::from_secs(1)),
            TelegramError::Status(_) => FailureKind::Refused,
            TelegramError::Connect(_) => FailureKind::NotSent,
            TelegramError::Timeout(_)
            | TelegramError::Transport(_)
            | TelegramError::TooLarge(_)
            | TelegramError::Decode(_) => FailureKind::Ambiguous,
        }
    }
}

/// A Bot API client. Cheap to share behind an `Arc`; calls run concurrently
/// over pooled connections.
pub struct TelegramClient {
    client: Client<HttpsConnector, Full<Bytes>>,
    token: BotToken,
    /// `https://host:port` (logged).
    endpoint: String,
    /// Scheme, authority and path prefix, without a trailing slash.
    base: String,
    config: ClientConfig,
}

impl std::fmt::Debug for TelegramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramClient")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl TelegramClient {
    /// Sets up a client for the bot `token`.
    pub fn new(token: BotToken, config: ClientConfig) -> Result<Self, SetupError> {
        let uri: Uri = config
            .base_url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| SetupError::BadUrl(e.to_string()))?;
        if uri.scheme() != Some(&Scheme::HTTPS) {
            return Err(SetupError::NotHttps);
        }
        let authority = uri.authority().ok_or(SetupError::BadAuthority)?;
        if authority.as_str().contains('@') || authority.host().is_empty() || uri.query().is_some()
        {
            return Err(SetupError::BadAuthority);
        }
        let endpoint = format!(
            "https://{}:{}",
            authority.host(),
            uri.port_u16().unwrap_or(443)
        );
        let base = format!(
            "https://{}{}",
            authority.as_str(),
            uri.path().trim_end_matches('/')
        );

        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = &config.extra_ca {
            for cert in read_pem_certs(path)? {
                roots.add(cert).map_err(|e| SetupError::CaCert {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
            }
        }
        for cert in &config.extra_roots {
            roots.add(cert.clone()).map_err(|e| SetupError::CaCert {
                path: "(extra roots)".into(),
                reason: e.to_string(),
            })?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let connector = HttpsConnector::new(tls, config.connect_timeout);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(config.idle_timeout)
            .pool_max_idle_per_host(config.max_idle_connections)
            .build(connector);
        Ok(Self {
            client,
            token,
            endpoint,
            base,
            config,
        })
    }

    /// Scheme, host and port of the server (safe to log; never the path).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// `getMe`: the bot itself (a cheap check that the token works).
    pub async fn get_me(&self) -> Result<User, TelegramError> {
        self.call("getMe", &serde_json::json!({}), self.config.request_timeout)
            .await
    }

    /// `getUpdates`, waiting up to `params.timeout` seconds for an update; the
    /// call's own deadline is that plus [`ClientConfig::long_poll_margin`].
    pub async fn get_updates(&self, params: &GetUpdates) -> Result<Vec<Update>, TelegramError> {
        let deadline = Duration::from_secs(u64::from(params.timeout))
            + self
                .config
                .long_poll_margin
                .max(self.config.request_timeout);
        self.call("getUpdates", params, deadline).await
    }

    /// `sendMessage`: the message as sent.
    pub async fn send_message(&self, params: &SendMessage) -> Result<Message, TelegramError> {
        self.call("sendMessage", params, self.config.request_timeout)
            .await
    }

    /// `sendPhoto`: the PNG uploaded as `multipart/form-data` with its HTML
    /// caption; the message as sent.
    pub async fn send_photo(&self, params: &SendPhoto) -> Result<Message, TelegramError> {
        let chat_id = params.chat_id.to_string();
        let (content_type, body) = Form::new()
            .text("chat_id", &chat_id)
            .text("caption", &params.caption)
            .text("parse_mode", "HTML")
            .file("photo", "qr.png", "image/png", &params.png)
            .finish()
            .map_err(|e| TelegramError::Decode(format!("cannot encode parameters: {e}")))?;
        // The bytes handed to hyper are a copy that is not wiped when the
        // request is done (hyper owns it); the body built here is.
        let body = Bytes::copy_from_slice(&body);
        self.call_body(
            "sendPhoto",
            &content_type,
            body,
            self.config.request_timeout,
        )
        .await
    }

    /// `editMessageText` of a chat message: the message as edited.
    pub async fn edit_message_text(
        &self,
        params: &EditMessageText,
    ) -> Result<Message, TelegramError> {
        self.call("editMessageText", params, self.config.request_timeout)
            .await
    }

    /// `answerCallbackQuery`.
    pub async fn answer_callback_query(
        &self,
        params: &AnswerCallbackQuery,
    ) -> Result<bool, TelegramError> {
        self.call("answerCallbackQuery", params, self.config.request_timeout)
            .await
    }

    /// `deleteMessage`.
    pub async fn delete_message(&self, params: &DeleteMessage) -> Result<bool, TelegramError> {
        self.call("deleteMessage", params, self.config.request_timeout)
            .await
    }

    /// Calls `method` with `params` as JSON, within `deadline` for the whole
    /// exchange, and decodes the result.
    pub async fn call<P: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
        deadline: Duration,
    ) -> Result<T, TelegramError> {
        let body = serde_json::to_vec(params)
            .map_err(|e| TelegramError::Decode(format!("cannot encode parameters: {e}")))?;
        self.call_body(method, "application/json", Bytes::from(body), deadline)
            .await
    }

    /// Posts `body` (of `content_type`) to `method` and decodes the result.
    async fn call_body<T: DeserializeOwned>(
        &self,
        method: &str,
        content_type: &str,
        body: Bytes,
        deadline: Duration,
    ) -> Result<T, TelegramError> {
        let started = Instant::now();
        let exchange = self.exchange(method, content_type, body);
        let outcome = match tokio::time::timeout(deadline, exchange).await {
            Ok(r) => r,
            Err(_) => Err(TelegramError::Timeout(deadline)),
        };
        let outcome = outcome.and_then(|(status, body)| self.parse_answer(status, &body));
        match &outcome {
            Ok(_) => tracing::debug!(
                endpoint = %self.endpoint, method, elapsed_ms = started.elapsed().as_millis() as u64,
                "telegram call done"
            ),
            Err(e) => tracing::debug!(
                endpoint = %self.endpoint, method, elapsed_ms = started.elapsed().as_millis() as u64,
                error = %e, "telegram call failed"
            ),
        }
        outcome
    }

    async fn exchange(
        &self,
        method: &str,
        content_type: &str,
        body: Bytes,
    ) -> Result<(u16, Bytes), TelegramError> {
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(TelegramError::Decode(
                "method name is not alphanumeric".into(),
            ));
        }
        let url = Zeroizing::new(format!("{}/bot{}/{method}", self.base, self.token.expose()));
        let uri: Uri = url
            .as_str()
            .parse()
            .map_err(|_| TelegramError::Decode("request URL does not parse".into()))?;
        let request = Request::post(uri)
            .header(CONTENT_TYPE, content_type)
            .header(ACCEPT, "application/json")
            .body(Full::new(body))
            .map_err(|e| TelegramError::Decode(self.token.redact(&e.to_string())))?;
        let response = self.client.request(request).await.map_err(|e| {
            let text = self.token.redact(&error_chain(&e));
            if e.is_connect() {
                TelegramError::Connect(text)
            } else {
                TelegramError::Transport(text)
            }
        })?;
        let status = response.status().as_u16();
        let limit = self.config.max_response_bytes;
        let announced = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > limit as u64) {
            return Err(TelegramError::TooLarge(limit));
        }
        let body = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    TelegramError::TooLarge(limit)
                } else {
                    TelegramError::Transport(self.token.redact(&error_chain(e.as_ref())))
                }
            })?
            .to_bytes();
        Ok((status, body))
    }

    fn parse_answer<T: DeserializeOwned>(
        &self,
        status: u16,
        body: &[u8],
    ) -> Result<T, TelegramError> {
        parse_envelope(status, body).map_err(|e| match e {
            TelegramError::Api {
                code,
                description,
                retry_after,
            } => TelegramError::Api {
                code,
                description: self.token.redact(&description),
                retry_after,
            },
            other => other,
        })
    }
}

/// Parses a Bot API answer with HTTP `status`: the result of `{"ok":true,"result":...}`
/// as `T`, or the error of `{"ok":false,"error_code":N,"description":"..."}`.
pub fn parse_envelope<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, TelegramError> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) if status != 200 => return Err(TelegramError::Status(status)),
        Err(e) => return Err(TelegramError::Decode(format!("not JSON: {e}"))),
    };
    let obj = match value.as_object() {
        Some(o) => o,
        None if status != 200 => return Err(TelegramError::Status(status)),
        None => return Err(TelegramError::Decode("not a JSON object".into())),
    };
    match obj.get("ok") {
        Some(Value::Bool(true)) => {
            if status != 200 {
                return Err(TelegramError::Decode(format!(
                    "\"ok\":true with HTTP status {status}"
                )));
            }
            let result = obj
                .get("result")
                .ok_or_else(|| TelegramError::Decode("\"ok\":true without \"result\"".into()))?;
            T::deserialize(result)
                .map_err(|e| TelegramError::Decode(format!("unexpected result: {e}")))
        }
        Some(Value::Bool(false)) => {
            let code = obj
                .get("error_code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .ok_or_else(|| TelegramError::Decode("error without an error_code".into()))?;
            let description = obj
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .take(MAX_DESCRIPTION_CHARS)
                .collect();
            let retry_after = obj
                .get("parameters")
                .and_then(|p| p.get("retry_after"))
                .and_then(Value::as_u64);
            Err(TelegramError::Api {
                code,
                description,
                retry_after,
            })
        }
        _ if status != 200 => Err(TelegramError::Status(status)),
        _ => Err(TelegramError::Decode("no boolean \"ok\"".into())),
    }
}

/// Reads the certificates of a PEM file, for [`ClientConfig::extra_roots`].
pub fn read_ca_file(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, SetupError> {
    read_pem_certs(path)
}

fn read_pem_certs(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, SetupError> {
    crate::rpc::pem_certs(path).map_err(|e| match e {
        crate::rpc::PemError::Read(source) => SetupError::CaFile {
            path: path.display().to_string(),
            source,
        },
        crate::rpc::PemError::Bad(reason) => SetupError::CaCert {
            path: path.display().to_string(),
            reason,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_parse_strictly() {
        let user: User = parse_envelope(
            200,
            br#"{"ok":true,"result":{"id":1,"is_bot":true,"first_name":"B","can_join_groups":true}}"#,
        )
        .unwrap();
        assert_eq!(user.id, 1);
        let err = parse_envelope::<bool>(
            429,
            br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#,
        )
        .unwrap_err();
        assert_eq!(err.kind(), FailureKind::RateLimited(Duration::from_secs(3)));
        let err = parse_envelope::<bool>(
            400,
            br#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
        )
        .unwrap_err();
        assert_eq!(err.kind(), FailureKind::Refused);
        assert_eq!(
            parse_envelope::<bool>(502, b"<html>bad gateway</html>").unwrap_err(),
            TelegramError::Status(502)
        );
        assert_eq!(TelegramError::Status(502).kind(), FailureKind::ServerError);
        for (status, body) in [
            (200, &b"<html>"[..]),
            (200, b"[]"),
            (200, br#"{"result":true}"#),
            (200, br#"{"ok":true}"#),
            (200, br#"{"ok":"yes","result":true}"#),
            (200, br#"{"ok":true,"result":"x"}"#),
            (500, br#"{"ok":true,"result":true}"#),
            (400, br#"{"ok":false,"description":"x"}"#),
        ] {
            let e = parse_envelope::<bool>(status, body).unwrap_err();
            assert!(
                matches!(e, TelegramError::Decode(_)),
                "{status} {body:?}: {e:?}"
            );
            assert_eq!(e.kind(), FailureKind::Ambiguous);
        }
    }

    #[test]
    fn base_urls_are_checked() {
        let token = || BotToken::new("1:a".into()).unwrap();
        let cfg = |u: &str| ClientConfig {
            base_url: u.into(),
            ..ClientConfig::default()
        };
        assert!(matches!(
            TelegramClient::new(token(), cfg("http://x")),
            Err(SetupError::NotHttps)
        ));
        assert!(matches!(
            TelegramClient::new(token(), cfg("https://u@x")),
            Err(SetupError::BadAuthority)
        ));
        assert!(matches!(
            TelegramClient::new(token(), cfg("https://x/?q=1")),
            Err(SetupError::BadAuthority)
        ));
        let c = TelegramClient::new(token(), ClientConfig::default()).unwrap();
        assert_eq!(c.endpoint(), "https://api.telegram.org:443");
        let c = TelegramClient::new(token(), cfg("https://127.0.0.1:8443/prefix/")).unwrap();
        assert_eq!(c.base, "https://127.0.0.1:8443/prefix");
        assert!(!format!("{c:?}").contains(":a"));
    }
}
