//! The relay between the signer and the pool for Telegram confirmations (issue 4).
//!
//! The bridge carries sealed messages it can neither read nor forge
//! (`custos_ipc::channel`), and stores durably what the signer reports:
//!
//! * at start-up, `StartPool` asks the signer for the pool's sealed configuration (the
//!   bot token) and hands it to the pool; a `FailedPrecondition` answer means no bot is
//!   set up, and Telegram confirmations stay off;
//! * [`Relay::run_events`] long-polls the pool for sealed events (presses, `/start`
//!   links, delivery reports), hands each to the signer in order, stores the signer's
//!   [`SignerEvent`]s, passes its answers for the pool on, and only then acknowledges the
//!   batch, so the pool confirms the Telegram updates only once their results are stored;
//! * [`Relay::run_ticks`] sends `Tick` once a second so the signer expires overdue
//!   confirmations.
//!
//! Results are stored before the signer's messages go on to the pool. A store failure
//! is logged and the messages that depended on it are not passed on: the user's
//! Telegram message then keeps its buttons, and the confirmation fails closed.
//! A message the signer refuses as an integrity failure (forged or replayed by whoever
//! controls this process) is logged and skipped. Losing either link ends the bridge.

use crate::pool_link::{PoolLink, PoolLinkError};
use crate::signer_link::{LinkError, SignerLink};
use custos_ipc::channel::Sealed;
use custos_ipc::pool::PoolRefusal;
use custos_ipc::signer::{
    Decision, ErrorKind, Relay as SignerRelay, SignerError, SignerEvent, SignerRequest,
    SignerResponse,
};
use custos_store::{ConfirmationDecision, SecurityRecordRow, Store, StoreError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the signer is asked to expire overdue confirmations.
pub const TICK_INTERVAL: Duration = Duration::from_secs(1);

/// Wakes `AwaitDecision` callers when a confirmation is decided.
///
/// A counter bumped after each committed batch of decisions: a waiter subscribes
/// *before* it reads the row, so a decision committed in between is never missed, and
/// re-reads the row after each bump. Also carries the "shutting down" flag, so that
/// long waits end when the bridge drains.
#[derive(Debug)]
pub struct Decisions {
    tx: watch::Sender<u64>,
    closing: AtomicBool,
}

impl Default for Decisions {
    fn default() -> Self {
        Self {
            tx: watch::Sender::new(0),
            closing: AtomicBool::new(false),
        }
    }
}

impl Decisions {
    /// A new notifier.
    pub fn new() -> Self {
        Self::default()
    }

    /// Something was decided (after the store committed it).
    pub fn notify(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that sees every later [`Decisions::notify`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }

    /// The bridge is draining: waiters return what they have.
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.notify();
    }

    /// Whether [`Decisions::close`] was called.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }
}

/// The store's form of a signer [`Decision`].
pub fn store_decision(d: Decision) -> ConfirmationDecision {
    match d {
        Decision::Approved {
            transaction,
            signature,
        } => ConfirmationDecision::Approved {
            transaction,
            signature,
        },
        Decision::Rejected => ConfirmationDecision::Rejected,
        Decision::Expired => ConfirmationDecision::Expired,
        Decision::Failed { reason } => ConfirmationDecision::Failed { reason },
        Decision::Exported { record, flags } => ConfirmationDecision::Exported { record, flags },
    }
}

/// What [`apply_events`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Security records stored.
    pub linked: usize,
    /// Confirmations moved out of pending.
    pub decided: usize,
}

/// Stores the signer's events, in order, durably (blocking). Stops at the first
/// store failure. A decision for an unknown confirmation (one the bridge never
/// stored, e.g. because the store failed when it was created) or for one decided
/// already (first decision wins) changes nothing and is logged.
pub fn apply_events(
    store: &dyn Store,
    events: Vec<SignerEvent>,
    now: i64,
) -> Result<Applied, StoreError> {
    let mut applied = Applied::default();
    for event in events {
        match event {
            SignerEvent::Linked {
                user_id,
                telegram_id,
                security_record,
            } => {
                store.put_security_record(&SecurityRecordRow {
                    user_id: user_id.clone(),
                    telegram_id,
                    record: security_record,
                    updated_at: now,
                })?;
                applied.linked += 1;
                tracing::info!(user = %user_id, telegram_id, "Telegram account linked");
            }
            SignerEvent::SecurityUpdated {
                user_id,
                revision,
                security_record,
            } => {
                // The Telegram account does not change on an update: keep the stored one.
                let Some(old) = store.get_security_record(&user_id)? else {
                    tracing::error!(user = %user_id, "security update for a user with no stored link; ignored");
                    continue;
                };
                store.put_security_record(&SecurityRecordRow {
                    user_id: user_id.clone(),
                    telegram_id: old.telegram_id,
                    record: security_record,
                    updated_at: now,
                })?;
                applied.linked += 1;
                tracing::info!(user = %user_id, revision, "security record updated");
            }
            SignerEvent::Shown { confirmation_id } => {
                tracing::debug!(confirmation = %confirmation_id, "confirmation shown to the user");
            }
            SignerEvent::Decided {
                confirmation_id,
                decision,
            } => {
                let decision = store_decision(decision);
                let state = decision.state();
                match store.decide(&confirmation_id, &decision, now) {
                    Ok(true) => {
                        applied.decided += 1;
                        tracing::info!(
                            confirmation = %confirmation_id,
                            state = state.as_str(),
                            "confirmation decided"
                        );
                    }
                    Ok(false) => tracing::info!(
                        confirmation = %confirmation_id,
                        state = state.as_str(),
                        "confirmation was decided already; the first decision stands"
                    ),
                    Err(StoreError::UnknownConfirmation(_)) => tracing::warn!(
                        confirmation = %confirmation_id,
                        state = state.as_str(),
                        "decision for a confirmation the bridge never stored; ignored"
                    ),
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(applied)
}

/// The relay's handles.
#[derive(Clone)]
pub struct Relay {
    signer: SignerLink,
    pool: PoolLink,
    store: Arc<dyn Store>,
    decisions: Arc<Decisions>,
}

impl Relay {
    /// Bundles the links, the store and the decision notifier.
    pub fn new(
        signer: SignerLink,
        pool: PoolLink,
        store: Arc<dyn Store>,
        decisions: Arc<Decisions>,
    ) -> Self {
        Self {
            signer,
            pool,
            store,
            decisions,
        }
    }

    /// Hands every stored security record to the signer, in batches, so it knows who
    /// is linked, their second factors and settings before anything is relayed or
    /// signed. Fails closed: a store that cannot be read stops the bridge rather than
    /// start with users who look unlinked (whose "always" setting would not apply).
    pub async fn load_security_records(&self) -> Result<(), crate::BridgeError> {
        let store = self.store.clone();
        let rows = tokio::task::spawn_blocking(move || store.list_security_records())
            .await
            .map_err(|e| std::io::Error::other(format!("reading the security records: {e}")))??;
        let (mut loaded, mut refused) = (0u32, 0u32);
        for batch in rows.chunks(256) {
            let records = batch.iter().map(|r| r.record.clone()).collect();
            match self
                .signer
                .call(SignerRequest::LoadSecurityRecords(records))
                .await?
            {
                SignerResponse::RecordsLoaded(r) => {
                    loaded += r.loaded;
                    refused += r.refused;
                }
                _ => return Err(LinkError::Unexpected.into()),
            }
        }
        if refused > 0 {
            tracing::warn!(
                loaded,
                refused,
                "the signer refused some stored security records"
            );
        } else {
            tracing::info!(loaded, "security records handed to the signer");
        }
        Ok(())
    }

    /// `StartPool`: hands the pool its sealed configuration. Returns whether Telegram
    /// confirmations are on (false when the signer has no bot set up, or refused).
    /// Only a lost or stuck signer link is an error.
    pub async fn start_pool(&self) -> Result<bool, LinkError> {
        match self.signer.start_pool().await? {
            Ok(relay) => {
                if !self.handle(relay).await {
                    tracing::error!(
                        "the pool did not accept the Telegram configuration; \
                         confirmations will fail until it does"
                    );
                }
                Ok(true)
            }
            Err(SignerError {
                kind: ErrorKind::FailedPrecondition,
                message,
            }) => {
                tracing::info!(reason = %message, "Telegram confirmations are off");
                Ok(false)
            }
            Err(e) => {
                tracing::error!(
                    kind = ?e.kind,
                    error = %e.message,
                    "the signer refused to start the Telegram client; confirmations are off"
                );
                Ok(false)
            }
        }
    }

    /// Stores the signer's events, then passes its messages on to the pool. Returns
    /// false if something failed (logged).
    pub async fn handle(&self, relay: SignerRelay) -> bool {
        let SignerRelay { to_pool, events } = relay;
        if !events.is_empty() {
            let store = Arc::clone(&self.store);
            let now = crate::api::now();
            let stored =
                tokio::task::spawn_blocking(move || apply_events(store.as_ref(), events, now))
                    .await;
            match stored {
                Ok(Ok(applied)) => {
                    if applied.decided > 0 {
                        self.decisions.notify();
                    }
                }
                Ok(Err(e)) => {
                    tracing::error!(
                        error = %e,
                        "cannot store the signer's results; not passing its messages on"
                    );
                    // Some rows may have been decided before the failure.
                    self.decisions.notify();
                    return false;
                }
                Err(e) => {
                    tracing::error!(error = %e, "store task failed; not passing messages on");
                    return false;
                }
            }
        }
        self.deliver(to_pool).await
    }

    /// Hands sealed messages to the pool; false (logged) if not all were accepted.
    async fn deliver(&self, to_pool: Vec<Sealed>) -> bool {
        if to_pool.is_empty() {
            return true;
        }
        let sent = to_pool.len();
        match self.pool.deliver(to_pool).await {
            Ok(n) if n as usize >= sent => true,
            Ok(n) => {
                tracing::warn!(sent, accepted = n, "the pool dropped sealed messages");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, sent, "cannot hand sealed messages to the pool");
                false
            }
        }
    }

    /// Relays the pool's events to the signer until the process ends.
    pub async fn run_events(self) {
        let mut ack = None;
        let mut refused_logged = false;
        loop {
            let batch = match self.pool.next_events(ack).await {
                Ok(b) => b,
                Err(PoolLinkError::Refused(PoolRefusal::TelegramNotConfigured)) => {
                    if !refused_logged {
                        tracing::warn!("the pool has no Telegram client yet; retrying");
                        refused_logged = true;
                    }
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot fetch events from the pool; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            refused_logged = false;
            for sealed in batch.events {
                let counter = sealed.counter;
                match self.signer.from_pool(sealed).await {
                    Ok(Ok(relay)) => {
                        self.handle(relay).await;
                    }
                    Ok(Err(SignerError {
                        kind: ErrorKind::Integrity,
                        message,
                    })) => tracing::warn!(
                        counter,
                        error = %message,
                        "the signer refused a sealed event (forged or replayed); skipped"
                    ),
                    Ok(Err(e)) => tracing::warn!(
                        counter,
                        kind = ?e.kind,
                        error = %e.message,
                        "the signer refused a sealed event; skipped"
                    ),
                    Err(e) => tracing::warn!(
                        counter,
                        error = %e,
                        "the signer did not take a sealed event; skipped"
                    ),
                }
            }
            // Everything in the batch was handed over and its results stored.
            ack = Some(batch.batch);
        }
    }

    /// Sends `Tick` to the signer every [`TICK_INTERVAL`] until the process ends.
    pub async fn run_ticks(self) {
        let mut interval = tokio::time::interval(TICK_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            match self.signer.tick().await {
                Ok(Ok(relay)) => {
                    self.handle(relay).await;
                }
                Ok(Err(e)) => {
                    tracing::warn!(kind = ?e.kind, error = %e.message, "the signer refused a tick")
                }
                Err(e) => tracing::warn!(error = %e, "tick to the signer failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool_link::PoolLink;
    use custos_store::{ConfirmationRow, ConfirmationState, SqliteStore};

    fn cid(n: u8) -> String {
        format!("{n:032x}")
    }

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("custos.sqlite3")).unwrap();
        for n in 1..=3 {
            s.insert_confirmation(&ConfirmationRow::pending(
                cid(n),
                [n; 32],
                "alice".into(),
                None,
                "send".into(),
                1,
                301,
            ))
            .unwrap();
        }
        (dir, s)
    }

    #[test]
    fn events_are_stored_in_order_and_the_first_decision_wins() {
        let (_d, s) = store();
        let events = vec![
            SignerEvent::Linked {
                user_id: "alice".into(),
                telegram_id: 42,
                security_record: vec![1, 2, 3],
            },
            SignerEvent::Shown {
                confirmation_id: cid(1),
            },
            SignerEvent::Decided {
                confirmation_id: cid(1),
                decision: Decision::Approved {
                    transaction: vec![9; 10],
                    signature: vec![8; 64],
                },
            },
            // A later (forged or late) decision does not overwrite the first.
            SignerEvent::Decided {
                confirmation_id: cid(1),
                decision: Decision::Rejected,
            },
            SignerEvent::Decided {
                confirmation_id: cid(2),
                decision: Decision::Failed {
                    reason: "undeliverable".into(),
                },
            },
            // Unknown ids are logged and ignored.
            SignerEvent::Decided {
                confirmation_id: cid(9),
                decision: Decision::Expired,
            },
            SignerEvent::Decided {
                confirmation_id: cid(3),
                decision: Decision::Expired,
            },
        ];
        let applied = apply_events(&s, events, 50).unwrap();
        assert_eq!(
            applied,
            Applied {
                linked: 1,
                decided: 3
            }
        );
        let rec = s.get_security_record("alice").unwrap().unwrap();
        assert_eq!(
            (rec.telegram_id, rec.record, rec.updated_at),
            (42, vec![1, 2, 3], 50)
        );
        let c1 = s.get_confirmation(&cid(1)).unwrap().unwrap();
        assert_eq!(c1.state, ConfirmationState::Approved);
        assert_eq!(c1.transaction, Some(vec![9; 10]));
        assert_eq!(c1.signature, Some(vec![8; 64]));
        assert_eq!(c1.decided_at, Some(50));
        let c2 = s.get_confirmation(&cid(2)).unwrap().unwrap();
        assert_eq!(c2.state, ConfirmationState::Failed);
        assert_eq!(c2.reason.as_deref(), Some("undeliverable"));
        assert_eq!(
            s.get_confirmation(&cid(3)).unwrap().unwrap().state,
            ConfirmationState::Expired
        );
    }

    #[test]
    fn a_relink_replaces_the_stored_record() {
        let (_d, s) = store();
        for (tg, rec) in [(1, vec![1]), (2, vec![2])] {
            apply_events(
                &s,
                vec![SignerEvent::Linked {
                    user_id: "bob".into(),
                    telegram_id: tg,
                    security_record: rec,
                }],
                7,
            )
            .unwrap();
        }
        let rec = s.get_security_record("bob").unwrap().unwrap();
        assert_eq!((rec.telegram_id, rec.record), (2, vec![2]));
    }

    #[test]
    fn decision_conversion() {
        assert_eq!(
            store_decision(Decision::Failed { reason: "x".into() }),
            ConfirmationDecision::Failed { reason: "x".into() }
        );
        assert_eq!(
            store_decision(Decision::Expired).state(),
            ConfirmationState::Expired
        );
        assert_eq!(
            store_decision(Decision::Rejected).state(),
            ConfirmationState::Rejected
        );
    }

    #[tokio::test]
    async fn decisions_wake_subscribers_and_close() {
        let d = Decisions::new();
        let mut rx = d.subscribe();
        d.notify();
        tokio::time::timeout(Duration::from_secs(1), rx.changed())
            .await
            .unwrap()
            .unwrap();
        assert!(!d.is_closing());
        d.close();
        rx.changed().await.unwrap();
        assert!(d.is_closing());
    }

    mod loops {
        use super::*;
        use crate::testing::{fake_peer, Handler};
        use custos_ipc::pool::{PoolRequest, PoolResponse};
        use custos_ipc::signer::{SignerRequest, SignerResponse};
        use std::sync::Mutex;

        fn sealed(counter: u64) -> Sealed {
            Sealed {
                counter,
                ciphertext: vec![counter as u8; 20],
            }
        }

        /// What the fake pool saw, in order.
        #[derive(Debug, Clone, PartialEq, Eq)]
        enum Seen {
            Deliver(Vec<u64>),
            Next(Option<u64>),
        }

        struct Setup {
            _dir: tempfile::TempDir,
            store: Arc<SqliteStore>,
            relay: Relay,
            decisions: Arc<Decisions>,
            pool_log: Arc<Mutex<Vec<Seen>>>,
        }

        fn setup(
            signer: impl FnMut(SignerRequest) -> SignerResponse + Send + 'static,
            mut events: Vec<PoolResponse>,
        ) -> Setup {
            let (dir, store) = super::store();
            let store = Arc::new(store);
            let pool_log = Arc::new(Mutex::new(Vec::new()));
            let log = Arc::clone(&pool_log);
            events.reverse();
            let pool: Handler<PoolRequest, PoolResponse> =
                Arc::new(Mutex::new(Box::new(move |req| match req {
                    PoolRequest::Deliver(m) => {
                        let n = m.len() as u32;
                        log.lock()
                            .unwrap()
                            .push(Seen::Deliver(m.iter().map(|s| s.counter).collect()));
                        PoolResponse::Delivered { accepted: n }
                    }
                    PoolRequest::NextEvents { ack, wait_ms } => {
                        assert_eq!(wait_ms, 15_000);
                        log.lock().unwrap().push(Seen::Next(ack));
                        // Then "no Telegram client": the loop waits 5 s, no busy loop.
                        events
                            .pop()
                            .unwrap_or(PoolResponse::Refused(PoolRefusal::TelegramNotConfigured))
                    }
                    _ => PoolResponse::NotConfigured,
                })));
            let signer: Handler<SignerRequest, SignerResponse> =
                Arc::new(Mutex::new(Box::new(signer)));
            let (s_ours, s_theirs) = tokio::net::UnixStream::pair().unwrap();
            let (p_ours, p_theirs) = tokio::net::UnixStream::pair().unwrap();
            fake_peer(s_theirs, signer);
            fake_peer(p_theirs, pool);
            let decisions = Arc::new(Decisions::new());
            let relay = Relay::new(
                SignerLink::start(s_ours),
                PoolLink::start(p_ours),
                Arc::clone(&store) as Arc<dyn Store>,
                Arc::clone(&decisions),
            );
            Setup {
                _dir: dir,
                store,
                relay,
                decisions,
                pool_log,
            }
        }

        fn relay_of(to_pool: Vec<u64>, events: Vec<SignerEvent>) -> SignerResponse {
            SignerResponse::Relay(SignerRelay {
                to_pool: to_pool.into_iter().map(sealed).collect(),
                events,
            })
        }

        async fn until(what: impl Fn() -> bool) {
            for _ in 0..300 {
                if what() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("timed out");
        }

        #[tokio::test]
        async fn start_pool_delivers_the_configuration_or_stays_off() {
            let s = setup(
                |req| match req {
                    SignerRequest::StartPool => relay_of(vec![1], vec![]),
                    other => panic!("unexpected {other:?}"),
                },
                vec![],
            );
            assert!(s.relay.start_pool().await.unwrap());
            assert_eq!(*s.pool_log.lock().unwrap(), vec![Seen::Deliver(vec![1])]);

            let s = setup(
                |_| {
                    SignerResponse::Error(SignerError {
                        kind: ErrorKind::FailedPrecondition,
                        message: "no Telegram bot is set up".into(),
                    })
                },
                vec![],
            );
            assert!(!s.relay.start_pool().await.unwrap());
            assert!(s.pool_log.lock().unwrap().is_empty());
        }

        #[tokio::test]
        async fn stored_security_records_are_loaded_into_the_signer_and_updates_stored() {
            let got = Arc::new(Mutex::new(Vec::new()));
            let got2 = Arc::clone(&got);
            let s = setup(
                move |req| match req {
                    SignerRequest::LoadSecurityRecords(records) => {
                        let n = records.len() as u32;
                        got2.lock().unwrap().extend(records);
                        SignerResponse::RecordsLoaded(custos_ipc::signer::RecordsLoaded {
                            loaded: n - 1,
                            refused: 1,
                        })
                    }
                    other => panic!("unexpected {other:?}"),
                },
                vec![],
            );
            for (i, user) in (0u16..300).map(|i| (i, format!("user{i}"))) {
                s.store
                    .put_security_record(&SecurityRecordRow {
                        user_id: user,
                        telegram_id: 1000 + u64::from(i),
                        record: i.to_le_bytes().repeat(4),
                        updated_at: 1,
                    })
                    .unwrap();
            }
            s.relay.load_security_records().await.unwrap();
            // All of them, in batches.
            assert_eq!(got.lock().unwrap().len(), 300);

            // A security update replaces the record and keeps the Telegram account; one
            // for a user never linked is ignored.
            let applied = apply_events(
                s.store.as_ref(),
                vec![
                    SignerEvent::SecurityUpdated {
                        user_id: "user7".into(),
                        revision: 2,
                        security_record: vec![0xAB; 40],
                    },
                    SignerEvent::SecurityUpdated {
                        user_id: "nobody".into(),
                        revision: 2,
                        security_record: vec![0xCD; 40],
                    },
                ],
                5,
            )
            .unwrap();
            assert_eq!(applied.linked, 1);
            let row = s.store.get_security_record("user7").unwrap().unwrap();
            assert_eq!((row.telegram_id, row.record), (1007, vec![0xAB; 40]));
            assert!(s.store.get_security_record("nobody").unwrap().is_none());
        }

        #[tokio::test]
        async fn events_are_relayed_stored_then_delivered_then_acknowledged() {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let seen2 = Arc::clone(&seen);
            let s = setup(
                move |req| match req {
                    SignerRequest::FromPool(sealed) => {
                        seen2.lock().unwrap().push(sealed.counter);
                        match sealed.counter {
                            11 => relay_of(
                                vec![101],
                                vec![SignerEvent::Linked {
                                    user_id: "alice".into(),
                                    telegram_id: 42,
                                    security_record: vec![4; 30],
                                }],
                            ),
                            12 => SignerResponse::Error(SignerError {
                                kind: ErrorKind::Integrity,
                                message: "replayed".into(),
                            }),
                            _ => relay_of(
                                vec![103, 104],
                                vec![SignerEvent::Decided {
                                    confirmation_id: cid(1),
                                    decision: Decision::Rejected,
                                }],
                            ),
                        }
                    }
                    other => panic!("unexpected {other:?}"),
                },
                vec![
                    PoolResponse::Events {
                        batch: 7,
                        events: vec![sealed(11), sealed(12), sealed(13)],
                    },
                    PoolResponse::Events {
                        batch: 8,
                        events: vec![],
                    },
                ],
            );
            let mut changes = s.decisions.subscribe();
            let task = tokio::spawn(s.relay.clone().run_events());
            let log = Arc::clone(&s.pool_log);
            until(move || log.lock().unwrap().len() >= 5).await;
            task.abort();
            assert_eq!(*seen.lock().unwrap(), vec![11, 12, 13]);
            assert_eq!(
                *s.pool_log.lock().unwrap(),
                vec![
                    Seen::Next(None),
                    Seen::Deliver(vec![101]),
                    Seen::Deliver(vec![103, 104]),
                    Seen::Next(Some(7)),
                    Seen::Next(Some(8)),
                ]
            );
            let rec = s.store.get_security_record("alice").unwrap().unwrap();
            assert_eq!(rec.telegram_id, 42);
            assert_eq!(
                s.store.get_confirmation(&cid(1)).unwrap().unwrap().state,
                ConfirmationState::Rejected
            );
            assert!(changes.has_changed().unwrap());
            changes.mark_unchanged();
        }

        #[tokio::test]
        async fn ticks_store_expiries_and_deliver_edits() {
            let s = setup(
                |req| match req {
                    SignerRequest::Tick => relay_of(
                        vec![201],
                        vec![SignerEvent::Decided {
                            confirmation_id: cid(2),
                            decision: Decision::Expired,
                        }],
                    ),
                    other => panic!("unexpected {other:?}"),
                },
                vec![],
            );
            let task = tokio::spawn(s.relay.clone().run_ticks());
            let log = Arc::clone(&s.pool_log);
            until(move || !log.lock().unwrap().is_empty()).await;
            task.abort();
            assert_eq!(s.pool_log.lock().unwrap()[0], Seen::Deliver(vec![201]));
            assert_eq!(
                s.store.get_confirmation(&cid(2)).unwrap().unwrap().state,
                ConfirmationState::Expired
            );
        }
    }
}
