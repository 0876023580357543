//! Fidelity: an independent client library (teloxide 0.17, which is strict
//! about response shapes and error texts) drives the fake over HTTPS,
//! trusting only the fake's test CA.

use custos_telegram_fake::{Config, FakeTelegram, Fault, RateLimits, User};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use teloxide::prelude::*;
use teloxide::types::{
    InlineKeyboardButton, InlineKeyboardMarkup, InputFile, MessageEntityKind, MessageId, ParseMode,
    UpdateKind,
};
use teloxide::{ApiError, RequestError};

/// Webhook deliveries: (secret token header, body).
type Received = Arc<Mutex<Vec<(Option<String>, Vec<u8>)>>>;

fn client(fake: &FakeTelegram) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(fake.ca_pem().as_bytes()).expect("CA PEM");
    teloxide::net::default_reqwest_settings()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

fn bot(fake: &FakeTelegram) -> Bot {
    Bot::with_client(fake.token(), client(fake))
        .set_api_url(reqwest::Url::parse(&fake.base_url()).expect("url"))
}

async fn start(rate_limits: RateLimits) -> FakeTelegram {
    FakeTelegram::start(Config {
        rate_limits,
        ..Config::default()
    })
    .await
    .expect("start fake")
}

/// A user who has started the bot (their /start already confirmed).
async fn started_user(fake: &FakeTelegram, bot: &Bot, name: &str) -> User {
    let user = fake.add_user_named(name).expect("user");
    fake.send_text(user.id, user.id, "/start link-token-1")
        .expect("send");
    let updates = bot.get_updates().await.expect("getUpdates");
    let last = updates.last().expect("an update");
    let UpdateKind::Message(m) = &last.kind else {
        panic!("not a message: {last:?}")
    };
    assert_eq!(m.text(), Some("/start link-token-1"));
    assert_eq!(m.from.as_ref().map(|u| u.id.0), Some(user.id as u64));
    assert!(m
        .entities()
        .is_some_and(|e| e[0].kind == MessageEntityKind::BotCommand && e[0].length == 6));
    // Confirm.
    let next = bot
        .get_updates()
        .offset(last.id.0 as i32 + 1)
        .await
        .expect("confirm");
    assert!(next.is_empty());
    user
}

fn keyboard(approve: &str, reject: &str) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[
        InlineKeyboardButton::callback("Approve", approve),
        InlineKeyboardButton::callback("Reject", reject),
    ]])
}

#[tokio::test]
async fn get_me_and_wrong_token() {
    let fake = start(RateLimits::default()).await;
    let me = bot(&fake).get_me().await.expect("getMe");
    assert_eq!(me.username(), "custos_test_bot");
    assert_eq!(me.id.0, 7012345678);
    assert!(me.is_bot);

    let wrong = Bot::with_client("7012345678:wrong", client(&fake))
        .set_api_url(reqwest::Url::parse(&fake.base_url()).expect("url"));
    match wrong.get_me().await {
        Err(RequestError::Api(ApiError::InvalidToken)) => {}
        other => panic!("{other:?}"),
    }
    let recorded = fake.requests();
    assert_eq!(recorded.len(), 2);
    assert!(recorded[0].authorized && !recorded[1].authorized);
    assert_eq!(recorded[1].status, Some(401));
}

#[tokio::test]
async fn message_keyboard_press_by_long_polling_answer_and_edit() {
    let fake = start(RateLimits::default()).await;
    let bot = bot(&fake);
    let alice = started_user(&fake, &bot, "Alice").await;
    let chat = ChatId(alice.id);

    let sent = bot
        .send_message(chat, "Send <b>1.5 SOL</b> to <code>9xQe…</code>?")
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard("c:approve:1", "c:reject:1"))
        .await
        .expect("sendMessage");
    assert_eq!(sent.text(), Some("Send 1.5 SOL to 9xQe…?"));
    let kinds: Vec<_> = sent
        .entities()
        .expect("entities")
        .iter()
        .map(|e| (e.kind.clone(), e.offset, e.length))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (MessageEntityKind::Bold, 5, 7),
            (MessageEntityKind::Code, 16, 5)
        ]
    );
    assert_eq!(sent.chat.id, chat);
    let markup = sent.reply_markup().expect("keyboard comes back");
    assert_eq!(markup.inline_keyboard[0].len(), 2);

    // The bot long-polls; the user presses Approve while it waits.
    let poller = {
        let bot = bot.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let ups = bot.get_updates().timeout(20).await;
            (ups, t.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let query_id = fake
        .press(alice.id, alice.id, sent.id.0 as i64, 0)
        .expect("press");
    let (ups, waited) = poller.await.expect("join");
    let ups = ups.expect("getUpdates");
    assert!(
        waited < Duration::from_secs(5),
        "long poll returned late: {waited:?}"
    );
    assert_eq!(ups.len(), 1);
    let UpdateKind::CallbackQuery(q) = &ups[0].kind else {
        panic!("{:?}", ups[0])
    };
    assert_eq!(q.id.0, query_id);
    assert_eq!(q.data.as_deref(), Some("c:approve:1"));
    assert_eq!(q.from.id.0, alice.id as u64);
    let m = q.message.as_ref().expect("message");
    assert_eq!(m.id(), sent.id);
    assert_eq!(m.chat().id, chat);

    bot.answer_callback_query(q.id.clone())
        .text("Approved")
        .await
        .expect("answerCallbackQuery");
    // A second answer is refused with Telegram's text.
    match bot.answer_callback_query(q.id.clone()).await {
        Err(RequestError::Api(e)) => assert!(
            e.to_string()
                .contains("query is too old and response timeout expired or query ID is invalid"),
            "{e:?}"
        ),
        other => panic!("{other:?}"),
    }
    let cq = fake.callback_queries();
    assert_eq!(
        cq[0].answer.as_ref().and_then(|a| a.text.as_deref()),
        Some("Approved")
    );

    // Edit to show the outcome; without reply_markup the keyboard goes away.
    let edited = bot
        .edit_message_text(chat, sent.id, "✅ Approved: 1.5 SOL")
        .await
        .expect("editMessageText");
    assert_eq!(edited.text(), Some("✅ Approved: 1.5 SOL"));
    assert!(edited.edit_date().is_some());
    assert!(edited.reply_markup().is_none());
    match bot
        .edit_message_text(chat, sent.id, "✅ Approved: 1.5 SOL")
        .await
    {
        Err(RequestError::Api(ApiError::MessageNotModified)) => {}
        other => panic!("{other:?}"),
    }
    match bot.edit_message_text(chat, MessageId(999), "x").await {
        Err(RequestError::Api(ApiError::MessageToEditNotFound)) => {}
        other => panic!("{other:?}"),
    }
    let shown = fake.last_bot_message(alice.id).expect("message");
    assert_eq!(shown.text.as_deref(), Some("✅ Approved: 1.5 SOL"));
    assert!(shown.buttons().is_empty());
    assert_eq!(shown.history.len(), 1);
    assert_eq!(
        shown.history[0].text.as_deref(),
        Some("Send 1.5 SOL to 9xQe…?")
    );

    // Confirming by a higher offset empties the queue.
    let next = bot
        .get_updates()
        .offset(ups[0].id.0 as i32 + 1)
        .await
        .expect("confirm");
    assert!(next.is_empty());
    assert_eq!(fake.pending_update_count(), 0);

    // Delete, then the user sees it deleted and deleting again fails.
    bot.delete_message(chat, sent.id)
        .await
        .expect("deleteMessage");
    match bot.delete_message(chat, sent.id).await {
        Err(RequestError::Api(ApiError::MessageToDeleteNotFound)) => {}
        other => panic!("{other:?}"),
    }
    assert!(fake.last_bot_message(alice.id).expect("m").deleted);
}

#[tokio::test]
async fn press_delivered_to_webhook_with_secret_token() {
    use http_body_util::BodyExt;
    let fake = start(RateLimits::default()).await;
    let bot = bot(&fake);
    let bob = started_user(&fake, &bot, "Bob").await;

    // A plain HTTP webhook receiver that records headers and bodies.
    let received: Received = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    {
        let received = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let received = received.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let received = received.clone();
                            async move {
                                let secret = req
                                    .headers()
                                    .get("x-telegram-bot-api-secret-token")
                                    .and_then(|v| v.to_str().ok())
                                    .map(str::to_string);
                                let body = req.into_body().collect().await?.to_bytes().to_vec();
                                received.lock().expect("lock").push((secret, body));
                                Ok::<_, hyper::Error>(hyper::Response::new(
                                    http_body_util::Full::new(bytes::Bytes::new()),
                                ))
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
    }

    let sent = bot
        .send_message(ChatId(bob.id), "Approve?")
        .reply_markup(keyboard("yes", "no"))
        .await
        .expect("send");
    bot.set_webhook(reqwest::Url::parse(&url).expect("url"))
        .secret_token("s3cr3t_T0ken-x".to_string())
        .await
        .expect("setWebhook");
    // getUpdates is refused while a webhook is set.
    match bot.get_updates().await {
        Err(RequestError::Api(e)) => assert!(
            e.to_string()
                .contains("can't use getUpdates method while webhook is active"),
            "{e:?}"
        ),
        other => panic!("{other:?}"),
    }
    let info = bot.get_webhook_info().await.expect("getWebhookInfo");
    assert_eq!(info.url.as_ref().map(|u| u.as_str()), Some(url.as_str()));

    fake.press(bob.id, bob.id, sent.id.0 as i64, 1)
        .expect("press");
    assert!(
        fake.wait_until(Duration::from_secs(5), |_| !received
            .lock()
            .expect("l")
            .is_empty())
            .await
    );
    let (secret, body) = received.lock().expect("l")[0].clone();
    assert_eq!(secret.as_deref(), Some("s3cr3t_T0ken-x"));
    let update: teloxide::types::Update = serde_json::from_slice(&body).expect("an Update");
    let UpdateKind::CallbackQuery(q) = update.kind else {
        panic!("not a callback")
    };
    assert_eq!(q.data.as_deref(), Some("no"));
    assert_eq!(q.from.id.0, bob.id as u64);
    assert!(
        fake.wait_until(Duration::from_secs(2), |f| f.pending_update_count() == 0)
            .await
    );
    let info = bot.get_webhook_info().await.expect("getWebhookInfo");
    assert_eq!(info.pending_update_count, 0);

    bot.delete_webhook().await.expect("deleteWebhook");
    assert!(bot.get_updates().await.expect("polling again").is_empty());
}

#[tokio::test]
async fn retry_after_as_teloxide_parses_it() {
    let fake = start(RateLimits::default()).await;
    let bot = bot(&fake);
    let carol = started_user(&fake, &bot, "Carol").await;
    let chat = ChatId(carol.id);

    // Injected 429.
    fake.fail_next("sendMessage", Fault::TooManyRequests { retry_after: 7 });
    match bot.send_message(chat, "hi").await {
        Err(RequestError::RetryAfter(s)) => assert_eq!(s.seconds(), 7),
        other => panic!("{other:?}"),
    }
    // The flood limit: a burst of 3 in one chat, then 429 with retry_after 1.
    for i in 0..3 {
        bot.send_message(chat, format!("m{i}"))
            .await
            .expect("burst");
    }
    match bot.send_message(chat, "one too many").await {
        Err(RequestError::RetryAfter(s)) => assert_eq!(s.seconds(), 1),
        other => panic!("{other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(1050)).await;
    bot.send_message(chat, "after waiting")
        .await
        .expect("allowed again");
    let stats = fake.send_stats(Duration::from_secs(1));
    assert_eq!(stats.total, 4);
    assert_eq!(stats.max_per_chat_in_window, 3);
    assert_eq!(stats.rejected_429, 1);
    let last_429 = fake
        .requests_for("sendMessage")
        .into_iter()
        .rfind(|r| r.status == Some(429))
        .expect("recorded");
    assert_eq!(
        last_429.response.expect("body"),
        serde_json::json!({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}})
    );
}

#[tokio::test]
async fn html_and_button_errors_as_teloxide_parses_them() {
    let fake = start(RateLimits::disabled()).await;
    let bot = bot(&fake);
    let dan = started_user(&fake, &bot, "Dan").await;
    let chat = ChatId(dan.id);
    match bot
        .send_message(chat, "<blink>1 SOL</blink>")
        .parse_mode(ParseMode::Html)
        .await
    {
        Err(RequestError::Api(ApiError::CantParseEntities(s))) => assert_eq!(
            s,
            "Bad Request: can't parse entities: Unsupported start tag \"blink\" at byte offset 0"
        ),
        other => panic!("{other:?}"),
    }
    match bot
        .send_message(chat, "<b>unclosed")
        .parse_mode(ParseMode::Html)
        .await
    {
        Err(RequestError::Api(ApiError::CantParseEntities(s))) => {
            assert!(s.contains("Can't find end tag corresponding to start tag \"b\""))
        }
        other => panic!("{other:?}"),
    }
    let long = "x".repeat(65);
    match bot
        .send_message(chat, "too long data")
        .reply_markup(keyboard(&long, "ok"))
        .await
    {
        Err(RequestError::Api(ApiError::ButtonDataInvalid)) => {}
        other => panic!("{other:?}"),
    }
    let ok64 = "y".repeat(64);
    bot.send_message(chat, "64 bytes is fine")
        .reply_markup(keyboard(&ok64, "ok"))
        .await
        .expect("64 bytes");
    match bot.send_message(chat, "").await {
        Err(RequestError::Api(ApiError::MessageTextIsEmpty)) => {}
        other => panic!("{other:?}"),
    }
    // A user who never wrote to the bot cannot be messaged.
    let eve = fake.add_user_named("Eve").expect("eve");
    match bot.send_message(ChatId(eve.id), "hello").await {
        Err(RequestError::Api(ApiError::CantInitiateConversation)) | Err(RequestError::Api(_)) => {}
        other => panic!("{other:?}"),
    }
    fake.set_blocked(dan.id, true).expect("block");
    match bot.send_message(chat, "hello").await {
        Err(RequestError::Api(ApiError::BotBlocked)) => {}
        other => panic!("{other:?}"),
    }
    match bot.send_message(ChatId(42), "nobody").await {
        Err(RequestError::Api(ApiError::ChatNotFound)) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn concurrent_get_updates_terminates_the_older_one() {
    let fake = start(RateLimits::default()).await;
    let bot = bot(&fake);
    let first = {
        let bot = bot.clone();
        tokio::spawn(async move { bot.get_updates().timeout(20).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = {
        let bot = bot.clone();
        tokio::spawn(async move { bot.get_updates().timeout(1).await })
    };
    match first.await.expect("join") {
        Err(RequestError::Api(ApiError::TerminatedByOtherGetUpdates)) => {}
        other => panic!("{other:?}"),
    }
    assert!(second.await.expect("join").expect("second poll").is_empty());
}

#[tokio::test]
async fn send_photo_multipart_upload_is_recorded() {
    let fake = start(RateLimits::default()).await;
    let bot = bot(&fake);
    let frank = started_user(&fake, &bot, "Frank").await;
    // A 2x3 PNG header is enough for the fake to read the size.
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    png.extend_from_slice(&2u32.to_be_bytes());
    png.extend_from_slice(&3u32.to_be_bytes());
    png.extend_from_slice(&[8, 6, 0, 0, 0, 1, 2, 3, 4]);
    let msg = bot
        .send_photo(
            ChatId(frank.id),
            InputFile::memory(png.clone()).file_name("qr.png"),
        )
        .caption("Scan <b>this</b>")
        .parse_mode(ParseMode::Html)
        .await
        .expect("sendPhoto");
    let photo = msg.photo().expect("photo");
    assert_eq!((photo[0].width, photo[0].height), (2, 3));
    assert_eq!(msg.caption(), Some("Scan this"));
    let req = fake.requests_for("sendPhoto").pop().expect("recorded");
    assert!(req
        .content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("multipart/form-data")));
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&req.files[0].data_base64)
        .expect("b64");
    assert_eq!(bytes, png);
    assert_eq!(req.files[0].file_name.as_deref(), Some("qr.png"));
    let shown = fake.last_bot_message(frank.id).expect("m");
    assert_eq!(shown.photo.expect("photo").size, png.len());
}
