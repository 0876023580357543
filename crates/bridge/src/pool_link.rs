//! The bridge's end of the socket pair to the pool.
//!
//! Works like the signer link: requests carry ids, one writer task sends them
//! (flushing once per burst), one reader task hands each answer to its caller.
//! Whatever goes wrong on a single call (a timeout, an answer that does not fit
//! the request) only means the bridge goes without what it asked for: lookup
//! tables it cannot get from the pool stay unresolved, which makes verdicts
//! stricter, never looser. A lost or corrupted link, however, ends the bridge
//! (fail closed), as with the signer.

use crate::link::{CallError, Link, LinkConfig};
use custos_ipc::pool::{PoolRequest, PoolResponse, ResponseMismatch, TableQuery};
use std::time::Duration;

/// How long one pool call may take. The pool bounds each RPC call to 4 s, so this
/// only fires if the pool itself is stuck or overloaded.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests queued for the writer.
const QUEUE_DEPTH: usize = 1024;
/// Exit status of the bridge when the pool link is lost.
pub const EXIT_POOL_LOST: i32 = 4;

/// Why a pool call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolLinkError {
    /// The pool's socket is closed.
    #[error("pool is unavailable")]
    Unavailable,
    /// No answer in time.
    #[error("pool did not answer within {0:?}")]
    Timeout(Duration),
    /// The answer does not fit the request.
    #[error("pool answer does not fit the request: {0}")]
    Mismatch(#[from] ResponseMismatch),
}

/// A cloneable handle to the pool.
#[derive(Clone)]
pub struct PoolLink(Link<PoolRequest, PoolResponse>);

impl PoolLink {
    /// Starts the reader and writer tasks on the socket.
    pub fn start(socket: tokio::net::UnixStream) -> Self {
        Self(Link::start(
            socket,
            LinkConfig {
                peer: "pool",
                queue_depth: QUEUE_DEPTH,
                write_buffer: 16 * 1024,
                call_timeout: CALL_TIMEOUT,
                exit_status: EXIT_POOL_LOST,
            },
        ))
    }

    /// Asks for the first `entries_needed` entries of each table. The answer is
    /// checked against the request: one result per table, in order, none longer
    /// than asked for.
    pub async fn lookup_tables(
        &self,
        queries: Vec<TableQuery>,
    ) -> Result<PoolResponse, PoolLinkError> {
        let body = PoolRequest::LookupTables(queries.clone());
        let response = self.0.call(body).await.map_err(|e| match e {
            CallError::Unavailable => PoolLinkError::Unavailable,
            CallError::Timeout(t) => PoolLinkError::Timeout(t),
        })?;
        response.validate_for(&queries)?;
        Ok(response)
    }
}
