//! The pool's cache of lookup table contents.
//!
//! An address lookup table only grows: entries, once written, never change, and a
//! closed table cannot be re-created at the same address (its address derives from
//! a recent slot). So a table's entries are cached for good, and the table is read
//! again only when a transaction needs an index beyond the cached length. Negative
//! results (no such account, not a table, RPC failure) are kept for
//! [`NEGATIVE_TTL`] only, and so is the answer "the table is shorter than needed".
//!
//! If the endpoint ever reports contents that contradict the cached entries
//! (neither is a prefix of the other), the table is dropped from the cache and
//! reported unavailable: one of the two views is wrong and the cache cannot tell
//! which. A shorter answer that is a prefix of the cached entries (a lagging RPC
//! node) leaves the longer, already finalized, contents in place.
//!
//! Concurrent requests for the same table wait for one fetch. At most
//! [`CAPACITY`] tables are kept; the least recently used one makes room.

use custos_ipc::pool::TableOutcome;
use custos_ipc::signer::PublicKey;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Tables kept (at most 8 KiB each, so at most 8 MiB).
pub const CAPACITY: usize = 1024;
/// How long a negative result, or a table found shorter than needed, is believed.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(3);

/// What is known about one table.
#[derive(Debug)]
enum State {
    /// Never fetched (or forgotten).
    Unknown,
    /// Its entries, as of `checked`.
    Known {
        entries: Vec<PublicKey>,
        checked: Instant,
    },
    /// A negative outcome, believed until `until`.
    Negative {
        outcome: TableOutcome,
        until: Instant,
    },
}

struct Slot {
    state: Arc<tokio::sync::Mutex<State>>,
    last_used: Instant,
}

/// Lookup table contents by table address.
pub struct TableCache {
    slots: Mutex<HashMap<PublicKey, Slot>>,
    capacity: usize,
    negative_ttl: Duration,
}

impl Default for TableCache {
    fn default() -> Self {
        Self::new(CAPACITY, NEGATIVE_TTL)
    }
}

impl TableCache {
    /// A cache of at most `capacity` tables keeping negative results for `negative_ttl`.
    pub fn new(capacity: usize, negative_ttl: Duration) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            negative_ttl,
        }
    }

    /// Tables currently cached (including negative results).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PublicKey, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn state_of(&self, table: PublicKey) -> Arc<tokio::sync::Mutex<State>> {
        let now = Instant::now();
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(&table) {
            slot.last_used = now;
            return Arc::clone(&slot.state);
        }
        if slots.len() >= self.capacity {
            let oldest = slots
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                slots.remove(&k);
            }
        }
        let state = Arc::new(tokio::sync::Mutex::new(State::Unknown));
        slots.insert(
            table,
            Slot {
                state: Arc::clone(&state),
                last_used: now,
            },
        );
        state
    }

    /// The first `needed` entries of `table` (fewer if it is shorter), or why there
    /// are none. `fetch` reads the whole table from the chain; it is called only
    /// when the cache cannot answer.
    pub async fn get<F, Fut>(&self, table: PublicKey, needed: usize, fetch: F) -> TableOutcome
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = TableOutcome>,
    {
        let state = self.state_of(table);
        let mut state = state.lock().await;
        let now = Instant::now();
        match &*state {
            State::Known { entries, checked }
                if entries.len() >= needed || now.duration_since(*checked) < self.negative_ttl =>
            {
                return found(entries, needed);
            }
            State::Negative { outcome, until } if now < *until => return outcome.clone(),
            _ => {}
        }
        let fetched = fetch().await;
        let now = Instant::now();
        let negative = |outcome: TableOutcome| State::Negative {
            outcome,
            until: now + self.negative_ttl,
        };
        *state = match (std::mem::replace(&mut *state, State::Unknown), fetched) {
            (State::Known { entries: old, .. }, TableOutcome::Found(new)) => {
                if new.starts_with(&old) {
                    State::Known {
                        entries: new,
                        checked: now,
                    }
                } else if old.starts_with(&new) {
                    State::Known {
                        entries: old,
                        checked: now,
                    }
                } else {
                    tracing::error!(
                        table = %bs58::encode(table).into_string(),
                        "the RPC endpoint reported lookup table entries that contradict cached ones; \
                         dropping the table from the cache"
                    );
                    negative(TableOutcome::Unavailable(
                        "the RPC endpoint reported entries that contradict earlier ones".into(),
                    ))
                }
            }
            (_, TableOutcome::Found(entries)) => State::Known {
                entries,
                checked: now,
            },
            // The endpoint failed: what is cached is still true.
            (State::Known { entries, .. }, TableOutcome::Unavailable(e)) => {
                tracing::warn!(
                    table = %bs58::encode(table).into_string(),
                    error = %e,
                    "could not re-read a lookup table; using the cached entries"
                );
                State::Known {
                    entries,
                    checked: now,
                }
            }
            (_, outcome) => negative(outcome),
        };
        match &*state {
            State::Known { entries, .. } => found(entries, needed),
            State::Negative { outcome, .. } => outcome.clone(),
            State::Unknown => TableOutcome::Unavailable("internal: cache state lost".into()),
        }
    }
}

fn found(entries: &[PublicKey], needed: usize) -> TableOutcome {
    TableOutcome::Found(entries[..needed.min(entries.len())].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn entries(n: u8) -> Vec<PublicKey> {
        (0..n).map(|i| [i; 32]).collect()
    }

    #[test]
    fn found_tables_are_kept_and_re_read_only_when_longer_ones_are_needed() {
        rt().block_on(async {
            let cache = TableCache::new(8, Duration::from_millis(50));
            let calls = AtomicUsize::new(0);
            let fetch = |n: u8| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move { TableOutcome::Found(entries(n)) }
            };
            let t = [1; 32];
            assert_eq!(
                cache.get(t, 2, || fetch(3)).await,
                TableOutcome::Found(entries(2))
            );
            assert_eq!(
                cache.get(t, 3, || fetch(9)).await,
                TableOutcome::Found(entries(3))
            );
            assert_eq!(calls.load(Ordering::SeqCst), 1);
            // Index beyond the cached length, but the table was just read: no re-read.
            assert_eq!(
                cache.get(t, 5, || fetch(5)).await,
                TableOutcome::Found(entries(3))
            );
            assert_eq!(calls.load(Ordering::SeqCst), 1);
            tokio::time::sleep(Duration::from_millis(60)).await;
            // Now it is re-read, and the table has grown.
            assert_eq!(
                cache.get(t, 5, || fetch(5)).await,
                TableOutcome::Found(entries(5))
            );
            assert_eq!(calls.load(Ordering::SeqCst), 2);
            assert_eq!(
                cache.get(t, 1, || fetch(5)).await,
                TableOutcome::Found(entries(1))
            );
            assert_eq!(calls.load(Ordering::SeqCst), 2);
        });
    }

    #[test]
    fn negative_results_are_kept_briefly() {
        rt().block_on(async {
            let cache = TableCache::new(8, Duration::from_millis(50));
            let calls = AtomicUsize::new(0);
            let t = [2; 32];
            let missing = || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { TableOutcome::NotFound }
            };
            assert_eq!(cache.get(t, 1, missing).await, TableOutcome::NotFound);
            assert_eq!(cache.get(t, 1, missing).await, TableOutcome::NotFound);
            assert_eq!(calls.load(Ordering::SeqCst), 1);
            tokio::time::sleep(Duration::from_millis(60)).await;
            let got = cache
                .get(t, 1, || async { TableOutcome::Found(entries(1)) })
                .await;
            assert_eq!(got, TableOutcome::Found(entries(1)));
        });
    }

    #[test]
    fn a_failed_re_read_keeps_the_cached_entries() {
        rt().block_on(async {
            let cache = TableCache::new(8, Duration::ZERO);
            let t = [3; 32];
            cache
                .get(t, 2, || async { TableOutcome::Found(entries(2)) })
                .await;
            let got = cache
                .get(t, 4, || async { TableOutcome::Unavailable("down".into()) })
                .await;
            assert_eq!(got, TableOutcome::Found(entries(2)));
        });
    }

    #[test]
    fn contradicting_contents_drop_the_table_and_a_lagging_node_does_not_shrink_it() {
        rt().block_on(async {
            let cache = TableCache::new(8, Duration::ZERO);
            let t = [4; 32];
            cache
                .get(t, 3, || async { TableOutcome::Found(entries(3)) })
                .await;
            // A node behind the others: a prefix of what is cached.
            let got = cache
                .get(t, 4, || async { TableOutcome::Found(entries(2)) })
                .await;
            assert_eq!(got, TableOutcome::Found(entries(3)));
            // Contents that rewrite an entry.
            let mut other = entries(4);
            other[1] = [0xee; 32];
            let got = cache
                .get(t, 4, || async move { TableOutcome::Found(other) })
                .await;
            assert!(matches!(got, TableOutcome::Unavailable(_)), "{got:?}");
            // Read afresh afterwards.
            let got = cache
                .get(t, 1, || async { TableOutcome::Found(entries(1)) })
                .await;
            assert_eq!(got, TableOutcome::Found(entries(1)));
        });
    }

    #[test]
    fn concurrent_requests_share_one_fetch() {
        rt().block_on(async {
            let cache = TableCache::default();
            let calls = AtomicUsize::new(0);
            let t = [5; 32];
            let fetch = || {
                calls.fetch_add(1, Ordering::SeqCst);
                async {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    TableOutcome::Found(entries(4))
                }
            };
            let all = futures::future::join_all((0..10).map(|_| cache.get(t, 4, fetch))).await;
            assert!(all.iter().all(|o| *o == TableOutcome::Found(entries(4))));
            assert_eq!(calls.load(Ordering::SeqCst), 1);
        });
    }

    #[test]
    fn capacity_evicts_the_least_recently_used_table() {
        rt().block_on(async {
            let cache = TableCache::new(2, NEGATIVE_TTL);
            let calls = AtomicUsize::new(0);
            let fetch = || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { TableOutcome::Found(entries(1)) }
            };
            cache.get([1; 32], 1, fetch).await;
            tokio::time::sleep(Duration::from_millis(2)).await;
            cache.get([2; 32], 1, fetch).await;
            tokio::time::sleep(Duration::from_millis(2)).await;
            cache.get([1; 32], 1, fetch).await; // 1 is now the most recent
            tokio::time::sleep(Duration::from_millis(2)).await;
            cache.get([3; 32], 1, fetch).await; // evicts 2
            assert_eq!(cache.len(), 2);
            assert_eq!(calls.load(Ordering::SeqCst), 3);
            cache.get([1; 32], 1, fetch).await;
            assert_eq!(calls.load(Ordering::SeqCst), 3);
            cache.get([2; 32], 1, fetch).await;
            assert_eq!(calls.load(Ordering::SeqCst), 4);
        });
    }
}
