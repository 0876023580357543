//! The Telegram confirmation flow through real processes: `custos serve` (signer,
//! bridge, pool) against the fake Bot API server over HTTPS, the CLI as the bot
//! backend, the fake's users as the people pressing buttons, and litesvm as the
//! judge of what was signed.

mod common;

use common::flow::{foreign, wait, Flow};
use common::{b58, b64, transfer_tx, unb64, Svm};
use custos_telegram_fake::{ChatMessage, Config, Fault, RateLimits};
use serde_json::Value;
use std::time::{Duration, Instant};

#[test]
fn approve_signs_a_transaction_litesvm_accepts_and_the_message_shows_the_outcome() {
    let flow = Flow::start(&[]);
    let (wallet, alice) = flow.linked_user("alice", "Alice");
    let mut svm = Svm::start();
    svm.airdrop(&wallet, 10_000_000_000);
    let dest = foreign();
    let tx = transfer_tx(&b58(&wallet), &dest, 1_500_000_000, &svm.blockhash());

    let pending = flow.sign(&wallet, &tx);
    assert_eq!(pending["status"], "pending", "{pending}");
    let id = pending["confirmation_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    // Nothing is decided yet.
    let (code, v) = flow.await_decision(&id, 0);
    assert_eq!((code, v["status"].as_str()), (5, Some("pending")), "{v}");

    // The user reads what the transaction does, from Custos, in full.
    let m = flow.confirmation(alice, 0);
    let text = m.text.clone().unwrap();
    assert!(text.contains("1.5 SOL"), "{text}");
    assert!(text.contains(&bs58::encode(dest).into_string()), "{text}");
    assert!(text.contains(&wallet), "{text}");
    // The buttons carry opaque single-use tokens, nothing the backend chose.
    for b in m.buttons() {
        let data = b.callback_data.clone().unwrap();
        assert!(!data.contains(&id) && data.len() <= 64, "{data}");
    }

    let q = flow.press(alice, &m, "Approve");
    let (code, v) = flow.await_decision(&id, 30);
    assert_eq!((code, v["status"].as_str()), (0, Some("approved")), "{v}");
    let signed = unb64(v["transaction"].as_str().unwrap());
    let sent = svm.send(&b64(&signed));
    assert_eq!(
        sent["ok"], true,
        "litesvm refused the approved transaction: {sent}"
    );
    assert_eq!(
        svm.balance(&bs58::encode(dest).into_string()),
        1_500_000_000
    );

    // The press was answered, the message edited to show the outcome, buttons gone.
    let (_, alert) = flow.answer(&q);
    assert!(!alert);
    wait("the edit", Duration::from_secs(10), || {
        flow.message(alice, m.message_id).buttons().is_empty()
    });
    let edited = flow
        .message(alice, m.message_id)
        .text
        .unwrap()
        .to_lowercase();
    assert!(edited.contains("approved"), "{edited}");
    // Asking again gives the same answer.
    let (code, again) = flow.await_decision(&id, 0);
    assert_eq!((code, &again), (0, &v));
}

#[test]
fn reject_and_expiry_are_refusals_and_nothing_is_signed() {
    let flow = Flow::start(&["--confirm-expiry", "10"]);
    let (wallet, bob) = flow.linked_user("bob", "Bob");
    let tx = transfer_tx(&b58(&wallet), &foreign(), 2_000_000_000, &[9; 32]);

    let first = flow.sign(&wallet, &tx);
    let id = first["confirmation_id"].as_str().unwrap().to_owned();
    let m = flow.confirmation(bob, 0);
    flow.press(bob, &m, "Reject");
    let (code, v) = flow.await_decision(&id, 30);
    assert_eq!((code, v["status"].as_str()), (4, Some("rejected")), "{v}");
    assert!(v.get("transaction").is_none(), "{v}");
    wait("the edit", Duration::from_secs(10), || {
        let t = flow.message(bob, m.message_id);
        t.buttons().is_empty() && t.text.unwrap().to_lowercase().contains("rejected")
    });

    let second = flow.sign(
        &wallet,
        &transfer_tx(&b58(&wallet), &foreign(), 3, &[9; 32]),
    );
    let id2 = second["confirmation_id"].as_str().unwrap().to_owned();
    let m2 = flow.confirmation(bob, m.message_id);
    let (code, v) = flow.await_decision(&id2, 30);
    assert_eq!((code, v["status"].as_str()), (4, Some("expired")), "{v}");
    wait("the expiry edit", Duration::from_secs(10), || {
        let t = flow.message(bob, m2.message_id);
        t.buttons().is_empty() && t.text.unwrap().to_lowercase().contains("expired")
    });
    // A late press on the expired request is refused with an alert.
    let q = flow
        .fake
        .press_with_data(
            bob,
            bob,
            m2.message_id,
            &m2.buttons()[0].callback_data.clone().unwrap(),
        )
        .unwrap();
    let (text, alert) = flow.answer(&q);
    assert!(alert, "{text:?}");
    let (_, v) = flow.await_decision(&id2, 0);
    assert_eq!(v["status"], "expired");
}

#[test]
fn presses_by_others_replays_and_forged_data_are_ignored_with_an_alert() {
    let flow = Flow::start(&[]);
    let (wallet, carol) = flow.linked_user("carol", "Carol");
    let mallory = flow.fake.add_user_named("Mallory").unwrap().id;
    let tx = transfer_tx(&b58(&wallet), &foreign(), 5_000_000, &[1; 32]);
    let id = flow.sign(&wallet, &tx)["confirmation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = flow.confirmation(carol, 0);
    let approve = m
        .buttons()
        .into_iter()
        .find(|b| b.text.contains("Approve"))
        .unwrap()
        .callback_data
        .unwrap();

    // Another Telegram user pressing Carol's button (as a modified client could).
    let q = flow
        .fake
        .press_with_data(mallory, carol, m.message_id, &approve)
        .unwrap();
    let (text, alert) = flow.answer(&q);
    assert!(alert, "{text:?}");
    // Forged callback data on the right message, from the right user.
    for forged in [
        "",
        "approve",
        &"A".repeat(22),
        &"x".repeat(64),
        &approve[..21],
    ] {
        let q = flow
            .fake
            .press_with_data(carol, carol, m.message_id, forged)
            .unwrap();
        let (_, alert) = flow.answer(&q);
        assert!(alert, "forged {forged:?} was not refused with an alert");
    }
    let (code, v) = flow.await_decision(&id, 0);
    assert_eq!((code, v["status"].as_str()), (5, Some("pending")), "{v}");

    // The real press works, once; replaying it changes nothing.
    flow.press(carol, &m, "Approve");
    let (code, v) = flow.await_decision(&id, 30);
    assert_eq!((code, v["status"].as_str()), (0, Some("approved")));
    let q = flow
        .fake
        .press_with_data(carol, carol, m.message_id, &approve)
        .unwrap();
    let (_, alert) = flow.answer(&q);
    assert!(alert);
    let (_, again) = flow.await_decision(&id, 0);
    assert_eq!(again, v);
    let log = flow.server.log_text();
    assert!(log.contains("press"), "ignored presses are logged:\n{log}");
    assert!(!log.contains(&approve), "a button token reached the log");
    assert!(
        !log.contains(flow.fake.token()),
        "the bot token reached the log"
    );
}

#[test]
fn unlinked_users_cannot_be_asked_and_linked_users_cannot_be_relinked_by_the_backend() {
    let flow = Flow::start(&[]);
    let wallet = flow.server.create_wallet("dave");
    let v = flow.sign(
        &wallet,
        &transfer_tx(&b58(&wallet), &foreign(), 7, &[2; 32]),
    );
    assert_eq!(v["status"], "rejected", "{v}");
    assert!(v["reason"].as_str().unwrap().contains("linked"), "{v}");

    let dave = flow.fake.add_user_named("Dave").unwrap().id;
    flow.link("dave", dave);
    // The backend (or anyone holding the API) cannot move the binding elsewhere.
    let out = flow.server.cli(&["link", "create", "--user", "dave"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already linked"), "{err}");
    // A used or made-up /start payload links nobody.
    let eve = flow.fake.add_user_named("Eve").unwrap().id;
    flow.fake
        .send_text(eve, eve, "/start forged_payload_123")
        .unwrap();
    wait("the bot's answer to Eve", Duration::from_secs(20), || {
        flow.fake.last_bot_message(eve).is_some()
    });
    let v = flow
        .server
        .json(&["link", "show", "--user", "dave", "--format", "json"]);
    assert_eq!(v["telegram_id"], dave);
}

#[test]
fn telegram_429_and_5xx_bursts_deliver_every_confirmation_exactly_once() {
    let flow = Flow::start(&["--telegram-rate-per-chat", "5"]);
    let (wallet, erin) = flow.linked_user("erin", "Erin");
    flow.fake
        .fail_next_n("sendMessage", Fault::TooManyRequests { retry_after: 1 }, 3);
    flow.fake
        .fail_next_n("sendMessage", Fault::ServerError { status: 502 }, 3);
    let mut ids = Vec::new();
    for i in 0..6u64 {
        let tx = transfer_tx(&b58(&wallet), &foreign(), 1_000 + i, &[3; 32]);
        let v = flow.sign(&wallet, &tx);
        assert_eq!(v["status"], "pending", "{v}");
        ids.push(v["confirmation_id"].as_str().unwrap().to_owned());
    }
    wait("six confirmations", Duration::from_secs(60), || {
        flow.fake
            .messages(erin)
            .unwrap()
            .iter()
            .filter(|m| m.from_bot && !m.buttons().is_empty())
            .count()
            >= 6
    });
    std::thread::sleep(Duration::from_secs(2));
    let shown: Vec<ChatMessage> = flow
        .fake
        .messages(erin)
        .unwrap()
        .into_iter()
        .filter(|m| m.from_bot && !m.buttons().is_empty())
        .collect();
    assert_eq!(shown.len(), 6, "each confirmation exactly once");
    for m in &shown {
        flow.press(erin, m, "Approve");
    }
    for id in &ids {
        let (code, v) = flow.await_decision(id, 30);
        assert_eq!((code, v["status"].as_str()), (0, Some("approved")), "{v}");
    }
}

#[test]
fn a_restart_mid_flow_fails_closed() {
    let mut flow = Flow::start(&[]);
    let (wallet, frank) = flow.linked_user("frank", "Frank");
    let tx = transfer_tx(&b58(&wallet), &foreign(), 11, &[4; 32]);
    let id = flow.sign(&wallet, &tx)["confirmation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = flow.confirmation(frank, 0);
    flow.restart();
    // The pending confirmation did not survive; it is refused, never approved.
    let (code, v) = flow.await_decision(&id, 0);
    assert_eq!(code, 4, "{v}");
    assert!(
        v["reason"].as_str().unwrap_or_default().contains("restart"),
        "{v}"
    );
    let q = flow.press(frank, &m, "Approve");
    let (_, alert) = flow.answer(&q);
    assert!(alert);
    let (_, v) = flow.await_decision(&id, 0);
    assert_ne!(v["status"], "approved");
    // The binding survived (it is stored); a new request works.
    let id = flow.sign(&wallet, &tx)["confirmation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let m2 = flow.confirmation(frank, m.message_id);
    flow.press(frank, &m2, "Approve");
    let (_, v) = flow.await_decision(&id, 30);
    assert_eq!(v["status"], "approved", "{v}\n{}", flow.server.log_text());
}

#[test]
fn a_thousand_users_with_pending_confirmations_within_the_rate_limits() {
    const USERS: usize = 1000;
    let limits = RateLimits {
        global_per_sec: 400.0,
        global_burst: 400,
        ..RateLimits::default()
    };
    let flow = Flow::start_with(
        Config {
            rate_limits: limits,
            ..Config::default()
        },
        &[
            "--telegram-rate-global",
            "200",
            "--telegram-rate-per-chat",
            "1",
        ],
    );
    let dir = flow.dir.clone();
    let started = Instant::now();
    let (pubkeys, tgs): (Vec<String>, Vec<i64>) = flow.rt.block_on(async {
        use custos_api::v1::{CreateLinkRequest, CreateWalletRequest};
        let client = custos_api::client::connect(&dir).await.unwrap();
        let mut handles = Vec::new();
        for i in 0..USERS {
            let mut c = client.clone();
            handles.push(tokio::spawn(async move {
                let w = c
                    .create_wallet(CreateWalletRequest {
                        user_id: format!("u{i}"),
                        telegram_id: None,
                        idempotency_key: format!("k{i}"),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                let l = c
                    .create_link(CreateLinkRequest {
                        user_id: format!("u{i}"),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                (w.pubkey, l.url)
            }));
        }
        let mut pubkeys = Vec::new();
        let mut tgs = Vec::new();
        for h in handles {
            let (pk, url) = h.await.unwrap();
            let tg = flow.fake.add_user_named("User").unwrap().id;
            let payload = url.split_once("?start=").unwrap().1.to_owned();
            flow.fake
                .send_text(tg, tg, &format!("/start {payload}"))
                .unwrap();
            pubkeys.push(pk);
            tgs.push(tg);
        }
        (pubkeys, tgs)
    });
    wait("1,000 links", Duration::from_secs(120), || {
        (0..USERS).step_by(97).chain([USERS - 1]).all(|i| {
            flow.server.json(&[
                "link",
                "show",
                "--user",
                &format!("u{i}"),
                "--format",
                "json",
            ])["linked"]
                == true
        })
    });
    let ids: Vec<String> = flow.rt.block_on(async {
        use custos_api::v1::SignTransactionRequest;
        let client = custos_api::client::connect(&dir).await.unwrap();
        let mut handles = Vec::new();
        for pk in &pubkeys {
            let mut c = client.clone();
            let tx = transfer_tx(&b58(pk), &foreign(), 42, &[5; 32]);
            let pk = pk.clone();
            handles.push(tokio::spawn(async move {
                c.sign_transaction(SignTransactionRequest {
                    wallet: pk,
                    transaction: tx,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
            }));
        }
        let mut ids = Vec::new();
        for h in handles {
            let r = h.await.unwrap();
            assert_eq!(r.status, 2, "pending: {:?}", r.reasons);
            ids.push(r.confirmation_id);
        }
        ids
    });
    wait(
        "1,000 confirmation messages",
        Duration::from_secs(120),
        || {
            tgs.iter().all(|&tg| {
                flow.fake
                    .messages(tg)
                    .unwrap()
                    .iter()
                    .any(|m| m.from_bot && !m.buttons().is_empty())
            })
        },
    );
    let elapsed = started.elapsed();
    // Every one is still pending and held without error.
    for id in ids.iter().step_by(50) {
        assert_eq!(flow.await_decision(id, 0).1["status"], "pending");
    }
    let stats = flow.fake.send_stats(Duration::from_secs(1));
    // Configured: 200/s overall, 1/s per chat. No one-second window at the server may
    // hold more than that.
    println!(
        "1,000 users: {} messages in {:.1} s; most in any 1 s: {} (limit 200), per chat: {} (limit 1)",
        stats.total,
        elapsed.as_secs_f64(),
        stats.max_global_in_window,
        stats.max_per_chat_in_window
    );
    assert!(stats.total >= 2 * USERS, "{}", stats.total);
    assert!(stats.max_global_in_window <= 200, "{stats:?}");
    assert!(stats.max_per_chat_in_window <= 1, "{stats:?}");
    assert_eq!(stats.rejected_429, 0);
    // And they can still be decided.
    let m = flow.confirmation(tgs[7], 0);
    flow.press(tgs[7], &m, "Approve");
    assert_eq!(flow.await_decision(&ids[7], 30).1["status"], "approved");
}

#[test]
fn the_demo_walks_a_withdrawal_to_a_signed_transaction() {
    let out = std::process::Command::new(common::CUSTOS)
        .arg("demo")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "PENDING, confirmation",
        "Approve",
        "\"status\":\"approved\"",
        "The signature verifies",
        "rejected - nothing was signed",
        "Two-factor authentication is on",
        "Second factor needed",
        "pending - nothing signed yet",
        "Approve + second factor: signed, and the signature verifies.",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}

#[test]
fn webhook_mode_receives_presses_only_with_the_secret_token() {
    // A free port for the pool's webhook listener, and a certificate for it from the
    // fake's CA (the fake verifies webhook TLS against that CA, as Telegram would
    // against a public one).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("https://127.0.0.1:{port}/telegram");
    let cert = tmp.path().join("webhook.pem");
    let key = tmp.path().join("webhook.key");
    let flow = Flow::start_with_setup(
        Config::default(),
        |fake| {
            let issued = fake.issue_cert(&["127.0.0.1".to_owned()]).unwrap();
            std::fs::write(&cert, issued.cert_pem).unwrap();
            std::fs::write(&key, issued.key_pem).unwrap();
        },
        &[
            "--telegram-webhook-listen",
            &listen,
            "--telegram-webhook-url",
            &url,
            "--telegram-webhook-cert",
            cert.to_str().unwrap(),
            "--telegram-webhook-key",
            key.to_str().unwrap(),
        ],
    );
    wait(
        "the webhook to be registered",
        Duration::from_secs(20),
        || flow.fake.webhook().is_some_and(|w| w.url == url),
    );
    let hook = flow.fake.webhook().unwrap();
    let secret = hook.secret_token.clone().unwrap_or_default();
    assert!(secret.len() >= 32, "a random secret token is registered");

    let (wallet, gina) = flow.linked_user("gina", "Gina");
    let tx = transfer_tx(&b58(&wallet), &foreign(), 77, &[6; 32]);
    let id = flow.sign(&wallet, &tx)["confirmation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = flow.confirmation(gina, 0);

    // An update posted to the webhook without (or with a wrong) secret is refused.
    let approve = m.buttons()[0].callback_data.clone().unwrap();
    let forged = serde_json::json!({
        "update_id": 1,
        "callback_query": {
            "id": "forged", "from": {"id": gina, "is_bot": false, "first_name": "Gina"},
            "chat_instance": "x", "data": approve,
            "message": {"message_id": m.message_id, "date": 0,
                        "chat": {"id": gina, "type": "private"}}
        }
    });
    for header in [None, Some("wrong-secret")] {
        let status = post_webhook(&flow, &url, header, &forged);
        assert_eq!(status, 401, "header {header:?}");
    }
    let (code, v) = flow.await_decision(&id, 0);
    assert_eq!((code, v["status"].as_str()), (5, Some("pending")), "{v}");

    // Through Telegram (the fake posts with the secret), the press counts.
    flow.press(gina, &m, "Approve");
    let (code, v) = flow.await_decision(&id, 30);
    assert_eq!((code, v["status"].as_str()), (0, Some("approved")), "{v}");
    assert!(flow.fake.requests_for("getUpdates").is_empty());
}

/// POSTs an update to the pool's webhook over HTTPS (trusting the fake's CA) and
/// returns the HTTP status.
fn post_webhook(flow: &Flow, url: &str, secret: Option<&str>, body: &Value) -> u16 {
    let ca = flow.fake.ca_pem().to_owned();
    let url = url.to_owned();
    let secret = secret.map(str::to_owned);
    let body = body.to_string();
    let mut headers = vec![("content-type", "application/json")];
    if let Some(s) = &secret {
        headers.push(("x-telegram-bot-api-secret-token", s));
    }
    flow.rt.block_on(async move {
        custos_telegram_fake::http_client::request(
            "POST",
            &url,
            &headers,
            body.into_bytes(),
            &[&ca],
            Duration::from_secs(10),
        )
        .await
        .unwrap()
        .0
    })
}
