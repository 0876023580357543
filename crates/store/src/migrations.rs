//! Ordered schema migrations, tracked in `PRAGMA user_version`.
//!
//! `MIGRATIONS[i]` takes the schema from version `i` to version `i + 1`. Entries are never edited
//! or removed once released; new schema changes are appended.

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;

/// The migrations, in order. Each runs in its own IMMEDIATE transaction together with the
/// `user_version` bump.
const MIGRATIONS: &[&str] = &[
    // Version 1: wallets and per-user idempotency keys.
    "CREATE TABLE wallets (
        pubkey      BLOB    NOT NULL PRIMARY KEY CHECK (length(pubkey) = 32),
        wallet_id   BLOB    NOT NULL UNIQUE      CHECK (length(wallet_id) = 16),
        user_id     TEXT    NOT NULL,
        telegram_id INTEGER                      CHECK (telegram_id IS NULL OR telegram_id >= 0),
        flags       INTEGER NOT NULL             CHECK (flags BETWEEN 0 AND 4294967295),
        record      BLOB    NOT NULL,
        created_at  INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX wallets_by_user ON wallets (user_id, created_at);
    CREATE TABLE idempotency (
        user_id TEXT NOT NULL,
        key     TEXT NOT NULL,
        pubkey  BLOB NOT NULL REFERENCES wallets (pubkey),
        PRIMARY KEY (user_id, key)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX idempotency_by_pubkey ON idempotency (pubkey);",
    // Version 2: Telegram links (sealed security records) and confirmations (issue 4).
    "CREATE TABLE security_records (
        user_id     TEXT    NOT NULL PRIMARY KEY,
        telegram_id INTEGER NOT NULL CHECK (telegram_id >= 0),
        record      BLOB    NOT NULL,
        updated_at  INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE confirmations (
        id              TEXT    NOT NULL PRIMARY KEY
                                CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
        wallet          BLOB    NOT NULL CHECK (length(wallet) = 32),
        user_id         TEXT    NOT NULL,
        idempotency_key TEXT,
        summary         TEXT    NOT NULL,
        created_at      INTEGER NOT NULL,
        expires_at      INTEGER NOT NULL,
        state           TEXT    NOT NULL
                                CHECK (state IN ('pending', 'approved', 'rejected', 'expired', 'failed')),
        \"transaction\"   BLOB,
        signature       BLOB,
        reason          TEXT,
        decided_at      INTEGER,
        CHECK ((state = 'pending') = (decided_at IS NULL)),
        CHECK ((state = 'approved') = (\"transaction\" IS NOT NULL AND signature IS NOT NULL)),
        CHECK (state = 'approved' OR (\"transaction\" IS NULL AND signature IS NULL))
    ) STRICT;
    CREATE UNIQUE INDEX confirmations_by_key ON confirmations (wallet, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE INDEX confirmations_pending ON confirmations (id) WHERE state = 'pending';",
    // Version 3: key exports (issue 5) end in state 'exported'. SQLite cannot change a
    // CHECK constraint in place, so the table is rebuilt and its rows copied.
    "CREATE TABLE confirmations_v3 (
        id              TEXT    NOT NULL PRIMARY KEY
                                CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*'),
        wallet          BLOB    NOT NULL CHECK (length(wallet) = 32),
        user_id         TEXT    NOT NULL,
        idempotency_key TEXT,
        summary         TEXT    NOT NULL,
        created_at      INTEGER NOT NULL,
        expires_at      INTEGER NOT NULL,
        state           TEXT    NOT NULL
                                CHECK (state IN ('pending', 'approved', 'rejected', 'expired', 'failed', 'exported')),
        \"transaction\"   BLOB,
        signature       BLOB,
        reason          TEXT,
        decided_at      INTEGER,
        CHECK ((state = 'pending') = (decided_at IS NULL)),
        CHECK ((state = 'approved') = (\"transaction\" IS NOT NULL AND signature IS NOT NULL)),
        CHECK (state = 'approved' OR (\"transaction\" IS NULL AND signature IS NULL))
    ) STRICT;
    INSERT INTO confirmations_v3 SELECT * FROM confirmations;
    DROP TABLE confirmations;
    ALTER TABLE confirmations_v3 RENAME TO confirmations;
    CREATE UNIQUE INDEX confirmations_by_key ON confirmations (wallet, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE INDEX confirmations_pending ON confirmations (id) WHERE state = 'pending';",
];

/// The migrations, for tests that build an older database by hand.
#[cfg(test)]
pub(crate) const MIGRATIONS_FOR_TESTS: &[&str] = MIGRATIONS;

/// The newest schema version this code knows (the number of migrations).
pub const LATEST_SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Reads `PRAGMA user_version`.
pub(crate) fn user_version(conn: &Connection) -> Result<u32, StoreError> {
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(crate::sqlite::db_err)?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative schema version {v}")))
}

/// Brings the database up to [`LATEST_SCHEMA_VERSION`], one migration per transaction.
///
/// Safe against another process migrating the same file concurrently: the version is re-read
/// inside each IMMEDIATE (write-locked) transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    loop {
        let version = user_version(conn)?;
        check_supported(version)?;
        if version == LATEST_SCHEMA_VERSION {
            return Ok(version);
        }
        let next = version + 1;
        let fail = |e: rusqlite::Error| StoreError::Migration {
            version: next,
            source: Box::new(e),
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        // Someone else may have migrated between the read above and taking the write lock.
        if user_version(&tx)? != version {
            continue;
        }
        tx.execute_batch(MIGRATIONS[version as usize])
            .map_err(fail)?;
        tx.pragma_update(None, "user_version", next).map_err(fail)?;
        tx.commit().map_err(fail)?;
    }
}

/// Refuses a schema newer than this code knows.
pub(crate) fn check_supported(found: u32) -> Result<(), StoreError> {
    if found > LATEST_SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: LATEST_SCHEMA_VERSION,
        });
    }
    Ok(())
}
