//! Second factors end to end, through `Service::handle`: the test plays the bridge
//! (which only carries blobs and stores records), the pool (the other end of the sealed
//! channel: bot chat texts, button presses and the Custos page's requests), the user's
//! authenticator app (totp-rs, an independent TOTP implementation), the user's passkey
//! device (passkey-rs' software authenticator, as in crates/passkey's tests) and the
//! browser that receives an export (rust-hpke and x25519-dalek).
//!
//! TOTP codes are real codes for the real clock: each accepted code uses up a 30-second
//! step, and the signer accepts the current step and one either side, so a test has
//! three fresh codes at hand; [`Phone::next_code`] waits for the next step should a test
//! ever need more (none does).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use custos_crypto::keys::RecordKeys;
use custos_crypto::seal::{DevSeal, Seal};
use custos_crypto::{record, security};
use custos_ipc::channel::{ChannelEnd, Sealed};
use custos_ipc::pool::ViewKey;
use custos_ipc::signer::{
    CreateLink, CreateWallet, Decision, ErrorKind, ExportRequest, NewWallet, RecordsLoaded, Relay,
    SignOutcome, SignRequest, SignerEvent, SignerRequest, SignerResponse,
};
use custos_ipc::telegram::{
    open_from_signer, seal_to_signer, SecretString, TextMessage, ToPool, ToSigner,
};
use custos_signer::{ConfirmConfig, Service};
use custos_txdecode::PolicyConfig;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

#[path = "../../passkey/tests/common/mod.rs"]
mod device;

use device::Device;

const KEY: [u8; 32] = [0x42; 32];
const BOT_TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ";
const ALICE_TG: u64 = 5_000_001;
const FOREIGN: [u8; 32] = [9; 32];
const PAGE_PREFIX: &str = "https://localhost:8443/p/#";

// ---------------------------------------------------------------------------------------
// The rig: a service, the pool's end of the channel, and the keys to check records with.

/// How a test's service is built.
#[derive(Clone)]
struct Opts {
    expiry: Duration,
    removal_delay: Duration,
    page: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            expiry: ConfirmConfig::default().expiry,
            removal_delay: Duration::from_secs(24 * 3600),
            page: true,
        }
    }
}

struct Rig {
    dir: tempfile::TempDir,
    opts: Opts,
    svc: Service,
    pool: ChannelEnd,
    /// The signer's record keys (same data directory), to authenticate what it emits.
    keys: RecordKeys,
    next_message: i64,
    next_request: u64,
}

fn build(dir: &Path, o: &Opts) -> Service {
    let svc = Service::start(&DevSeal::in_data_dir(dir), PolicyConfig::default())
        .unwrap()
        .with_view_key(ViewKey::new(KEY))
        .with_confirm_config(ConfirmConfig {
            expiry: o.expiry,
            ..ConfirmConfig::default()
        })
        .with_bot_token(Some(Zeroizing::new(BOT_TOKEN.to_owned())))
        .with_removal_delay(o.removal_delay);
    if o.page {
        svc.with_page(device::ORIGIN).unwrap()
    } else {
        svc
    }
}

fn rig_with(opts: Opts) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let svc = build(dir.path(), &opts);
    let keys = RecordKeys::derive(&DevSeal::in_data_dir(dir.path()).unseal_or_create().unwrap());
    Rig {
        dir,
        opts,
        svc,
        pool: ChannelEnd::pool(&ViewKey::new(KEY)),
        keys,
        next_message: 100,
        next_request: 1,
    }
}

fn rig() -> Rig {
    rig_with(Opts::default())
}

/// What the signer sent and what the bridge must store.
type Out = (Vec<ToPool>, Vec<SignerEvent>);

impl Rig {
    /// A new signer process on the same data directory (same master key), with a fresh
    /// channel to the pool; it holds nothing until records are loaded.
    fn restart(&mut self) {
        self.svc = build(self.dir.path(), &self.opts);
        self.pool = ChannelEnd::pool(&ViewKey::new(KEY));
    }

    fn relay(&mut self, msg: ToSigner) -> Out {
        let sealed = seal_to_signer(&mut self.pool, &msg).unwrap();
        match self.svc.handle(SignerRequest::FromPool(sealed)) {
            SignerResponse::Relay(r) => self.open(r),
            other => panic!("{other:?}"),
        }
    }

    fn open(&mut self, r: Relay) -> Out {
        let msgs = r
            .to_pool
            .iter()
            .map(|s| open_from_signer(&mut self.pool, s).unwrap())
            .collect();
        (msgs, r.events)
    }

    fn open_one(&mut self, sealed: &Sealed) -> ToPool {
        open_from_signer(&mut self.pool, sealed).unwrap()
    }

    fn tick(&mut self) -> Out {
        match self.svc.handle(SignerRequest::Tick) {
            SignerResponse::Relay(r) => self.open(r),
            other => panic!("{other:?}"),
        }
    }

    fn signatures(&self) -> u64 {
        match self.svc.handle(SignerRequest::Health) {
            SignerResponse::Health(h) => h.signatures,
            other => panic!("{other:?}"),
        }
    }

    fn load(&self, records: Vec<Vec<u8>>) -> RecordsLoaded {
        match self.svc.handle(SignerRequest::LoadSecurityRecords(records)) {
            SignerResponse::RecordsLoaded(l) => l,
            other => panic!("{other:?}"),
        }
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

    /// Links `user` to Telegram account `tg` with a `/start` link and creates a wallet.
    fn user(&mut self, user: &'static str, tg: u64) -> User {
        let payload = match self.svc.handle(SignerRequest::CreateLink(CreateLink {
            user_id: user.into(),
            security_record: None,
        })) {
            SignerResponse::LinkCreated(l) => l.start_payload,
            other => panic!("{other:?}"),
        };
        let (msgs, events) = self.relay(ToSigner::Start {
            payload: SecretString::new(payload),
            from_id: tg,
            chat_id: tg as i64,
        });
        assert!(
            matches!(&msgs[..], [ToPool::Notice { text, .. }] if text.contains("now linked")),
            "{msgs:?}"
        );
        let record = match &events[..] {
            [SignerEvent::Linked {
                security_record, ..
            }] => security_record.clone(),
            other => panic!("{other:?}"),
        };
        User {
            id: user,
            tg,
            revision: 1,
            record,
            wallet: self.wallet(user),
        }
    }

    fn alice(&mut self) -> User {
        self.user("alice", ALICE_TG)
    }

    /// Alice types `text` in her private chat with the bot; returns its message id too.
    fn say(&mut self, u: &mut User, text: &str) -> (i64, Vec<ToPool>, Vec<SignerEvent>) {
        let id = self.next_message;
        self.next_message += 1;
        let (msgs, events) = self.relay(ToSigner::Text(TextMessage {
            from_id: u.tg,
            chat_id: u.tg as i64,
            message_id: id,
            text: SecretString::new(text.into()),
        }));
        u.absorb(&events);
        (id, msgs, events)
    }

    /// A bot command; it is not a code, so nothing is deleted.
    fn command(&mut self, u: &mut User, text: &str) -> Out {
        let (_, msgs, events) = self.say(u, text);
        assert!(
            !msgs
                .iter()
                .any(|m| matches!(m, ToPool::DeleteMessage { .. })),
            "{msgs:?}"
        );
        (msgs, events)
    }

    /// A code typed in the chat: the signer has the pool delete that message first,
    /// whatever happens next. Returns what follows the deletion.
    fn code(&mut self, u: &mut User, code: &str) -> Out {
        let (id, mut msgs, events) = self.say(u, code);
        assert_eq!(
            msgs.first(),
            Some(&ToPool::DeleteMessage {
                chat_id: u.tg as i64,
                message_id: id
            }),
            "{msgs:?}"
        );
        msgs.remove(0);
        (msgs, events)
    }

    /// The `/security` status text.
    fn status(&mut self, u: &mut User) -> String {
        let (msgs, events) = self.command(u, "/security");
        assert!(events.is_empty());
        notice(&msgs, u.tg).to_owned()
    }

    /// A request from the Custos page; returns its reply and whatever else was sent.
    fn page(&mut self, body: &str) -> Reply {
        let request_id = self.next_request;
        self.next_request += 1;
        let (msgs, events) = self.relay(ToSigner::Page {
            request_id,
            body: SecretString::new(body.into()),
        });
        let (replies, rest): (Vec<ToPool>, Vec<ToPool>) = msgs
            .into_iter()
            .partition(|m| matches!(m, ToPool::PageReply { .. }));
        match &replies[..] {
            [ToPool::PageReply {
                request_id: id,
                status,
                body,
            }] => {
                assert_eq!(*id, request_id);
                Reply {
                    status: *status,
                    body: serde_json::from_str(body.expose()).unwrap(),
                    rest,
                    events,
                }
            }
            other => panic!("expected one page reply: {other:?}"),
        }
    }

    fn page_json(&mut self, u: &mut User, body: Value) -> Reply {
        let reply = self.page(&body.to_string());
        u.absorb(&reply.events);
        reply
    }

    fn info(&mut self, u: &mut User, token: &str) -> Value {
        let reply = self.page_json(u, json!({"token": token, "step": "info"}));
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(reply.rest.is_empty() && reply.events.is_empty());
        reply.body
    }

    /// Sends the message a confirmation asks for and plays the pool delivering it.
    fn deliver(&mut self, confirmation_id: String, to_pool: &Sealed, message_id: i64) -> Shown {
        let ToPool::SendConfirmation {
            confirmation_id: cid,
            chat_id,
            text,
            approve,
            reject,
        } = self.open_one(to_pool)
        else {
            panic!("not a confirmation message");
        };
        assert_eq!(cid, confirmation_id);
        let (msgs, events) = self.relay(ToSigner::Sent {
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
            approve: approve.expose().to_owned(),
            reject: reject.expose().to_owned(),
            text,
            message_id,
        }
    }

    fn sign(&self, req: &SignRequest) -> SignerResponse {
        self.svc.handle(SignerRequest::Sign(req.clone()))
    }

    /// A withdrawal to a foreign address (a `confirm` verdict), shown to its owner.
    fn withdrawal(&mut self, u: &User) -> Shown {
        let req = withdrawal(u);
        self.pending(&req)
    }

    /// A request that must be confirmed, shown to its owner.
    fn pending(&mut self, req: &SignRequest) -> Shown {
        match self.sign(req) {
            SignerResponse::Sign(SignOutcome::Pending {
                confirmation_id,
                to_pool,
                ..
            }) => {
                let message = self.next_message;
                self.next_message += 1;
                self.deliver(confirmation_id, &to_pool, message)
            }
            other => panic!("expected a confirmation: {other:?}"),
        }
    }

    /// An export of the user's wallet, shown to them.
    fn export(&mut self, u: &User) -> Shown {
        match self.svc.handle(SignerRequest::Export(export_request(u))) {
            SignerResponse::ExportStarted(x) => {
                assert_eq!(
                    u64::from(x.expires_in_secs),
                    self.opts.expiry.as_secs(),
                    "{x:?}"
                );
                let message = self.next_message;
                self.next_message += 1;
                self.deliver(x.confirmation_id, &x.to_pool, message)
            }
            other => panic!("expected an export confirmation: {other:?}"),
        }
    }

    /// The owner presses Approve.
    fn approve(&mut self, u: &User, shown: &Shown) -> Out {
        self.relay(press(&shown.approve, u.tg, shown.message_id))
    }

    /// Approve, when the second factor (or the export page) is still needed: the
    /// message is edited to say so, nothing is decided yet. Returns the edited text and
    /// the page token of its button, if any.
    fn approve_then_wait(&mut self, u: &User, shown: &Shown) -> (String, Option<String>) {
        let signatures = self.signatures();
        let (msgs, events) = self.approve(u, shown);
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(self.signatures(), signatures);
        match &msgs[..] {
            [ToPool::AnswerCallback {
                text: Some(toast),
                show_alert: false,
                ..
            }, ToPool::Edit {
                chat_id,
                message_id,
                text,
                button,
            }] => {
                assert_eq!(toast, "Approved: now your second factor");
                assert_eq!((*chat_id, *message_id), (u.tg as i64, shown.message_id));
                assert!(!text.contains("Approved and signed"), "{text}");
                (text.clone(), button.as_ref().map(|b| token_of(&b.url)))
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A linked user with a wallet, and their security record as the bridge stores it.
struct User {
    id: &'static str,
    tg: u64,
    /// The latest security record the signer emitted.
    record: Vec<u8>,
    revision: u32,
    wallet: NewWallet,
}

impl User {
    /// Stores the user's re-sealed security records, as the bridge does; each must be
    /// newer than the last. Returns how many there were.
    fn absorb(&mut self, events: &[SignerEvent]) -> usize {
        let mut n = 0;
        for e in events {
            if let SignerEvent::SecurityUpdated {
                user_id,
                revision,
                security_record,
            } = e
            {
                assert_eq!(user_id, self.id);
                assert!(*revision > self.revision, "{revision} <= {}", self.revision);
                self.revision = *revision;
                self.record = security_record.clone();
                n += 1;
            }
        }
        n
    }
}

/// A page reply.
struct Reply {
    status: u16,
    body: Value,
    /// Other messages sent with it (edits, notices).
    rest: Vec<ToPool>,
    events: Vec<SignerEvent>,
}

impl Reply {
    fn error(&self) -> &str {
        assert_eq!(self.body["ok"], false, "{}", self.body);
        self.body["error"].as_str().unwrap()
    }
}

/// A confirmation message as the pool delivered it.
struct Shown {
    id: String,
    approve: String,
    reject: String,
    text: String,
    message_id: i64,
}

// ---------------------------------------------------------------------------------------
// The user's authenticator app.

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// An authenticator app holding the enrolled secret, and the recovery codes on paper.
struct Phone {
    totp: totp_rs::Totp,
    /// The last step whose code was accepted (the signer refuses it and any earlier).
    last_step: u64,
    recovery: Vec<String>,
}

impl Phone {
    fn at_step(&self, step: u64) -> String {
        self.totp.generate(step * 30).to_string()
    }

    /// A code the signer will accept: the earliest step after the last one used that is
    /// inside the window (current step +- 1), and that stays inside it for a while.
    fn next_code(&mut self) -> String {
        loop {
            let ms = unix_millis();
            let current = ms / 30_000;
            let left = 30_000 - ms % 30_000;
            let step = (self.last_step + 1).max(current - 1);
            let sleep = if step > current + 1 {
                // All three steps used: wait for the next one.
                Some(left + 100)
            } else if step + 1 == current && left < 2_000 {
                // About to leave the window.
                Some(left + 100)
            } else {
                None
            };
            match sleep {
                Some(ms) => std::thread::sleep(Duration::from_millis(ms)),
                None => {
                    self.last_step = step;
                    return self.at_step(step);
                }
            }
        }
    }

    /// Six digits that are the code of no step near now.
    fn wrong_code(&self) -> String {
        let current = unix_millis() / 30_000;
        let near: Vec<String> = (current - 2..=current + 2)
            .map(|s| self.at_step(s))
            .collect();
        (0..)
            .map(|i| format!("{:06}", 123_456 + i * 1_111))
            .find(|c| !near.contains(c))
            .unwrap()
    }
}

/// The contents of every `<code>` element of an HTML text, unescaped.
fn code_elements(html: &str) -> Vec<String> {
    html.split("<code>")
        .skip(1)
        .map(|s| {
            s.split("</code>")
                .next()
                .unwrap()
                .replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
        })
        .collect()
}

/// Decodes a QR code PNG with `png` and `rqrr`.
fn decode_qr(png_bytes: &[u8]) -> String {
    assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0u8; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x].min(1) * 255);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    grids[0].decode().unwrap().1
}

/// What `/totp` sends: the QR code, its caption and the recovery codes, all checked.
fn read_enrolment(u: &User, msgs: &[ToPool]) -> Phone {
    let [ToPool::SendPhoto {
        chat_id,
        png,
        caption,
        delete_after_secs: photo_lifetime,
    }, ToPool::SecretNotice {
        chat_id: chat2,
        text: codes,
        delete_after_secs: codes_lifetime,
    }] = msgs
    else {
        panic!("{msgs:?}")
    };
    assert_eq!((*chat_id, *chat2), (u.tg as i64, u.tg as i64));
    // Neither secret stays in the chat history.
    assert_eq!(*photo_lifetime, Some(600));
    assert_eq!(*codes_lifetime, Some(600));
    let shown = code_elements(caption.expose());
    let [secret, uri] = &shown[..] else {
        panic!("{}", caption.expose())
    };
    assert!(caption.expose().chars().count() <= 1024);
    // The QR code is exactly the URI in the caption, and the URI carries the secret
    // shown for typing by hand.
    let qr = decode_qr(png.expose());
    assert_eq!(&qr, uri);
    assert!(
        qr.starts_with(&format!("otpauth://totp/Custos:{}?", u.id)),
        "{qr}"
    );
    let query_secret = qr
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("secret="))
        .unwrap();
    assert_eq!(query_secret, secret);
    assert_eq!(data_encoding_len(secret), 20);
    let totp = totp_rs::Totp::from_url(&qr).unwrap();
    assert_eq!(totp.digits(), 6);
    assert_eq!(totp.step(), 30);
    let recovery = code_elements(codes.expose());
    assert_eq!(recovery.len(), 10, "{}", codes.expose());
    for c in &recovery {
        assert_eq!(c.len(), 19, "{c}");
        assert_eq!(c.matches('-').count(), 3, "{c}");
    }
    let mut unique = recovery.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10);
    Phone {
        totp,
        last_step: 0,
        recovery,
    }
}

/// Bytes in an unpadded base32 string.
fn data_encoding_len(b32: &str) -> usize {
    assert!(b32
        .bytes()
        .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c)));
    b32.len() * 5 / 8
}

/// Enrols TOTP for `u` with its first code (the full flow is checked in
/// `totp_enrolment_turns_on_only_with_the_first_right_code`).
fn enrol(r: &mut Rig, u: &mut User) -> Phone {
    let (msgs, events) = r.command(u, "/totp");
    assert!(events.is_empty());
    let mut phone = read_enrolment(u, &msgs);
    let code = phone.next_code();
    let (msgs, events) = r.code(u, &code);
    assert!(
        matches!(&events[..], [SignerEvent::SecurityUpdated { .. }]),
        "{events:?}"
    );
    assert!(notice(&msgs, u.tg).contains("Two-factor authentication is on"));
    phone
}

// ---------------------------------------------------------------------------------------
// Requests, presses and what comes back.

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

fn sign_request(w: &NewWallet, related: Vec<Vec<u8>>, tx: Vec<u8>, sr: &[u8]) -> SignRequest {
    SignRequest {
        wallet: w.pubkey,
        record: w.record.clone(),
        related_records: related,
        transaction: tx,
        lookup_tables: Vec::new(),
        offered_lookup_tables: Vec::new(),
        intent: None,
        security_record: Some(sr.to_vec()),
    }
}

/// 0.25 SOL to a foreign address: a `confirm` verdict.
fn withdrawal(u: &User) -> SignRequest {
    sign_request(
        &u.wallet,
        Vec::new(),
        transfer(&u.wallet.pubkey, &FOREIGN, 250_000_000),
        &u.record,
    )
}

fn export_request(u: &User) -> ExportRequest {
    ExportRequest {
        wallet: u.wallet.pubkey,
        record: u.wallet.record.clone(),
        security_record: Some(u.record.clone()),
    }
}

fn press(data: &str, from: u64, message: i64) -> ToSigner {
    ToSigner::Press {
        callback_query_id: "cq-1".into(),
        data: SecretString::new(data.into()),
        from_id: from,
        chat_id: Some(from as i64),
        message_id: Some(message),
    }
}

/// The text of the only message, a notice without a button to `chat`.
fn notice(msgs: &[ToPool], chat: u64) -> &str {
    match msgs {
        [ToPool::Notice {
            chat_id,
            text,
            button: None,
        }] if *chat_id == chat as i64 => text,
        other => panic!("expected one notice to {chat}: {other:?}"),
    }
}

/// The page token in a button's URL (`<origin>/p/#<token>`).
fn token_of(url: &SecretString) -> String {
    let token = url
        .expose()
        .strip_prefix(PAGE_PREFIX)
        .unwrap_or_else(|| panic!("{}", url.expose()));
    assert_eq!(token.len(), 22);
    assert!(URL_SAFE_NO_PAD.decode(token).is_ok());
    token.to_owned()
}

/// The only decision among `events`.
fn decision<'a>(events: &'a [SignerEvent], shown: &Shown) -> &'a Decision {
    let decided: Vec<&Decision> = events
        .iter()
        .filter_map(|e| match e {
            SignerEvent::Decided {
                confirmation_id,
                decision,
            } => {
                assert_eq!(confirmation_id, &shown.id);
                Some(decision)
            }
            _ => None,
        })
        .collect();
    match &decided[..] {
        [d] => d,
        other => panic!("expected one decision: {other:?}"),
    }
}

/// The events hold an approval of `req` whose signature verifies under the wallet.
fn assert_signed(events: &[SignerEvent], shown: &Shown, req: &SignRequest) {
    let Decision::Approved {
        transaction,
        signature,
    } = decision(events, shown)
    else {
        panic!("{events:?}")
    };
    VerifyingKey::from_bytes(&req.wallet)
        .unwrap()
        .verify(
            &req.transaction[65..],
            &Signature::from_slice(signature).unwrap(),
        )
        .unwrap();
    assert_eq!(&transaction[1..65], &signature[..]);
    assert_eq!(&transaction[65..], &req.transaction[65..]);
}

/// The edit of the confirmation message that reports it was signed.
fn assert_signed_edit(msgs: &[ToPool], u: &User, shown: &Shown) {
    assert!(
        msgs.iter().any(
            |m| matches!(m, ToPool::Edit { chat_id, message_id, text, button: None }
            if *chat_id == u.tg as i64 && *message_id == shown.message_id
                && text.contains("✅ <b>Approved and signed</b>"))
        ),
        "{msgs:?}"
    );
}

fn passkey_options(info: &Value) -> String {
    assert!(info["passkey"]["publicKey"].is_object(), "{info}");
    info["passkey"].to_string()
}

fn submit_assertion(token: &str, assertion: &str) -> Value {
    json!({
        "token": token,
        "step": "submit",
        "assertion": serde_json::from_str::<Value>(assertion).unwrap(),
    })
}

/// Registers a passkey on `dev` through `/passkey` (a user without a factor yet, or
/// after the factor was given) given the registration notice's page token.
fn register_passkey(r: &mut Rig, u: &mut User, dev: &mut Device, token: &str) {
    let info = r.info(u, token);
    assert_eq!(info["kind"], "register");
    assert_eq!(info["passkey"]["publicKey"]["rp"]["id"], "localhost");
    assert_eq!(
        info["passkey"]["publicKey"]["authenticatorSelection"]["userVerification"],
        "required"
    );
    let credential = dev.register(&passkey_options(&info)).unwrap();
    let revision = u.revision;
    let reply = r.page_json(
        u,
        json!({"token": token, "step": "submit",
               "credential": serde_json::from_str::<Value>(&credential).unwrap()}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["ok"], true);
    assert_eq!(reply.events.len(), 1);
    assert!(u.revision > revision);
    assert_eq!(notice(&reply.rest, u.tg), "✅ Passkey added.");
    // The token was for this registration only.
    let again = r.page_json(u, json!({"token": token, "step": "info"}));
    assert_eq!(again.status, 404);
}

/// `/passkey` for a user without a factor: a notice with the registration button.
fn passkey_command_token(r: &mut Rig, u: &mut User) -> String {
    let (msgs, events) = r.command(u, "/passkey");
    assert!(events.is_empty());
    match &msgs[..] {
        [ToPool::Notice {
            chat_id,
            text,
            button: Some(b),
        }] => {
            assert_eq!(*chat_id, u.tg as i64);
            assert!(text.contains("add a passkey"), "{text}");
            assert_eq!(b.text, "Add a passkey");
            token_of(&b.url)
        }
        other => panic!("{other:?}"),
    }
}

/// A browser's one-time X25519 key pair for an export.
struct Browser {
    secret: [u8; 32],
    public: [u8; 32],
}

impl Browser {
    fn new() -> Self {
        let mut secret = [0u8; 32];
        custos_crypto::os_random(&mut secret).unwrap();
        let public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(secret));
        Browser {
            secret,
            public: public.to_bytes(),
        }
    }

    fn recipient(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.public)
    }

    /// Opens an export bundle with rust-hpke, binding it to the wallet and confirmation
    /// the page asked for; `None` if it does not open.
    fn open(&self, bundle: &Value, wallet: &[u8; 32], confirmation_id: &str) -> Option<[u8; 32]> {
        use hpke::aead::AesGcm128;
        use hpke::kdf::HkdfSha256;
        use hpke::kem::X25519HkdfSha256;
        use hpke::{Deserializable, Kem as _, OpModeR};
        assert_eq!(
            (
                &bundle["version"],
                &bundle["kem_id"],
                &bundle["kdf_id"],
                &bundle["aead_id"]
            ),
            (&json!(1), &json!(0x20), &json!(1), &json!(1)),
            "{bundle}"
        );
        let bytes = |k: &str| URL_SAFE_NO_PAD.decode(bundle[k].as_str().unwrap()).unwrap();
        let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(&bytes("enc")).unwrap();
        let sk = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(&self.secret).unwrap();
        // x25519-dalek and rust-hpke agree on the browser's public key.
        assert_eq!(
            hpke::Serializable::to_bytes(&X25519HkdfSha256::sk_to_pk(&sk)).as_slice(),
            &self.public
        );
        let mut info = b"custos/v1/export".to_vec();
        info.extend_from_slice(wallet);
        info.extend_from_slice(&hex::decode(confirmation_id).unwrap());
        let ct = bytes("ciphertext");
        assert_eq!(ct.len(), 48);
        let seed = hpke::single_shot_open::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &sk,
            &enc,
            &info,
            &ct,
            wallet,
        )
        .ok()?;
        Some(seed.try_into().unwrap())
    }
}

fn submit_export(token: &str, recipient: Option<&str>, totp: Option<&str>) -> Value {
    let mut v = json!({"token": token, "step": "submit"});
    if let Some(k) = recipient {
        v["recipient"] = json!(k);
    }
    if let Some(c) = totp {
        v["totp"] = json!(c);
    }
    v
}

// ---------------------------------------------------------------------------------------
// 1. TOTP enrolment.

#[test]
fn totp_enrolment_turns_on_only_with_the_first_right_code() {
    let mut r = rig();
    let mut alice = r.alice();
    assert!(r.status(&mut alice).contains("Authenticator app: off"));

    let (msgs, events) = r.command(&mut alice, "/totp");
    assert!(events.is_empty(), "nothing changes before the first code");
    let mut phone = read_enrolment(&alice, &msgs);

    // A wrong first code: refused, the factor is not on, the record is not re-sealed.
    let (msgs, events) = r.code(&mut alice, &phone.wrong_code());
    assert!(events.is_empty(), "{events:?}");
    let text = notice(&msgs, ALICE_TG);
    assert!(
        text.contains("wrong code") && text.contains("4 attempts left"),
        "{text}"
    );
    assert!(r.status(&mut alice).contains("Authenticator app: off"));
    // ...so a withdrawal still signs with Approve alone.
    let shown = r.withdrawal(&alice);
    let (msgs, events) = r.approve(&alice, &shown);
    assert_signed(&events, &shown, &withdrawal(&alice));
    assert_signed_edit(&msgs, &alice, &shown);

    // The right code turns it on: a higher revision whose flags say so.
    let code = phone.next_code();
    let (msgs, events) = r.code(&mut alice, &code);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(alice.revision, 2);
    assert!(notice(&msgs, ALICE_TG).contains("Two-factor authentication is on"));
    let rec = security::authenticate(&r.keys, &alice.record).unwrap();
    assert_eq!(rec.revision, 2);
    assert_eq!(rec.flags & 1, 1, "FLAG_HAS_FACTOR");
    assert!(rec.secrets.is_some());
    let status = r.status(&mut alice);
    assert!(status.contains("Authenticator app: on"), "{status}");
    assert!(status.contains("Passkeys: 0"), "{status}");

    // The enrolment is over: the same code again has nothing to answer.
    let (msgs, events) = r.code(&mut alice, &code);
    assert!(events.is_empty());
    assert!(notice(&msgs, ALICE_TG).contains("Nothing is waiting for a code"));
}

#[test]
fn totp_enrolment_closes_after_five_wrong_codes() {
    let mut r = rig();
    let mut alice = r.alice();
    let (msgs, _) = r.command(&mut alice, "/totp");
    let mut phone = read_enrolment(&alice, &msgs);
    for left in (0..5).rev() {
        let (msgs, events) = r.code(&mut alice, &phone.wrong_code());
        assert!(events.is_empty());
        let text = notice(&msgs, ALICE_TG);
        if left == 0 {
            assert!(text.contains("set-up was cancelled"), "{text}");
        } else {
            assert!(text.contains(&format!("({left} attempts left)")), "{text}");
        }
    }
    // Closed: even the right code does not turn it on.
    let (msgs, events) = r.code(&mut alice, &phone.next_code());
    assert!(events.is_empty());
    assert!(notice(&msgs, ALICE_TG).contains("Nothing is waiting"));
    assert!(r.status(&mut alice).contains("Authenticator app: off"));
    // A new /totp starts over with a new secret.
    let (msgs, _) = r.command(&mut alice, "/totp");
    let fresh = read_enrolment(&alice, &msgs);
    assert_ne!(fresh.recovery, phone.recovery);
}

// ---------------------------------------------------------------------------------------
// 2. Gating of withdrawals by TOTP.

#[test]
fn with_totp_on_a_withdrawal_is_signed_only_after_the_right_fresh_code() {
    let mut r = rig();
    let mut alice = r.alice();
    let mut phone = enrol(&mut r, &mut alice);
    let enrolment_step = phone.last_step;
    let req = withdrawal(&alice);
    let shown = r.withdrawal(&alice);

    // Approve alone signs nothing: the message asks for the code (no page button for
    // a user without a passkey).
    let (text, token) = r.approve_then_wait(&alice, &shown);
    assert!(token.is_none());
    assert!(
        text.contains("Second factor needed")
            && text.contains("6-digit code from your authenticator app"),
        "{text}"
    );
    assert!(text.starts_with("<b>Custos: confirm a transaction</b>"));
    // Pressing again: already decided.
    let (msgs, events) = r.approve(&alice, &shown);
    assert!(events.is_empty());
    assert!(
        matches!(&msgs[..], [ToPool::AnswerCallback { text: Some(t), show_alert: true, .. }]
        if t.contains("already decided"))
    );

    // A wrong code: refused and counted (the record is re-sealed with the failure).
    let revision = alice.revision;
    let (msgs, events) = r.code(&mut alice, &phone.wrong_code());
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(alice.revision > revision);
    assert!(notice(&msgs, ALICE_TG).contains("Code refused: wrong code"));
    // The enrolment's code again (a used step): refused as reused, counted too.
    let (msgs, events) = r.code(&mut alice, &phone.at_step(enrolment_step));
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(notice(&msgs, ALICE_TG).contains("already used"), "{msgs:?}");
    assert_eq!(r.signatures(), 0);

    // The right code: signed, the message edited with the signature.
    let (msgs, events) = r.code(&mut alice, &phone.next_code());
    assert!(events
        .iter()
        .any(|e| matches!(e, SignerEvent::SecurityUpdated { .. })));
    assert_signed(&events, &shown, &req);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_signed_edit(&msgs, &alice, &shown);
    assert_eq!(r.signatures(), 1);

    // Nothing waits any more; a code now is answered as such and signs nothing.
    let (msgs, events) = r.code(&mut alice, &phone.wrong_code());
    assert!(events.is_empty());
    assert!(notice(&msgs, ALICE_TG).contains("Nothing is waiting"));
    assert_eq!(r.signatures(), 1);
}

#[test]
fn a_rejected_withdrawal_needs_no_factor_and_is_never_signed() {
    let mut r = rig();
    let mut alice = r.alice();
    let mut phone = enrol(&mut r, &mut alice);
    let shown = r.withdrawal(&alice);
    let (_, events) = r.relay(press(&shown.reject, ALICE_TG, shown.message_id));
    assert_eq!(decision(&events, &shown), &Decision::Rejected);
    // A code afterwards finds nothing to unlock.
    let (msgs, events) = r.code(&mut alice, &phone.next_code());
    assert!(events.is_empty());
    assert!(notice(&msgs, ALICE_TG).contains("Nothing is waiting"));
    assert_eq!(r.signatures(), 0);
}

// ---------------------------------------------------------------------------------------
// 3. A stolen Telegram account: Approve without the factor.

#[test]
fn a_stolen_telegram_account_cannot_sign_or_export_without_the_factor() {
    let mut r = rig_with(Opts {
        expiry: Duration::from_millis(1500),
        ..Opts::default()
    });
    let mut alice = r.alice();
    let phone = enrol(&mut r, &mut alice);
    let shown = r.withdrawal(&alice);
    let (text, _) = r.approve_then_wait(&alice, &shown);
    assert!(text.contains("Expires in 1 second"), "{text}");
    let export = r.export(&alice);
    let (text, token) = r.approve_then_wait(&alice, &export);
    assert!(
        text.contains("You will need your second factor there"),
        "{text}"
    );
    let token = token.unwrap();

    // The thief opens the export page but has no factor to give.
    let browser = Browser::new();
    let reply = r.page_json(
        &mut alice,
        submit_export(&token, Some(&browser.recipient()), None),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error(), "this request needs your second factor");
    assert!(reply.events.is_empty() && reply.rest.is_empty());
    // Guessing a code in the chat answers the withdrawal, never the export; counted.
    let (msgs, events) = r.code(&mut alice, &phone.wrong_code());
    assert_eq!(events.len(), 1);
    assert!(notice(&msgs, ALICE_TG).contains("Code refused"));

    std::thread::sleep(Duration::from_millis(1600));
    let (msgs, events) = r.tick();
    let mut decided: Vec<(String, Decision)> = events
        .into_iter()
        .map(|e| match e {
            SignerEvent::Decided {
                confirmation_id,
                decision,
            } => (confirmation_id, decision),
            other => panic!("{other:?}"),
        })
        .collect();
    decided.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![
        (shown.id.clone(), Decision::Expired),
        (export.id.clone(), Decision::Expired),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(decided, expected);
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    for m in &msgs {
        assert!(
            matches!(m, ToPool::Edit { text, button: None, .. }
                if text.contains("Expired</b> waiting for the second factor")),
            "{m:?}"
        );
    }
    assert_eq!(r.signatures(), 0);
    // The export page is dead.
    let reply = r.page_json(&mut alice, json!({"token": token, "step": "info"}));
    assert_eq!(reply.status, 404);
    assert_eq!(r.tick(), (Vec::new(), Vec::new()));
}

// ---------------------------------------------------------------------------------------
// 4. Lock-out, restart and rollback.

#[test]
fn a_lock_out_survives_a_restart_and_records_cannot_be_rolled_back() {
    let mut r = rig();
    let mut alice = r.alice();
    let linked = alice.record.clone();
    let mut phone = enrol(&mut r, &mut alice);
    let enrolled = alice.record.clone();
    let shown = r.withdrawal(&alice);
    r.approve_then_wait(&alice, &shown);

    for i in 0..5 {
        let revision = alice.revision;
        let (msgs, events) = r.code(&mut alice, &phone.wrong_code());
        assert_eq!(events.len(), 1, "attempt {i}: the failure is stored");
        assert_eq!(alice.revision, revision + 1);
        assert!(notice(&msgs, ALICE_TG).contains("wrong code"));
    }
    // Locked: even the right code is refused, without being counted.
    let right = phone.next_code();
    let (msgs, events) = r.code(&mut alice, &right);
    assert!(events.is_empty(), "{events:?}");
    let text = notice(&msgs, ALICE_TG);
    assert!(text.contains("locked until"), "{text}");
    assert_eq!(r.signatures(), 0);

    // A new signer process, loaded with the stored records.
    r.restart();
    assert_eq!(
        r.load(vec![alice.record.clone()]),
        RecordsLoaded {
            loaded: 1,
            refused: 0
        }
    );
    let shown = r.withdrawal(&alice);
    r.approve_then_wait(&alice, &shown);
    let (msgs, events) = r.code(&mut alice, &phone.next_code());
    assert!(events.is_empty());
    assert!(notice(&msgs, ALICE_TG).contains("locked until"));
    // On the page too: 429.
    let export = r.export(&alice);
    let (_, token) = r.approve_then_wait(&alice, &export);
    let reply = r.page_json(
        &mut alice,
        submit_export(
            &token.unwrap(),
            Some(&Browser::new().recipient()),
            Some(&right),
        ),
    );
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert!(reply.error().contains("locked"));
    assert!(reply.events.is_empty());

    // Rollback: an older revision (before the failures, or before the factor) is
    // refused, and so is a tampered record.
    let mut tampered = alice.record.clone();
    *tampered.last_mut().unwrap() ^= 1;
    for old in [&enrolled, &linked, &tampered] {
        assert_eq!(
            r.load(vec![old.clone()]),
            RecordsLoaded {
                loaded: 0,
                refused: 1
            }
        );
    }
    // Presented with a request, an older record changes nothing either (the request
    // is still asked for), and a tampered one is an integrity failure.
    for old in [enrolled, linked] {
        assert!(matches!(
            r.sign(&SignRequest {
                security_record: Some(old),
                ..withdrawal(&alice)
            }),
            SignerResponse::Sign(SignOutcome::Pending { .. })
        ));
    }
    match r.sign(&SignRequest {
        security_record: Some(tampered),
        ..withdrawal(&alice)
    }) {
        SignerResponse::Error(e) => assert_eq!(e.kind, ErrorKind::Integrity),
        other => panic!("{other:?}"),
    }
    // The same record again is not news.
    assert_eq!(
        r.load(vec![alice.record.clone()]),
        RecordsLoaded {
            loaded: 1,
            refused: 0
        }
    );
    let (msgs, events) = r.code(&mut alice, &phone.wrong_code());
    assert!(events.is_empty());
    assert!(notice(&msgs, ALICE_TG).contains("locked until"));
    assert_eq!(r.signatures(), 0);
}

#[test]
fn an_older_record_presented_with_a_request_does_not_drop_the_factor() {
    let mut r = rig();
    let mut alice = r.alice();
    let linked = alice.record.clone();
    let _phone = enrol(&mut r, &mut alice);
    // The bridge presents the record from before the enrolment.
    let req = SignRequest {
        security_record: Some(linked),
        ..withdrawal(&alice)
    };
    let shown = r.pending(&req);
    let (text, _) = r.approve_then_wait(&alice, &shown);
    assert!(text.contains("Second factor needed"));
    assert_eq!(r.signatures(), 0);
}

// ---------------------------------------------------------------------------------------
// 5. Recovery codes.

#[test]
fn a_recovery_code_works_once() {
    let mut r = rig();
    let mut alice = r.alice();
    let phone = enrol(&mut r, &mut alice);
    let req = withdrawal(&alice);

    let shown = r.withdrawal(&alice);
    r.approve_then_wait(&alice, &shown);
    let (msgs, events) = r.code(&mut alice, &phone.recovery[3]);
    assert_signed(&events, &shown, &req);
    assert!(
        matches!(&msgs[0], ToPool::Notice { text, .. } if text == "A recovery code was used; 9 left."),
        "{msgs:?}"
    );
    assert_signed_edit(&msgs, &alice, &shown);

    let shown = r.withdrawal(&alice);
    r.approve_then_wait(&alice, &shown);
    let (msgs, events) = r.code(&mut alice, &phone.recovery[3]);
    assert_eq!(events.len(), 1, "counted: {events:?}");
    assert!(notice(&msgs, ALICE_TG).contains("this recovery code was already used"));
    let (msgs, events) = r.code(&mut alice, "not-a-recovery-code!");
    assert_eq!(events.len(), 1);
    assert!(notice(&msgs, ALICE_TG).contains("a recovery code is 16 letters"));
    assert_eq!(r.signatures(), 1);
    // Another one, typed in lower case without dashes, still works.
    let typed = phone.recovery[7].replace('-', "").to_lowercase();
    let (msgs, events) = r.code(&mut alice, &typed);
    assert_signed(&events, &shown, &req);
    assert!(matches!(&msgs[0], ToPool::Notice { text, .. } if text.contains("8 left")));
    assert_eq!(r.signatures(), 2);
}

// ---------------------------------------------------------------------------------------
// 6. Passkeys.

#[test]
fn a_passkey_registered_on_the_page_approves_a_withdrawal() {
    let mut r = rig();
    let mut alice = r.alice();
    let mut dev = Device::new();
    let token = passkey_command_token(&mut r, &mut alice);
    register_passkey(&mut r, &mut alice, &mut dev, &token);
    let status = r.status(&mut alice);
    assert!(status.contains("Passkeys: 1") && status.contains("Authenticator app: off"));
    let rec = security::authenticate(&r.keys, &alice.record).unwrap();
    assert_eq!(rec.flags & 1, 1);

    let req = withdrawal(&alice);
    let shown = r.withdrawal(&alice);
    let (text, token) = r.approve_then_wait(&alice, &shown);
    assert!(
        text.contains("confirm with your passkey (button below)"),
        "{text}"
    );
    let token = token.expect("a button to the page");

    let info = r.info(&mut alice, &token);
    assert_eq!(info["kind"], "approve");
    assert_eq!(info["totp"], false);
    assert_eq!(info["confirmation_id"], json!(shown.id));
    assert_eq!(
        info["wallet"],
        json!(bs58::encode(alice.wallet.pubkey).into_string())
    );
    assert!(info["text"].as_str().unwrap().contains("Wallet: "));
    assert_eq!(info["passkey"]["publicKey"]["userVerification"], "required");
    let assertion = dev.approve(&passkey_options(&info)).unwrap();
    let reply = r.page_json(&mut alice, submit_assertion(&token, &assertion));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["ok"], true);
    assert_signed(&reply.events, &shown, &req);
    assert_signed_edit(&reply.rest, &alice, &shown);
    assert_eq!(r.signatures(), 1);

    // The same assertion again: the token died with the challenge.
    let reply = r.page_json(&mut alice, submit_assertion(&token, &assertion));
    assert_eq!(reply.status, 404);
    assert!(reply.events.is_empty());
    assert_eq!(r.signatures(), 1);
}

/// Alice with a passkey on `dev`, a withdrawal approved in Telegram and its page token.
fn passkey_withdrawal(r: &mut Rig, alice: &mut User, dev: &mut Device) -> (Shown, String) {
    let token = passkey_command_token(r, alice);
    register_passkey(r, alice, dev, &token);
    let shown = r.withdrawal(alice);
    let (_, token) = r.approve_then_wait(alice, &shown);
    (shown, token.unwrap())
}

#[test]
fn a_passkey_without_user_verification_is_refused() {
    let mut r = rig();
    let mut alice = r.alice();
    let mut dev = Device::new();
    let (shown, token) = passkey_withdrawal(&mut r, &mut alice, &mut dev);
    // The same passkey on a device that cannot verify its user cannot answer...
    let mut weak = dev.clone_with(false);
    let info = r.info(&mut alice, &token);
    assert!(weak.approve(&passkey_options(&info)).is_err());
    // ...and with the request downgraded on the way, its answer is refused.
    let mut downgraded = info["passkey"].clone();
    downgraded["publicKey"]["userVerification"] = json!("discouraged");
    let assertion = weak.approve(&downgraded.to_string()).unwrap();
    let reply = r.page_json(&mut alice, submit_assertion(&token, &assertion));
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(
        reply.error().starts_with("passkey refused"),
        "{}",
        reply.body
    );
    assert!(reply.events.is_empty() && reply.rest.is_empty());
    assert_eq!(r.signatures(), 0);
    // The request still waits; the real device approves it.
    let info = r.info(&mut alice, &token);
    let assertion = dev.approve(&passkey_options(&info)).unwrap();
    let reply = r.page_json(&mut alice, submit_assertion(&token, &assertion));
    assert_eq!(reply.status, 200);
    assert_signed(&reply.events, &shown, &withdrawal(&alice));
}

#[test]
fn a_passkey_assertion_from_another_origin_is_refused() {
    let mut r = rig();
    let mut alice = r.alice();
    let mut dev = Device::new();
    let (_, token) = passkey_withdrawal(&mut r, &mut alice, &mut dev);
    for origin in ["https://evil.localhost:8443", "https://localhost:9443"] {
        let mut phished = dev.clone_with(true);
        phished.origin = origin.parse().unwrap();
        let info = r.info(&mut alice, &token);
        let assertion = phished.approve(&passkey_options(&info)).unwrap();
        let reply = r.page_json(&mut alice, submit_assertion(&token, &assertion));
        assert_eq!(reply.status, 403, "{origin}: {}", reply.body);
        assert!(reply.events.is_empty());
    }
    assert_eq!(r.signatures(), 0);
}

#[test]
fn a_passkey_assertion_is_single_use_and_bound_to_its_confirmation() {
    let mut r = rig();
    let mut alice = r.alice();
    let mut dev = Device::new();
    let (first, token1) = passkey_withdrawal(&mut r, &mut alice, &mut dev);
    let second = r.withdrawal(&alice);
    let (_, token2) = r.approve_then_wait(&alice, &second);
    let token2 = token2.unwrap();
    assert_ne!(token1, token2);

    // Without "info" first there is no ceremony to answer.
    let info1 = r.info(&mut alice, &token1);
    let assertion1 = dev.approve(&passkey_options(&info1)).unwrap();
    let reply = r.page_json(&mut alice, submit_assertion(&token2, &assertion1));
    assert_eq!(reply.status, 409, "{}", reply.body);
    // The assertion for the first confirmation, submitted for the second: refused.
    r.info(&mut alice, &token2);
    let reply = r.page_json(&mut alice, submit_assertion(&token2, &assertion1));
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.events.is_empty());
    assert_eq!(r.signatures(), 0);

    // A stale assertion (the page asked again, so a new challenge): refused.
    let stale = assertion1;
    let info1 = r.info(&mut alice, &token1);
    let reply = r.page_json(&mut alice, submit_assertion(&token1, &stale));
    assert_eq!(reply.status, 403, "{}", reply.body);
    // The ceremony is spent by that attempt: the fresh assertion needs a fresh "info".
    let fresh = dev.approve(&passkey_options(&info1)).unwrap();
    let reply = r.page_json(&mut alice, submit_assertion(&token1, &fresh));
    assert_eq!(reply.status, 409, "{}", reply.body);
    let info1 = r.info(&mut alice, &token1);
    let fresh = dev.approve(&passkey_options(&info1)).unwrap();
    let reply = r.page_json(&mut alice, submit_assertion(&token1, &fresh));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_signed(&reply.events, &first, &withdrawal(&alice));
    // Submitted twice: the second is refused (the token is spent).
    let reply = r.page_json(&mut alice, submit_assertion(&token1, &fresh));
    assert_eq!(reply.status, 404);
    assert_eq!(r.signatures(), 1);
    // ...and the first confirmation's assertion does not open the second either.
    let reply = r.page_json(&mut alice, submit_assertion(&token2, &fresh));
    assert_eq!(reply.status, 409);
    let info2 = r.info(&mut alice, &token2);
    let reply = r.page_json(&mut alice, submit_assertion(&token2, &fresh));
    assert_eq!(reply.status, 403);
    let assertion2 = dev.approve(&passkey_options(&info2)).unwrap();
    let reply = r.page_json(&mut alice, submit_assertion(&token2, &assertion2));
    assert_eq!(reply.status, 409, "the refused attempt spent the ceremony");
    let info2 = r.info(&mut alice, &token2);
    let assertion2 = dev.approve(&passkey_options(&info2)).unwrap();
    let reply = r.page_json(&mut alice, submit_assertion(&token2, &assertion2));
    assert_eq!(reply.status, 200);
    assert_signed(&reply.events, &second, &withdrawal(&alice));
    assert_eq!(r.signatures(), 2);
}

#[test]
fn the_page_refuses_unknown_tokens_and_malformed_requests() {
    let mut r = rig();
    let mut alice = r.alice();
    let mut dev = Device::new();
    let (_, token) = passkey_withdrawal(&mut r, &mut alice, &mut dev);
    let cases: Vec<(String, u16)> = vec![
        // Malformed JSON, wrong shapes, unknown fields or steps.
        ("".into(), 400),
        ("{".into(), 400),
        ("[]".into(), 400),
        (json!({"token": token}).to_string(), 400),
        (json!({"token": token, "step": "sign"}).to_string(), 400),
        (
            json!({"token": token, "step": "info", "x": 1}).to_string(),
            400,
        ),
        (json!({"token": 5, "step": "info"}).to_string(), 400),
        // Unknown, mistyped and hostile tokens.
        (json!({"token": "", "step": "info"}).to_string(), 404),
        (
            json!({"token": "A".repeat(22), "step": "info"}).to_string(),
            404,
        ),
        (
            json!({"token": &token[..21], "step": "info"}).to_string(),
            404,
        ),
        (
            json!({"token": "é".repeat(1000), "step": "submit"}).to_string(),
            404,
        ),
        // A code and a passkey at once; a browser key for a withdrawal.
        (
            json!({"token": token, "step": "submit", "totp": "123456", "assertion": {}})
                .to_string(),
            400,
        ),
        (
            json!({"token": token, "step": "submit", "recipient": Browser::new().recipient()})
                .to_string(),
            400,
        ),
        // No factor at all, for a user who has one.
        (json!({"token": token, "step": "submit"}).to_string(), 400),
        // A code, for a user without TOTP.
        (
            json!({"token": token, "step": "submit", "totp": "123456"}).to_string(),
            400,
        ),
    ];
    for (body, status) in cases {
        let reply = r.page(&body);
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert!(reply.error().len() < 200);
        assert!(reply.events.is_empty() && reply.rest.is_empty(), "{body}");
    }
    // A garbage assertion after "info": refused, nothing signed.
    r.info(&mut alice, &token);
    let reply = r.page_json(
        &mut alice,
        json!({"token": token, "step": "submit", "assertion": {"id": "x"}}),
    );
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(r.signatures(), 0);
    // After all that, the request still works.
    let info = r.info(&mut alice, &token);
    let assertion = dev.approve(&passkey_options(&info)).unwrap();
    assert_eq!(
        r.page_json(&mut alice, submit_assertion(&token, &assertion))
            .status,
        200
    );
    assert_eq!(r.signatures(), 1);
}

#[test]
fn passkey_registration_refuses_bad_credentials_and_can_be_retried() {
    let mut r = rig();
    let mut alice = r.alice();
    let token = passkey_command_token(&mut r, &mut alice);
    let revision = alice.revision;
    // Submitting before "info": no ceremony.
    let mut dev = Device::new();
    let reply = r.page_json(
        &mut alice,
        json!({"token": token, "step": "submit", "credential": {}}),
    );
    assert_eq!(reply.status, 409, "{}", reply.body);
    // No credential.
    let reply = r.page_json(&mut alice, json!({"token": token, "step": "submit"}));
    assert_eq!(reply.status, 400);
    // From another origin.
    let info = r.info(&mut alice, &token);
    let mut phished = Device::new();
    phished.origin = "https://evil.localhost:8443".parse().unwrap();
    let credential = phished.register(&passkey_options(&info)).unwrap();
    let reply = r.page_json(
        &mut alice,
        json!({"token": token, "step": "submit",
               "credential": serde_json::from_str::<Value>(&credential).unwrap()}),
    );
    assert_eq!(reply.status, 403, "{}", reply.body);
    // A device that cannot verify its user, with the request downgraded.
    let info = r.info(&mut alice, &token);
    let mut weak = Device::with(None, false, false);
    assert!(weak.register(&passkey_options(&info)).is_err());
    let mut downgraded = info["passkey"].clone();
    downgraded["publicKey"]["authenticatorSelection"]["userVerification"] = json!("discouraged");
    let credential = weak.register(&downgraded.to_string()).unwrap();
    let reply = r.page_json(
        &mut alice,
        json!({"token": token, "step": "submit",
               "credential": serde_json::from_str::<Value>(&credential).unwrap()}),
    );
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(alice.revision, revision, "nothing was stored");
    assert!(r.status(&mut alice).contains("Passkeys: 0"));
    // Then the real device, on the same link.
    register_passkey(&mut r, &mut alice, &mut dev, &token);
    assert!(r.status(&mut alice).contains("Passkeys: 1"));
}

// ---------------------------------------------------------------------------------------
// 7. Export.

#[test]
fn an_export_goes_only_to_the_browser_after_the_factor() {
    let mut r = rig();
    let mut alice = r.alice();
    let mut phone = enrol(&mut r, &mut alice);
    let shown = r.export(&alice);
    assert!(shown
        .text
        .starts_with("<b>Custos: export a private key</b>"));
    assert!(shown
        .text
        .contains(&bs58::encode(alice.wallet.pubkey).into_string()));
    let (text, token) = r.approve_then_wait(&alice, &shown);
    assert!(text.contains("Open the export page"), "{text}");
    let token = token.expect("the export page button");

    let info = r.info(&mut alice, &token);
    assert_eq!(info["kind"], "export");
    assert_eq!(info["totp"], true);
    assert_eq!(info["passkey"], Value::Null);
    assert_eq!(info["confirmation_id"], json!(shown.id));
    assert_eq!(
        info["wallet"],
        json!(bs58::encode(alice.wallet.pubkey).into_string())
    );

    let browser = Browser::new();
    // Bad browser keys: refused before the factor is looked at (nothing counted).
    let mut low_order = [0u8; 32];
    low_order[0] = 1;
    for bad in [
        "".to_owned(),
        "abc".to_owned(),
        URL_SAFE_NO_PAD.encode([0u8; 32]),
        URL_SAFE_NO_PAD.encode(low_order),
        URL_SAFE_NO_PAD.encode([7u8; 33]),
        format!("{}=", browser.recipient()),
    ] {
        let reply = r.page_json(
            &mut alice,
            submit_export(&token, Some(&bad), Some(&phone.wrong_code())),
        );
        assert_eq!(reply.status, 400, "{bad:?}: {}", reply.body);
        assert!(
            reply.error().starts_with("bad browser key"),
            "{}",
            reply.body
        );
        assert!(reply.events.is_empty());
    }
    // No key at all.
    let reply = r.page_json(&mut alice, submit_export(&token, None, None));
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error(), "missing the browser's public key");
    // No factor.
    let reply = r.page_json(
        &mut alice,
        submit_export(&token, Some(&browser.recipient()), None),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error(), "this request needs your second factor");
    // A wrong code: 403, counted.
    let reply = r.page_json(
        &mut alice,
        submit_export(
            &token,
            Some(&browser.recipient()),
            Some(&phone.wrong_code()),
        ),
    );
    assert_eq!(reply.status, 403);
    assert_eq!(reply.events.len(), 1);
    // A code typed in the chat does not answer an export.
    let (msgs, events) = r.code(&mut alice, &phone.wrong_code());
    assert!(events.is_empty());
    assert!(notice(&msgs, ALICE_TG).contains("Nothing is waiting"));

    // The challenge still works: the right code and a good key.
    let reply = r.page_json(
        &mut alice,
        submit_export(&token, Some(&browser.recipient()), Some(&phone.next_code())),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["ok"], true);
    let bundle = &reply.body["bundle"];
    let seed = browser
        .open(bundle, &alice.wallet.pubkey, &shown.id)
        .expect("the bundle opens in the browser that asked");
    assert_eq!(
        ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes(),
        alice.wallet.pubkey
    );
    // It opens nowhere else: not with another browser's key, nor bound to another
    // confirmation or wallet.
    assert!(Browser::new()
        .open(bundle, &alice.wallet.pubkey, &shown.id)
        .is_none());
    let mut other_id = hex::decode(&shown.id).unwrap();
    other_id[0] ^= 1;
    assert!(browser
        .open(bundle, &alice.wallet.pubkey, &hex::encode(other_id))
        .is_none());
    assert!(browser.open(bundle, &FOREIGN, &shown.id).is_none());

    // The wallet record comes back flagged as exported, for the bridge to store.
    let Decision::Exported {
        record: new_record,
        flags,
    } = decision(&reply.events, &shown)
    else {
        panic!("{:?}", reply.events)
    };
    let rec = record::authenticate(&r.keys, new_record).unwrap();
    assert_ne!(rec.header.flags & record::FLAG_EXPORTED, 0);
    assert_eq!(*flags, rec.header.flags);
    assert_eq!(rec.header.pubkey, alice.wallet.pubkey);
    assert_eq!(rec.header.user_id, "alice");
    assert_eq!(rec.header.revision, 2);
    assert_eq!(
        record::authenticate(&r.keys, &alice.wallet.record)
            .unwrap()
            .header
            .flags
            & record::FLAG_EXPORTED,
        0
    );
    assert!(
        matches!(&reply.rest[..], [ToPool::Edit { text, button: None, .. }]
        if text.contains("<b>Exported</b> to your browser"))
    );
    // The bundle never reaches the chat.
    let bundle_ct = reply.body["bundle"]["ciphertext"].as_str().unwrap();
    assert!(!format!("{:?}", reply.rest).contains(bundle_ct));
    // The page link is spent.
    let reply = r.page_json(
        &mut alice,
        submit_export(
            &token,
            Some(&browser.recipient()),
            Some(&phone.wrong_code()),
        ),
    );
    assert_eq!(reply.status, 404);
    assert_eq!(r.signatures(), 0);
}

#[test]
fn an_export_without_a_factor_needs_only_approve_and_the_page() {
    let mut r = rig();
    let mut alice = r.alice();
    let shown = r.export(&alice);
    let (text, token) = r.approve_then_wait(&alice, &shown);
    assert!(!text.contains("second factor"), "{text}");
    let token = token.unwrap();
    let info = r.info(&mut alice, &token);
    assert_eq!(
        (&info["kind"], &info["totp"]),
        (&json!("export"), &json!(false))
    );
    let browser = Browser::new();
    let reply = r.page_json(
        &mut alice,
        submit_export(&token, Some(&browser.recipient()), None),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let seed = browser
        .open(&reply.body["bundle"], &alice.wallet.pubkey, &shown.id)
        .unwrap();
    assert_eq!(
        ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes(),
        alice.wallet.pubkey
    );
    assert!(matches!(
        decision(&reply.events, &shown),
        Decision::Exported { .. }
    ));
}

#[test]
fn a_rejected_export_exports_nothing() {
    let mut r = rig();
    let alice = r.alice();
    let shown = r.export(&alice);
    let (msgs, events) = r.relay(press(&shown.reject, ALICE_TG, shown.message_id));
    assert_eq!(decision(&events, &shown), &Decision::Rejected);
    assert!(msgs.iter().all(|m| !matches!(
        m,
        ToPool::Edit {
            button: Some(_),
            ..
        }
    )));
}

#[test]
fn without_a_page_there_are_no_passkeys_or_exports() {
    let mut r = rig_with(Opts {
        page: false,
        ..Opts::default()
    });
    let mut alice = r.alice();
    let (msgs, events) = r.command(&mut alice, "/passkey");
    assert!(events.is_empty());
    assert!(notice(&msgs, ALICE_TG).contains("Passkeys are not available"));
    match r.svc.handle(SignerRequest::Export(export_request(&alice))) {
        SignerResponse::Error(e) => {
            assert_eq!(e.kind, ErrorKind::FailedPrecondition);
            assert!(e.message.contains("Custos page"), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
    // TOTP still works without the page.
    let mut phone = enrol(&mut r, &mut alice);
    let shown = r.withdrawal(&alice);
    let (_, token) = r.approve_then_wait(&alice, &shown);
    assert!(token.is_none());
    let (_, events) = r.code(&mut alice, &phone.next_code());
    assert_signed(&events, &shown, &withdrawal(&alice));
}

// ---------------------------------------------------------------------------------------
// 8. Changing factors needs the existing one.

#[test]
fn adding_a_passkey_with_totp_on_needs_the_code_first() {
    let mut r = rig();
    let mut alice = r.alice();
    let mut phone = enrol(&mut r, &mut alice);
    let (msgs, events) = r.command(&mut alice, "/passkey");
    assert!(events.is_empty());
    let text = notice(&msgs, ALICE_TG);
    assert!(
        text.contains("To add a passkey, reply with the 6-digit code"),
        "{text}"
    );
    // A wrong code: no registration link.
    let (msgs, events) = r.code(&mut alice, &phone.wrong_code());
    assert_eq!(events.len(), 1);
    assert!(notice(&msgs, ALICE_TG).contains("Code refused"));
    // The right code: the registration link.
    let (msgs, events) = r.code(&mut alice, &phone.next_code());
    assert_eq!(events.len(), 1, "the used step is stored");
    let token = match &msgs[..] {
        [ToPool::Notice {
            button: Some(b), ..
        }] => token_of(&b.url),
        other => panic!("{other:?}"),
    };
    let mut dev = Device::new();
    register_passkey(&mut r, &mut alice, &mut dev, &token);
    let status = r.status(&mut alice);
    assert!(status.contains("Authenticator app: on") && status.contains("Passkeys: 1"));

    // With both, a security change offers both; the passkey on the page does it, and
    // removing a factor that is not the last one is immediate.
    let (msgs, events) = r.command(&mut alice, "/remove_totp");
    assert!(events.is_empty());
    let token = match &msgs[..] {
        [ToPool::Notice {
            text,
            button: Some(b),
            ..
        }] => {
            assert!(text.contains("or confirm with your passkey"), "{text}");
            token_of(&b.url)
        }
        other => panic!("{other:?}"),
    };
    let info = r.info(&mut alice, &token);
    assert_eq!(info["kind"], "approve");
    assert_eq!(info["title"], "Confirm a security change");
    assert_eq!(info["confirmation_id"], Value::Null);
    assert_eq!(info["totp"], true);
    let assertion = dev.approve(&passkey_options(&info)).unwrap();
    let reply = r.page_json(&mut alice, submit_assertion(&token, &assertion));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(!reply.events.is_empty());
    assert_eq!(
        notice(&reply.rest, ALICE_TG),
        "Your authenticator app has been removed."
    );
    let status = r.status(&mut alice);
    assert!(status.contains("Authenticator app: off") && status.contains("Passkeys: 1"));
    // The old codes no longer do anything: with only a passkey, a code is refused.
    let shown = r.withdrawal(&alice);
    r.approve_then_wait(&alice, &shown);
    let (msgs, _) = r.code(&mut alice, &phone.next_code());
    assert!(notice(&msgs, ALICE_TG).contains("no authenticator app is set up"));
    assert_eq!(r.signatures(), 0);
}

#[test]
fn removing_the_last_factor_waits_and_can_be_cancelled() {
    let mut r = rig();
    let mut alice = r.alice();
    let mut phone = enrol(&mut r, &mut alice);
    let (msgs, events) = r.command(&mut alice, "/remove_totp");
    assert!(events.is_empty());
    assert!(notice(&msgs, ALICE_TG).contains("To remove your authenticator app"));
    let (msgs, events) = r.code(&mut alice, &phone.next_code());
    assert_eq!(
        events.len(),
        2,
        "the used step, then the schedule: {events:?}"
    );
    let text = notice(&msgs, ALICE_TG);
    assert!(
        text.contains("will be removed at") && text.contains(" UTC"),
        "{text}"
    );
    assert!(text.contains("/cancel_removal"));
    let status = r.status(&mut alice);
    assert!(
        status.contains("Authenticator app: on")
            && status.contains("Removal of your authenticator app scheduled for"),
        "{status}"
    );
    // Nothing is due yet; the factor still guards withdrawals.
    assert_eq!(r.tick(), (Vec::new(), Vec::new()));
    let shown = r.withdrawal(&alice);
    r.approve_then_wait(&alice, &shown);
    let (_, events) = r.code(&mut alice, &phone.next_code());
    assert_signed(&events, &shown, &withdrawal(&alice));

    // Cancelled: no factor needed to keep protection.
    let (msgs, events) = r.command(&mut alice, "/cancel_removal");
    assert_eq!(events.len(), 1);
    assert_eq!(
        notice(&msgs, ALICE_TG),
        "✅ The scheduled removal was cancelled."
    );
    assert!(!r.status(&mut alice).contains("scheduled"));
    let (msgs, events) = r.command(&mut alice, "/cancel_removal");
    assert!(events.is_empty());
    assert_eq!(notice(&msgs, ALICE_TG), "No removal is scheduled.");
}

#[test]
fn a_scheduled_removal_applies_after_its_delay() {
    let mut r = rig_with(Opts {
        removal_delay: Duration::from_secs(1),
        ..Opts::default()
    });
    let mut alice = r.alice();
    let mut phone = enrol(&mut r, &mut alice);
    r.command(&mut alice, "/remove_totp");
    let (msgs, _) = r.code(&mut alice, &phone.next_code());
    assert!(notice(&msgs, ALICE_TG).contains("will be removed at"));
    // Due within two seconds (Unix seconds, rounded down).
    let mut removed = None;
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(100));
        let (msgs, events) = r.tick();
        if !msgs.is_empty() {
            removed = Some((msgs, events));
            break;
        }
    }
    let (msgs, events) = removed.expect("removed within 3 s");
    assert_eq!(
        notice(&msgs, ALICE_TG),
        "Your authenticator app has been removed."
    );
    assert_eq!(alice.absorb(&events), 1);
    let rec = security::authenticate(&r.keys, &alice.record).unwrap();
    assert_eq!(rec.flags, 0);
    assert!(rec.secrets.is_none());
    assert!(r.status(&mut alice).contains("Authenticator app: off"));
    assert_eq!(r.tick(), (Vec::new(), Vec::new()));
    // Approve alone signs again.
    let shown = r.withdrawal(&alice);
    let (_, events) = r.approve(&alice, &shown);
    assert_signed(&events, &shown, &withdrawal(&alice));
}

#[test]
fn always_on_sends_every_signature_to_confirmation_and_off_needs_the_code() {
    let mut r = rig();
    let mut alice = r.alice();
    let own = r.wallet("alice");
    let to_own = sign_request(
        &alice.wallet,
        vec![own.record.clone()],
        transfer(&alice.wallet.pubkey, &own.pubkey, 5),
        &alice.record,
    );
    // An own-wallet transfer signs at once.
    assert!(matches!(
        r.sign(&to_own),
        SignerResponse::Sign(SignOutcome::Signed { .. })
    ));
    let (msgs, events) = r.command(&mut alice, "/always_on");
    assert!(events.is_empty());
    assert!(notice(&msgs, ALICE_TG).contains("Set up a second factor first"));
    let mut phone = enrol(&mut r, &mut alice);
    let (msgs, events) = r.command(&mut alice, "/always_on");
    assert_eq!(events.len(), 1);
    assert!(notice(&msgs, ALICE_TG).contains("Every signature now needs"));
    assert!(r
        .status(&mut alice)
        .contains("Second factor for every signature: yes"));
    assert_eq!(
        security::authenticate(&r.keys, &alice.record)
            .unwrap()
            .flags,
        3
    );

    // Now it asks, and Approve needs the code.
    let to_own = SignRequest {
        security_record: Some(alice.record.clone()),
        ..to_own
    };
    match r.sign(&to_own) {
        SignerResponse::Sign(SignOutcome::Pending { reasons, .. }) => {
            assert!(
                reasons.iter().any(|x| x.contains("every signature")),
                "{reasons:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    let shown = r.pending(&to_own);
    r.approve_then_wait(&alice, &shown);
    let (_, events) = r.code(&mut alice, &phone.next_code());
    assert_signed(&events, &shown, &to_own);

    // The setting survives a restart (it is in the record's flags).
    r.restart();
    assert_eq!(r.load(vec![alice.record.clone()]).loaded, 1);
    assert!(matches!(
        r.sign(&to_own),
        SignerResponse::Sign(SignOutcome::Pending { .. })
    ));

    // Turning it off loosens protection: it needs the code.
    let (msgs, events) = r.command(&mut alice, "/always_off");
    assert!(events.is_empty());
    assert!(notice(&msgs, ALICE_TG).contains("To stop requiring your second factor"));
    assert!(matches!(
        r.sign(&to_own),
        SignerResponse::Sign(SignOutcome::Pending { .. })
    ));
    let (msgs, events) = r.code(&mut alice, &phone.next_code());
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(notice(&msgs, ALICE_TG).contains("Only withdrawals, exports"));
    assert_eq!(
        security::authenticate(&r.keys, &alice.record)
            .unwrap()
            .flags,
        1
    );
    assert!(matches!(
        r.sign(&to_own),
        SignerResponse::Sign(SignOutcome::Signed { .. })
    ));
    let (msgs, events) = r.command(&mut alice, "/always_off");
    assert!(events.is_empty());
    assert!(notice(&msgs, ALICE_TG).contains("is not required for every signature"));
}

// ---------------------------------------------------------------------------------------
// 9. Who may talk to the bot.

#[test]
fn unlinked_users_and_group_chats_get_nothing() {
    let mut r = rig();
    let mut alice = r.alice();
    let mut phone = enrol(&mut r, &mut alice);
    let shown = r.withdrawal(&alice);
    r.approve_then_wait(&alice, &shown);
    let code = phone.next_code();

    // Someone not linked: the not-linked notice, for commands and codes alike; their
    // code is not deleted, and it does not answer Alice's request.
    for text in ["/security", "/totp", code.as_str()] {
        let (msgs, events) = r.relay(ToSigner::Text(TextMessage {
            from_id: 6_000_002,
            chat_id: 6_000_002,
            message_id: 1,
            text: SecretString::new(text.into()),
        }));
        assert!(events.is_empty());
        assert!(
            notice(&msgs, 6_000_002).contains("not linked to Custos"),
            "{text}"
        );
    }
    // Alice, in a group chat: ignored entirely (not even deleted there).
    for text in ["/security", "/remove_totp", code.as_str()] {
        let (msgs, events) = r.relay(ToSigner::Text(TextMessage {
            from_id: ALICE_TG,
            chat_id: -1_001_234,
            message_id: 2,
            text: SecretString::new(text.into()),
        }));
        assert!(msgs.is_empty() && events.is_empty(), "{text}");
    }
    assert_eq!(r.signatures(), 0);
    // An unknown command.
    let (msgs, events) = r.command(&mut alice, "/frobnicate");
    assert!(events.is_empty());
    assert!(notice(&msgs, ALICE_TG).starts_with("Unknown command"));
    // The code still works for Alice in her own chat.
    let (_, events) = r.code(&mut alice, &code);
    assert_signed(&events, &shown, &withdrawal(&alice));
}

// ---------------------------------------------------------------------------------------
// Races: set-ups begun before a factor existed, and late page requests.

#[test]
fn a_totp_set_up_begun_before_a_passkey_was_added_cannot_finish_without_it() {
    let mut r = rig();
    let mut alice = r.alice();
    // Someone with access to the chat (no factor yet) starts a set-up: they see its
    // secret. Then the owner adds a passkey.
    let (msgs, _) = r.command(&mut alice, "/totp");
    let mut thief = read_enrolment(&alice, &msgs);
    let mut dev = Device::new();
    let token = passkey_command_token(&mut r, &mut alice);
    register_passkey(&mut r, &mut alice, &mut dev, &token);
    // Finishing the old set-up would add a factor without the passkey: refused.
    let revision = alice.revision;
    let (msgs, events) = r.code(&mut alice, &thief.next_code());
    assert!(events.is_empty(), "{events:?}");
    assert!(
        notice(&msgs, ALICE_TG).contains("send /totp again"),
        "{msgs:?}"
    );
    assert_eq!(alice.revision, revision);
    assert!(r.status(&mut alice).contains("Authenticator app: off"));
    // A withdrawal still needs the passkey; the thief's code does nothing.
    let shown = r.withdrawal(&alice);
    let (_, token) = r.approve_then_wait(&alice, &shown);
    assert!(token.is_some());
    let (msgs, _) = r.code(&mut alice, &thief.next_code());
    assert!(notice(&msgs, ALICE_TG).contains("no authenticator app is set up"));
    assert_eq!(r.signatures(), 0);
}

#[test]
fn a_passkey_link_issued_before_totp_was_enrolled_cannot_add_a_passkey() {
    let mut r = rig();
    let mut alice = r.alice();
    // A registration link issued while there is no factor; then TOTP goes on.
    let token = passkey_command_token(&mut r, &mut alice);
    enrol(&mut r, &mut alice);
    let reply = r.page_json(&mut alice, json!({"token": token, "step": "info"}));
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert!(
        reply.error().contains("send /passkey again"),
        "{}",
        reply.body
    );
    // The link is spent.
    let reply = r.page_json(&mut alice, json!({"token": token, "step": "info"}));
    assert_eq!(reply.status, 404);

    // Even with the ceremony begun (and answered) before the enrolment.
    let mut bob = r.user("bob", 7_000_003);
    let token = passkey_command_token(&mut r, &mut bob);
    let info = r.info(&mut bob, &token);
    let mut dev = Device::new();
    let credential = dev.register(&passkey_options(&info)).unwrap();
    let mut bob_phone = enrol(&mut r, &mut bob);
    let revision = bob.revision;
    let reply = r.page_json(
        &mut bob,
        json!({"token": token, "step": "submit",
               "credential": serde_json::from_str::<Value>(&credential).unwrap()}),
    );
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert!(reply.events.is_empty() && reply.rest.is_empty());
    assert_eq!(bob.revision, revision);
    assert!(r.status(&mut bob).contains("Passkeys: 0"));

    // The way that works: /passkey, now behind the code.
    let (msgs, _) = r.command(&mut bob, "/passkey");
    assert!(notice(&msgs, 7_000_003).contains("To add a passkey"));
    let (msgs, _) = r.code(&mut bob, &bob_phone.next_code());
    let token = match &msgs[..] {
        [ToPool::Notice {
            button: Some(b), ..
        }] => token_of(&b.url),
        other => panic!("{other:?}"),
    };
    register_passkey(&mut r, &mut bob, &mut dev, &token);
}

#[test]
fn a_page_request_after_its_expiry_is_refused_even_before_the_tick() {
    let mut r = rig_with(Opts {
        expiry: Duration::from_millis(400),
        ..Opts::default()
    });
    let mut alice = r.alice();
    let shown = r.export(&alice);
    let (_, token) = r.approve_then_wait(&alice, &shown);
    let token = token.unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let browser = Browser::new();
    for body in [
        json!({"token": token, "step": "info"}),
        submit_export(&token, Some(&browser.recipient()), None),
    ] {
        let reply = r.page_json(&mut alice, body);
        assert_eq!(reply.status, 410, "{}", reply.body);
        assert!(reply.error().contains("expired"), "{}", reply.body);
        assert!(reply.events.is_empty() && reply.rest.is_empty());
    }
    // The tick reports it.
    let (_, events) = r.tick();
    assert_eq!(decision(&events, &shown), &Decision::Expired);
}

#[test]
fn replacing_the_authenticator_app_needs_the_old_code_and_retires_it() {
    let mut r = rig();
    let mut alice = r.alice();
    let mut old = enrol(&mut r, &mut alice);
    let (msgs, events) = r.command(&mut alice, "/totp");
    assert!(events.is_empty());
    assert!(notice(&msgs, ALICE_TG).contains("To set up a new authenticator app"));
    let (msgs, _) = r.code(&mut alice, &old.next_code());
    let mut new = read_enrolment(&alice, &msgs);
    let (msgs, events) = r.code(&mut alice, &new.next_code());
    assert_eq!(events.len(), 1);
    assert!(notice(&msgs, ALICE_TG).contains("the old one no longer works"));
    // The old app's codes and recovery codes are refused; the new ones work.
    let shown = r.withdrawal(&alice);
    r.approve_then_wait(&alice, &shown);
    let (msgs, _) = r.code(&mut alice, &old.next_code());
    assert!(notice(&msgs, ALICE_TG).contains("Code refused"));
    let (msgs, _) = r.code(&mut alice, &old.recovery[0]);
    assert!(notice(&msgs, ALICE_TG).contains("wrong recovery code"));
    assert_eq!(r.signatures(), 0);
    let (_, events) = r.code(&mut alice, &new.next_code());
    assert_signed(&events, &shown, &withdrawal(&alice));
}

#[test]
fn removing_the_only_passkey_is_confirmed_with_it_and_waits() {
    let mut r = rig();
    let mut alice = r.alice();
    let mut dev = Device::new();
    let token = passkey_command_token(&mut r, &mut alice);
    register_passkey(&mut r, &mut alice, &mut dev, &token);
    let (msgs, events) = r.command(&mut alice, "/remove_passkeys");
    assert!(events.is_empty());
    let token = match &msgs[..] {
        [ToPool::Notice {
            text,
            button: Some(b),
            ..
        }] => {
            assert!(text.contains("To remove your passkeys, confirm with your passkey"));
            token_of(&b.url)
        }
        other => panic!("{other:?}"),
    };
    // A code cannot confirm it (there is no authenticator app).
    let (msgs, _) = r.code(&mut alice, "123456");
    assert!(notice(&msgs, ALICE_TG).contains("no authenticator app is set up"));
    let info = r.info(&mut alice, &token);
    let assertion = dev.approve(&passkey_options(&info)).unwrap();
    let reply = r.page_json(&mut alice, submit_assertion(&token, &assertion));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(notice(&reply.rest, ALICE_TG).contains("Your passkeys will be removed at"));
    assert!(r
        .status(&mut alice)
        .contains("Removal of your passkeys scheduled for"));
    // Cancelled by the owner: still there.
    r.command(&mut alice, "/cancel_removal");
    assert!(r.status(&mut alice).contains("Passkeys: 1"));
    let (msgs, _) = r.command(&mut alice, "/remove_totp");
    assert_eq!(notice(&msgs, ALICE_TG), "No authenticator app is set up.");
}
