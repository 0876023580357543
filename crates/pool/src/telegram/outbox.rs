//! A bounded outbound queue: messages are sent within the flood limits, in
//! order per chat, retried only when Telegram certainly did not apply them, and
//! reported as [`Delivery::Uncertain`] when that cannot be known, never resent
//! blindly (a duplicate confirmation message is worse than a missing one: the
//! confirmation then expires and fails closed).
//!
//! Retry rules, by [`FailureKind`]:
//! * 429 (`RateLimited`): not applied. The chat is paused for `retry_after`,
//!   and so is everything else ([`OutboxConfig::pause_all_on_429`]), since a
//!   429 cannot tell per-chat from global flood control; then retried.
//! * no connection (`NotSent`): not applied; retried after a backoff.
//! * 5xx (`ServerError`): **treated as not applied** and retried after a
//!   backoff, when [`OutboxConfig::retry_server_errors`] is set (the default,
//!   Telegram's usual meaning of 5xx). A server that applies a call and then
//!   answers 5xx would get a duplicate; with the option off a 5xx is reported
//!   as uncertain instead.
//! * timeouts, connections lost after sending, unreadable answers
//!   (`Ambiguous`): reported as [`Delivery::Uncertain`], not resent.
//! * other refusals (400, 403, ...): [`Delivery::Refused`].
//!
//! Backoff is exponential from [`OutboxConfig::backoff_initial`], capped at
//! [`OutboxConfig::backoff_max`], with jitter (a random half to all of it).
//! Retries stop after [`OutboxConfig::max_attempts`] or
//! [`OutboxConfig::give_up_after`]: [`Delivery::NotSent`].
//!
//! Each chat has a lane (a queue and a task) while it has messages waiting;
//! lanes send concurrently, each in order. Callback query answers
//! ([`Outgoing::Answer`]) have lanes of their own (one per chat), so an answer
//! never waits behind a message held back by the chat's flood limit, and they
//! take no flood-limit token (they are not messages); a 429 still pauses them. At most [`OutboxConfig::capacity`]
//! messages are queued or in flight; beyond that [`Outbox::submit`] answers
//! [`SubmitError::Full`] at once.

use super::client::{FailureKind, TelegramClient, TelegramError};
use super::limits::RateLimiter;
use super::types::{
    AnswerCallbackQuery, DeleteMessage, EditMessageText, Message, SendMessage, SendPhoto,
};
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// How the outbox behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxConfig {
    /// Messages queued or in flight at most.
    pub capacity: usize,
    /// Retry 5xx answers as not applied (see the module notes).
    pub retry_server_errors: bool,
    /// Pause every chat, not only the one concerned, on a 429.
    pub pause_all_on_429: bool,
    /// First backoff after a 5xx or a failed connection.
    pub backoff_initial: Duration,
    /// Longest backoff.
    pub backoff_max: Duration,
    /// Attempts per message at most (the first included).
    pub max_attempts: u32,
    /// No retry starts later than this after the first attempt.
    pub give_up_after: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            capacity: 4096,
            retry_server_errors: true,
            pause_all_on_429: true,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_attempts: 12,
            give_up_after: Duration::from_secs(240),
        }
    }
}

/// Something to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// `sendMessage`.
    Send(SendMessage),
    /// `sendPhoto` (a multipart upload; a message like `Send` for the limits).
    Photo(SendPhoto),
    /// `editMessageText`.
    Edit(EditMessageText),
    /// `deleteMessage`.
    Delete(DeleteMessage),
    /// `answerCallbackQuery` for a press in `chat` (the chat only chooses the lane).
    Answer {
        /// The chat of the pressed message (or the presser's id).
        chat: i64,
        /// The answer.
        query: AnswerCallbackQuery,
    },
}

impl Outgoing {
    /// The chat it goes to.
    pub fn chat(&self) -> i64 {
        match self {
            Outgoing::Send(m) => m.chat_id,
            Outgoing::Photo(m) => m.chat_id,
            Outgoing::Edit(m) => m.chat_id,
            Outgoing::Delete(m) => m.chat_id,
            Outgoing::Answer { chat, .. } => *chat,
        }
    }

    fn lane(&self) -> LaneKey {
        match self {
            Outgoing::Answer { chat, .. } => LaneKey::Answers(*chat),
            other => LaneKey::Chat(other.chat()),
        }
    }

    /// The Bot API method.
    pub fn method(&self) -> &'static str {
        match self {
            Outgoing::Send(_) => "sendMessage",
            Outgoing::Photo(_) => "sendPhoto",
            Outgoing::Edit(_) => "editMessageText",
            Outgoing::Delete(_) => "deleteMessage",
            Outgoing::Answer { .. } => "answerCallbackQuery",
        }
    }
}

/// What Telegram answered to a delivered item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// The message as sent or edited (its `message_id` is what later edits
    /// and presses refer to).
    Message(Message),
    /// The message was deleted.
    Deleted,
    /// The callback query was answered.
    Answered,
}

/// The outcome of one submitted item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Telegram applied it, exactly once.
    Delivered(Delivered),
    /// Telegram refused it; it was not applied and resending will not help.
    Refused(TelegramError),
    /// Not applied: retries ran out (attempts or time).
    NotSent {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last_error: TelegramError,
    },
    /// It may or may not have been applied (e.g. a timeout after the request
    /// left). It was not resent; the caller decides (for a confirmation: let
    /// it expire, never send a second copy blindly).
    Uncertain {
        /// Attempts made (the last one is the uncertain one).
        attempts: u32,
        /// What happened.
        error: TelegramError,
    },
    /// The outbox stopped (runtime shutting down) before an answer.
    Cancelled,
}

/// Why an item was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The queue holds [`OutboxConfig::capacity`] items already.
    #[error("outbound Telegram queue is full ({capacity} messages)")]
    Full {
        /// The capacity.
        capacity: usize,
    },
    /// [`Outbox::close`] was called.
    #[error("outbound Telegram queue is closed")]
    Closed,
    /// [`Outbox::new`] was called outside a tokio runtime.
    #[error("the outbox needs a tokio runtime")]
    NoRuntime,
}

/// The caller's side of a submitted item.
#[derive(Debug)]
pub struct Pending(oneshot::Receiver<Delivery>);

impl Pending {
    /// Waits for the outcome.
    pub async fn outcome(self) -> Delivery {
        self.0.await.unwrap_or(Delivery::Cancelled)
    }
}

struct Job {
    item: Outgoing,
    reply: oneshot::Sender<Delivery>,
    _slot: OwnedSemaphorePermit,
}

/// Which queue an item waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum LaneKey {
    /// Messages, edits and deletions of a chat.
    Chat(i64),
    /// Callback query answers for a chat.
    Answers(i64),
}

struct Shared {
    client: Arc<TelegramClient>,
    limiter: Arc<RateLimiter>,
    config: OutboxConfig,
    lanes: Mutex<HashMap<LaneKey, VecDeque<Job>>>,
    random: RandomState,
}

/// The outbound queue (see the module notes). Dropping it lets queued items
/// finish.
pub struct Outbox {
    shared: Arc<Shared>,
    slots: Arc<Semaphore>,
    closed: AtomicBool,
    runtime: Handle,
}

impl Outbox {
    /// An outbox sending through `client` within `limiter`. Call it inside a
    /// tokio runtime (lanes are spawned on it).
    pub fn new(
        client: Arc<TelegramClient>,
        limiter: Arc<RateLimiter>,
        config: OutboxConfig,
    ) -> Result<Self, SubmitError> {
        let runtime = Handle::try_current().map_err(|_| SubmitError::NoRuntime)?;
        Ok(Self {
            slots: Arc::new(Semaphore::new(config.capacity)),
            shared: Arc::new(Shared {
                client,
                limiter,
                config,
                lanes: Mutex::new(HashMap::new()),
                random: RandomState::new(),
            }),
            closed: AtomicBool::new(false),
            runtime,
        })
    }

    /// Queues `item`; never waits. The outcome comes through the returned
    /// [`Pending`].
    pub fn submit(&self, item: Outgoing) -> Result<Pending, SubmitError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(SubmitError::Closed);
        }
        let slot = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| SubmitError::Full {
                capacity: self.shared.config.capacity,
            })?;
        let (reply, rx) = oneshot::channel();
        let chat = item.lane();
        let job = Job {
            item,
            reply,
            _slot: slot,
        };
        let mut lanes = self.shared.lock_lanes();
        match lanes.get_mut(&chat) {
            Some(queue) => queue.push_back(job),
            None => {
                lanes.insert(chat, VecDeque::from([job]));
                self.runtime.spawn(lane(self.shared.clone(), chat));
            }
        }
        Ok(Pending(rx))
    }

    /// Items queued or in flight.
    pub fn len(&self) -> usize {
        self.shared.config.capacity - self.slots.available_permits()
    }

    /// Whether nothing is queued or in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Refuses further items; queued ones still go.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

impl Shared {
    fn lock_lanes(&self) -> std::sync::MutexGuard<'_, HashMap<LaneKey, VecDeque<Job>>> {
        self.lanes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A random duration between half of `d` and `d`.
    fn jitter(&self, d: Duration) -> Duration {
        let mut h = self.random.build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        let fraction = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
        d.mul_f64(0.5 + 0.5 * fraction)
    }

    async fn deliver(&self, item: &Outgoing) -> Delivery {
        let chat = item.chat();
        let method = item.method();
        let endpoint = self.client.endpoint();
        let started = Instant::now();
        let mut attempts = 0u32;
        let mut backoff = self.config.backoff_initial;
        loop {
            let is_answer = matches!(item, Outgoing::Answer { .. });
            if !is_answer {
                self.limiter.acquire(chat).await;
            }
            attempts += 1;
            let result = match item {
                Outgoing::Send(m) => self.client.send_message(m).await.map(Delivered::Message),
                Outgoing::Photo(m) => self.client.send_photo(m).await.map(Delivered::Message),
                Outgoing::Edit(m) => self
                    .client
                    .edit_message_text(m)
                    .await
                    .map(Delivered::Message),
                Outgoing::Delete(m) => self
                    .client
                    .delete_message(m)
                    .await
                    .map(|_| Delivered::Deleted),
                Outgoing::Answer { query, .. } => self
                    .client
                    .answer_callback_query(query)
                    .await
                    .map(|_| Delivered::Answered),
            };
            let error = match result {
                Ok(done) => return Delivery::Delivered(done),
                Err(e) => e,
            };
            let wait = match error.kind() {
                FailureKind::RateLimited(d) => {
                    tracing::warn!(%endpoint, method, chat, retry_after_s = d.as_secs(), "telegram flood control: pausing");
                    self.limiter.pause_chat(chat, d);
                    if self.config.pause_all_on_429 {
                        self.limiter.pause_all(d);
                    }
                    d
                }
                FailureKind::ServerError if !self.config.retry_server_errors => {
                    tracing::warn!(%endpoint, method, chat, %error, "telegram send uncertain (5xx)");
                    return Delivery::Uncertain { attempts, error };
                }
                FailureKind::ServerError | FailureKind::NotSent => {
                    let wait = self.jitter(backoff);
                    backoff = (backoff * 2).min(self.config.backoff_max);
                    tracing::warn!(%endpoint, method, chat, %error, backoff_ms = wait.as_millis() as u64, "telegram send failed, retrying");
                    wait
                }
                FailureKind::Refused => {
                    tracing::warn!(%endpoint, method, chat, %error, "telegram refused");
                    return Delivery::Refused(error);
                }
                FailureKind::Ambiguous => {
                    tracing::warn!(%endpoint, method, chat, %error, "telegram send uncertain, not resending");
                    return Delivery::Uncertain { attempts, error };
                }
            };
            if attempts >= self.config.max_attempts
                || started.elapsed() + wait > self.config.give_up_after
            {
                tracing::warn!(%endpoint, method, chat, attempts, %error, "telegram send given up");
                return Delivery::NotSent {
                    attempts,
                    last_error: error,
                };
            }
            // A 429's wait is enforced by the limiter's pause (answers take no
            // token from the limiter, so they wait here).
            if is_answer || !matches!(error.kind(), FailureKind::RateLimited(_)) {
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Removes a lane that ends abnormally (its task cancelled at runtime
/// shutdown, or a panic), so its waiting items are dropped (their callers get
/// [`Delivery::Cancelled`]) and later items for the chat start a new lane.
struct LaneGuard<'a> {
    shared: &'a Shared,
    chat: LaneKey,
    finished: bool,
}

impl Drop for LaneGuard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.lock_lanes().remove(&self.chat);
        }
    }
}

/// Sends a chat's items one after the other, and ends when none is left.
async fn lane(shared: Arc<Shared>, chat: LaneKey) {
    let mut guard = LaneGuard {
        shared: &shared,
        chat,
        finished: false,
    };
    loop {
        let job = {
            let mut lanes = shared.lock_lanes();
            match lanes.get_mut(&chat).and_then(VecDeque::pop_front) {
                Some(job) => job,
                None => {
                    lanes.remove(&chat);
                    guard.finished = true;
                    return;
                }
            }
        };
        let outcome = shared.deliver(&job.item).await;
        // The caller may have stopped waiting; the item was handled anyway.
        let _ = job.reply.send(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telegram::{BotToken, ClientConfig, LimitsConfig};

    #[tokio::test]
    async fn jitter_stays_between_half_and_all_of_the_backoff() {
        let client = TelegramClient::new(
            BotToken::new("1:a".into()).unwrap(),
            ClientConfig::default(),
        )
        .unwrap();
        let out = Outbox::new(
            Arc::new(client),
            Arc::new(RateLimiter::new(LimitsConfig::default())),
            OutboxConfig::default(),
        )
        .unwrap();
        let d = Duration::from_millis(1000);
        let draws: Vec<Duration> = (0..200).map(|_| out.shared.jitter(d)).collect();
        assert!(draws.iter().all(|j| *j >= d / 2 && *j <= d));
        let distinct: std::collections::HashSet<_> = draws.iter().collect();
        assert!(distinct.len() > 150, "{}", distinct.len());
    }

    #[test]
    fn an_outbox_needs_a_runtime() {
        let client = TelegramClient::new(
            BotToken::new("1:a".into()).unwrap(),
            ClientConfig::default(),
        )
        .unwrap();
        let r = Outbox::new(
            Arc::new(client),
            Arc::new(RateLimiter::new(LimitsConfig::default())),
            OutboxConfig::default(),
        );
        assert_eq!(r.err(), Some(SubmitError::NoRuntime));
    }
}
