//! The pool process's Telegram relay against the fake Bot API server (HTTPS,
//! its test CA). The tests play the signer with the signer's end of the sealed
//! channel and call the pool's request handler, or go through `run` over
//! socket pairs.

use base64::Engine;
use custos_ipc::channel::{ChannelEnd, Sealed};
use custos_ipc::control::{ControlRequest, ControlResponse};
use custos_ipc::pool::{PoolRequest, PoolResponse, TelegramStatus, ViewKey};
use custos_ipc::telegram::{
    open_from_pool, seal_to_pool, SecretBytes, SecretString, ToPool, ToSigner, UrlButton,
};
use custos_ipc::Envelope;
use custos_pool::relay::{NOTICE_TEXT, NO_CLIENT_YET};
use custos_pool::telegram::OutboxConfig;
use custos_pool::{Pool, TelegramSettings, WebhookSettings};
use custos_supervisor::aio;
use custos_telegram_fake::{Config, FakeTelegram, Fault, RateLimits};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const KEY: [u8; 32] = [0x5a; 32];

struct Fake {
    fake: FakeTelegram,
    dir: TempDir,
}

impl Fake {
    async fn start(rate_limits: RateLimits) -> Self {
        let fake = FakeTelegram::start(Config {
            rate_limits,
            ..Config::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), fake.ca_pem()).unwrap();
        Self { fake, dir }
    }

    /// Quick settings: short polls, quick retries, high limits.
    fn settings(&self) -> TelegramSettings {
        TelegramSettings {
            api_url: self.fake.base_url(),
            ca_cert: Some(self.dir.path().join("ca.pem")),
            global_per_sec: 1000.0,
            per_chat_per_sec: 1000.0,
            poll_timeout: Duration::from_secs(1),
            answer_callbacks_after: Duration::from_secs(1),
            outbox: OutboxConfig {
                backoff_initial: Duration::from_millis(20),
                backoff_max: Duration::from_millis(200),
                ..OutboxConfig::default()
            },
            backoff_max: Duration::from_millis(200),
            request_timeout: Duration::from_secs(3),
            ..TelegramSettings::default()
        }
    }

    /// A user who has written to the bot (so the bot may write to them); the
    /// `/start` is an update the pool turns into an event.
    fn user(&self, name: &str) -> i64 {
        let u = self.fake.add_user_named(name).unwrap();
        self.fake.send_text(u.id, u.id, "/start").unwrap();
        u.id
    }

    fn bot_messages(&self, chat: i64) -> Vec<custos_telegram_fake::ChatMessage> {
        self.fake
            .messages(chat)
            .unwrap()
            .into_iter()
            .filter(|m| m.from_bot)
            .collect()
    }
}

/// The signer's side: seals messages for the pool, opens events, acknowledges
/// batches.
struct Signer {
    pool: Arc<Pool>,
    end: ChannelEnd,
    /// The batch to acknowledge with the next call.
    ack: Option<u64>,
    /// Events received and not yet looked at.
    inbox: Vec<ToSigner>,
}

impl Signer {
    fn new(settings: TelegramSettings) -> Self {
        Self {
            pool: Pool::new(None, ViewKey::new(KEY), settings),
            end: ChannelEnd::signer(&ViewKey::new(KEY)),
            ack: None,
            inbox: Vec::new(),
        }
    }

    fn seal(&mut self, msg: &ToPool) -> Sealed {
        seal_to_pool(&mut self.end, msg).unwrap()
    }

    async fn deliver_sealed(&self, sealed: Vec<Sealed>) -> u32 {
        match self.pool.handle(PoolRequest::Deliver(sealed)).await {
            PoolResponse::Delivered { accepted } => accepted,
            other => panic!("{other:?}"),
        }
    }

    async fn deliver(&mut self, msgs: &[ToPool]) -> u32 {
        let mut accepted = 0;
        for chunk in msgs.chunks(custos_ipc::pool::MAX_SEALED_PER_CALL) {
            let sealed = chunk.iter().map(|m| self.seal(m)).collect();
            accepted += self.deliver_sealed(sealed).await;
        }
        accepted
    }

    async fn configure(&mut self) {
        let n = self
            .deliver(&[ToPool::Configure {
                bot_token: SecretString::new(custos_telegram_fake::DEFAULT_TOKEN.into()),
            }])
            .await;
        assert_eq!(n, 1);
    }

    /// One `NextEvents` call, acknowledging the previous batch if `ack`.
    async fn poll(&mut self, ack: bool, wait_ms: u32) -> (u64, Vec<Sealed>) {
        let ack = if ack { self.ack } else { None };
        match self
            .pool
            .handle(PoolRequest::NextEvents { ack, wait_ms })
            .await
        {
            PoolResponse::Events { batch, events } => (batch, events),
            other => panic!("{other:?}"),
        }
    }

    /// Fetches (acknowledging as it goes) until `pred` matches an event;
    /// returns it, keeping the others in `inbox`.
    async fn expect(&mut self, what: &str, mut pred: impl FnMut(&ToSigner) -> bool) -> ToSigner {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(i) = self.inbox.iter().position(&mut pred) {
                return self.inbox.remove(i);
            }
            assert!(
                Instant::now() < deadline,
                "no {what} event; got {:?}",
                self.inbox
            );
            self.fetch(true, 300).await;
        }
    }

    /// Fetches one batch into the inbox.
    async fn fetch(&mut self, ack: bool, wait_ms: u32) -> usize {
        let (batch, events) = self.poll(ack, wait_ms).await;
        let mut opened = 0;
        for s in &events {
            // A batch fetched again without acknowledging holds messages this
            // end opened already: refused as replays.
            if let Ok(e) = open_from_pool(&mut self.end, s) {
                self.inbox.push(e);
                opened += 1;
            }
        }
        self.ack = Some(batch);
        opened
    }

    fn confirmation(id: usize, chat: i64) -> ToPool {
        ToPool::SendConfirmation {
            confirmation_id: format!("{id:032x}"),
            chat_id: chat,
            text: format!("<b>Withdraw</b> {id} SOL?"),
            approve: SecretString::new(format!("approve-token-{id:08}")),
            reject: SecretString::new(format!("reject-token-{id:09}")),
        }
    }

    fn status(&self) -> TelegramStatus {
        self.pool.status()
    }
}

fn is_ready(e: &ToSigner) -> bool {
    matches!(e, ToSigner::Ready { .. })
}

fn start_of(user: i64) -> impl FnMut(&ToSigner) -> bool {
    move |e| matches!(e, ToSigner::Start { from_id, .. } if *from_id == user as u64)
}

fn sent_of(id: usize) -> impl FnMut(&ToSigner) -> bool {
    let want = format!("{id:032x}");
    move |e| matches!(e, ToSigner::Sent { confirmation_id, .. } | ToSigner::SendFailed { confirmation_id, .. } if *confirmation_id == want)
}

#[tokio::test]
async fn a_confirmation_goes_out_and_its_presses_come_back() {
    let f = Fake::start(RateLimits::default()).await;
    let mut s = Signer::new(f.settings());
    assert!(!s.status().configured);
    s.configure().await;
    let ready = s.expect("ready", is_ready).await;
    assert_eq!(
        ready,
        ToSigner::Ready {
            bot_username: "custos_test_bot".into()
        }
    );
    let st = s.status();
    assert!(st.configured);
    assert_eq!(st.bot_username.as_deref(), Some("custos_test_bot"));

    // /start (no payload) and /start with a link token.
    let alice = f.user("Alice");
    let start = s.expect("start", start_of(alice)).await;
    let ToSigner::Start {
        payload, chat_id, ..
    } = start
    else {
        unreachable!()
    };
    assert_eq!((payload.expose(), chat_id), ("", alice));
    f.fake
        .send_text(alice, alice, "/start LinkToken_0123456789abcd")
        .unwrap();
    let ToSigner::Start { payload, .. } = s.expect("start payload", start_of(alice)).await else {
        unreachable!()
    };
    assert_eq!(payload.expose(), "LinkToken_0123456789abcd");

    // The confirmation: HTML, two buttons carrying the tokens.
    s.deliver(&[Signer::confirmation(1, alice)]).await;
    let ToSigner::Sent {
        chat_id,
        message_id,
        ..
    } = s.expect("sent", sent_of(1)).await
    else {
        panic!("not sent")
    };
    assert_eq!(chat_id, alice);
    let shown = f.fake.last_bot_message(alice).unwrap();
    assert_eq!(shown.message_id, message_id);
    assert_eq!(shown.text.as_deref(), Some("Withdraw 1 SOL?"));
    assert_eq!(shown.parse_mode.as_deref(), Some("HTML"));
    let buttons = shown.buttons();
    assert_eq!(buttons.len(), 2);
    assert_eq!(buttons[0].text, "Approve");
    assert_eq!(
        buttons[0].callback_data.as_deref(),
        Some("approve-token-00000001")
    );
    assert_eq!(buttons[1].text, "Reject");
    assert_eq!(
        buttons[1].callback_data.as_deref(),
        Some("reject-token-000000001")
    );

    // A press comes back with its data, presser, chat and message; the signer
    // answers it.
    let q = f.fake.press(alice, alice, message_id, 0).unwrap();
    let press = s
        .expect("press", |e| matches!(e, ToSigner::Press { .. }))
        .await;
    let ToSigner::Press {
        callback_query_id,
        data,
        from_id,
        chat_id,
        message_id: pressed,
    } = press
    else {
        unreachable!()
    };
    assert_eq!(callback_query_id, q);
    assert_eq!(data.expose(), "approve-token-00000001");
    assert_eq!(from_id, alice as u64);
    assert_eq!((chat_id, pressed), (Some(alice), Some(message_id)));
    s.deliver(&[ToPool::AnswerCallback {
        callback_query_id: q.clone(),
        text: Some("Approved".into()),
        show_alert: false,
    }])
    .await;
    assert!(
        f.fake
            .wait_until(Duration::from_secs(10), |f| f
                .callback_queries()
                .iter()
                .any(|c| c.id == q && c.answer.is_some()))
            .await
    );
    let answer = f
        .fake
        .callback_queries()
        .into_iter()
        .find(|c| c.id == q)
        .unwrap()
        .answer
        .unwrap();
    assert_eq!(answer.text.as_deref(), Some("Approved"));

    // The outcome edit removes the buttons.
    s.deliver(&[ToPool::Edit {
        chat_id: alice,
        message_id,
        text: "<b>Approved</b>: 1 SOL sent".into(),
        button: None,
    }])
    .await;
    assert!(
        f.fake
            .wait_until(Duration::from_secs(10), |f| f
                .last_bot_message(alice)
                .is_some_and(|m| m.edit_date.is_some()))
            .await
    );
    let edited = f.fake.last_bot_message(alice).unwrap();
    assert_eq!(edited.text.as_deref(), Some("Approved: 1 SOL sent"));
    assert!(edited.buttons().is_empty(), "{edited:?}");
    let edit_req = f.fake.requests_for("editMessageText");
    assert!(edit_req[0].params.get("reply_markup").is_none());

    // A press the signer leaves unanswered is answered by the pool (no text).
    s.deliver(&[Signer::confirmation(2, alice)]).await;
    let ToSigner::Sent { message_id, .. } = s.expect("sent 2", sent_of(2)).await else {
        panic!("not sent")
    };
    let q2 = f.fake.press(alice, alice, message_id, 1).unwrap();
    let ToSigner::Press { data, .. } = s
        .expect("press 2", |e| matches!(e, ToSigner::Press { .. }))
        .await
    else {
        unreachable!()
    };
    assert_eq!(data.expose(), "reject-token-000000002");
    assert!(
        f.fake
            .wait_until(Duration::from_secs(10), |f| f
                .callback_queries()
                .iter()
                .any(|c| c.id == q2 && c.answer.is_some()))
            .await
    );
    let record = f
        .fake
        .callback_queries()
        .into_iter()
        .find(|c| c.id == q2)
        .unwrap();
    assert_eq!(record.answer.unwrap().text, None);
    // A late answer from the signer is not sent a second time.
    s.deliver(&[ToPool::AnswerCallback {
        callback_query_id: q2.clone(),
        text: Some("late".into()),
        show_alert: true,
    }])
    .await;

    // A forged press (any data) is passed on as it came.
    f.fake
        .press_with_data(alice, alice, message_id, "forged")
        .unwrap();
    let ToSigner::Press { data, .. } = s
        .expect("forged press", |e| matches!(e, ToSigner::Press { .. }))
        .await
    else {
        unreachable!()
    };
    assert_eq!(data.expose(), "forged");

    // Other texts go to the signer (no notice); notices from the signer go out.
    f.fake.send_text(alice, alice, "hello?").unwrap();
    let ToSigner::Text(t) = s.expect("text", |e| matches!(e, ToSigner::Text(_))).await else {
        unreachable!()
    };
    assert_eq!((t.text.expose(), t.chat_id), ("hello?", alice));
    assert!(f
        .bot_messages(alice)
        .iter()
        .all(|m| m.text.as_deref() != Some(NOTICE_TEXT)));
    s.deliver(&[ToPool::Notice {
        chat_id: alice,
        text: "Your account is <i>linked</i>.".into(),
        button: None,
    }])
    .await;
    assert!(
        f.fake
            .wait_until(Duration::from_secs(10), |f| f
                .last_bot_message(alice)
                .is_some_and(
                    |m| m.text.as_deref() == Some("Your account is linked.")
                ))
            .await
    );
    let late = f
        .fake
        .requests_for("answerCallbackQuery")
        .into_iter()
        .filter(|r| r.params["callback_query_id"] == q2.as_str())
        .count();
    assert_eq!(late, 1, "the late answer was sent");
    let st = s.status();
    assert!(st.sent >= 4, "{st:?}");
    assert!(st.updates >= 6, "{st:?}");
    assert_eq!(st.last_error, None);

    // Group messages are ignored.
    let group = f.fake.add_group("Team");
    f.fake.send_text(alice, group, "/start x").unwrap();
    assert_eq!(s.fetch(true, 1500).await, 0);
}

#[tokio::test]
async fn bursts_of_429_and_5xx_deliver_each_confirmation_exactly_once() {
    let f = Fake::start(RateLimits::disabled()).await;
    let mut s = Signer::new(f.settings());
    s.configure().await;
    s.expect("ready", is_ready).await;
    let users: Vec<i64> = (0..50).map(|i| f.user(&format!("U{i}"))).collect();
    for &u in &users {
        s.expect("start", start_of(u)).await;
    }
    f.fake
        .fail_next_n("sendMessage", Fault::TooManyRequests { retry_after: 1 }, 4);
    f.fake
        .fail_next_n("sendMessage", Fault::ServerError { status: 502 }, 6);
    let msgs: Vec<ToPool> = users
        .iter()
        .enumerate()
        .map(|(i, &u)| Signer::confirmation(i, u))
        .collect();
    assert_eq!(s.deliver(&msgs).await, 50);
    for i in 0..50 {
        let e = s.expect("sent", sent_of(i)).await;
        assert!(matches!(e, ToSigner::Sent { .. }), "{e:?}");
    }
    for &u in &users {
        assert_eq!(f.bot_messages(u).len(), 1, "chat {u}");
    }
    let faults = f
        .fake
        .requests_for("sendMessage")
        .iter()
        .filter(|r| r.status != Some(200))
        .count();
    assert_eq!(faults, 10);

    // Permanent refusal: Telegram's description comes back.
    f.fake.set_blocked(users[0], true).unwrap();
    s.deliver(&[Signer::confirmation(100, users[0])]).await;
    let ToSigner::SendFailed { reason, .. } = s.expect("failed", sent_of(100)).await else {
        panic!("sent to a blocked user")
    };
    assert_eq!(reason, "Forbidden: bot was blocked by the user");

    // An answer lost after Telegram applied the call: reported, never resent.
    f.fake.fail_next("sendMessage", Fault::Hang { ms: 4000 });
    s.deliver(&[Signer::confirmation(101, users[1])]).await;
    let ToSigner::SendFailed { reason, .. } = s.expect("uncertain", sent_of(101)).await else {
        panic!("an uncertain send was reported sent")
    };
    assert!(reason.contains("not resent"), "{reason}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(f.bot_messages(users[1]).len(), 2, "applied once, not twice");
    assert_eq!(f.fake.requests_for("sendMessage").len(), 50 + 10 + 2);
    assert!(s.status().last_error.is_some());
}

/// Seals as many confirmations as there are users, sends them and waits for
/// the `Sent` events, a task draining the events meanwhile.
async fn send_to_all(s: &mut Signer, users: &[i64]) -> Duration {
    let msgs: Vec<ToPool> = users
        .iter()
        .enumerate()
        .map(|(i, &u)| Signer::confirmation(i, u))
        .collect();
    let started = Instant::now();
    assert_eq!(s.deliver(&msgs).await as usize, users.len());
    for i in 0..users.len() {
        let e = s.expect("sent", sent_of(i)).await;
        assert!(matches!(e, ToSigner::Sent { .. }), "{e:?}");
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_users_get_their_confirmations_within_the_global_rate() {
    const RATE: f64 = 200.0;
    let f = Fake::start(RateLimits {
        global_per_sec: RATE,
        global_burst: RATE as u32,
        ..RateLimits::default()
    })
    .await;
    let mut s = Signer::new(TelegramSettings {
        global_per_sec: RATE,
        per_chat_per_sec: 1.0,
        ..f.settings()
    });
    s.configure().await;
    s.expect("ready", is_ready).await;
    let users: Vec<i64> = (0..1000).map(|i| f.user(&format!("U{i}"))).collect();
    for &u in &users {
        s.expect("start", start_of(u)).await;
    }
    let took = send_to_all(&mut s, &users).await;
    let rate = users.len() as f64 / took.as_secs_f64();
    println!(
        "relay: 1000 confirmations to 1000 users in {:.2} s = {rate:.0} messages/s (limit {RATE}/s)",
        took.as_secs_f64()
    );
    for &u in &users {
        assert_eq!(f.bot_messages(u).len(), 1, "chat {u}");
    }
    let sends = f.fake.sends();
    let span_ms =
        sends.iter().map(|e| e.at_ms).max().unwrap() - sends.iter().map(|e| e.at_ms).min().unwrap();
    println!(
        "relay: at the server, first to last message {span_ms} ms = {:.0} messages/s",
        (sends.len() - 1) as f64 * 1000.0 / span_ms.max(1) as f64
    );
    let stats = f.fake.send_stats(Duration::from_secs(1));
    println!(
        "relay: fake server saw at most {} messages in any 1 s window, {} rejected with 429",
        stats.max_global_in_window, stats.rejected_429
    );
    assert_eq!(stats.total, 1000);
    // The limiter allows a burst of one beyond the steady rate; a few
    // milliseconds of network jitter may bunch arrivals at the server slightly.
    assert!(
        stats.max_global_in_window as f64 <= RATE * 1.05 + 1.0,
        "{stats:?}"
    );
}

#[tokio::test]
async fn one_chat_gets_at_most_its_rate() {
    let f = Fake::start(RateLimits::default()).await;
    let mut s = Signer::new(TelegramSettings {
        global_per_sec: 30.0,
        per_chat_per_sec: 1.0,
        ..f.settings()
    });
    s.configure().await;
    s.expect("ready", is_ready).await;
    let alice = f.user("Alice");
    s.expect("start", start_of(alice)).await;
    let took = send_to_all(&mut s, &[alice; 5]).await;
    assert_eq!(f.bot_messages(alice).len(), 5);
    let stats = f.fake.send_stats(Duration::from_secs(1));
    // A burst of two, then one a second.
    assert!(stats.max_per_chat_in_window <= 3, "{stats:?}");
    assert!(took >= Duration::from_millis(2900), "{took:?}");
    assert_eq!(stats.rejected_429, 0);
}

#[tokio::test]
async fn updates_are_confirmed_only_after_their_events_are_acknowledged() {
    let f = Fake::start(RateLimits::default()).await;
    let alice = f.fake.add_user_named("Alice").unwrap().id;

    // First run: one /start acknowledged, a second one not.
    let mut a = Signer::new(f.settings());
    a.configure().await;
    a.expect("ready", is_ready).await;
    f.fake.send_text(alice, alice, "/start first").unwrap();
    a.expect("first", start_of(alice)).await;
    a.fetch(true, 0).await; // acknowledges the batch holding it
    assert!(
        f.fake
            .wait_until(Duration::from_secs(10), |f| f.pending_update_count() == 0)
            .await,
        "the acknowledged update was not confirmed"
    );
    f.fake.send_text(alice, alice, "/start second").unwrap();
    // Fetched, never acknowledged (asked again: the same batch).
    let (batch, events) = loop {
        let (b, e) = a.poll(false, 500).await;
        if !e.is_empty() {
            break (b, e);
        }
    };
    let again = a.poll(false, 0).await;
    assert_eq!(again, (batch, events.clone()));
    let ToSigner::Start { payload, .. } = open_from_pool(&mut a.end, &events[0]).unwrap() else {
        panic!()
    };
    assert_eq!(payload.expose(), "second");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(f.fake.pending_update_count(), 1);
    a.pool.shutdown();
    drop(a);

    // Second run: Telegram re-delivers the unacknowledged update only.
    let mut b = Signer::new(f.settings());
    b.configure().await;
    b.expect("ready", is_ready).await;
    let ToSigner::Start { payload, .. } = b.expect("second again", start_of(alice)).await else {
        unreachable!()
    };
    assert_eq!(payload.expose(), "second");
    b.fetch(true, 0).await;
    assert!(
        f.fake
            .wait_until(Duration::from_secs(10), |f| f.pending_update_count() == 0)
            .await
    );
    assert_eq!(b.fetch(true, 1000).await, 0);
    assert!(b.inbox.is_empty(), "{:?}", b.inbox);
    b.pool.shutdown();
    drop(b);

    // Third run: nothing comes back.
    let mut c = Signer::new(f.settings());
    c.configure().await;
    c.expect("ready", is_ready).await;
    assert_eq!(c.fetch(true, 1500).await, 0);
    assert!(c.inbox.is_empty(), "{:?}", c.inbox);
}

#[tokio::test]
async fn forged_replayed_and_early_messages_send_nothing() {
    let f = Fake::start(RateLimits::default()).await;
    let alice = f.user("Alice");
    let mut s = Signer::new(f.settings());

    // Before the token: the confirmation fails at once, nothing else happens.
    s.deliver(&[
        Signer::confirmation(1, alice),
        ToPool::Notice {
            chat_id: alice,
            text: "x".into(),
            button: None,
        },
    ])
    .await;
    let ToSigner::SendFailed { reason, .. } = s.expect("early", sent_of(1)).await else {
        panic!()
    };
    assert_eq!(reason, NO_CLIENT_YET);

    s.configure().await;
    s.expect("ready", is_ready).await;
    s.expect("start", start_of(alice)).await;
    // A second token is ignored.
    s.configure().await;

    let good = s.seal(&Signer::confirmation(2, alice));
    let mut forged = s.seal(&Signer::confirmation(3, alice));
    forged.ciphertext[5] ^= 1;
    let other_key = seal_to_pool(
        &mut ChannelEnd::signer(&ViewKey::new([1; 32])),
        &Signer::confirmation(4, alice),
    )
    .unwrap();
    let mut reflected = s.seal(&Signer::confirmation(5, alice));
    reflected.counter += 1000;
    assert_eq!(
        s.deliver_sealed(vec![good.clone(), forged, other_key, reflected])
            .await,
        1
    );
    assert_eq!(s.deliver_sealed(vec![good]).await, 0, "replay accepted");
    s.expect("sent", sent_of(2)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(f.bot_messages(alice).len(), 1);
    assert_eq!(f.fake.requests_for("sendMessage").len(), 1);
    assert_eq!(s.fetch(true, 300).await, 0, "{:?}", s.inbox);
}

#[tokio::test]
async fn run_serves_the_bridge_and_reports_telegram_health() {
    let f = Fake::start(RateLimits::default()).await;
    let pool = Pool::new(None, ViewKey::new(KEY), f.settings());
    let mut end = ChannelEnd::signer(&ViewKey::new(KEY));
    let (bridge, mut bridge_peer) = tokio::net::UnixStream::pair().unwrap();
    let (control, mut control_peer) = tokio::net::UnixStream::pair().unwrap();
    let served = tokio::spawn(custos_pool::run(bridge, control, pool.clone()));

    let detail = health(&mut control_peer, 1).await;
    assert!(
        detail.contains("waiting for the signer's bot token"),
        "{detail}"
    );

    let configure = seal_to_pool(
        &mut end,
        &ToPool::Configure {
            bot_token: SecretString::new(custos_telegram_fake::DEFAULT_TOKEN.into()),
        },
    )
    .unwrap();
    assert_eq!(
        call(&mut bridge_peer, 1, PoolRequest::Deliver(vec![configure])).await,
        PoolResponse::Delivered { accepted: 1 }
    );
    let PoolResponse::Events { batch, events } = call(
        &mut bridge_peer,
        2,
        PoolRequest::NextEvents {
            ack: None,
            wait_ms: 10_000,
        },
    )
    .await
    else {
        panic!()
    };
    assert_eq!(batch, 1);
    assert_eq!(
        open_from_pool(&mut end, &events[0]).unwrap(),
        ToSigner::Ready {
            bot_username: "custos_test_bot".into()
        }
    );
    assert_eq!(
        call(
            &mut bridge_peer,
            3,
            PoolRequest::NextEvents {
                ack: Some(1),
                wait_ms: 0
            }
        )
        .await,
        PoolResponse::Events {
            batch: 1,
            events: vec![]
        }
    );
    let PoolResponse::Telegram(status) =
        call(&mut bridge_peer, 4, PoolRequest::TelegramStatus).await
    else {
        panic!()
    };
    assert!(status.configured);
    assert_eq!(status.bot_username.as_deref(), Some("custos_test_bot"));
    assert!(matches!(
        call(
            &mut bridge_peer,
            5,
            PoolRequest::NextEvents {
                ack: None,
                wait_ms: 60_000
            }
        )
        .await,
        PoolResponse::Refused(custos_ipc::pool::PoolRefusal::WaitTooLong { .. })
    ));
    let detail = health(&mut control_peer, 2).await;
    assert!(
        detail.contains("telegram: running as @custos_test_bot"),
        "{detail}"
    );

    drop(bridge_peer);
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .unwrap()
        .unwrap();
}

async fn health(c: &mut tokio::net::UnixStream, id: u64) -> String {
    aio::write_frame(
        c,
        &Envelope {
            id,
            body: ControlRequest::Health,
        },
    )
    .await
    .unwrap();
    let r: Envelope<ControlResponse> = aio::read_frame(c).await.unwrap();
    let ControlResponse::Health(h) = r.body;
    h.detail
}

async fn call(b: &mut tokio::net::UnixStream, id: u64, body: PoolRequest) -> PoolResponse {
    aio::write_frame(b, &Envelope { id, body }).await.unwrap();
    let r: Envelope<PoolResponse> = aio::read_frame(b).await.unwrap();
    assert_eq!(r.id, id);
    r.body
}

#[tokio::test]
async fn webhook_mode_takes_updates_only_with_the_secret_and_after_acks() {
    let f = Fake::start(RateLimits::default()).await;
    let cert = f.fake.issue_cert(&["127.0.0.1".into()]).unwrap();
    let (cert_path, key_path) = (f.dir.path().join("hook.pem"), f.dir.path().join("hook.key"));
    std::fs::write(&cert_path, &cert.cert_pem).unwrap();
    std::fs::write(&key_path, &cert.key_pem).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("https://127.0.0.1:{port}/telegram-updates");
    let mut s = Signer::new(TelegramSettings {
        webhook: Some(WebhookSettings {
            ack_wait: Duration::from_millis(1500),
            ..WebhookSettings::new(
                ([127, 0, 0, 1], port).into(),
                url.clone(),
                cert_path,
                key_path,
            )
        }),
        ..f.settings()
    });
    s.configure().await;
    s.expect("ready", is_ready).await;
    let hook = f.fake.webhook().unwrap();
    assert_eq!(hook.url, url);
    let secret = hook.secret_token.clone().unwrap();
    assert_eq!(secret.len(), 43);

    // An update, acknowledged: delivered (confirmed) at Telegram.
    let alice = f.fake.add_user_named("Alice").unwrap().id;
    f.fake.send_text(alice, alice, "/start hook-token").unwrap();
    let ToSigner::Start { payload, .. } = s.expect("start", start_of(alice)).await else {
        unreachable!()
    };
    assert_eq!(payload.expose(), "hook-token");
    s.fetch(true, 0).await;
    assert!(
        f.fake
            .wait_until(Duration::from_secs(10), |f| f.pending_update_count() == 0)
            .await
    );

    // Not acknowledged in time: answered 503, Telegram retries, the update is
    // handled once; the acknowledgement then confirms it.
    f.fake.send_text(alice, alice, "/start second").unwrap();
    let (batch, events) = loop {
        let (b, e) = s.poll(false, 500).await;
        if !e.is_empty() {
            break (b, e);
        }
    };
    assert!(
        f.fake
            .wait_until(Duration::from_secs(10), |f| f
                .webhook()
                .and_then(|w| w.last_error)
                .is_some_and(|(_, e)| e.contains("503")))
            .await
    );
    assert_eq!(f.fake.pending_update_count(), 1);
    assert_eq!(s.poll(false, 0).await, (batch, events.clone()));
    let ToSigner::Start { payload, .. } = open_from_pool(&mut s.end, &events[0]).unwrap() else {
        panic!()
    };
    assert_eq!(payload.expose(), "second");
    s.ack = Some(batch);
    s.fetch(true, 0).await;
    assert!(
        f.fake
            .wait_until(Duration::from_secs(10), |f| f.pending_update_count() == 0)
            .await
    );
    assert_eq!(s.fetch(true, 500).await, 0, "{:?}", s.inbox);

    // A private text comes as text, as in polling mode.
    let typed = f.fake.send_text(alice, alice, "123 456").unwrap();
    let ToSigner::Text(t) = s.expect("text", |e| matches!(e, ToSigner::Text(_))).await else {
        unreachable!()
    };
    assert_eq!(
        (t.text.expose(), t.from_id, t.chat_id),
        ("123 456", alice as u64, alice)
    );
    assert_eq!(serde_json::json!(t.message_id), typed["message_id"]);
    s.fetch(true, 0).await;
    assert!(
        f.fake
            .wait_until(Duration::from_secs(10), |f| f.pending_update_count() == 0)
            .await
    );

    // Without the secret, or with another one: 401, nothing happens.
    let forged = serde_json::json!({
        "update_id": 999_999_999,
        "message": {"message_id": 1, "date": 1, "text": "/start forged",
            "from": {"id": alice, "is_bot": false, "first_name": "A"},
            "chat": {"id": alice, "type": "private"}}
    })
    .to_string()
    .into_bytes();
    let ca = f.fake.ca_pem().to_string();
    for headers in [
        vec![],
        vec![(
            "x-telegram-bot-api-secret-token",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )],
        vec![("x-telegram-bot-api-secret-token", &secret[..42])],
    ] {
        let (status, _) = custos_telegram_fake::http_client::request(
            "POST",
            &url,
            &headers,
            forged.clone(),
            &[ca.as_str()],
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(status, 401);
    }
    assert_eq!(s.fetch(true, 500).await, 0, "{:?}", s.inbox);
    assert!(f.fake.requests_for("getUpdates").is_empty());
}

#[tokio::test]
async fn unusable_settings_fail_confirmations_instead_of_hanging() {
    let f = Fake::start(RateLimits::default()).await;
    let mut s = Signer::new(TelegramSettings {
        ca_cert: Some(f.dir.path().join("missing.pem")),
        ..f.settings()
    });
    s.configure().await;
    s.deliver(&[Signer::confirmation(1, 42)]).await;
    let ToSigner::SendFailed { reason, .. } = s.expect("failed", sent_of(1)).await else {
        panic!()
    };
    assert!(reason.contains("missing.pem"), "{reason}");
    assert!(!s.status().configured);
    assert!(s.pool.describe().contains("telegram: not running"));
    assert!(f.fake.requests().is_empty());

    // A token that is not one: the same, and it is never shown.
    let mut s = Signer::new(f.settings());
    s.deliver(&[ToPool::Configure {
        bot_token: SecretString::new("not a token SECRETPART".into()),
    }])
    .await;
    s.deliver(&[Signer::confirmation(2, 42)]).await;
    let ToSigner::SendFailed { reason, .. } = s.expect("failed", sent_of(2)).await else {
        panic!()
    };
    assert!(!reason.contains("SECRETPART"), "{reason}");
    assert!(!s.pool.describe().contains("SECRETPART"));
}

#[tokio::test]
async fn messages_sent_while_get_me_fails_wait_for_the_client() {
    let f = Fake::start(RateLimits::default()).await;
    let alice = f.user("Alice");
    f.fake
        .fail_next_n("getMe", Fault::ServerError { status: 502 }, 3);
    let mut s = Signer::new(f.settings());
    let n = s
        .deliver(&[
            ToPool::Configure {
                bot_token: SecretString::new(custos_telegram_fake::DEFAULT_TOKEN.into()),
            },
            Signer::confirmation(1, alice),
        ])
        .await;
    assert_eq!(n, 2);
    s.expect("ready", is_ready).await;
    let e = s.expect("sent", sent_of(1)).await;
    assert!(matches!(e, ToSigner::Sent { .. }), "{e:?}");
    assert_eq!(f.fake.requests_for("getMe").len(), 4);
    assert_eq!(f.bot_messages(alice).len(), 1);
    assert_eq!(s.status().last_error, None);
}

/// Log lines of everything the test's thread runs (a current-thread runtime
/// runs the pool's tasks there too).
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The bytes of a PNG's start (signature and IHDR of a `side` x `side`
/// image), then bytes a multipart body must carry untouched.
fn png(side: u32, fill: u8) -> Vec<u8> {
    let mut p = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    p.extend_from_slice(&side.to_be_bytes());
    p.extend_from_slice(&side.to_be_bytes());
    p.extend_from_slice(b"\x08\x02\x00\x00\x00\r\n--\r\n\x00\xff");
    p.extend((0..=255u8).map(|b| b ^ fill));
    p
}

fn url_button(text: &str, url: &str) -> Option<UrlButton> {
    Some(UrlButton {
        text: text.into(),
        url: SecretString::new(url.into()),
    })
}

/// Waits for a bot message in `chat` matching `pred`.
async fn bot_message(
    f: &Fake,
    chat: i64,
    mut pred: impl FnMut(&custos_telegram_fake::ChatMessage) -> bool,
) -> custos_telegram_fake::ChatMessage {
    assert!(
        f.fake
            .wait_until(Duration::from_secs(10), |_| f
                .bot_messages(chat)
                .iter()
                .any(&mut pred))
            .await,
        "{:?}",
        f.bot_messages(chat)
    );
    f.bot_messages(chat).into_iter().find(pred).unwrap()
}

#[tokio::test]
async fn url_buttons_secret_notices_photos_and_deletions_reach_telegram_unlogged() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let f = Fake::start(RateLimits::disabled()).await;
    let mut s = Signer::new(f.settings());
    s.configure().await;
    s.expect("ready", is_ready).await;
    let alice = f.user("Alice");
    s.expect("start", start_of(alice)).await;

    // A notice with a URL button.
    let page = "https://custos.example/page#t=URLSECRET-notice";
    s.deliver(&[ToPool::Notice {
        chat_id: alice,
        text: "Add a passkey on the <b>page</b>.".into(),
        button: url_button("Open Custos", page),
    }])
    .await;
    let shown = bot_message(&f, alice, |m| {
        m.text.as_deref() == Some("Add a passkey on the page.")
    })
    .await;
    let buttons = shown.buttons();
    assert_eq!(buttons.len(), 1, "{buttons:?}");
    assert_eq!(buttons[0].text, "Open Custos");
    assert_eq!(buttons[0].url.as_deref(), Some(page));
    assert_eq!(buttons[0].callback_data, None);
    assert_eq!(
        f.fake.requests_for("sendMessage")[0].params["reply_markup"],
        serde_json::json!({"inline_keyboard": [[{"text": "Open Custos", "url": page}]]})
    );

    // An edit keeps a URL button in place of Approve / Reject; a later edit
    // without one removes it.
    s.deliver(&[Signer::confirmation(1, alice)]).await;
    let ToSigner::Sent { message_id, .. } = s.expect("sent", sent_of(1)).await else {
        panic!("not sent")
    };
    let passkey = "https://custos.example/page#t=URLSECRET-edit";
    s.deliver(&[ToPool::Edit {
        chat_id: alice,
        message_id,
        text: "Approved. <i>Confirm with your passkey.</i>".into(),
        button: url_button("Confirm with passkey", passkey),
    }])
    .await;
    let edited = bot_message(&f, alice, |m| {
        m.message_id == message_id
            && m.text.as_deref() == Some("Approved. Confirm with your passkey.")
    })
    .await;
    let buttons = edited.buttons();
    assert_eq!(buttons.len(), 1, "{buttons:?}");
    assert_eq!(
        (buttons[0].text.as_str(), buttons[0].url.as_deref()),
        ("Confirm with passkey", Some(passkey))
    );
    s.deliver(&[ToPool::Edit {
        chat_id: alice,
        message_id,
        text: "Done.".into(),
        button: None,
    }])
    .await;
    let done = bot_message(&f, alice, |m| {
        m.message_id == message_id && m.text.as_deref() == Some("Done.")
    })
    .await;
    assert!(done.buttons().is_empty(), "{done:?}");
    let edits = f.fake.requests_for("editMessageText");
    assert_eq!(edits.len(), 2);
    assert!(edits[1].params.get("reply_markup").is_none());

    // A button that is not https: the message is refused. The secret notice
    // after it goes out (same chat, in order), so the refused one never will.
    for bad in [
        "http://custos.example/page",
        "javascript:alert(1)",
        "https://user@custos.example/",
    ] {
        s.deliver(&[ToPool::Notice {
            chat_id: alice,
            text: "insecure".into(),
            button: url_button("Open", bad),
        }])
        .await;
    }
    // A secret notice that deletes itself a second after it was sent.
    s.deliver(&[ToPool::SecretNotice {
        chat_id: alice,
        text: SecretString::new("Recovery codes: <code>RC-SECRET-1111</code>".into()),
        delete_after_secs: Some(1),
    }])
    .await;
    let codes = bot_message(&f, alice, |m| {
        m.text.as_deref() == Some("Recovery codes: RC-SECRET-1111")
    })
    .await;
    assert_eq!(codes.parse_mode.as_deref(), Some("HTML"));
    assert!(f
        .bot_messages(alice)
        .iter()
        .all(|m| m.text.as_deref() != Some("insecure")));

    // A photo: the exact PNG bytes as an upload, the caption as HTML.
    let qr = png(41, 0);
    let photo = ToPool::SendPhoto {
        chat_id: alice,
        png: SecretBytes::new(qr.clone()),
        caption: SecretString::new(
            "<b>Scan</b> otpauth://totp/Custos:alice?secret=CAPTIONSECRETXYZ".into(),
        ),
        delete_after_secs: None,
    };
    assert!(!format!("{photo:?}").contains("CAPTIONSECRET"));
    s.deliver(&[photo]).await;
    let shown = bot_message(&f, alice, |m| m.photo.is_some()).await;
    assert_eq!(
        shown.caption.as_deref(),
        Some("Scan otpauth://totp/Custos:alice?secret=CAPTIONSECRETXYZ")
    );
    assert_eq!(shown.parse_mode.as_deref(), Some("HTML"));
    let p = shown.photo.as_ref().unwrap();
    assert_eq!((p.width, p.height, p.size), (41, 41, qr.len()));
    let decode = |b: &str| base64::engine::general_purpose::STANDARD.decode(b).unwrap();
    assert_eq!(decode(p.data_base64.as_deref().unwrap()), qr);
    let req = &f.fake.requests_for("sendPhoto")[0];
    assert!(req
        .content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("multipart/form-data; boundary=")));
    assert_eq!(req.files.len(), 1);
    assert_eq!(req.files[0].field, "photo");
    assert_eq!(decode(&req.files[0].data_base64), qr);
    assert_eq!(req.params["parse_mode"], "HTML");

    // A 429 on a photo: sent again once after retry_after, shown once.
    f.fake
        .fail_next("sendPhoto", Fault::TooManyRequests { retry_after: 1 });
    let qr2 = png(29, 0x5a);
    s.deliver(&[ToPool::SendPhoto {
        chat_id: alice,
        png: SecretBytes::new(qr2.clone()),
        caption: SecretString::new("second CAPTIONSECRETXYZ".into()),
        delete_after_secs: None,
    }])
    .await;
    bot_message(&f, alice, |m| {
        m.caption.as_deref() == Some("second CAPTIONSECRETXYZ")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let photos: Vec<_> = f
        .bot_messages(alice)
        .into_iter()
        .filter(|m| m.photo.is_some())
        .collect();
    assert_eq!(photos.len(), 2, "{photos:?}");
    assert_eq!(
        decode(
            photos[1]
                .photo
                .as_ref()
                .unwrap()
                .data_base64
                .as_deref()
                .unwrap()
        ),
        qr2
    );
    let reqs = f.fake.requests_for("sendPhoto");
    assert_eq!(
        reqs.iter().map(|r| r.status).collect::<Vec<_>>(),
        [Some(200), Some(429), Some(200)]
    );
    assert!(
        reqs[2].at_ms - reqs[1].at_ms >= 950,
        "retried after {} ms",
        reqs[2].at_ms - reqs[1].at_ms
    );

    // A code typed by the user comes back as text with its ids, and the
    // signer has it deleted.
    let typed = f.fake.send_text(alice, alice, "MYCODE-918273").unwrap();
    let ToSigner::Text(t) = s.expect("text", |e| matches!(e, ToSigner::Text(_))).await else {
        unreachable!()
    };
    assert_eq!(t.text.expose(), "MYCODE-918273");
    assert_eq!((t.from_id, t.chat_id), (alice as u64, alice));
    assert_eq!(serde_json::json!(t.message_id), typed["message_id"]);
    assert!(!format!("{t:?}").contains("MYCODE"));
    s.deliver(&[ToPool::DeleteMessage {
        chat_id: alice,
        message_id: t.message_id,
    }])
    .await;
    assert!(
        f.fake
            .wait_until(Duration::from_secs(10), |f| f
                .messages(alice)
                .unwrap()
                .iter()
                .any(|m| m.message_id == t.message_id && m.deleted))
            .await
    );
    // The secret notice is gone from the chat; the photos (no lifetime) stay.
    assert!(
        f.fake
            .wait_until(Duration::from_secs(10), |f| f
                .messages(alice)
                .unwrap()
                .iter()
                .any(|m| m.message_id == codes.message_id && m.deleted))
            .await
    );
    assert!(f
        .bot_messages(alice)
        .iter()
        .all(|m| m.photo.is_none() || !m.deleted));
    // Deleting it again fails (best effort): logged, not retried, no health error.
    s.deliver(&[ToPool::DeleteMessage {
        chat_id: alice,
        message_id: t.message_id,
    }])
    .await;
    assert!(
        f.fake
            .wait_until(Duration::from_secs(10), |f| f
                .requests_for("deleteMessage")
                .len()
                == 3)
            .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let deletes = f.fake.requests_for("deleteMessage");
    assert_eq!(deletes.len(), 3);
    assert_eq!(deletes[2].status, Some(400));
    assert_eq!(s.status().last_error, None);

    // Group texts, and texts longer than Telegram allows, make no event.
    let group = f.fake.add_group("Team");
    f.fake.send_text(alice, group, "MYCODE-111111").unwrap();
    f.fake
        .send_text(alice, alice, &"MYCODE-".repeat(600))
        .unwrap();
    assert_eq!(s.fetch(true, 1500).await, 0, "{:?}", s.inbox);

    // Nothing secret was logged: captions, secret texts, typed codes, page URLs.
    let logs = captured.text();
    assert!(
        logs.contains("sendPhoto"),
        "the capture sees the pool's logs"
    );
    assert_eq!(
        logs.matches("message with an unusable button dropped")
            .count(),
        3
    );
    assert!(logs.contains("deleteMessage"));
    for secret in [
        "CAPTIONSECRET",
        "RC-SECRET",
        "MYCODE",
        "URLSECRET",
        "approve-token",
    ] {
        assert!(!logs.contains(secret), "{secret} logged");
    }
}
