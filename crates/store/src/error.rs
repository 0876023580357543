//! The store's error type (backend-neutral: backend errors are boxed).

use std::path::PathBuf;

/// A boxed backend error (for example a `rusqlite::Error`), kept as the `source` of a [`StoreError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors returned by a [`Store`](crate::Store).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or configured.
    #[error("cannot open store database {}: {source}", path.display())]
    Open {
        /// The database path.
        path: PathBuf,
        /// The backend error.
        #[source]
        source: BoxError,
    },

    /// A schema migration failed; the database stays at `version - 1`.
    #[error("schema migration to version {version} failed: {source}")]
    Migration {
        /// The version the failed migration would have produced.
        version: u32,
        /// The backend error.
        #[source]
        source: BoxError,
    },

    /// The database was written by newer code with a schema this code does not know.
    #[error("database schema version {found} is newer than the supported version {supported}")]
    SchemaTooNew {
        /// The schema version found in the database.
        found: u32,
        /// The newest schema version this code knows.
        supported: u32,
    },

    /// A backend error while running a query.
    #[error("database error: {0}")]
    Database(#[source] BoxError),

    /// A wallet with this public key already exists; nothing was written.
    #[error("a wallet with this public key already exists")]
    DuplicateWallet,

    /// A wallet with this wallet id already exists; nothing was written.
    #[error("a wallet with this wallet id already exists")]
    DuplicateWalletId,

    /// The Telegram id does not fit the store's signed 64-bit integer column.
    #[error("telegram id {0} exceeds the maximum storable value {max}", max = i64::MAX)]
    TelegramIdOutOfRange(u64),

    /// Too many public keys were passed to [`Store::get_wallets`](crate::Store::get_wallets).
    #[error("too many public keys in one lookup: {requested} (maximum {max})")]
    TooManyKeys {
        /// The number of keys passed.
        requested: usize,
        /// The maximum accepted.
        max: usize,
    },

    /// A confirmation with this id already exists; nothing was written.
    #[error("a confirmation with id {0} already exists")]
    DuplicateConfirmation(String),

    /// No confirmation has this id.
    #[error("no confirmation with id {0}")]
    UnknownConfirmation(String),

    /// A confirmation row that cannot be inserted as given (bad id, not pending, ...).
    #[error("invalid confirmation: {0}")]
    InvalidConfirmation(String),

    /// A stored row or database header could not be mapped (for example a blob of the wrong length).
    #[error("corrupt store data: {0}")]
    Corrupt(String),
}
