//! Fuzz target: the signer's handling of what the pool relays, through
//! `Service::handle(SignerRequest::FromPool(..))`.
//!
//! One service for the whole run (development seal in a temporary directory, view key,
//! Custos page, bot token) with one user linked through a real `/start` link. The first
//! input byte chooses the message; the pool's end of the channel (kept with the
//! service) seals it with its next counter:
//!
//! - `b % 4` 0 or 1: a text message from the linked user, the rest as (lossy UTF-8)
//!   text; commands such as `/passkey` open pages whose tokens the target keeps;
//! - 2: the same text from a Telegram account that is not linked;
//! - 3: a Custos page request, the rest as its body, where the first `TOKEN` becomes a
//!   live page token kept from an earlier reply (if there is one).
//!
//! Properties: the signer answers a `Relay` whose every message opens at the pool's end,
//! in order; what a chat message causes goes to that chat only, and never a page reply;
//! an unlinked account gets exactly the "not linked" notice; every security update is
//! the linked user's, authentic, and has a higher revision than the last; a page request
//! gets exactly one reply, with its request id, a documented status and a JSON body, and
//! no event (a valid WebAuthn response cannot happen by chance); without a live token the
//! status is 400 or 404.
#![no_main]

use custos_crypto::keys::RecordKeys;
use custos_crypto::seal::{DevSeal, Seal};
use custos_crypto::security;
use custos_ipc::channel::ChannelEnd;
use custos_ipc::pool::ViewKey;
use custos_ipc::signer::{CreateLink, SignerEvent, SignerRequest, SignerResponse};
use custos_ipc::telegram::{
    open_from_signer, seal_to_signer, SecretString, TextMessage, ToPool, ToSigner, MAX_PAGE_BODY,
};
use custos_signer::Service;
use libfuzzer_sys::fuzz_target;
use std::sync::{LazyLock, Mutex};
use zeroize::Zeroizing;

const VIEW_KEY: [u8; 32] = [5; 32];
const USER: &str = "fuzz-user";
const LINKED: u64 = 5_000_001;
const STRANGER: u64 = 7_000_003;
const PAGE_STATUSES: [u16; 8] = [200, 400, 403, 404, 409, 410, 429, 500];
/// Live page tokens kept (the newest).
const TOKENS_KEPT: usize = 8;

struct Rig {
    _dir: tempfile::TempDir,
    svc: Service,
    /// The service's record keys (the same development seal, opened again).
    keys: RecordKeys,
    pool: ChannelEnd,
    tokens: Vec<String>,
    revision: u32,
    next_request: u64,
    next_message: i64,
}

impl Rig {
    fn new() -> Rig {
        let dir = tempfile::tempdir().expect("temporary directory");
        let seal = DevSeal::in_data_dir(dir.path());
        let policy = Service::load_policy(dir.path()).expect("default policy");
        let svc = Service::start(&seal, policy)
            .expect("service")
            .with_view_key(ViewKey::new(VIEW_KEY))
            .with_page("https://localhost:8443")
            .expect("page origin")
            .with_bot_token(Some(Zeroizing::new(
                "123456:ABCdefGhIJKlmNoPQRsTUVwxyZ0123456789".into(),
            )));
        let keys = RecordKeys::derive(&seal.unseal_or_create().expect("same master key"));
        let mut rig = Rig {
            _dir: dir,
            svc,
            keys,
            pool: ChannelEnd::pool(&ViewKey::new(VIEW_KEY)),
            tokens: Vec::new(),
            revision: 0,
            next_request: 1,
            next_message: 1,
        };
        rig.link();
        rig
    }

    /// Links USER to LINKED through a `/start` link, as the tests do.
    fn link(&mut self) {
        let payload = match self.svc.handle(SignerRequest::CreateLink(CreateLink {
            user_id: USER.into(),
            security_record: None,
        })) {
            SignerResponse::LinkCreated(l) => l.start_payload,
            other => panic!("create_link: {other:?}"),
        };
        let (msgs, events) = self.send(ToSigner::Start {
            payload: SecretString::new(payload),
            from_id: LINKED,
            chat_id: LINKED as i64,
        });
        assert!(
            matches!(&msgs[..], [ToPool::Notice { chat_id, .. }] if *chat_id == LINKED as i64),
            "{msgs:?}"
        );
        match &events[..] {
            [SignerEvent::Linked {
                user_id,
                telegram_id,
                security_record,
            }] if user_id == USER && *telegram_id == LINKED => {
                self.revision = self.authentic(security_record).revision;
            }
            other => panic!("link: {other:?}"),
        }
    }

    /// The security record authenticates under the service's keys and is USER's.
    fn authentic(&self, record: &[u8]) -> security::SecurityRecord {
        let r = security::authenticate(&self.keys, record).expect("authentic security record");
        assert_eq!((r.user_id.as_str(), r.telegram_id), (USER, LINKED));
        r
    }

    /// Seals `msg` from the pool, hands it to the service, opens every reply.
    fn send(&mut self, msg: ToSigner) -> (Vec<ToPool>, Vec<SignerEvent>) {
        let sealed = seal_to_signer(&mut self.pool, &msg).expect("pool seals");
        let relay = match self.svc.handle(SignerRequest::FromPool(sealed)) {
            SignerResponse::Relay(r) => r,
            other => panic!("a message sealed by the pool was not relayed: {other:?}"),
        };
        let msgs: Vec<ToPool> = relay
            .to_pool
            .iter()
            .map(|s| open_from_signer(&mut self.pool, s).expect("the pool opens the reply"))
            .collect();
        for m in &msgs {
            let button = match m {
                ToPool::Notice { button, .. } | ToPool::Edit { button, .. } => button.as_ref(),
                _ => None,
            };
            if let Some(token) = button.and_then(|b| b.url.expose().split_once("/p/#")) {
                if self.tokens.len() == TOKENS_KEPT {
                    self.tokens.remove(0);
                }
                self.tokens.push(token.1.to_owned());
            }
        }
        (msgs, relay.events)
    }

    fn text(&mut self, from: u64, text: String) {
        let chat = from as i64;
        let message_id = self.next_message;
        self.next_message += 1;
        let (msgs, events) = self.send(ToSigner::Text(TextMessage {
            from_id: from,
            chat_id: chat,
            message_id,
            text: SecretString::new(text),
        }));
        for m in &msgs {
            match m {
                ToPool::Notice { chat_id, .. }
                | ToPool::SecretNotice { chat_id, .. }
                | ToPool::SendPhoto { chat_id, .. }
                | ToPool::Edit { chat_id, .. } => assert_eq!(*chat_id, chat, "{m:?}"),
                ToPool::DeleteMessage {
                    chat_id,
                    message_id: id,
                } => assert_eq!((*chat_id, *id), (chat, message_id)),
                other => panic!("a chat message caused {other:?}"),
            }
        }
        if from != LINKED {
            assert!(
                matches!(&msgs[..], [ToPool::Notice { button: None, .. }]) && events.is_empty(),
                "unlinked account: {msgs:?} {events:?}"
            );
            return;
        }
        for e in &events {
            match e {
                SignerEvent::SecurityUpdated {
                    user_id,
                    revision,
                    security_record,
                } => {
                    assert_eq!(user_id, USER);
                    assert!(*revision > self.revision, "revision went back: {e:?}");
                    assert_eq!(self.authentic(security_record).revision, *revision);
                    self.revision = *revision;
                }
                other => panic!("a chat message caused {other:?}"),
            }
        }
    }

    fn page(&mut self, selector: u8, mut body: String) {
        let live = !self.tokens.is_empty() && body.contains("TOKEN");
        if live {
            let token = &self.tokens[usize::from(selector) % self.tokens.len()];
            body = body.replacen("TOKEN", token, 1);
        }
        let request_id = self.next_request;
        self.next_request += 1;
        let (msgs, events) = self.send(ToSigner::Page {
            request_id,
            body: SecretString::new(body),
        });
        assert!(events.is_empty(), "a page request caused {events:?}");
        let [ToPool::PageReply {
            request_id: id,
            status,
            body,
        }] = &msgs[..]
        else {
            panic!("a page request got {msgs:?}");
        };
        assert_eq!(*id, request_id);
        assert!(PAGE_STATUSES.contains(status), "status {status}");
        if !live {
            assert!(
                matches!(status, 400 | 404),
                "status {status} without a live token"
            );
        }
        assert!(body.expose().len() <= MAX_PAGE_BODY);
        assert!(
            serde_json::from_str::<serde_json::Value>(body.expose()).is_ok(),
            "page reply is not JSON"
        );
    }
}

static RIG: LazyLock<Mutex<Rig>> = LazyLock::new(|| Mutex::new(Rig::new()));

fuzz_target!(|data: &[u8]| {
    let Some((&b, rest)) = data.split_first() else {
        return;
    };
    // A panic poisons the lock; libFuzzer stops at the first one anyway.
    let mut rig = RIG.lock().unwrap_or_else(|p| p.into_inner());
    let text = String::from_utf8_lossy(rest).into_owned();
    match b % 4 {
        0 | 1 => rig.text(LINKED, text),
        2 => rig.text(STRANGER, text),
        _ => rig.page(b >> 2, text),
    }
});
