//! Custos store of encrypted wallet records.
//!
//! The bridge process keeps the sealed wallet records produced by the signer here. The store
//! only ever sees ciphertext and public data (public keys, wallet ids, user ids); the signer
//! authenticates every record itself, so the store verifies nothing cryptographic. What the
//! store must guarantee is durability: when [`Store::insert_wallet`] returns
//! [`InsertOutcome::Inserted`], the row has been committed and synced to stable storage, so the
//! caller may acknowledge the wallet to its client.
//!
//! [`Store`] is the backend-neutral interface; [`SqliteStore`] is the embedded SQLite backend.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

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
            fn health(&self) -> Result<(), StoreError> {
                (**self).health()
            }
        }
    )*};
}

forward_store!(Arc<S>, Box<S>);
