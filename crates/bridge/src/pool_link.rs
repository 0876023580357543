//! The bridge's end of the socket pair to the pool.
//!
//! Works like the signer link: requests carry ids, one writer task sends them
//! (flushing once per burst), one reader task hands each answer to its caller.
//! Whatever goes wrong on a single call (a timeout, an answer that does not fit
//! the request) only means the bridge goes without what it asked for: lookup
//! tables it cannot get from the pool stay unresolved, which makes verdicts
//! stricter, never looser. A lost or corrupted link, however, ends the bridge
//! (fail closed), as with the signer.

use custos_ipc::pool::{PoolRequest, PoolResponse, ResponseMismatch, TableQuery};
use custos_ipc::Envelope;
use custos_supervisor::aio;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::{mpsc, oneshot};

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

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<PoolResponse>>>>;

/// A cloneable handle to the pool.
#[derive(Clone)]
pub struct PoolLink {
    tx: mpsc::Sender<Envelope<PoolRequest>>,
    pending: Pending,
    next_id: Arc<AtomicU64>,
}

impl PoolLink {
    /// Starts the reader and writer tasks on the socket.
    pub fn start(socket: tokio::net::UnixStream) -> Self {
        let (read_half, write_half) = socket.into_split();
        let (tx, mut rx) = mpsc::channel::<Envelope<PoolRequest>>(QUEUE_DEPTH);
        let pending: Pending = Arc::default();

        tokio::spawn(async move {
            let mut w = BufWriter::with_capacity(16 * 1024, write_half);
            while let Some(first) = rx.recv().await {
                if aio::write_frame(&mut w, &first).await.is_err() {
                    break;
                }
                while let Ok(more) = rx.try_recv() {
                    if aio::write_frame(&mut w, &more).await.is_err() {
                        break;
                    }
                }
                if w.flush().await.is_err() {
                    break;
                }
            }
        });

        let readers = Arc::clone(&pending);
        tokio::spawn(async move {
            let mut r = BufReader::with_capacity(64 * 1024, read_half);
            loop {
                match aio::read_frame::<Envelope<PoolResponse>, _>(&mut r).await {
                    Ok(Envelope { id, body }) => {
                        let waiter = readers
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&id);
                        if let Some(w) = waiter {
                            let _ = w.send(body);
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "pool link lost; exiting (fail closed)");
                        readers.lock().unwrap_or_else(|p| p.into_inner()).clear();
                        std::process::exit(EXIT_POOL_LOST);
                    }
                }
            }
        });

        Self {
            tx,
            pending,
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Asks for the first `entries_needed` entries of each table. The answer is
    /// checked against the request: one result per table, in order, none longer
    /// than asked for.
    pub async fn lookup_tables(
        &self,
        queries: Vec<TableQuery>,
    ) -> Result<PoolResponse, PoolLinkError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (done, wait) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, done);
        let body = PoolRequest::LookupTables(queries.clone());
        if self.tx.send(Envelope { id, body }).await.is_err() {
            self.forget(id);
            return Err(PoolLinkError::Unavailable);
        }
        let response = match tokio::time::timeout(CALL_TIMEOUT, wait).await {
            Ok(Ok(resp)) => resp,
            Ok(Err(_)) => return Err(PoolLinkError::Unavailable),
            Err(_) => {
                self.forget(id);
                return Err(PoolLinkError::Timeout(CALL_TIMEOUT));
            }
        };
        response.validate_for(&queries)?;
        Ok(response)
    }

    fn forget(&self, id: u64) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }
}
