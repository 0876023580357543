//! Telegram confirmations and account links, wired into the [`Service`].
//!
//! Everything here travels to and from the pool inside the sealed channel
//! ([`custos_ipc::channel`]), keyed from the view key; the bridge relays opaque blobs.
//! Without a view key or a bot token there is no Telegram: a `confirm` verdict is
//! refused and link/pool requests fail with `FailedPrecondition`.
//!
//! * `Sign` with a `confirm` verdict (`Service::request_confirmation`): the wallet
//!   owner's security record names the Telegram user to ask; a confirmation is created
//!   ([`crate::confirm`]) and its message sealed to the pool in `Pending.to_pool`.
//! * [`Service::from_pool`]: delivery reports, presses, `/start` links, and (handed to
//!   [`crate::second_factor`]) texts typed in the bot chat and the Custos page's
//!   requests. An Approve may continue to a second-factor stage
//!   (`Service::after_approval`) instead of signing at once.
//! * [`Service::create_link`]: a one-time `/start` payload ([`crate::link`]).
//! * [`Service::start_pool`]: the pool's configuration (the bot token).
//! * [`Service::tick`]: expiry of confirmations, links and what waits for a second
//!   factor; removals of a last factor that are due.
//!
//! Locks: only these paths take `telegram` (state) and `channel`, never both at once;
//! the automatic signing path takes neither (it reads the "always" set, a separate
//! read-write lock).

use crate::accounts::Accounts;
use crate::confirm::{
    ConfirmConfig, ConfirmationId, Confirmations, CreateError, Decision as Choice, PendingRequest,
    Press, Status,
};
use crate::guard::Guard;
use crate::link::{LinkConfig, LinkError, Links};
use crate::messages;
use crate::service::{failed_precondition, integrity, internal, invalid, Service};
use custos_crypto::record;
use custos_crypto::security::{self, SecurityRecord};
use custos_ipc::channel::Sealed;
use custos_ipc::signer::{
    CreateLink, Decision, LinkCreated, Relay, SignOutcome, SignRequest, SignerError, SignerEvent,
};
use custos_ipc::telegram::{open_from_pool, seal_to_pool, SecretString, ToPool, ToSigner};
use custos_txdecode::Assessment;
use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// What the signer keeps about its Telegram conversations.
pub(crate) struct TelegramState {
    pub(crate) confirmations: Confirmations,
    /// What is needed to sign once approved, and to edit the message, per pending
    /// confirmation.
    pub(crate) pending: HashMap<ConfirmationId, PendingSign>,
    links: Links,
    bot_username: Option<String>,
    /// Linked users and their second factors.
    pub(crate) accounts: Accounts,
    /// What waits for a second factor.
    pub(crate) guard: Guard,
}

/// What a confirmation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Sign a transaction.
    Sign,
    /// Export the wallet's key.
    Export,
}

pub(crate) struct PendingSign {
    /// The wallet's sealed record, authenticated when the confirmation was created and
    /// again before signing.
    pub(crate) record: Vec<u8>,
    /// The message text shown, for the edit that reports the outcome.
    pub(crate) text: String,
    /// A signature or an export.
    pub(crate) kind: Kind,
    /// The wallet's owner.
    pub(crate) user_id: String,
    /// The wallet.
    pub(crate) wallet: [u8; 32],
}

impl TelegramState {
    pub(crate) fn new(confirm: ConfirmConfig, links: LinkConfig) -> Self {
        TelegramState {
            confirmations: Confirmations::new(confirm),
            pending: HashMap::new(),
            links: Links::new(links),
            bot_username: None,
            accounts: Accounts::default(),
            guard: Guard::default(),
        }
    }

    pub(crate) fn set_confirm_config(&mut self, config: ConfirmConfig) {
        self.confirmations = Confirmations::new(config);
        self.pending.clear();
    }

    pub(crate) fn set_link_config(&mut self, config: LinkConfig) {
        self.links = Links::new(config);
    }

    pub(crate) fn link_config(&self) -> LinkConfig {
        self.links.config().clone()
    }
}

/// Why nobody can be asked, for a rejection reason.
const NO_BOT: &str = "needs the user's confirmation in Telegram, but no Telegram bot is set up \
     (custos telegram setup)";

pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn secs(d: std::time::Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

impl Service {
    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, TelegramState> {
        self.telegram.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn telegram_ready(&self) -> bool {
        self.channel.is_some() && self.bot_token.is_some()
    }

    /// Seals messages for the pool, in order.
    pub(crate) fn seal_all(&self, msgs: &[ToPool]) -> Result<Vec<Sealed>, SignerError> {
        let Some(channel) = &self.channel else {
            return Err(failed_precondition(NO_BOT_SHORT.into()));
        };
        let mut end = channel.lock().unwrap_or_else(|p| p.into_inner());
        msgs.iter()
            .map(|m| {
                seal_to_pool(&mut end, m)
                    .map_err(|e| internal(format!("sealing a message for the pool: {e}")))
            })
            .collect()
    }

    /// A `confirm` verdict: ask the wallet owner's linked Telegram account. Refused when
    /// no bot is set up or the owner has not linked an account; an integrity error when
    /// the security record is not authentic or names someone else.
    pub(crate) fn request_confirmation(
        &self,
        req: &SignRequest,
        owner: &str,
        assessment: Assessment,
    ) -> Result<SignOutcome, SignerError> {
        let refuse = |why: String| {
            let mut reasons = assessment.reasons.clone();
            reasons.push(why);
            Ok(SignOutcome::Rejected {
                summary: assessment.summary.clone(),
                reasons,
            })
        };
        if !self.telegram_ready() {
            return refuse(NO_BOT.into());
        }
        let Some(telegram_id) = self.linked_telegram_id(owner, req.security_record.as_deref())?
        else {
            return refuse(format!(
                "needs the user's confirmation in Telegram, but user {owner} has not linked a \
                 Telegram account"
            ));
        };
        let chat_id = i64::try_from(telegram_id)
            .map_err(|_| integrity("security record: Telegram id out of range".into()))?;
        let expiry = self.state().confirmations.config().expiry;
        let text = messages::confirmation_text(&req.wallet, &assessment, expiry);
        let (id, to_pool) = self.open_confirmation(
            PendingRequest {
                wallet: req.wallet,
                user_id: owner.to_owned(),
                telegram_id,
                transaction: req.transaction.clone(),
                summary: assessment.summary.clone(),
            },
            PendingSign {
                record: req.record.clone(),
                text,
                kind: Kind::Sign,
                user_id: owner.to_owned(),
                wallet: req.wallet,
            },
            chat_id,
        )?;
        Ok(SignOutcome::Pending {
            summary: assessment.summary,
            reasons: assessment.reasons,
            confirmation_id: id.to_string(),
            expires_in_secs: secs(expiry),
            to_pool,
        })
    }

    /// Creates a confirmation (a signature or an export) and seals its message for the
    /// pool. Nothing is left behind when either step fails.
    pub(crate) fn open_confirmation(
        &self,
        request: PendingRequest,
        side: PendingSign,
        chat_id: i64,
    ) -> Result<(ConfirmationId, Sealed), SignerError> {
        let text = side.text.clone();
        let created = {
            let mut st = self.state();
            let created =
                st.confirmations
                    .create(request, Instant::now())
                    .map_err(|e| match e {
                        CreateError::TooManyForUser { .. } | CreateError::TooManyPending { .. } => {
                            failed_precondition(format!(
                            "cannot ask the user now: {e}; wait until they are decided or expire"
                        ))
                        }
                        other => internal(other.to_string()),
                    })?;
            st.pending.insert(created.id, side);
            created
        };
        let msg = ToPool::SendConfirmation {
            confirmation_id: created.id.to_string(),
            chat_id,
            text,
            approve: SecretString::new(created.approve.callback_data().to_string()),
            reject: SecretString::new(created.reject.callback_data().to_string()),
        };
        match self.seal_all(std::slice::from_ref(&msg)) {
            Ok(mut v) => Ok((created.id, v.remove(0))),
            Err(e) => {
                let mut st = self.state();
                let _ = st.confirmations.fail(created.id, Instant::now());
                st.pending.remove(&created.id);
                Err(e)
            }
        }
    }

    /// Issues a one-time `/start` payload linking a Telegram account to `user_id`.
    /// A user whose authentic security record is presented is already linked and is
    /// refused (relinking must be approved from the linked account; not supported yet).
    pub fn create_link(&self, req: CreateLink) -> Result<LinkCreated, SignerError> {
        record::validate_user_id(&req.user_id).map_err(invalid)?;
        if let Some(bytes) = &req.security_record {
            let linked = self
                .keys
                .with_record_keys(|k| security::authenticate(k, bytes))
                .map_err(|e| {
                    integrity(format!(
                        "security record of user {} failed its integrity check: {e}",
                        req.user_id
                    ))
                })?;
            if linked.user_id != req.user_id {
                return Err(integrity(format!(
                    "the security record presented belongs to user {}, not to user {}; the \
                     database was altered",
                    linked.user_id, req.user_id
                )));
            }
            return Err(failed_precondition(format!(
                "user {} is already linked to a Telegram account; relinking must be approved \
                 from that account (not supported yet)",
                req.user_id
            )));
        }
        if !self.telegram_ready() {
            return Err(failed_precondition(NO_BOT_SHORT.into()));
        }
        let mut st = self.state();
        let expiry = st.links.config().expiry;
        let payload = st
            .links
            .create(&req.user_id, Instant::now())
            .map_err(|e| internal(e.to_string()))?;
        Ok(LinkCreated {
            start_payload: payload.to_string(),
            expires_in_secs: secs(expiry),
        })
    }

    /// The pool's configuration, sealed: the bot token.
    pub fn start_pool(&self) -> Result<Relay, SignerError> {
        let (Some(token), true) = (&self.bot_token, self.channel.is_some()) else {
            return Err(failed_precondition(NO_BOT_SHORT.into()));
        };
        let msg = ToPool::Configure {
            bot_token: SecretString::new(token.to_string()),
        };
        Ok(Relay {
            to_pool: self.seal_all(std::slice::from_ref(&msg))?,
            events: Vec::new(),
        })
    }

    /// Expires overdue confirmations (editing their messages) and links.
    pub fn tick(&self) -> Result<Relay, SignerError> {
        if self.channel.is_none() {
            return Ok(Relay::default());
        }
        let now = Instant::now();
        let mut events = Vec::new();
        let mut out = Vec::new();
        {
            let mut st = self.state();
            for id in st.confirmations.expire(now) {
                let side = st.pending.remove(&id);
                events.push(SignerEvent::Decided {
                    confirmation_id: id.to_string(),
                    decision: Decision::Expired,
                });
                let shown = st.confirmations.view(id).and_then(|v| v.shown);
                if let (Some((chat_id, message_id)), Some(side)) = (shown, side) {
                    out.push(ToPool::Edit {
                        chat_id,
                        message_id,
                        text: messages::outcome_text(&side.text, messages::EXPIRED_LINE),
                        button: None,
                    });
                }
            }
            let TelegramState {
                confirmations,
                pending,
                ..
            } = &mut *st;
            pending.retain(|id, _| matches!(confirmations.status(*id), Some(Status::Pending)));
            st.links.drop_expired(now);
            let (more, evs) = self.tick_second_factor(&mut st, now);
            out.extend(more);
            events.extend(evs);
        }
        Ok(Relay {
            to_pool: self.seal_all(&out)?,
            events,
        })
    }

    /// A sealed message from the pool. One that fails to open (forged, replayed,
    /// reflected, undecodable) is an integrity error and changes nothing.
    pub fn from_pool(&self, sealed: &Sealed) -> Result<Relay, SignerError> {
        let Some(channel) = &self.channel else {
            return Err(failed_precondition(NO_BOT_SHORT.into()));
        };
        let msg = {
            let mut end = channel.lock().unwrap_or_else(|p| p.into_inner());
            open_from_pool(&mut end, sealed)
        };
        let msg = msg.map_err(|e| {
            tracing::warn!(
                counter = sealed.counter,
                error = %e,
                "refused a sealed message from the pool"
            );
            integrity(format!(
                "sealed message from the pool failed authentication: {e}"
            ))
        })?;
        let (out, events) = match msg {
            ToSigner::Ready { bot_username } => {
                let name: String = bot_username.chars().take(64).collect();
                tracing::info!(bot = %name, "Telegram bot is ready");
                self.state().bot_username = Some(name);
                (Vec::new(), Vec::new())
            }
            ToSigner::Sent {
                confirmation_id,
                chat_id,
                message_id,
            } => self.on_sent(&confirmation_id, chat_id, message_id),
            ToSigner::SendFailed {
                confirmation_id,
                reason,
            } => self.on_send_failed(&confirmation_id, &reason),
            ToSigner::Press {
                callback_query_id,
                data,
                from_id,
                chat_id,
                message_id,
            } => self.on_press(callback_query_id, &data, from_id, chat_id, message_id),
            ToSigner::Start {
                payload,
                from_id,
                chat_id,
            } => self.on_start(&payload, from_id, chat_id),
            ToSigner::Text(msg) => self.on_text(msg),
            ToSigner::Page { request_id, body } => self.on_page(request_id, &body),
        };
        Ok(Relay {
            to_pool: self.seal_all(&out)?,
            events,
        })
    }

    /// The bot's username as the pool reported it, once it is running.
    pub fn bot_username(&self) -> Option<String> {
        self.state().bot_username.clone()
    }

    fn on_sent(
        &self,
        confirmation_id: &str,
        chat_id: i64,
        message_id: i64,
    ) -> (Vec<ToPool>, Vec<SignerEvent>) {
        let Some(id) = ConfirmationId::parse(confirmation_id) else {
            tracing::warn!("pool reported a sent message for a malformed confirmation id");
            return (Vec::new(), Vec::new());
        };
        let mut st = self.state();
        match st.confirmations.message_sent(id, chat_id, message_id) {
            Ok(()) => (
                Vec::new(),
                vec![SignerEvent::Shown {
                    confirmation_id: id.to_string(),
                }],
            ),
            Err(e) => {
                tracing::warn!(error = %e, chat_id, message_id, "ignored a sent-message report");
                // A message that arrived after its confirmation ended still shows live
                // buttons: replace them with the outcome.
                // (An approved one keeps its buttons: a press on them gets the
                // "already decided" alert, which is true.)
                let bound = st.confirmations.view(id).map(|v| v.telegram_id);
                let line = match st.confirmations.status(id) {
                    Some(Status::Rejected) => Some(messages::REJECTED_LINE),
                    Some(Status::Expired | Status::Failed) => Some(messages::EXPIRED_LINE),
                    Some(Status::Pending | Status::Approved { .. }) | None => None,
                };
                if let (Some(line), true) = (
                    line,
                    bound.and_then(|t| i64::try_from(t).ok()) == Some(chat_id),
                ) {
                    let text = messages::outcome_text(messages::HEADING, line);
                    return (
                        vec![ToPool::Edit {
                            chat_id,
                            message_id,
                            text,
                            button: None,
                        }],
                        Vec::new(),
                    );
                }
                (Vec::new(), Vec::new())
            }
        }
    }

    fn on_send_failed(
        &self,
        confirmation_id: &str,
        reason: &str,
    ) -> (Vec<ToPool>, Vec<SignerEvent>) {
        let Some(id) = ConfirmationId::parse(confirmation_id) else {
            tracing::warn!("pool reported a failed send for a malformed confirmation id");
            return (Vec::new(), Vec::new());
        };
        let mut st = self.state();
        match st.confirmations.fail(id, Instant::now()) {
            Ok(()) => {
                st.pending.remove(&id);
                let reason: String = reason.chars().take(300).collect();
                tracing::warn!(
                    confirmation = %id,
                    %reason,
                    "confirmation message could not be delivered"
                );
                (
                    Vec::new(),
                    vec![SignerEvent::Decided {
                        confirmation_id: id.to_string(),
                        decision: Decision::Failed {
                            reason: format!(
                                "the confirmation message could not be delivered: {reason}"
                            ),
                        },
                    }],
                )
            }
            Err(e) => {
                tracing::warn!(error = %e, "ignored a failed-send report");
                (Vec::new(), Vec::new())
            }
        }
    }

    fn on_press(
        &self,
        callback_query_id: String,
        data: &SecretString,
        from_id: u64,
        chat_id: Option<i64>,
        message_id: Option<i64>,
    ) -> (Vec<ToPool>, Vec<SignerEvent>) {
        let answer = |text: &str, show_alert: bool| ToPool::AnswerCallback {
            callback_query_id: callback_query_id.clone(),
            text: Some(text.to_owned()),
            show_alert,
        };
        // Without the message, the press cannot be matched to it: chat 0 is nobody's.
        let (chat, message) = (chat_id.unwrap_or(0), message_id.unwrap_or(0));
        let press = Press {
            data: data.expose(),
            from_telegram_id: from_id,
            chat_id: chat,
            message_id: message,
        };
        let mut st = self.state();
        let decided = match st.confirmations.press(press, Instant::now()) {
            Ok(d) => d,
            Err(e) => {
                drop(st);
                tracing::warn!(
                    error = %e,
                    from_id,
                    chat_id = chat,
                    message_id = message,
                    "refused a button press"
                );
                return (vec![answer(messages::press_alert(&e), true)], Vec::new());
            }
        };
        let id = decided.id;
        let side = st.pending.remove(&id);
        let transaction = match st.confirmations.status(id) {
            Some(Status::Approved { transaction }) => Some(transaction),
            _ => None,
        };
        let wallet = st.confirmations.view(id).map(|v| *v.wallet);
        drop(st);
        let text = side.as_ref().map_or(messages::HEADING, |s| s.text.as_str());
        let edit = |line: &str| ToPool::Edit {
            chat_id: chat,
            message_id: message,
            text: messages::outcome_text(text, line),
            button: None,
        };
        let decided_event = |decision: Decision| SignerEvent::Decided {
            confirmation_id: id.to_string(),
            decision,
        };
        match decided.decision {
            Choice::Reject => {
                tracing::info!(confirmation = %id, "rejected by the user");
                (
                    vec![
                        answer(messages::REJECTED_TOAST, false),
                        edit(messages::REJECTED_LINE),
                    ],
                    vec![decided_event(Decision::Rejected)],
                )
            }
            Choice::Approve => {
                // A second factor (or, for an export, the page) may still be needed.
                if let (Some(s), Some(tx)) = (&side, &transaction) {
                    let mut st = self.state();
                    let staged = self.after_approval(&mut st, id, s, tx, chat, message);
                    drop(st);
                    match staged {
                        Some(Ok(msgs)) => {
                            tracing::info!(confirmation = %id, "approved; waiting for the second factor");
                            let mut out = vec![answer(messages::FACTOR_TOAST, false)];
                            out.extend(msgs);
                            return (out, Vec::new());
                        }
                        Some(Err(e)) => {
                            return (
                                vec![
                                    answer(messages::FAILED_TOAST, true),
                                    edit(&messages::failed_line(&e.message)),
                                ],
                                vec![decided_event(Decision::Failed { reason: e.message })],
                            );
                        }
                        None => {}
                    }
                }
                let signed = match (&side, &transaction, &wallet) {
                    (Some(s), Some(tx), Some(w)) => self.sign_confirmed(&s.record, w, tx),
                    _ => Err(internal(
                        "the approved confirmation's request is no longer held".into(),
                    )),
                };
                match signed {
                    Ok((transaction, signature)) => {
                        tracing::info!(confirmation = %id, "approved by the user and signed");
                        let line = messages::approved_line(&signature);
                        (
                            vec![answer(messages::APPROVED_TOAST, false), edit(&line)],
                            vec![decided_event(Decision::Approved {
                                transaction,
                                signature: signature.to_vec(),
                            })],
                        )
                    }
                    Err(e) => {
                        tracing::warn!(
                            confirmation = %id,
                            error = %e.message,
                            "approved but not signed"
                        );
                        (
                            vec![
                                answer(messages::FAILED_TOAST, true),
                                edit(&messages::failed_line(&e.message)),
                            ],
                            vec![decided_event(Decision::Failed { reason: e.message })],
                        )
                    }
                }
            }
        }
    }

    fn on_start(
        &self,
        payload: &SecretString,
        from_id: u64,
        chat_id: i64,
    ) -> (Vec<ToPool>, Vec<SignerEvent>) {
        let notice = |text: &str| {
            vec![ToPool::Notice {
                chat_id,
                text: text.to_owned(),
                button: None,
            }]
        };
        if payload.expose().is_empty() {
            return (notice(messages::BARE_START_NOTICE), Vec::new());
        }
        if i64::try_from(from_id).ok() != Some(chat_id) {
            tracing::warn!(
                from_id,
                chat_id,
                "refused a /start link outside a private chat"
            );
            return (notice(messages::PRIVATE_CHAT_NOTICE), Vec::new());
        }
        let taken = self.state().links.take(payload.expose(), Instant::now());
        let user_id = match taken {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(from_id, error = %e, "refused a /start link");
                let text = match e {
                    LinkError::Expired => messages::EXPIRED_LINK_NOTICE,
                    LinkError::Unknown | LinkError::Random => messages::INVALID_LINK_NOTICE,
                };
                return (notice(text), Vec::new());
            }
        };
        let linked = SecurityRecord {
            user_id: user_id.clone(),
            telegram_id: from_id,
            revision: 1,
            linked_at_unix: now_unix(),
            flags: 0,
            secrets: None,
        };
        match self.keys.with_record_keys(|k| security::seal(k, &linked)) {
            Ok(security_record) => {
                if let Err(e) = self.hold(&mut self.state(), linked) {
                    tracing::warn!(error = %e.message, "could not hold a new link");
                }
                tracing::info!(user = %user_id, telegram_id = from_id, "Telegram account linked");
                (
                    notice(messages::LINKED_NOTICE),
                    vec![SignerEvent::Linked {
                        user_id,
                        telegram_id: from_id,
                        security_record,
                    }],
                )
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not seal a security record");
                (notice(messages::LINK_FAILED_NOTICE), Vec::new())
            }
        }
    }
}

/// The error text when Telegram is not available.
const NO_BOT_SHORT: &str = "no Telegram bot is set up (custos telegram setup)";
