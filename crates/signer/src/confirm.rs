//! The signer's confirmation state machine (see `docs/CONFIRMATIONS.md`).
//!
//! A `confirm` verdict becomes a [`Confirmations::create`] entry: a random id the backend
//! may see, the transaction bytes waiting for the user, the Telegram user bound to the
//! wallet (from its authenticated security record), an expiry, and two single-use button
//! tokens (Approve, Reject). The tokens are the `callback_data` of the buttons: 16 bytes
//! from the OS CSPRNG, base64url without padding (22 characters). They are secrets: only
//! the signer and the pool (over the sealed channel) ever hold them, never the bridge or
//! the backend; they zeroize on drop and their `Debug` output is redacted.
//!
//! A press ([`Confirmations::press`]) is accepted only if its data is exactly a token
//! this store issued (compared in constant time against every stored token, without
//! stopping at the first match), the confirmation is still pending and unexpired, the
//! press comes from the bound Telegram user, on the chat and message the buttons were
//! shown on ([`Confirmations::message_sent`]). Any decision kills both tokens. A refused
//! press changes nothing (except that a press on an overdue confirmation records its
//! expiry, as [`Confirmations::expire`] would), and its error names no token, so it is
//! safe to log.
//!
//! Time is passed in by the caller (a monotonic [`Instant`]), so the module has no
//! threads, no I/O and no clock of its own; tests control time. Decided and expired
//! entries are kept for [`ConfirmConfig::retain_for`] and at most
//! [`ConfirmConfig::max_retained`] of them, so `AwaitDecision` can still read the
//! outcome; then they are dropped, and memory stays bounded.
//!
//! The service ([`crate::telegram`]) creates confirmations for `confirm` verdicts and
//! feeds them the pool's delivery reports and presses over the sealed channel.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq, ConstantTimeGreater};
use zeroize::Zeroizing;

/// Bytes in a confirmation id.
pub const ID_LEN: usize = 16;
/// Random bytes in a button token.
pub const TOKEN_LEN: usize = 16;
/// Characters in a button token's `callback_data` (base64url, no padding).
pub const CALLBACK_DATA_LEN: usize = 22;

/// Limits and lifetimes of the confirmation store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmConfig {
    /// How long a confirmation waits for the user (default 5 minutes).
    pub expiry: Duration,
    /// Pending confirmations held at once, all users together.
    pub max_pending_total: usize,
    /// Pending confirmations held at once for one user.
    pub max_pending_per_user: usize,
    /// How long a decided or expired confirmation stays readable (default 10 minutes).
    pub retain_for: Duration,
    /// At most this many decided or expired confirmations are kept; the oldest go first.
    pub max_retained: usize,
}

impl Default for ConfirmConfig {
    fn default() -> Self {
        ConfirmConfig {
            expiry: Duration::from_secs(5 * 60),
            max_pending_total: 10_000,
            max_pending_per_user: 8,
            retain_for: Duration::from_secs(10 * 60),
            max_retained: 10_000,
        }
    }
}

/// A confirmation's public identifier (16 random bytes, shown as 32 lowercase hex digits).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfirmationId([u8; ID_LEN]);

impl ConfirmationId {
    /// The id from its bytes.
    pub fn from_bytes(bytes: [u8; ID_LEN]) -> Self {
        ConfirmationId(bytes)
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; ID_LEN] {
        &self.0
    }

    /// Parses the 32-hex-digit form (either case); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.as_bytes();
        if text.len() != 2 * ID_LEN {
            return None;
        }
        let mut out = [0u8; ID_LEN];
        for (i, pair) in text.chunks_exact(2).enumerate() {
            let hi = hex_value(pair[0])?;
            let lo = hex_value(pair[1])?;
            out[i] = (hi << 4) | lo;
        }
        Some(ConfirmationId(out))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for ConfirmationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ConfirmationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConfirmationId({self})")
    }
}

/// A button's single-use token.
///
/// Secret: zeroized on drop; no `Debug`.
pub struct ButtonToken(Zeroizing<[u8; TOKEN_LEN]>);

impl ButtonToken {
    /// The button's `callback_data`: 22 characters of base64url without padding.
    /// Goes only into a message sealed to the pool.
    pub fn callback_data(&self) -> Zeroizing<String> {
        encode_token(&self.0)
    }
}

/// What a confirmation waits on, as the signer knows it when the verdict is `confirm`.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingRequest {
    /// The wallet that would sign.
    pub wallet: [u8; 32],
    /// The backend's user id (owner of the wallet).
    pub user_id: String,
    /// The Telegram user bound to the user, from the authenticated security record.
    pub telegram_id: u64,
    /// The transaction to sign once approved (wire bytes).
    pub transaction: Vec<u8>,
    /// What the user is shown (the rendered description).
    pub summary: String,
}

impl fmt::Debug for PendingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingRequest")
            .field("wallet", &bs58::encode(self.wallet).into_string())
            .field("user_id", &self.user_id)
            .field("telegram_id", &self.telegram_id)
            .field("transaction_len", &self.transaction.len())
            .field("summary_len", &self.summary.len())
            .finish()
    }
}

/// A new confirmation: its id, its two button tokens and when it expires. `Debug` skips
/// the tokens.
pub struct Created {
    /// The public id (returned to the backend as `Pending { confirmation_id }`).
    pub id: ConfirmationId,
    /// The Approve button's token.
    pub approve: ButtonToken,
    /// The Reject button's token.
    pub reject: ButtonToken,
    /// When it expires unless decided.
    pub expires_at: Instant,
}

impl fmt::Debug for Created {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Created")
            .field("id", &self.id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why a confirmation was not created; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    /// The user already has the maximum number of pending confirmations.
    #[error("user {user_id} already has {limit} pending confirmations")]
    TooManyForUser {
        /// The user.
        user_id: String,
        /// The per-user limit.
        limit: usize,
    },
    /// The store already holds the maximum number of pending confirmations.
    #[error("{limit} confirmations are already pending")]
    TooManyPending {
        /// The overall limit.
        limit: usize,
    },
    /// `now + expiry` is not representable.
    #[error("confirmation expiry is out of range")]
    ExpiryOutOfRange,
    /// The OS CSPRNG failed.
    #[error("{0}")]
    Random(String),
}

/// Why `message_sent` was refused; nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// No such confirmation (never created, or already dropped).
    #[error("confirmation {0} is unknown")]
    UnknownId(ConfirmationId),
    /// The confirmation is no longer pending.
    #[error("confirmation {0} is no longer pending")]
    NotPending(ConfirmationId),
    /// Its message was already recorded.
    #[error("confirmation {0} was already shown")]
    AlreadyShown(ConfirmationId),
    /// The chat is not the bound user's private chat.
    #[error("confirmation {0} was shown in a chat other than the bound user's")]
    WrongChat(ConfirmationId),
}

/// A button press as the pool reports it.
#[derive(Clone, Copy)]
pub struct Press<'a> {
    /// The raw `callback_data` (anything a client sent; possibly a token).
    pub data: &'a str,
    /// The Telegram user who pressed.
    pub from_telegram_id: u64,
    /// The chat of the message the button was on.
    pub chat_id: i64,
    /// The message the button was on.
    pub message_id: i64,
}

impl fmt::Debug for Press<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Press")
            .field("data", &"<redacted>")
            .field("from_telegram_id", &self.from_telegram_id)
            .field("chat_id", &self.chat_id)
            .field("message_id", &self.message_id)
            .finish()
    }
}

/// The user's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Sign it.
    Approve,
    /// Refuse it.
    Reject,
}

/// An accepted press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decided {
    /// The confirmation decided.
    pub id: ConfirmationId,
    /// What the user chose.
    pub decision: Decision,
}

/// Why a press was refused. Names no token, so it is safe to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PressError {
    /// The data is not a token this store holds (forged, malformed or long dropped).
    #[error("callback data is not a known button token")]
    UnknownToken,
    /// The confirmation was already approved or rejected.
    #[error("confirmation {0} was already decided")]
    AlreadyDecided(ConfirmationId),
    /// The confirmation expired.
    #[error("confirmation {0} expired")]
    Expired(ConfirmationId),
    /// Pressed by a Telegram user other than the bound one.
    #[error("confirmation {id} was pressed by Telegram user {from}, not the bound user")]
    WrongUser {
        /// The confirmation.
        id: ConfirmationId,
        /// The Telegram user who pressed.
        from: u64,
    },
    /// Pressed on a chat or message other than the one the buttons were shown on.
    #[error("confirmation {0} was pressed on another chat or message")]
    WrongMessage(ConfirmationId),
}

/// A confirmation's state, as `AwaitDecision` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Waiting for the user.
    Pending,
    /// Approved: sign these bytes.
    Approved {
        /// The transaction to sign (wire bytes, as given to `create`).
        transaction: Vec<u8>,
    },
    /// The user rejected it.
    Rejected,
    /// Nobody decided in time.
    Expired,
    /// It could not be completed (the message could not be delivered).
    Failed,
}

/// What is known about a confirmation, for rendering and routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View<'a> {
    /// The wallet that would sign.
    pub wallet: &'a [u8; 32],
    /// The backend's user id.
    pub user_id: &'a str,
    /// The bound Telegram user.
    pub telegram_id: u64,
    /// The description shown to the user.
    pub summary: &'a str,
    /// When it expires (or expired) unless decided.
    pub expires_at: Instant,
    /// Where the buttons were shown: `(chat_id, message_id)`.
    pub shown: Option<(i64, i64)>,
}

enum State {
    Pending { transaction: Vec<u8> },
    Approved { transaction: Vec<u8> },
    Rejected,
    Expired,
    Failed,
}

struct Entry {
    wallet: [u8; 32],
    user_id: String,
    telegram_id: u64,
    summary: String,
    approve: Zeroizing<[u8; TOKEN_LEN]>,
    reject: Zeroizing<[u8; TOKEN_LEN]>,
    expires_at: Instant,
    shown: Option<(i64, i64)>,
    state: State,
}

/// The signer's confirmations: pending, and recently decided or expired.
pub struct Confirmations {
    config: ConfirmConfig,
    entries: HashMap<ConfirmationId, Entry>,
    pending_per_user: HashMap<String, usize>,
    pending_total: usize,
    /// Decided or expired entries, oldest first, with when they left `Pending`.
    finished: VecDeque<(Instant, ConfirmationId)>,
    /// Ids that expired and were not yet returned by `expire`.
    unreported: VecDeque<ConfirmationId>,
}

impl fmt::Debug for Confirmations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Confirmations")
            .field("config", &self.config)
            .field("pending", &self.pending_total)
            .field("retained", &self.finished.len())
            .finish()
    }
}

impl Confirmations {
    /// An empty store.
    pub fn new(config: ConfirmConfig) -> Self {
        Confirmations {
            config,
            entries: HashMap::new(),
            pending_per_user: HashMap::new(),
            pending_total: 0,
            finished: VecDeque::new(),
            unreported: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ConfirmConfig {
        &self.config
    }

    /// Confirmations pending now (including overdue ones not yet expired).
    pub fn pending_count(&self) -> usize {
        self.pending_total
    }

    /// Decided or expired confirmations still kept.
    pub fn retained_count(&self) -> usize {
        self.finished.len()
    }

    /// Creates a confirmation for `request`, expiring at `now + expiry`. Refused, with
    /// nothing changed, when the user or the store is at its limit (overdue
    /// confirmations are expired first, so they do not count).
    pub fn create(
        &mut self,
        request: PendingRequest,
        now: Instant,
    ) -> Result<Created, CreateError> {
        self.expire_overdue(now);
        self.drop_old(now);
        let expires_at = now
            .checked_add(self.config.expiry)
            .ok_or(CreateError::ExpiryOutOfRange)?;
        let user_pending = self
            .pending_per_user
            .get(&request.user_id)
            .copied()
            .unwrap_or(0);
        if user_pending >= self.config.max_pending_per_user {
            return Err(CreateError::TooManyForUser {
                user_id: request.user_id,
                limit: self.config.max_pending_per_user,
            });
        }
        if self.pending_total >= self.config.max_pending_total {
            return Err(CreateError::TooManyPending {
                limit: self.config.max_pending_total,
            });
        }
        let id = loop {
            let mut bytes = [0u8; ID_LEN];
            random(&mut bytes)?;
            let id = ConfirmationId(bytes);
            if !self.entries.contains_key(&id) {
                break id;
            }
        };
        let approve = fresh_token()?;
        let reject = loop {
            let t = fresh_token()?;
            if !bool::from(t.ct_eq(&*approve)) {
                break t;
            }
        };
        let created = Created {
            id,
            approve: ButtonToken(approve.clone()),
            reject: ButtonToken(reject.clone()),
            expires_at,
        };
        let PendingRequest {
            wallet,
            user_id,
            telegram_id,
            transaction,
            summary,
        } = request;
        *self.pending_per_user.entry(user_id.clone()).or_insert(0) += 1;
        self.pending_total += 1;
        self.entries.insert(
            id,
            Entry {
                wallet,
                user_id,
                telegram_id,
                summary,
                approve,
                reject,
                expires_at,
                shown: None,
                state: State::Pending { transaction },
            },
        );
        Ok(created)
    }

    /// Records the message the buttons were shown on; only presses on it count. The
    /// chat must be the bound user's private chat (its id is the user's id).
    pub fn message_sent(
        &mut self,
        id: ConfirmationId,
        chat_id: i64,
        message_id: i64,
    ) -> Result<(), MessageError> {
        let entry = self
            .entries
            .get_mut(&id)
            .ok_or(MessageError::UnknownId(id))?;
        if entry.shown == Some((chat_id, message_id)) {
            // Already learnt from a press that came first.
            return Ok(());
        }
        if !matches!(entry.state, State::Pending { .. }) {
            return Err(MessageError::NotPending(id));
        }
        if entry.shown.is_some() {
            return Err(MessageError::AlreadyShown(id));
        }
        if i64::try_from(entry.telegram_id).ok() != Some(chat_id) {
            return Err(MessageError::WrongChat(id));
        }
        entry.shown = Some((chat_id, message_id));
        Ok(())
    }

    /// Judges a button press. Accepted only for a token this store issued, on a pending,
    /// unexpired confirmation, from the bound Telegram user, on the recorded message;
    /// then both of its tokens are dead. A refusal changes nothing, except that a press
    /// on an overdue confirmation expires it.
    pub fn press(&mut self, press: Press<'_>, now: Instant) -> Result<Decided, PressError> {
        let (id, decision) = self.find_token(press.data)?;
        let entry = self.entries.get(&id).ok_or(PressError::UnknownToken)?;
        match entry.state {
            State::Pending { .. } => {}
            State::Approved { .. } | State::Rejected | State::Failed => {
                return Err(PressError::AlreadyDecided(id))
            }
            State::Expired => return Err(PressError::Expired(id)),
        }
        if now >= entry.expires_at {
            self.finish(id, now, Finish::Expired);
            self.push_unreported(id);
            return Err(PressError::Expired(id));
        }
        if press.from_telegram_id != entry.telegram_id {
            return Err(PressError::WrongUser {
                id,
                from: press.from_telegram_id,
            });
        }
        // The pool's delivery report and the user's press travel separately, so a quick
        // press can come first. The token is secret and was only ever sent to the bound
        // user's private chat, so a press from that user in that chat is accepted and
        // fixes the message; a later report naming another message is then refused.
        let private_chat = i64::try_from(entry.telegram_id).ok();
        let (chat_id, message_id) = entry
            .shown
            .unwrap_or((private_chat.unwrap_or(0), press.message_id));
        if Some(press.chat_id) != private_chat
            || press.chat_id != chat_id
            || press.message_id != message_id
        {
            return Err(PressError::WrongMessage(id));
        }
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.shown = Some((chat_id, message_id));
        }
        let finish = match decision {
            Decision::Approve => Finish::Approved,
            Decision::Reject => Finish::Rejected,
        };
        self.finish(id, now, finish);
        Ok(Decided { id, decision })
    }

    /// The confirmation's state, or `None` if unknown or dropped. An overdue confirmation
    /// reads `Pending` until [`Confirmations::expire`] (or a press) records its expiry.
    pub fn status(&self, id: ConfirmationId) -> Option<Status> {
        self.entries.get(&id).map(|e| match &e.state {
            State::Pending { .. } => Status::Pending,
            State::Approved { transaction } => Status::Approved {
                transaction: transaction.clone(),
            },
            State::Rejected => Status::Rejected,
            State::Expired => Status::Expired,
            State::Failed => Status::Failed,
        })
    }

    /// What is known about a confirmation, while it is kept.
    pub fn view(&self, id: ConfirmationId) -> Option<View<'_>> {
        self.entries.get(&id).map(|e| View {
            wallet: &e.wallet,
            user_id: &e.user_id,
            telegram_id: e.telegram_id,
            summary: &e.summary,
            expires_at: e.expires_at,
            shown: e.shown,
        })
    }

    /// Ends a pending confirmation as failed (its message could not be delivered): its
    /// tokens are dead and nothing will be signed. Refused, with nothing changed, when
    /// it is unknown or no longer pending.
    pub fn fail(&mut self, id: ConfirmationId, now: Instant) -> Result<(), MessageError> {
        let entry = self.entries.get(&id).ok_or(MessageError::UnknownId(id))?;
        if !matches!(entry.state, State::Pending { .. }) {
            return Err(MessageError::NotPending(id));
        }
        self.finish(id, now, Finish::Failed);
        Ok(())
    }

    /// Moves every overdue pending confirmation to `Expired` and returns the ids that
    /// expired since the last call (including those a `create` or a press expired), so
    /// their messages can be edited. Also drops decided and expired entries past
    /// their retention.
    pub fn expire(&mut self, now: Instant) -> Vec<ConfirmationId> {
        self.expire_overdue(now);
        self.drop_old(now);
        let ids: Vec<ConfirmationId> = self.unreported.drain(..).collect();
        ids.into_iter()
            .filter(|id| self.entries.contains_key(id))
            .collect()
    }

    /// Scans every stored token in constant time per entry, never stopping early, and
    /// returns which confirmation and button the data names.
    fn find_token(&self, data: &str) -> Result<(ConfirmationId, Decision), PressError> {
        let token = decode_token(data).ok_or(PressError::UnknownToken)?;
        let mut found = Choice::from(0);
        let mut approve = Choice::from(0);
        let mut id = [0u8; ID_LEN];
        for (entry_id, entry) in &self.entries {
            let a = entry.approve.ct_eq(&*token);
            let r = entry.reject.ct_eq(&*token);
            let hit = a | r;
            for (out, b) in id.iter_mut().zip(entry_id.0.iter()) {
                out.conditional_assign(b, hit);
            }
            approve.conditional_assign(&a, hit);
            found |= hit;
        }
        if !bool::from(found) {
            return Err(PressError::UnknownToken);
        }
        let decision = if bool::from(approve) {
            Decision::Approve
        } else {
            Decision::Reject
        };
        Ok((ConfirmationId(id), decision))
    }

    fn expire_overdue(&mut self, now: Instant) {
        let overdue: Vec<ConfirmationId> = self
            .entries
            .iter()
            .filter(|(_, e)| matches!(e.state, State::Pending { .. }) && now >= e.expires_at)
            .map(|(id, _)| *id)
            .collect();
        for id in overdue {
            self.finish(id, now, Finish::Expired);
            self.push_unreported(id);
        }
    }

    fn push_unreported(&mut self, id: ConfirmationId) {
        self.unreported.push_back(id);
        let cap = self.config.max_retained.max(1);
        while self.unreported.len() > cap {
            self.unreported.pop_front();
        }
    }

    /// Leaves `Pending`: counts drop, the transaction is kept only if approved.
    fn finish(&mut self, id: ConfirmationId, now: Instant, how: Finish) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        let State::Pending { transaction } = std::mem::replace(&mut entry.state, State::Expired)
        else {
            return;
        };
        entry.state = match how {
            Finish::Approved => State::Approved { transaction },
            Finish::Rejected => State::Rejected,
            Finish::Expired => State::Expired,
            Finish::Failed => State::Failed,
        };
        self.pending_total = self.pending_total.saturating_sub(1);
        if let Some(n) = self.pending_per_user.get_mut(&entry.user_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.pending_per_user.remove(&entry.user_id);
            }
        }
        self.finished.push_back((now, id));
        while self.finished.len() > self.config.max_retained {
            if let Some((_, old)) = self.finished.pop_front() {
                self.entries.remove(&old);
            }
        }
    }

    /// Drops decided and expired entries older than `retain_for`.
    fn drop_old(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.finished.front() {
            let due = at
                .checked_add(self.config.retain_for)
                .is_none_or(|t| now >= t);
            if !due {
                break;
            }
            self.finished.pop_front();
            self.entries.remove(&id);
        }
    }
}

enum Finish {
    Approved,
    Rejected,
    Expired,
    Failed,
}

fn random(buf: &mut [u8]) -> Result<(), CreateError> {
    custos_crypto::os_random(buf).map_err(|e| CreateError::Random(e.to_string()))
}

fn fresh_token() -> Result<Zeroizing<[u8; TOKEN_LEN]>, CreateError> {
    let mut t = Zeroizing::new([0u8; TOKEN_LEN]);
    random(&mut t[..])?;
    Ok(t)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding, branch- and table-free per character (the bytes are secret).
fn encode_token(token: &[u8; TOKEN_LEN]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(CALLBACK_DATA_LEN));
    let mut push = |v: u8| out.push(char::from(encode_char(v & 63)));
    for chunk in token.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        push(b0 >> 2);
        push((b0 << 4) | (b1 >> 4));
        if chunk.len() > 1 {
            push((b1 << 2) | (b2 >> 6));
        }
        if chunk.len() > 2 {
            push(b2);
        }
    }
    out
}

/// Maps 0..64 to the base64url alphabet without indexing by the secret value.
fn encode_char(v: u8) -> u8 {
    let mut c = 0u8;
    for (i, a) in ALPHABET.iter().enumerate() {
        // `i` is below 64, so the cast is exact.
        c.conditional_assign(a, v.ct_eq(&(i as u8)));
    }
    c
}

/// Decodes exactly 22 canonical base64url characters into 16 bytes, in constant time
/// for inputs of that length; `None` for anything else.
fn decode_token(data: &str) -> Option<Zeroizing<[u8; TOKEN_LEN]>> {
    let data = data.as_bytes();
    if data.len() != CALLBACK_DATA_LEN {
        return None;
    }
    let mut values = Zeroizing::new([0u8; CALLBACK_DATA_LEN]);
    let mut valid = Choice::from(1);
    for (v, &c) in values.iter_mut().zip(data.iter()) {
        let (value, ok) = decode_char(c);
        *v = value;
        valid &= ok;
    }
    let mut out = Zeroizing::new([0u8; TOKEN_LEN]);
    for (i, quad) in values.chunks(4).enumerate() {
        let o = 3 * i;
        if let [v0, v1, v2, v3] = *quad {
            out[o] = (v0 << 2) | (v1 >> 4);
            out[o + 1] = (v1 << 4) | (v2 >> 2);
            out[o + 2] = (v2 << 6) | v3;
        } else if let [v0, v1] = *quad {
            // The last group: two characters carry one byte; the low four bits of the
            // second must be zero (the canonical form, so each token has one spelling).
            out[o] = (v0 << 2) | (v1 >> 4);
            valid &= (v1 & 0x0f).ct_eq(&0);
        }
    }
    if bool::from(valid) {
        Some(out)
    } else {
        None
    }
}

/// One base64url character's value and whether it is one, without branches on it.
fn decode_char(c: u8) -> (u8, Choice) {
    let in_range = |lo: u8, hi: u8| c.ct_gt(&(lo - 1)) & !c.ct_gt(&hi);
    let upper = in_range(b'A', b'Z');
    let lower = in_range(b'a', b'z');
    let digit = in_range(b'0', b'9');
    let dash = c.ct_eq(&b'-');
    let under = c.ct_eq(&b'_');
    let mut v = 0u8;
    v.conditional_assign(&c.wrapping_sub(b'A'), upper);
    v.conditional_assign(&c.wrapping_sub(b'a').wrapping_add(26), lower);
    v.conditional_assign(&c.wrapping_sub(b'0').wrapping_add(52), digit);
    v.conditional_assign(&62, dash);
    v.conditional_assign(&63, under);
    (v, upper | lower | digit | dash | under)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const ALICE: u64 = 1001;
    const BOB: u64 = 2002;

    fn request(user: &str, telegram_id: u64) -> PendingRequest {
        PendingRequest {
            wallet: [7; 32],
            user_id: user.to_string(),
            telegram_id,
            transaction: vec![1, 2, 3, 4],
            summary: "Send 1 SOL to ...".to_string(),
        }
    }

    fn store() -> Confirmations {
        Confirmations::new(ConfirmConfig::default())
    }

    /// A store with one confirmation for Alice, shown on message 42 of her chat.
    fn shown(now: Instant) -> (Confirmations, Created) {
        let mut s = store();
        let c = s.create(request("alice", ALICE), now).unwrap();
        s.message_sent(c.id, ALICE as i64, 42).unwrap();
        (s, c)
    }

    fn press(data: &str) -> Press<'_> {
        Press {
            data,
            from_telegram_id: ALICE,
            chat_id: ALICE as i64,
            message_id: 42,
        }
    }

    /// Everything observable about one confirmation, to check that a refusal changed nothing.
    fn snapshot(s: &Confirmations, id: ConfirmationId) -> (Option<Status>, usize, usize) {
        (s.status(id), s.pending_count(), s.retained_count())
    }

    #[test]
    fn a_failed_confirmation_kills_its_tokens() {
        let t0 = Instant::now();
        let (mut s, c) = shown(t0);
        s.fail(c.id, t0).unwrap();
        assert_eq!(s.status(c.id), Some(Status::Failed));
        assert_eq!(s.pending_count(), 0);
        assert_eq!(s.fail(c.id, t0), Err(MessageError::NotPending(c.id)));
        let unknown = ConfirmationId::from_bytes([0xee; ID_LEN]);
        assert_eq!(s.fail(unknown, t0), Err(MessageError::UnknownId(unknown)));
        assert_eq!(
            s.press(press(&c.approve.callback_data()), t0),
            Err(PressError::AlreadyDecided(c.id))
        );
        assert!(s.expire(t0 + Duration::from_secs(600)).is_empty());
    }

    #[test]
    fn approve_path() {
        let t0 = Instant::now();
        let (mut s, c) = shown(t0);
        assert_eq!(s.status(c.id), Some(Status::Pending));
        assert_eq!(c.expires_at, t0 + Duration::from_secs(300));
        let d = s
            .press(
                press(&c.approve.callback_data()),
                t0 + Duration::from_secs(10),
            )
            .unwrap();
        assert_eq!(
            d,
            Decided {
                id: c.id,
                decision: Decision::Approve
            }
        );
        assert_eq!(
            s.status(c.id),
            Some(Status::Approved {
                transaction: vec![1, 2, 3, 4]
            })
        );
        assert_eq!(s.pending_count(), 0);
        assert_eq!(s.retained_count(), 1);
    }

    #[test]
    fn reject_path() {
        let t0 = Instant::now();
        let (mut s, c) = shown(t0);
        let d = s.press(press(&c.reject.callback_data()), t0).unwrap();
        assert_eq!(d.decision, Decision::Reject);
        assert_eq!(d.id, c.id);
        assert_eq!(s.status(c.id), Some(Status::Rejected));
        assert_eq!(s.pending_count(), 0);
    }

    #[test]
    fn expiry() {
        let t0 = Instant::now();
        let (mut s, c) = shown(t0);
        assert!(s.expire(t0 + Duration::from_secs(299)).is_empty());
        assert_eq!(s.status(c.id), Some(Status::Pending));
        assert_eq!(s.expire(t0 + Duration::from_secs(300)), vec![c.id]);
        assert_eq!(s.status(c.id), Some(Status::Expired));
        assert_eq!(s.pending_count(), 0);
        // Reported once.
        assert!(s.expire(t0 + Duration::from_secs(301)).is_empty());
        // Both tokens are dead.
        for t in [&c.approve, &c.reject] {
            assert_eq!(
                s.press(press(&t.callback_data()), t0 + Duration::from_secs(302)),
                Err(PressError::Expired(c.id))
            );
        }
        assert_eq!(s.status(c.id), Some(Status::Expired));
    }

    #[test]
    fn a_press_after_expiry_expires_it_and_is_reported() {
        let t0 = Instant::now();
        let (mut s, c) = shown(t0);
        let late = t0 + Duration::from_secs(300);
        assert_eq!(
            s.press(press(&c.approve.callback_data()), late),
            Err(PressError::Expired(c.id))
        );
        assert_eq!(s.status(c.id), Some(Status::Expired));
        assert_eq!(s.expire(late), vec![c.id]);
    }

    #[test]
    fn configurable_expiry() {
        let t0 = Instant::now();
        let mut s = Confirmations::new(ConfirmConfig {
            expiry: Duration::from_secs(30),
            ..ConfirmConfig::default()
        });
        let c = s.create(request("alice", ALICE), t0).unwrap();
        assert_eq!(c.expires_at, t0 + Duration::from_secs(30));
        assert_eq!(s.expire(t0 + Duration::from_secs(30)), vec![c.id]);
    }

    #[test]
    fn presses_from_another_user_chat_or_message_are_refused_and_change_nothing() {
        let t0 = Instant::now();
        let (mut s, c) = shown(t0);
        let before = snapshot(&s, c.id);
        for token in [&c.approve, &c.reject] {
            let data = token.callback_data();
            let other_user = Press {
                from_telegram_id: BOB,
                ..press(&data)
            };
            assert_eq!(
                s.press(other_user, t0),
                Err(PressError::WrongUser {
                    id: c.id,
                    from: BOB
                })
            );
            let other_message = Press {
                message_id: 43,
                ..press(&data)
            };
            assert_eq!(
                s.press(other_message, t0),
                Err(PressError::WrongMessage(c.id))
            );
            let other_chat = Press {
                chat_id: BOB as i64,
                ..press(&data)
            };
            assert_eq!(s.press(other_chat, t0), Err(PressError::WrongMessage(c.id)));
            assert_eq!(snapshot(&s, c.id), before);
        }
        // The real press still works afterwards.
        assert!(s.press(press(&c.approve.callback_data()), t0).is_ok());
    }

    #[test]
    fn replayed_press_and_press_after_decision_are_refused() {
        let t0 = Instant::now();
        let (mut s, c) = shown(t0);
        let approve = c.approve.callback_data();
        s.press(press(&approve), t0).unwrap();
        let after = snapshot(&s, c.id);
        assert_eq!(
            s.press(press(&approve), t0),
            Err(PressError::AlreadyDecided(c.id))
        );
        assert_eq!(
            s.press(press(&c.reject.callback_data()), t0),
            Err(PressError::AlreadyDecided(c.id))
        );
        assert_eq!(snapshot(&s, c.id), after);
        // A decided confirmation does not expire later.
        assert!(s.expire(t0 + Duration::from_secs(301)).is_empty());
        assert!(matches!(s.status(c.id), Some(Status::Approved { .. })));
    }

    #[test]
    fn reject_then_approve_is_refused() {
        let t0 = Instant::now();
        let (mut s, c) = shown(t0);
        s.press(press(&c.reject.callback_data()), t0).unwrap();
        assert_eq!(
            s.press(press(&c.approve.callback_data()), t0),
            Err(PressError::AlreadyDecided(c.id))
        );
        assert_eq!(s.status(c.id), Some(Status::Rejected));
    }

    #[test]
    fn forged_data_is_refused_and_changes_nothing() {
        let t0 = Instant::now();
        let (mut s, c) = shown(t0);
        // A second confirmation, for Bob.
        let other = s.create(request("bob", BOB), t0).unwrap();
        s.message_sent(other.id, BOB as i64, 7).unwrap();
        let before = (snapshot(&s, c.id), snapshot(&s, other.id));

        let approve = c.approve.callback_data();
        let mut random = [0u8; TOKEN_LEN];
        custos_crypto::os_random(&mut random).unwrap();
        let random = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random);
        let mut flipped = approve.as_bytes().to_vec();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        // Same bits, non-canonical last character (low bits set).
        let mut noncanonical = approve.as_bytes().to_vec();
        let last = noncanonical[21];
        let v = ALPHABET.iter().position(|&a| a == last).unwrap() as u8;
        noncanonical[21] = ALPHABET[usize::from(v | 1)];
        let noncanonical = String::from_utf8(noncanonical).unwrap();
        let padded = format!("{}==", &*approve);
        let long = "A".repeat(64);
        let forged: Vec<&str> = vec![
            &random,
            &approve[..21],
            &approve[..11],
            &approve[..1],
            "",
            &long,
            &flipped,
            &noncanonical,
            &padded,
            "approve",
            "!!!!!!!!!!!!!!!!!!!!!!",
        ];
        for data in forged {
            assert_eq!(
                s.press(press(data), t0),
                Err(PressError::UnknownToken),
                "{data:?}"
            );
        }
        // The other confirmation's tokens, pressed on Alice's message by Alice: not hers.
        for token in [&other.approve, &other.reject] {
            assert_eq!(
                s.press(press(&token.callback_data()), t0),
                Err(PressError::WrongUser {
                    id: other.id,
                    from: ALICE
                })
            );
        }
        assert_eq!((snapshot(&s, c.id), snapshot(&s, other.id)), before);
    }

    #[test]
    fn a_press_before_the_delivery_report_counts_only_in_the_bound_private_chat() {
        let t0 = Instant::now();
        let mut s = store();
        let c = s.create(request("alice", ALICE), t0).unwrap();
        let before = snapshot(&s, c.id);
        // In another chat (a group the bot is in): refused, nothing changes.
        let approve = c.approve.callback_data();
        let mut elsewhere = press(&approve);
        elsewhere.chat_id = -100;
        assert_eq!(s.press(elsewhere, t0), Err(PressError::WrongMessage(c.id)));
        assert_eq!(snapshot(&s, c.id), before);
        // In the bound user's private chat: accepted, and it fixes the message.
        assert!(s.press(press(&c.approve.callback_data()), t0).is_ok());
        let p = press("x");
        assert_eq!(s.message_sent(c.id, p.chat_id, p.message_id), Ok(()));
        assert_eq!(
            s.message_sent(c.id, p.chat_id, p.message_id + 1),
            Err(MessageError::NotPending(c.id))
        );
        // Before any press, a report fixes the message and a press elsewhere fails.
        let d = s.create(request("alice", ALICE), t0).unwrap();
        s.message_sent(d.id, ALICE as i64, 77).unwrap();
        assert_eq!(
            s.press(press(&d.reject.callback_data()), t0),
            Err(PressError::WrongMessage(d.id))
        );
    }

    #[test]
    fn message_sent_is_checked() {
        let t0 = Instant::now();
        let mut s = store();
        let c = s.create(request("alice", ALICE), t0).unwrap();
        let unknown = ConfirmationId::from_bytes([9; ID_LEN]);
        assert_eq!(
            s.message_sent(unknown, ALICE as i64, 1),
            Err(MessageError::UnknownId(unknown))
        );
        assert_eq!(
            s.message_sent(c.id, BOB as i64, 1),
            Err(MessageError::WrongChat(c.id))
        );
        s.message_sent(c.id, ALICE as i64, 42).unwrap();
        assert_eq!(
            s.message_sent(c.id, ALICE as i64, 43),
            Err(MessageError::AlreadyShown(c.id))
        );
        assert_eq!(s.view(c.id).unwrap().shown, Some((ALICE as i64, 42)));
        s.press(press(&c.reject.callback_data()), t0).unwrap();
        assert_eq!(
            s.message_sent(c.id, ALICE as i64, 44),
            Err(MessageError::NotPending(c.id))
        );
    }

    #[test]
    fn limits_refuse_and_change_nothing() {
        let t0 = Instant::now();
        let mut s = Confirmations::new(ConfirmConfig {
            max_pending_total: 3,
            max_pending_per_user: 2,
            ..ConfirmConfig::default()
        });
        let a1 = s.create(request("alice", ALICE), t0).unwrap();
        s.create(request("alice", ALICE), t0).unwrap();
        assert_eq!(
            s.create(request("alice", ALICE), t0).unwrap_err(),
            CreateError::TooManyForUser {
                user_id: "alice".into(),
                limit: 2
            }
        );
        assert_eq!(s.pending_count(), 2);
        s.create(request("bob", BOB), t0).unwrap();
        assert_eq!(
            s.create(request("carol", 3003), t0).unwrap_err(),
            CreateError::TooManyPending { limit: 3 }
        );
        assert_eq!(s.pending_count(), 3);
        // A decision frees a slot for that user and overall.
        s.message_sent(a1.id, ALICE as i64, 1).unwrap();
        s.press(
            Press {
                message_id: 1,
                ..press(&a1.reject.callback_data())
            },
            t0,
        )
        .unwrap();
        s.create(request("alice", ALICE), t0).unwrap();
        // Overdue confirmations do not hold slots.
        let later = t0 + Duration::from_secs(300);
        s.create(request("carol", 3003), later).unwrap();
        assert_eq!(s.pending_count(), 1);
        assert_eq!(s.expire(later).len(), 3);
    }

    #[test]
    fn memory_is_bounded_after_many_confirmations() {
        let mut t = Instant::now();
        let mut s = Confirmations::new(ConfirmConfig {
            max_retained: 100,
            ..ConfirmConfig::default()
        });
        for i in 0..5_000u64 {
            let c = s.create(request(&format!("u{i}"), i + 1), t).unwrap();
            if i % 3 == 0 {
                s.message_sent(c.id, (i + 1) as i64, 1).unwrap();
                let p = Press {
                    data: &c.approve.callback_data(),
                    from_telegram_id: i + 1,
                    chat_id: (i + 1) as i64,
                    message_id: 1,
                };
                s.press(p, t).unwrap();
            }
            t += Duration::from_secs(1);
            assert!(s.entries.len() <= 100 + s.pending_count());
        }
        // At most 300 pending (one per second for 5 minutes) plus 100 retained.
        assert!(s.pending_count() <= 300, "{}", s.pending_count());
        assert!(s.retained_count() <= 100);
        assert!(s.pending_per_user.len() <= 300);
        // Retention by time: everything goes once it is old enough.
        let end = t + Duration::from_secs(300);
        s.expire(end);
        assert_eq!(s.pending_count(), 0);
        s.expire(end + Duration::from_secs(600));
        assert_eq!(s.entries.len(), 0);
        assert_eq!(s.retained_count(), 0);
        assert!(s.unreported.is_empty());
    }

    #[test]
    fn retained_outcomes_stay_readable_then_go() {
        let t0 = Instant::now();
        let (mut s, c) = shown(t0);
        s.press(press(&c.approve.callback_data()), t0).unwrap();
        s.expire(t0 + Duration::from_secs(599));
        assert!(matches!(s.status(c.id), Some(Status::Approved { .. })));
        s.expire(t0 + Duration::from_secs(600));
        assert_eq!(s.status(c.id), None);
        // Once dropped, its tokens are simply unknown.
        assert_eq!(
            s.press(press(&c.approve.callback_data()), t0),
            Err(PressError::UnknownToken)
        );
    }

    #[test]
    fn tokens_are_22_url_safe_characters_and_distinct() {
        let t0 = Instant::now();
        let mut s = store();
        let mut seen = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        for i in 0..500u64 {
            let c = s.create(request(&format!("u{i}"), i + 1), t0).unwrap();
            assert!(ids.insert(c.id));
            for t in [&c.approve, &c.reject] {
                let data = t.callback_data();
                assert_eq!(data.len(), CALLBACK_DATA_LEN);
                assert!(data
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
                // The encoding is standard base64url without padding.
                let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(data.as_bytes())
                    .unwrap();
                assert_eq!(raw.as_slice(), &t.0[..]);
                assert!(seen.insert(data.to_string()));
            }
        }
    }

    #[test]
    fn token_codec_matches_base64url_for_all_byte_values() {
        for b in 0..=255u8 {
            for pos in 0..TOKEN_LEN {
                let mut raw = [0x5au8; TOKEN_LEN];
                raw[pos] = b;
                let ours = encode_token(&raw);
                let reference = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
                assert_eq!(*ours, reference);
                assert_eq!(*decode_token(&ours).unwrap(), raw);
            }
        }
        for c in 0..=255u8 {
            let (v, ok) = decode_char(c);
            let expected = ALPHABET.iter().position(|&a| a == c);
            assert_eq!(bool::from(ok), expected.is_some(), "{c}");
            if let Some(e) = expected {
                assert_eq!(usize::from(v), e);
            }
        }
    }

    #[test]
    fn debug_shows_no_token() {
        let t0 = Instant::now();
        let (s, c) = shown(t0);
        let approve = c.approve.callback_data().to_string();
        let reject = c.reject.callback_data().to_string();
        let press_debug = format!("{:?}", press(&approve));
        for text in [format!("{c:?}"), format!("{s:?}"), press_debug] {
            assert!(!text.contains(&approve), "{text}");
            assert!(!text.contains(&reject), "{text}");
        }
        assert!(format!("{c:?}").contains(&c.id.to_string()));
        // Errors name the confirmation, never a token.
        let err = PressError::WrongUser {
            id: c.id,
            from: BOB,
        }
        .to_string();
        assert!(!err.contains(&approve) && err.contains(&c.id.to_string()));
    }

    #[test]
    fn ids_display_and_parse() {
        let id = ConfirmationId::from_bytes([0xab; ID_LEN]);
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(ConfirmationId::parse(&text), Some(id));
        assert_eq!(ConfirmationId::parse(&text.to_uppercase()), Some(id));
        assert_eq!(ConfirmationId::parse(&text[..31]), None);
        assert_eq!(ConfirmationId::parse(&format!("{}g", &text[..31])), None);
    }

    #[test]
    fn a_thousand_pending_confirmations_for_a_thousand_users() {
        let t0 = Instant::now();
        let mut s = store();
        let mut created = Vec::new();
        for i in 0..1_000u64 {
            let tg = 10_000 + i;
            let c = s.create(request(&format!("user-{i}"), tg), t0).unwrap();
            s.message_sent(c.id, tg as i64, i as i64 + 1).unwrap();
            created.push((tg, c));
        }
        assert_eq!(s.pending_count(), 1_000);
        let t1 = t0 + Duration::from_secs(60);
        assert!(s.expire(t1).is_empty());
        for (i, (tg, c)) in created.iter().enumerate() {
            let token = if i % 2 == 0 { &c.approve } else { &c.reject };
            let data = token.callback_data();
            let d = s
                .press(
                    Press {
                        data: &data,
                        from_telegram_id: *tg,
                        chat_id: *tg as i64,
                        message_id: i as i64 + 1,
                    },
                    t1,
                )
                .unwrap();
            assert_eq!(d.id, c.id);
            let expected = if i % 2 == 0 {
                Decision::Approve
            } else {
                Decision::Reject
            };
            assert_eq!(d.decision, expected);
        }
        assert_eq!(s.pending_count(), 0);
        for (i, (_, c)) in created.iter().enumerate() {
            let st = s.status(c.id).unwrap();
            if i % 2 == 0 {
                assert!(matches!(st, Status::Approved { .. }));
            } else {
                assert_eq!(st, Status::Rejected);
            }
        }
    }
}
