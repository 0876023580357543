//! A fake Telegram server plus a `custos serve` whose signer bot talks to it, for the
//! end-to-end tests of the Telegram flows.
#![allow(dead_code)]

use super::{b64, Server};
use custos_telegram_fake::{ChatMessage, Config, FakeTelegram};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use totp_rs::Totp;

/// A fake Telegram server plus a `custos serve` whose signer bot talks to it.
pub struct Flow {
    pub rt: tokio::runtime::Runtime,
    pub fake: FakeTelegram,
    pub server: Server,
    pub _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub extra: Vec<String>,
}

impl Flow {
    pub fn start(extra: &[&str]) -> Flow {
        Flow::start_with(Config::default(), extra)
    }

    pub fn start_with(config: Config, extra: &[&str]) -> Flow {
        Flow::start_with_setup(config, |_| {}, extra)
    }

    /// As `start_with`, running `setup` with the fake before `custos serve` starts.
    pub fn start_with_setup(
        config: Config,
        setup: impl FnOnce(&FakeTelegram),
        extra: &[&str],
    ) -> Flow {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let fake = rt.block_on(FakeTelegram::start(config)).unwrap();
        setup(&fake);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir_all(&dir).unwrap();
        let ca = tmp.path().join("telegram-ca.pem");
        std::fs::write(&ca, fake.ca_pem()).unwrap();
        // The token goes in through the documented set-up command, from a file.
        let token_file = tmp.path().join("token");
        std::fs::write(&token_file, format!("{}\n", fake.token())).unwrap();
        let out = super::cli(
            &dir,
            &[
                "telegram",
                "setup",
                "--token-file",
                token_file.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut args: Vec<String> = vec![
            "--telegram-api-url".into(),
            fake.base_url(),
            "--telegram-ca-cert".into(),
            ca.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = Server::start_with(&dir, &refs);
        let flow = Flow {
            rt,
            fake,
            server,
            _tmp: tmp,
            dir,
            extra: args,
        };
        flow.wait_for_bot();
        flow
    }

    /// Waits until the pool runs the bot (the link command needs its username).
    pub fn wait_for_bot(&self) {
        wait(
            "the pool's Telegram client",
            Duration::from_secs(30),
            || {
                let h = self.server.json(&["health", "--format", "json"]);
                h.to_string()
                    .contains(&self.fake.bot().username.clone().unwrap_or_default())
            },
        );
    }

    pub fn restart(&mut self) {
        self.server.kill_tree();
        let refs: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        self.server = Server::start_with(&self.dir, &refs);
        self.wait_for_bot();
    }

    /// Creates a wallet for `user` and links a fresh Telegram user to it through
    /// the deep link; returns (wallet, telegram id).
    pub fn linked_user(&self, user: &str, name: &str) -> (String, i64) {
        let wallet = self.server.create_wallet(user);
        let tg = self.fake.add_user_named(name).unwrap().id;
        self.link(user, tg);
        (wallet, tg)
    }

    pub fn link(&self, user: &str, tg: i64) {
        let link = self
            .server
            .json(&["link", "create", "--user", user, "--format", "json"]);
        let url = link["url"].as_str().unwrap();
        let bot = self.fake.bot().username.unwrap();
        let prefix = format!("https://t.me/{bot}?start=");
        assert!(url.starts_with(&prefix), "{url}");
        let payload = &url[prefix.len()..];
        assert!(
            (1..=64).contains(&payload.len())
                && payload
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "{payload}"
        );
        self.fake
            .send_text(tg, tg, &format!("/start {payload}"))
            .unwrap();
        wait("the link", Duration::from_secs(20), || {
            let v = self
                .server
                .json(&["link", "show", "--user", user, "--format", "json"]);
            v["linked"] == true && v["telegram_id"] == tg
        });
    }

    pub fn sign(&self, wallet: &str, tx: &[u8]) -> Value {
        self.server
            .json(&["sign", "--wallet", wallet, "--format", "json", &b64(tx)])
    }

    /// `custos await ID --format json`: (exit status, JSON).
    pub fn await_decision(&self, id: &str, timeout: u64) -> (i32, Value) {
        let out = self.server.cli(&[
            "await",
            id,
            "--timeout",
            &timeout.to_string(),
            "--format",
            "json",
        ]);
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "await printed no JSON: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                self.server.log_text()
            )
        });
        (out.status.code().unwrap_or(-1), v)
    }

    /// Asks to sign withdrawal `tx` from `wallet`, has `user` press Approve on its
    /// confirmation (the first after message `after`) and waits for the second-factor
    /// prompt; returns the confirmation id and message.
    pub fn approve_until_factor(
        &self,
        user: i64,
        wallet: &str,
        tx: &[u8],
        after: i64,
    ) -> (String, ChatMessage) {
        let pending = self.sign(wallet, tx);
        assert_eq!(pending["status"], "pending", "{pending}");
        let id = pending["confirmation_id"].as_str().unwrap().to_owned();
        let m = self.confirmation(user, after);
        self.press(user, &m, "Approve");
        wait("the second-factor prompt", Duration::from_secs(20), || {
            self.message(user, m.message_id)
                .text
                .is_some_and(|t| t.contains("Second factor needed"))
        });
        (id, m)
    }

    /// Asks to export `wallet`'s key and has `user` press Approve on the request in the
    /// chat; returns the confirmation id and the page link the edited message offers.
    pub fn approve_export(&self, user: i64, wallet: &str) -> (String, String) {
        let mark = last_id(self, user);
        let out = self
            .server
            .json(&["export", "--wallet", wallet, "--format", "json"]);
        let id = out["confirmation_id"].as_str().unwrap().to_owned();
        let m = self.confirmation(user, mark);
        assert!(
            m.text.as_deref().unwrap().contains("export a private key"),
            "{m:?}"
        );
        self.press(user, &m, "Approve");
        let url = button_url_once_edited(self, user, m.message_id, "export");
        (id, url)
    }

    /// The newest bot message with buttons in the chat, after message `after`.
    pub fn confirmation(&self, chat: i64, after: i64) -> ChatMessage {
        let mut found = None;
        wait("the confirmation message", Duration::from_secs(20), || {
            found = self
                .fake
                .messages(chat)
                .unwrap()
                .into_iter()
                .find(|m| m.from_bot && m.message_id > after && !m.buttons().is_empty());
            found.is_some()
        });
        found.unwrap()
    }

    pub fn message(&self, chat: i64, id: i64) -> ChatMessage {
        self.fake
            .messages(chat)
            .unwrap()
            .into_iter()
            .find(|m| m.message_id == id)
            .unwrap()
    }

    /// `user` presses the button whose label contains `word` on message `m` in
    /// their private chat with the bot.
    pub fn press(&self, user: i64, m: &ChatMessage, word: &str) -> String {
        let index = m
            .buttons()
            .iter()
            .position(|b| b.text.contains(word))
            .unwrap_or_else(|| panic!("no {word} button in {:?}", m.buttons()));
        self.fake.press(user, user, m.message_id, index).unwrap()
    }

    /// The answer the user saw for a callback query (waits for it).
    pub fn answer(&self, query: &str) -> (Option<String>, bool) {
        let mut answer = None;
        wait("the callback answer", Duration::from_secs(20), || {
            answer = self
                .fake
                .callback_queries()
                .into_iter()
                .find(|q| q.id == query)
                .and_then(|q| q.answer);
            answer.is_some()
        });
        let a = answer.unwrap();
        (a.text, a.show_alert)
    }
}

pub fn wait(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn foreign() -> [u8; 32] {
    let mut k = [0u8; 32];
    custos_crypto::os_random(&mut k).unwrap();
    k
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The newest bot message in `chat` after message `after` that `pick` accepts.
pub fn bot_message(
    flow: &Flow,
    chat: i64,
    after: i64,
    what: &str,
    pick: impl Fn(&ChatMessage) -> bool,
) -> ChatMessage {
    let mut found = None;
    wait(what, Duration::from_secs(20), || {
        found = flow
            .fake
            .messages(chat)
            .unwrap()
            .into_iter()
            .filter(|m| m.from_bot && m.message_id > after && pick(m))
            .last();
        found.is_some()
    });
    found.unwrap()
}

/// The newest message id in a chat (0 when empty).
pub fn last_id(flow: &Flow, chat: i64) -> i64 {
    flow.fake
        .messages(chat)
        .unwrap()
        .iter()
        .map(|m| m.message_id)
        .max()
        .unwrap_or(0)
}

/// A bot notice after `after` whose text contains `needle`.
pub fn notice(flow: &Flow, chat: i64, after: i64, needle: &str) -> ChatMessage {
    bot_message(flow, chat, after, needle, |m| {
        m.text.as_deref().is_some_and(|t| t.contains(needle))
    })
}

/// The user types `text` into the bot chat; returns the id of their message.
pub fn say(flow: &Flow, user: i64, text: &str) -> i64 {
    let before = last_id(flow, user);
    flow.fake.send_text(user, user, text).unwrap();
    flow.fake
        .messages(user)
        .unwrap()
        .into_iter()
        .filter(|m| !m.from_bot && m.message_id > before)
        .map(|m| m.message_id)
        .next()
        .expect("the user's message")
}

/// Enrols TOTP for a linked user through the bot chat; returns their authenticator
/// and the step whose code activated it.
pub fn enrol_totp(flow: &Flow, user: i64) -> (Totp, u64) {
    let before = last_id(flow, user);
    say(flow, user, "/totp");
    let photo = bot_message(flow, user, before, "the QR code", |m| m.photo.is_some());
    let p = photo.photo.as_ref().unwrap();
    assert!(p.size > 100 && p.width > 0 && p.width == p.height, "{p:?}");
    let caption = photo.caption.clone().unwrap();
    let start = caption.find("otpauth://").expect("the URI in the caption");
    let uri: String = caption[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ')')
        .collect();
    let totp = Totp::from_url(&uri).unwrap_or_else(|e| panic!("{uri}: {e:?}"));
    let codes = notice(flow, user, before, "Recovery codes");
    assert_eq!(codes.text.unwrap().matches('\n').count(), 11);
    // A wrong first code does not turn it on.
    let now = unix_now();
    let wrong = (0..1000)
        .map(|n| format!("{n:06}"))
        .find(|c| (0..3).all(|d| totp.generate(now + d * 30 - 30).to_string() != *c))
        .unwrap();
    let mark = last_id(flow, user);
    say(flow, user, &wrong);
    notice(flow, user, mark, "Try again");
    // The right one does.
    let step = unix_now() / 30;
    let mark = last_id(flow, user);
    say(flow, user, &totp.generate(step * 30).to_string());
    notice(flow, user, mark, "Two-factor authentication is on");
    (totp, step)
}

/// Waits until message `id` carries a URL button whose label contains `label` (the
/// edit after Approve) and returns its URL.
pub fn button_url_once_edited(flow: &Flow, chat: i64, id: i64, label: &str) -> String {
    let mut url = None;
    wait(label, Duration::from_secs(20), || {
        url = flow
            .message(chat, id)
            .buttons()
            .into_iter()
            .find(|b| b.text.contains(label))
            .and_then(|b| b.url);
        url.is_some()
    });
    url.unwrap()
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
