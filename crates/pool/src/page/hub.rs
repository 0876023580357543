//! The requests of the page waiting for the signer's answers.
//!
//! Each `POST /p/api` becomes one [`ToSigner::Page`] with a fresh request id, handed to the
//! hub's emit callback (which the pool wires to its sealed event queue), and waits until
//! [`PageHub::reply`] brings the signer's [`ToPool::PageReply`](custos_ipc::telegram::ToPool::PageReply)
//! for that id, the timeout passes, or the HTTP request is abandoned. The hub holds at most
//! a bounded number of waiting requests, so a flood of page requests cannot grow the pool's
//! memory or the signer's queue without limit.

use custos_ipc::telegram::{SecretString, ToSigner};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

/// Most page requests waiting for the signer at once; beyond, requests are refused
/// ([`RelayError::Busy`]).
pub const MAX_WAITING: usize = 256;
/// How long a page request waits for the signer before it is answered with
/// [`RelayError::TimedOut`].
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(15);

/// The signer's answer to one page request.
#[derive(Debug)]
pub struct PageAnswer {
    /// The HTTP status the signer chose.
    pub status: u16,
    /// The JSON body (may hold an export bundle or a one-time secret, so secret).
    pub body: SecretString,
}

/// Why a page request got no answer from the signer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// [`MAX_WAITING`] requests are already waiting.
    #[error("too many page requests are waiting")]
    Busy,
    /// The signer did not answer in time.
    #[error("the signer did not answer in time")]
    TimedOut,
}

type Emit = Box<dyn Fn(ToSigner) + Send + Sync>;

/// Matches page requests to the signer's replies by request id.
pub struct PageHub {
    emit: Emit,
    waiting: Mutex<HashMap<u64, oneshot::Sender<PageAnswer>>>,
    next_id: AtomicU64,
    max_waiting: usize,
    timeout: Duration,
}

impl std::fmt::Debug for PageHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageHub")
            .field("waiting", &self.waiting())
            .field("max_waiting", &self.max_waiting)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl PageHub {
    /// A hub that hands each page request to `emit` as a [`ToSigner::Page`], with the
    /// default limits ([`MAX_WAITING`], [`REPLY_TIMEOUT`]). `emit` must not block: it
    /// should only queue the message for the signer.
    pub fn new(emit: impl Fn(ToSigner) + Send + Sync + 'static) -> Self {
        Self::with_limits(emit, MAX_WAITING, REPLY_TIMEOUT)
    }

    /// A hub with explicit limits (tests use short timeouts).
    pub fn with_limits(
        emit: impl Fn(ToSigner) + Send + Sync + 'static,
        max_waiting: usize,
        timeout: Duration,
    ) -> Self {
        Self {
            emit: Box::new(emit),
            waiting: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            max_waiting,
            timeout,
        }
    }

    /// Requests waiting for the signer now.
    pub fn waiting(&self) -> usize {
        self.lock().len()
    }

    /// Completes the waiting request `request_id` with the signer's answer. A reply to
    /// an unknown request (timed out, abandoned, or never made) is dropped.
    pub fn reply(&self, request_id: u64, status: u16, body: SecretString) {
        match self.lock().remove(&request_id) {
            Some(tx) => {
                // The receiver may have gone in the meantime: then nobody wants it.
                let _ = tx.send(PageAnswer { status, body });
            }
            None => tracing::debug!(request_id, "page reply for no waiting request dropped"),
        }
    }

    /// Relays one page request body to the signer and waits for its answer.
    pub async fn relay(&self, body: SecretString) -> Result<PageAnswer, RelayError> {
        let (request_id, rx) = {
            let mut waiting = self.lock();
            if waiting.len() >= self.max_waiting {
                return Err(RelayError::Busy);
            }
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = oneshot::channel();
            waiting.insert(id, tx);
            (id, rx)
        };
        // Removes the entry however this future ends (answer, timeout, or dropped
        // because the browser went away).
        let _entry = Entry {
            hub: self,
            request_id,
        };
        (self.emit)(ToSigner::Page { request_id, body });
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            // The sender is only dropped by `Entry` or a reply that lost the race with
            // the timeout: both mean no answer in time.
            Ok(Err(_)) | Err(_) => {
                tracing::debug!(request_id, "page request timed out");
                Err(RelayError::TimedOut)
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, oneshot::Sender<PageAnswer>>> {
        // A panic while holding the lock leaves the map consistent (each operation is
        // one insert or remove), so a poisoned lock is still usable.
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

struct Entry<'a> {
    hub: &'a PageHub,
    request_id: u64,
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        self.hub.lock().remove(&self.request_id);
    }
}
