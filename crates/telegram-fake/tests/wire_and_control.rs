//! The wire formats other than teloxide's (form, query string), error
//! bodies, faults, the HTTP control API and the binary's commands.

use custos_telegram_fake::{Config, FakeTelegram, Fault, RateLimits};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA"))
        .build()
        .expect("client")
}

async fn start() -> FakeTelegram {
    FakeTelegram::start(Config {
        rate_limits: RateLimits::disabled(),
        ..Config::default()
    })
    .await
    .expect("start")
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.expect("json body"))
}

#[tokio::test]
async fn form_query_and_error_bodies() {
    let fake = start().await;
    let http = client(fake.ca_pem());
    let api = fake.api_url();
    let user = fake.add_user_named("Gina").expect("user");
    fake.send_text(user.id, user.id, "/start").expect("start");

    // GET with a query string.
    let (s, v) = json_of(http.get(format!("{api}/getMe")).send().await.expect("get")).await;
    assert_eq!(s, 200);
    assert_eq!(v["ok"], true);
    assert_eq!(v["result"]["username"], "custos_test_bot");

    // Form encoding: reply_markup is a JSON string; method names are case-insensitive.
    let markup = json!({"inline_keyboard": [[{"text": "Approve", "callback_data": "tok-1"}]]});
    let form = [
        ("chat_id", user.id.to_string()),
        ("text", "Pay <b>2</b>?".to_string()),
        ("parse_mode", "HTML".to_string()),
        ("reply_markup", markup.to_string()),
        (
            "link_preview_options",
            json!({"is_disabled": true}).to_string(),
        ),
    ];
    let (s, v) = json_of(
        http.post(format!("{api}/SENDMESSAGE"))
            .form(&form)
            .send()
            .await
            .expect("post"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["result"]["text"], "Pay 2?");
    assert_eq!(v["result"]["reply_markup"], markup);
    assert_eq!(v["result"]["link_preview_options"]["is_disabled"], true);
    assert_eq!(v["result"]["chat"]["type"], "private");

    // Unknown method, wrong token, wrong path: Telegram's bodies.
    let (s, v) = json_of(
        http.post(format!("{api}/fooBar"))
            .send()
            .await
            .expect("post"),
    )
    .await;
    assert_eq!(
        (s, v),
        (
            404,
            json!({"ok": false, "error_code": 404, "description": "Not Found"})
        )
    );
    let bad = format!("{}/bot123:nope/getMe", fake.base_url());
    let (s, v) = json_of(http.get(bad).send().await.expect("get")).await;
    assert_eq!(
        (s, v),
        (
            401,
            json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
        )
    );
    let (s, _) = json_of(
        http.get(format!("{}/", fake.base_url()))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(s, 404);
    let (s, v) = json_of(
        http.post(format!("{api}/sendMessage"))
            .json(&json!({"chat_id": user.id, "text": "<b>x</i>", "parse_mode": "HTML"}))
            .send()
            .await
            .expect("post"),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["description"],
        "Bad Request: can't parse entities: Unmatched end tag at byte offset 4, expected \"</b>\", found \"</i>\""
    );
}

#[tokio::test]
async fn faults_5xx_lost_answers_and_hangs() {
    let fake = start().await;
    let http = client(fake.ca_pem());
    let api = fake.api_url();
    let user = fake.add_user_named("Hal").expect("user");
    fake.send_text(user.id, user.id, "/start").expect("start");
    let send = |text: &str| {
        http.post(format!("{api}/sendMessage"))
            .json(&json!({"chat_id": user.id, "text": text}))
            .send()
    };

    fake.fail_next_n("sendMessage", Fault::ServerError { status: 502 }, 2);
    for _ in 0..2 {
        let (s, v) = json_of(send("a").await.expect("send")).await;
        assert_eq!((s, v["description"].as_str()), (502, Some("Bad Gateway")));
    }
    assert!(fake
        .messages(user.id)
        .expect("chat")
        .iter()
        .all(|m| !m.from_bot));

    // The answer is lost but the message went out: a blind retry duplicates it.
    fake.fail_next(
        "sendMessage",
        Fault::ServerErrorAfterApplying { status: 500 },
    );
    let (s, _) = json_of(send("b").await.expect("send")).await;
    assert_eq!(s, 500);
    assert_eq!(
        fake.last_bot_message(user.id)
            .and_then(|m| m.text)
            .as_deref(),
        Some("b")
    );

    fake.fail_next("*", Fault::Hang { ms: 300 });
    let t = Instant::now();
    let (s, _) = json_of(send("c").await.expect("send")).await;
    assert_eq!(s, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));

    // A client that times out during a hang: the call still goes through.
    fake.fail_next("sendMessage", Fault::Hang { ms: 400 });
    let impatient = http
        .post(format!("{api}/sendMessage"))
        .timeout(Duration::from_millis(100))
        .json(&json!({"chat_id": user.id, "text": "late"}))
        .send()
        .await;
    assert!(impatient.is_err());
    assert!(
        fake.wait_until(Duration::from_secs(3), |f| {
            f.last_bot_message(user.id).and_then(|m| m.text).as_deref() == Some("late")
        })
        .await
    );

    fake.fail_next(
        "sendMessage",
        Fault::Error {
            status: 403,
            description: "Forbidden: bot was blocked by the user".into(),
        },
    );
    let (s, v) = json_of(send("d").await.expect("send")).await;
    assert_eq!((s, v["error_code"].as_i64()), (403, Some(403)));
    let faulted: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.fault.is_some())
        .collect();
    assert_eq!(faulted.len(), 6);
}

#[tokio::test]
async fn control_api_over_https() {
    let fake = start().await;
    let http = client(fake.ca_pem());
    let base = fake.base_url();
    let api = fake.api_url();
    let (s, u) = json_of(
        http.post(format!("{base}/control/users"))
            .json(&json!({"id": 4242, "first_name": "Ivy", "username": "ivy"}))
            .send()
            .await
            .expect("users"),
    )
    .await;
    assert_eq!((s, u["id"].as_i64()), (200, Some(4242)));
    let (s, m) = json_of(
        http.post(format!("{base}/control/send_text"))
            .json(&json!({"user": 4242, "text": "/start abc"}))
            .send()
            .await
            .expect("send_text"),
    )
    .await;
    assert_eq!((s, m["text"].as_str()), (200, Some("/start abc")));

    let (_, sent) = json_of(
        http.post(format!("{api}/sendMessage"))
            .json(&json!({"chat_id": 4242, "text": "Approve?", "reply_markup": {"inline_keyboard": [[{"text": "Approve", "callback_data": "A1"}, {"text": "Reject", "callback_data": "R1"}]]}}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    let mid = sent["result"]["message_id"].as_i64().expect("id");
    let (s, p) = json_of(
        http.post(format!("{base}/control/press"))
            .json(&json!({"user": 4242, "message_id": mid, "text": "Reject"}))
            .send()
            .await
            .expect("press"),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    let (_, ups) = json_of(
        http.get(format!("{api}/getUpdates"))
            .send()
            .await
            .expect("poll"),
    )
    .await;
    let ups = ups["result"].as_array().expect("updates").clone();
    assert_eq!(ups.len(), 2);
    assert_eq!(ups[1]["callback_query"]["data"], "R1");
    assert_eq!(ups[1]["callback_query"]["id"], p["callback_query_id"]);
    // A forged press and a press on a missing message.
    let (s, _) = json_of(
        http.post(format!("{base}/control/press"))
            .json(&json!({"user": 4242, "message_id": mid, "data": "forged"}))
            .send()
            .await
            .expect("press"),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = json_of(
        http.post(format!("{base}/control/press"))
            .json(&json!({"user": 4242, "message_id": 999, "button": 0}))
            .send()
            .await
            .expect("press"),
    )
    .await;
    assert_eq!(s, 404);

    let (s, _) = json_of(
        http.post(format!("{base}/control/faults"))
            .json(&json!({"method": "sendMessage", "fault": {"kind": "too_many_requests", "retry_after": 3}, "times": 1}))
            .send()
            .await
            .expect("faults"),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = json_of(
        http.post(format!("{api}/sendMessage"))
            .json(&json!({"chat_id": 4242, "text": "x"}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((s, v["parameters"]["retry_after"].as_i64()), (429, Some(3)));

    let (_, msgs) = json_of(
        http.get(format!("{base}/control/chats/4242/messages"))
            .send()
            .await
            .expect("m"),
    )
    .await;
    assert_eq!(msgs.as_array().expect("msgs").len(), 2);
    let (_, stats) = json_of(
        http.get(format!("{base}/control/send_stats?window_ms=1000"))
            .send()
            .await
            .expect("s"),
    )
    .await;
    assert_eq!(stats["total"], 1);
    let (_, cq) = json_of(
        http.get(format!("{base}/control/callback_queries"))
            .send()
            .await
            .expect("c"),
    )
    .await;
    assert_eq!(cq.as_array().expect("cq").len(), 2);
    let (s, dump) = json_of(
        http.get(format!("{base}/control/dump"))
            .send()
            .await
            .expect("dump"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(dump, {
        let mut d = fake.dump_json();
        // Times move on between the two reads.
        d["generated_unix_ms"] = dump["generated_unix_ms"].clone();
        d["uptime_ms"] = dump["uptime_ms"].clone();
        d
    });
    let ca = http
        .get(format!("{base}/control/ca.pem"))
        .send()
        .await
        .expect("ca")
        .text()
        .await
        .expect("t");
    assert_eq!(ca, fake.ca_pem());
}

#[test]
fn binary_serve_control_and_dump() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    let exe = env!("CARGO_BIN_EXE_custos-fake-telegram");
    let mut server = Command::new(exe)
        .args(["serve", "--ca-out"])
        .arg(&ca)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    let info: Value = serde_json::from_str(&line).expect("startup line");
    let url = info["url"].as_str().expect("url").to_string();
    assert!(info["api_url"]
        .as_str()
        .expect("api")
        .starts_with(&format!("{url}/bot")));
    let run = |args: &[&str]| {
        let out = Command::new(exe)
            .args(args)
            .args(["--url", &url, "--ca"])
            .arg(&ca)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = run(&[
        "control",
        "POST",
        "/control/users",
        r#"{"id": 777, "first_name": "Jo"}"#,
    ]);
    assert!(out.contains("\"id\":777"), "{out}");
    run(&[
        "control",
        "POST",
        "/control/send_text",
        r#"{"user": 777, "text": "/start tok"}"#,
    ]);
    let dump_path = dir.path().join("dump.json");
    run(&["dump", "--out", dump_path.to_str().expect("path")]);
    let dump: Value =
        serde_json::from_slice(&std::fs::read(&dump_path).expect("dump")).expect("json");
    assert_eq!(dump["format"], "custos-fake-telegram-dump/1");
    assert_eq!(dump["updates"][0]["message"]["text"], "/start tok");
    let stdout_dump = run(&["dump"]);
    assert!(stdout_dump.contains("/start tok"));
    server.kill().expect("kill");
    let _ = server.wait();
}
