//! Telegram-like flood limits (token buckets: a steady rate plus a burst) and
//! measurement of the send rate actually observed.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// Flood limits for message-sending methods (`sendMessage`, `sendPhoto`).
///
/// Telegram documents about 30 messages per second overall and about one per
/// second in a single chat, with short bursts tolerated. Each limit is a
/// token bucket: `*_burst` messages may go at once, then tokens come back at
/// `*_per_sec`. A call without a token gets 429 with `retry_after`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RateLimits {
    /// Whether limits are enforced at all.
    pub enabled: bool,
    /// Steady global rate (messages per second).
    pub global_per_sec: f64,
    /// Global burst size.
    pub global_burst: u32,
    /// Steady rate per chat (messages per second).
    pub per_chat_per_sec: f64,
    /// Burst size per chat.
    pub per_chat_burst: u32,
    /// Whether `editMessageText`/`editMessageReplyMarkup` count as sends.
    pub count_edits: bool,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            global_per_sec: 30.0,
            global_burst: 30,
            per_chat_per_sec: 1.0,
            per_chat_burst: 3,
            count_edits: false,
        }
    }
}

impl RateLimits {
    /// No limits (for tests that are not about flood control).
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }
}

#[derive(Clone, Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(capacity: u32, now: Instant) -> Self {
        Self {
            tokens: f64::from(capacity),
            last: now,
        }
    }

    fn refill(&mut self, rate: f64, capacity: u32, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * rate).min(f64::from(capacity));
        self.last = now;
    }

    /// Seconds until one token is available.
    fn wait(&self, rate: f64) -> f64 {
        if self.tokens >= 1.0 {
            0.0
        } else if rate <= 0.0 {
            f64::INFINITY
        } else {
            (1.0 - self.tokens) / rate
        }
    }
}

/// The limiter: one global bucket and one per chat.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    global: Bucket,
    per_chat: HashMap<i64, Bucket>,
}

impl RateLimiter {
    /// A limiter with full buckets at `now`.
    pub fn new(limits: RateLimits, now: Instant) -> Self {
        let global = Bucket::new(limits.global_burst, now);
        Self {
            limits,
            global,
            per_chat: HashMap::new(),
        }
    }

    /// The configured limits.
    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// Takes a token for one message to `chat` at `now`, or returns the
    /// `retry_after` (whole seconds, at least 1) Telegram would give.
    pub fn check(&mut self, chat: i64, now: Instant) -> Result<(), u64> {
        if !self.limits.enabled {
            return Ok(());
        }
        let l = &self.limits;
        self.global.refill(l.global_per_sec, l.global_burst, now);
        let bucket = self
            .per_chat
            .entry(chat)
            .or_insert_with(|| Bucket::new(l.per_chat_burst, now));
        bucket.refill(l.per_chat_per_sec, l.per_chat_burst, now);
        let wait = self
            .global
            .wait(l.global_per_sec)
            .max(bucket.wait(l.per_chat_per_sec));
        if wait > 0.0 {
            let secs = if wait.is_finite() {
                wait.ceil() as u64
            } else {
                3600
            };
            return Err(secs.max(1));
        }
        self.global.tokens -= 1.0;
        bucket.tokens -= 1.0;
        Ok(())
    }
}

/// One message that was accepted (counted for the rate measurements).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SendEvent {
    /// Milliseconds since the fake server started.
    pub at_ms: u64,
    /// The chat it went to.
    pub chat_id: i64,
    /// The Bot API method.
    pub method: String,
}

/// Send rates measured from accepted messages.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct SendStats {
    /// Window the maxima are measured over (milliseconds).
    pub window_ms: u64,
    /// Messages accepted in total.
    pub total: usize,
    /// Most messages accepted in any window, all chats together.
    pub max_global_in_window: usize,
    /// Most messages accepted in any window in a single chat.
    pub max_per_chat_in_window: usize,
    /// Per chat: (messages accepted, most in any window).
    pub per_chat: BTreeMap<i64, ChatSendStats>,
    /// Calls answered with 429 by the flood limits (faults not counted).
    pub rejected_429: u64,
}

/// Send statistics for one chat.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct ChatSendStats {
    /// Messages accepted.
    pub total: usize,
    /// Most messages accepted in any window.
    pub max_in_window: usize,
}

fn max_in_window(times: &[u64], window_ms: u64) -> usize {
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..times.len() {
        while times[hi] - times[lo] >= window_ms {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

/// Computes [`SendStats`] from events (in any order) over a sliding window.
pub fn stats(events: &[SendEvent], window: Duration, rejected_429: u64) -> SendStats {
    let window_ms = (window.as_millis() as u64).max(1);
    let mut all: Vec<u64> = events.iter().map(|e| e.at_ms).collect();
    all.sort_unstable();
    let mut by_chat: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
    for e in events {
        by_chat.entry(e.chat_id).or_default().push(e.at_ms);
    }
    let mut per_chat = BTreeMap::new();
    let mut max_chat = 0;
    for (chat, mut times) in by_chat {
        times.sort_unstable();
        let m = max_in_window(&times, window_ms);
        max_chat = max_chat.max(m);
        per_chat.insert(
            chat,
            ChatSendStats {
                total: times.len(),
                max_in_window: m,
            },
        );
    }
    SendStats {
        window_ms,
        total: all.len(),
        max_global_in_window: max_in_window(&all, window_ms),
        max_per_chat_in_window: max_chat,
        per_chat,
        rejected_429,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_chat_burst_then_one_per_second() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(RateLimits::default(), t0);
        for _ in 0..3 {
            assert_eq!(rl.check(7, t0), Ok(()));
        }
        assert_eq!(rl.check(7, t0), Err(1));
        // Another chat is not affected.
        assert_eq!(rl.check(8, t0), Ok(()));
        assert_eq!(rl.check(7, t0 + Duration::from_millis(500)), Err(1));
        assert_eq!(rl.check(7, t0 + Duration::from_millis(1000)), Ok(()));
        assert_eq!(rl.check(7, t0 + Duration::from_millis(1100)), Err(1));
    }

    #[test]
    fn global_limit_spans_chats() {
        let t0 = Instant::now();
        let limits = RateLimits {
            global_per_sec: 30.0,
            global_burst: 30,
            ..RateLimits::default()
        };
        let mut rl = RateLimiter::new(limits, t0);
        for chat in 0..30 {
            assert_eq!(rl.check(chat, t0), Ok(()));
        }
        assert_eq!(rl.check(100, t0), Err(1));
        // 1/30 s later one token is back.
        assert_eq!(rl.check(100, t0 + Duration::from_millis(34)), Ok(()));
        let slow = RateLimits {
            global_per_sec: 0.1,
            global_burst: 1,
            ..RateLimits::default()
        };
        let mut rl = RateLimiter::new(slow, t0);
        assert_eq!(rl.check(1, t0), Ok(()));
        assert_eq!(rl.check(2, t0), Err(10));
    }

    #[test]
    fn disabled_never_limits() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(RateLimits::disabled(), t0);
        for _ in 0..1000 {
            assert_eq!(rl.check(1, t0), Ok(()));
        }
    }

    #[test]
    fn sliding_window_maxima() {
        let ev = |at_ms, chat_id| SendEvent {
            at_ms,
            chat_id,
            method: "sendMessage".into(),
        };
        let events = vec![
            ev(0, 1),
            ev(100, 1),
            ev(999, 2),
            ev(1000, 1),
            ev(1500, 2),
            ev(5000, 1),
        ];
        let s = stats(&events, Duration::from_secs(1), 2);
        assert_eq!(s.total, 6);
        assert_eq!(s.max_global_in_window, 3); // 0,100,999
        assert_eq!(s.per_chat[&1].max_in_window, 2); // 0,100 or 100,1000
        assert_eq!(s.per_chat[&2].max_in_window, 2);
        assert_eq!(s.max_per_chat_in_window, 2);
        assert_eq!(s.rejected_429, 2);
    }
}
