//! The Telegram client, outbox and poller against the fake Bot API server.

use custos_pool::telegram::types::{
    AnswerCallbackQuery, DeleteMessage, EditMessageText, InlineKeyboard, SendMessage, Update,
};
use custos_pool::telegram::{
    BotToken, ClientConfig, Delivered, Delivery, FailureKind, FileOffsetStore, LimitsConfig,
    MemoryOffsetStore, OffsetStore, Outbox, OutboxConfig, Outgoing, Poller, PollerConfig,
    PollerError, RateLimiter, SinkClosed, SubmitError, TelegramClient, TelegramError, UpdateSink,
};
use custos_telegram_fake::{Config, FakeTelegram, Fault, RateLimits};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;

struct Setup {
    fake: FakeTelegram,
    dir: TempDir,
}

impl Setup {
    async fn new(rate_limits: RateLimits) -> Self {
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

    fn config(&self) -> ClientConfig {
        ClientConfig {
            base_url: self.fake.base_url(),
            extra_ca: Some(self.dir.path().join("ca.pem")),
            request_timeout: Duration::from_secs(3),
            long_poll_margin: Duration::from_secs(3),
            ..ClientConfig::default()
        }
    }

    fn client_with(&self, config: ClientConfig) -> Arc<TelegramClient> {
        let token = BotToken::new(self.fake.token().to_string()).unwrap();
        Arc::new(TelegramClient::new(token, config).unwrap())
    }

    fn client(&self) -> Arc<TelegramClient> {
        self.client_with(self.config())
    }

    /// A user who has written to the bot (so the bot may write to them).
    fn user(&self, name: &str) -> i64 {
        let u = self.fake.add_user_named(name).unwrap();
        self.fake.send_text(u.id, u.id, "/start").unwrap();
        u.id
    }

    fn bot_texts(&self, chat: i64) -> Vec<String> {
        self.fake
            .messages(chat)
            .unwrap()
            .into_iter()
            .filter(|m| m.from_bot)
            .map(|m| m.text.unwrap_or_default())
            .collect()
    }
}

fn fast_limits() -> LimitsConfig {
    LimitsConfig {
        global_per_sec: 1000.0,
        global_burst: 100,
        per_chat_per_sec: 1000.0,
        per_chat_burst: 100,
        max_idle_chats: 100,
    }
}

fn fast_outbox() -> OutboxConfig {
    OutboxConfig {
        backoff_initial: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        ..OutboxConfig::default()
    }
}

fn outbox(client: &Arc<TelegramClient>, limits: LimitsConfig, config: OutboxConfig) -> Outbox {
    Outbox::new(client.clone(), Arc::new(RateLimiter::new(limits)), config).unwrap()
}

fn poll_config() -> PollerConfig {
    PollerConfig {
        timeout_secs: 1,
        backoff_initial: Duration::from_millis(20),
        ..PollerConfig::default()
    }
}

/// Records accepted updates; refuses once it holds `refuse_at` of them.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Update>>>,
    refuse_at: Option<usize>,
}

impl Recorder {
    fn ids(&self) -> Vec<i64> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|u| u.update_id)
            .collect()
    }
    fn len(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl UpdateSink for Recorder {
    async fn accept(&mut self, update: Update) -> Result<(), SinkClosed> {
        let mut seen = self.seen.lock().unwrap();
        if self.refuse_at.is_some_and(|n| seen.len() >= n) {
            return Err(SinkClosed);
        }
        seen.push(update);
        Ok(())
    }
}

async fn wait_for(mut pred: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if pred() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 10 s");
}

#[tokio::test]
async fn a_keyboard_message_and_its_press_come_back_through_get_updates() {
    let s = Setup::new(RateLimits::default()).await;
    let client = s.client();
    let me = client.get_me().await.unwrap();
    assert!(me.is_bot);
    assert_eq!(me.id, s.fake.bot().id);
    let alice = s.user("Alice");

    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let poller = Poller::new(client.clone(), MemoryOffsetStore::default(), poll_config());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let polling = tokio::spawn(async move {
        let mut tx = tx;
        poller
            .run(&mut tx, async {
                let _ = stopped.await;
            })
            .await
    });
    let start = rx.recv().await.unwrap();
    assert_eq!(start.message.unwrap().text.as_deref(), Some("/start"));

    let out = outbox(&client, LimitsConfig::default(), fast_outbox());
    let keyboard = InlineKeyboard::row([
        ("Approve".to_string(), "tok-approve".to_string()),
        ("Reject".to_string(), "tok-reject".to_string()),
    ]);
    let sent = out
        .submit(Outgoing::Send(SendMessage::html(
            alice,
            "<b>Withdraw</b> 1 SOL?",
            Some(keyboard.clone()),
        )))
        .unwrap()
        .outcome()
        .await;
    let Delivery::Delivered(Delivered::Message(msg)) = sent else {
        panic!("{sent:?}")
    };
    assert_eq!(msg.chat.id, alice);
    let shown = s.fake.last_bot_message(alice).unwrap();
    assert_eq!(shown.text.as_deref(), Some("Withdraw 1 SOL?"));
    assert_eq!(
        shown.buttons()[1].callback_data.as_deref(),
        Some("tok-reject")
    );

    s.fake.press(alice, alice, msg.message_id, 0).unwrap();
    let press = rx.recv().await.unwrap();
    let q = press.callback_query.unwrap();
    assert_eq!(q.data.as_deref(), Some("tok-approve"));
    assert_eq!(q.from.id, alice);
    assert_eq!(q.message.as_ref().unwrap().message_id, msg.message_id);
    assert!(client
        .answer_callback_query(&AnswerCallbackQuery {
            callback_query_id: q.id.clone(),
            text: Some("Approved".into()),
            show_alert: false,
        })
        .await
        .unwrap());
    assert_eq!(
        s.fake.callback_queries()[0]
            .answer
            .as_ref()
            .unwrap()
            .text
            .as_deref(),
        Some("Approved")
    );

    // The outcome replaces the text and removes the keyboard.
    let edited = out
        .submit(Outgoing::Edit(EditMessageText::html(
            alice,
            msg.message_id,
            "Approved ✅",
            None,
        )))
        .unwrap()
        .outcome()
        .await;
    assert!(
        matches!(edited, Delivery::Delivered(Delivered::Message(_))),
        "{edited:?}"
    );
    let shown = s.fake.last_bot_message(alice).unwrap();
    assert_eq!(shown.text.as_deref(), Some("Approved ✅"));
    assert!(shown.buttons().is_empty());

    let gone = out
        .submit(Outgoing::Delete(DeleteMessage {
            chat_id: alice,
            message_id: msg.message_id,
        }))
        .unwrap()
        .outcome()
        .await;
    assert_eq!(gone, Delivery::Delivered(Delivered::Deleted));
    assert!(s.fake.last_bot_message(alice).unwrap().deleted);

    // A refusal is reported as such, not retried.
    let refused = out
        .submit(Outgoing::Send(SendMessage::html(999_999, "x", None)))
        .unwrap()
        .outcome()
        .await;
    match refused {
        Delivery::Refused(e @ TelegramError::Api { code: 400, .. }) => {
            assert_eq!(e.kind(), FailureKind::Refused)
        }
        other => panic!("{other:?}"),
    }
    stop.send(()).unwrap();
    polling.await.unwrap().unwrap();
}

#[tokio::test]
async fn offsets_survive_a_restart_without_losing_or_repeating_updates() {
    let s = Setup::new(RateLimits::default()).await;
    let client = s.client();
    let offset_file = s.dir.path().join("offset");
    let u = s.fake.add_user_named("Bob").unwrap();
    for i in 0..3 {
        s.fake.send_text(u.id, u.id, &format!("m{i}")).unwrap();
    }

    // The consumer takes two updates and then refuses (it is shutting down):
    // the poller stops without acknowledging the third.
    let first = Recorder {
        refuse_at: Some(2),
        ..Recorder::default()
    };
    let poller = Poller::new(
        client.clone(),
        FileOffsetStore::new(&offset_file),
        poll_config(),
    );
    let r = poller.run(&mut first.clone(), std::future::pending()).await;
    assert!(matches!(r, Err(PollerError::SinkClosed(_))), "{r:?}");
    let first_ids = first.ids();
    assert_eq!(first_ids.len(), 2);
    let stored = FileOffsetStore::new(&offset_file).load().unwrap();
    assert_eq!(stored, Some(first_ids[1] + 1));

    // Two more arrive while nobody polls; a new poller (new store object, same
    // file) resumes. It is stopped by a shutdown in the middle of a long poll.
    for i in 3..5 {
        s.fake.send_text(u.id, u.id, &format!("m{i}")).unwrap();
    }
    let second = Recorder::default();
    let poller = Poller::new(
        client.clone(),
        FileOffsetStore::new(&offset_file),
        poll_config(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut sink = second.clone();
    let task = tokio::spawn(async move {
        poller
            .run(&mut sink, async {
                let _ = stopped.await;
            })
            .await
    });
    wait_for(|| second.len() == 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();

    // And a third run sees only what came after.
    s.fake.send_text(u.id, u.id, "m5").unwrap();
    let third = Recorder::default();
    let poller = Poller::new(
        client.clone(),
        FileOffsetStore::new(&offset_file),
        poll_config(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut sink = third.clone();
    let task = tokio::spawn(async move {
        poller
            .run(&mut sink, async {
                let _ = stopped.await;
            })
            .await
    });
    wait_for(|| third.len() == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();

    let mut all = first_ids;
    all.extend(second.ids());
    all.extend(third.ids());
    let texts: Vec<String> = [&first, &second, &third]
        .iter()
        .flat_map(|r| r.seen.lock().unwrap().clone())
        .map(|u| u.message.unwrap().text.unwrap())
        .collect();
    assert_eq!(texts, ["m0", "m1", "m2", "m3", "m4", "m5"]);
    assert!(all.windows(2).all(|w| w[1] == w[0] + 1), "{all:?}");
    assert_eq!(
        FileOffsetStore::new(&offset_file).load().unwrap(),
        Some(all[5] + 1)
    );
}

#[tokio::test]
async fn bursts_of_429_and_5xx_still_deliver_each_message_once_in_order() {
    let s = Setup::new(RateLimits::disabled()).await;
    let client = s.client();
    let chats = [s.user("A"), s.user("B"), s.user("C")];
    s.fake
        .fail_next_n("sendMessage", Fault::TooManyRequests { retry_after: 1 }, 3);
    s.fake
        .fail_next_n("sendMessage", Fault::ServerError { status: 502 }, 4);
    s.fake.fail_next_n(
        "sendMessage",
        Fault::Error {
            status: 500,
            description: "Internal Server Error".into(),
        },
        2,
    );
    s.fake
        .fail_next_n("sendMessage", Fault::TooManyRequests { retry_after: 1 }, 2);
    let out = outbox(&client, fast_limits(), fast_outbox());
    let mut pending = Vec::new();
    for i in 0..6 {
        for (c, chat) in chats.iter().enumerate() {
            let text = format!("chat{c} msg{i}");
            pending.push(
                out.submit(Outgoing::Send(SendMessage::html(*chat, text, None)))
                    .unwrap(),
            );
        }
    }
    for p in pending {
        let d = p.outcome().await;
        assert!(matches!(d, Delivery::Delivered(_)), "{d:?}");
    }
    for (c, chat) in chats.iter().enumerate() {
        let want: Vec<String> = (0..6).map(|i| format!("chat{c} msg{i}")).collect();
        assert_eq!(s.bot_texts(*chat), want);
    }
    let faulted = s
        .fake
        .requests_for("sendMessage")
        .iter()
        .filter(|r| r.fault.is_some())
        .count();
    assert_eq!(faulted, 11);
    assert!(out.is_empty());
    // retry_after was honoured, for every chat: after each 429 (once the calls
    // already in flight came back) nothing was sent until a second had passed.
    let requests = s.fake.requests_for("sendMessage");
    let limited: Vec<u64> = requests
        .iter()
        .filter(|r| matches!(r.fault, Some(Fault::TooManyRequests { .. })))
        .map(|r| r.at_ms)
        .collect();
    assert_eq!(limited.len(), 5);
    for t in limited {
        let early: Vec<u64> = requests
            .iter()
            .map(|r| r.at_ms)
            .filter(|&at| at > t + 150 && at < t + 950)
            .collect();
        assert!(early.is_empty(), "sent during a pause after {t}: {early:?}");
    }
}

#[tokio::test]
async fn ambiguous_failures_are_reported_uncertain_and_not_resent() {
    let s = Setup::new(RateLimits::disabled()).await;
    let client = s.client_with(ClientConfig {
        request_timeout: Duration::from_millis(400),
        ..s.config()
    });
    let chat = s.user("D");
    let out = outbox(&client, fast_limits(), fast_outbox());

    // The answer comes after the client gave up; the message was sent anyway.
    s.fake.fail_next("sendMessage", Fault::Hang { ms: 1200 });
    let d = out
        .submit(Outgoing::Send(SendMessage::html(chat, "one", None)))
        .unwrap()
        .outcome()
        .await;
    match &d {
        Delivery::Uncertain {
            attempts: 1,
            error: e @ TelegramError::Timeout(_),
        } => assert_eq!(e.kind(), FailureKind::Ambiguous),
        other => panic!("{other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(s.bot_texts(chat), ["one"]);
    assert_eq!(s.fake.requests_for("sendMessage").len(), 1);

    // With 5xx answers treated as uncertain, a call applied before its 5xx is
    // not duplicated either.
    let careful = outbox(
        &client,
        fast_limits(),
        OutboxConfig {
            retry_server_errors: false,
            ..fast_outbox()
        },
    );
    s.fake.fail_next(
        "sendMessage",
        Fault::ServerErrorAfterApplying { status: 500 },
    );
    let d = careful
        .submit(Outgoing::Send(SendMessage::html(chat, "two", None)))
        .unwrap()
        .outcome()
        .await;
    assert!(
        matches!(
            d,
            Delivery::Uncertain {
                attempts: 1,
                error: TelegramError::Api { code: 500, .. }
            }
        ),
        "{d:?}"
    );
    assert_eq!(s.bot_texts(chat), ["one", "two"]);
    assert_eq!(s.fake.requests_for("sendMessage").len(), 2);
}

#[tokio::test]
async fn refused_connections_are_retried_then_given_up_as_not_sent() {
    let s = Setup::new(RateLimits::disabled()).await;
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = s.client_with(ClientConfig {
        base_url: format!("https://127.0.0.1:{port}"),
        ..s.config()
    });
    let out = outbox(
        &client,
        fast_limits(),
        OutboxConfig {
            max_attempts: 3,
            ..fast_outbox()
        },
    );
    let d = out
        .submit(Outgoing::Send(SendMessage::html(1, "x", None)))
        .unwrap()
        .outcome()
        .await;
    match d {
        Delivery::NotSent {
            attempts: 3,
            last_error: e @ TelegramError::Connect(_),
        } => assert_eq!(e.kind(), FailureKind::NotSent),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_measured_send_rate_stays_within_the_configured_limits() {
    // The fake enforces looser limits than ours, so any 429 would mean we
    // overshot; its measurements are checked against ours.
    let s = Setup::new(RateLimits {
        enabled: true,
        global_per_sec: 70.0,
        global_burst: 10,
        per_chat_per_sec: 30.0,
        per_chat_burst: 4,
        count_edits: false,
    })
    .await;
    let client = s.client();
    let limits = LimitsConfig {
        global_per_sec: 50.0,
        global_burst: 5,
        per_chat_per_sec: 20.0,
        per_chat_burst: 2,
        max_idle_chats: 8,
    };
    let chats: Vec<i64> = (0..21).map(|i| s.user(&format!("U{i}"))).collect();
    let out = outbox(&client, limits.clone(), fast_outbox());
    let mut pending = Vec::new();
    for i in 0..10 {
        for chat in &chats[..20] {
            pending.push(
                out.submit(Outgoing::Send(SendMessage::html(
                    *chat,
                    format!("m{i}"),
                    None,
                )))
                .unwrap(),
            );
        }
    }
    for i in 0..100 {
        pending.push(
            out.submit(Outgoing::Send(SendMessage::html(
                chats[20],
                format!("m{i}"),
                None,
            )))
            .unwrap(),
        );
    }
    for p in pending {
        let d = p.outcome().await;
        assert!(matches!(d, Delivery::Delivered(_)), "{d:?}");
    }
    let stats = s.fake.send_stats(Duration::from_secs(1));
    eprintln!("send stats: {stats:?}");
    assert_eq!(stats.total, 300);
    assert_eq!(stats.rejected_429, 0, "{stats:?}");
    // A token bucket lets through at most burst + rate x window in any window
    // (two more allowed for network jitter: the fake timestamps arrivals, our
    // limiter departures).
    let global_max = limits.global_burst as usize + limits.global_per_sec as usize + 2;
    let chat_max = limits.per_chat_burst as usize + limits.per_chat_per_sec as usize + 2;
    assert!(stats.max_global_in_window <= global_max, "{stats:?}");
    assert!(stats.max_per_chat_in_window <= chat_max, "{stats:?}");
    // The limits were actually reached (the test measures something).
    assert!(stats.max_global_in_window >= 40, "{stats:?}");
    for chat in &chats[..20] {
        let want: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
        assert_eq!(s.bot_texts(*chat), want);
    }
    let want: Vec<String> = (0..100).map(|i| format!("m{i}")).collect();
    assert_eq!(s.bot_texts(chats[20]), want);
}

#[tokio::test]
async fn a_full_queue_is_refused_cleanly() {
    let s = Setup::new(RateLimits::disabled()).await;
    let client = s.client();
    let chat = s.user("E");
    let slow = LimitsConfig {
        per_chat_per_sec: 0.001,
        per_chat_burst: 1,
        ..fast_limits()
    };
    let out = outbox(
        &client,
        slow,
        OutboxConfig {
            capacity: 3,
            ..fast_outbox()
        },
    );
    let first = out
        .submit(Outgoing::Send(SendMessage::html(chat, "1", None)))
        .unwrap();
    let _queued: Vec<_> = (2..=3)
        .map(|i| {
            out.submit(Outgoing::Send(SendMessage::html(chat, i.to_string(), None)))
                .unwrap()
        })
        .collect();
    let err = out
        .submit(Outgoing::Send(SendMessage::html(chat, "4", None)))
        .unwrap_err();
    assert_eq!(err, SubmitError::Full { capacity: 3 });
    assert_eq!(
        err.to_string(),
        "outbound Telegram queue is full (3 messages)"
    );
    assert!(matches!(first.outcome().await, Delivery::Delivered(_)));
    // The delivered message freed its slot.
    let fourth = out.submit(Outgoing::Send(SendMessage::html(chat, "4", None)));
    assert!(fourth.is_ok());
    out.close();
    assert_eq!(
        out.submit(Outgoing::Send(SendMessage::html(chat, "5", None)))
            .unwrap_err(),
        SubmitError::Closed
    );
    assert_eq!(s.bot_texts(chat), ["1"]);
}

/// Collects everything logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_appears_in_no_error_and_no_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let s = Setup::new(RateLimits::disabled()).await;
    let token = s.fake.token().to_string();
    let secret = token.split_once(':').unwrap().1.to_string();
    let chat = s.user("F");
    let mut texts = Vec::new();

    let client = s.client_with(ClientConfig {
        request_timeout: Duration::from_millis(300),
        ..s.config()
    });
    texts.push(format!("{client:?}"));
    texts.push(format!("{:?}", BotToken::new(token.clone()).unwrap()));
    let out = outbox(
        &client,
        fast_limits(),
        OutboxConfig {
            max_attempts: 2,
            ..fast_outbox()
        },
    );
    // Timeout, 429, 5xx, refusal, and a successful send, through the outbox (which logs).
    s.fake.fail_next("sendMessage", Fault::Hang { ms: 600 });
    s.fake
        .fail_next_n("sendMessage", Fault::ServerError { status: 502 }, 2);
    for text in ["a", "b"] {
        let d = out
            .submit(Outgoing::Send(SendMessage::html(chat, text, None)))
            .unwrap()
            .outcome()
            .await;
        texts.push(format!("{d:?}"));
        if let Delivery::Uncertain { error, .. }
        | Delivery::NotSent {
            last_error: error, ..
        } = &d
        {
            texts.push(error.to_string());
        }
    }
    let refused = out
        .submit(Outgoing::Send(SendMessage::html(42, "c", None)))
        .unwrap()
        .outcome()
        .await;
    texts.push(format!("{refused:?}"));

    // A wrong token (401), a TLS failure (no extra CA), a refused connection.
    let wrong = BotToken::new(format!("{}x", token)).unwrap();
    let wrong_client = TelegramClient::new(wrong, s.config()).unwrap();
    let e = wrong_client.get_me().await.unwrap_err();
    assert!(matches!(e, TelegramError::Api { code: 401, .. }), "{e:?}");
    texts.push(format!("{e} {e:?}"));
    let untrusted = s.client_with(ClientConfig {
        extra_ca: None,
        ..s.config()
    });
    let e = untrusted.get_me().await.unwrap_err();
    assert_eq!(e.kind(), FailureKind::NotSent, "{e:?}");
    texts.push(format!("{e} {e:?}"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = s.client_with(ClientConfig {
        base_url: format!("https://127.0.0.1:{port}"),
        ..s.config()
    });
    let e = nowhere.get_me().await.unwrap_err();
    texts.push(format!("{e} {e:?}"));
    // The poller's logs, including a failed poll.
    s.fake
        .fail_next("getUpdates", Fault::ServerError { status: 502 });
    let poller = Poller::new(client.clone(), MemoryOffsetStore::default(), poll_config());
    let rec = Recorder::default();
    let mut sink = rec.clone();
    let stop = async {
        wait_for(|| rec.len() >= 1).await;
    };
    poller.run(&mut sink, stop).await.unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("telegram"), "nothing captured: {logs}");
    assert!(logs.contains("127.0.0.1"), "{logs}");
    assert!(logs.contains("uncertain"), "{logs}");
    for text in texts.iter().chain([&logs]) {
        assert!(!text.contains(&secret), "token leaked: {text}");
        assert!(
            !text.contains(&format!("bot{}", token.split(':').next().unwrap())),
            "{text}"
        );
    }
}
