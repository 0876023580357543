//! Tests of the API against a fake signer and a fake pool on socket pairs.

use super::*;
use crate::relay::{apply_events, Decisions};
use crate::testing::{fake_peer, Handler};
use custos_api::v1::custos_server::Custos;
use custos_ipc::channel::Sealed;
use custos_ipc::pool::{PoolRefusal, PoolRequest, PoolResponse, TelegramStatus};
use custos_ipc::signer::{Decision, LinkCreated, SignerEvent};
use custos_store::{SecurityRecordRow, SqliteStore};
use std::sync::Mutex;
use std::time::Duration;

struct Harness {
    _dir: tempfile::TempDir,
    api: Api,
    store: Arc<SqliteStore>,
    decisions: Arc<Decisions>,
    signer: Handler<SignerRequest, SignerResponse>,
    pool: Handler<PoolRequest, PoolResponse>,
    /// Sign requests the fake signer saw.
    signs: Arc<Mutex<Vec<SignRequest>>>,
}

const WALLET: [u8; 32] = [7; 32];
const CID: &str = "0123456789abcdef0123456789abcdef";

fn sealed(counter: u64) -> Sealed {
    Sealed {
        counter,
        ciphertext: vec![0xAB; 40],
    }
}

fn pending_outcome() -> SignerResponse {
    SignerResponse::Sign(SignOutcome::Pending {
        summary: "send 5 SOL to X".into(),
        reasons: vec!["above the limit".into()],
        confirmation_id: CID.into(),
        expires_in_secs: 300,
        to_pool: sealed(1),
    })
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("custos.sqlite3")).unwrap());
    store
        .insert_wallet(
            &WalletRow {
                pubkey: WALLET,
                wallet_id: [1; 16],
                user_id: "alice".into(),
                telegram_id: None,
                flags: 0,
                record: vec![0xEE; 200],
                created_at: 1,
            },
            None,
        )
        .unwrap();
    let signs = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&signs);
    let signer: Handler<SignerRequest, SignerResponse> =
        Arc::new(Mutex::new(Box::new(move |req| match req {
            SignerRequest::Sign(s) => {
                seen.lock().unwrap().push(s);
                pending_outcome()
            }
            other => panic!("unexpected {other:?}"),
        })));
    let pool: Handler<PoolRequest, PoolResponse> =
        Arc::new(Mutex::new(Box::new(|req| match req {
            PoolRequest::Deliver(m) => PoolResponse::Delivered {
                accepted: m.len() as u32,
            },
            PoolRequest::TelegramStatus => PoolResponse::Telegram(TelegramStatus {
                configured: true,
                bot_username: Some("custos_test_bot".into()),
                sent: 3,
                queued: 1,
                updates: 2,
                last_error: None,
            }),
            _ => PoolResponse::NotConfigured,
        })));
    let (s_ours, s_theirs) = tokio::net::UnixStream::pair().unwrap();
    let (p_ours, p_theirs) = tokio::net::UnixStream::pair().unwrap();
    fake_peer(s_theirs, Arc::clone(&signer));
    fake_peer(p_theirs, Arc::clone(&pool));
    let decisions = Arc::new(Decisions::new());
    let api = Api::new(
        Arc::clone(&store) as Arc<dyn Store>,
        SignerLink::start(s_ours),
        PoolLink::start(p_ours),
        Arc::clone(&decisions),
    );
    Harness {
        _dir: dir,
        api,
        store,
        decisions,
        signer,
        pool,
        signs,
    }
}

fn sign_req(key: &str) -> SignTransactionRequest {
    SignTransactionRequest {
        wallet: bs58::encode(WALLET).into_string(),
        transaction: vec![1; 100],
        idempotency_key: key.into(),
        request_id: 5,
        ..Default::default()
    }
}

async fn sign(h: &Harness, key: &str) -> SignTransactionResponse {
    h.api
        .sign_transaction(Request::new(sign_req(key)))
        .await
        .unwrap()
        .into_inner()
}

async fn await_decision(
    h: &Harness,
    id: &str,
    timeout_ms: u64,
) -> Result<AwaitDecisionResponse, Status> {
    h.api
        .await_decision(Request::new(AwaitDecisionRequest {
            confirmation_id: id.into(),
            timeout_ms,
        }))
        .await
        .map(|r| r.into_inner())
}

fn decide(h: &Harness, decision: Decision) {
    apply_events(
        h.store.as_ref(),
        vec![SignerEvent::Decided {
            confirmation_id: CID.into(),
            decision,
        }],
        now(),
    )
    .unwrap();
    h.decisions.notify();
}

#[tokio::test]
async fn pending_is_stored_delivered_and_awaited() {
    let h = harness().await;
    h.store
        .put_security_record(&SecurityRecordRow {
            user_id: "alice".into(),
            telegram_id: 42,
            record: vec![5; 80],
            updated_at: 1,
        })
        .unwrap();
    let delivered = Arc::new(Mutex::new(Vec::new()));
    let d = Arc::clone(&delivered);
    *h.pool.lock().unwrap() = Box::new(move |req| match req {
        PoolRequest::Deliver(m) => {
            let n = m.len() as u32;
            d.lock().unwrap().extend(m);
            PoolResponse::Delivered { accepted: n }
        }
        _ => PoolResponse::NotConfigured,
    });

    let before = now();
    let r = sign(&h, "k1").await;
    assert_eq!(r.status, SignStatus::Pending as i32);
    assert_eq!(r.request_id, 5);
    assert_eq!(r.confirmation_id, CID);
    assert!((before + 300..=now() + 300).contains(&r.expires_at));
    assert_eq!(r.summary, "send 5 SOL to X");
    assert_eq!(r.reasons, vec!["above the limit".to_owned()]);
    // The owner's security record went to the signer; the message went to the pool.
    assert_eq!(
        h.signs.lock().unwrap()[0].security_record,
        Some(vec![5; 80])
    );
    assert_eq!(*delivered.lock().unwrap(), vec![sealed(1)]);
    let row = h.store.get_confirmation(CID).unwrap().unwrap();
    assert_eq!(row.state, ConfirmationState::Pending);
    assert_eq!(row.wallet, WALLET);
    assert_eq!(row.user_id, "alice");
    assert_eq!(row.idempotency_key.as_deref(), Some("k1"));

    // At once: pending.
    let a = await_decision(&h, CID, 0).await.unwrap();
    assert_eq!(a.status, DecisionStatus::Pending as i32);
    assert_eq!(a.wallet, bs58::encode(WALLET).into_string());
    assert_eq!(a.expires_at, r.expires_at);
    assert_eq!(a.decided_at, 0);
    // A short wait without a decision: still pending.
    let t = std::time::Instant::now();
    let a = await_decision(&h, &CID.to_uppercase(), 150).await.unwrap();
    assert_eq!(a.status, DecisionStatus::Pending as i32);
    assert!(t.elapsed() >= Duration::from_millis(140));

    // A waiter wakes up when the decision is stored.
    let api = h.api.clone();
    let waiter = tokio::spawn(async move {
        api.await_decision(Request::new(AwaitDecisionRequest {
            confirmation_id: CID.into(),
            timeout_ms: 10_000,
        }))
        .await
        .unwrap()
        .into_inner()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t = std::time::Instant::now();
    decide(
        &h,
        Decision::Approved {
            transaction: vec![9; 100],
            signature: vec![8; 64],
        },
    );
    let a = waiter.await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(a.status, DecisionStatus::Approved as i32);
    assert_eq!(a.transaction, vec![9; 100]);
    assert_eq!(a.signature, vec![8; 64]);
    assert!(a.decided_at > 0);
    assert_eq!(a.reason, "");

    // A retry with the same key returns the decision, without asking the signer again.
    let r2 = sign(&h, "k1").await;
    assert_eq!(r2.status, SignStatus::Signed as i32);
    assert_eq!(r2.transaction, vec![9; 100]);
    assert_eq!(r2.signature, vec![8; 64]);
    assert_eq!(r2.confirmation_id, CID);
    assert_eq!(h.signs.lock().unwrap().len(), 1);
    assert_eq!(delivered.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_retry_of_a_pending_request_gets_the_same_confirmation() {
    let h = harness().await;
    let r1 = sign(&h, "k").await;
    let r2 = sign(&h, "k").await;
    assert_eq!(r2.status, SignStatus::Pending as i32);
    assert_eq!(r2.confirmation_id, r1.confirmation_id);
    assert_eq!(r2.expires_at, r1.expires_at);
    assert_eq!(h.signs.lock().unwrap().len(), 1);
    // No security record stored: none sent.
    assert_eq!(h.signs.lock().unwrap()[0].security_record, None);

    decide(&h, Decision::Rejected);
    let r3 = sign(&h, "k").await;
    assert_eq!(r3.status, SignStatus::Rejected as i32);
    assert_eq!(r3.confirmation_id, CID);
    assert_eq!(
        r3.reasons,
        vec!["the user rejected the transaction in Telegram".to_owned()]
    );
    let a = await_decision(&h, CID, 1000).await.unwrap();
    assert_eq!(a.status, DecisionStatus::Rejected as i32);
    assert!(a.transaction.is_empty());
}

#[tokio::test]
async fn an_undeliverable_confirmation_fails_and_is_refused() {
    let h = harness().await;
    *h.pool.lock().unwrap() =
        Box::new(|_| PoolResponse::Refused(PoolRefusal::TelegramNotConfigured));
    let r = sign(&h, "").await;
    assert_eq!(r.status, SignStatus::Rejected as i32);
    assert_eq!(r.confirmation_id, CID);
    assert!(
        r.reasons[0].contains("could not be handed to the Telegram client"),
        "{:?}",
        r.reasons
    );
    assert!(r.reasons[0].ends_with("nothing was signed"));
    let a = await_decision(&h, CID, 0).await.unwrap();
    assert_eq!(a.status, DecisionStatus::Failed as i32);
    assert_eq!(a.reason, r.reasons[0]);
    // A late approval cannot overwrite it.
    decide(
        &h,
        Decision::Approved {
            transaction: vec![1],
            signature: vec![2; 64],
        },
    );
    let a = await_decision(&h, CID, 0).await.unwrap();
    assert_eq!(a.status, DecisionStatus::Failed as i32);

    // The pool dropping the message (0 accepted) fails it too.
    *h.pool.lock().unwrap() = Box::new(|_| PoolResponse::Delivered { accepted: 0 });
    *h.signer.lock().unwrap() = Box::new(|_| {
        SignerResponse::Sign(SignOutcome::Pending {
            summary: "s".into(),
            reasons: vec![],
            confirmation_id: "ffffffffffffffffffffffffffffffff".into(),
            expires_in_secs: 300,
            to_pool: sealed(2),
        })
    });
    let r = sign(&h, "").await;
    assert_eq!(r.status, SignStatus::Rejected as i32);
    assert_eq!(
        h.store
            .get_confirmation("ffffffffffffffffffffffffffffffff")
            .unwrap()
            .unwrap()
            .state,
        ConfirmationState::Failed
    );
}

#[tokio::test]
async fn await_decision_validates_and_reports_restarts() {
    let h = harness().await;
    for bad in ["", "xyz", &"0".repeat(31), &"g".repeat(32)] {
        let e = await_decision(&h, bad, 0).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad:?}");
    }
    let e = await_decision(&h, CID, 0).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);

    sign(&h, "k").await;
    assert_eq!(h.store.fail_all_pending(RESTART_REASON, now()).unwrap(), 1);
    let a = await_decision(&h, CID, 60_000).await.unwrap();
    assert_eq!(a.status, DecisionStatus::Failed as i32);
    assert_eq!(a.reason, RESTART_REASON);
    // A retry after the restart is refused with the same reason.
    let r = sign(&h, "k").await;
    assert_eq!(r.status, SignStatus::Rejected as i32);
    assert_eq!(r.reasons, vec![RESTART_REASON.to_owned()]);
}

#[tokio::test]
async fn closing_ends_long_waits() {
    let h = harness().await;
    sign(&h, "").await;
    let api = h.api.clone();
    let waiter = tokio::spawn(async move {
        api.await_decision(Request::new(AwaitDecisionRequest {
            confirmation_id: CID.into(),
            timeout_ms: u64::MAX,
        }))
        .await
        .unwrap()
        .into_inner()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.decisions.close();
    let a = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.status, DecisionStatus::Pending as i32);
}

#[tokio::test]
async fn signed_and_rejected_outcomes_pass_through() {
    let h = harness().await;
    *h.signer.lock().unwrap() = Box::new(|_| {
        SignerResponse::Sign(SignOutcome::Rejected {
            summary: "s".into(),
            reasons: vec!["no Telegram account is linked".into()],
        })
    });
    let r = sign(&h, "k").await;
    assert_eq!(r.status, SignStatus::Rejected as i32);
    assert_eq!(r.confirmation_id, "");
    assert_eq!(r.expires_at, 0);
    *h.signer.lock().unwrap() = Box::new(|_| {
        SignerResponse::Error(SignerError {
            kind: ErrorKind::FailedPrecondition,
            message: "too many pending confirmations".into(),
        })
    });
    let e = h
        .api
        .sign_transaction(Request::new(sign_req("k")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
    assert_eq!(e.message(), "too many pending confirmations");
    let batch = h
        .api
        .sign_transaction_batch(Request::new(SignTransactionBatchRequest {
            requests: vec![sign_req("k")],
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(batch.responses[0].error_kind, "failed_precondition");
}

#[tokio::test]
async fn create_link_builds_the_url() {
    let h = harness().await;
    h.store
        .put_security_record(&SecurityRecordRow {
            user_id: "alice".into(),
            telegram_id: 42,
            record: vec![5; 80],
            updated_at: 1,
        })
        .unwrap();
    let seen = Arc::new(Mutex::new(None));
    let s = Arc::clone(&seen);
    *h.signer.lock().unwrap() = Box::new(move |req| match req {
        SignerRequest::CreateLink(c) => {
            *s.lock().unwrap() = Some(c);
            SignerResponse::LinkCreated(LinkCreated {
                start_payload: "AbC_12-x".into(),
                expires_in_secs: 600,
            })
        }
        other => panic!("unexpected {other:?}"),
    });
    let create = |user: &str| {
        let api = h.api.clone();
        let user = user.to_owned();
        async move {
            api.create_link(Request::new(CreateLinkRequest { user_id: user }))
                .await
                .map(|r| r.into_inner())
        }
    };
    let before = now();
    let r = create("alice").await.unwrap();
    assert_eq!(r.url, "https://t.me/custos_test_bot?start=AbC_12-x");
    assert!((before + 600..=now() + 600).contains(&r.expires_at));
    let c = seen.lock().unwrap().take().unwrap();
    assert_eq!(c.user_id, "alice");
    assert_eq!(c.security_record, Some(vec![5; 80]));
    create("bob").await.unwrap();
    assert_eq!(seen.lock().unwrap().take().unwrap().security_record, None);

    for bad in ["", "a b", &"x".repeat(65), "ü"] {
        let e = create(bad).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad:?}");
    }

    // No bot connected yet.
    *h.pool.lock().unwrap() = Box::new(|_| {
        PoolResponse::Telegram(TelegramStatus {
            configured: true,
            ..Default::default()
        })
    });
    let e = create("alice").await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
    assert_eq!(e.message(), "no Telegram bot is configured/connected yet");
    *h.pool.lock().unwrap() =
        Box::new(|_| PoolResponse::Refused(PoolRefusal::TelegramNotConfigured));
    let e = create("alice").await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);

    // The signer's refusal (already linked, no bot set up) is passed on.
    *h.signer.lock().unwrap() = Box::new(|_| {
        SignerResponse::Error(SignerError {
            kind: ErrorKind::FailedPrecondition,
            message: "user alice is already linked".into(),
        })
    });
    let e = create("alice").await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
    assert_eq!(e.message(), "user alice is already linked");
}

#[tokio::test]
async fn get_link_reads_the_stored_binding() {
    let h = harness().await;
    let get = |user: &str| {
        h.api.get_link(Request::new(GetLinkRequest {
            user_id: user.into(),
        }))
    };
    let r = get("alice").await.unwrap().into_inner();
    assert!(!r.linked);
    assert_eq!(r.telegram_id, None);
    apply_events(
        h.store.as_ref(),
        vec![SignerEvent::Linked {
            user_id: "alice".into(),
            telegram_id: 4242,
            security_record: vec![1; 50],
        }],
        now(),
    )
    .unwrap();
    let r = get("alice").await.unwrap().into_inner();
    assert!(r.linked);
    assert_eq!(r.telegram_id, Some(4242));
    assert_eq!(
        get("").await.unwrap_err().code(),
        tonic::Code::InvalidArgument
    );
}

#[tokio::test]
async fn health_reports_the_telegram_client() {
    let h = harness().await;
    *h.signer.lock().unwrap() = Box::new(|_| {
        SignerResponse::Health(custos_ipc::signer::SignerHealth {
            seal: "development".into(),
            seal_secure: false,
            signatures: 0,
        })
    });
    let r = h
        .api
        .health(Request::new(HealthRequest {}))
        .await
        .unwrap()
        .into_inner();
    let pool = r.components.iter().find(|c| c.component == "pool").unwrap();
    assert!(pool.ok);
    assert_eq!(
        pool.detail,
        "telegram: configured, bot @custos_test_bot, 3 sent, 1 queued, 2 updates"
    );
    assert!(r.ok);
}
