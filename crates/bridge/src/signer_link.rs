//! The bridge's end of the socket pair to the signer.
//!
//! Many requests are in flight at once: each gets an id, a writer task sends
//! frames (flushing once per burst), and a reader task hands each answer to
//! the waiting caller. If the signer goes away the bridge exits: without a
//! signer it can do nothing useful, and the supervisor fails closed.

use custos_ipc::signer::{SignerHealth, SignerRequest, SignerResponse};
use custos_ipc::Envelope;
use custos_supervisor::aio;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::{mpsc, oneshot};

/// How long one signer call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests queued for the writer.
const QUEUE_DEPTH: usize = 4096;

/// Why a signer call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LinkError {
    /// The signer's socket is closed.
    #[error("signer is unavailable")]
    Unavailable,
    /// No answer in time.
    #[error("signer did not answer within {0:?}")]
    Timeout(Duration),
    /// An answer of the wrong type.
    #[error("signer sent an unexpected answer")]
    Unexpected,
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<SignerResponse>>>>;

/// A cloneable handle to the signer.
#[derive(Clone)]
pub struct SignerLink {
    tx: mpsc::Sender<Envelope<SignerRequest>>,
    pending: Pending,
    next_id: Arc<AtomicU64>,
}

impl SignerLink {
    /// Starts the reader and writer tasks on the socket.
    pub fn start(socket: tokio::net::UnixStream) -> Self {
        let (read_half, write_half) = socket.into_split();
        let (tx, mut rx) = mpsc::channel::<Envelope<SignerRequest>>(QUEUE_DEPTH);
        let pending: Pending = Arc::default();

        tokio::spawn(async move {
            let mut w = BufWriter::with_capacity(64 * 1024, write_half);
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
                match aio::read_frame::<Envelope<SignerResponse>, _>(&mut r).await {
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
                        tracing::error!(error = %e, "signer link lost; exiting (fail closed)");
                        readers.lock().unwrap_or_else(|p| p.into_inner()).clear();
                        std::process::exit(3);
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

    /// Sends one request and waits for its answer.
    pub async fn call(&self, body: SignerRequest) -> Result<SignerResponse, LinkError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (done, wait) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, done);
        if self.tx.send(Envelope { id, body }).await.is_err() {
            self.forget(id);
            return Err(LinkError::Unavailable);
        }
        match tokio::time::timeout(CALL_TIMEOUT, wait).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(LinkError::Unavailable),
            Err(_) => {
                self.forget(id);
                Err(LinkError::Timeout(CALL_TIMEOUT))
            }
        }
    }

    fn forget(&self, id: u64) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// Asks the signer for its health.
    pub async fn health(&self) -> Result<SignerHealth, LinkError> {
        match self.call(SignerRequest::Health).await? {
            SignerResponse::Health(h) => Ok(h),
            _ => Err(LinkError::Unexpected),
        }
    }
}
