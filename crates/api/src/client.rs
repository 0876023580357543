//! Connecting to a running Custos from its data directory.
//!
//! `custos serve` publishes where its API listens in `<data-dir>/run/api.addr`
//! and, in development mode, keeps a CA and a client certificate in
//! `<data-dir>/tls/`. This is the client side of that contract, shared by the
//! CLI, the load generator and tests.

use crate::v1::custos_client::CustosClient;
use std::path::Path;
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
