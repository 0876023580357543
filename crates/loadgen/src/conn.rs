//! Connecting to a running Custos over gRPC with mutual TLS.

use custos_api::v1::custos_client::CustosClient;
use std::path::Path;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// File (relative to the data dir) holding the API's listen address.
const API_ADDR_FILE: &str = "run/api.addr";
/// Directory (relative to the data dir) with the development PKI.
const TLS_DIR: &str = "tls";

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Opens one HTTP/2 connection (one TCP + TLS session) to the server whose
/// address and client credentials are in `data_dir`.
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
        .ca_certificate(Certificate::from_pem(read(&tls.join("ca.pem"))?))
        .identity(Identity::from_pem(
            read(&tls.join("client.pem"))?,
            read(&tls.join("client.key"))?,
        ))
        .domain_name("localhost");
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

/// Opens `n` independent connections.
pub async fn connect_many(data_dir: &Path, n: usize) -> Result<Vec<CustosClient<Channel>>, String> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        out.push(connect(data_dir).await?);
    }
    Ok(out)
}

/// One-line description of a gRPC error.
pub fn status_error(s: &tonic::Status) -> String {
    let detail = s.message();
    let source = std::error::Error::source(s)
        .map(|e| format!(" ({e})"))
        .unwrap_or_default();
    format!("{:?}: {detail}{source}", s.code())
}
