//! Tests of the SQLite backend.

use std::sync::{Arc, Barrier};

use crate::*;

fn row(n: u8, user: &str, created_at: i64) -> WalletRow {
    WalletRow {
        pubkey: [n; 32],
        wallet_id: [n; 16],
        user_id: user.to_owned(),
        telegram_id: Some(1_000 + u64::from(n)),
        flags: u32::from(n),
        record: vec![n, 0xAA, n, 0x55],
        created_at,
    }
}

fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("custos.db")).unwrap();
    (dir, store)
}

fn count(store: &SqliteStore, table: &str) -> i64 {
    store.with_writer(|c| {
        c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    })
}

#[test]
fn round_trip_all_fields() {
    let (_d, s) = open();
    let r = WalletRow {
        pubkey: core::array::from_fn(|i| i as u8),
        wallet_id: core::array::from_fn(|i| 0xF0 ^ i as u8),
        user_id: "user-é-1".into(),
        telegram_id: Some(i64::MAX as u64),
        flags: u32::MAX,
        record: (0..=255).collect(),
        created_at: -5,
    };
    assert_eq!(s.insert_wallet(&r, None).unwrap(), InsertOutcome::Inserted);
    assert_eq!(s.get_wallet(&r.pubkey).unwrap(), Some(r.clone()));

    let r2 = WalletRow {
        telegram_id: None,
        flags: 0,
        record: Vec::new(),
        created_at: i64::MAX,
        ..row(9, "u2", 0)
    };
    s.insert_wallet(&r2, None).unwrap();
    assert_eq!(s.get_wallet(&r2.pubkey).unwrap(), Some(r2));
    assert_eq!(s.get_wallet(&[0xEE; 32]).unwrap(), None);
    s.health().unwrap();
}

#[test]
fn telegram_id_above_i64_max_is_rejected() {
    let (_d, s) = open();
    let mut r = row(1, "u", 0);
    r.telegram_id = Some(i64::MAX as u64 + 1);
    assert!(matches!(
        s.insert_wallet(&r, Some("k")),
        Err(StoreError::TelegramIdOutOfRange(v)) if v == i64::MAX as u64 + 1
    ));
    assert_eq!(count(&s, "wallets"), 0);
    assert_eq!(count(&s, "idempotency"), 0);
}

#[test]
fn list_order_and_user_isolation() {
    let (_d, s) = open();
    // Inserted out of created_at order; equal created_at keeps insertion order.
    s.insert_wallet(&row(1, "alice", 30), None).unwrap();
    s.insert_wallet(&row(2, "alice", 10), None).unwrap();
    s.insert_wallet(&row(3, "bob", 5), None).unwrap();
    s.insert_wallet(&row(5, "alice", 20), None).unwrap();
    s.insert_wallet(&row(4, "alice", 20), None).unwrap();

    let alice: Vec<u8> = s
        .list_wallets("alice")
        .unwrap()
        .iter()
        .map(|r| r.pubkey[0])
        .collect();
    assert_eq!(alice, vec![2, 5, 4, 1]);
    assert_eq!(s.list_wallets("bob").unwrap(), vec![row(3, "bob", 5)]);
    assert!(s.list_wallets("carol").unwrap().is_empty());
}

#[test]
fn idempotency_same_user_returns_existing() {
    let (_d, s) = open();
    let first = row(1, "alice", 1);
    assert_eq!(
        s.insert_wallet(&first, Some("req-1")).unwrap(),
        InsertOutcome::Inserted
    );
    // A retry with a fresh key pair but the same idempotency key gets the first wallet.
    let retry = row(2, "alice", 2);
    assert_eq!(
        s.insert_wallet(&retry, Some("req-1")).unwrap(),
        InsertOutcome::Existing(first.clone())
    );
    assert_eq!(s.get_wallet(&retry.pubkey).unwrap(), None);
    assert_eq!(count(&s, "wallets"), 1);
    assert_eq!(count(&s, "idempotency"), 1);
    assert_eq!(
        s.wallet_by_idempotency_key("alice", "req-1").unwrap(),
        Some(first)
    );
    assert_eq!(s.wallet_by_idempotency_key("alice", "req-2").unwrap(), None);
    assert_eq!(s.wallet_by_idempotency_key("bob", "req-1").unwrap(), None);
}

#[test]
fn idempotency_key_is_scoped_per_user() {
    let (_d, s) = open();
    let a = row(1, "alice", 1);
    let b = row(2, "bob", 1);
    assert_eq!(
        s.insert_wallet(&a, Some("k")).unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(
        s.insert_wallet(&b, Some("k")).unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(s.wallet_by_idempotency_key("alice", "k").unwrap(), Some(a));
    assert_eq!(s.wallet_by_idempotency_key("bob", "k").unwrap(), Some(b));
}

#[test]
fn duplicate_pubkey_and_wallet_id_are_errors() {
    let (_d, s) = open();
    s.insert_wallet(&row(1, "alice", 1), None).unwrap();

    let mut dup = row(1, "bob", 2);
    dup.wallet_id = [0x77; 16];
    assert!(matches!(
        s.insert_wallet(&dup, Some("k")),
        Err(StoreError::DuplicateWallet)
    ));

    let mut dup_id = row(2, "bob", 2);
    dup_id.wallet_id = [1; 16];
    assert!(matches!(
        s.insert_wallet(&dup_id, Some("k")),
        Err(StoreError::DuplicateWalletId)
    ));

    // Nothing from the failed inserts was written, the key is still free.
    assert_eq!(count(&s, "wallets"), 1);
    assert_eq!(count(&s, "idempotency"), 0);
    assert_eq!(s.wallet_by_idempotency_key("bob", "k").unwrap(), None);
}

#[test]
fn get_wallets_mixed_and_limit() {
    let (_d, s) = open();
    for n in 1..=3 {
        s.insert_wallet(&row(n, "u", i64::from(n)), None).unwrap();
    }
    let mut got = s
        .get_wallets(&[[3; 32], [9; 32], [1; 32], [3; 32], [8; 32]])
        .unwrap();
    got.sort_by_key(|r| r.pubkey);
    assert_eq!(got, vec![row(1, "u", 1), row(3, "u", 3)]);
    assert!(s.get_wallets(&[]).unwrap().is_empty());

    let keys = vec![[1u8; 32]; MAX_GET_WALLETS];
    assert_eq!(s.get_wallets(&keys).unwrap().len(), 1);
    let keys = vec![[1u8; 32]; MAX_GET_WALLETS + 1];
    assert!(matches!(
        s.get_wallets(&keys),
        Err(StoreError::TooManyKeys {
            requested: 257,
            max: 256
        })
    ));
}

#[test]
fn reopen_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custos.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.insert_wallet(&row(1, "alice", 1), Some("k")).unwrap();
        s.insert_wallet(&row(2, "alice", 2), None).unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), LATEST_SCHEMA_VERSION);
    assert_eq!(
        s.list_wallets("alice").unwrap(),
        vec![row(1, "alice", 1), row(2, "alice", 2)]
    );
    assert_eq!(
        s.insert_wallet(&row(3, "alice", 3), Some("k")).unwrap(),
        InsertOutcome::Existing(row(1, "alice", 1))
    );
}

#[test]
fn schema_version_is_latest() {
    let (_d, s) = open();
    assert_eq!(LATEST_SCHEMA_VERSION, 3);
    assert_eq!(s.schema_version().unwrap(), LATEST_SCHEMA_VERSION);
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custos.db");
    drop(SqliteStore::open(&path).unwrap());
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", LATEST_SCHEMA_VERSION + 1)
            .unwrap();
    }
    match SqliteStore::open(&path) {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!(found, LATEST_SCHEMA_VERSION + 1);
            assert_eq!(supported, LATEST_SCHEMA_VERSION);
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn open_in_missing_directory_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/custos.db");
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::Open { path: p, .. }) if p == path
    ));
}

#[test]
fn corrupt_row_is_reported() {
    let (_d, s) = open();
    s.insert_wallet(&row(1, "u", 1), None).unwrap();
    // Bypass the CHECK constraints to simulate on-disk damage.
    s.with_writer(|c| {
        c.execute_batch(
            "PRAGMA ignore_check_constraints = ON;
             UPDATE wallets SET wallet_id = x'0102';
             PRAGMA ignore_check_constraints = OFF;",
        )
        .unwrap();
    });
    assert!(matches!(
        s.get_wallet(&[1; 32]),
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(s.list_wallets("u"), Err(StoreError::Corrupt(_))));
}

#[test]
fn concurrent_inserts_same_key_write_one_row() {
    let (_d, s) = open();
    let s = Arc::new(s);
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let s = Arc::clone(&s);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let r = row(i as u8 + 1, "alice", 7);
                barrier.wait();
                (r.clone(), s.insert_wallet(&r, Some("same-key")).unwrap())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<_> = results
        .iter()
        .filter(|(_, o)| *o == InsertOutcome::Inserted)
        .map(|(r, _)| r.clone())
        .collect();
    assert_eq!(winners.len(), 1);
    let winner = &winners[0];
    for (_, o) in &results {
        if let InsertOutcome::Existing(r) = o {
            assert_eq!(r, winner);
        }
    }
    assert_eq!(count(&s, "wallets"), 1);
    assert_eq!(s.list_wallets("alice").unwrap(), vec![winner.clone()]);
}

#[test]
fn concurrent_reads_and_writes() {
    let (_d, s) = open();
    let s = Arc::new(s);
    let writer = {
        let s = Arc::clone(&s);
        std::thread::spawn(move || {
            for n in 1..=50u8 {
                s.insert_wallet(&row(n, "u", i64::from(n)), None).unwrap();
            }
        })
    };
    let readers: Vec<_> = (0..6)
        .map(|_| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let list = s.list_wallets("u").unwrap();
                    // Readers see a prefix of the inserts, in order.
                    for (i, r) in list.iter().enumerate() {
                        assert_eq!(r.pubkey[0] as usize, i + 1);
                    }
                    s.health().unwrap();
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(s.list_wallets("u").unwrap().len(), 50);
}

#[test]
fn wal_and_synchronous_full_are_set() {
    let (_d, s) = open();
    for (journal_mode, synchronous, foreign_keys) in s.pragmas() {
        assert_eq!(journal_mode, "wal");
        assert_eq!(synchronous, 2, "synchronous=FULL");
        assert_eq!(foreign_keys, 1);
    }
}

#[test]
fn store_is_object_safe_and_shareable() {
    let (_d, s) = open();
    let dynamic: Arc<dyn Store> = Arc::new(s);
    dynamic.insert_wallet(&row(1, "u", 1), None).unwrap();
    assert_eq!(
        Store::get_wallet(&dynamic, &[1; 32]).unwrap(),
        Some(row(1, "u", 1))
    );
}

#[test]
fn concurrent_inserts_across_connections_write_one_row() {
    // Separate store instances on one file (as separate processes would be): the IMMEDIATE
    // transaction, not the in-process mutex, must serialise the check-and-insert.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custos.db");
    let stores: Vec<_> = (0..4)
        .map(|_| Arc::new(SqliteStore::open(&path).unwrap()))
        .collect();
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let s = Arc::clone(&stores[i % stores.len()]);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let r = row(i as u8 + 1, "alice", 7);
                barrier.wait();
                s.insert_wallet(&r, Some("same-key")).unwrap()
            })
        })
        .collect();
    let inserted = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|o| *o == InsertOutcome::Inserted)
        .count();
    assert_eq!(inserted, 1);
    assert_eq!(count(&stores[0], "wallets"), 1);
    assert_eq!(count(&stores[0], "idempotency"), 1);
}

#[test]
fn non_database_file_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custos.db");
    std::fs::write(&path, vec![0x42; 8192]).unwrap();
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::Open { .. })
    ));
}

// ---- Security records and confirmations (schema version 2) ----

fn cid(n: u8) -> String {
    format!(
        "{:032x}",
        u128::from(n) * 0x0101_0101_0101_0101_0101_0101_0101_0101
    )
}

fn pending(n: u8, wallet: u8, key: Option<&str>) -> ConfirmationRow {
    ConfirmationRow::pending(
        cid(n),
        [wallet; 32],
        "alice".into(),
        key.map(str::to_owned),
        format!("send {n} SOL"),
        100,
        400,
    )
}

fn approved() -> ConfirmationDecision {
    ConfirmationDecision::Approved {
        transaction: vec![1, 2, 3],
        signature: vec![7; 64],
    }
}

#[test]
fn security_records_put_get_replace() {
    let (_d, s) = open();
    assert_eq!(s.get_security_record("alice").unwrap(), None);
    let r = SecurityRecordRow {
        user_id: "alice".into(),
        telegram_id: i64::MAX as u64,
        record: vec![9; 100],
        updated_at: 5,
    };
    s.put_security_record(&r).unwrap();
    assert_eq!(s.get_security_record("alice").unwrap(), Some(r.clone()));
    let r2 = SecurityRecordRow {
        telegram_id: 42,
        record: vec![8; 10],
        updated_at: 6,
        ..r
    };
    s.put_security_record(&r2).unwrap();
    assert_eq!(s.get_security_record("alice").unwrap(), Some(r2));
    assert_eq!(count(&s, "security_records"), 1);
    assert_eq!(s.get_security_record("bob").unwrap(), None);
    assert!(matches!(
        s.put_security_record(&SecurityRecordRow {
            user_id: "bob".into(),
            telegram_id: u64::MAX,
            record: vec![],
            updated_at: 0,
        }),
        Err(StoreError::TelegramIdOutOfRange(u64::MAX))
    ));
}

#[test]
fn confirmation_insert_get_and_key_lookup() {
    let (_d, s) = open();
    let c = pending(1, 1, Some("k1"));
    assert_eq!(
        s.insert_confirmation(&c).unwrap(),
        ConfirmationInsert::Inserted
    );
    assert_eq!(s.get_confirmation(&c.id).unwrap(), Some(c.clone()));
    assert_eq!(s.get_confirmation(&cid(9)).unwrap(), None);
    assert_eq!(
        s.confirmation_by_idempotency_key(&[1; 32], "k1").unwrap(),
        Some(c.clone())
    );
    assert_eq!(
        s.confirmation_by_idempotency_key(&[2; 32], "k1").unwrap(),
        None
    );
    assert_eq!(
        s.confirmation_by_idempotency_key(&[1; 32], "k2").unwrap(),
        None
    );

    // The same key for the same wallet returns the first and writes nothing.
    assert_eq!(
        s.insert_confirmation(&pending(2, 1, Some("k1"))).unwrap(),
        ConfirmationInsert::Existing(Box::new(c.clone()))
    );
    assert_eq!(s.get_confirmation(&cid(2)).unwrap(), None);
    // The same key for another wallet is independent; no key at all is fine too.
    assert_eq!(
        s.insert_confirmation(&pending(3, 2, Some("k1"))).unwrap(),
        ConfirmationInsert::Inserted
    );
    assert_eq!(
        s.insert_confirmation(&pending(4, 1, None)).unwrap(),
        ConfirmationInsert::Inserted
    );
    assert_eq!(
        s.insert_confirmation(&pending(5, 1, None)).unwrap(),
        ConfirmationInsert::Inserted
    );
    // A duplicate id is an error.
    assert!(matches!(
        s.insert_confirmation(&pending(4, 3, None)),
        Err(StoreError::DuplicateConfirmation(id)) if id == cid(4)
    ));
    assert_eq!(count(&s, "confirmations"), 4);
}

#[test]
fn confirmation_insert_refuses_bad_rows() {
    let (_d, s) = open();
    for id in ["", "abc", &"A".repeat(32), &"g".repeat(32), &"0".repeat(33)] {
        let mut c = pending(1, 1, None);
        c.id = id.to_owned();
        assert!(
            matches!(
                s.insert_confirmation(&c),
                Err(StoreError::InvalidConfirmation(_))
            ),
            "{id:?}"
        );
    }
    let mut c = pending(1, 1, None);
    c.state = ConfirmationState::Approved;
    assert!(matches!(
        s.insert_confirmation(&c),
        Err(StoreError::InvalidConfirmation(_))
    ));
    let mut c = pending(1, 1, None);
    c.decided_at = Some(1);
    assert!(matches!(
        s.insert_confirmation(&c),
        Err(StoreError::InvalidConfirmation(_))
    ));
    assert_eq!(count(&s, "confirmations"), 0);
}

#[test]
fn decide_moves_only_a_pending_row_first_decision_wins() {
    let (_d, s) = open();
    for n in 1..=4 {
        s.insert_confirmation(&pending(n, 1, None)).unwrap();
    }
    assert!(s.decide(&cid(1), &approved(), 200).unwrap());
    let row = s.get_confirmation(&cid(1)).unwrap().unwrap();
    assert_eq!(row.state, ConfirmationState::Approved);
    assert_eq!(row.transaction, Some(vec![1, 2, 3]));
    assert_eq!(row.signature, Some(vec![7; 64]));
    assert_eq!(row.decided_at, Some(200));
    assert_eq!(row.reason, None);

    // Later decisions do not overwrite it.
    for later in [
        ConfirmationDecision::Rejected,
        ConfirmationDecision::Expired,
        ConfirmationDecision::Failed {
            reason: "late".into(),
        },
        approved(),
    ] {
        assert!(!s.decide(&cid(1), &later, 300).unwrap());
    }
    assert_eq!(s.get_confirmation(&cid(1)).unwrap().unwrap(), row);

    assert!(s
        .decide(&cid(2), &ConfirmationDecision::Rejected, 201)
        .unwrap());
    assert!(!s.decide(&cid(2), &approved(), 202).unwrap());
    let r2 = s.get_confirmation(&cid(2)).unwrap().unwrap();
    assert_eq!(
        (r2.state, r2.transaction, r2.signature, r2.decided_at),
        (ConfirmationState::Rejected, None, None, Some(201))
    );

    assert!(s
        .decide(&cid(3), &ConfirmationDecision::Expired, 400)
        .unwrap());
    assert_eq!(
        s.get_confirmation(&cid(3)).unwrap().unwrap().state,
        ConfirmationState::Expired
    );
    let failed = ConfirmationDecision::Failed {
        reason: "undeliverable".into(),
    };
    assert!(s.decide(&cid(4), &failed, 5).unwrap());
    let r4 = s.get_confirmation(&cid(4)).unwrap().unwrap();
    assert_eq!(r4.state, ConfirmationState::Failed);
    assert_eq!(r4.reason.as_deref(), Some("undeliverable"));

    assert!(matches!(
        s.decide(&cid(9), &ConfirmationDecision::Rejected, 1),
        Err(StoreError::UnknownConfirmation(id)) if id == cid(9)
    ));
}

#[test]
fn fail_all_pending_fails_only_pending_rows() {
    let (_d, s) = open();
    for n in 1..=3 {
        s.insert_confirmation(&pending(n, 1, None)).unwrap();
    }
    s.decide(&cid(1), &approved(), 150).unwrap();
    assert_eq!(s.fail_all_pending("restarted", 999).unwrap(), 2);
    assert_eq!(s.fail_all_pending("again", 1000).unwrap(), 0);
    let r1 = s.get_confirmation(&cid(1)).unwrap().unwrap();
    assert_eq!(r1.state, ConfirmationState::Approved);
    assert_eq!(r1.decided_at, Some(150));
    for n in 2..=3 {
        let r = s.get_confirmation(&cid(n)).unwrap().unwrap();
        assert_eq!(r.state, ConfirmationState::Failed);
        assert_eq!(r.reason.as_deref(), Some("restarted"));
        assert_eq!(r.decided_at, Some(999));
        assert!(!s.decide(&cid(n), &approved(), 1001).unwrap());
    }
}

#[test]
fn links_and_confirmations_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custos.db");
    let rec = SecurityRecordRow {
        user_id: "alice".into(),
        telegram_id: 77,
        record: vec![1; 64],
        updated_at: 3,
    };
    {
        let s = SqliteStore::open(&path).unwrap();
        s.put_security_record(&rec).unwrap();
        s.insert_confirmation(&pending(1, 1, Some("k"))).unwrap();
        s.insert_confirmation(&pending(2, 1, None)).unwrap();
        s.decide(&cid(1), &approved(), 10).unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.get_security_record("alice").unwrap(), Some(rec));
    let r1 = s.get_confirmation(&cid(1)).unwrap().unwrap();
    assert_eq!(r1.state, ConfirmationState::Approved);
    assert_eq!(
        s.confirmation_by_idempotency_key(&[1; 32], "k").unwrap(),
        Some(r1)
    );
    assert_eq!(
        s.get_confirmation(&cid(2)).unwrap().unwrap().state,
        ConfirmationState::Pending
    );
    assert_eq!(s.fail_all_pending("restarted", 11).unwrap(), 1);
}

#[test]
fn version_1_database_migrates_keeping_wallets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custos.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.insert_wallet(&row(1, "alice", 1), Some("k")).unwrap();
        // Roll the schema back to version 1, as an issue-3 database would be.
        s.with_writer(|c| {
            c.execute_batch(
                "DROP TABLE confirmations; DROP TABLE security_records; PRAGMA user_version = 1;",
            )
            .unwrap()
        });
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), LATEST_SCHEMA_VERSION);
    assert_eq!(s.get_wallet(&[1; 32]).unwrap(), Some(row(1, "alice", 1)));
    assert_eq!(
        s.insert_confirmation(&pending(1, 1, None)).unwrap(),
        ConfirmationInsert::Inserted
    );
}

#[test]
fn confirmation_state_names_round_trip() {
    for st in [
        ConfirmationState::Pending,
        ConfirmationState::Approved,
        ConfirmationState::Rejected,
        ConfirmationState::Expired,
        ConfirmationState::Failed,
    ] {
        assert_eq!(ConfirmationState::parse(st.as_str()), Some(st));
    }
    assert_eq!(ConfirmationState::parse("PENDING"), None);
    assert!(is_confirmation_id(&cid(1)));
    assert!(!is_confirmation_id(
        &cid(1).to_uppercase().replace('0', "A")
    ));
}

#[test]
fn an_export_decision_replaces_the_wallet_record_in_the_same_transaction() {
    let (_d, s) = open();
    s.insert_wallet(&row(1, "alice", 10), None).unwrap();
    s.insert_confirmation(&pending(1, 1, None)).unwrap();
    let exported = ConfirmationDecision::Exported {
        record: vec![0xEE; 8],
        flags: 1,
    };
    assert!(s.decide(&cid(1), &exported, 500).unwrap());
    let c = s.get_confirmation(&cid(1)).unwrap().unwrap();
    assert_eq!(c.state, ConfirmationState::Exported);
    assert_eq!((c.transaction, c.signature), (None, None));
    let w = s.get_wallet(&[1; 32]).unwrap().unwrap();
    assert_eq!((w.record, w.flags), (vec![0xEE; 8], 1));
    // First decision wins: a second export changes nothing.
    let again = ConfirmationDecision::Exported {
        record: vec![0xDD; 8],
        flags: 3,
    };
    assert!(!s.decide(&cid(1), &again, 600).unwrap());
    assert_eq!(
        s.get_wallet(&[1; 32]).unwrap().unwrap().record,
        vec![0xEE; 8]
    );
    // An export for a wallet that is not stored is refused and changes nothing.
    s.insert_confirmation(&pending(2, 9, None)).unwrap();
    assert!(matches!(
        s.decide(&cid(2), &exported, 700),
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(
        s.get_confirmation(&cid(2)).unwrap().unwrap().state,
        ConfirmationState::Pending
    );
}

#[test]
fn security_records_are_listed_for_the_signer() {
    let (_d, s) = open();
    assert!(s.list_security_records().unwrap().is_empty());
    for (u, t) in [("bob", 2u64), ("alice", 1)] {
        s.put_security_record(&SecurityRecordRow {
            user_id: u.into(),
            telegram_id: t,
            record: vec![t as u8; 4],
            updated_at: 1,
        })
        .unwrap();
    }
    let all = s.list_security_records().unwrap();
    assert_eq!(
        all.iter().map(|r| r.user_id.as_str()).collect::<Vec<_>>(),
        ["alice", "bob"]
    );
}

#[test]
fn version_3_keeps_the_confirmations_of_version_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custos.db");
    {
        // Build a version-2 database by hand with one decided confirmation.
        let c = rusqlite::Connection::open(&path).unwrap();
        for (i, sql) in crate::migrations::MIGRATIONS_FOR_TESTS[..2]
            .iter()
            .enumerate()
        {
            c.execute_batch(sql).unwrap();
            c.pragma_update(None, "user_version", (i + 1) as i64)
                .unwrap();
        }
        c.execute(
            "INSERT INTO confirmations VALUES (?1, ?2, 'alice', NULL, 's', 1, 2, 'rejected', \
             NULL, NULL, NULL, 3)",
            rusqlite::params![cid(4), vec![4u8; 32]],
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 3);
    let c = s.get_confirmation(&cid(4)).unwrap().unwrap();
    assert_eq!(c.state, ConfirmationState::Rejected);
    assert_eq!(c.decided_at, Some(3));
}
