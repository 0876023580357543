//! `custos demo`: the confirmation flow from end to end on this machine.
//!
//! Starts the fake Telegram Bot API server (real HTTPS with its own test CA, the
//! real wire format; `crates/telegram-fake`), seals its bot token into a fresh data
//! directory, runs `custos serve` against it as a separate process tree, and then
//! plays both the bot backend (over the real gRPC API) and the user (in the fake
//! Telegram): link the account, ask for a withdrawal, read the message, press
//! Approve, receive the signed transaction; then a second withdrawal the user
//! rejects; then the user turns on two-factor authentication in the bot chat, and a
//! third withdrawal is signed only after Approve *and* a code from their authenticator
//! app. Everything the user would read is printed.

use crate::confirm::{decision_json, status_name};
use custos_api::client::connect;
use custos_api::v1::{
    AwaitDecisionRequest, AwaitDecisionResponse, CreateLinkRequest, CreateWalletRequest,
    DecisionStatus, GetLinkRequest, HealthRequest, SignStatus, SignTransactionRequest,
};
use custos_telegram_fake::{ChatMessage, Config, FakeTelegram};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// Runs the demo; the data directory is removed afterwards unless `keep`.
pub fn run(keep: bool) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return crate::output::error(1, format!("runtime: {e}")),
    };
    let dir = demo_dir();
    let result = rt.block_on(demo(&dir, keep));
    match result {
        Ok(()) => {
            if keep {
                println!("\nThe demo's data directory is kept: {}", dir.display());
            } else {
                let _ = std::fs::remove_dir_all(&dir);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "custos demo: failed: {e}\n(data directory and server log kept in {})",
                dir.display()
            );
            ExitCode::FAILURE
        }
    }
}

fn demo_dir() -> PathBuf {
    let mut r = [0u8; 6];
    let _ = custos_crypto::os_random(&mut r);
    std::env::temp_dir().join(format!("custos-demo-{}", hex::encode(r)))
}

fn step(n: u32, text: &str) {
    println!("\n== {n}. {text}");
}

/// Prints a Telegram message the way the user's client shows it.
fn show(m: &ChatMessage) {
    println!("   +--------------------------------------------------------------");
    for line in m.text.as_deref().unwrap_or("").lines() {
        println!("   | {line}");
    }
    let buttons = m.buttons();
    if !buttons.is_empty() {
        let labels: Vec<String> = buttons.iter().map(|b| format!("[ {} ]", b.text)).collect();
        println!("   | {}", labels.join("  "));
    }
    println!("   +--------------------------------------------------------------");
}

/// The `custos serve` process tree; stopped (whole process group) on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let pgid = self.0.id();
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{pgid}")])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(dir: &Path, api_url: &str, ca: &Path) -> Result<Server, String> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().map_err(|e| format!("locating custos: {e}"))?;
    let log = std::fs::File::create(dir.join("serve.log")).map_err(|e| e.to_string())?;
    let child = Command::new(exe)
        .arg("--data-dir")
        .arg(dir)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--telegram-api-url",
            api_url,
        ])
        .arg("--telegram-ca-cert")
        .arg(ca)
        // A short expiry keeps the demo's waits short if something goes wrong.
        .args(["--confirm-expiry", "120"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting custos serve: {e}"))?;
    Ok(Server(child))
}

async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An unsigned legacy transaction: a System transfer of `lamports` from `from` to `to`.
fn transfer(from: &[u8; 32], to: &[u8; 32], lamports: u64, blockhash: &[u8; 32]) -> Vec<u8> {
    let mut msg = vec![1u8, 0, 1, 3];
    msg.extend_from_slice(from);
    msg.extend_from_slice(to);
    msg.extend_from_slice(&[0u8; 32]); // the System program
    msg.extend_from_slice(blockhash);
    msg.extend_from_slice(&[1, 2, 2, 0, 1, 12, 2, 0, 0, 0]);
    msg.extend_from_slice(&lamports.to_le_bytes());
    let mut tx = vec![1u8];
    tx.extend_from_slice(&[0u8; 64]);
    tx.extend_from_slice(&msg);
    tx
}

fn verify(wallet: &[u8; 32], tx: &[u8], signature: &[u8]) -> Result<(), String> {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    let key = VerifyingKey::from_bytes(wallet).map_err(|e| e.to_string())?;
    let sig = Signature::from_slice(signature).map_err(|e| e.to_string())?;
    // Legacy transaction with one signature: 1 count byte, 64 signature bytes, message.
    if tx.len() < 65 || tx[1..65] != *signature {
        return Err("the signature is not in the transaction's first slot".into());
    }
    key.verify(&tx[65..], &sig)
        .map_err(|_| "the signature does not verify".to_owned())
}

async fn confirmation_message(
    fake: &FakeTelegram,
    chat: i64,
    after: i64,
) -> Result<ChatMessage, String> {
    wait_for(
        "the confirmation message",
        Duration::from_secs(20),
        || async {
            fake.messages(chat)
                .ok()?
                .into_iter()
                .find(|m| m.from_bot && m.message_id > after && !m.buttons().is_empty())
        },
    )
    .await
}

fn button(m: &ChatMessage, word: &str) -> Result<usize, String> {
    m.buttons()
        .iter()
        .position(|b| b.text.contains(word))
        .ok_or_else(|| format!("the message has no {word} button"))
}

/// The demo's user: their fake Telegram account and their wallet.
struct User<'a> {
    fake: &'a FakeTelegram,
    telegram_id: i64,
    wallet: &'a str,
}

type Client = custos_api::v1::custos_client::CustosClient<tonic::transport::Channel>;

/// The backend's sign request for a withdrawal; returns the confirmation id.
async fn request(
    client: &mut Client,
    user: &User<'_>,
    tx: Vec<u8>,
    key: &str,
) -> Result<String, String> {
    let r = client
        .sign_transaction(SignTransactionRequest {
            wallet: user.wallet.to_owned(),
            transaction: tx,
            idempotency_key: key.into(),
            ..Default::default()
        })
        .await
        .map_err(|s| format!("sign: {}", s.message()))?
        .into_inner();
    if SignStatus::try_from(r.status) != Ok(SignStatus::Pending) {
        return Err(format!(
            "expected the withdrawal to wait for the user, got status {} ({})",
            r.status,
            r.reasons.join("; ")
        ));
    }
    println!(
        "   PENDING, confirmation {} - nothing signed yet: {}",
        r.confirmation_id, r.summary
    );
    Ok(r.confirmation_id)
}

/// The user presses the button labelled `word`; the backend awaits the decision.
async fn decide(
    client: &mut Client,
    user: &User<'_>,
    id: &str,
    message: &ChatMessage,
    word: &str,
) -> Result<AwaitDecisionResponse, String> {
    decide_later(user, message, word)?;
    Ok(client
        .await_decision(AwaitDecisionRequest {
            confirmation_id: id.to_owned(),
            timeout_ms: 30_000,
        })
        .await
        .map_err(|s| format!("await: {}", s.message()))?
        .into_inner())
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The newest message id in a chat (0 when empty).
fn last_message_id(fake: &FakeTelegram, chat: i64) -> i64 {
    fake.messages(chat)
        .ok()
        .and_then(|ms| ms.iter().map(|m| m.message_id).max())
        .unwrap_or(0)
}

/// The user sends `text`; waits for the bot's answer containing `expect`.
async fn reply(
    fake: &FakeTelegram,
    chat: i64,
    text: &str,
    expect: &str,
) -> Result<ChatMessage, String> {
    let before = last_message_id(fake, chat);
    fake.send_text(chat, chat, text)
        .map_err(|e| format!("fake reply: {e:?}"))?;
    wait_for(expect, Duration::from_secs(20), || async {
        fake.messages(chat).ok()?.into_iter().find(|m| {
            m.from_bot
                && m.message_id > before
                && m.text.as_deref().is_some_and(|t| t.contains(expect))
        })
    })
    .await
}

/// The user presses the button labelled `word` (the decision comes later).
fn decide_later(user: &User<'_>, message: &ChatMessage, word: &str) -> Result<(), String> {
    user.fake
        .press(
            user.telegram_id,
            user.telegram_id,
            message.message_id,
            button(message, word)?,
        )
        .map(|_| ())
        .map_err(|e| format!("press: {e:?}"))
}

/// Waits for the message to be edited (buttons gone) and prints it.
async fn show_outcome(user: &User<'_>, message: &ChatMessage) -> Result<(), String> {
    let edited = wait_for(
        "the message to show the outcome",
        Duration::from_secs(10),
        || async {
            user.fake
                .messages(user.telegram_id)
                .ok()?
                .into_iter()
                .find(|m| {
                    // Decided: no buttons, and no longer waiting for a second factor.
                    m.message_id == message.message_id
                        && m.buttons().is_empty()
                        && !m
                            .text
                            .as_deref()
                            .is_some_and(|t| t.contains("Second factor needed"))
                })
        },
    )
    .await?;
    println!("   The user's message now reads:");
    show(&edited);
    Ok(())
}

async fn demo(dir: &Path, keep: bool) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    println!("Custos demo: a withdrawal confirmed in (a local fake of) Telegram.");
    println!("Data directory: {}", dir.display());

    step(
        1,
        "Start a fake Telegram Bot API server (HTTPS with its own test CA)",
    );
    let fake = FakeTelegram::start(Config {
        bot_username: "custos_demo_bot".into(),
        bot_first_name: "Custos".into(),
        ..Config::default()
    })
    .await
    .map_err(|e| format!("fake Telegram server: {e}"))?;
    let ca = dir.join("telegram-ca.pem");
    std::fs::write(&ca, fake.ca_pem()).map_err(|e| e.to_string())?;
    println!("   Bot API at {} (bot @custos_demo_bot)", fake.base_url());

    step(
        2,
        "Set up the signer bot: its token is sealed in the data directory",
    );
    let seal = custos_crypto::seal::DevSeal::in_data_dir(dir);
    custos_signer::bot_token::install(&seal, dir, fake.token()).map_err(|e| e.to_string())?;
    println!("   custos telegram setup --token-file <file>   (token never shown or logged)");

    step(
        3,
        "Run custos serve (supervisor, signer, bridge, pool) against it",
    );
    let _server = start_server(dir, &fake.base_url(), &ca)?;
    let mut client = wait_for(
        "custos serve to answer",
        Duration::from_secs(60),
        || async {
            if !dir.join("run/api.addr").exists() {
                return None;
            }
            let mut c = connect(dir).await.ok()?;
            c.health(HealthRequest {}).await.ok()?;
            Some(c)
        },
    )
    .await
    .map_err(|e| format!("{e}; see {}", dir.join("serve.log").display()))?;
    println!("   healthy");

    step(4, "The bot backend creates a wallet for user \"alice\"");
    let wallet = client
        .create_wallet(CreateWalletRequest {
            user_id: "alice".into(),
            telegram_id: None,
            idempotency_key: "demo-wallet".into(),
        })
        .await
        .map_err(|s| format!("create wallet: {}", s.message()))?
        .into_inner();
    println!("   wallet {}", wallet.pubkey);
    let mut wallet_key = [0u8; 32];
    bs58::decode(&wallet.pubkey)
        .onto(&mut wallet_key)
        .map_err(|e| e.to_string())?;

    step(5, "Alice links her Telegram account with a one-time link");
    let link = client
        .create_link(CreateLinkRequest {
            user_id: "alice".into(),
        })
        .await
        .map_err(|s| format!("create link: {}", s.message()))?
        .into_inner();
    println!("   The backend shows Alice: {}", link.url);
    let payload = link
        .url
        .split_once("?start=")
        .map(|(_, p)| p.to_owned())
        .ok_or("the link has no start parameter")?;
    let alice = fake
        .add_user_named("Alice")
        .map_err(|e| format!("fake user: {e:?}"))?;
    fake.send_text(alice.id, alice.id, &format!("/start {payload}"))
        .map_err(|e| format!("fake /start: {e:?}"))?;
    println!(
        "   Alice (Telegram id {}) opens it and presses Start.",
        alice.id
    );
    let linked = wait_for("the link to be recorded", Duration::from_secs(20), || {
        let mut c = client.clone();
        async move {
            let r = c
                .get_link(GetLinkRequest {
                    user_id: "alice".into(),
                })
                .await
                .ok()?
                .into_inner();
            r.linked.then_some(r.telegram_id)
        }
    })
    .await?;
    println!(
        "   Linked: alice -> Telegram user {}",
        linked.unwrap_or_default()
    );
    if let Some(m) = fake.last_bot_message(alice.id) {
        println!("   The bot tells Alice:");
        show(&m);
    }

    let mut destination = [0u8; 32];
    custos_crypto::os_random(&mut destination).map_err(|e| e.to_string())?;
    let mut blockhash = [0u8; 32];
    custos_crypto::os_random(&mut blockhash).map_err(|e| e.to_string())?;

    let alice_user = User {
        fake: &fake,
        telegram_id: alice.id,
        wallet: &wallet.pubkey,
    };

    step(
        6,
        "The backend asks Custos to sign a withdrawal of 1.5 SOL to a stranger",
    );
    let tx = transfer(&wallet_key, &destination, 1_500_000_000, &blockhash);
    let first = request(&mut client, &alice_user, tx, "demo-withdrawal-1").await?;

    step(
        7,
        "Alice receives this in Telegram (sent by Custos, not by the backend)",
    );
    let message = confirmation_message(&fake, alice.id, 0).await?;
    show(&message);

    step(8, "Alice presses Approve");
    let decision = decide(&mut client, &alice_user, &first, &message, "Approve").await?;
    println!("   custos await {} --format json:", first);
    println!("   {}", decision_json(&decision));
    if DecisionStatus::try_from(decision.status) != Ok(DecisionStatus::Approved) {
        return Err("the approved withdrawal was not signed".into());
    }
    verify(&wallet_key, &decision.transaction, &decision.signature)?;
    println!("   The signature verifies against the wallet's public key.");
    show_outcome(&alice_user, &message).await?;

    step(9, "A second withdrawal, which Alice rejects");
    let tx = transfer(&wallet_key, &destination, 2_000_000_000, &blockhash);
    let second = request(&mut client, &alice_user, tx, "demo-withdrawal-2").await?;
    let message2 = confirmation_message(&fake, alice.id, message.message_id).await?;
    show(&message2);
    let decision = decide(&mut client, &alice_user, &second, &message2, "Reject").await?;
    let status = DecisionStatus::try_from(decision.status).unwrap_or(DecisionStatus::Unspecified);
    println!(
        "   custos await {}: {} - nothing was signed",
        second,
        status_name(status)
    );
    if status != DecisionStatus::Rejected {
        return Err("the rejected withdrawal did not end as rejected".into());
    }
    show_outcome(&alice_user, &message2).await?;

    step(
        10,
        "Alice turns on two-factor authentication: she sends /totp to the bot",
    );
    let before = last_message_id(&fake, alice.id);
    fake.send_text(alice.id, alice.id, "/totp")
        .map_err(|e| format!("fake /totp: {e:?}"))?;
    let photo = wait_for("the QR code", Duration::from_secs(20), || async {
        fake.messages(alice.id)
            .ok()?
            .into_iter()
            .find(|m| m.from_bot && m.message_id > before && m.photo.is_some())
    })
    .await?;
    let caption = photo.caption.clone().unwrap_or_default();
    println!(
        "   The bot sends a QR code ({} bytes PNG) captioned:",
        photo.photo.as_ref().map_or(0, |p| p.size)
    );
    for line in caption.lines() {
        println!("   | {line}");
    }
    println!("   and a second message with 10 one-time recovery codes (both delete themselves in 10 minutes).");
    // Alice scans it: her authenticator app is the otpauth:// URI in the caption.
    let uri: String = caption
        .find("otpauth://")
        .map(|i| {
            caption[i..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != ')')
                .collect()
        })
        .ok_or("no otpauth:// URI in the caption")?;
    let app = totp_rs::Totp::from_url(&uri).map_err(|e| format!("{uri}: {e:?}"))?;
    let step_now = unix_now() / 30;
    let code = app.generate(step_now * 30).to_string();
    println!("   Her app shows {code}; she replies with it.");
    let on = reply(&fake, alice.id, &code, "Two-factor authentication is on").await?;
    show(&on);

    step(
        11,
        "A third withdrawal: Approve alone no longer signs (a stolen Telegram account could press it)",
    );
    let tx = transfer(&wallet_key, &destination, 1_000_000_000, &blockhash);
    let third = request(&mut client, &alice_user, tx, "demo-withdrawal-3").await?;
    let message3 = confirmation_message(&fake, alice.id, on.message_id).await?;
    decide_later(&alice_user, &message3, "Approve")?;
    let asked = wait_for(
        "the second-factor prompt",
        Duration::from_secs(20),
        || async {
            fake.messages(alice.id).ok()?.into_iter().find(|m| {
                m.message_id == message3.message_id
                    && m.text
                        .as_deref()
                        .is_some_and(|t| t.contains("Second factor needed"))
            })
        },
    )
    .await?;
    show(&asked);
    let still = client
        .await_decision(AwaitDecisionRequest {
            confirmation_id: third.clone(),
            timeout_ms: 0,
        })
        .await
        .map_err(|s| format!("await: {}", s.message()))?
        .into_inner();
    println!(
        "   custos await {third}: {} - nothing signed yet",
        status_name(DecisionStatus::try_from(still.status).unwrap_or(DecisionStatus::Unspecified))
    );

    step(12, "Alice replies with the next code from her app");
    // The enrolment used this step's code, and each code works once.
    let code = app.generate((step_now + 1) * 30).to_string();
    println!("   Her app shows {code}; she replies with it (the bot deletes her message).");
    fake.send_text(alice.id, alice.id, &code)
        .map_err(|e| format!("fake reply: {e:?}"))?;
    let decision = client
        .await_decision(AwaitDecisionRequest {
            confirmation_id: third.clone(),
            timeout_ms: 30_000,
        })
        .await
        .map_err(|s| format!("await: {}", s.message()))?
        .into_inner();
    println!("   custos await {} --format json:", third);
    println!("   {}", decision_json(&decision));
    if DecisionStatus::try_from(decision.status) != Ok(DecisionStatus::Approved) {
        return Err("the withdrawal approved with the second factor was not signed".into());
    }
    verify(&wallet_key, &decision.transaction, &decision.signature)?;
    println!("   Approve + second factor: signed, and the signature verifies.");
    show_outcome(&alice_user, &message3).await?;

    step(13, "Everything the fake Telegram server received");
    let dump = dir.join("telegram-dump.json");
    std::fs::write(&dump, fake.dump_json().to_string()).map_err(|e| e.to_string())?;
    println!(
        "   {} Bot API requests, all recorded; as JSON in {}{}",
        fake.requests().len(),
        dump.display(),
        if keep {
            ""
        } else {
            " (run with --keep to keep it)"
        }
    );
    println!(
        "\nDone: approve -> signed; reject -> refused; with 2FA on, approve + code -> signed."
    );
    Ok(())
}
