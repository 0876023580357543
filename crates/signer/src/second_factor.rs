//! Second factors wired into the [`Service`]: enrolment and use of TOTP and passkeys,
//! gating of withdrawals, exports and security changes, and key export.
//!
//! * After Approve on a withdrawal, a user with a second factor must also give it: a
//!   TOTP code typed as a reply in the bot chat (the pool deletes the message once it is
//!   read) or a passkey on the Custos page (`Service::after_approval`).
//! * After Approve on an export, the key goes only to the Custos page: it makes a
//!   one-time X25519 key pair in the browser, sends the public key with the second
//!   factor, and decrypts the HPKE bundle locally.
//! * Bot commands ([`Command`]) enrol, add, remove and configure factors; anything that
//!   loosens protection needs the existing factor, and removing the last one waits out
//!   a delay (24 h by default) with a notice.
//!
//! Every change to a user's factors (including a failed code, which counts towards the
//! lock-out) re-seals their security record and hands it to the bridge as
//! [`SignerEvent::SecurityUpdated`], which it stores before relaying anything else.
//! Codes and page bodies reach the signer inside the sealed pool channel; the bridge
//! never sees them.

use crate::accounts::{Account, Loaded};
use crate::confirm::{ConfirmationId, PendingRequest};
use crate::factors::{Factors, Removal, RemovalTarget, FLAG_REQUIRE_FOR_ALL, MAX_PASSKEYS};
use crate::guard::{Action, Challenge, Enrolling, Purpose, Registration, Ticket};
use crate::messages;
use crate::service::{b58, failed_precondition, integrity, internal, Service};
use crate::telegram::{now_unix, Kind, PendingSign, TelegramState};
use crate::totp::{Enrolment, TotpError};
use custos_crypto::export::{self, ExportContext, RecipientKey};
use custos_crypto::record;
use custos_crypto::security::{self, SecurityRecord};
use custos_ipc::signer::{
    Decision, ExportRequest, ExportStarted, RecordsLoaded, SignerError, SignerEvent,
};
use custos_ipc::telegram::{SecretBytes, SecretString, TextMessage, ToPool, UrlButton};
use custos_passkey::{ApprovalBinding, PasskeyError, Uuid};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// How long the QR code (the TOTP secret) and the recovery codes stay in the chat
/// before the pool deletes them: long enough to scan and write down, short enough that
/// a later reader of the chat history finds nothing.
pub const SECRET_MESSAGE_LIFETIME_SECS: u32 = 10 * 60;

/// What the signer sends back and what the bridge must store.
pub(crate) type Out = (Vec<ToPool>, Vec<SignerEvent>);

/// A bot command typed in the private chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `/security` (also `/2fa`, `/help`): status and the commands.
    Status,
    /// `/totp`: set up (or replace) the authenticator app.
    Totp,
    /// `/passkey`: add a passkey.
    Passkey,
    /// `/remove_totp`.
    RemoveTotp,
    /// `/remove_passkeys`.
    RemovePasskeys,
    /// `/always_on`: the second factor for every signature.
    AlwaysOn,
    /// `/always_off`.
    AlwaysOff,
    /// `/cancel_removal`: keep a factor whose removal is scheduled.
    CancelRemoval,
}

impl Command {
    /// Parses `/name` or `/name@bot`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Command> {
        let word = text.split_whitespace().next()?;
        let name = word.strip_prefix('/')?;
        let name = name.split('@').next().unwrap_or(name);
        Some(match name.to_ascii_lowercase().as_str() {
            "security" | "2fa" | "help" => Command::Status,
            "totp" => Command::Totp,
            "passkey" => Command::Passkey,
            "remove_totp" => Command::RemoveTotp,
            "remove_passkeys" => Command::RemovePasskeys,
            "always_on" => Command::AlwaysOn,
            "always_off" => Command::AlwaysOff,
            "cancel_removal" => Command::CancelRemoval,
            _ => return None,
        })
    }
}

/// A second factor as given.
enum Proof<'a> {
    /// A six-digit code or a recovery code.
    Code(&'a str),
    /// A WebAuthn assertion (JSON).
    Assertion(&'a str),
}

/// Why a second factor was refused. Each is shown to the user as it is.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("{0}")]
    Totp(TotpError),
    #[error("no authenticator app is set up for this account")]
    NoTotp,
    #[error("no passkey is registered for this account")]
    NoPasskey,
    #[error("the passkey step was not started on this page; reload it")]
    NoCeremony,
    #[error("passkey refused: {0}")]
    Passkey(PasskeyError),
    #[error("this request needs your second factor")]
    Missing,
}

impl Refusal {
    fn status(&self) -> u16 {
        match self {
            Refusal::Totp(TotpError::Locked { .. }) => 429,
            Refusal::Totp(_) | Refusal::Passkey(_) => 403,
            Refusal::NoCeremony => 409,
            Refusal::NoTotp | Refusal::NoPasskey | Refusal::Missing => 400,
        }
    }
}

/// The JSON the Custos page posts.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageRequest {
    token: String,
    step: Step,
    #[serde(default)]
    totp: Option<String>,
    #[serde(default)]
    assertion: Option<Value>,
    #[serde(default)]
    credential: Option<Value>,
    #[serde(default)]
    recipient: Option<String>,
}

impl Drop for PageRequest {
    // The page token and a typed code are secrets: wipe the parsed copies.
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.token.zeroize();
        if let Some(code) = self.totp.as_mut() {
            code.zeroize();
        }
    }
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Step {
    Info,
    Submit,
}

fn page_reply(request_id: u64, status: u16, body: &Value) -> ToPool {
    ToPool::PageReply {
        request_id,
        status,
        body: SecretString::new(body.to_string()),
    }
}

fn page_error(request_id: u64, status: u16, error: &str) -> ToPool {
    page_reply(request_id, status, &json!({"ok": false, "error": error}))
}

/// The WebAuthn user handle of a user: stable, derived from the user id (which is not
/// secret), so it needs no storage.
fn user_uuid(user_id: &str) -> Uuid {
    let mut h = Sha256::new();
    h.update(b"custos/v1/passkey-user\0");
    h.update(user_id.as_bytes());
    let d: [u8; 32] = h.finalize().into();
    Uuid::from_bytes(d[..16].try_into().expect("16 bytes"))
}

/// A notice that something failed inside the signer.
fn failure(chat_id: i64, why: &str) -> ToPool {
    ToPool::Notice {
        chat_id,
        text: messages::failed_notice(why),
        button: None,
    }
}

fn chat_of(telegram_id: u64) -> i64 {
    i64::try_from(telegram_id).unwrap_or(0)
}

impl Service {
    /// The page URL for a token (`<origin>/p/#<token>`): the token is in the fragment,
    /// so it never reaches a server log.
    fn page_url(&self, token: &str) -> Option<SecretString> {
        self.page_origin
            .as_ref()
            .map(|o| SecretString::new(format!("{o}/p/#{token}")))
    }

    /// Seals an account's record again after a change (revision + 1).
    pub(crate) fn reseal(&self, acc: &mut Account) -> Result<SignerEvent, SignerError> {
        let flags = acc.factors.flags(acc.record.flags);
        let secrets = acc.factors.any().then(|| acc.factors.to_bytes());
        let record = SecurityRecord {
            revision: acc.record.revision.saturating_add(1),
            flags,
            secrets,
            ..acc.record.clone()
        };
        let bytes = self
            .keys
            .with_record_keys(|k| security::seal(k, &record))
            .map_err(|e| internal(format!("re-sealing a security record: {e}")))?;
        acc.record.revision = record.revision;
        acc.record.flags = flags;
        self.set_strict(&acc.record.user_id, acc.require_for_all());
        Ok(SignerEvent::SecurityUpdated {
            user_id: acc.record.user_id.clone(),
            revision: record.revision,
            security_record: bytes,
        })
    }

    fn set_strict(&self, user_id: &str, strict: bool) {
        let mut s = self.strict.write().unwrap_or_else(|p| p.into_inner());
        if strict {
            s.insert(user_id.to_owned());
        } else {
            s.remove(user_id);
        }
    }

    /// Whether every signature of `user_id` needs the second factor (hot path: one
    /// read lock and a hash lookup).
    pub(crate) fn requires_factor_always(&self, user_id: &str) -> bool {
        self.strict
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(user_id)
    }

    /// Takes an authenticated record into the held accounts (the newer of the two
    /// wins).
    pub(crate) fn hold(
        &self,
        st: &mut TelegramState,
        record: SecurityRecord,
    ) -> Result<Loaded, SignerError> {
        let user = record.user_id.clone();
        let loaded = st
            .accounts
            .load(record)
            .map_err(|e| integrity(format!("security record of user {user}: {e}")))?;
        if loaded == Loaded::Taken {
            let strict = st.accounts.get(&user).is_some_and(Account::require_for_all);
            self.set_strict(&user, strict);
        }
        Ok(loaded)
    }

    /// Loads the stored security records at start.
    pub fn load_security_records(&self, records: Vec<Vec<u8>>) -> RecordsLoaded {
        let mut out = RecordsLoaded {
            loaded: 0,
            refused: 0,
        };
        let mut st = self.state();
        for bytes in records {
            let taken = self
                .keys
                .with_record_keys(|k| security::authenticate(k, &bytes))
                .map_err(|e| integrity(e.to_string()))
                .and_then(|r| self.hold(&mut st, r));
            match taken {
                Ok(Loaded::Taken | Loaded::Same) => out.loaded += 1,
                Ok(Loaded::Older) => out.refused += 1,
                Err(e) => {
                    tracing::warn!(error = %e.message, "refused a stored security record");
                    out.refused += 1;
                }
            }
        }
        out
    }

    /// After Approve: starts the second-factor stage if this request needs it, and
    /// returns what to send; `None` when it can be signed at once.
    pub(crate) fn after_approval(
        &self,
        st: &mut TelegramState,
        id: ConfirmationId,
        side: &PendingSign,
        transaction: &[u8],
        chat: i64,
        message: i64,
    ) -> Option<Result<Vec<ToPool>, SignerError>> {
        let user = side.user_id.as_str();
        let (has_factor, has_totp, has_passkey, telegram_id) = match st.accounts.get(user) {
            Some(a) => (
                a.factors.any(),
                a.factors.totp.is_some(),
                !a.factors.passkeys.is_empty(),
                a.record.telegram_id,
            ),
            None => (false, false, false, 0),
        };
        let export = side.kind == Kind::Export;
        if !export && !has_factor {
            return None;
        }
        let expiry = st.confirmations.config().expiry;
        let now = Instant::now();
        let purpose = if export {
            Purpose::Export {
                wallet: side.wallet,
                record: side.record.clone(),
            }
        } else {
            Purpose::Sign {
                wallet: side.wallet,
                record: side.record.clone(),
                transaction: transaction.to_vec(),
            }
        };
        let challenge = Challenge {
            id: *id.as_bytes(),
            user_id: user.to_owned(),
            telegram_id,
            purpose,
            message: Some((chat, message)),
            text: side.text.clone(),
            expires: now + expiry,
            passkey: None,
            created: now,
        };
        let with_page = (export || has_passkey) && self.page_origin.is_some();
        if export && self.page_origin.is_none() {
            return Some(Err(failed_precondition(
                "no Custos page is configured (serve --page-url)".into(),
            )));
        }
        let token = match st.guard.add_challenge(challenge, with_page) {
            Ok(t) => t,
            Err(e) => return Some(Err(failed_precondition(e.to_string()))),
        };
        let button = token.and_then(|t| self.page_url(&t)).map(|url| UrlButton {
            text: if export {
                "Open the export page".into()
            } else {
                "Confirm with passkey".into()
            },
            url,
        });
        let line = if export {
            messages::export_approved_line(has_factor, expiry)
        } else {
            messages::factor_needed_line(has_totp, has_passkey, expiry)
        };
        Some(Ok(vec![ToPool::Edit {
            chat_id: chat,
            message_id: message,
            text: messages::outcome_text(&side.text, &line),
            button,
        }]))
    }

    /// Checks a second factor against an account. Whatever the result, the TOTP state
    /// may have changed (a used step, a counted failure): the caller re-seals.
    fn check_factor(
        &self,
        acc: &mut Account,
        proof: Proof<'_>,
        ceremony: Option<custos_passkey::AuthenticationState>,
        binding: &ApprovalBinding,
    ) -> Result<Option<String>, Refusal> {
        match proof {
            Proof::Code(code) => {
                let code = code.trim();
                let Some(totp) = acc.factors.totp.as_mut() else {
                    return Err(Refusal::NoTotp);
                };
                let now = now_unix();
                if code.len() == crate::totp::DIGITS {
                    totp.verify(code, now).map_err(Refusal::Totp)?;
                    Ok(None)
                } else {
                    let used = totp.use_recovery_code(code, now).map_err(Refusal::Totp)?;
                    Ok(Some(format!(
                        "A recovery code was used; {} left.",
                        used.remaining
                    )))
                }
            }
            Proof::Assertion(json) => {
                if acc.factors.passkeys.is_empty() {
                    return Err(Refusal::NoPasskey);
                }
                let Some(passkeys) = &self.passkeys else {
                    return Err(Refusal::NoPasskey);
                };
                let state = ceremony.ok_or(Refusal::NoCeremony)?;
                let approved = passkeys
                    .finish_approval(state, binding, json)
                    .map_err(Refusal::Passkey)?;
                if let Some(p) = acc
                    .factors
                    .passkeys
                    .iter_mut()
                    .find(|p| p.credential_id() == approved.credential_id.as_slice())
                {
                    p.record_approval(&approved).map_err(Refusal::Passkey)?;
                }
                Ok(None)
            }
        }
    }

    /// A text message in the bot chat: a command or a code.
    pub(crate) fn on_text(&self, msg: TextMessage) -> Out {
        let chat = msg.chat_id;
        let notice = |text: String| ToPool::Notice {
            chat_id: chat,
            text,
            button: None,
        };
        if i64::try_from(msg.from_id).ok() != Some(chat) {
            return (Vec::new(), Vec::new());
        }
        let mut st = self.state();
        let Some(user) = st.accounts.user_of(msg.from_id).map(str::to_owned) else {
            return (vec![notice(messages::NOT_LINKED_NOTICE.into())], Vec::new());
        };
        let text = msg.text.expose().trim();
        if let Some(cmd) = Command::parse(text) {
            return self.on_command(&mut st, &user, msg.from_id, chat, cmd);
        }
        if text.starts_with('/') {
            return (
                vec![notice(messages::UNKNOWN_COMMAND_NOTICE.into())],
                Vec::new(),
            );
        }
        // Anything else is taken as a code: delete it from the chat first, whatever
        // happens next (it is single use anyway).
        let mut out = vec![ToPool::DeleteMessage {
            chat_id: chat,
            message_id: msg.message_id,
        }];
        let mut events = Vec::new();
        let now = Instant::now();
        // An enrolment waiting for its first code comes first, unless it lapsed (the
        // tick may not have run yet) or a factor was added since it began without one:
        // finishing it would add a factor nobody proved.
        if let Some(enrolling) = st.guard.enrolment_mut(msg.from_id) {
            let lapsed = enrolling.expires <= now;
            let unguarded = enrolling.unguarded;
            let has_factor = st.accounts.get(&user).is_some_and(|a| a.factors.any());
            if lapsed || (unguarded && has_factor) {
                st.guard.take_enrolment(msg.from_id);
                if !lapsed {
                    out.push(notice(messages::ENROLMENT_VOID_NOTICE.into()));
                    return (out, events);
                }
            }
        }
        if let Some(enrolling) = st.guard.enrolment_mut(msg.from_id) {
            match enrolling.pending.confirm(text, now_unix()) {
                Ok(factor) => {
                    st.guard.take_enrolment(msg.from_id);
                    let Some(acc) = st.accounts.get_mut(&user) else {
                        return (out, events);
                    };
                    let replaced = acc.factors.totp.replace(factor).is_some();
                    acc.factors.unschedule(RemovalTarget::Totp);
                    match self.reseal(acc) {
                        Ok(ev) => events.push(ev),
                        Err(e) => {
                            out.push(notice(messages::failed_notice(&e.message)));
                            return (out, events);
                        }
                    }
                    tracing::info!(user = %user, "TOTP enrolled");
                    out.push(notice(messages::totp_enrolled_notice(replaced)));
                    return (out, events);
                }
                Err(e) => {
                    let left = enrolling.pending.attempts_left();
                    if enrolling.pending.is_closed() {
                        st.guard.take_enrolment(msg.from_id);
                    }
                    out.push(notice(messages::enrolment_refused_notice(&e, left)));
                    return (out, events);
                }
            }
        }
        let Some(id) = st.guard.newest_for_chat_code(msg.from_id, now) else {
            out.push(notice(messages::NOTHING_WAITING_NOTICE.into()));
            return (out, events);
        };
        let binding = {
            let c = st.guard.challenge_mut(&id).expect("just found");
            ApprovalBinding {
                confirmation_id: id,
                transaction_hash: c.purpose.binding_hash(&user),
            }
        };
        let TelegramState {
            accounts, guard, ..
        } = &mut *st;
        let Some(acc) = accounts.get_mut(&user) else {
            return (out, events);
        };
        let checked = self.check_factor(acc, Proof::Code(text), None, &binding);
        let counted = match &checked {
            Ok(_) => true,
            Err(Refusal::Totp(e)) => e.counted(),
            Err(_) => false,
        };
        if counted {
            match self.reseal(acc) {
                Ok(ev) => events.push(ev),
                Err(e) => {
                    // The new counter could not be kept: refuse, to be safe.
                    out.push(notice(messages::failed_notice(&e.message)));
                    return (out, events);
                }
            }
        }
        match checked {
            Ok(note) => {
                let challenge = guard.take_challenge(&id).expect("held");
                if let Some(n) = note {
                    out.push(notice(n));
                }
                let (more, evs) = self.complete(&mut st, challenge, None);
                out.extend(more);
                events.extend(evs);
            }
            Err(r) => {
                tracing::warn!(user = %user, refusal = %r, "second factor refused");
                out.push(notice(messages::code_refused_notice(&r.to_string())));
            }
        }
        (out, events)
    }

    fn on_command(
        &self,
        st: &mut TelegramState,
        user: &str,
        telegram_id: u64,
        chat: i64,
        cmd: Command,
    ) -> Out {
        let notice = |text: String| ToPool::Notice {
            chat_id: chat,
            text,
            button: None,
        };
        let Some(acc) = st.accounts.get(user) else {
            return (vec![notice(messages::NOT_LINKED_NOTICE.into())], Vec::new());
        };
        let has = acc.factors.any();
        match cmd {
            Command::Status => (
                vec![notice(messages::status_text(
                    acc.factors.totp.is_some(),
                    acc.factors.passkeys.len(),
                    acc.require_for_all(),
                    acc.factors.removal,
                ))],
                Vec::new(),
            ),
            Command::Totp if !has => self.begin_enrolment(st, user, telegram_id, chat),
            Command::Passkey if !has => self.begin_registration(st, user, telegram_id, chat),
            Command::Passkey if self.page_origin.is_none() => {
                (vec![notice(messages::NO_PAGE_NOTICE.into())], Vec::new())
            }
            Command::Passkey if acc.factors.passkeys.len() >= MAX_PASSKEYS => (
                vec![notice(format!(
                    "You already have {MAX_PASSKEYS} passkeys; remove them first."
                ))],
                Vec::new(),
            ),
            Command::RemoveTotp if acc.factors.totp.is_none() => (
                vec![notice("No authenticator app is set up.".into())],
                Vec::new(),
            ),
            Command::RemovePasskeys if acc.factors.passkeys.is_empty() => {
                (vec![notice("No passkey is registered.".into())], Vec::new())
            }
            Command::AlwaysOff if !acc.require_for_all() => (
                vec![notice(
                    "Your second factor is not required for every signature.".into(),
                )],
                Vec::new(),
            ),
            Command::Totp
            | Command::Passkey
            | Command::RemoveTotp
            | Command::RemovePasskeys
            | Command::AlwaysOff => {
                let action = match cmd {
                    Command::Totp => Action::AddTotp,
                    Command::Passkey => Action::AddPasskey,
                    Command::RemoveTotp => Action::RemoveTotp,
                    Command::RemovePasskeys => Action::RemovePasskeys,
                    _ => Action::AlwaysOff,
                };
                self.ask_factor_for(st, user, telegram_id, chat, action)
            }
            Command::AlwaysOn if !has => (
                vec![notice(
                    "Set up a second factor first (/totp or /passkey).".into(),
                )],
                Vec::new(),
            ),
            Command::AlwaysOn => {
                let acc = st.accounts.get_mut(user).expect("held");
                acc.record.flags |= FLAG_REQUIRE_FOR_ALL;
                match self.reseal(acc) {
                    Ok(ev) => (vec![notice(messages::ALWAYS_ON_NOTICE.into())], vec![ev]),
                    Err(e) => (
                        vec![notice(messages::failed_notice(&e.message))],
                        Vec::new(),
                    ),
                }
            }
            Command::CancelRemoval => {
                let acc = st.accounts.get_mut(user).expect("held");
                if acc.factors.removal.take().is_none() {
                    return (vec![notice("No removal is scheduled.".into())], Vec::new());
                }
                match self.reseal(acc) {
                    Ok(ev) => (
                        vec![notice(messages::REMOVAL_CANCELLED_NOTICE.into())],
                        vec![ev],
                    ),
                    Err(e) => (
                        vec![notice(messages::failed_notice(&e.message))],
                        Vec::new(),
                    ),
                }
            }
        }
    }

    /// A security change that needs the existing factor: asks for it.
    fn ask_factor_for(
        &self,
        st: &mut TelegramState,
        user: &str,
        telegram_id: u64,
        chat: i64,
        action: Action,
    ) -> Out {
        let acc = st.accounts.get(user).expect("held");
        let (has_totp, has_passkey) =
            (acc.factors.totp.is_some(), !acc.factors.passkeys.is_empty());
        let now = Instant::now();
        let id = match crate::guard::random_id() {
            Ok(id) => id,
            Err(e) => return (vec![failure(chat, &e.to_string())], Vec::new()),
        };
        let text = messages::action_prompt(action, has_totp, has_passkey);
        let challenge = Challenge {
            id,
            user_id: user.to_owned(),
            telegram_id,
            purpose: Purpose::Action(action),
            message: None,
            text: text.clone(),
            expires: now + crate::guard::ACTION_EXPIRY,
            passkey: None,
            created: now,
        };
        let with_page = has_passkey && self.page_origin.is_some();
        match st.guard.add_challenge(challenge, with_page) {
            Ok(token) => {
                let button = token.and_then(|t| self.page_url(&t)).map(|url| UrlButton {
                    text: "Confirm with passkey".into(),
                    url,
                });
                (
                    vec![ToPool::Notice {
                        chat_id: chat,
                        text,
                        button,
                    }],
                    Vec::new(),
                )
            }
            Err(e) => (vec![failure(chat, &e.to_string())], Vec::new()),
        }
    }

    /// Sends the QR code and URI of a new TOTP secret; the factor turns on with the
    /// first valid code.
    fn begin_enrolment(
        &self,
        st: &mut TelegramState,
        user: &str,
        telegram_id: u64,
        chat: i64,
    ) -> Out {
        // Only reached with no factor, or after the existing factor was given.
        let unguarded = !st.accounts.get(user).is_some_and(|a| a.factors.any());
        let label: String = user.chars().filter(|c| *c != ':').take(64).collect();
        let (pending, offer) = match Enrolment::begin(&label, "Custos") {
            Ok(x) => x,
            Err(e) => return (vec![failure(chat, &e.to_string())], Vec::new()),
        };
        st.guard.add_enrolment(
            telegram_id,
            Enrolling {
                user_id: user.to_owned(),
                pending,
                expires: Instant::now() + crate::guard::ENROLMENT_EXPIRY,
                unguarded,
            },
        );
        let codes: Vec<&str> = offer.recovery_codes().iter().map(|c| c.as_str()).collect();
        (
            vec![
                ToPool::SendPhoto {
                    chat_id: chat,
                    png: SecretBytes::new(offer.qr_png().to_vec()),
                    caption: SecretString::new(messages::enrolment_caption(
                        offer.uri(),
                        offer.secret_base32(),
                    )),
                    delete_after_secs: Some(SECRET_MESSAGE_LIFETIME_SECS),
                },
                ToPool::SecretNotice {
                    chat_id: chat,
                    text: SecretString::new(messages::recovery_codes_text(&codes)),
                    delete_after_secs: Some(SECRET_MESSAGE_LIFETIME_SECS),
                },
            ],
            Vec::new(),
        )
    }

    /// Sends a button to the passkey registration page.
    fn begin_registration(
        &self,
        st: &mut TelegramState,
        user: &str,
        telegram_id: u64,
        chat: i64,
    ) -> Out {
        let notice = |text: String, button: Option<UrlButton>| ToPool::Notice {
            chat_id: chat,
            text,
            button,
        };
        if self.page_origin.is_none() || self.passkeys.is_none() {
            return (
                vec![notice(messages::NO_PAGE_NOTICE.into(), None)],
                Vec::new(),
            );
        }
        let reg = Registration {
            user_id: user.to_owned(),
            telegram_id,
            expires: Instant::now() + crate::guard::ACTION_EXPIRY,
            state: None,
            unguarded: !st.accounts.get(user).is_some_and(|a| a.factors.any()),
        };
        match st.guard.add_registration(reg) {
            Ok(token) => {
                let button = self.page_url(&token).map(|url| UrlButton {
                    text: "Add a passkey".into(),
                    url,
                });
                (
                    vec![notice(messages::REGISTER_PASSKEY_NOTICE.into(), button)],
                    Vec::new(),
                )
            }
            Err(e) => (
                vec![notice(messages::failed_notice(&e.to_string()), None)],
                Vec::new(),
            ),
        }
    }

    /// A challenge passed its second factor: does what it unlocks. `recipient` is the
    /// browser's key for an export.
    fn complete(
        &self,
        st: &mut TelegramState,
        challenge: Challenge,
        recipient: Option<&RecipientKey>,
    ) -> Out {
        let user = challenge.user_id.clone();
        let chat = chat_of(challenge.telegram_id);
        let edit = |line: &str| {
            challenge.message.map(|(chat_id, message_id)| ToPool::Edit {
                chat_id,
                message_id,
                text: messages::outcome_text(&challenge.text, line),
                button: None,
            })
        };
        let decided = |decision: Decision| SignerEvent::Decided {
            confirmation_id: ConfirmationId::from_bytes(challenge.id).to_string(),
            decision,
        };
        match &challenge.purpose {
            Purpose::Sign {
                wallet,
                record,
                transaction,
            } => match self.sign_confirmed(record, wallet, transaction) {
                Ok((transaction, signature)) => {
                    tracing::info!(user = %user, "approved with the second factor and signed");
                    (
                        edit(&messages::approved_line(&signature))
                            .into_iter()
                            .collect(),
                        vec![decided(Decision::Approved {
                            transaction,
                            signature: signature.to_vec(),
                        })],
                    )
                }
                Err(e) => (
                    edit(&messages::failed_line(&e.message))
                        .into_iter()
                        .collect(),
                    vec![decided(Decision::Failed { reason: e.message })],
                ),
            },
            Purpose::Export { .. } => {
                // Exports complete only on the page (see `submit`).
                let _ = recipient;
                (Vec::new(), Vec::new())
            }
            Purpose::Action(action) => {
                let (out, events) =
                    self.apply_action(st, &user, challenge.telegram_id, chat, *action);
                (out, events)
            }
        }
    }

    fn apply_action(
        &self,
        st: &mut TelegramState,
        user: &str,
        telegram_id: u64,
        chat: i64,
        action: Action,
    ) -> Out {
        let notice = |text: String| ToPool::Notice {
            chat_id: chat,
            text,
            button: None,
        };
        match action {
            Action::AddTotp => self.begin_enrolment(st, user, telegram_id, chat),
            Action::AddPasskey => self.begin_registration(st, user, telegram_id, chat),
            Action::RemoveTotp | Action::RemovePasskeys | Action::AlwaysOff => {
                let delay = self.removal_delay;
                let Some(acc) = st.accounts.get_mut(user) else {
                    return (Vec::new(), Vec::new());
                };
                let text = match action {
                    Action::AlwaysOff => {
                        acc.record.flags &= !FLAG_REQUIRE_FOR_ALL;
                        messages::ALWAYS_OFF_NOTICE.to_owned()
                    }
                    _ => {
                        let target = if action == Action::RemoveTotp {
                            RemovalTarget::Totp
                        } else {
                            RemovalTarget::Passkeys
                        };
                        let last = match target {
                            RemovalTarget::Totp => acc.factors.passkeys.is_empty(),
                            RemovalTarget::Passkeys => acc.factors.totp.is_none(),
                        };
                        if last {
                            let now = now_unix();
                            let at = now.saturating_add(delay.as_secs());
                            acc.factors.removal = Some(Removal {
                                target,
                                effective_at: at,
                                requested_at: now,
                            });
                            messages::removal_scheduled_notice(target, at)
                        } else {
                            remove(&mut acc.factors, target);
                            messages::removed_notice(target)
                        }
                    }
                };
                match self.reseal(acc) {
                    Ok(ev) => (vec![notice(text)], vec![ev]),
                    Err(e) => (
                        vec![notice(messages::failed_notice(&e.message))],
                        Vec::new(),
                    ),
                }
            }
        }
    }

    /// A request from the Custos page.
    pub(crate) fn on_page(&self, request_id: u64, body: &SecretString) -> Out {
        let req: PageRequest = match serde_json::from_str(body.expose()) {
            Ok(r) => r,
            Err(_) => {
                return (
                    vec![page_error(request_id, 400, "malformed request")],
                    Vec::new(),
                )
            }
        };
        let mut st = self.state();
        let Some(ticket) = st.guard.ticket(&req.token) else {
            return (
                vec![page_error(
                    request_id,
                    404,
                    "this link is no longer valid: it was used, it expired, or Custos restarted",
                )],
                Vec::new(),
            );
        };
        if st.guard.is_overdue(ticket, Instant::now()) {
            return (
                vec![page_error(request_id, 410, "this request has expired")],
                Vec::new(),
            );
        }
        if let Ticket::Register(id) = ticket {
            let TelegramState {
                accounts, guard, ..
            } = &mut *st;
            let void = guard.registration_mut(&id).is_some_and(|reg| {
                reg.unguarded && accounts.get(&reg.user_id).is_some_and(|a| a.factors.any())
            });
            if void {
                st.guard.take_registration(&id);
                return (
                    vec![page_error(request_id, 409, messages::REGISTRATION_VOID)],
                    Vec::new(),
                );
            }
        }
        match (ticket, req.step) {
            (Ticket::Register(id), Step::Info) => self.register_info(&mut st, request_id, id),
            (Ticket::Register(id), Step::Submit) => {
                self.register_submit(&mut st, request_id, id, req.credential.as_ref())
            }
            (Ticket::Challenge(id), Step::Info) => self.challenge_info(&mut st, request_id, id),
            (Ticket::Challenge(id), Step::Submit) => {
                self.challenge_submit(&mut st, request_id, id, &req)
            }
        }
    }

    fn register_info(&self, st: &mut TelegramState, request_id: u64, id: [u8; 16]) -> Out {
        let Some(passkeys) = &self.passkeys else {
            return (
                vec![page_error(request_id, 400, messages::NO_PAGE_NOTICE)],
                vec![],
            );
        };
        let TelegramState {
            accounts, guard, ..
        } = st;
        let Some(reg) = guard.registration_mut(&id) else {
            return (
                vec![page_error(request_id, 404, "unknown registration")],
                vec![],
            );
        };
        let existing = accounts
            .get(&reg.user_id)
            .map(|a| a.factors.passkeys.clone())
            .unwrap_or_default();
        match passkeys.begin_registration(&reg.user_id, user_uuid(&reg.user_id), &existing) {
            Ok((options, state)) => {
                reg.state = Some(state);
                let options: Value = serde_json::from_str(&options).unwrap_or(Value::Null);
                let secs = reg
                    .expires
                    .saturating_duration_since(Instant::now())
                    .as_secs();
                (
                    vec![page_reply(
                        request_id,
                        200,
                        &json!({
                            "kind": "register",
                            "title": "Add a passkey",
                            "text": format!("Register a passkey for {} on this device. It will be needed to approve withdrawals, exports and security changes.", reg.user_id),
                            "wallet": null,
                            "confirmation_id": null,
                            "totp": false,
                            "passkey": options,
                            "expires_in_secs": secs,
                        }),
                    )],
                    vec![],
                )
            }
            Err(e) => (vec![page_error(request_id, 500, &e.to_string())], vec![]),
        }
    }

    fn register_submit(
        &self,
        st: &mut TelegramState,
        request_id: u64,
        id: [u8; 16],
        credential: Option<&Value>,
    ) -> Out {
        let Some(passkeys) = &self.passkeys else {
            return (
                vec![page_error(request_id, 400, messages::NO_PAGE_NOTICE)],
                vec![],
            );
        };
        let Some(credential) = credential else {
            return (
                vec![page_error(
                    request_id,
                    400,
                    "missing the passkey credential",
                )],
                vec![],
            );
        };
        let Some(reg) = st.guard.registration_mut(&id) else {
            return (
                vec![page_error(request_id, 404, "unknown registration")],
                vec![],
            );
        };
        let Some(state) = reg.state.take() else {
            return (
                vec![page_error(
                    request_id,
                    409,
                    "registration was not started; reload the page",
                )],
                vec![],
            );
        };
        let user = reg.user_id.clone();
        let telegram_id = reg.telegram_id;
        let stored = match passkeys.finish_registration(state, &credential.to_string()) {
            Ok(p) => p,
            Err(e) => {
                // The ceremony is spent; the page can start a new one with "info".
                tracing::warn!(user = %user, error = %e, "passkey registration refused");
                return (
                    vec![page_error(
                        request_id,
                        403,
                        &format!("passkey refused: {e}"),
                    )],
                    vec![],
                );
            }
        };
        st.guard.take_registration(&id);
        let Some(acc) = st.accounts.get_mut(&user) else {
            return (vec![page_error(request_id, 404, "unknown user")], vec![]);
        };
        if acc.factors.passkeys.len() >= MAX_PASSKEYS {
            return (
                vec![page_error(request_id, 409, "too many passkeys")],
                vec![],
            );
        }
        acc.factors.passkeys.push(stored);
        acc.factors.unschedule(RemovalTarget::Passkeys);
        match self.reseal(acc) {
            Ok(ev) => {
                tracing::info!(user = %user, "passkey registered");
                (
                    vec![
                        page_reply(
                            request_id,
                            200,
                            &json!({"ok": true, "message": "Passkey added. You can close this page."}),
                        ),
                        ToPool::Notice {
                            chat_id: chat_of(telegram_id),
                            text: messages::PASSKEY_ADDED_NOTICE.into(),
                            button: None,
                        },
                    ],
                    vec![ev],
                )
            }
            Err(e) => (vec![page_error(request_id, 500, &e.message)], vec![]),
        }
    }

    fn challenge_info(&self, st: &mut TelegramState, request_id: u64, id: [u8; 16]) -> Out {
        let TelegramState {
            accounts, guard, ..
        } = st;
        let Some(c) = guard.challenge_mut(&id) else {
            return (vec![page_error(request_id, 404, "unknown request")], vec![]);
        };
        let Some(acc) = accounts.get(&c.user_id) else {
            return (vec![page_error(request_id, 404, "unknown user")], vec![]);
        };
        let mut passkey = Value::Null;
        if let (false, Some(passkeys)) = (acc.factors.passkeys.is_empty(), &self.passkeys) {
            let binding = ApprovalBinding {
                confirmation_id: id,
                transaction_hash: c.purpose.binding_hash(&c.user_id),
            };
            match passkeys.begin_approval(&acc.factors.passkeys, &binding) {
                Ok((options, state)) => {
                    c.passkey = Some(state);
                    passkey = serde_json::from_str(&options).unwrap_or(Value::Null);
                }
                Err(e) => return (vec![page_error(request_id, 500, &e.to_string())], vec![]),
            }
        }
        let (kind, title, wallet) = match &c.purpose {
            Purpose::Sign { wallet, .. } => ("approve", "Approve a transaction", Some(b58(wallet))),
            Purpose::Export { wallet, .. } => ("export", "Export a private key", Some(b58(wallet))),
            Purpose::Action(_) => ("approve", "Confirm a security change", None),
        };
        let secs = c
            .expires
            .saturating_duration_since(Instant::now())
            .as_secs();
        let confirmation = match c.purpose {
            Purpose::Action(_) => Value::Null,
            _ => json!(ConfirmationId::from_bytes(id).to_string()),
        };
        let text = messages::page_text(&c.text);
        (
            vec![page_reply(
                request_id,
                200,
                &json!({
                    "kind": kind,
                    "title": title,
                    "text": text,
                    "wallet": wallet,
                    "confirmation_id": confirmation,
                    "totp": acc.factors.totp.is_some(),
                    "passkey": passkey,
                    "expires_in_secs": secs,
                }),
            )],
            vec![],
        )
    }

    fn challenge_submit(
        &self,
        st: &mut TelegramState,
        request_id: u64,
        id: [u8; 16],
        req: &PageRequest,
    ) -> Out {
        let Some(c) = st.guard.challenge_mut(&id) else {
            return (vec![page_error(request_id, 404, "unknown request")], vec![]);
        };
        let user = c.user_id.clone();
        let export = matches!(c.purpose, Purpose::Export { .. });
        // Check the export request fully before the factor, so a tampered request
        // spends nothing.
        let recipient = if export {
            match req.recipient.as_deref().map(RecipientKey::from_base64url) {
                Some(Ok(k)) => Some(k),
                Some(Err(e)) => {
                    return (
                        vec![page_error(
                            request_id,
                            400,
                            &format!("bad browser key: {e}"),
                        )],
                        vec![],
                    )
                }
                None => {
                    return (
                        vec![page_error(
                            request_id,
                            400,
                            "missing the browser's public key",
                        )],
                        vec![],
                    )
                }
            }
        } else {
            if req.recipient.is_some() {
                return (
                    vec![page_error(
                        request_id,
                        400,
                        "a browser key is only for exports",
                    )],
                    vec![],
                );
            }
            None
        };
        let binding = ApprovalBinding {
            confirmation_id: id,
            transaction_hash: c.purpose.binding_hash(&user),
        };
        let assertion = req.assertion.as_ref().map(Value::to_string);
        let proof = match (&req.totp, &assertion) {
            (Some(code), None) => Some(Proof::Code(code)),
            (None, Some(a)) => Some(Proof::Assertion(a)),
            (None, None) => None,
            (Some(_), Some(_)) => {
                return (
                    vec![page_error(
                        request_id,
                        400,
                        "give a code or a passkey, not both",
                    )],
                    vec![],
                )
            }
        };
        let ceremony = if matches!(proof, Some(Proof::Assertion(_))) {
            c.passkey.take()
        } else {
            None
        };
        let mut events = Vec::new();
        let mut out = Vec::new();
        {
            let Some(acc) = st.accounts.get_mut(&user) else {
                return (vec![page_error(request_id, 404, "unknown user")], vec![]);
            };
            match proof {
                None if acc.factors.any() => {
                    return (
                        vec![page_error(request_id, 400, &Refusal::Missing.to_string())],
                        vec![],
                    )
                }
                None => {}
                Some(proof) => {
                    let checked = self.check_factor(acc, proof, ceremony, &binding);
                    let counted = match &checked {
                        Ok(_) => true,
                        Err(Refusal::Totp(e)) => e.counted(),
                        Err(Refusal::Passkey(_)) => false,
                        Err(_) => false,
                    };
                    if counted || (checked.is_ok() && !acc.factors.passkeys.is_empty()) {
                        match self.reseal(acc) {
                            Ok(ev) => events.push(ev),
                            Err(e) => {
                                return (vec![page_error(request_id, 500, &e.message)], vec![])
                            }
                        }
                    }
                    if let Err(r) = checked {
                        tracing::warn!(user = %user, refusal = %r, "second factor refused on the page");
                        out.push(page_error(request_id, r.status(), &r.to_string()));
                        return (out, events);
                    }
                }
            }
        }
        let challenge = st.guard.take_challenge(&id).expect("held");
        if let (Purpose::Export { wallet, record }, Some(recipient)) =
            (&challenge.purpose, recipient.as_ref())
        {
            let (more, evs) = self.finish_export(&challenge, wallet, record, recipient, request_id);
            out.extend(more);
            events.extend(evs);
            return (out, events);
        }
        let (more, evs) = self.complete(st, challenge, None);
        out.push(page_reply(
            request_id,
            200,
            &json!({"ok": true, "message": "Confirmed. You can close this page and return to Telegram."}),
        ));
        out.extend(more);
        events.extend(evs);
        (out, events)
    }

    fn finish_export(
        &self,
        challenge: &Challenge,
        wallet: &[u8; 32],
        record_bytes: &[u8],
        recipient: &RecipientKey,
        request_id: u64,
    ) -> Out {
        let id = ConfirmationId::from_bytes(challenge.id);
        let edit = |line: &str| {
            challenge.message.map(|(chat_id, message_id)| ToPool::Edit {
                chat_id,
                message_id,
                text: messages::outcome_text(&challenge.text, line),
                button: None,
            })
        };
        let failed = |reason: String| -> Out {
            (
                std::iter::once(page_error(request_id, 500, &reason))
                    .chain(edit(&messages::export_failed_line(&reason)))
                    .collect(),
                vec![SignerEvent::Decided {
                    confirmation_id: id.to_string(),
                    decision: Decision::Failed { reason },
                }],
            )
        };
        let rec = match self.wallet_record(wallet, record_bytes) {
            Ok(r) => r,
            Err(e) => return failed(e.message),
        };
        let seed = match self.keys.with_record_keys(|k| rec.open(k)) {
            Ok(s) => s,
            Err(e) => return failed(format!("sealed key failed to open: {e}")),
        };
        let context = ExportContext {
            wallet: *wallet,
            confirmation_id: challenge.id,
        };
        let bundle = match export::seal_export(recipient, &context, &seed) {
            Ok(b) => b,
            Err(e) => return failed(format!("encrypting the key failed: {e}")),
        };
        let mut header = rec.header.clone();
        header.flags |= record::FLAG_EXPORTED;
        header.revision = header.revision.saturating_add(1);
        let new_record = match self
            .keys
            .with_record_keys(|k| record::seal(k, &header, &seed))
        {
            Ok(r) => r,
            Err(e) => return failed(format!("re-sealing the wallet record failed: {e}")),
        };
        drop(seed);
        tracing::info!(user = %challenge.user_id, wallet = %b58(wallet), "key exported");
        let bundle: Value = serde_json::from_str(&bundle.to_json()).unwrap_or(Value::Null);
        (
            std::iter::once(page_reply(
                request_id,
                200,
                &json!({
                    "ok": true,
                    "message": "The key was encrypted to this browser. Decrypted here, on this page only.",
                    "bundle": bundle,
                }),
            ))
            .chain(edit(&messages::exported_line()))
            .collect(),
            vec![SignerEvent::Decided {
                confirmation_id: id.to_string(),
                decision: Decision::Exported {
                    record: new_record,
                    flags: header.flags,
                },
            }],
        )
    }

    /// Expires waiting challenges and applies removals that are due.
    pub(crate) fn tick_second_factor(&self, st: &mut TelegramState, now: Instant) -> Out {
        let mut out = Vec::new();
        let mut events = Vec::new();
        for c in st.guard.expire(now) {
            match c.purpose {
                Purpose::Sign { .. } | Purpose::Export { .. } => {
                    events.push(SignerEvent::Decided {
                        confirmation_id: ConfirmationId::from_bytes(c.id).to_string(),
                        decision: Decision::Expired,
                    });
                    if let Some((chat_id, message_id)) = c.message {
                        out.push(ToPool::Edit {
                            chat_id,
                            message_id,
                            text: messages::outcome_text(&c.text, messages::FACTOR_EXPIRED_LINE),
                            button: None,
                        });
                    }
                }
                Purpose::Action(_) => {}
            }
        }
        for user in st.accounts.removals_due(now_unix()) {
            let Some(acc) = st.accounts.get_mut(&user) else {
                continue;
            };
            let Some(removal) = acc.factors.removal.take() else {
                continue;
            };
            remove(&mut acc.factors, removal.target);
            match self.reseal(acc) {
                Ok(ev) => {
                    tracing::info!(user = %user, "scheduled second-factor removal applied");
                    events.push(ev);
                    out.push(ToPool::Notice {
                        chat_id: chat_of(acc.record.telegram_id),
                        text: messages::removed_notice(removal.target),
                        button: None,
                    });
                }
                Err(e) => {
                    // Keep it scheduled; try again on the next tick.
                    acc.factors.removal = Some(removal);
                    tracing::error!(error = %e.message, "could not apply a scheduled removal");
                }
            }
        }
        (out, events)
    }

    /// Starts an export: asks the owner in Telegram.
    pub fn export(&self, req: ExportRequest) -> Result<ExportStarted, SignerError> {
        let wallet = self.wallet_record(&req.wallet, &req.record)?;
        if self.page_origin.is_none() {
            return Err(failed_precondition(
                "exports need the Custos page, and none is configured (serve --page-url)".into(),
            ));
        }
        if !self.telegram_ready() {
            return Err(failed_precondition(
                "exports need the user's confirmation in Telegram, but no Telegram bot is set up"
                    .into(),
            ));
        }
        let owner = wallet.header.user_id.clone();
        let telegram_id = self.linked_telegram_id(&owner, req.security_record.as_deref())?;
        let Some(telegram_id) = telegram_id else {
            return Err(failed_precondition(format!(
                "user {owner} has not linked a Telegram account, so nobody can approve the export"
            )));
        };
        let expiry = self.state().confirmations.config().expiry;
        let (id, to_pool) = self.open_confirmation(
            PendingRequest {
                wallet: req.wallet,
                user_id: owner.clone(),
                telegram_id,
                transaction: Vec::new(),
                summary: "Export the private key".into(),
            },
            PendingSign {
                record: req.record.clone(),
                text: messages::export_text(&req.wallet, expiry),
                kind: Kind::Export,
                user_id: owner,
                wallet: req.wallet,
            },
            chat_of(telegram_id),
        )?;
        Ok(ExportStarted {
            confirmation_id: id.to_string(),
            expires_in_secs: u32::try_from(expiry.as_secs()).unwrap_or(u32::MAX),
            to_pool,
        })
    }

    /// The Telegram account linked to `owner`: from the record presented (authenticated,
    /// and taken if newer) or the one held. An integrity error if the presented record
    /// is not authentic or names someone else.
    pub(crate) fn linked_telegram_id(
        &self,
        owner: &str,
        presented: Option<&[u8]>,
    ) -> Result<Option<u64>, SignerError> {
        let mut st = self.state();
        if let Some(bytes) = presented {
            let rec = self
                .keys
                .with_record_keys(|k| security::authenticate(k, bytes))
                .map_err(|e| {
                    integrity(format!(
                        "security record of user {owner} failed its integrity check: {e}"
                    ))
                })?;
            if rec.user_id != owner {
                return Err(integrity(format!(
                    "the security record presented belongs to user {}, not to user {owner}; \
                     the database was altered",
                    rec.user_id
                )));
            }
            if self.hold(&mut st, rec)? == Loaded::Older {
                tracing::warn!(user = %owner, "an older security record was presented; the newer one held stands");
            }
        }
        Ok(st.accounts.get(owner).map(|a| a.record.telegram_id))
    }
}

fn remove(factors: &mut Factors, target: RemovalTarget) {
    match target {
        RemovalTarget::Totp => factors.totp = None,
        RemovalTarget::Passkeys => factors.passkeys.clear(),
    }
    factors.unschedule(target);
}

/// How long the removal of a user's last factor waits (default).
pub const DEFAULT_REMOVAL_DELAY: Duration =
    Duration::from_secs(crate::factors::DEFAULT_REMOVAL_DELAY_SECS);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_and_without_the_bot_name() {
        assert_eq!(Command::parse("/totp"), Some(Command::Totp));
        assert_eq!(Command::parse("/TOTP@CustosBot"), Some(Command::Totp));
        assert_eq!(Command::parse("  /2fa  "), Some(Command::Status));
        assert_eq!(
            Command::parse("/remove_passkeys now"),
            Some(Command::RemovePasskeys)
        );
        assert_eq!(Command::parse("/nope"), None);
        assert_eq!(Command::parse("123456"), None);
    }

    #[test]
    fn user_handles_are_stable_and_distinct() {
        assert_eq!(user_uuid("alice"), user_uuid("alice"));
        assert_ne!(user_uuid("alice"), user_uuid("bob"));
    }
}
