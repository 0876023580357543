//! Connecting to a running Custos over gRPC with mutual TLS.

use custos_api::v1::custos_client::CustosClient;
use std::path::Path;
use tonic::transport::Channel;

pub use custos_api::client::connect;

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
