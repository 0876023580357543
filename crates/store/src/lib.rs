//! Custos store of encrypted wallet records.
//!
//! The bridge process keeps the sealed wallet records produced by the signer here. The store
//! only ever sees ciphertext and public data (public keys, wallet ids, user ids); the signer
//! authenticates every record itself, so the store verifies nothing cryptographic. What the
//! store must guarantee is durability: when [`Store::insert_wallet`] returns
//! [`InsertOutcome::Inserted`], the row has been committed and synced to stable storage, so the
//! caller may acknowledge the wallet to its client.
//!
//! Since issue 4 it also keeps each user's sealed *security record* (the Telegram account the
//! signer bound to the user; opaque here, authenticated by the signer whenever it is used) and
//! the *confirmations*: signature requests waiting for, or having received, the user's decision
//! in Telegram. A confirmation row is written durably before the API reports it as pending, and
//! its state moves from `pending` exactly once ([`Store::decide`]: the first decision wins).
//!
//! [`Store`] is the backend-neutral interface; [`SqliteStore`] is the embedded SQLite backend.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod confirmations;
mod error;
mod migrations;
mod sqlite;

#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use error::{BoxError, StoreError};
pub use migrations::LATEST_SCHEMA_VERSION;
pub use sqlite::SqliteStore;

/// An ed25519 (Solana) public key: the primary key of a wallet.
pub type PublicKey = [u8; 32];

/// The random identifier the signer assigns to a wallet (bound into its sealed record).
pub type WalletId = [u8; 16];

/// The largest number of public keys accepted by one [`Store::get_wallets`] call.
pub const MAX_GET_WALLETS: usize = 256;

/// One stored wallet: public metadata plus the opaque sealed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletRow {
    /// The wallet's public key (unique).
    pub pubkey: PublicKey,
    /// The wallet's id (unique).
    pub wallet_id: WalletId,
    /// The owning user.
    pub user_id: String,
    /// The owner's Telegram user id, if any. Must not exceed `i64::MAX`.
    pub telegram_id: Option<u64>,
    /// Wallet flags (opaque to the store).
    pub flags: u32,
    /// The sealed wallet record (opaque bytes produced by the signer).
    pub record: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
}

/// The result of [`Store::insert_wallet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The row was written and committed durably.
    Inserted,
    /// The idempotency key was already used by this user: here is the wallet it created. Nothing was written.
    Existing(WalletRow),
}

/// A user's sealed security record: the Telegram account the signer bound to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityRecordRow {
    /// The user (primary key).
    pub user_id: String,
    /// The bound Telegram user id, a plain copy of what the signer reported (not
    /// authenticated here). Must not exceed `i64::MAX`.
    pub telegram_id: u64,
    /// The sealed record (opaque bytes produced by the signer).
    pub record: Vec<u8>,
    /// Unix seconds of the last write.
    pub updated_at: i64,
}

/// Where a confirmation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfirmationState {
    /// Waiting for the user.
    Pending,
    /// The user approved and the signer signed.
    Approved,
    /// The user rejected it.
    Rejected,
    /// Nobody decided in time.
    Expired,
    /// It could not be completed (undeliverable, or the service restarted).
    Failed,
    /// A key export: approved, second factor given, and the key sent encrypted to the
    /// user's browser; the wallet record now carries the exported flag.
    Exported,
}

impl ConfirmationState {
    /// The name stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfirmationState::Pending => "pending",
            ConfirmationState::Approved => "approved",
            ConfirmationState::Rejected => "rejected",
            ConfirmationState::Expired => "expired",
            ConfirmationState::Failed => "failed",
            ConfirmationState::Exported => "exported",
        }
    }

    /// Parses a stored state name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => ConfirmationState::Pending,
            "approved" => ConfirmationState::Approved,
            "rejected" => ConfirmationState::Rejected,
            "expired" => ConfirmationState::Expired,
            "failed" => ConfirmationState::Failed,
            "exported" => ConfirmationState::Exported,
            _ => return None,
        })
    }
}

/// How a confirmation ended, as recorded by [`Store::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmationDecision {
    /// Approved and signed.
    Approved {
        /// The signed wire transaction.
        transaction: Vec<u8>,
        /// The signature.
        signature: Vec<u8>,
    },
    /// Rejected by the user.
    Rejected,
    /// Expired.
    Expired,
    /// Failed, with a secret-free reason.
    Failed {
        /// Why.
        reason: String,
    },
    /// The key was exported: the wallet's record, re-sealed with the exported flag,
    /// replaces the stored one in the same transaction.
    Exported {
        /// The new sealed wallet record.
        record: Vec<u8>,
        /// Its flags, as sealed in it.
        flags: u32,
    },
}

impl ConfirmationDecision {
    /// The state this decision moves a confirmation to.
    pub fn state(&self) -> ConfirmationState {
        match self {
            ConfirmationDecision::Approved { .. } => ConfirmationState::Approved,
            ConfirmationDecision::Rejected => ConfirmationState::Rejected,
            ConfirmationDecision::Expired => ConfirmationState::Expired,
            ConfirmationDecision::Failed { .. } => ConfirmationState::Failed,
            ConfirmationDecision::Exported { .. } => ConfirmationState::Exported,
        }
    }
}

/// One confirmation: a signature request held for the user's decision in Telegram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationRow {
    /// The signer's confirmation id: 32 lowercase hex characters (primary key).
    pub id: String,
    /// The wallet asked to sign.
    pub wallet: PublicKey,
    /// The wallet's owner.
    pub user_id: String,
    /// The signing request's idempotency key, if it had one; unique per wallet.
    pub idempotency_key: Option<String>,
    /// What the transaction does, in one line.
    pub summary: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which the user can no longer decide.
    pub expires_at: i64,
    /// Where it stands.
    pub state: ConfirmationState,
    /// For [`ConfirmationState::Approved`]: the signed wire transaction.
    pub transaction: Option<Vec<u8>>,
    /// For [`ConfirmationState::Approved`]: the signature.
    pub signature: Option<Vec<u8>>,
    /// For [`ConfirmationState::Failed`] (and whatever else a caller explains): why.
    pub reason: Option<String>,
    /// Unix seconds of the decision; `None` while pending.
    pub decided_at: Option<i64>,
}

impl ConfirmationRow {
    /// A new pending confirmation.
    pub fn pending(
        id: String,
        wallet: PublicKey,
        user_id: String,
        idempotency_key: Option<String>,
        summary: String,
        created_at: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            id,
            wallet,
            user_id,
            idempotency_key,
            summary,
            created_at,
            expires_at,
            state: ConfirmationState::Pending,
            transaction: None,
            signature: None,
            reason: None,
            decided_at: None,
        }
    }
}

/// The result of [`Store::insert_confirmation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmationInsert {
    /// The row was written and committed durably.
    Inserted,
    /// The wallet already has a confirmation under this idempotency key: here it is. Nothing
    /// was written.
    Existing(Box<ConfirmationRow>),
}

/// True for a well-formed confirmation id: 32 lowercase hex characters.
pub fn is_confirmation_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A durable store of wallet rows. Implementations must be safe to call from many threads.
///
/// All methods are blocking; async callers should use `spawn_blocking`.
pub trait Store: Send + Sync {
    /// Inserts a new wallet row; with `idempotency_key`, the (user_id, key) pair is recorded in the same
    /// transaction. If (user_id, key) already exists, returns Existing(row) and writes nothing.
    /// The same key used by a different user is scoped per user (allowed, independent).
    ///
    /// Returns [`InsertOutcome::Inserted`] only after the transaction is committed durably.
    ///
    /// # Errors
    /// [`StoreError::DuplicateWallet`] if the public key already exists,
    /// [`StoreError::DuplicateWalletId`] if the wallet id already exists,
    /// [`StoreError::TelegramIdOutOfRange`] if `telegram_id > i64::MAX`, or a database error.
    fn insert_wallet(
        &self,
        row: &WalletRow,
        idempotency_key: Option<&str>,
    ) -> Result<InsertOutcome, StoreError>;

    /// The wallet created earlier under (user_id, key), if any.
    ///
    /// # Errors
    /// A database error, or [`StoreError::Corrupt`] if the stored row cannot be mapped.
    fn wallet_by_idempotency_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> Result<Option<WalletRow>, StoreError>;

    /// The wallet with this public key, if any.
    ///
    /// # Errors
    /// A database error, or [`StoreError::Corrupt`] if the stored row cannot be mapped.
    fn get_wallet(&self, pubkey: &PublicKey) -> Result<Option<WalletRow>, StoreError>;

    /// Rows for those of `pubkeys` that exist (any order, no duplicates); at most 256 keys per call (error otherwise).
    ///
    /// # Errors
    /// [`StoreError::TooManyKeys`] if more than [`MAX_GET_WALLETS`] keys are passed, a database
    /// error, or [`StoreError::Corrupt`].
    fn get_wallets(&self, pubkeys: &[PublicKey]) -> Result<Vec<WalletRow>, StoreError>;

    /// All wallets of a user, oldest first (created_at, then insertion order).
    ///
    /// # Errors
    /// A database error, or [`StoreError::Corrupt`] if a stored row cannot be mapped.
    fn list_wallets(&self, user_id: &str) -> Result<Vec<WalletRow>, StoreError>;

    /// Stores a user's security record, replacing any earlier one, durably.
    ///
    /// # Errors
    /// [`StoreError::TelegramIdOutOfRange`] if `telegram_id > i64::MAX`, or a database error.
    fn put_security_record(&self, row: &SecurityRecordRow) -> Result<(), StoreError>;

    /// The user's security record, if any.
    ///
    /// # Errors
    /// A database error, or [`StoreError::Corrupt`] if the stored row cannot be mapped.
    fn get_security_record(&self, user_id: &str) -> Result<Option<SecurityRecordRow>, StoreError>;

    /// Every stored security record (handed to the signer at start).
    fn list_security_records(&self) -> Result<Vec<SecurityRecordRow>, StoreError>;

    /// Inserts a new confirmation, committed durably before this returns
    /// [`ConfirmationInsert::Inserted`]. If the row carries an idempotency key that the wallet
    /// already used for a confirmation, returns that one and writes nothing.
    ///
    /// # Errors
    /// [`StoreError::InvalidConfirmation`] if the id is not 32 lowercase hex characters or
    /// the row is not pending, [`StoreError::DuplicateConfirmation`] if the id exists, or a
    /// database error.
    fn insert_confirmation(&self, row: &ConfirmationRow) -> Result<ConfirmationInsert, StoreError>;

    /// Records how a confirmation ended, durably. Only a pending confirmation changes: the
    /// first decision wins. Returns `true` if this call changed it, `false` if it had been
    /// decided already (nothing is written then).
    ///
    /// # Errors
    /// [`StoreError::UnknownConfirmation`] if there is no such confirmation, or a database
    /// error.
    fn decide(
        &self,
        id: &str,
        decision: &ConfirmationDecision,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// The confirmation with this id, if any.
    ///
    /// # Errors
    /// A database error, or [`StoreError::Corrupt`] if the stored row cannot be mapped.
    fn get_confirmation(&self, id: &str) -> Result<Option<ConfirmationRow>, StoreError>;

    /// The confirmation that `wallet` created under `idempotency_key`, if any.
    ///
    /// # Errors
    /// A database error, or [`StoreError::Corrupt`] if the stored row cannot be mapped.
    fn confirmation_by_idempotency_key(
        &self,
        wallet: &PublicKey,
        idempotency_key: &str,
    ) -> Result<Option<ConfirmationRow>, StoreError>;

    /// Marks every pending confirmation failed with `reason` at `now`, in one durable
    /// transaction, and returns how many there were. Run at start-up: pending confirmations
    /// live in the signer's memory and do not survive a restart.
    ///
    /// # Errors
    /// A database error.
    fn fail_all_pending(&self, reason: &str, now: i64) -> Result<usize, StoreError>;

    /// Cheap liveness check (e.g. SELECT 1).
    ///
    /// # Errors
    /// A database error if the backend cannot answer.
    fn health(&self) -> Result<(), StoreError>;
}

macro_rules! forward_store {
    ($($ty:ty),*) => {$(
        impl<S: Store + ?Sized> Store for $ty {
            fn insert_wallet(
                &self,
                row: &WalletRow,
                idempotency_key: Option<&str>,
            ) -> Result<InsertOutcome, StoreError> {
                (**self).insert_wallet(row, idempotency_key)
            }
            fn wallet_by_idempotency_key(
                &self,
                user_id: &str,
                key: &str,
            ) -> Result<Option<WalletRow>, StoreError> {
                (**self).wallet_by_idempotency_key(user_id, key)
            }
            fn get_wallet(&self, pubkey: &PublicKey) -> Result<Option<WalletRow>, StoreError> {
                (**self).get_wallet(pubkey)
            }
            fn get_wallets(&self, pubkeys: &[PublicKey]) -> Result<Vec<WalletRow>, StoreError> {
                (**self).get_wallets(pubkeys)
            }
            fn list_wallets(&self, user_id: &str) -> Result<Vec<WalletRow>, StoreError> {
                (**self).list_wallets(user_id)
            }
            fn put_security_record(&self, row: &SecurityRecordRow) -> Result<(), StoreError> {
                (**self).put_security_record(row)
            }
            fn get_security_record(
                &self,
                user_id: &str,
            ) -> Result<Option<SecurityRecordRow>, StoreError> {
                (**self).get_security_record(user_id)
            }
            fn list_security_records(&self) -> Result<Vec<SecurityRecordRow>, StoreError> {
                (**self).list_security_records()
            }
            fn insert_confirmation(
                &self,
                row: &ConfirmationRow,
            ) -> Result<ConfirmationInsert, StoreError> {
                (**self).insert_confirmation(row)
            }
            fn decide(
                &self,
                id: &str,
                decision: &ConfirmationDecision,
                now: i64,
            ) -> Result<bool, StoreError> {
                (**self).decide(id, decision, now)
            }
            fn get_confirmation(&self, id: &str) -> Result<Option<ConfirmationRow>, StoreError> {
                (**self).get_confirmation(id)
            }
            fn confirmation_by_idempotency_key(
                &self,
                wallet: &PublicKey,
                idempotency_key: &str,
            ) -> Result<Option<ConfirmationRow>, StoreError> {
                (**self).confirmation_by_idempotency_key(wallet, idempotency_key)
            }
            fn fail_all_pending(&self, reason: &str, now: i64) -> Result<usize, StoreError> {
                (**self).fail_all_pending(reason, now)
            }
            fn health(&self) -> Result<(), StoreError> {
                (**self).health()
            }
        }
    )*};
}

forward_store!(Arc<S>, Box<S>);
