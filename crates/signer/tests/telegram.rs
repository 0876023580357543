//! Telegram confirmations and account links end to end, through `Service::handle`, with
//! the test playing the bridge (which only carries blobs) and the pool (which holds the
//! other end of the sealed channel).

use custos_crypto::seal::DevSeal;
use custos_ipc::channel::{ChannelEnd, Sealed};
use custos_ipc::pool::ViewKey;
use custos_ipc::signer::{
    CreateLink, CreateWallet, Decision, ErrorKind, NewWallet, Relay, SignOutcome, SignRequest,
    SignerEvent, SignerRequest, SignerResponse,
};
use custos_ipc::telegram::{open_from_signer, seal_to_signer, SecretString, ToPool, ToSigner};
use custos_signer::{ConfirmConfig, Service};
use custos_txdecode::PolicyConfig;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use std::time::Duration;
use zeroize::Zeroizing;

const KEY: [u8; 32] = [0x42; 32];
const BOT_TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ";
const ALICE_TG: u64 = 5_000_001;
const MALLORY_TG: u64 = 6_000_002;
const FOREIGN: [u8; 32] = [9; 32];

struct Rig {
    _dir: tempfile::TempDir,
    svc: Service,
    pool: ChannelEnd,
}

fn rig_with(config: ConfirmConfig, link_expiry: Duration) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let svc = Service::start(&DevSeal::in_data_dir(dir.path()), PolicyConfig::default())
        .unwrap()
        .with_view_key(ViewKey::new(KEY))
        .with_confirm_config(config)
        .with_link_expiry(link_expiry)
        .with_bot_token(Some(Zeroizing::new(BOT_TOKEN.to_owned())));
    Rig {
        _dir: dir,
        svc,
        pool: ChannelEnd::pool(&ViewKey::new(KEY)),
    }
}

fn rig() -> Rig {
    rig_with(ConfirmConfig::default(), Duration::from_secs(3600))
}

impl Rig {
    fn send(&mut self, msg: ToSigner) -> SignerResponse {
        let sealed = seal_to_signer(&mut self.pool, &msg).unwrap();
        self.svc.handle(SignerRequest::FromPool(sealed))
    }

    fn relay(&mut self, msg: ToSigner) -> (Vec<ToPool>, Vec<SignerEvent>) {
        match self.send(msg) {
            SignerResponse::Relay(r) => self.open(r),
            other => panic!("{other:?}"),
        }
    }

    fn open(&mut self, r: Relay) -> (Vec<ToPool>, Vec<SignerEvent>) {
        let msgs = r
            .to_pool
            .iter()
            .map(|s| open_from_signer(&mut self.pool, s).unwrap())
            .collect();
        (msgs, r.events)
    }

    fn wallet(&self, user: &str) -> NewWallet {
        match self.svc.handle(SignerRequest::CreateWallet(CreateWallet {
            user_id: user.into(),
            telegram_id: None,
        })) {
            SignerResponse::WalletCreated(w) => w,
            other => panic!("{other:?}"),
        }
    }

    fn create_link(&self, user: &str, record: Option<Vec<u8>>) -> SignerResponse {
        self.svc.handle(SignerRequest::CreateLink(CreateLink {
            user_id: user.into(),
            security_record: record,
        }))
    }

    fn payload(&self, user: &str) -> String {
        match self.create_link(user, None) {
            SignerResponse::LinkCreated(l) => {
                assert_eq!(l.start_payload.len(), 32);
                assert_eq!(l.expires_in_secs, 3600);
                l.start_payload
            }
            other => panic!("{other:?}"),
        }
    }

    fn start(&mut self, payload: &str, from: u64) -> (Vec<ToPool>, Vec<SignerEvent>) {
        self.relay(ToSigner::Start {
            payload: SecretString::new(payload.into()),
            from_id: from,
            chat_id: from as i64,
        })
    }

    /// Links `user` to Telegram account `tg` and returns the security record.
    fn link(&mut self, user: &str, tg: u64) -> Vec<u8> {
        let p = self.payload(user);
        let (msgs, events) = self.start(&p, tg);
        assert!(
            matches!(&msgs[..], [ToPool::Notice { chat_id, text, .. }]
                if *chat_id == tg as i64 && text.contains("now linked")),
            "{msgs:?}"
        );
        match &events[..] {
            [SignerEvent::Linked {
                user_id,
                telegram_id,
                security_record,
            }] => {
                assert_eq!((user_id.as_str(), *telegram_id), (user, tg));
                security_record.clone()
            }
            other => panic!("{other:?}"),
        }
    }

    fn sign(&self, r: &SignRequest) -> SignerResponse {
        self.svc.handle(SignerRequest::Sign(r.clone()))
    }

    fn signatures(&self) -> u64 {
        match self.svc.handle(SignerRequest::Health) {
            SignerResponse::Health(h) => h.signatures,
            other => panic!("{other:?}"),
        }
    }

    fn tick(&mut self) -> (Vec<ToPool>, Vec<SignerEvent>) {
        match self.svc.handle(SignerRequest::Tick) {
            SignerResponse::Relay(r) => self.open(r),
            other => panic!("{other:?}"),
        }
    }
}

/// Legacy wire transfer from -> to (unsigned).
fn transfer(from: &[u8; 32], to: &[u8; 32], lamports: u64) -> Vec<u8> {
    let mut tx = vec![1u8];
    tx.extend_from_slice(&[0u8; 64]);
    tx.extend_from_slice(&[1, 0, 1, 3]);
    tx.extend_from_slice(from);
    tx.extend_from_slice(to);
    tx.extend_from_slice(&[0u8; 32]);
    tx.extend_from_slice(&[4u8; 32]);
    tx.extend_from_slice(&[1, 2, 2, 0, 1, 12, 2, 0, 0, 0]);
    tx.extend_from_slice(&lamports.to_le_bytes());
    tx
}

fn withdrawal(w: &NewWallet, security_record: Option<Vec<u8>>) -> SignRequest {
    SignRequest {
        wallet: w.pubkey,
        record: w.record.clone(),
        related_records: Vec::new(),
        transaction: transfer(&w.pubkey, &FOREIGN, 250_000_000),
        lookup_tables: Vec::new(),
        offered_lookup_tables: Vec::new(),
        intent: None,
        security_record,
    }
}

/// A shown confirmation.
struct Shown {
    id: String,
    approve: String,
    reject: String,
    text: String,
    expires_in_secs: u32,
}

fn error(resp: SignerResponse) -> (ErrorKind, String) {
    match resp {
        SignerResponse::Error(e) => (e.kind, e.message),
        other => panic!("expected an error: {other:?}"),
    }
}

/// Creates a confirmation for a withdrawal and plays the pool sending it.
fn confirm(r: &mut Rig, w: &NewWallet, record: &[u8], message_id: i64) -> Shown {
    let resp = r.sign(&withdrawal(w, Some(record.to_vec())));
    let wire = custos_ipc::encode(&resp).unwrap();
    let SignerResponse::Sign(SignOutcome::Pending {
        confirmation_id,
        expires_in_secs,
        to_pool,
        reasons,
        ..
    }) = resp
    else {
        panic!("{resp:?}");
    };
    assert!(!reasons.is_empty());
    assert_eq!(confirmation_id.len(), 32);
    let ToPool::SendConfirmation {
        confirmation_id: cid,
        chat_id,
        text,
        approve,
        reject,
    } = open_from_signer(&mut r.pool, &to_pool).unwrap()
    else {
        panic!("not a confirmation message");
    };
    assert_eq!(cid, confirmation_id);
    let (approve, reject) = (approve.expose().to_owned(), reject.expose().to_owned());
    // The bridge carries the response but cannot read the button tokens in it.
    for token in [&approve, &reject] {
        assert_eq!(token.len(), 22);
        assert!(!wire.windows(token.len()).any(|win| win == token.as_bytes()));
    }
    assert_ne!(approve, reject);
    let (msgs, events) = r.relay(ToSigner::Sent {
        confirmation_id: confirmation_id.clone(),
        chat_id,
        message_id,
    });
    assert!(msgs.is_empty());
    assert_eq!(
        events,
        vec![SignerEvent::Shown {
            confirmation_id: confirmation_id.clone()
        }]
    );
    Shown {
        id: confirmation_id,
        approve,
        reject,
        text,
        expires_in_secs,
    }
}

fn press(data: &str, from: u64, chat: i64, message: i64) -> ToSigner {
    ToSigner::Press {
        callback_query_id: "cq-1".into(),
        data: SecretString::new(data.into()),
        from_id: from,
        chat_id: Some(chat),
        message_id: Some(message),
    }
}

fn alert(msgs: &[ToPool]) -> String {
    match msgs {
        [ToPool::AnswerCallback {
            callback_query_id,
            text: Some(t),
            show_alert: true,
        }] => {
            assert_eq!(callback_query_id, "cq-1");
            t.clone()
        }
        other => panic!("expected only an alert: {other:?}"),
    }
}

#[test]
fn linking_binds_a_telegram_account_once() {
    let mut r = rig();
    let record = r.link("alice", ALICE_TG);
    // The record authenticates: the signer now refuses to relink alice.
    let (kind, msg) = error(r.create_link("alice", Some(record.clone())));
    assert_eq!(kind, ErrorKind::FailedPrecondition);
    assert!(msg.contains("already linked"), "{msg}");
    // A tampered record, or bob's record presented for alice, is an integrity failure.
    let mut bad = record.clone();
    bad[10] ^= 1;
    assert_eq!(
        error(r.create_link("alice", Some(bad))).0,
        ErrorKind::Integrity
    );
    let bob = r.link("bob", 7_000_003);
    assert_eq!(
        error(r.create_link("alice", Some(bob))).0,
        ErrorKind::Integrity
    );
    // A wallet record is not a security record.
    let w = r.wallet("alice");
    assert_eq!(
        error(r.create_link("alice", Some(w.record))).0,
        ErrorKind::Integrity
    );
    assert_eq!(
        error(r.create_link("no spaces", None)).0,
        ErrorKind::InvalidRequest
    );

    // A payload works once.
    let p = r.payload("carol");
    let (_, events) = r.start(&p, 8_000_004);
    assert_eq!(events.len(), 1);
    let (msgs, events) = r.start(&p, 8_000_004);
    assert!(events.is_empty());
    assert!(
        matches!(&msgs[..], [ToPool::Notice { text, .. }] if text.contains("not valid")),
        "{msgs:?}"
    );
    // A newer link replaces the older one.
    let old = r.payload("dave");
    let new = r.payload("dave");
    assert!(r.start(&old, 9_000_005).1.is_empty());
    assert_eq!(r.start(&new, 9_000_005).1.len(), 1);
    // Wrong, hostile or missing payloads: a notice, no event, no panic.
    for junk in [
        "",
        "x",
        &"A".repeat(32),
        &"\u{0}".repeat(64),
        "<b>&amp;</b>",
        &"é".repeat(500),
    ] {
        let (msgs, events) = r.start(junk, 9_000_006);
        assert!(events.is_empty(), "{junk}");
        assert!(matches!(&msgs[..], [ToPool::Notice { chat_id, .. }] if *chat_id == 9_000_006));
    }
    // A /start outside a private chat does not consume the link.
    let p = r.payload("erin");
    let (msgs, events) = r.relay(ToSigner::Start {
        payload: SecretString::new(p.clone()),
        from_id: 9_000_007,
        chat_id: -100,
    });
    assert!(events.is_empty());
    assert!(matches!(&msgs[..], [ToPool::Notice { text, .. }] if text.contains("private chat")));
    assert_eq!(r.start(&p, 9_000_007).1.len(), 1);
}

#[test]
fn links_expire() {
    let mut r = rig_with(ConfirmConfig::default(), Duration::ZERO);
    let p = match r.create_link("alice", None) {
        SignerResponse::LinkCreated(l) => l.start_payload,
        other => panic!("{other:?}"),
    };
    let (msgs, events) = r.start(&p, ALICE_TG);
    assert!(events.is_empty());
    assert!(
        matches!(&msgs[..], [ToPool::Notice { text, .. }] if text.contains("expired")),
        "{msgs:?}"
    );
}

#[test]
fn an_approved_withdrawal_is_signed_and_verifies() {
    let mut r = rig();
    let record = r.link("alice", ALICE_TG);
    let w = r.wallet("alice");
    let shown = confirm(&mut r, &w, &record, 77);
    assert!(shown
        .text
        .starts_with("<b>Custos: confirm a transaction</b>"));
    assert!(shown.text.contains(&bs58::encode(w.pubkey).into_string()));
    assert!(shown.text.contains("Expires in 5 minutes"));
    assert_eq!(shown.expires_in_secs, 300);
    assert!(shown.text.chars().count() <= 4096);
    assert_eq!(r.signatures(), 0);

    // Mallory pressing Alice's button: nothing happens but an alert.
    let (msgs, events) = r.relay(press(&shown.approve, MALLORY_TG, ALICE_TG as i64, 77));
    assert!(events.is_empty());
    assert_eq!(alert(&msgs), "This button is not for you.");
    // The right user on another message: refused too.
    let (msgs, events) = r.relay(press(&shown.approve, ALICE_TG, ALICE_TG as i64, 78));
    assert!(events.is_empty());
    assert!(alert(&msgs).contains("no longer valid"));
    // Forged callback data.
    for data in ["", "approve", &"A".repeat(22), &shown.approve[..21]] {
        let (msgs, events) = r.relay(press(data, ALICE_TG, ALICE_TG as i64, 77));
        assert!(events.is_empty());
        assert!(alert(&msgs).contains("no longer valid"));
    }
    assert_eq!(r.signatures(), 0);

    // Alice approves.
    let sealed = seal_to_signer(
        &mut r.pool,
        &press(&shown.approve, ALICE_TG, ALICE_TG as i64, 77),
    )
    .unwrap();
    let SignerResponse::Relay(relay) = r.svc.handle(SignerRequest::FromPool(sealed.clone())) else {
        panic!()
    };
    let (msgs, events) = r.open(relay);
    let [SignerEvent::Decided {
        confirmation_id,
        decision: Decision::Approved {
            transaction,
            signature,
        },
    }] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!(confirmation_id, &shown.id);
    let tx = transfer(&w.pubkey, &FOREIGN, 250_000_000);
    VerifyingKey::from_bytes(&w.pubkey)
        .unwrap()
        .verify(&tx[65..], &Signature::from_slice(signature).unwrap())
        .unwrap();
    assert_eq!(&transaction[1..65], &signature[..]);
    assert_eq!(&transaction[65..], &tx[65..]);
    match &msgs[..] {
        [ToPool::AnswerCallback {
            text: Some(t),
            show_alert: false,
            ..
        }, ToPool::Edit {
            chat_id,
            message_id,
            text,
            button: None,
        }] => {
            assert_eq!(t, "Approved: signed");
            assert_eq!((*chat_id, *message_id), (ALICE_TG as i64, 77));
            // The original text, without its expiry line, then the outcome.
            let original = shown.text.split("\n⏳").next().unwrap();
            assert!(text.starts_with(original.trim_end()), "{text}");
            assert!(!text.contains("Expires in"), "{text}");
            assert!(text.contains("✅ <b>Approved and signed</b>"));
            assert!(text.contains(&bs58::encode(signature).into_string()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.signatures(), 1);

    // The bridge replays the sealed press: refused by the channel.
    let (kind, msg) = error(r.svc.handle(SignerRequest::FromPool(sealed)));
    assert_eq!(kind, ErrorKind::Integrity);
    assert!(msg.starts_with("sealed message from the pool failed authentication"));
    // The user presses again (a fresh seal): an alert, nothing signed.
    for data in [&shown.approve, &shown.reject] {
        let (msgs, events) = r.relay(press(data, ALICE_TG, ALICE_TG as i64, 77));
        assert!(events.is_empty());
        assert!(alert(&msgs).contains("already decided"));
    }
    assert_eq!(r.signatures(), 1);
}

#[test]
fn a_rejected_withdrawal_is_never_signed() {
    let mut r = rig();
    let record = r.link("alice", ALICE_TG);
    let w = r.wallet("alice");
    let shown = confirm(&mut r, &w, &record, 5);
    let (msgs, events) = r.relay(press(&shown.reject, ALICE_TG, ALICE_TG as i64, 5));
    assert_eq!(
        events,
        vec![SignerEvent::Decided {
            confirmation_id: shown.id.clone(),
            decision: Decision::Rejected
        }]
    );
    assert!(matches!(&msgs[1], ToPool::Edit { text, .. } if text.contains("❌ <b>Rejected</b>")));
    let (msgs, events) = r.relay(press(&shown.approve, ALICE_TG, ALICE_TG as i64, 5));
    assert!(events.is_empty());
    assert!(alert(&msgs).contains("already decided"));
    assert_eq!(r.signatures(), 0);
}

#[test]
fn confirmations_expire_on_tick() {
    let config = ConfirmConfig {
        expiry: Duration::from_millis(50),
        ..ConfirmConfig::default()
    };
    let mut r = rig_with(config, Duration::from_secs(3600));
    let record = r.link("alice", ALICE_TG);
    let w = r.wallet("alice");
    let shown = confirm(&mut r, &w, &record, 9);
    assert!(shown.text.contains("Expires in"));
    std::thread::sleep(Duration::from_millis(80));
    // A late press: an alert only.
    let (msgs, events) = r.relay(press(&shown.approve, ALICE_TG, ALICE_TG as i64, 9));
    assert!(events.is_empty());
    assert!(alert(&msgs).contains("expired"));
    let (msgs, events) = r.tick();
    assert_eq!(
        events,
        vec![SignerEvent::Decided {
            confirmation_id: shown.id.clone(),
            decision: Decision::Expired
        }]
    );
    assert!(
        matches!(&msgs[..], [ToPool::Edit { chat_id, message_id, text, .. }]
            if *chat_id == ALICE_TG as i64 && *message_id == 9
                && text.contains("⌛ <b>Expired</b>: nothing was signed")),
        "{msgs:?}"
    );
    assert_eq!(r.tick(), (Vec::new(), Vec::new()));
    assert_eq!(r.signatures(), 0);
}

#[test]
fn a_failed_delivery_ends_the_confirmation() {
    let mut r = rig();
    let record = r.link("alice", ALICE_TG);
    let w = r.wallet("alice");
    let resp = r.sign(&withdrawal(&w, Some(record)));
    let SignerResponse::Sign(SignOutcome::Pending {
        confirmation_id,
        to_pool,
        ..
    }) = resp
    else {
        panic!()
    };
    let ToPool::SendConfirmation { approve, .. } = open_from_signer(&mut r.pool, &to_pool).unwrap()
    else {
        panic!()
    };
    let (_, events) = r.relay(ToSigner::SendFailed {
        confirmation_id: confirmation_id.clone(),
        reason: "Forbidden: bot was blocked by the user".into(),
    });
    assert!(
        matches!(&events[..], [SignerEvent::Decided { decision: Decision::Failed { reason }, .. }]
        if reason.contains("blocked"))
    );
    // A Sent report for a malformed or another user's chat is ignored.
    let (msgs, events) = r.relay(ToSigner::Sent {
        confirmation_id: "zz".into(),
        chat_id: 1,
        message_id: 1,
    });
    assert!(msgs.is_empty() && events.is_empty());
    let (_, events) = r.relay(press(approve.expose(), ALICE_TG, ALICE_TG as i64, 1));
    assert!(events.is_empty());
    assert_eq!(r.signatures(), 0);
}

#[test]
fn a_sent_report_for_another_chat_is_ignored() {
    let mut r = rig();
    let record = r.link("alice", ALICE_TG);
    let w = r.wallet("alice");
    let SignerResponse::Sign(SignOutcome::Pending {
        confirmation_id,
        to_pool,
        ..
    }) = r.sign(&withdrawal(&w, Some(record)))
    else {
        panic!()
    };
    let ToPool::SendConfirmation { approve, .. } = open_from_signer(&mut r.pool, &to_pool).unwrap()
    else {
        panic!()
    };
    let (msgs, events) = r.relay(ToSigner::Sent {
        confirmation_id,
        chat_id: MALLORY_TG as i64,
        message_id: 3,
    });
    assert!(msgs.is_empty() && events.is_empty());
    // Mallory cannot approve on her own chat even with the token.
    let (msgs, events) = r.relay(press(approve.expose(), MALLORY_TG, MALLORY_TG as i64, 3));
    assert!(events.is_empty());
    assert!(alert(&msgs).contains("not for you"), "{}", alert(&msgs));
    assert_eq!(r.signatures(), 0);
}

#[test]
fn a_compromised_bridge_can_neither_forge_nor_reflect_nor_replay() {
    let mut r = rig();
    let record = r.link("alice", ALICE_TG);
    let w = r.wallet("alice");
    let shown = confirm(&mut r, &w, &record, 11);
    // Random bytes.
    for (counter, len) in [(1000u64, 0usize), (1001, 16), (1002, 200)] {
        let mut ciphertext = vec![0u8; len];
        custos_crypto::os_random(&mut ciphertext).unwrap();
        let (kind, _) = error(r.svc.handle(SignerRequest::FromPool(Sealed {
            counter,
            ciphertext,
        })));
        assert_eq!(kind, ErrorKind::Integrity);
    }
    // The signer's own message to the pool, reflected back.
    let SignerResponse::Sign(SignOutcome::Pending { to_pool, .. }) =
        r.sign(&withdrawal(&w, Some(record.clone())))
    else {
        panic!()
    };
    assert_eq!(
        error(r.svc.handle(SignerRequest::FromPool(to_pool))).0,
        ErrorKind::Integrity
    );
    // A press sealed under another key (the bridge guessing the view key).
    let mut wrong = ChannelEnd::pool(&ViewKey::new([0x43; 32]));
    let forged = seal_to_signer(
        &mut wrong,
        &press(&shown.approve, ALICE_TG, ALICE_TG as i64, 11),
    )
    .unwrap();
    assert_eq!(
        error(r.svc.handle(SignerRequest::FromPool(forged))).0,
        ErrorKind::Integrity
    );
    assert_eq!(r.signatures(), 0);
    // The real press still works afterwards.
    let (_, events) = r.relay(press(&shown.approve, ALICE_TG, ALICE_TG as i64, 11));
    assert!(matches!(
        &events[..],
        [SignerEvent::Decided {
            decision: Decision::Approved { .. },
            ..
        }]
    ));
}

#[test]
fn confirm_needs_an_authentic_security_record_of_the_owner() {
    let mut r = rig();
    let alice = r.link("alice", ALICE_TG);
    let mallory = r.link("mallory", MALLORY_TG);
    let w = r.wallet("alice");
    // None: the signer still holds Alice's link (it sealed it), so a bridge that omits
    // the record cannot make her unasked: she is asked anyway.
    assert!(matches!(
        r.sign(&withdrawal(&w, None)),
        SignerResponse::Sign(SignOutcome::Pending { .. })
    ));
    // A user never linked: refused with a clear reason.
    let wb = r.wallet("bob");
    match r.sign(&withdrawal(&wb, None)) {
        SignerResponse::Sign(SignOutcome::Rejected { reasons, .. }) => {
            assert!(
                reasons
                    .last()
                    .unwrap()
                    .contains("user bob has not linked a Telegram account"),
                "{reasons:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    // Mallory's record for Alice's wallet: the database was altered.
    let (kind, msg) = error(r.sign(&withdrawal(&w, Some(mallory))));
    assert_eq!(kind, ErrorKind::Integrity);
    assert!(msg.contains("belongs to user mallory"), "{msg}");
    let mut bad = alice.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(
        error(r.sign(&withdrawal(&w, Some(bad)))).0,
        ErrorKind::Integrity
    );
    assert_eq!(
        error(r.sign(&withdrawal(&w, Some(w.record.clone())))).0,
        ErrorKind::Integrity
    );

    // Without a bot (or without the view key) nobody can be asked.
    let dir = tempfile::tempdir().unwrap();
    let seal = DevSeal::in_data_dir(dir.path());
    for svc in [
        Service::start(&seal, PolicyConfig::default())
            .unwrap()
            .with_view_key(ViewKey::new(KEY)),
        Service::start(&seal, PolicyConfig::default())
            .unwrap()
            .with_bot_token(Some(Zeroizing::new(BOT_TOKEN.into()))),
    ] {
        let w = match svc.handle(SignerRequest::CreateWallet(CreateWallet {
            user_id: "alice".into(),
            telegram_id: Some(ALICE_TG),
        })) {
            SignerResponse::WalletCreated(w) => w,
            other => panic!("{other:?}"),
        };
        match svc.handle(SignerRequest::Sign(withdrawal(&w, None))) {
            SignerResponse::Sign(SignOutcome::Rejected { reasons, .. }) => {
                assert!(reasons
                    .last()
                    .unwrap()
                    .contains("no Telegram bot is set up"))
            }
            other => panic!("{other:?}"),
        }
        for req in [
            SignerRequest::StartPool,
            SignerRequest::CreateLink(CreateLink {
                user_id: "alice".into(),
                security_record: None,
            }),
        ] {
            assert_eq!(error(svc.handle(req)).0, ErrorKind::FailedPrecondition);
        }
    }
}

#[test]
fn start_pool_hands_over_the_bot_token_sealed() {
    let mut r = rig();
    let SignerResponse::Relay(relay) = r.svc.handle(SignerRequest::StartPool) else {
        panic!()
    };
    let wire = custos_ipc::encode(&SignerResponse::Relay(relay.clone())).unwrap();
    assert!(!wire.windows(20).any(|w| w == &BOT_TOKEN.as_bytes()[10..30]));
    let (msgs, events) = r.open(relay);
    assert!(events.is_empty());
    match &msgs[..] {
        [ToPool::Configure { bot_token }] => assert_eq!(bot_token.expose(), BOT_TOKEN),
        other => panic!("{other:?}"),
    }
    let (msgs, events) = r.relay(ToSigner::Ready {
        bot_username: "custos_test_bot".into(),
    });
    assert!(msgs.is_empty() && events.is_empty());
    assert_eq!(r.svc.bot_username().as_deref(), Some("custos_test_bot"));
    assert!(!format!("{:?}", r.svc).contains("AAHdq"));
}

#[test]
fn a_thousand_users_each_get_a_pending_confirmation() {
    let mut r = rig();
    let mut ids = std::collections::HashSet::new();
    for i in 0..1000u64 {
        let user = format!("user-{i}");
        let record = r.link(&user, 10_000_000 + i);
        let w = r.wallet(&user);
        match r.sign(&withdrawal(&w, Some(record))) {
            SignerResponse::Sign(SignOutcome::Pending {
                confirmation_id, ..
            }) => assert!(ids.insert(confirmation_id)),
            other => panic!("{i}: {other:?}"),
        }
    }
    assert_eq!(ids.len(), 1000);
    // The per-user bound holds: the ninth pending confirmation of one user is refused.
    let record = r.link("busy", 20_000_000);
    let w = r.wallet("busy");
    for _ in 0..ConfirmConfig::default().max_pending_per_user {
        assert!(matches!(
            r.sign(&withdrawal(&w, Some(record.clone()))),
            SignerResponse::Sign(SignOutcome::Pending { .. })
        ));
    }
    let (kind, msg) = error(r.sign(&withdrawal(&w, Some(record))));
    assert_eq!(kind, ErrorKind::FailedPrecondition);
    assert!(msg.contains("pending confirmations"), "{msg}");
}

#[test]
fn bot_token_installed_by_the_cli_is_loaded_by_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let seal = DevSeal::in_data_dir(dir.path());
    custos_signer::bot_token::install(&seal, dir.path(), BOT_TOKEN).unwrap();
    let svc = Service::start(&seal, PolicyConfig::default())
        .unwrap()
        .with_view_key(ViewKey::new(KEY))
        .load_bot_token(dir.path())
        .unwrap();
    let SignerResponse::Relay(relay) = svc.handle(SignerRequest::StartPool) else {
        panic!()
    };
    let mut pool = ChannelEnd::pool(&ViewKey::new(KEY));
    match open_from_signer(&mut pool, &relay.to_pool[0]).unwrap() {
        ToPool::Configure { bot_token } => assert_eq!(bot_token.expose(), BOT_TOKEN),
        other => panic!("{other:?}"),
    }
    let e = custos_signer::bot_token::install(&seal, dir.path(), "123:tooShortSecretValue")
        .unwrap_err()
        .to_string();
    assert!(!e.contains("tooShortSecretValue"), "{e}");
}

#[test]
fn confirmations_work_from_many_worker_threads_at_once() {
    use std::sync::{Arc, Mutex};
    let mut r = rig();
    let users: Vec<(NewWallet, Vec<u8>, u64)> = (0..8u64)
        .map(|i| {
            let tg = 30_000_000 + i;
            let record = r.link(&format!("w{i}"), tg);
            (r.wallet(&format!("w{i}")), record, tg)
        })
        .collect();
    let Rig { _dir, svc, pool } = r;
    let (svc, pool) = (Arc::new(svc), Arc::new(Mutex::new(pool)));
    let threads: Vec<_> = users
        .into_iter()
        .enumerate()
        .map(|(i, (w, record, tg))| {
            let (svc, pool) = (svc.clone(), pool.clone());
            std::thread::spawn(move || {
                let mut approved = 0;
                for round in 0..5i64 {
                    let SignerResponse::Sign(SignOutcome::Pending {
                        confirmation_id,
                        to_pool,
                        ..
                    }) = svc.handle(SignerRequest::Sign(withdrawal(&w, Some(record.clone()))))
                    else {
                        panic!("not pending")
                    };
                    let from_pool = |msg: &ToSigner| {
                        let sealed = seal_to_signer(&mut pool.lock().unwrap(), msg).unwrap();
                        match svc.handle(SignerRequest::FromPool(sealed)) {
                            SignerResponse::Relay(r) => r,
                            other => panic!("{other:?}"),
                        }
                    };
                    let msg = open_from_signer(&mut pool.lock().unwrap(), &to_pool).unwrap();
                    let ToPool::SendConfirmation {
                        approve, reject, ..
                    } = msg
                    else {
                        panic!()
                    };
                    let message_id = 1000 * i as i64 + round;
                    from_pool(&ToSigner::Sent {
                        confirmation_id,
                        chat_id: tg as i64,
                        message_id,
                    });
                    let data = if round % 2 == 0 { approve } else { reject };
                    let relay = from_pool(&press(data.expose(), tg, tg as i64, message_id));
                    if let [SignerEvent::Decided {
                        decision: Decision::Approved { .. },
                        ..
                    }] = &relay.events[..]
                    {
                        approved += 1;
                    }
                }
                approved
            })
        })
        .collect();
    let approved: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(approved, 8 * 3);
    match svc.handle(SignerRequest::Health) {
        SignerResponse::Health(h) => assert_eq!(h.signatures, 24),
        other => panic!("{other:?}"),
    }
}
