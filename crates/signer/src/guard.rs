//! What waits for a user's second factor: approved requests (a withdrawal, an export),
//! security changes (add, change or remove a factor; loosen a setting), TOTP
//! enrolments waiting for their first code, and one-time tokens of the Custos page.
//!
//! Pure state, no I/O: [`crate::second_factor`] drives it. Everything here is in memory
//! only; a restart drops it (fail closed, like pending confirmations).

use crate::totp::PendingEnrolment;
use custos_passkey::{AuthenticationState, RegistrationState};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// How long a security change or a passkey registration waits for the user.
pub const ACTION_EXPIRY: Duration = Duration::from_secs(10 * 60);
/// How long a TOTP enrolment waits for its first code.
pub const ENROLMENT_EXPIRY: Duration = Duration::from_secs(10 * 60);
/// Most items waiting per user (a flood from a stolen account stays small).
pub const MAX_PER_USER: usize = 8;
/// Raw bytes of a page token (shown as 22 base64url characters).
pub const PAGE_TOKEN_BYTES: usize = 16;

/// A security change that needs the existing second factor first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Enrol (or replace) the authenticator app.
    AddTotp,
    /// Register another passkey.
    AddPasskey,
    /// Remove the authenticator app.
    RemoveTotp,
    /// Remove every passkey.
    RemovePasskeys,
    /// Stop asking for the second factor on every signature.
    AlwaysOff,
}

impl Action {
    /// What the user is asked to confirm, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Action::AddTotp => "set up a new authenticator app",
            Action::AddPasskey => "add a passkey",
            Action::RemoveTotp => "remove your authenticator app",
            Action::RemovePasskeys => "remove your passkeys",
            Action::AlwaysOff => "stop requiring your second factor for every signature",
        }
    }

    fn tag(self) -> u8 {
        self as u8
    }
}

/// What a challenge unlocks once the second factor is given.
pub enum Purpose {
    /// Sign an approved transaction.
    Sign {
        /// The wallet.
        wallet: [u8; 32],
        /// Its sealed record (authenticated again before signing).
        record: Vec<u8>,
        /// The exact bytes the user approved.
        transaction: Vec<u8>,
    },
    /// Export a wallet's key to the user's browser.
    Export {
        /// The wallet.
        wallet: [u8; 32],
        /// Its sealed record.
        record: Vec<u8>,
    },
    /// A security change.
    Action(Action),
}

impl Purpose {
    /// The hash a passkey assertion is bound to (with the challenge id): the
    /// transaction's SHA-256 for a signature, a domain-separated hash otherwise.
    pub fn binding_hash(&self, user_id: &str) -> [u8; 32] {
        match self {
            Purpose::Sign { transaction, .. } => Sha256::digest(transaction).into(),
            Purpose::Export { wallet, .. } => {
                let mut h = Sha256::new();
                h.update(b"custos/v1/export-approval\0");
                h.update(wallet);
                h.finalize().into()
            }
            Purpose::Action(a) => {
                let mut h = Sha256::new();
                h.update(b"custos/v1/security-action\0");
                h.update([a.tag()]);
                h.update(user_id.as_bytes());
                h.finalize().into()
            }
        }
    }
}

/// An approved request or a security change waiting for the second factor.
pub struct Challenge {
    /// For a transaction or export, the confirmation's id; otherwise random.
    pub id: [u8; 16],
    /// The user.
    pub user_id: String,
    /// Their Telegram account.
    pub telegram_id: u64,
    /// What it unlocks.
    pub purpose: Purpose,
    /// The Telegram message that shows it, if any (edited with the outcome).
    pub message: Option<(i64, i64)>,
    /// That message's text.
    pub text: String,
    /// When it lapses.
    pub expires: Instant,
    /// The passkey ceremony begun by the page, if any (single use).
    pub passkey: Option<AuthenticationState>,
    /// When it was created (the most recent one gets a code typed in the chat).
    pub created: Instant,
}

/// A passkey registration, unlocked (first passkey, or after the second factor).
pub struct Registration {
    /// The user.
    pub user_id: String,
    /// Their Telegram account.
    pub telegram_id: u64,
    /// When it lapses.
    pub expires: Instant,
    /// The ceremony begun by the page, if any.
    pub state: Option<RegistrationState>,
    /// Issued while the user had no second factor (so none was checked): void once
    /// they have one.
    pub unguarded: bool,
}

/// A TOTP enrolment waiting for its first code.
pub struct Enrolling {
    /// The user.
    pub user_id: String,
    /// The enrolment (its secret zeroizes on drop).
    pub pending: PendingEnrolment,
    /// When it lapses.
    pub expires: Instant,
    /// Begun while the user had no second factor (so none was checked): void once
    /// they have one.
    pub unguarded: bool,
}

/// What a page token opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ticket {
    /// A challenge (approve with a passkey or code, or export).
    Challenge([u8; 16]),
    /// A passkey registration, by registration id.
    Register([u8; 16]),
}

/// Why an item could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// Too many items waiting for this user.
    #[error("too many requests are waiting for this user's second factor ({0})")]
    TooMany(usize),
    /// The system random number generator failed.
    #[error("the random number generator failed")]
    Random,
}

/// Everything waiting for a second factor.
#[derive(Default)]
pub struct Guard {
    challenges: HashMap<[u8; 16], Challenge>,
    registrations: HashMap<[u8; 16], Registration>,
    enrolments: HashMap<u64, Enrolling>,
    /// SHA-256 of page tokens; the tokens themselves are only in the user's chat.
    pages: HashMap<[u8; 32], Ticket>,
}

/// A fresh page token: returns (token characters, digest).
pub fn new_page_token() -> Result<(Zeroizing<String>, [u8; 32]), GuardError> {
    let mut raw = Zeroizing::new([0u8; PAGE_TOKEN_BYTES]);
    custos_crypto::os_random(&mut raw[..]).map_err(|_| GuardError::Random)?;
    let token = Zeroizing::new(data_encoding::BASE64URL_NOPAD.encode(&raw[..]));
    let digest = page_token_digest(&token);
    Ok((token, digest))
}

/// The digest a page token is kept under.
pub fn page_token_digest(token: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"custos/v1/page-token\0");
    h.update(token.as_bytes());
    h.finalize().into()
}

/// A random 16-byte id.
pub fn random_id() -> Result<[u8; 16], GuardError> {
    let mut id = [0u8; 16];
    custos_crypto::os_random(&mut id).map_err(|_| GuardError::Random)?;
    Ok(id)
}

impl Guard {
    fn count_for(&self, user_id: &str) -> usize {
        self.challenges
            .values()
            .filter(|c| c.user_id == user_id)
            .count()
            + self
                .registrations
                .values()
                .filter(|r| r.user_id == user_id)
                .count()
    }

    /// Adds a challenge, with a page token when `with_page`.
    pub fn add_challenge(
        &mut self,
        challenge: Challenge,
        with_page: bool,
    ) -> Result<Option<Zeroizing<String>>, GuardError> {
        let n = self.count_for(&challenge.user_id);
        if n >= MAX_PER_USER {
            return Err(GuardError::TooMany(n));
        }
        let token = if with_page {
            let (token, digest) = new_page_token()?;
            self.pages.insert(digest, Ticket::Challenge(challenge.id));
            Some(token)
        } else {
            None
        };
        self.challenges.insert(challenge.id, challenge);
        Ok(token)
    }

    /// Adds a passkey registration and returns its page token.
    pub fn add_registration(
        &mut self,
        registration: Registration,
    ) -> Result<Zeroizing<String>, GuardError> {
        let n = self.count_for(&registration.user_id);
        if n >= MAX_PER_USER {
            return Err(GuardError::TooMany(n));
        }
        let id = random_id()?;
        let (token, digest) = new_page_token()?;
        self.pages.insert(digest, Ticket::Register(id));
        self.registrations.insert(id, registration);
        Ok(token)
    }

    /// Starts (or restarts) a TOTP enrolment for a Telegram user.
    pub fn add_enrolment(&mut self, telegram_id: u64, enrolling: Enrolling) {
        self.enrolments.insert(telegram_id, enrolling);
    }

    /// What a page token opens, if it is live.
    pub fn ticket(&self, token: &str) -> Option<Ticket> {
        self.pages.get(&page_token_digest(token)).copied()
    }

    /// Whether what a ticket opens is past its expiry (the next tick removes it).
    pub fn is_overdue(&self, ticket: Ticket, now: Instant) -> bool {
        match ticket {
            Ticket::Challenge(id) => self.challenges.get(&id).is_none_or(|c| c.expires <= now),
            Ticket::Register(id) => self.registrations.get(&id).is_none_or(|r| r.expires <= now),
        }
    }

    /// A challenge.
    pub fn challenge_mut(&mut self, id: &[u8; 16]) -> Option<&mut Challenge> {
        self.challenges.get_mut(id)
    }

    /// Removes a challenge (done, failed or expired) and its page token.
    pub fn take_challenge(&mut self, id: &[u8; 16]) -> Option<Challenge> {
        self.pages.retain(|_, t| *t != Ticket::Challenge(*id));
        self.challenges.remove(id)
    }

    /// A registration.
    pub fn registration_mut(&mut self, id: &[u8; 16]) -> Option<&mut Registration> {
        self.registrations.get_mut(id)
    }

    /// Removes a registration and its page token.
    pub fn take_registration(&mut self, id: &[u8; 16]) -> Option<Registration> {
        self.pages.retain(|_, t| *t != Ticket::Register(*id));
        self.registrations.remove(id)
    }

    /// The enrolment of a Telegram user, if one is waiting.
    pub fn enrolment_mut(&mut self, telegram_id: u64) -> Option<&mut Enrolling> {
        self.enrolments.get_mut(&telegram_id)
    }

    /// Ends an enrolment.
    pub fn take_enrolment(&mut self, telegram_id: u64) -> Option<Enrolling> {
        self.enrolments.remove(&telegram_id)
    }

    /// The newest live challenge of a Telegram user that a code typed in the chat can
    /// answer (exports are answered on the page, where the key is received).
    pub fn newest_for_chat_code(&self, telegram_id: u64, now: Instant) -> Option<[u8; 16]> {
        self.challenges
            .values()
            .filter(|c| c.telegram_id == telegram_id && c.expires > now)
            .filter(|c| !matches!(c.purpose, Purpose::Export { .. }))
            .max_by_key(|c| c.created)
            .map(|c| c.id)
    }

    /// Removes and returns everything overdue: challenges (to report), and drops
    /// lapsed registrations and enrolments.
    pub fn expire(&mut self, now: Instant) -> Vec<Challenge> {
        let overdue: Vec<[u8; 16]> = self
            .challenges
            .values()
            .filter(|c| c.expires <= now)
            .map(|c| c.id)
            .collect();
        let out = overdue
            .iter()
            .filter_map(|id| self.take_challenge(id))
            .collect();
        let lapsed: Vec<[u8; 16]> = self
            .registrations
            .iter()
            .filter(|(_, r)| r.expires <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in lapsed {
            self.take_registration(&id);
        }
        self.enrolments.retain(|_, e| e.expires > now);
        out
    }

    /// Items waiting (challenges, registrations, enrolments).
    pub fn len(&self) -> usize {
        self.challenges.len() + self.registrations.len() + self.enrolments.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(user: &str, tg: u64, purpose: Purpose, now: Instant) -> Challenge {
        Challenge {
            id: random_id().unwrap(),
            user_id: user.into(),
            telegram_id: tg,
            purpose,
            message: None,
            text: String::new(),
            expires: now + Duration::from_secs(60),
            passkey: None,
            created: now,
        }
    }

    #[test]
    fn tokens_open_only_their_item_and_die_with_it() {
        let now = Instant::now();
        let mut g = Guard::default();
        let c = challenge("alice", 1, Purpose::Action(Action::RemoveTotp), now);
        let id = c.id;
        let token = g.add_challenge(c, true).unwrap().unwrap();
        assert_eq!(token.len(), 22);
        assert_eq!(g.ticket(&token), Some(Ticket::Challenge(id)));
        assert_eq!(g.ticket("AAAAAAAAAAAAAAAAAAAAAA"), None);
        assert!(g.take_challenge(&id).is_some());
        assert_eq!(g.ticket(&token), None);
    }

    #[test]
    fn chat_codes_go_to_the_newest_non_export_challenge_and_expiry_reports() {
        let now = Instant::now();
        let mut g = Guard::default();
        let a = challenge("alice", 1, Purpose::Action(Action::AlwaysOff), now);
        let b = challenge(
            "alice",
            1,
            Purpose::Action(Action::RemoveTotp),
            now + Duration::from_millis(5),
        );
        let e = challenge(
            "alice",
            1,
            Purpose::Export {
                wallet: [1; 32],
                record: vec![],
            },
            now + Duration::from_millis(9),
        );
        let (bid, aid) = (b.id, a.id);
        g.add_challenge(a, false).unwrap();
        g.add_challenge(b, false).unwrap();
        g.add_challenge(e, true).unwrap();
        assert_eq!(g.newest_for_chat_code(1, now), Some(bid));
        assert_eq!(g.newest_for_chat_code(2, now), None);
        g.take_challenge(&bid);
        assert_eq!(g.newest_for_chat_code(1, now), Some(aid));
        assert_eq!(g.expire(now + Duration::from_secs(61)).len(), 2);
        assert_eq!(g.len(), 0);
    }

    #[test]
    fn a_user_cannot_pile_up_items() {
        let now = Instant::now();
        let mut g = Guard::default();
        for _ in 0..MAX_PER_USER {
            g.add_challenge(
                challenge("alice", 1, Purpose::Action(Action::AddTotp), now),
                false,
            )
            .unwrap();
        }
        let over = challenge("alice", 1, Purpose::Action(Action::AddTotp), now);
        assert_eq!(
            g.add_challenge(over, false).unwrap_err(),
            GuardError::TooMany(MAX_PER_USER)
        );
        g.add_challenge(
            challenge("bob", 2, Purpose::Action(Action::AddTotp), now),
            false,
        )
        .unwrap();
    }

    #[test]
    fn bindings_differ_by_purpose() {
        let s = Purpose::Sign {
            wallet: [1; 32],
            record: vec![],
            transaction: vec![1, 2],
        };
        let e = Purpose::Export {
            wallet: [1; 32],
            record: vec![],
        };
        let a = Purpose::Action(Action::AddTotp);
        let b = Purpose::Action(Action::RemoveTotp);
        let all = [
            s.binding_hash("u"),
            e.binding_hash("u"),
            a.binding_hash("u"),
            b.binding_hash("u"),
            a.binding_hash("v"),
        ];
        for i in 0..all.len() {
            for j in 0..i {
                assert_ne!(all[i], all[j]);
            }
        }
    }
}
