//! The linked users the signer knows: their authenticated security records and, decoded
//! from the records' encrypted sections, their second factors.
//!
//! The bridge loads every stored record at start
//! ([`custos_ipc::signer::SignerRequest::LoadSecurityRecords`]) and presents a user's
//! record with each request; the signer keeps the highest revision it has seen of each,
//! so a database writer cannot roll a user back (to before a factor was enrolled, or a
//! lock-out counter) while the signer runs. Across restarts that needs a monotonic
//! anchor outside the database, which is not built yet (see `docs/THREAT-MODEL.md`).

use crate::factors::{Factors, FactorsError, FLAG_REQUIRE_FOR_ALL};
use custos_crypto::security::SecurityRecord;
use std::collections::HashMap;

/// A linked user: the record as last sealed or accepted, and its factors.
pub(crate) struct Account {
    /// The record's fields; `secrets` is not kept here (the factors are).
    pub record: SecurityRecord,
    /// The decoded second factors.
    pub factors: Factors,
}

impl Account {
    /// Whether every signature of this user needs the second factor.
    pub fn require_for_all(&self) -> bool {
        self.factors.any() && self.record.flags & FLAG_REQUIRE_FOR_ALL != 0
    }
}

/// How a presented record compared with the one held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loaded {
    /// New user, or a newer revision: taken.
    Taken,
    /// The same revision as held: nothing changed.
    Same,
    /// Older than the one held: ignored (a rollback, or a record in flight).
    Older,
}

/// Users by id and by Telegram id.
#[derive(Default)]
pub(crate) struct Accounts {
    by_user: HashMap<String, Account>,
    by_telegram: HashMap<u64, String>,
}

impl Accounts {
    /// Takes an authenticated record unless an equal or newer revision is held.
    pub fn load(&mut self, mut record: SecurityRecord) -> Result<Loaded, FactorsError> {
        if let Some(held) = self.by_user.get(&record.user_id) {
            if record.revision < held.record.revision {
                return Ok(Loaded::Older);
            }
            if record.revision == held.record.revision {
                return Ok(Loaded::Same);
            }
        }
        let factors = Factors::from_bytes(record.secrets.as_deref().map(|s| s.as_slice()))?;
        record.secrets = None;
        if let Some(old) = self.by_user.get(&record.user_id) {
            if old.record.telegram_id != record.telegram_id {
                self.by_telegram.remove(&old.record.telegram_id);
            }
        }
        self.by_telegram
            .insert(record.telegram_id, record.user_id.clone());
        self.by_user
            .insert(record.user_id.clone(), Account { record, factors });
        Ok(Loaded::Taken)
    }

    /// The account of a user.
    pub fn get(&self, user_id: &str) -> Option<&Account> {
        self.by_user.get(user_id)
    }

    /// The account of a user, to change it (then re-seal it).
    pub fn get_mut(&mut self, user_id: &str) -> Option<&mut Account> {
        self.by_user.get_mut(user_id)
    }

    /// The user a Telegram account is linked to.
    pub fn user_of(&self, telegram_id: u64) -> Option<&str> {
        self.by_telegram.get(&telegram_id).map(String::as_str)
    }

    /// Users with a removal due at or before `now` (Unix seconds).
    pub fn removals_due(&self, now: u64) -> Vec<String> {
        self.by_user
            .iter()
            .filter(|(_, a)| a.factors.removal.is_some_and(|r| r.effective_at <= now))
            .map(|(u, _)| u.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(user: &str, tg: u64, revision: u32) -> SecurityRecord {
        SecurityRecord {
            user_id: user.into(),
            telegram_id: tg,
            revision,
            linked_at_unix: 1,
            flags: 0,
            secrets: None,
        }
    }

    #[test]
    fn newer_revisions_replace_older_ones_never_the_reverse() {
        let mut a = Accounts::default();
        assert_eq!(a.load(rec("alice", 7, 2)).unwrap(), Loaded::Taken);
        assert_eq!(a.load(rec("alice", 7, 2)).unwrap(), Loaded::Same);
        assert_eq!(a.load(rec("alice", 7, 1)).unwrap(), Loaded::Older);
        assert_eq!(a.get("alice").unwrap().record.revision, 2);
        assert_eq!(a.load(rec("alice", 8, 3)).unwrap(), Loaded::Taken);
        assert_eq!(a.user_of(8), Some("alice"));
        assert_eq!(a.user_of(7), None);
    }
}
