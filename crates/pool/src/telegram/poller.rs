//! The long-polling loop: `getUpdates` with the stored offset, each update
//! handed to the consumer ([`UpdateSink`]), and the offset advanced (stored,
//! then sent to Telegram with the next poll, which is what confirms the update
//! there) only after the consumer accepted it.
//!
//! So an update is never lost: until it is accepted, it is neither stored nor
//! confirmed, and the next poll (or the next run) gets it again. And it is not
//! delivered twice across restarts: the offset is stored before the next
//! update is handed over, and a restarted poller resumes from it. (A crash in
//! the instant between the consumer accepting an update and the store
//! returning would hand that one update over again; consumers can recognise it
//! by its `update_id`.)

use super::client::{TelegramClient, TelegramError};
use super::offset::{OffsetError, OffsetStore};
use super::types::{GetUpdates, Update};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How the poller polls.
#[derive(Debug, Clone, PartialEq)]
pub struct PollerConfig {
    /// Long-polling `timeout` in seconds.
    pub timeout_secs: u32,
    /// Updates per call at most (1-100).
    pub limit: u8,
    /// Update kinds wanted.
    pub allowed_updates: Vec<String>,
    /// First pause after a failed poll.
    pub backoff_initial: Duration,
    /// Longest pause after failed polls.
    pub backoff_max: Duration,
}

impl Default for PollerConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 50,
            limit: 100,
            allowed_updates: vec!["message".into(), "callback_query".into()],
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// The consumer refused an update (it is shutting down); the update is not
/// acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the update consumer is closed")]
pub struct SinkClosed;

/// Where updates go. Accepting an update means taking responsibility for it:
/// the poller acknowledges it right after.
pub trait UpdateSink: Send {
    /// Takes one update.
    fn accept(&mut self, update: Update) -> impl Future<Output = Result<(), SinkClosed>> + Send;
}

/// A channel accepts an update once it is queued in it.
impl UpdateSink for mpsc::Sender<Update> {
    async fn accept(&mut self, update: Update) -> Result<(), SinkClosed> {
        self.send(update).await.map_err(|_| SinkClosed)
    }
}

/// Why the poller stopped.
#[derive(Debug, thiserror::Error)]
pub enum PollerError {
    /// The offset could not be read or stored (stopping is safer than
    /// acknowledging updates that would come back after a restart).
    #[error("update offset: {0}")]
    Store(#[from] OffsetError),
    /// The consumer closed.
    #[error("{0}")]
    SinkClosed(#[from] SinkClosed),
    /// Telegram rejected the token (401).
    #[error("Telegram refused the bot token: {0}")]
    Unauthorized(TelegramError),
}

/// The long-polling loop (see the module notes).
pub struct Poller<S: OffsetStore> {
    client: Arc<TelegramClient>,
    store: S,
    config: PollerConfig,
}

impl<S: OffsetStore> Poller<S> {
    /// A poller over `client`, resuming from `store`.
    pub fn new(client: Arc<TelegramClient>, store: S, config: PollerConfig) -> Self {
        Self {
            client,
            store,
            config,
        }
    }

    /// Polls until `shutdown` completes (then `Ok`), or a [`PollerError`].
    /// Failed polls are logged and retried after a backoff.
    pub async fn run(
        &self,
        sink: &mut impl UpdateSink,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), PollerError> {
        tokio::pin!(shutdown);
        let endpoint = self.client.endpoint();
        let mut offset = self.store.load()?;
        tracing::info!(%endpoint, ?offset, "telegram polling starts");
        let mut backoff = self.config.backoff_initial;
        loop {
            let params = GetUpdates {
                offset,
                limit: Some(self.config.limit.clamp(1, 100)),
                timeout: self.config.timeout_secs,
                allowed_updates: Some(self.config.allowed_updates.clone()),
            };
            let polled = tokio::select! {
                biased;
                () = &mut shutdown => return Ok(()),
                r = self.client.get_updates(&params) => r,
            };
            let mut updates = match polled {
                Ok(u) => {
                    backoff = self.config.backoff_initial;
                    u
                }
                Err(e @ TelegramError::Api { code: 401, .. }) => {
                    return Err(PollerError::Unauthorized(e))
                }
                Err(e) => {
                    tracing::warn!(%endpoint, error = %e, backoff_ms = backoff.as_millis() as u64, "telegram getUpdates failed");
                    tokio::select! {
                        biased;
                        () = &mut shutdown => return Ok(()),
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.config.backoff_max);
                    continue;
                }
            };
            updates.sort_by_key(|u| u.update_id);
            for update in updates {
                let id = update.update_id;
                if offset.is_some_and(|o| id < o) {
                    tracing::debug!(
                        update_id = id,
                        "telegram update already acknowledged, skipped"
                    );
                    continue;
                }
                tokio::select! {
                    biased;
                    () = &mut shutdown => return Ok(()),
                    r = sink.accept(update) => r?,
                }
                let next = id.saturating_add(1);
                self.store.store(next)?;
                offset = Some(next);
            }
        }
    }
}
