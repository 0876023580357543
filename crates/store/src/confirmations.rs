//! SQL for security records and confirmations (schema version 2), on a given connection.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::sqlite::{db_err, row_err};
use crate::{
    is_confirmation_id, ConfirmationDecision, ConfirmationRow, ConfirmationState, PublicKey,
    SecurityRecordRow, StoreError,
};

/// The confirmation columns, in the order [`read_confirmation`] expects.
macro_rules! confirmation_columns {
    () => {
        "id, wallet, user_id, idempotency_key, summary, created_at, expires_at, state, \
         \"transaction\", signature, reason, decided_at"
    };
}

fn telegram_id_sql(t: u64) -> Result<i64, StoreError> {
    i64::try_from(t).map_err(|_| StoreError::TelegramIdOutOfRange(t))
}

pub(crate) fn put_security_record(
    c: &Connection,
    row: &SecurityRecordRow,
) -> Result<(), StoreError> {
    let telegram_id = telegram_id_sql(row.telegram_id)?;
    c.prepare_cached(
        "INSERT INTO security_records (user_id, telegram_id, record, updated_at) \
         VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (user_id) DO UPDATE SET telegram_id = excluded.telegram_id, \
         record = excluded.record, updated_at = excluded.updated_at",
    )
    .and_then(|mut s| {
        s.execute(params![
            row.user_id,
            telegram_id,
            row.record,
            row.updated_at
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

pub(crate) fn list_security_records(c: &Connection) -> Result<Vec<SecurityRecordRow>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT user_id, telegram_id, record, updated_at FROM security_records \
             ORDER BY user_id",
        )
        .map_err(db_err)?;
    let mut rows = stmt.query([]).map_err(db_err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db_err)? {
        let telegram_id: i64 = r.get(1).map_err(row_err)?;
        out.push(SecurityRecordRow {
            user_id: r.get(0).map_err(row_err)?,
            telegram_id: u64::try_from(telegram_id)
                .map_err(|_| StoreError::Corrupt(format!("negative telegram_id {telegram_id}")))?,
            record: r.get(2).map_err(row_err)?,
            updated_at: r.get(3).map_err(row_err)?,
        });
    }
    Ok(out)
}

/// Replaces the record (and flags) of the wallet a confirmation is for: the export's
/// re-sealed record, in the transaction that decides it.
pub(crate) fn replace_wallet_record_of(
    c: &Connection,
    confirmation_id: &str,
    record: &[u8],
    flags: u32,
) -> Result<usize, StoreError> {
    c.prepare_cached(
        "UPDATE wallets SET record = ?2, flags = ?3 \
         WHERE pubkey = (SELECT wallet FROM confirmations WHERE id = ?1)",
    )
    .and_then(|mut s| s.execute(params![confirmation_id, record, i64::from(flags)]))
    .map_err(db_err)
}

pub(crate) fn get_security_record(
    c: &Connection,
    user_id: &str,
) -> Result<Option<SecurityRecordRow>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT user_id, telegram_id, record, updated_at FROM security_records \
             WHERE user_id = ?1",
        )
        .map_err(db_err)?;
    let mut rows = stmt.query([user_id]).map_err(db_err)?;
    let Some(r) = rows.next().map_err(db_err)? else {
        return Ok(None);
    };
    let telegram_id: i64 = r.get(1).map_err(row_err)?;
    Ok(Some(SecurityRecordRow {
        user_id: r.get(0).map_err(row_err)?,
        telegram_id: u64::try_from(telegram_id)
            .map_err(|_| StoreError::Corrupt(format!("negative telegram_id {telegram_id}")))?,
        record: r.get(2).map_err(row_err)?,
        updated_at: r.get(3).map_err(row_err)?,
    }))
}

fn read_confirmation(r: &Row<'_>) -> Result<ConfirmationRow, StoreError> {
    let wallet: Vec<u8> = r.get(1).map_err(row_err)?;
    let wallet: PublicKey = wallet
        .as_slice()
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("wallet is {} bytes, not 32", wallet.len())))?;
    let state: String = r.get(7).map_err(row_err)?;
    let state = ConfirmationState::parse(&state)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown confirmation state {state:?}")))?;
    Ok(ConfirmationRow {
        id: r.get(0).map_err(row_err)?,
        wallet,
        user_id: r.get(2).map_err(row_err)?,
        idempotency_key: r.get(3).map_err(row_err)?,
        summary: r.get(4).map_err(row_err)?,
        created_at: r.get(5).map_err(row_err)?,
        expires_at: r.get(6).map_err(row_err)?,
        state,
        transaction: r.get(8).map_err(row_err)?,
        signature: r.get(9).map_err(row_err)?,
        reason: r.get(10).map_err(row_err)?,
        decided_at: r.get(11).map_err(row_err)?,
    })
}

fn query_confirmation(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<ConfirmationRow>, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(db_err)?;
    let mut rows = stmt.query(params).map_err(db_err)?;
    match rows.next().map_err(db_err)? {
        Some(r) => read_confirmation(r).map(Some),
        None => Ok(None),
    }
}

pub(crate) fn get_confirmation(
    c: &Connection,
    id: &str,
) -> Result<Option<ConfirmationRow>, StoreError> {
    query_confirmation(
        c,
        concat!(
            "SELECT ",
            confirmation_columns!(),
            " FROM confirmations WHERE id = ?1"
        ),
        [id],
    )
}

pub(crate) fn confirmation_by_idempotency_key(
    c: &Connection,
    wallet: &PublicKey,
    key: &str,
) -> Result<Option<ConfirmationRow>, StoreError> {
    query_confirmation(
        c,
        concat!(
            "SELECT ",
            confirmation_columns!(),
            " FROM confirmations WHERE wallet = ?1 AND idempotency_key = ?2"
        ),
        params![&wallet[..], key],
    )
}

/// Checks a row before insertion.
pub(crate) fn check_new(row: &ConfirmationRow) -> Result<(), StoreError> {
    if !is_confirmation_id(&row.id) {
        return Err(StoreError::InvalidConfirmation(format!(
            "id {:?} is not 32 lowercase hex characters",
            row.id
        )));
    }
    if row.state != ConfirmationState::Pending
        || row.transaction.is_some()
        || row.signature.is_some()
        || row.decided_at.is_some()
    {
        return Err(StoreError::InvalidConfirmation(
            "a new confirmation must be pending, undecided and unsigned".into(),
        ));
    }
    Ok(())
}

pub(crate) fn exists(c: &Connection, id: &str) -> Result<bool, StoreError> {
    c.prepare_cached("SELECT 1 FROM confirmations WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |_| Ok(())).optional())
        .map(|o| o.is_some())
        .map_err(db_err)
}

pub(crate) fn insert(c: &Connection, row: &ConfirmationRow) -> Result<(), StoreError> {
    c.prepare_cached(concat!(
        "INSERT INTO confirmations (",
        confirmation_columns!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL, ?9, NULL)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            row.id,
            &row.wallet[..],
            row.user_id,
            row.idempotency_key,
            row.summary,
            row.created_at,
            row.expires_at,
            ConfirmationState::Pending.as_str(),
            row.reason,
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

/// Moves a pending row; returns the number of rows changed (0 or 1).
pub(crate) fn decide(
    c: &Connection,
    id: &str,
    decision: &ConfirmationDecision,
    now: i64,
) -> Result<usize, StoreError> {
    let (transaction, signature, reason) = match decision {
        ConfirmationDecision::Approved {
            transaction,
            signature,
        } => (Some(transaction), Some(signature), None),
        ConfirmationDecision::Failed { reason } => (None, None, Some(reason.as_str())),
        ConfirmationDecision::Rejected
        | ConfirmationDecision::Expired
        | ConfirmationDecision::Exported { .. } => (None, None, None),
    };
    c.prepare_cached(
        "UPDATE confirmations SET state = ?2, \"transaction\" = ?3, signature = ?4, \
         reason = ?5, decided_at = ?6 WHERE id = ?1 AND state = 'pending'",
    )
    .and_then(|mut s| {
        s.execute(params![
            id,
            decision.state().as_str(),
            transaction,
            signature,
            reason,
            now
        ])
    })
    .map_err(db_err)
}

pub(crate) fn fail_all_pending(
    c: &Connection,
    reason: &str,
    now: i64,
) -> Result<usize, StoreError> {
    c.prepare_cached(
        "UPDATE confirmations SET state = 'failed', reason = ?1, decided_at = ?2 \
         WHERE state = 'pending'",
    )
    .and_then(|mut s| s.execute(params![reason, now]))
    .map_err(db_err)
}
