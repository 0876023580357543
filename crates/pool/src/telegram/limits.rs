//! Flood limits that follow Telegram's: about 30 messages a second overall and
//! about one a second per chat, short bursts tolerated. Each limit is a token
//! bucket (a steady rate plus a burst); [`RateLimiter::acquire`] waits until
//! both the global bucket and the chat's have a token, and takes one from each.
//! A 429 pauses a chat, or everything, for its `retry_after`
//! ([`RateLimiter::pause_chat`], [`RateLimiter::pause_all`]).
//!
//! Waiters take turns for the global bucket: a sender first waits for its
//! chat's bucket alone, then queues (first come, first served) for the global
//! one, so only one sender at a time sleeps on it. Thousands of chats waiting
//! at once do not all wake up for every token, and tokens go out in order.
//!
//! Memory stays bounded: a chat's bucket that has refilled completely (and is
//! not paused) is the same as a fresh one, so such buckets are dropped once
//! more than [`LimitsConfig::max_idle_chats`] are held. Buckets that are not
//! full are at most what the global rate lets through in one per-chat refill
//! time, so they cannot grow without bound either.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Rates and bursts.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitsConfig {
    /// Steady global rate (messages per second).
    pub global_per_sec: f64,
    /// Global burst (messages that may go at once).
    pub global_burst: u32,
    /// Steady rate per chat (messages per second).
    pub per_chat_per_sec: f64,
    /// Burst per chat.
    pub per_chat_burst: u32,
    /// Chat buckets kept beyond which full ones are dropped.
    pub max_idle_chats: usize,
}

impl Default for LimitsConfig {
    /// 30/s overall with a burst of 1 (so no one-second window sees more than
    /// about 30), 1/s per chat with a burst of 2.
    fn default() -> Self {
        Self {
            global_per_sec: 30.0,
            global_burst: 1,
            per_chat_per_sec: 1.0,
            per_chat_burst: 2,
            max_idle_chats: 1024,
        }
    }
}

#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    last: Instant,
    paused_until: Option<Instant>,
}

impl Bucket {
    fn new(burst: u32, now: Instant) -> Self {
        Self {
            tokens: f64::from(burst.max(1)),
            last: now,
            paused_until: None,
        }
    }

    fn refill(&mut self, rate: f64, burst: u32, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(burst.max(1)));
        self.last = now;
        if self.paused_until.is_some_and(|p| p <= now) {
            self.paused_until = None;
        }
    }

    /// How long until a token is available (zero: now).
    fn wait(&self, rate: f64, now: Instant) -> Duration {
        let pause = self
            .paused_until
            .map(|p| p.saturating_duration_since(now))
            .unwrap_or_default();
        let refill = if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / rate)
        };
        pause.max(refill)
    }

    fn is_idle(&self, burst: u32) -> bool {
        self.paused_until.is_none() && self.tokens >= f64::from(burst.max(1))
    }
}

#[derive(Debug)]
struct State {
    global: Bucket,
    chats: HashMap<i64, Bucket>,
}

/// Global and per-chat token buckets, shared by all senders.
#[derive(Debug)]
pub struct RateLimiter {
    config: LimitsConfig,
    state: Mutex<State>,
    /// Held by the one sender waiting for the global bucket.
    turn: tokio::sync::Mutex<()>,
}

impl RateLimiter {
    /// A limiter with full buckets. Rates below 0.001/s are raised to that.
    pub fn new(mut config: LimitsConfig) -> Self {
        config.global_per_sec = config.global_per_sec.max(0.001);
        config.per_chat_per_sec = config.per_chat_per_sec.max(0.001);
        let now = Instant::now();
        Self {
            state: Mutex::new(State {
                global: Bucket::new(config.global_burst, now),
                chats: HashMap::new(),
            }),
            turn: tokio::sync::Mutex::new(()),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LimitsConfig {
        &self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the buckets inconsistent
        // in a way that matters (at worst one token is miscounted).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a message may go to `chat` and takes a token from the
    /// global bucket and the chat's.
    pub async fn acquire(&self, chat: i64) {
        loop {
            // The chat's own bucket first, without holding up anyone.
            while let Some(d) = self.chat_wait(chat, Instant::now()) {
                tokio::time::sleep(d).await;
            }
            // Then one sender at a time for the global bucket.
            let _turn = self.turn.lock().await;
            loop {
                match self.try_acquire(chat, Instant::now()) {
                    None => return,
                    // The chat was paused meanwhile: let the others go first.
                    Some(_) if self.chat_wait(chat, Instant::now()).is_some() => break,
                    Some(d) => tokio::time::sleep(d).await,
                }
            }
        }
    }

    /// How long until the chat's bucket has a token (`None`: now); takes none.
    fn chat_wait(&self, chat: i64, now: Instant) -> Option<Duration> {
        let c = &self.config;
        let mut state = self.lock();
        let bucket = state.chats.get_mut(&chat)?;
        bucket.refill(c.per_chat_per_sec, c.per_chat_burst, now);
        let wait = bucket.wait(c.per_chat_per_sec, now);
        (wait > Duration::ZERO).then(|| wait.max(Duration::from_millis(1)))
    }

    /// Takes the tokens if both are there (`None`), or says how long to wait.
    fn try_acquire(&self, chat: i64, now: Instant) -> Option<Duration> {
        let c = &self.config;
        let mut state = self.lock();
        let State { global, chats } = &mut *state;
        global.refill(c.global_per_sec, c.global_burst, now);
        let bucket = chats
            .entry(chat)
            .or_insert_with(|| Bucket::new(c.per_chat_burst, now));
        bucket.refill(c.per_chat_per_sec, c.per_chat_burst, now);
        let wait = global
            .wait(c.global_per_sec, now)
            .max(bucket.wait(c.per_chat_per_sec, now));
        if wait > Duration::ZERO {
            // At least a millisecond, so a rounding error cannot spin.
            return Some(wait.max(Duration::from_millis(1)));
        }
        global.tokens -= 1.0;
        bucket.tokens -= 1.0;
        if chats.len() > c.max_idle_chats {
            self.evict(chats, now);
        }
        None
    }

    fn evict(&self, chats: &mut HashMap<i64, Bucket>, now: Instant) {
        let c = &self.config;
        chats.retain(|_, b| {
            b.refill(c.per_chat_per_sec, c.per_chat_burst, now);
            !b.is_idle(c.per_chat_burst)
        });
    }

    /// Nothing goes to `chat` for `by` (a 429 for that chat).
    pub fn pause_chat(&self, chat: i64, by: Duration) {
        let c = &self.config;
        let now = Instant::now();
        let mut state = self.lock();
        let bucket = state
            .chats
            .entry(chat)
            .or_insert_with(|| Bucket::new(c.per_chat_burst, now));
        let until = now + by;
        bucket.paused_until = Some(bucket.paused_until.map_or(until, |p| p.max(until)));
    }

    /// Nothing goes anywhere for `by` (a 429 that may be global flood control).
    pub fn pause_all(&self, by: Duration) {
        let now = Instant::now();
        let mut state = self.lock();
        let until = now + by;
        state.global.paused_until = Some(state.global.paused_until.map_or(until, |p| p.max(until)));
    }

    /// Chat buckets held now.
    pub fn chats_held(&self) -> usize {
        self.lock().chats.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(global: f64, gb: u32, chat: f64, cb: u32) -> RateLimiter {
        RateLimiter::new(LimitsConfig {
            global_per_sec: global,
            global_burst: gb,
            per_chat_per_sec: chat,
            per_chat_burst: cb,
            max_idle_chats: 4,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn per_chat_and_global_rates_hold() {
        let l = limiter(10.0, 2, 1.0, 2);
        let start = Instant::now();
        for _ in 0..5 {
            l.acquire(1).await;
        }
        // burst 2, then one a second: the 5th at 3 s.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(3) && took < Duration::from_millis(3100),
            "{took:?}"
        );

        let l = limiter(10.0, 2, 100.0, 100);
        let start = Instant::now();
        for i in 0..22 {
            l.acquire(i).await;
        }
        // 2 at once, then 20 at 10/s.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_millis(2100),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn pauses_delay_the_chat_or_everything() {
        let l = limiter(100.0, 10, 100.0, 10);
        l.pause_chat(1, Duration::from_secs(5));
        let start = Instant::now();
        l.acquire(2).await;
        assert!(start.elapsed() < Duration::from_millis(10));
        l.acquire(1).await;
        assert!(start.elapsed() >= Duration::from_secs(5));
        l.pause_all(Duration::from_secs(2));
        let start = Instant::now();
        l.acquire(3).await;
        assert!(start.elapsed() >= Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_chat_buckets_are_dropped() {
        let l = limiter(1000.0, 100, 1.0, 1);
        for chat in 0..50 {
            l.acquire(chat).await;
        }
        assert!(l.chats_held() > 4);
        tokio::time::sleep(Duration::from_secs(2)).await;
        l.acquire(1000).await;
        assert!(l.chats_held() <= 4, "{}", l.chats_held());
    }
}
