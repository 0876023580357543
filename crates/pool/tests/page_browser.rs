//! The Custos page in a real browser: headless Chromium (driven by
//! `tests/browser/driver.mjs` with a virtual WebAuthn authenticator) against the pool's
//! page server, with a test signer that answers the page's API with the real passkey
//! ceremonies (`custos-passkey`) and the real key export (`custos_crypto::export`).
//!
//! It registers a passkey, approves with it (bound to a confirmation id and a transaction
//! hash), approves with a TOTP code, exports a seed and checks the page shows the matching
//! public and secret keys, and checks the failures (an unknown link, an authenticator that
//! does not verify the user). Screenshots go to `$CARGO_TARGET_DIR/browser-artifacts/`
//! (`target/browser-artifacts/` without it).
//!
//! Needs `/usr/bin/chromium` (or `$CHROMIUM`), `node` and `tests/browser/node_modules`:
//! `scripts/test.sh` installs them. Without them this test fails; it never skips.

use base64::Engine as _;
use custos_crypto::export::{seal_export, ExportContext, RecipientKey};
use custos_ipc::telegram::{SecretString, ToSigner};
use custos_passkey::{
    ApprovalBinding, AuthenticationState, PasskeyConfig, Passkeys, RegistrationState,
    StoredPasskey, Url, Uuid,
};
use custos_pool::page::{self, PageHub, PageOrigin};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpListener;
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

const TOTP_CODE: &str = "493827";
const APPROVE_ID: [u8; 16] = [0x11; 16];
const EXPORT_ID: [u8; 16] = [0x22; 16];
const NO_UV_ID: [u8; 16] = [0x33; 16];
const OTHER_ID: [u8; 16] = [0x55; 16];
const SEED: [u8; 32] = [7; 32];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let dir = target.join("browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Fails (never skips) when the browser, node or the driver's packages are missing.
fn require_tools() -> PathBuf {
    const HINT: &str = "run scripts/test.sh, which installs chromium, nodejs and npm and runs `npm ci` in tests/browser";
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "the page browser test needs Chromium at {chromium} (or $CHROMIUM): {HINT}"
    );
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "the page browser test needs node: {HINT}"
    );
    let driver = workspace_root().join("tests/browser");
    assert!(
        driver.join("node_modules/playwright-core").is_dir(),
        "the page browser test needs tests/browser/node_modules: {HINT}"
    );
    driver.join("driver.mjs")
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn wallet() -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(&SEED)
        .verifying_key()
        .to_bytes()
}

fn tx_hash(id: &[u8; 16]) -> [u8; 32] {
    sha256(&[b"transaction ".as_slice(), id].concat())
}

/// What a page token stands for in the test signer.
#[derive(Clone, Copy)]
enum Ticket {
    Register,
    Approve([u8; 16]),
    ApproveWithCode,
    Export([u8; 16]),
    /// An export whose bundle is made for another wallet than the page was told.
    ExportOtherWallet([u8; 16]),
}

/// Answers the page's API like the signer would, with the real ceremonies.
struct TestSigner {
    rp: Passkeys,
    tickets: HashMap<String, Ticket>,
    passkeys: Vec<StoredPasskey>,
    registering: HashMap<String, RegistrationState>,
    approving: HashMap<String, AuthenticationState>,
    /// What was accepted, for the test to check.
    log: Arc<Mutex<Vec<String>>>,
}

fn ok(body: Value) -> (u16, Value) {
    (200, body)
}

fn err(status: u16, e: impl std::fmt::Display) -> (u16, Value) {
    (status, json!({"ok": false, "error": e.to_string()}))
}

impl TestSigner {
    fn handle(&mut self, body: &str) -> (u16, Value) {
        let Ok(req) = serde_json::from_str::<Value>(body) else {
            return err(400, "malformed request");
        };
        let token = req["token"].as_str().unwrap_or_default().to_string();
        let Some(ticket) = self.tickets.get(&token).copied() else {
            return err(404, "this link is no longer valid");
        };
        match req["step"].as_str() {
            Some("info") => self.info(&token, ticket),
            Some("submit") => self.submit(&token, ticket, &req),
            _ => err(400, "malformed request"),
        }
    }

    fn info(&mut self, token: &str, ticket: Ticket) -> (u16, Value) {
        let b58 = |b: &[u8]| bs58::encode(b).into_string();
        match ticket {
            Ticket::Register => {
                let uuid = Uuid::from_bytes(sha256(b"alice")[..16].try_into().unwrap());
                let (options, state) = self
                    .rp
                    .begin_registration("alice", uuid, &self.passkeys)
                    .unwrap();
                self.registering.insert(token.into(), state);
                ok(json!({
                    "kind": "register", "title": "Add a passkey",
                    "text": "Register a passkey for alice.\nIt will guard withdrawals.",
                    "wallet": null, "confirmation_id": null, "totp": false,
                    "passkey": serde_json::from_str::<Value>(&options).unwrap(),
                    "expires_in_secs": 300,
                }))
            }
            Ticket::ApproveWithCode => ok(json!({
                "kind": "approve", "title": "Approve a transaction",
                "text": "Send 0.25 SOL from your wallet.",
                "wallet": b58(&wallet()), "confirmation_id": hex::encode([0x44; 16]),
                "totp": true, "passkey": null, "expires_in_secs": 300,
            })),
            Ticket::Approve(id) | Ticket::Export(id) | Ticket::ExportOtherWallet(id) => {
                let binding = ApprovalBinding {
                    confirmation_id: id,
                    transaction_hash: tx_hash(&id),
                };
                let (options, state) = self.rp.begin_approval(&self.passkeys, &binding).unwrap();
                self.approving.insert(token.into(), state);
                let export = !matches!(ticket, Ticket::Approve(_));
                ok(json!({
                    "kind": if export { "export" } else { "approve" },
                    "title": if export { "Export a private key" } else { "Approve a transaction" },
                    "text": if export { "Export the key of your wallet.\nAnyone with it controls the wallet." }
                            else { "Send 1.5 SOL\nto 9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin" },
                    "wallet": b58(&wallet()), "confirmation_id": hex::encode(id),
                    "totp": true,
                    "passkey": serde_json::from_str::<Value>(&options).unwrap(),
                    "expires_in_secs": 300,
                }))
            }
        }
    }

    fn submit(&mut self, token: &str, ticket: Ticket, req: &Value) -> (u16, Value) {
        let log = |s: String| self.log.lock().unwrap().push(s);
        match ticket {
            Ticket::Register => {
                let Some(state) = self.registering.remove(token) else {
                    return err(409, "registration was not started");
                };
                match self
                    .rp
                    .finish_registration(state, &req["credential"].to_string())
                {
                    Ok(p) => {
                        log(format!("registered {}", hex::encode(p.credential_id())));
                        self.passkeys.push(p);
                        ok(
                            json!({"ok": true, "message": "Passkey added. You can close this page."}),
                        )
                    }
                    Err(e) => err(403, format!("passkey refused: {e}")),
                }
            }
            Ticket::ApproveWithCode => {
                if req["totp"].as_str() == Some(TOTP_CODE) {
                    log(format!("code approved {token}"));
                    ok(json!({"ok": true, "message": "Confirmed with your code."}))
                } else {
                    err(403, "wrong code")
                }
            }
            Ticket::Approve(id) | Ticket::Export(id) | Ticket::ExportOtherWallet(id) => {
                let Some(state) = self.approving.remove(token) else {
                    return err(409, "the passkey step was not started on this page");
                };
                let binding = ApprovalBinding {
                    confirmation_id: id,
                    transaction_hash: tx_hash(&id),
                };
                let approved =
                    match self
                        .rp
                        .finish_approval(state, &binding, &req["assertion"].to_string())
                    {
                        Ok(a) => a,
                        Err(e) => return err(403, format!("passkey refused: {e}")),
                    };
                for p in &mut self.passkeys {
                    p.record_approval(&approved).unwrap();
                }
                log(format!(
                    "passkey approved {} by {}",
                    hex::encode(id),
                    hex::encode(&approved.credential_id)
                ));
                if matches!(ticket, Ticket::Approve(_)) {
                    return ok(
                        json!({"ok": true, "message": "Confirmed. You can close this page."}),
                    );
                }
                let recipient = match RecipientKey::from_base64url(
                    req["recipient"].as_str().unwrap_or_default(),
                ) {
                    Ok(r) => r,
                    Err(e) => return err(400, e),
                };
                let seed = match ticket {
                    Ticket::ExportOtherWallet(_) => [9u8; 32],
                    _ => SEED,
                };
                let context = ExportContext {
                    wallet: ed25519_dalek::SigningKey::from_bytes(&seed)
                        .verifying_key()
                        .to_bytes(),
                    confirmation_id: id,
                };
                let bundle = seal_export(&recipient, &context, &Zeroizing::new(seed)).unwrap();
                log(format!("exported {}", hex::encode(id)));
                ok(json!({
                    "ok": true, "message": "Key exported. It is shown below.",
                    "bundle": serde_json::from_str::<Value>(&bundle.to_json()).unwrap(),
                }))
            }
        }
    }
}

/// The driver process and its stdio.
struct Driver {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Driver {
    /// Starts the driver; `spki` is the certificate key Chromium is told to trust.
    async fn start(script: &Path, spki: Option<&str>) -> Self {
        let mut command = tokio::process::Command::new("node");
        command.arg(script);
        if let Some(spki) = spki {
            command.arg("--spki").arg(spki);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node could not be started: run scripts/test.sh");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut d = Self {
            child,
            stdin,
            lines,
        };
        let ready = d.read().await;
        assert_eq!(ready["ready"], true, "the driver did not start: {ready}");
        d
    }

    async fn read(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(90), self.lines.next_line())
            .await
            .expect("the browser driver did not answer in 90 s")
            .unwrap()
            .expect("the browser driver exited");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("driver said: {line}"))
    }

    async fn send_raw(&mut self, cmd: &Value) -> Value {
        self.stdin
            .write_all(format!("{cmd}\n").as_bytes())
            .await
            .unwrap();
        self.read().await
    }

    async fn send(&mut self, cmd: Value) -> Value {
        let answer = self.send_raw(&cmd).await;
        assert_eq!(answer["ok"], true, "driver command {cmd} failed: {answer}");
        answer
    }

    /// Runs the page at `token` and returns the driver's answer.
    async fn run(&mut self, origin: &str, token: &str, totp: Option<&str>) -> Value {
        let shots = artifacts_dir().join(format!("page-{token}"));
        let mut cmd = json!({
            "cmd": "run",
            "url": format!("{origin}/p/#{token}"),
            "shots": shots.to_str().unwrap(),
        });
        if let Some(code) = totp {
            cmd["totp"] = json!(code);
        }
        let answer = self.send(cmd).await;
        for shot in answer["shots"].as_array().unwrap() {
            let path = shot.as_str().unwrap();
            assert!(Path::new(path).is_file(), "no screenshot at {path}");
            println!("screenshot: {path}");
        }
        answer
    }

    async fn quit(mut self) {
        let _ = self.stdin.write_all(b"{\"cmd\":\"quit\"}\n").await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

fn expect_state(answer: &Value, state: &str) {
    assert_eq!(
        answer["state"], state,
        "page ended in another state: {answer:#}"
    );
    assert_eq!(answer["result"]["state"], state);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_approve_and_export_in_chromium() {
    let driver_script = require_tools();

    // The page server, with a certificate for localhost.
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let spki = base64::engine::general_purpose::STANDARD.encode(sha256(
        &rcgen::PublicKeyData::subject_public_key_info(&cert.signing_key),
    ));
    let dir = tempfile::tempdir().unwrap();
    let (cert_pem, key_pem) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!(
        "https://localhost:{}",
        listener.local_addr().unwrap().port()
    );
    let settings = page::PageSettings {
        listen: listener.local_addr().unwrap(),
        origin: origin.clone(),
        cert_pem,
        key_pem,
    };
    let (tx, mut to_signer) = mpsc::unbounded_channel();
    let hub = Arc::new(PageHub::new(move |m| {
        let _ = tx.send(m);
    }));
    let server = tokio::spawn(page::serve(
        listener,
        settings.tls_config().unwrap(),
        hub.clone(),
        PageOrigin::parse(&origin).unwrap(),
    ));

    // The test signer: the real ceremonies for rp id localhost and this origin.
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut signer = TestSigner {
        rp: Passkeys::new(PasskeyConfig {
            rp_id: "localhost".into(),
            rp_origin: Url::parse(&format!("{origin}/")).unwrap(),
            rp_name: "Custos".into(),
        })
        .unwrap(),
        tickets: HashMap::from([
            ("reg-1".to_string(), Ticket::Register),
            ("approve-1".into(), Ticket::Approve(APPROVE_ID)),
            ("code-1".into(), Ticket::ApproveWithCode),
            ("export-1".into(), Ticket::Export(EXPORT_ID)),
            ("approve-no-uv".into(), Ticket::Approve(NO_UV_ID)),
            ("export-other".into(), Ticket::ExportOtherWallet(OTHER_ID)),
        ]),
        passkeys: Vec::new(),
        registering: HashMap::new(),
        approving: HashMap::new(),
        log: log.clone(),
    };
    let signer_hub = hub.clone();
    let signer_task = tokio::spawn(async move {
        while let Some(m) = to_signer.recv().await {
            let ToSigner::Page { request_id, body } = m else {
                panic!("unexpected message")
            };
            let (status, reply) = signer.handle(body.expose());
            signer_hub.reply(request_id, status, SecretString::new(reply.to_string()));
        }
    });
    let logged = |needle: &str| log.lock().unwrap().iter().any(|l| l.contains(needle));

    // Without the certificate's key on Chromium's list the page does not even load: the
    // trust below is what makes the page a secure context (and WebAuthn available).
    let mut untrusting = Driver::start(&driver_script, None).await;
    let a = untrusting
        .send_raw(&json!({"cmd": "run", "url": format!("{origin}/p/#reg-1")}))
        .await;
    assert_eq!(a["ok"], false, "{a}");
    assert!(a["error"].as_str().unwrap().contains("ERR_CERT"), "{a}");
    untrusting.quit().await;

    let mut driver = Driver::start(&driver_script, Some(&spki)).await;

    // An unknown link: the page shows the signer's error.
    let a = driver.run(&origin, "no-such-token", None).await;
    expect_state(&a, "error");
    assert!(a["result"]["message"]
        .as_str()
        .unwrap()
        .contains("no longer valid"));

    // Register a passkey in the virtual authenticator.
    let a = driver.run(&origin, "reg-1", None).await;
    expect_state(&a, "done");
    assert_eq!(
        a["result"]["message"],
        "Passkey added. You can close this page."
    );
    assert!(logged("registered "));
    let creds = driver.send(json!({"cmd": "credentials"})).await;
    assert_eq!(creds["credentials"], 1);

    // Approve with it: the assertion is bound to this confirmation and transaction.
    let a = driver.run(&origin, "approve-1", None).await;
    expect_state(&a, "done");
    assert!(logged(&format!(
        "passkey approved {}",
        hex::encode(APPROVE_ID)
    )));

    // Approve with a TOTP code.
    let a = driver.run(&origin, "code-1", Some(TOTP_CODE)).await;
    expect_state(&a, "done");
    assert_eq!(a["result"]["message"], "Confirmed with your code.");
    assert!(logged("code approved code-1"));

    // Export: the page decrypts the bundle and shows the wallet's keys.
    let a = driver.run(&origin, "export-1", None).await;
    expect_state(&a, "done");
    assert!(logged(&format!("exported {}", hex::encode(EXPORT_ID))));
    let signing = ed25519_dalek::SigningKey::from_bytes(&SEED);
    assert_eq!(
        a["result"]["publicKey"],
        bs58::encode(signing.verifying_key().to_bytes()).into_string()
    );
    assert_eq!(
        a["result"]["secretKey"],
        bs58::encode(signing.to_keypair_bytes()).into_string(),
        "the secret key is seed || public key, base58"
    );
    assert_eq!(a["result"]["matches"], true);
    let text = driver
        .send(json!({"cmd": "text", "selector": "#match"}))
        .await;
    assert_eq!(text["text"], "matches wallet");
    // "Hide key" removes the secret from the page.
    let hidden = driver
        .send(json!({"cmd": "click", "selector": "#hide"}))
        .await;
    assert_eq!(hidden["result"]["secretKey"], Value::Null);
    let text = driver
        .send(json!({"cmd": "text", "selector": "#secret-key"}))
        .await;
    assert_eq!(text["text"], "");

    // A bundle made for another wallet does not open on this page (the wallet is in
    // the HPKE info and AAD), and nothing is shown.
    let a = driver.run(&origin, "export-other", None).await;
    expect_state(&a, "error");
    assert!(logged(&format!("exported {}", hex::encode(OTHER_ID))));
    assert!(a["result"]["message"]
        .as_str()
        .unwrap()
        .contains("could not be decrypted"));
    assert_eq!(a["result"]["secretKey"], Value::Null);

    // An authenticator that does not verify the user cannot approve.
    driver
        .send(json!({"cmd": "set_uv", "verified": false}))
        .await;
    let a = driver.run(&origin, "approve-no-uv", None).await;
    expect_state(&a, "error");
    assert!(!logged(&format!(
        "passkey approved {}",
        hex::encode(NO_UV_ID)
    )));
    println!(
        "no-UV approval refused with: {}",
        a["result"]["message"].as_str().unwrap()
    );

    driver.quit().await;
    server.abort();
    signer_task.abort();
    assert_eq!(hub.waiting(), 0);
}
