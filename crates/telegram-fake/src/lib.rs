//! A fake Telegram Bot API server for tests.
//!
//! [`FakeTelegram::start`] binds a random port on 127.0.0.1 and serves the
//! Bot API over HTTPS (a test CA generated at start; [`FakeTelegram::ca_pem`]
//! gives the certificate clients must trust) at
//! `https://127.0.0.1:PORT/bot<TOKEN>/<method>`, with the real response
//! envelope, object shapes and error texts. It records every request, keeps
//! each chat as the user would see it, enforces Telegram-like flood limits,
//! and lets tests play the user ([`FakeTelegram::send_text`],
//! [`FakeTelegram::press`]) and inject faults ([`FakeTelegram::fail_next`]).
//! The same controls are available over HTTP under `/control/` for
//! out-of-process use (see the crate's README.md), and
//! `GET /control/dump` / `custos-fake-telegram dump` export everything as JSON.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod html;
pub mod http_client;
mod model;
pub mod rate;
mod server;
mod state;
mod tls;

pub use model::{
    Button, CallbackAnswer, CallbackRecord, ChatMessage, ControlError, Fault, MessageVersion,
    PhotoRecord, RecordedFile, RecordedRequest, User, UserSpec, WebhookState,
};
pub use rate::{ChatSendStats, RateLimits, SendEvent, SendStats};
pub use tls::{IssuedCert, TlsError, TlsSource};

use serde_json::Value;
use server::Shared;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// A token in Telegram's format, used when none is configured.
pub const DEFAULT_TOKEN: &str = "7012345678:AAHfakeTokenForCustosTests_0123456789";

/// How the fake server is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// The bot token accepted in `/bot<TOKEN>/`. The bot's user id is the
    /// number before the colon, as in Telegram.
    pub token: String,
    /// The bot's username (without `@`).
    pub bot_username: String,
    /// The bot's first name.
    pub bot_first_name: String,
    /// Listening address (default `127.0.0.1:0`, a random port).
    pub listen: SocketAddr,
    /// Names in the server certificate (default `localhost`, `127.0.0.1`, `::1`).
    pub server_names: Vec<String>,
    /// Where the certificates come from.
    pub tls: TlsSource,
    /// Flood limits.
    pub rate_limits: RateLimits,
    /// Accept `http://` webhook URLs (Telegram requires HTTPS; default true
    /// so tests can run a plain receiver). HTTPS webhooks are verified
    /// against the fake's CA, see [`FakeTelegram::issue_cert`].
    pub allow_http_webhooks: bool,
    /// Answer the control API from non-loopback clients (default false).
    pub control_from_any_address: bool,
    /// How long a callback query can be answered (Telegram: seconds).
    pub callback_query_ttl: Duration,
    /// The first `update_id` handed out.
    pub first_update_id: i64,
    /// Delay before retrying a failed webhook delivery.
    pub webhook_retry: Duration,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            token: DEFAULT_TOKEN.to_string(),
            bot_username: "custos_test_bot".into(),
            bot_first_name: "Custos".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            server_names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            tls: TlsSource::Generate,
            rate_limits: RateLimits::default(),
            allow_http_webhooks: true,
            control_from_any_address: false,
            callback_query_ttl: Duration::from_secs(15),
            first_update_id: 864_000_001,
            webhook_retry: Duration::from_millis(200),
            max_body_bytes: 50 << 20,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Certificates could not be made or loaded.
    #[error("{0}")]
    Tls(#[from] TlsError),
    /// The listening socket could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// A running fake server. Dropping it stops the server.
pub struct FakeTelegram {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl FakeTelegram {
    /// Starts the server on the current tokio runtime.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let pki = tls::Pki::new(&config.tls, &config.server_names)?;
        // Fail early on unusable material.
        pki.server_config()?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let shared = Arc::new(Shared::new(state::State::new(config), pki));
        let tasks = vec![
            tokio::spawn(server::serve(listener, shared.clone())),
            tokio::spawn(server::webhook_sender(shared.clone())),
        ];
        Ok(Self {
            shared,
            addr,
            tasks,
        })
    }

    /// Starts with [`Config::default`].
    pub async fn start_default() -> Result<Self, StartError> {
        Self::start(Config::default()).await
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT` (what a client uses instead of
    /// `https://api.telegram.org`).
    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// `https://127.0.0.1:PORT/bot<TOKEN>` (append `/<method>`).
    pub fn api_url(&self) -> String {
        format!("{}/bot{}", self.base_url(), self.shared.token)
    }

    /// The accepted token.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// The CA certificate (PEM) clients must trust.
    pub fn ca_pem(&self) -> &str {
        &self.shared.pki.ca_pem
    }

    /// Issues a certificate from the fake's CA, e.g. for an HTTPS webhook
    /// receiver the fake will then trust.
    pub fn issue_cert(&self, names: &[String]) -> Result<IssuedCert, TlsError> {
        self.shared.pki.issue(names)
    }

    /// The bot's own user.
    pub fn bot(&self) -> User {
        self.shared.lock().bot().clone()
    }

    /// Creates a user and their private chat (chat id = user id). The bot
    /// may only write to the chat once the user has sent it something.
    pub fn add_user(&self, spec: UserSpec) -> Result<User, ControlError> {
        self.shared.lock().add_user(spec)
    }

    /// Creates a user with a first name and a fresh id.
    pub fn add_user_named(&self, first_name: &str) -> Result<User, ControlError> {
        self.add_user(UserSpec {
            first_name: Some(first_name.to_string()),
            ..UserSpec::default()
        })
    }

    /// Creates a group chat; returns its (negative) id.
    pub fn add_group(&self, title: &str) -> i64 {
        self.shared.lock().add_group(title)
    }

    /// Makes the user block (or unblock) the bot: sends to their chat then
    /// fail with 403 "Forbidden: bot was blocked by the user".
    pub fn set_blocked(&self, user: i64, blocked: bool) -> Result<(), ControlError> {
        self.shared.lock().set_blocked(user, blocked)
    }

    /// `user` sends `text` in `chat` (their private chat is `chat == user`).
    /// Returns the `Message` object of the update queued for the bot.
    pub fn send_text(&self, user: i64, chat: i64, text: &str) -> Result<Value, ControlError> {
        let r = self.shared.lock().user_sends_text(user, Some(chat), text);
        self.shared.changed();
        r
    }

    /// `user` presses inline button `button_index` (row-major, see
    /// [`ChatMessage::buttons`]) of message `message_id` in `chat`, as the
    /// message is now. Returns the callback query id.
    pub fn press(
        &self,
        user: i64,
        chat: i64,
        message_id: i64,
        button_index: usize,
    ) -> Result<String, ControlError> {
        let r = self
            .shared
            .lock()
            .press(user, chat, message_id, Some(button_index), None);
        self.shared.changed();
        r
    }

    /// Presses the button labelled `label`.
    pub fn press_labelled(
        &self,
        user: i64,
        chat: i64,
        message_id: i64,
        label: &str,
    ) -> Result<String, ControlError> {
        let index = self
            .messages(chat)?
            .into_iter()
            .find(|m| m.message_id == message_id)
            .and_then(|m| m.buttons().iter().position(|b| b.text == label))
            .ok_or_else(|| ControlError::Invalid(format!("no button labelled {label:?}")))?;
        self.press(user, chat, message_id, index)
    }

    /// A callback query on `message_id` carrying arbitrary `data`, as a
    /// modified client could send (forged or replayed callback data).
    pub fn press_with_data(
        &self,
        user: i64,
        chat: i64,
        message_id: i64,
        data: &str,
    ) -> Result<String, ControlError> {
        let r = self
            .shared
            .lock()
            .press(user, chat, message_id, None, Some(data.to_string()));
        self.shared.changed();
        r
    }

    /// The chat's messages as the user sees them (edits applied, deletions
    /// marked, earlier versions in `history`).
    pub fn messages(&self, chat: i64) -> Result<Vec<ChatMessage>, ControlError> {
        self.shared.lock().messages(chat)
    }

    /// The last message the bot sent in the chat, if any.
    pub fn last_bot_message(&self, chat: i64) -> Option<ChatMessage> {
        self.messages(chat)
            .ok()?
            .into_iter()
            .rev()
            .find(|m| m.from_bot)
    }

    /// Every Bot API request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests().to_vec()
    }

    /// Requests for one method (case-insensitive).
    pub fn requests_for(&self, method: &str) -> Vec<RecordedRequest> {
        self.shared
            .lock()
            .requests()
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method))
            .cloned()
            .collect()
    }

    /// The next call of `method` (case-insensitive; `"*"` for any) fails with
    /// `fault`.
    pub fn fail_next(&self, method: &str, fault: Fault) {
        self.fail_next_n(method, fault, 1);
    }

    /// The next `times` calls of `method` fail with `fault`.
    pub fn fail_next_n(&self, method: &str, fault: Fault, times: u32) {
        self.shared.lock().add_fault(method, fault, times);
    }

    /// Drops all pending faults.
    pub fn clear_faults(&self) {
        self.shared.lock().clear_faults();
    }

    /// Callback queries generated by presses, with the bot's answers.
    pub fn callback_queries(&self) -> Vec<CallbackRecord> {
        self.shared.lock().callbacks()
    }

    /// Send rates measured over a sliding `window`.
    pub fn send_stats(&self, window: Duration) -> SendStats {
        self.shared.lock().send_stats(window)
    }

    /// Every accepted message send, with its time.
    pub fn sends(&self) -> Vec<SendEvent> {
        self.shared.lock().sends().to_vec()
    }

    /// The webhook, if one is set.
    pub fn webhook(&self) -> Option<WebhookState> {
        self.shared.lock().webhook.clone()
    }

    /// Updates not yet confirmed (getUpdates) or delivered (webhook).
    pub fn pending_update_count(&self) -> usize {
        self.shared.lock().pending_count()
    }

    /// Moves the fake clock (message dates, callback query expiry, the
    /// 48-hour deletion limit) forward.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.lock().advance_clock(by);
    }

    /// Everything the fake received and holds, as JSON (the same document
    /// as `GET /control/dump`).
    pub fn dump_json(&self) -> Value {
        self.shared.lock().dump()
    }

    /// Waits until `pred` holds (checked every 5 ms) or `timeout` passes;
    /// returns whether it held.
    pub async fn wait_until(&self, timeout: Duration, mut pred: impl FnMut(&Self) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if pred(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
