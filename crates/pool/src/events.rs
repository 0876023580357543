//! Events for the signer (sealed [`ToSigner`] messages) and the batches the
//! bridge fetches them in, which decide when a Telegram update may be
//! confirmed.
//!
//! # The acknowledgement rule
//!
//! * Every event is sealed (in order, with the pool's channel end) as it is
//!   queued. At most [`EventQueue::capacity`] events are queued or in the
//!   outstanding batch; producers wait for room (the long-polling loop then
//!   stops reading updates).
//! * [`PoolRequest::NextEvents`](custos_ipc::pool::PoolRequest::NextEvents)
//!   takes up to [`MAX_SEALED_PER_CALL`] queued events as batch `N` (numbers
//!   start at 1). The batch stays *outstanding* until a later call carries
//!   `ack: Some(N)`; every call that does not acknowledge it gets the same
//!   batch again: same number, same sealed bytes (the signer's channel opens
//!   each message once, so a batch handed over twice is harmless). Only one
//!   batch is outstanding at a time. With nothing queued, the call waits up to
//!   `wait_ms` and then answers an empty batch numbered like the last one
//!   issued (acknowledging it again changes nothing).
//! * The long-polling loop records, after handling each update, how many
//!   events had been queued by then ([`EventQueue::handled_update`]). An
//!   update is *confirmed* (the `getUpdates` offset moves past it) only once
//!   every event queued up to that point has been acknowledged. An update that
//!   produced no event is confirmed as soon as everything before it is.
//! * The offset is kept in memory only (the pool has no filesystem). If the
//!   pool stops (the whole service stops with it), Telegram re-delivers every
//!   update not confirmed yet to the next run, so an update whose events the
//!   bridge had not acknowledged is never lost. The price: an update whose
//!   batch was acknowledged just before the stop, but whose confirmation had
//!   not reached Telegram yet (it travels with the next `getUpdates`), comes
//!   once more; the signer tolerates that (button tokens and link tokens are
//!   single-use).

use custos_ipc::channel::{ChannelEnd, Sealed};
use custos_ipc::pool::MAX_SEALED_PER_CALL;
use custos_ipc::telegram::{seal_to_signer, ToSigner};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;

/// Events queued or outstanding at most (by default).
pub const DEFAULT_EVENT_CAPACITY: usize = 4096;

#[derive(Debug)]
struct Batch {
    number: u64,
    events: Vec<Sealed>,
    /// Events queued up to and including this batch.
    end_seq: u64,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Sealed>,
    outstanding: Option<Batch>,
    last_batch: u64,
    /// Events ever queued.
    next_seq: u64,
    /// Events acknowledged.
    acked_seq: u64,
    /// Handled updates not confirmed yet: (offset past the update, events
    /// queued by then).
    marks: VecDeque<(i64, u64)>,
    /// The `getUpdates` offset that may be sent: everything below is confirmed.
    confirmed: Option<i64>,
}

impl State {
    fn held(&self) -> usize {
        self.queue.len() + self.outstanding.as_ref().map_or(0, |b| b.events.len())
    }

    fn advance(&mut self) {
        while let Some(&(offset, seq)) = self.marks.front() {
            if seq > self.acked_seq {
                break;
            }
            self.confirmed = Some(self.confirmed.map_or(offset, |c| c.max(offset)));
            self.marks.pop_front();
        }
    }
}

/// The bounded, sealed event queue (see the module notes).
#[derive(Debug)]
pub struct EventQueue {
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    capacity: usize,
}

/// Why an event was not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// It could not be sealed (the channel is exhausted or the message does not
    /// encode).
    #[error("event could not be sealed: {0}")]
    Seal(String),
}

impl EventQueue {
    /// A queue holding at most `capacity` events (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            changed: watch::Sender::new(0),
            capacity: capacity.max(1),
        }
    }

    /// Events held at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// A receiver that sees every later change (events queued, batches
    /// acknowledged).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Events queued and not yet acknowledged.
    pub fn len(&self) -> usize {
        self.lock().held()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Seals `event` with `channel` and queues it, waiting for room.
    pub async fn push(
        &self,
        channel: &Mutex<ChannelEnd>,
        event: &ToSigner,
    ) -> Result<(), PushError> {
        loop {
            let mut changed = self.subscribe();
            {
                let mut state = self.lock();
                if state.held() < self.capacity {
                    let sealed = {
                        let mut end = channel.lock().unwrap_or_else(|p| p.into_inner());
                        seal_to_signer(&mut end, event)
                            .map_err(|e| PushError::Seal(e.to_string()))?
                    };
                    state.queue.push_back(sealed);
                    state.next_seq += 1;
                    drop(state);
                    self.bump();
                    return Ok(());
                }
            }
            // Room comes with an acknowledgement.
            if changed.changed().await.is_err() {
                return Ok(());
            }
        }
    }

    /// Records that the update before `next_offset` was handled (its events,
    /// if any, are queued).
    pub fn handled_update(&self, next_offset: i64) {
        let mut state = self.lock();
        let seq = state.next_seq;
        state.marks.push_back((next_offset, seq));
        state.advance();
    }

    /// Events queued so far (a position to wait for with
    /// [`EventQueue::wait_acked`]).
    pub fn queued(&self) -> u64 {
        self.lock().next_seq
    }

    /// Waits up to `timeout` until every event up to position `seq` has been
    /// acknowledged; returns whether they were.
    pub async fn wait_acked(&self, seq: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut changed = self.subscribe();
            if self.lock().acked_seq >= seq {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                return self.lock().acked_seq >= seq;
            }
        }
    }

    /// The offset to poll with: every update below it is confirmed.
    pub fn confirmed(&self) -> Option<i64> {
        self.lock().confirmed
    }

    /// Serves `NextEvents`: acknowledges batch `ack` if it is the outstanding
    /// one, then returns the outstanding batch, or a new one, waiting up to
    /// `wait` for an event.
    pub async fn next(&self, ack: Option<u64>, wait: Duration) -> (u64, Vec<Sealed>) {
        let deadline = tokio::time::Instant::now() + wait;
        let mut changed = self.subscribe();
        {
            let mut state = self.lock();
            if let (Some(n), Some(batch)) = (ack, &state.outstanding) {
                if batch.number == n {
                    state.acked_seq = batch.end_seq;
                    state.outstanding = None;
                    state.advance();
                    drop(state);
                    self.bump();
                } else {
                    tracing::debug!(
                        ack = n,
                        outstanding = batch.number,
                        "stale event ack ignored"
                    );
                }
            }
        }
        loop {
            {
                let mut state = self.lock();
                if let Some(batch) = &state.outstanding {
                    return (batch.number, batch.events.clone());
                }
                if !state.queue.is_empty() {
                    let take = state.queue.len().min(MAX_SEALED_PER_CALL);
                    let events: Vec<Sealed> = state.queue.drain(..take).collect();
                    state.last_batch += 1;
                    let batch = Batch {
                        number: state.last_batch,
                        end_seq: state.next_seq - state.queue.len() as u64,
                        events: events.clone(),
                    };
                    let number = batch.number;
                    state.outstanding = Some(batch);
                    return (number, events);
                }
                if tokio::time::Instant::now() >= deadline {
                    return (state.last_batch, Vec::new());
                }
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    let state = self.lock();
                    if state.outstanding.is_none() && state.queue.is_empty() {
                        return (state.last_batch, Vec::new());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_ipc::pool::ViewKey;
    use custos_ipc::telegram::open_from_pool;

    fn ready(n: usize) -> ToSigner {
        ToSigner::Ready {
            bot_username: format!("bot{n}"),
        }
    }

    #[tokio::test]
    async fn batches_repeat_until_acked_and_updates_confirm_after_their_events() {
        let key = ViewKey::new([9; 32]);
        let pool = Mutex::new(ChannelEnd::pool(&key));
        let mut signer = ChannelEnd::signer(&key);
        let q = EventQueue::new(8);
        let none = Duration::ZERO;

        // An update with no event is confirmed at once.
        q.handled_update(11);
        assert_eq!(q.confirmed(), Some(11));
        assert_eq!(q.next(None, none).await, (0, vec![]));

        q.push(&pool, &ready(1)).await.unwrap();
        q.handled_update(12);
        q.handled_update(13); // nothing of its own, but after an unacked event
        assert_eq!(q.confirmed(), Some(11));
        let (b1, events) = q.next(None, none).await;
        assert_eq!((b1, events.len()), (1, 1));
        assert_eq!(open_from_pool(&mut signer, &events[0]).unwrap(), ready(1));
        // Not acked: the same batch again, even with more events queued.
        q.push(&pool, &ready(2)).await.unwrap();
        q.handled_update(14);
        assert_eq!(q.next(Some(0), none).await, (1, events.clone()));
        assert_eq!(q.confirmed(), Some(11));
        // Acked: the updates up to it are confirmed, the next batch comes.
        let (b2, events2) = q.next(Some(1), none).await;
        assert_eq!(q.confirmed(), Some(13));
        assert_eq!((b2, events2.len()), (2, 1));
        assert_eq!(open_from_pool(&mut signer, &events2[0]).unwrap(), ready(2));
        assert_eq!(q.next(Some(2), none).await, (2, vec![]));
        assert_eq!(q.confirmed(), Some(14));
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn a_full_queue_waits_for_an_ack_and_a_waiting_call_wakes_up() {
        let key = ViewKey::new([9; 32]);
        let pool = std::sync::Arc::new(Mutex::new(ChannelEnd::pool(&key)));
        let q = std::sync::Arc::new(EventQueue::new(2));
        q.push(&pool, &ready(1)).await.unwrap();
        q.push(&pool, &ready(2)).await.unwrap();
        let (q2, p2) = (q.clone(), pool.clone());
        let third = tokio::spawn(async move { q2.push(&p2, &ready(3)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!third.is_finished());
        let (b, ev) = q.next(None, Duration::ZERO).await;
        assert_eq!(ev.len(), 2);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!third.is_finished());
        let (b2, ev2) = q.next(Some(b), Duration::from_secs(5)).await;
        third.await.unwrap().unwrap();
        let ev2 = if ev2.is_empty() {
            q.next(None, Duration::from_secs(5)).await.1
        } else {
            assert_eq!(b2, b + 1);
            ev2
        };
        assert_eq!(ev2.len(), 1);

        // A waiting call returns as soon as an event comes.
        let (q3, p3) = (q.clone(), pool.clone());
        let started = std::time::Instant::now();
        let waiter =
            tokio::spawn(async move { q3.next(Some(b + 1), Duration::from_secs(10)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        q.push(&p3, &ready(4)).await.unwrap();
        let (_, ev) = waiter.await.unwrap();
        assert_eq!(ev.len(), 1);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
