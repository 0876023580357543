//! A minimal HTTP/1.1 client (plain or TLS trusting given CAs) used for
//! webhook delivery and by the binary's `dump`/`control` commands.

use crate::tls::{self, TlsError};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::time::Duration;
use tokio::net::TcpStream;

/// Why an HTTP request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not an absolute http(s) URL.
    #[error("bad URL {0:?}")]
    Url(String),
    /// Connecting failed.
    #[error("connecting: {0}")]
    Connect(#[from] std::io::Error),
    /// TLS set-up failed.
    #[error("{0}")]
    Tls(#[from] TlsError),
    /// The HTTP exchange failed.
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    /// Building the request failed.
    #[error("building the request: {0}")]
    Request(#[from] hyper::http::Error),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
}

/// Sends one request and returns the status and body. `https` URLs are
/// verified against exactly the CAs in `ca_pems`.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    ca_pems: &[&str],
    timeout: Duration,
) -> Result<(u16, Vec<u8>), ClientError> {
    tokio::time::timeout(timeout, request_inner(method, url, headers, body, ca_pems))
        .await
        .map_err(|_| ClientError::Timeout)?
}

async fn request_inner(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    ca_pems: &[&str],
) -> Result<(u16, Vec<u8>), ClientError> {
    let uri: Uri = url.parse().map_err(|_| ClientError::Url(url.into()))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(ClientError::Url(url.into())),
    };
    let host = uri
        .host()
        .ok_or_else(|| ClientError::Url(url.into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_else(|| host.clone());
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let tcp = TcpStream::connect((host.as_str(), port)).await?;
    tcp.set_nodelay(true)?;
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, authority);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body)))?;
    if https {
        let config = tls::client_config(ca_pems)?;
        let name = ServerName::try_from(host.clone()).map_err(|_| ClientError::Url(url.into()))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await?;
        exchange(TokioIo::new(stream), req).await
    } else {
        exchange(TokioIo::new(tcp), req).await
    }
}

async fn exchange<T>(io: T, req: hyper::Request<Full<Bytes>>) -> Result<(u16, Vec<u8>), ClientError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    let driver = tokio::spawn(conn);
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes().to_vec();
    driver.abort();
    Ok((status, body))
}
