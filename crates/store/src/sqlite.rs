//! The embedded SQLite backend.
//!
//! One writer connection behind a mutex serialises writes; a small pool of read-only reader
//! connections serves lookups concurrently (WAL lets readers proceed while a write commits).

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};

use crate::confirmations as conf;
use crate::migrations;
use crate::{
    ConfirmationDecision, ConfirmationInsert, ConfirmationRow, InsertOutcome, PublicKey,
    SecurityRecordRow, Store, StoreError, WalletId, WalletRow, MAX_GET_WALLETS,
};

/// Number of reader connections.
const READERS: usize = 4;

/// How long a connection waits for a lock held by another connection or process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements cached per connection.
const STATEMENT_CACHE: usize = 32;

/// The wallet columns, in the order [`read_row`] expects (a macro so SQL can be built with `concat!`).
macro_rules! columns {
    () => {
        "pubkey, wallet_id, user_id, telegram_id, flags, record, created_at"
    };
}

/// Wraps a rusqlite error as [`StoreError::Database`].
pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}

/// Locks a connection mutex. A poisoned mutex is recovered: a panicking holder's open
/// transaction was rolled back when its `Transaction` was dropped during unwinding.
fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A [`Store`] backed by one SQLite database file (WAL mode, `synchronous=FULL`).
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("readers", &self.readers.len())
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens or creates the database file; WAL journal, synchronous=FULL (durable commits), foreign keys on,
    /// busy_timeout (e.g. 5 s), runs schema migrations (PRAGMA user_version, an ordered list of migration
    /// SQL, each applied in its own transaction; refuses a database whose version is newer than this code knows).
    ///
    /// # Errors
    /// [`StoreError::Open`] if the file cannot be opened or configured (including when WAL mode
    /// cannot be enabled), [`StoreError::SchemaTooNew`], or [`StoreError::Migration`].
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: path.to_path_buf(),
            source: Box::new(e),
        };

        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut writer = Connection::open_with_flags(path, flags).map_err(open_err)?;
        configure(&writer).map_err(open_err)?;
        // Check before touching anything persistent (the journal mode) on a foreign database.
        // (Reading the header here also rejects a file that is not a database, as `Open`.)
        let found: i64 = writer
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(open_err)?;
        let found = u32::try_from(found)
            .map_err(|_| StoreError::Corrupt(format!("negative schema version {found}")))?;
        migrations::check_supported(found)?;
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                source: format!("cannot enable WAL journal mode (got {mode:?})").into(),
            });
        }
        migrations::migrate(&mut writer)?;
        sync_parent_dir(path)?;

        let reader_flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let readers = (0..READERS)
            .map(|_| {
                let c = Connection::open_with_flags(path, reader_flags)?;
                configure(&c)?;
                c.pragma_update(None, "query_only", true)?;
                Ok(Mutex::new(c))
            })
            .collect::<Result<Vec<_>, rusqlite::Error>>()
            .map_err(open_err)?;

        Ok(Self {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// The schema version recorded in the database (`PRAGMA user_version`).
    ///
    /// # Errors
    /// A database error, or [`StoreError::Corrupt`] if the stored version is negative.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        migrations::user_version(&self.reader())
    }

    /// The database file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Picks a reader: the first free one starting from a round-robin position, else waits
    /// on the round-robin one.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        for i in 0..n {
            match self.readers[(start + i) % n].try_lock() {
                Ok(g) => return g,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        lock(&self.readers[start % n])
    }

    /// `(journal_mode, synchronous, foreign_keys)` of the writer and of one reader, for tests.
    #[cfg(test)]
    pub(crate) fn pragmas(&self) -> Vec<(String, i64, i64)> {
        let q = |c: &Connection| {
            let jm: String = c
                .pragma_query_value(None, "journal_mode", |r| r.get(0))
                .unwrap();
            let sync: i64 = c
                .pragma_query_value(None, "synchronous", |r| r.get(0))
                .unwrap();
            let fk: i64 = c
                .pragma_query_value(None, "foreign_keys", |r| r.get(0))
                .unwrap();
            (jm, sync, fk)
        };
        vec![q(&lock(&self.writer)), q(&self.reader())]
    }

    /// Runs `f` on the writer connection, for tests.
    #[cfg(test)]
    pub(crate) fn with_writer<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        f(&mut lock(&self.writer))
    }
}

/// Per-connection settings.
fn configure(c: &Connection) -> rusqlite::Result<()> {
    c.busy_timeout(BUSY_TIMEOUT)?;
    c.pragma_update(None, "synchronous", "FULL")?;
    c.pragma_update(None, "foreign_keys", true)?;
    c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Syncs the directory holding the database so the file's creation itself is durable.
fn sync_parent_dir(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::Open {
                path: path.to_path_buf(),
                source: Box::new(e),
            })?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Maps a row-access error: type mismatches mean corrupt data, anything else is a database error.
pub(crate) fn row_err(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => StoreError::Corrupt(e.to_string()),
        e => db_err(e),
    }
}

/// Maps a row selected as `columns!()`.
fn read_row(r: &Row<'_>) -> Result<WalletRow, StoreError> {
    let pubkey: Vec<u8> = r.get(0).map_err(row_err)?;
    let wallet_id: Vec<u8> = r.get(1).map_err(row_err)?;
    let telegram_id: Option<i64> = r.get(3).map_err(row_err)?;
    let flags: i64 = r.get(4).map_err(row_err)?;
    let pubkey: PublicKey = pubkey
        .as_slice()
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("pubkey is {} bytes, not 32", pubkey.len())))?;
    let wallet_id: WalletId = wallet_id.as_slice().try_into().map_err(|_| {
        StoreError::Corrupt(format!("wallet_id is {} bytes, not 16", wallet_id.len()))
    })?;
    let telegram_id = telegram_id
        .map(|t| {
            u64::try_from(t).map_err(|_| StoreError::Corrupt(format!("negative telegram_id {t}")))
        })
        .transpose()?;
    let flags = u32::try_from(flags)
        .map_err(|_| StoreError::Corrupt(format!("flags {flags} out of u32 range")))?;
    Ok(WalletRow {
        pubkey,
        wallet_id,
        user_id: r.get(2).map_err(row_err)?,
        telegram_id,
        flags,
        record: r.get(5).map_err(row_err)?,
        created_at: r.get(6).map_err(row_err)?,
    })
}

/// Runs a query expected to return at most one wallet row.
fn query_one(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<WalletRow>, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(db_err)?;
    let mut rows = stmt.query(params).map_err(db_err)?;
    match rows.next().map_err(db_err)? {
        Some(r) => read_row(r).map(Some),
        None => Ok(None),
    }
}

fn select_by_pubkey(c: &Connection, pubkey: &PublicKey) -> Result<Option<WalletRow>, StoreError> {
    query_one(
        c,
        concat!("SELECT ", columns!(), " FROM wallets WHERE pubkey = ?1"),
        [&pubkey[..]],
    )
}

fn select_by_idempotency_key(
    c: &Connection,
    user_id: &str,
    key: &str,
) -> Result<Option<WalletRow>, StoreError> {
    query_one(
        c,
        "SELECT w.pubkey, w.wallet_id, w.user_id, w.telegram_id, w.flags, w.record, w.created_at \
         FROM idempotency i JOIN wallets w ON w.pubkey = i.pubkey \
         WHERE i.user_id = ?1 AND i.key = ?2",
        params![user_id, key],
    )
}

fn exists(c: &Connection, sql: &str, value: &[u8]) -> Result<bool, StoreError> {
    c.prepare_cached(sql)
        .and_then(|mut s| s.query_row([value], |_| Ok(())).optional())
        .map(|o| o.is_some())
        .map_err(db_err)
}

impl Store for SqliteStore {
    fn insert_wallet(
        &self,
        row: &WalletRow,
        idempotency_key: Option<&str>,
    ) -> Result<InsertOutcome, StoreError> {
        let telegram_id = row
            .telegram_id
            .map(|t| i64::try_from(t).map_err(|_| StoreError::TelegramIdOutOfRange(t)))
            .transpose()?;

        let mut conn = lock(&self.writer);
        // IMMEDIATE takes the write lock up front, so the checks below and the inserts are one
        // atomic step even against other processes sharing the file.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;

        if let Some(key) = idempotency_key {
            if let Some(existing) = select_by_idempotency_key(&tx, &row.user_id, key)? {
                return Ok(InsertOutcome::Existing(existing)); // `tx` rolls back on drop.
            }
        }
        if exists(&tx, "SELECT 1 FROM wallets WHERE pubkey = ?1", &row.pubkey)? {
            return Err(StoreError::DuplicateWallet);
        }
        if exists(
            &tx,
            "SELECT 1 FROM wallets WHERE wallet_id = ?1",
            &row.wallet_id,
        )? {
            return Err(StoreError::DuplicateWalletId);
        }

        tx.prepare_cached(concat!(
            "INSERT INTO wallets (",
            columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ))
        .and_then(|mut s| {
            s.execute(params![
                &row.pubkey[..],
                &row.wallet_id[..],
                row.user_id,
                telegram_id,
                i64::from(row.flags),
                row.record,
                row.created_at,
            ])
        })
        .map_err(db_err)?;
        if let Some(key) = idempotency_key {
            tx.prepare_cached("INSERT INTO idempotency (user_id, key, pubkey) VALUES (?1, ?2, ?3)")
                .and_then(|mut s| s.execute(params![row.user_id, key, &row.pubkey[..]]))
                .map_err(db_err)?;
        }
        // WAL + synchronous=FULL: the commit returns after the WAL is fsync'd.
        tx.commit().map_err(db_err)?;
        Ok(InsertOutcome::Inserted)
    }

    fn wallet_by_idempotency_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> Result<Option<WalletRow>, StoreError> {
        select_by_idempotency_key(&self.reader(), user_id, key)
    }

    fn get_wallet(&self, pubkey: &PublicKey) -> Result<Option<WalletRow>, StoreError> {
        select_by_pubkey(&self.reader(), pubkey)
    }

    fn get_wallets(&self, pubkeys: &[PublicKey]) -> Result<Vec<WalletRow>, StoreError> {
        if pubkeys.len() > MAX_GET_WALLETS {
            return Err(StoreError::TooManyKeys {
                requested: pubkeys.len(),
                max: MAX_GET_WALLETS,
            });
        }
        if pubkeys.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.reader();
        // One read transaction: all rows come from the same snapshot.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(db_err)?;
        let mut seen = HashSet::with_capacity(pubkeys.len());
        let mut out = Vec::new();
        for pk in pubkeys {
            if seen.insert(pk) {
                if let Some(row) = select_by_pubkey(&tx, pk)? {
                    out.push(row);
                }
            }
        }
        tx.finish().map_err(db_err)?;
        Ok(out)
    }

    fn list_wallets(&self, user_id: &str) -> Result<Vec<WalletRow>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(concat!(
                "SELECT ",
                columns!(),
                " FROM wallets WHERE user_id = ?1 ORDER BY created_at, rowid"
            ))
            .map_err(db_err)?;
        let mut rows = stmt.query([user_id]).map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db_err)? {
            out.push(read_row(r)?);
        }
        Ok(out)
    }

    fn put_security_record(&self, row: &SecurityRecordRow) -> Result<(), StoreError> {
        let conn = lock(&self.writer);
        // Autocommit: one statement, synced on commit (WAL + synchronous=FULL).
        conf::put_security_record(&conn, row)
    }

    fn get_security_record(&self, user_id: &str) -> Result<Option<SecurityRecordRow>, StoreError> {
        conf::get_security_record(&self.reader(), user_id)
    }

    fn list_security_records(&self) -> Result<Vec<SecurityRecordRow>, StoreError> {
        conf::list_security_records(&self.reader())
    }

    fn insert_confirmation(&self, row: &ConfirmationRow) -> Result<ConfirmationInsert, StoreError> {
        conf::check_new(row)?;
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        if let Some(key) = &row.idempotency_key {
            if let Some(existing) = conf::confirmation_by_idempotency_key(&tx, &row.wallet, key)? {
                return Ok(ConfirmationInsert::Existing(Box::new(existing))); // `tx` rolls back on drop.
            }
        }
        if conf::exists(&tx, &row.id)? {
            return Err(StoreError::DuplicateConfirmation(row.id.clone()));
        }
        conf::insert(&tx, row)?;
        tx.commit().map_err(db_err)?;
        Ok(ConfirmationInsert::Inserted)
    }

    fn decide(
        &self,
        id: &str,
        decision: &ConfirmationDecision,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let changed = conf::decide(&tx, id, decision, now)?;
        if changed == 0 {
            return if conf::exists(&tx, id)? {
                Ok(false)
            } else {
                Err(StoreError::UnknownConfirmation(id.to_owned()))
            };
        }
        if let ConfirmationDecision::Exported { record, flags } = decision {
            if conf::replace_wallet_record_of(&tx, id, record, *flags)? != 1 {
                return Err(StoreError::Corrupt(format!(
                    "confirmation {id} names a wallet that is not stored"
                )));
            }
        }
        tx.commit().map_err(db_err)?;
        Ok(true)
    }

    fn get_confirmation(&self, id: &str) -> Result<Option<ConfirmationRow>, StoreError> {
        conf::get_confirmation(&self.reader(), id)
    }

    fn confirmation_by_idempotency_key(
        &self,
        wallet: &PublicKey,
        idempotency_key: &str,
    ) -> Result<Option<ConfirmationRow>, StoreError> {
        conf::confirmation_by_idempotency_key(&self.reader(), wallet, idempotency_key)
    }

    fn fail_all_pending(&self, reason: &str, now: i64) -> Result<usize, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let n = conf::fail_all_pending(&tx, reason, now)?;
        tx.commit().map_err(db_err)?;
        Ok(n)
    }

    fn health(&self) -> Result<(), StoreError> {
        let conn = self.reader();
        conn.prepare_cached("SELECT 1")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .map_err(db_err)?;
        Ok(())
    }
}
