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
use custos_ipc::channel::Sealed;
use custos_ipc::pool::{
    PoolRefusal, PoolRequest, PoolResponse, ResponseMismatch, TableQuery, TelegramStatus,
    MAX_SEALED_PER_CALL,
};
use std::time::Duration;

/// How long one pool call may take. The pool bounds each RPC call to 4 s, so this
/// only fires if the pool itself is stuck or overloaded.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the bridge asks the pool to hold a `NextEvents` call open (a long poll).
pub const EVENT_WAIT: Duration = Duration::from_secs(15);
/// How long a `NextEvents` call may take in all: the wait plus the usual margin.
pub const EVENT_CALL_TIMEOUT: Duration = Duration::from_secs(15 + 5);
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
    /// The pool refused the request.
    #[error("pool refused: {0}")]
    Refused(PoolRefusal),
    /// An answer of the wrong type.
    #[error("pool sent an unexpected answer")]
    Unexpected,
}

fn call_error(e: CallError) -> PoolLinkError {
    match e {
        CallError::Unavailable => PoolLinkError::Unavailable,
        CallError::Timeout(t) => PoolLinkError::Timeout(t),
    }
}

/// One batch of sealed events from the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBatch {
    /// The batch number, to acknowledge once handled.
    pub batch: u64,
    /// The sealed events for the signer, in order.
    pub events: Vec<Sealed>,
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
        let response = self.0.call(body).await.map_err(call_error)?;
        response.validate_for(&queries)?;
        Ok(response)
    }

    /// Hands sealed messages from the signer to the pool, at most
    /// [`MAX_SEALED_PER_CALL`] per call, in order. Returns how many the pool accepted
    /// (opened and queued); the rest it dropped and logged.
    pub async fn deliver(&self, sealed: Vec<Sealed>) -> Result<u32, PoolLinkError> {
        let mut accepted = 0u32;
        let mut rest = sealed;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(MAX_SEALED_PER_CALL));
            match self
                .0
                .call(PoolRequest::Deliver(rest))
                .await
                .map_err(call_error)?
            {
                PoolResponse::Delivered { accepted: n } => accepted = accepted.saturating_add(n),
                PoolResponse::Refused(r) => return Err(PoolLinkError::Refused(r)),
                _ => return Err(PoolLinkError::Unexpected),
            }
            rest = tail;
        }
        Ok(accepted)
    }

    /// The next batch of sealed events, waiting up to [`EVENT_WAIT`] for one;
    /// `ack` acknowledges the last batch fully handled.
    pub async fn next_events(&self, ack: Option<u64>) -> Result<EventBatch, PoolLinkError> {
        let body = PoolRequest::NextEvents {
            ack,
            wait_ms: EVENT_WAIT.as_millis() as u32,
        };
        match self
            .0
            .call_with_timeout(body, EVENT_CALL_TIMEOUT)
            .await
            .map_err(call_error)?
        {
            PoolResponse::Events { batch, events } => Ok(EventBatch { batch, events }),
            PoolResponse::Refused(r) => Err(PoolLinkError::Refused(r)),
            _ => Err(PoolLinkError::Unexpected),
        }
    }

    /// Public status of the pool's Telegram client (`configured: false` when it has
    /// none).
    pub async fn telegram_status(&self) -> Result<TelegramStatus, PoolLinkError> {
        match self
            .0
            .call(PoolRequest::TelegramStatus)
            .await
            .map_err(call_error)?
        {
            PoolResponse::Telegram(t) => Ok(t),
            // Either form means the same: no bot.
            PoolResponse::Refused(PoolRefusal::TelegramNotConfigured) => {
                Ok(TelegramStatus::default())
            }
            PoolResponse::Refused(r) => Err(PoolLinkError::Refused(r)),
            _ => Err(PoolLinkError::Unexpected),
        }
    }
}
