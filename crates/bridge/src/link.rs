//! A multiplexed request/answer link over one socket pair, shared by the bridge's
//! links to the signer and to the pool.
//!
//! Many requests are in flight at once: each gets an id, a writer task sends frames
//! (flushing once per burst), and a reader task hands each answer to the waiting
//! caller. A lost or corrupted link ends the bridge with the link's exit status, so
//! the supervisor fails closed; a single call only times out.

use custos_ipc::Envelope;
use custos_supervisor::aio;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::{mpsc, oneshot};

/// How a link is set up.
#[derive(Debug, Clone, Copy)]
pub struct LinkConfig {
    /// The peer's name, for logs.
    pub peer: &'static str,
    /// Requests queued for the writer.
    pub queue_depth: usize,
    /// Writer buffer size.
    pub write_buffer: usize,
    /// How long one call may take.
    pub call_timeout: Duration,
    /// Exit status of the bridge when the link is lost.
    pub exit_status: i32,
}

/// Why one call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallError {
    /// The socket is closed.
    Unavailable,
    /// No answer within the call timeout.
    Timeout(Duration),
}

type Pending<A> = Arc<Mutex<HashMap<u64, oneshot::Sender<A>>>>;

/// A cloneable handle to a peer that answers `Q` with `A`.
pub struct Link<Q, A> {
    tx: mpsc::Sender<Envelope<Q>>,
    pending: Pending<A>,
    next_id: Arc<AtomicU64>,
    call_timeout: Duration,
}

impl<Q, A> Clone for Link<Q, A> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            pending: Arc::clone(&self.pending),
            next_id: Arc::clone(&self.next_id),
            call_timeout: self.call_timeout,
        }
    }
}

impl<Q, A> Link<Q, A>
where
    Q: Serialize + Send + Sync + 'static,
    A: DeserializeOwned + Send + 'static,
{
    /// Starts the reader and writer tasks on the socket.
    pub fn start(socket: tokio::net::UnixStream, config: LinkConfig) -> Self {
        let (read_half, write_half) = socket.into_split();
        let (tx, mut rx) = mpsc::channel::<Envelope<Q>>(config.queue_depth);
        let pending: Pending<A> = Arc::default();

        tokio::spawn(async move {
            let mut w = BufWriter::with_capacity(config.write_buffer, write_half);
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
                match aio::read_frame::<Envelope<A>, _>(&mut r).await {
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
                        tracing::error!(peer = config.peer, error = %e, "link lost; exiting (fail closed)");
                        readers.lock().unwrap_or_else(|p| p.into_inner()).clear();
                        std::process::exit(config.exit_status);
                    }
                }
            }
        });

        Self {
            tx,
            pending,
            next_id: Arc::new(AtomicU64::new(1)),
            call_timeout: config.call_timeout,
        }
    }

    /// Sends one request and waits for its answer, up to the link's call timeout.
    pub async fn call(&self, body: Q) -> Result<A, CallError> {
        self.call_with_timeout(body, self.call_timeout).await
    }

    /// Sends one request and waits up to `timeout` for its answer (for calls that
    /// wait on purpose, such as a long poll).
    pub async fn call_with_timeout(&self, body: Q, timeout: Duration) -> Result<A, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (done, wait) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, done);
        if self.tx.send(Envelope { id, body }).await.is_err() {
            self.forget(id);
            return Err(CallError::Unavailable);
        }
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(CallError::Unavailable),
            Err(_) => {
                self.forget(id);
                Err(CallError::Timeout(timeout))
            }
        }
    }

    fn forget(&self, id: u64) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }
}
