//! The pool as the signer bot's Telegram client: [`Pool`] serves the bridge's
//! requests (lookup tables through [`LookupService`], and the sealed
//! Telegram relay below).
//!
//! * **From the signer** ([`PoolRequest::Deliver`]): sealed [`ToPool`]
//!   messages, opened in order with the pool's [`ChannelEnd`]; forged or
//!   replayed ones are dropped and logged (never their contents) and counted
//!   out of `accepted`. The first [`ToPool::Configure`] starts the client: it
//!   checks the token with `getMe` (retried with a backoff until it works),
//!   starts the long-polling loop and the [`Outbox`], and queues
//!   [`ToSigner::Ready`]. Later `Configure`s are ignored. Messages that come
//!   while the client starts wait (at most [`MAX_WAITING_FOR_START`]);
//!   before any `Configure`, a confirmation is answered
//!   [`ToSigner::SendFailed`] at once and anything else is dropped.
//! * **To Telegram**: every call goes through the [`Outbox`] (flood limits,
//!   429 `retry_after`, 5xx backoff, never a blind resend). A confirmation is
//!   a `sendMessage` (HTML, link previews off) with one row of two buttons,
//!   Approve and Reject, whose `callback_data` are the signer's tokens; it
//!   ends as [`ToSigner::Sent`] or [`ToSigner::SendFailed`] (Telegram's
//!   description for refusals; for an outcome that cannot be known, a reason
//!   saying so: such a message is **not** resent, so no user ever gets two
//!   copies). An edit ([`ToPool::Edit`]) replaces the keyboard with the
//!   signer's URL button, or removes it (`editMessageText` without
//!   `reply_markup`); a [`ToPool::Notice`] may carry such a button too. A URL
//!   button must be `https://` (it opens the Custos page): a message with any
//!   other is refused, logged and not sent. [`ToPool::SecretNotice`] is an
//!   HTML `sendMessage` like a notice; [`ToPool::SendPhoto`] is a `sendPhoto`
//!   uploading the PNG as `multipart/form-data` with an HTML caption, under
//!   the same limits and retry rules as messages; [`ToPool::DeleteMessage`]
//!   is a best-effort `deleteMessage` (retried like the rest only while it
//!   certainly did not happen; a refusal is logged and is no health
//!   problem). Texts, captions, photos and button URLs are never logged:
//!   failures are logged by method and Telegram's description only.
//!   [`ToPool::PageReply`] is for the page server, not Telegram (it is handed
//!   on whether or not the client runs).
//! * **From Telegram** (`getUpdates` long polling, `allowed_updates`
//!   `message` and `callback_query`): a press becomes [`ToSigner::Press`]; a
//!   private `/start [payload]` becomes [`ToSigner::Start`]; any other private
//!   text becomes [`ToSigner::Text`] with its sender, chat and message id (a
//!   one-time code the signer then has deleted); texts over
//!   [`MAX_TEXT_CHARS`] (Telegram sends none) are dropped, not cut. Other
//!   private messages (stickers, photos) get a short notice (at most one a
//!   minute per chat, and only while the outbox is mostly empty); everything
//!   else, group chats included, is ignored. Every
//!   press is answered: by the signer's [`ToPool::AnswerCallback`], or, if
//!   none comes within [`TelegramSettings::answer_callbacks_after`], by the
//!   pool with no text.
//! * **To the signer**: events are sealed into a bounded queue and fetched in
//!   batches with [`PoolRequest::NextEvents`]; an update is confirmed to
//!   Telegram only after the bridge acknowledged the batch holding its
//!   events. The rule is spelled out in [`crate::events`]: the offset lives in
//!   memory only, and a restarted pool gets every unconfirmed update again.
//! * **Webhook mode** ([`TelegramSettings::webhook`], see [`webhook`]):
//!   Telegram posts the updates to the pool's HTTPS listener instead, with a
//!   secret token drawn at start; the same acknowledgement rule holds (an
//!   update is answered 200 only once its events are acknowledged). In
//!   polling mode the pool removes any webhook at start (`deleteWebhook`,
//!   keeping pending updates), since Telegram refuses `getUpdates` while one
//!   is set.

pub mod webhook;

pub use webhook::WebhookSettings;

use crate::events::{EventQueue, DEFAULT_EVENT_CAPACITY};
use crate::page::{PageError, PageHub, PageSettings};
use crate::rpc::RpcClient;
use crate::telegram::types::{
    AnswerCallbackQuery, DeleteMessage, EditMessageText, GetUpdates, InlineButton, InlineKeyboard,
    SendMessage, SendPhoto, Update,
};
use crate::telegram::{
    read_ca_file, BotToken, ClientConfig, Delivered, Delivery, LimitsConfig, Outbox, OutboxConfig,
    Outgoing, RateLimiter, TelegramClient, TelegramError,
};
use crate::{BridgeService, LookupService};
use custos_ipc::channel::ChannelEnd;
use custos_ipc::pool::{PoolRequest, PoolResponse, TelegramStatus, ViewKey};
use custos_ipc::telegram::{
    open_from_signer, SecretString, TextMessage, ToPool, ToSigner, UrlButton, MAX_TEXT_CHARS,
};
use rustls::pki_types::CertificateDer;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Messages from the signer held while the client starts.
pub const MAX_WAITING_FOR_START: usize = 1024;
/// Unanswered callback queries tracked at most; beyond that the oldest is
/// answered at once.
pub const MAX_UNANSWERED_CALLBACKS: usize = 10_000;
/// What private messages other than text are answered with.
pub const NOTICE_TEXT: &str = "This bot only reads text messages.";
/// Reason given when a confirmation comes before the bot token.
pub const NO_CLIENT_YET: &str = "no Telegram client yet";

/// Share of the configured global rate the limiter paces at (see `limits`).
pub const GLOBAL_PACING: f64 = 0.95;
/// Share of the configured per-chat rate the limiter paces at.
pub const PER_CHAT_PACING: f64 = 0.9;

/// How the pool talks to Telegram. Everything but the token, which comes from
/// the signer ([`ToPool::Configure`]).
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    /// Bot API base URL (default `https://api.telegram.org`).
    pub api_url: String,
    /// A PEM file of extra trusted roots (the fake server's test CA).
    pub ca_cert: Option<PathBuf>,
    /// Messages per second overall (default 30).
    pub global_per_sec: f64,
    /// Messages per second to one chat (default 1).
    pub per_chat_per_sec: f64,
    /// `getUpdates` long-polling timeout (default 50 s).
    pub poll_timeout: Duration,
    /// A press the signer has not answered after this long is answered by the
    /// pool with no text (default 10 s).
    pub answer_callbacks_after: Duration,
    /// Retry policy and capacity of the outbound queue.
    pub outbox: OutboxConfig,
    /// Events held for the signer at most.
    pub event_capacity: usize,
    /// Longest pause between failed `getMe` / `getUpdates` calls (default 30 s).
    pub backoff_max: Duration,
    /// Per-call timeout of ordinary Bot API calls (default 15 s).
    pub request_timeout: Duration,
    /// Receive updates through a webhook instead of long polling.
    pub webhook: Option<WebhookSettings>,
}

impl Default for TelegramSettings {
    fn default() -> Self {
        Self {
            api_url: crate::telegram::client::DEFAULT_BASE_URL.into(),
            ca_cert: None,
            global_per_sec: 30.0,
            per_chat_per_sec: 1.0,
            poll_timeout: Duration::from_secs(50),
            answer_callbacks_after: Duration::from_secs(10),
            outbox: OutboxConfig::default(),
            event_capacity: DEFAULT_EVENT_CAPACITY,
            backoff_max: Duration::from_secs(30),
            request_timeout: Duration::from_secs(15),
            webhook: None,
        }
    }
}

impl TelegramSettings {
    /// The limiter's settings: the rates given, a global burst of two (a
    /// timer that wakes a little late then loses no token, so the steady rate
    /// is the one configured, and no one-second window sees more than the rate
    /// plus one) and [`LimitsConfig`]'s per-chat burst.
    /// The buckets behind the configured rates. They pace a little below them (and
    /// keep bursts small) so that timer and network jitter never make Telegram see
    /// more than the configured rate in any one-second window: a global burst of 2
    /// lets the limiter reach its rate despite late wake-ups, and 95 % of the rate
    /// pays for it; one message per chat at a time, 90 % of the per-chat rate.
    fn limits(&self) -> LimitsConfig {
        LimitsConfig {
            global_per_sec: self.global_per_sec * GLOBAL_PACING,
            global_burst: 2,
            per_chat_per_sec: self.per_chat_per_sec * PER_CHAT_PACING,
            per_chat_burst: 1,
            ..LimitsConfig::default()
        }
    }

    fn client_config(&self, extra_roots: Vec<CertificateDer<'static>>) -> ClientConfig {
        ClientConfig {
            base_url: self.api_url.clone(),
            extra_roots,
            request_timeout: self.request_timeout,
            ..ClientConfig::default()
        }
    }
}

/// The running client.
struct Running {
    client: Arc<TelegramClient>,
    outbox: Outbox,
    bot_username: String,
}

enum Phase {
    /// No `Configure` yet.
    Waiting,
    /// `Configure` came; `getMe` has not worked yet. Messages wait here.
    Starting(VecDeque<ToPool>),
    Running(Arc<Running>),
    /// The token or the settings are unusable (reason, secret-free).
    Failed(String),
}

/// Presses not answered yet.
#[derive(Default)]
struct Unanswered {
    by_id: HashMap<String, i64>,
    order: VecDeque<(Instant, String)>,
}

/// Files read when the pool is built (it may have no filesystem access by the
/// time the bot token comes).
struct Material {
    extra_roots: Result<Vec<CertificateDer<'static>>, String>,
    webhook_tls: Option<Result<tokio_rustls::TlsAcceptor, String>>,
}

struct Core {
    settings: TelegramSettings,
    material: Material,
    channel: Mutex<ChannelEnd>,
    events: EventQueue,
    phase: Mutex<Phase>,
    unanswered: Mutex<Unanswered>,
    /// Chats sent the notice recently (bounded; cleared when full).
    noticed: Mutex<HashMap<i64, Instant>>,
    sent: AtomicU64,
    updates: AtomicU64,
    last_error: Mutex<Option<String>>,
    shutdown: watch::Receiver<bool>,
    /// The Custos page's relay, once [`Pool::serve_page`] started it.
    page: std::sync::OnceLock<Arc<PageHub>>,
}

/// The pool: lookup tables and the Telegram relay (see the module notes).
/// Dropping it (or [`Pool::shutdown`]) stops its background tasks.
pub struct Pool {
    lookup: LookupService,
    core: Arc<Core>,
    stop: watch::Sender<bool>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Pool {
    /// A pool reading lookup tables through `rpc` (if any) and relaying for
    /// the signer over the channel keyed by `view_key`. Needs no runtime; the
    /// Telegram client starts when the signer's token arrives.
    pub fn new(rpc: Option<RpcClient>, view_key: ViewKey, telegram: TelegramSettings) -> Arc<Self> {
        let channel = Mutex::new(ChannelEnd::pool(&view_key));
        let material = Material {
            extra_roots: match &telegram.ca_cert {
                Some(path) => read_ca_file(path).map_err(|e| e.to_string()),
                None => Ok(Vec::new()),
            },
            webhook_tls: telegram.webhook.as_ref().map(webhook::tls_acceptor),
        };
        for e in [
            material.extra_roots.as_ref().err(),
            material.webhook_tls.as_ref().and_then(|r| r.as_ref().err()),
        ]
        .into_iter()
        .flatten()
        {
            tracing::error!(error = %e, "telegram settings unusable");
        }
        let (stop, shutdown) = watch::channel(false);
        Arc::new(Self {
            lookup: LookupService::new(rpc, Some(view_key)),
            core: Arc::new(Core {
                events: EventQueue::new(telegram.event_capacity),
                settings: telegram,
                material,
                channel,
                phase: Mutex::new(Phase::Waiting),
                unanswered: Mutex::new(Unanswered::default()),
                noticed: Mutex::new(HashMap::new()),
                sent: AtomicU64::new(0),
                updates: AtomicU64::new(0),
                last_error: Mutex::new(None),
                shutdown,
                page: std::sync::OnceLock::new(),
            }),
            stop,
        })
    }

    /// Serves the Custos page ([`crate::page`]): its requests go to the signer as
    /// sealed [`ToSigner::Page`] events and the signer's [`ToPool::PageReply`] answers
    /// them. Call once, inside the runtime.
    pub async fn serve_page(
        &self,
        settings: &PageSettings,
    ) -> Result<tokio::task::JoinHandle<()>, PageError> {
        let core = Arc::downgrade(&self.core);
        let hub = Arc::new(PageHub::new(move |event| {
            if let Some(core) = core.upgrade() {
                core.emit(event);
            }
        }));
        if self.core.page.set(hub.clone()).is_err() {
            tracing::warn!("the page is served already; a second listener was not started");
        }
        crate::page::start(settings, hub).await
    }

    /// Stops the background tasks (polling, the answer timer). Queued
    /// messages still go.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// Serves one bridge request.
    pub async fn handle(&self, request: PoolRequest) -> PoolResponse {
        if let Err(refusal) = request.validate() {
            tracing::warn!(%refusal, "refused a bridge request");
            return PoolResponse::Refused(refusal);
        }
        match request {
            r @ PoolRequest::LookupTables(_) => self.lookup.handle(r).await,
            PoolRequest::Deliver(sealed) => {
                let mut opened = Vec::with_capacity(sealed.len());
                {
                    let mut end = lock(&self.core.channel);
                    for s in &sealed {
                        match open_from_signer(&mut end, s) {
                            Ok(m) => opened.push(m),
                            Err(e) => tracing::warn!(
                                counter = s.counter,
                                error = %e,
                                "dropped a sealed message from the signer"
                            ),
                        }
                    }
                }
                let accepted = opened.len() as u32;
                for m in opened {
                    self.core.dispatch(m);
                }
                PoolResponse::Delivered { accepted }
            }
            PoolRequest::NextEvents { ack, wait_ms } => {
                let (batch, events) = self
                    .core
                    .events
                    .next(ack, Duration::from_millis(u64::from(wait_ms)))
                    .await;
                PoolResponse::Events { batch, events }
            }
            PoolRequest::TelegramStatus => PoolResponse::Telegram(self.status()),
        }
    }

    /// Public facts about the Telegram client.
    pub fn status(&self) -> TelegramStatus {
        let core = &self.core;
        let (configured, bot_username, queued) = match &*lock(&core.phase) {
            Phase::Running(r) => (true, Some(r.bot_username.clone()), r.outbox.len() as u64),
            Phase::Starting(w) => (false, None, w.len() as u64),
            _ => (false, None, 0),
        };
        TelegramStatus {
            configured,
            bot_username,
            sent: core.sent.load(Ordering::Relaxed),
            queued,
            updates: core.updates.load(Ordering::Relaxed),
            last_error: lock(&core.last_error).clone(),
        }
    }

    /// One line for the health report.
    pub fn describe(&self) -> String {
        let s = self.status();
        let telegram = match &*lock(&self.core.phase) {
            Phase::Waiting => "telegram: waiting for the signer's bot token".to_string(),
            Phase::Starting(_) => "telegram: starting (getMe not answered yet)".to_string(),
            Phase::Failed(reason) => format!("telegram: not running: {reason}"),
            Phase::Running(r) => format!(
                "telegram: running as @{} ({} sent, {} queued, {} updates, {} events waiting)",
                r.bot_username,
                s.sent,
                s.queued,
                s.updates,
                self.core.events.len()
            ),
        };
        match s.last_error {
            Some(e) => format!(
                "{}; {telegram}; last Telegram error: {e}",
                self.lookup.describe()
            ),
            None => format!("{}; {telegram}", self.lookup.describe()),
        }
    }
}

impl BridgeService for Pool {
    async fn handle(&self, request: PoolRequest) -> PoolResponse {
        Pool::handle(self, request).await
    }

    fn describe(&self) -> String {
        Pool::describe(self)
    }
}

impl Core {
    fn set_error(&self, e: Option<String>) {
        *lock(&self.last_error) = e;
    }

    /// Queues an event for the signer (in the background: room may take an
    /// acknowledgement).
    fn emit(self: &Arc<Self>, event: ToSigner) {
        let core = self.clone();
        tokio::spawn(async move { core.emit_now(&event).await });
    }

    async fn emit_now(&self, event: &ToSigner) {
        if let Err(e) = self.events.push(&self.channel, event).await {
            tracing::error!(error = %e, "event for the signer dropped");
        }
    }

    fn send_failed(self: &Arc<Self>, confirmation_id: String, reason: String) {
        tracing::warn!(%confirmation_id, %reason, "confirmation message not sent");
        self.emit(ToSigner::SendFailed {
            confirmation_id,
            reason,
        });
    }

    /// Acts on one opened message from the signer.
    fn dispatch(self: &Arc<Self>, msg: ToPool) {
        // Page replies go to the HTTPS page server, which does not need the
        // Telegram client.
        let msg = match msg {
            ToPool::PageReply {
                request_id,
                status,
                body,
            } => return self.page_reply(request_id, status, body),
            other => other,
        };
        let running = {
            let mut phase = lock(&self.phase);
            match &mut *phase {
                Phase::Running(r) => r.clone(),
                Phase::Waiting => {
                    if let ToPool::Configure { bot_token } = msg {
                        *phase = Phase::Starting(VecDeque::new());
                        drop(phase);
                        self.start(bot_token);
                    } else {
                        self.not_running(msg, NO_CLIENT_YET.into());
                    }
                    return;
                }
                Phase::Failed(reason) => {
                    let reason = reason.clone();
                    drop(phase);
                    self.not_running(msg, reason);
                    return;
                }
                Phase::Starting(waiting) => {
                    if matches!(msg, ToPool::Configure { .. }) {
                        tracing::warn!("a second bot token from the signer ignored");
                    } else if waiting.len() < MAX_WAITING_FOR_START {
                        waiting.push_back(msg);
                    } else {
                        drop(phase);
                        self.not_running(msg, "Telegram client not ready (getMe failing)".into());
                    }
                    return;
                }
            }
        };
        self.relay(&running, msg);
    }

    fn not_running(self: &Arc<Self>, msg: ToPool, reason: String) {
        match msg {
            ToPool::SendConfirmation {
                confirmation_id, ..
            } => self.send_failed(confirmation_id, reason),
            ToPool::Configure { .. } => {
                tracing::warn!("a second bot token from the signer ignored")
            }
            ToPool::PageReply {
                request_id,
                status,
                body,
            } => self.page_reply(request_id, status, body),
            // Only the kind is logged: texts, captions and photos may be secret.
            other => tracing::warn!(
                kind = kind(&other),
                %reason,
                "message for Telegram dropped: no client"
            ),
        }
    }

    fn relay(self: &Arc<Self>, r: &Arc<Running>, msg: ToPool) {
        match msg {
            ToPool::Configure { .. } => {
                tracing::warn!("a second bot token from the signer ignored");
            }
            ToPool::SendConfirmation {
                confirmation_id,
                chat_id,
                text,
                approve,
                reject,
            } => {
                let keyboard = InlineKeyboard::row([
                    ("Approve".to_string(), approve.expose().to_string()),
                    ("Reject".to_string(), reject.expose().to_string()),
                ]);
                let item = Outgoing::Send(SendMessage::html(chat_id, text, Some(keyboard)));
                let pending = match r.outbox.submit(item) {
                    Ok(p) => p,
                    Err(e) => return self.send_failed(confirmation_id, e.to_string()),
                };
                let core = self.clone();
                tokio::spawn(async move {
                    match pending.outcome().await {
                        Delivery::Delivered(Delivered::Message(m)) => {
                            core.sent.fetch_add(1, Ordering::Relaxed);
                            core.set_error(None);
                            core.emit_now(&ToSigner::Sent {
                                confirmation_id,
                                chat_id,
                                message_id: m.message_id,
                            })
                            .await;
                        }
                        other => {
                            let reason = failure_reason(&other);
                            core.set_error(Some(reason.clone()));
                            tracing::warn!(%confirmation_id, %reason, "confirmation message not sent");
                            core.emit_now(&ToSigner::SendFailed {
                                confirmation_id,
                                reason,
                            })
                            .await;
                        }
                    }
                });
            }
            ToPool::Edit {
                chat_id,
                message_id,
                text,
                button,
            } => {
                let Ok(keyboard) = url_keyboard(button.as_ref(), "edit") else {
                    return;
                };
                let item =
                    Outgoing::Edit(EditMessageText::html(chat_id, message_id, text, keyboard));
                self.submit_logged(r, item);
            }
            ToPool::Notice {
                chat_id,
                text,
                button,
            } => {
                let Ok(keyboard) = url_keyboard(button.as_ref(), "notice") else {
                    return;
                };
                let item = Outgoing::Send(SendMessage::html(chat_id, text, keyboard));
                self.submit_logged(r, item);
            }
            ToPool::SecretNotice {
                chat_id,
                text,
                delete_after_secs,
            } => {
                let item = Outgoing::Send(SendMessage::html(chat_id, text.expose(), None));
                self.submit_then_delete(r, item, chat_id, delete_after_secs);
            }
            ToPool::SendPhoto {
                chat_id,
                png,
                caption,
                delete_after_secs,
            } => {
                let item = Outgoing::Photo(SendPhoto::html(
                    chat_id,
                    png.expose().to_vec(),
                    caption.expose().to_string(),
                ));
                self.submit_then_delete(r, item, chat_id, delete_after_secs);
            }
            ToPool::DeleteMessage {
                chat_id,
                message_id,
            } => {
                let item = Outgoing::Delete(DeleteMessage {
                    chat_id,
                    message_id,
                });
                self.submit_logged(r, item);
            }
            ToPool::PageReply {
                request_id,
                status,
                body,
            } => self.page_reply(request_id, status, body),
            ToPool::AnswerCallback {
                callback_query_id,
                text,
                show_alert,
            } => {
                let Some(chat) = lock(&self.unanswered).by_id.remove(&callback_query_id) else {
                    tracing::debug!("answer for a callback query already answered, dropped");
                    return;
                };
                self.submit_logged(
                    r,
                    Outgoing::Answer {
                        chat,
                        query: AnswerCallbackQuery {
                            callback_query_id,
                            text,
                            show_alert,
                        },
                    },
                );
            }
        }
    }

    /// Submits an item whose outcome is only logged (and counted), by method
    /// and Telegram's description, never the content. A failed
    /// deletion is logged but is no health problem (it is best effort: the
    /// user may have deleted the message, or it is too old).
    /// Sends a message holding a secret and, when asked, deletes it from the chat
    /// after `delete_after_secs` (best effort: a pool restart in between leaves it).
    fn submit_then_delete(
        self: &Arc<Self>,
        r: &Arc<Running>,
        item: Outgoing,
        chat_id: i64,
        delete_after_secs: Option<u32>,
    ) {
        let Some(secs) = delete_after_secs else {
            return self.submit_logged(r, item);
        };
        let method = item.method();
        let pending = match r.outbox.submit(item) {
            Ok(p) => p,
            Err(e) => return tracing::warn!(method, error = %e, "telegram call dropped"),
        };
        let (core, running) = (self.clone(), r.clone());
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let message_id = match pending.outcome().await {
                Delivery::Delivered(Delivered::Message(m)) => {
                    core.sent.fetch_add(1, Ordering::Relaxed);
                    m.message_id
                }
                other => {
                    let reason = failure_reason(&other);
                    tracing::warn!(method, %reason, "telegram call failed");
                    core.set_error(Some(format!("{method}: {reason}")));
                    return;
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(u64::from(secs))) => {}
                _ = shutdown.changed() => return,
            }
            core.submit_logged(
                &running,
                Outgoing::Delete(DeleteMessage {
                    chat_id,
                    message_id,
                }),
            );
        });
    }

    fn submit_logged(self: &Arc<Self>, r: &Running, item: Outgoing) {
        let method = item.method();
        let counts = matches!(
            item,
            Outgoing::Send(_) | Outgoing::Photo(_) | Outgoing::Edit(_)
        );
        let best_effort = matches!(item, Outgoing::Delete(_));
        match r.outbox.submit(item) {
            Ok(pending) => {
                let core = self.clone();
                tokio::spawn(async move {
                    match pending.outcome().await {
                        Delivery::Delivered(_) => {
                            if counts {
                                core.sent.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        other => {
                            let reason = failure_reason(&other);
                            tracing::warn!(method, %reason, "telegram call failed");
                            if !best_effort {
                                core.set_error(Some(format!("{method}: {reason}")));
                            }
                        }
                    }
                });
            }
            Err(e) => tracing::warn!(method, error = %e, "telegram call dropped"),
        }
    }

    /// Starts the client in the background: `getMe` until it works, then the
    /// outbox, the polling loop and the answer timer.
    fn start(self: &Arc<Self>, token: SecretString) {
        let token = match BotToken::new(token.expose().to_string()) {
            Ok(t) => t,
            Err(e) => return self.fail_start(e.to_string()),
        };
        let roots = match &self.material.extra_roots {
            Ok(r) => r.clone(),
            Err(e) => return self.fail_start(e.clone()),
        };
        let client = match TelegramClient::new(token, self.settings.client_config(roots)) {
            Ok(c) => Arc::new(c),
            Err(e) => return self.fail_start(e.to_string()),
        };
        let core = self.clone();
        tokio::spawn(async move {
            let mut shutdown = core.shutdown.clone();
            let mut backoff = Duration::from_millis(200);
            let me = loop {
                match client.get_me().await {
                    Ok(me) => break me,
                    Err(e) => {
                        tracing::warn!(endpoint = client.endpoint(), error = %e, "telegram getMe failed; retrying");
                        core.set_error(Some(format!("getMe: {e}")));
                    }
                }
                tokio::select! {
                    _ = shutdown.wait_for(|s| *s) => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(core.settings.backoff_max);
            };
            core.set_error(None);
            let bot_username = me.username.unwrap_or_default();
            let limiter = Arc::new(RateLimiter::new(core.settings.limits()));
            let outbox = match Outbox::new(client.clone(), limiter, core.settings.outbox.clone()) {
                Ok(o) => o,
                Err(e) => return core.fail_start(e.to_string()),
            };
            let running = Arc::new(Running {
                client,
                outbox,
                bot_username: bot_username.clone(),
            });
            let webhook = core.settings.webhook.clone();
            match &webhook {
                Some(ws) => {
                    if let Err(e) = webhook::start(&core, &running, ws).await {
                        return core.fail_start(e);
                    }
                }
                None => {
                    let params = serde_json::json!({ "drop_pending_updates": false });
                    let r: Result<bool, _> = running
                        .client
                        .call("deleteWebhook", &params, core.settings.request_timeout)
                        .await;
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "telegram deleteWebhook failed");
                    }
                }
            }
            tracing::info!(
                endpoint = running.client.endpoint(),
                bot = %bot_username,
                webhook = webhook.is_some(),
                "telegram client running"
            );
            core.emit_now(&ToSigner::Ready { bot_username }).await;
            let waiting = {
                let mut phase = lock(&core.phase);
                match std::mem::replace(&mut *phase, Phase::Running(running.clone())) {
                    Phase::Starting(w) => w,
                    _ => VecDeque::new(),
                }
            };
            for msg in waiting {
                core.relay(&running, msg);
            }
            tokio::spawn(answer_timer(core.clone(), running.clone()));
            if webhook.is_none() {
                poll_loop(core, running).await;
            }
        });
    }

    fn fail_start(self: &Arc<Self>, reason: String) {
        tracing::error!(%reason, "telegram client cannot start");
        self.set_error(Some(reason.clone()));
        let waiting = {
            let mut phase = lock(&self.phase);
            match std::mem::replace(&mut *phase, Phase::Failed(reason.clone())) {
                Phase::Starting(w) => w,
                _ => VecDeque::new(),
            }
        };
        for msg in waiting {
            self.not_running(msg, reason.clone());
        }
    }

    /// Turns one update into an event for the signer (or a notice, or nothing).
    async fn handle_update(self: &Arc<Self>, r: &Arc<Running>, update: Update) {
        if let Some(q) = update.callback_query {
            let Ok(from_id) = u64::try_from(q.from.id) else {
                return;
            };
            let chat_id = q.message.as_ref().map(|m| m.chat.id);
            let message_id = q.message.as_ref().map(|m| m.message_id);
            self.track_press(r, &q.id, chat_id.unwrap_or(q.from.id));
            self.emit_now(&ToSigner::Press {
                callback_query_id: q.id,
                data: SecretString::new(q.data.unwrap_or_default()),
                from_id,
                chat_id,
                message_id,
            })
            .await;
            return;
        }
        let Some(m) = update.message else {
            return;
        };
        if m.chat.kind != "private" {
            return;
        }
        let Some(from) = m.from.as_ref().filter(|f| !f.is_bot) else {
            return;
        };
        let Ok(from_id) = u64::try_from(from.id) else {
            return;
        };
        let Some(text) = m.text else {
            return self.maybe_notice(r, m.chat.id);
        };
        let text = SecretString::new(text);
        if let Some(payload) = start_payload(text.expose(), &r.bot_username) {
            self.emit_now(&ToSigner::Start {
                payload: SecretString::new(payload),
                from_id,
                chat_id: m.chat.id,
            })
            .await;
        } else if text.expose().chars().count() > MAX_TEXT_CHARS {
            // Telegram does not deliver longer texts; a cut one could read as
            // something else, so it is dropped rather than truncated.
            tracing::debug!("a text message longer than Telegram allows ignored");
        } else {
            self.emit_now(&ToSigner::Text(TextMessage {
                from_id,
                chat_id: m.chat.id,
                message_id: m.message_id,
                text,
            }))
            .await;
        }
    }

    fn maybe_notice(self: &Arc<Self>, r: &Running, chat: i64) {
        let cap = self.settings.outbox.capacity;
        if r.outbox.len() >= cap / 4 {
            return;
        }
        let now = Instant::now();
        {
            let mut noticed = lock(&self.noticed);
            if noticed
                .get(&chat)
                .is_some_and(|t| now.duration_since(*t) < Duration::from_secs(60))
            {
                return;
            }
            if noticed.len() >= 4096 {
                noticed.clear();
            }
            noticed.insert(chat, now);
        }
        self.submit_logged(
            r,
            Outgoing::Send(SendMessage::html(chat, NOTICE_TEXT, None)),
        );
    }

    fn track_press(self: &Arc<Self>, r: &Running, id: &str, chat: i64) {
        let evicted = {
            let mut u = lock(&self.unanswered);
            if u.by_id.contains_key(id) {
                return;
            }
            let deadline = Instant::now() + self.settings.answer_callbacks_after;
            u.by_id.insert(id.to_string(), chat);
            u.order.push_back((deadline, id.to_string()));
            let mut evicted = Vec::new();
            while u.by_id.len() > MAX_UNANSWERED_CALLBACKS {
                let Some((_, old)) = u.order.pop_front() else {
                    break;
                };
                if let Some(c) = u.by_id.remove(&old) {
                    evicted.push((old, c));
                }
            }
            evicted
        };
        for (id, chat) in evicted {
            self.answer_silently(r, id, chat);
        }
    }

    fn answer_silently(self: &Arc<Self>, r: &Running, id: String, chat: i64) {
        self.submit_logged(
            r,
            Outgoing::Answer {
                chat,
                query: AnswerCallbackQuery {
                    callback_query_id: id,
                    text: None,
                    show_alert: false,
                },
            },
        );
    }

    /// Hands the signer's answer to a page request to the HTTPS page server.
    fn page_reply(&self, request_id: u64, status: u16, body: SecretString) {
        match self.page.get() {
            Some(hub) => hub.reply(request_id, status, body),
            None => tracing::warn!(request_id, status, "page reply dropped: no page is served"),
        }
    }
}

/// The keyboard of a notice or an edit: the signer's URL button, if any.
/// A button that is not `https://` is refused: the message is dropped and
/// logged (without the URL, which holds a page token).
fn url_keyboard(button: Option<&UrlButton>, kind: &str) -> Result<Option<InlineKeyboard>, ()> {
    let Some(b) = button else {
        return Ok(None);
    };
    match InlineButton::url(b.text.clone(), b.url.expose()) {
        Ok(button) => Ok(Some(InlineKeyboard::single(button))),
        Err(e) => {
            tracing::warn!(kind, error = %e, "message with an unusable button dropped");
            Err(())
        }
    }
}

fn kind(m: &ToPool) -> &'static str {
    match m {
        ToPool::Configure { .. } => "configure",
        ToPool::SendConfirmation { .. } => "confirmation",
        ToPool::Edit { .. } => "edit",
        ToPool::AnswerCallback { .. } => "callback answer",
        ToPool::Notice { .. } => "notice",
        ToPool::SecretNotice { .. } => "secret notice",
        ToPool::SendPhoto { .. } => "photo",
        ToPool::DeleteMessage { .. } => "deletion",
        ToPool::PageReply { .. } => "page reply",
    }
}

/// A secret-free reason for a failed delivery.
fn failure_reason(d: &Delivery) -> String {
    match d {
        Delivery::Delivered(_) => "delivered".into(),
        Delivery::Refused(TelegramError::Api { description, .. }) => description.clone(),
        Delivery::Refused(e) => e.to_string(),
        Delivery::NotSent {
            attempts,
            last_error,
        } => format!("not sent after {attempts} attempts: {last_error}"),
        Delivery::Uncertain { error, .. } => format!(
            "Telegram's answer was lost ({error}); the message may or may not have been \
             delivered and is not resent"
        ),
        Delivery::Cancelled => "the pool is shutting down".into(),
    }
}

/// The payload of `/start`, `/start <payload>` or `/start@<bot> <payload>`.
fn start_payload(text: &str, bot_username: &str) -> Option<String> {
    let rest = text.strip_prefix("/start")?;
    let rest = match rest.strip_prefix('@') {
        Some(r) => {
            let end = r.find(char::is_whitespace).unwrap_or(r.len());
            if !r[..end].eq_ignore_ascii_case(bot_username) {
                return None;
            }
            &r[end..]
        }
        None => rest,
    };
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None; // "/started" and the like
    }
    Some(rest.trim().to_string())
}

/// Answers presses the signer left unanswered.
async fn answer_timer(core: Arc<Core>, r: Arc<Running>) {
    let mut shutdown = core.shutdown.clone();
    let tick = (core.settings.answer_callbacks_after / 4)
        .clamp(Duration::from_millis(20), Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            () = tokio::time::sleep(tick) => {}
        }
        let now = Instant::now();
        let due: Vec<(String, i64)> = {
            let mut u = lock(&core.unanswered);
            let mut due = Vec::new();
            while u.order.front().is_some_and(|(t, _)| *t <= now) {
                let Some((_, id)) = u.order.pop_front() else {
                    break;
                };
                if let Some(chat) = u.by_id.remove(&id) {
                    due.push((id, chat));
                }
            }
            due
        };
        for (id, chat) in due {
            tracing::debug!("callback query not answered by the signer; answering it");
            core.answer_silently(&r, id, chat);
        }
    }
}

/// Long polling; an update's offset is sent only once the bridge acknowledged
/// its events (see [`crate::events`]).
async fn poll_loop(core: Arc<Core>, r: Arc<Running>) {
    let mut shutdown = core.shutdown.clone();
    let endpoint = r.client.endpoint().to_string();
    let timeout_secs = u32::try_from(core.settings.poll_timeout.as_secs()).unwrap_or(50);
    // The next update id not handed over yet (this run).
    let mut handed: Option<i64> = None;
    let mut backoff = Duration::from_millis(200);
    loop {
        let mut changed = core.events.subscribe();
        let confirmed = core.events.confirmed();
        let unconfirmed = handed.is_some_and(|h| confirmed.is_none_or(|c| h > c));
        let params = GetUpdates {
            offset: confirmed,
            limit: Some(100),
            timeout: if unconfirmed { 0 } else { timeout_secs },
            allowed_updates: Some(vec!["message".into(), "callback_query".into()]),
        };
        let polled = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            p = r.client.get_updates(&params) => p,
        };
        let mut updates = match polled {
            Ok(u) => {
                backoff = Duration::from_millis(200);
                u
            }
            Err(e) => {
                tracing::warn!(%endpoint, error = %e, backoff_ms = backoff.as_millis() as u64, "telegram getUpdates failed");
                core.set_error(Some(format!("getUpdates: {e}")));
                tokio::select! {
                    _ = shutdown.wait_for(|s| *s) => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(core.settings.backoff_max);
                continue;
            }
        };
        if lock(&core.last_error)
            .as_deref()
            .is_some_and(|e| e.starts_with("getUpdates"))
        {
            core.set_error(None);
        }
        updates.sort_by_key(|u| u.update_id);
        let mut new = false;
        for update in updates {
            let id = update.update_id;
            if confirmed.is_some_and(|c| id < c) || handed.is_some_and(|h| id < h) {
                continue;
            }
            new = true;
            core.updates.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                () = core.handle_update(&r, update) => {}
            }
            core.events.handled_update(id.saturating_add(1));
            handed = Some(id.saturating_add(1));
        }
        if !new && unconfirmed {
            // Only updates the bridge has not acknowledged yet: wait for an
            // acknowledgement (or a second) rather than poll them again at once.
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                _ = tokio::time::timeout(Duration::from_secs(1), changed.changed()) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_payloads_are_recognised() {
        let b = "custos_bot";
        assert_eq!(start_payload("/start", b).as_deref(), Some(""));
        assert_eq!(start_payload("/start abc", b).as_deref(), Some("abc"));
        assert_eq!(start_payload("/start  abc ", b).as_deref(), Some("abc"));
        assert_eq!(
            start_payload("/start@Custos_Bot abc", b).as_deref(),
            Some("abc")
        );
        assert_eq!(start_payload("/start@other abc", b), None);
        assert_eq!(start_payload("/started", b), None);
        assert_eq!(start_payload("hello", b), None);
        assert_eq!(start_payload(" /start", b), None);
    }
}
