//! Second factors through real processes: `custos serve` against the fake Bot API over
//! HTTPS, the fake's users typing into the bot chat, an authenticator app (totp-rs),
//! a real browser (headless Chromium with a WebAuthn virtual authenticator) on the
//! Custos page served by the pool, and litesvm as the judge of what was signed.

mod common;

use common::browser::Browser;
use common::flow::{
    button_url_once_edited, enrol_totp, foreign, free_port, last_id, notice, say, unix_now, wait,
    Flow,
};
use common::{b58, b64, transfer_tx, unb64, Svm};
use custos_telegram_fake::ChatMessage;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The URL of the button labelled `label` on a message.
fn url_button(m: &ChatMessage, label: &str) -> String {
    m.buttons()
        .into_iter()
        .find(|b| b.text.contains(label))
        .and_then(|b| b.url)
        .unwrap_or_else(|| panic!("no {label} URL button in {:?}", m.buttons()))
}

#[test]
fn totp_in_the_bot_chat_guards_withdrawals_and_a_stolen_account_signs_nothing() {
    let flow = Flow::start(&["--confirm-expiry", "15"]);
    let (wallet, alice) = flow.linked_user("alice", "Alice");
    let (totp, step) = enrol_totp(&flow, alice);
    let mark = last_id(&flow, alice);
    say(&flow, alice, "/security");
    notice(&flow, alice, mark, "Authenticator app: on");

    let mut svm = Svm::start();
    svm.airdrop(&wallet, 10_000_000_000);
    let dest = foreign();

    // A withdrawal: Approve alone does not sign.
    let tx = transfer_tx(&b58(&wallet), &dest, 1_000_000_000, &svm.blockhash());
    let (id, m) = flow.approve_until_factor(alice, &wallet, &tx, 0);
    let (code, v) = flow.await_decision(&id, 1);
    assert_eq!((code, v["status"].as_str()), (5, Some("pending")), "{v}");
    // A wrong code is refused; the code of the next step (the enrolment used this
    // one's) signs.
    let mark = last_id(&flow, alice);
    say(&flow, alice, "123-456");
    notice(&flow, alice, mark, "Code refused");
    let next = totp.generate((step + 1) * 30).to_string();
    say(&flow, alice, &next);
    let (code, v) = flow.await_decision(&id, 30);
    assert_eq!((code, v["status"].as_str()), (0, Some("approved")), "{v}");
    let sent = svm.send(&b64(&unb64(v["transaction"].as_str().unwrap())));
    assert_eq!(sent["ok"], true, "litesvm refused: {sent}");
    assert_eq!(
        svm.balance(&bs58::encode(dest).into_string()),
        1_000_000_000
    );

    // Telegram account stolen: the thief presses Approve, and has the last code seen
    // in the chat, but not the authenticator. Nothing is signed; it expires.
    let tx2 = transfer_tx(&b58(&wallet), &dest, 2_000_000_000, &svm.blockhash());
    let (id2, m2) = flow.approve_until_factor(alice, &wallet, &tx2, m.message_id);
    let mark = last_id(&flow, alice);
    say(&flow, alice, &next);
    notice(&flow, alice, mark, "already used");
    let (code, v) = flow.await_decision(&id2, 60);
    assert_eq!((code, v["status"].as_str()), (4, Some("expired")), "{v}");
    assert!(v.get("transaction").is_none(), "{v}");
    wait("the expiry edit", Duration::from_secs(10), || {
        flow.message(alice, m2.message_id)
            .text
            .is_some_and(|t| t.contains("Expired waiting for the second factor"))
    });
    assert_eq!(
        svm.balance(&bs58::encode(dest).into_string()),
        1_000_000_000
    );

    // Every code typed into the chat was deleted, and none reached the log.
    let typed: Vec<ChatMessage> = flow
        .fake
        .messages(alice)
        .unwrap()
        .into_iter()
        .filter(|m| !m.from_bot && !m.text.as_deref().unwrap_or("/").starts_with('/'))
        .collect();
    assert!(typed.len() >= 4, "{typed:?}");
    assert!(typed.iter().all(|m| m.deleted), "{typed:?}");
    let log = flow.server.log_text();
    assert!(!log.contains(&next), "a code reached the log");
    assert!(
        !log.contains(&totp.secret().to_base32()),
        "the TOTP secret reached the log"
    );
}

/// Base64 SHA-256 of the page certificate's public key (the development certificate
/// in the data directory), for Chromium's `--ignore-certificate-errors-spki-list`.
fn page_spki(flow: &Flow) -> String {
    use base64::Engine;
    use rcgen::PublicKeyData;
    let key = std::fs::read_to_string(flow.dir.join("tls").join("server.key")).unwrap();
    let key = rcgen::KeyPair::from_pem(&key).unwrap();
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(key.subject_public_key_info()))
}

#[test]
fn passkeys_approve_withdrawals_and_keys_export_to_a_real_browser() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let origin = format!("https://localhost:{port}");
    let flow = Flow::start(&[
        "--page-listen",
        &listen,
        "--page-url",
        &origin,
        "--confirm-expiry",
        "120",
    ]);
    let (wallet, alice) = flow.linked_user("alice", "Alice");
    let mut browser = Browser::start(&page_spki(&flow));

    // 1. Register a passkey: /passkey in the chat gives a button to the page.
    let mark = last_id(&flow, alice);
    say(&flow, alice, "/passkey");
    let m = notice(&flow, alice, mark, "add a passkey");
    let url = url_button(&m, "Add a passkey");
    assert!(url.starts_with(&format!("{origin}/p/#")), "{url}");
    let r = browser.run(&url, None, "1-register-passkey");
    assert_eq!(r["state"], "done", "{r:#}");
    notice(&flow, alice, mark, "Passkey added");
    // The link was single use.
    let again = browser.run(&url, None, "1b-register-link-reused");
    assert_eq!(again["state"], "error", "{again:#}");

    // 2. A withdrawal: Approve in Telegram, then the passkey on the page.
    let mut svm = Svm::start();
    svm.airdrop(&wallet, 10_000_000_000);
    let dest = foreign();
    let tx = transfer_tx(&b58(&wallet), &dest, 1_500_000_000, &svm.blockhash());
    let mark = last_id(&flow, alice);
    let pending = flow.sign(&wallet, &tx);
    let id = pending["confirmation_id"].as_str().unwrap().to_owned();
    let m = flow.confirmation(alice, mark);
    flow.press(alice, &m, "Approve");
    let url = button_url_once_edited(&flow, alice, m.message_id, "passkey");
    let (code, _) = flow.await_decision(&id, 0);
    assert_eq!(code, 5, "signed before the passkey");
    let r = browser.run(&url, None, "2-approve-withdrawal");
    assert_eq!(r["state"], "done", "{r:#}");
    let (code, v) = flow.await_decision(&id, 30);
    assert_eq!((code, v["status"].as_str()), (0, Some("approved")), "{v}");
    let sent = svm.send(&b64(&unb64(v["transaction"].as_str().unwrap())));
    assert_eq!(sent["ok"], true, "litesvm refused: {sent}");
    assert_eq!(
        svm.balance(&bs58::encode(dest).into_string()),
        1_500_000_000
    );

    // 3. Export: Approve in Telegram, then the passkey on the page, which receives the
    // key encrypted to a key pair it made and decrypts it locally.
    // The withdrawal's message shows its outcome, with no button left.
    wait("the outcome edit", Duration::from_secs(10), || {
        flow.message(alice, m.message_id).buttons().is_empty()
    });
    let (xid, url) = flow.approve_export(alice, &wallet);
    let r = browser.run(&url, None, "3-export-key");
    assert_eq!(r["state"], "done", "{r:#}");
    let shown_public = r["result"]["publicKey"].as_str().unwrap();
    assert_eq!(shown_public, wallet);
    let secret = bs58::decode(r["result"]["secretKey"].as_str().unwrap())
        .into_vec()
        .unwrap();
    assert_eq!(secret.len(), 64);
    let seed: [u8; 32] = secret[..32].try_into().unwrap();
    let derived = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    assert_eq!(derived.to_bytes(), b58(&wallet), "the key does not match");
    assert_eq!(&secret[32..], &b58(&wallet));
    let (code, v) = flow.await_decision(&xid, 10);
    assert_eq!((code, v["status"].as_str()), (0, Some("exported")), "{v}");
    let w = flow
        .server
        .json(&["wallet", "get", &wallet, "--format", "json"]);
    assert_eq!(
        w["flags"].as_u64().unwrap() & 1,
        1,
        "not flagged exported: {w}"
    );
    // The export link is single use, and nothing secret reached the log.
    let again = browser.run(&url, None, "3b-export-link-reused");
    assert_eq!(again["state"], "error", "{again:#}");
    let log = flow.server.log_text();
    let secret_b58 = r["result"]["secretKey"].as_str().unwrap();
    assert!(
        !log.contains(secret_b58),
        "the exported key reached the log"
    );
    assert!(
        !log.contains(&url[url.find('#').unwrap() + 1..]),
        "a page token reached the log"
    );
}

#[test]
fn second_factors_and_their_lock_out_survive_a_restart() {
    let mut flow = Flow::start(&["--confirm-expiry", "60"]);
    let (wallet, alice) = flow.linked_user("alice", "Alice");
    let (totp, _) = enrol_totp(&flow, alice);
    // Five wrong codes for a security change lock the factor.
    let mark = last_id(&flow, alice);
    say(&flow, alice, "/remove_totp");
    notice(&flow, alice, mark, "remove your authenticator app");
    let now = unix_now();
    let wrong: Vec<String> = (0..100_000)
        .map(|n| format!("{:06}", n * 7 + 1))
        .filter(|c| (0..3).all(|d| totp.generate(now + d * 30 - 30).to_string() != *c))
        .take(5)
        .collect();
    for code in &wrong {
        let mark = last_id(&flow, alice);
        say(&flow, alice, code);
        notice(&flow, alice, mark, "Code refused");
    }

    // The restarted service loads the stored security record: still enrolled, still
    // locked, even for the right code.
    flow.restart();
    let mark = last_id(&flow, alice);
    say(&flow, alice, "/security");
    notice(&flow, alice, mark, "Authenticator app: on");
    let mut svm = Svm::start();
    svm.airdrop(&wallet, 10_000_000_000);
    let tx = transfer_tx(&b58(&wallet), &foreign(), 1_000_000_000, &svm.blockhash());
    let mark = last_id(&flow, alice);
    let (id, _) = flow.approve_until_factor(alice, &wallet, &tx, mark);
    let mark = last_id(&flow, alice);
    say(&flow, alice, &totp.generate(unix_now() + 30).to_string());
    notice(&flow, alice, mark, "locked until");
    let (code, v) = flow.await_decision(&id, 0);
    assert_eq!((code, v["status"].as_str()), (5, Some("pending")), "{v}");
}
