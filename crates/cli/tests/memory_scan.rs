//! The memory-scan acceptance test (issue 7): with `custos serve` running and having
//! signed for many wallets, root reads every byte of every process of the tree through
//! /proc/PID/mem, and a core dump of the signer, and finds no master key, no subkey and
//! no wallet key in any encoding - while the same scan finds a control secret planted in
//! every process, which proves it reads each of them. A second run does the same after
//! a user turned TOTP on in the bot chat, approved a withdrawal with a code, and exported
//! the wallet's key.
//!
//! Run alone with `cargo test -p custos-cli --test memory_scan -- --nocapture`; it needs
//! root (it reads other processes' memory) and gdb's `gcore`, and fails loudly without
//! either.

mod common;

use common::flow::{enrol_totp, foreign, free_port, say, unix_now, wait, Flow};
use common::memscan::{self, Hit, Needles, Scan, Secret};
use common::*;
use custos_crypto::keys::{MasterKey, RecordKeys};
use custos_crypto::record;
use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Wallets created, each signing one transfer. Two per user, each paying the other, so
/// every transfer stays within the user's own wallets and is signed without asking.
const WALLETS: usize = 200;
/// Parallel CLI clients (the machine has 2 cores; the CLI mostly waits on the server).
const CLIENTS: usize = 4;
/// Environment variable carrying the control secret into every process of the tree.
const CONTROL_ENV: &str = "CUSTOS_MEMSCAN_CONTROL";

/// HKDF salt and labels of the key hierarchy (crates/crypto/src/keys.rs), restated so
/// the ground truth is computed independently of the code under test. The record-mac
/// key is checked against the MAC of every stored record below, which catches drift.
const KDF_SALT: &[u8] = b"custos/kdf/v1";
const SUBKEYS: &[(&str, &[u8])] = &[
    ("wallet-wrap subkey", b"custos/v1/wallet-wrap"),
    ("record-mac subkey", b"custos/v1/record-mac"),
    ("security-mac subkey", b"custos/v1/security-mac"),
    ("security-enc subkey", b"custos/v1/security-enc"),
    ("bot-token subkey", b"custos/v1/bot-token"),
    ("recovery-check subkey", b"custos/v1/recovery-check"),
];

#[test]
fn no_process_of_the_tree_nor_a_core_dump_holds_a_key_but_all_hold_the_control() {
    let _one = ONE_SCAN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let gcore = scan_prerequisites();
    let t0 = Instant::now();
    let control = plant_control();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut server = Server::start(&data);
    std::env::remove_var(CONTROL_ENV);
    let started = t0.elapsed();

    let wallets = create_and_sign(&server);
    let traffic = t0.elapsed() - started;

    // Ground truth, from the disk: the development seal's master key, its subkeys, and
    // every wallet's seed opened from its record.
    let t = Instant::now();
    let mut secrets = ground_truth(&data, &wallets);
    secrets.push(Secret::new("control", control.as_ref()));
    let needles = Needles::new(&secrets);
    let truth = t.elapsed();
    println!(
        "memscan: start {started:?}, {WALLETS} wallets created and signed {traffic:?}, \
         ground truth {truth:?} ({} needles)",
        needles.len()
    );
    scan_tree_and_core(&mut server, &gcore, tmp.path(), &needles);
    println!("memscan: total {:?}", t0.elapsed());
}

/// The same scan after the paths a second factor adds. A linked user turns TOTP on in the
/// bot chat. A withdrawal to a foreign address is approved in Telegram and with a code:
/// the confirmed signature, made on the signer's Telegram side with the sealed bot token
/// in use. Then the wallet's key is exported: Approve in Telegram, and a code with a fresh
/// X25519 key on the Custos page, whose API answers with the key sealed to it (HPKE).
/// (The TOTP secret itself is not looked for: the user is shown it, through the pool, to
/// set up their app.)
#[test]
fn after_a_totp_approved_withdrawal_and_a_key_export_no_process_holds_a_key() {
    let _one = ONE_SCAN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let gcore = scan_prerequisites();
    let control = plant_control();
    let port = free_port();
    let origin = format!("https://localhost:{port}");
    let mut flow = Flow::start(&[
        "--page-listen",
        &format!("127.0.0.1:{port}"),
        "--page-url",
        &origin,
        "--confirm-expiry",
        "120",
    ]);
    std::env::remove_var(CONTROL_ENV);

    let (wallet, alice) = flow.linked_user("alice", "Alice");
    let (totp, step) = enrol_totp(&flow, alice);

    // The withdrawal, with the code of the next step (the enrolment used this one's).
    let tx = transfer_tx(&b58(&wallet), &foreign(), 1_000_000_000, &[0x42; 32]);
    let (id, m) = flow.approve_until_factor(alice, &wallet, &tx, 0);
    say(&flow, alice, &totp.generate((step + 1) * 30).to_string());
    let (code, v) = flow.await_decision(&id, 30);
    assert_eq!((code, v["status"].as_str()), (0, Some("approved")), "{v}");

    // The export: Approve in Telegram, then the page's API with the code of the step
    // after (accepted once the clock has reached the step before it).
    wait("the outcome edit", Duration::from_secs(10), || {
        flow.message(alice, m.message_id).buttons().is_empty()
    });
    let (xid, url) = flow.approve_export(alice, &wallet);
    let token = &url[url.find('#').expect("the token in the fragment") + 1..];
    wait("the next TOTP step", Duration::from_secs(40), || {
        unix_now() / 30 > step
    });
    let answer = export_on_the_page(
        &flow,
        &origin,
        port,
        token,
        &totp.generate((step + 2) * 30).to_string(),
    );
    assert_eq!(answer["ok"], true, "{answer}");
    assert!(answer["bundle"]["ciphertext"].is_string(), "{answer}");
    let (code, v) = flow.await_decision(&xid, 10);
    assert_eq!((code, v["status"].as_str()), (0, Some("exported")), "{v}");

    let mut secrets = ground_truth(&flow.dir, &[wallet]);
    secrets.push(Secret::new("control", control.as_ref()));
    let needles = Needles::new(&secrets);
    let tmp = tempfile::tempdir().unwrap();
    scan_tree_and_core(&mut flow.server, &gcore, tmp.path(), &needles);
}

/// What the Custos page does for an export (docs/SECOND-FACTOR.md): `info`, then `submit`
/// with the code and the browser's one-time X25519 public key, over HTTPS to the pool,
/// trusting the development CA. Returns the submit's JSON answer.
fn export_on_the_page(
    flow: &Flow,
    origin: &str,
    port: u16,
    token: &str,
    code: &str,
) -> serde_json::Value {
    use base64::Engine;
    let ca = std::fs::read(flow.dir.join("tls").join("ca.pem")).unwrap();
    let mut secret = Zeroizing::new([0u8; 32]);
    custos_crypto::os_random(secret.as_mut()).unwrap();
    let recipient = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*secret));
    let recipient = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(recipient.as_bytes());
    flow.rt.block_on(async {
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .resolve("localhost", ([127, 0, 0, 1], port).into())
            .build()
            .unwrap();
        let post = |body: serde_json::Value| {
            client
                .post(format!("{origin}/p/api"))
                .header("content-type", "application/json")
                .header("origin", origin)
                .body(body.to_string())
                .send()
        };
        let info = post(serde_json::json!({"token": token, "step": "info"}))
            .await
            .unwrap();
        assert_eq!(info.status(), 200);
        let info: serde_json::Value = info.json().await.unwrap();
        assert_eq!(info["kind"], "export", "{info}");
        let submit = post(serde_json::json!({
            "token": token,
            "step": "submit",
            "totp": code,
            "recipient": recipient,
        }))
        .await
        .unwrap();
        let status = submit.status();
        let answer: serde_json::Value = submit.json().await.unwrap();
        assert_eq!(status, 200, "{answer}");
        answer
    })
}

/// Checks that the scan can run here (root, gdb's gcore); returns gcore's path.
fn scan_prerequisites() -> String {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "the memory scan reads other processes' memory: run it as root"
    );
    which("gcore")
}

/// Serializes the scanning tests: each plants its control secret in this process's
/// environment, and each scan should see only its own server (and have both cores).
static ONE_SCAN_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Puts a fresh control secret (hex and base58) in this process's environment, for the
/// server started next and its children to inherit; the caller removes it once they
/// started, and holds [`ONE_SCAN_AT_A_TIME`] throughout.
fn plant_control() -> Zeroizing<[u8; 32]> {
    let mut control = Zeroizing::new([0u8; 32]);
    custos_crypto::os_random(control.as_mut()).unwrap();
    let planted = Zeroizing::new(format!(
        "{} {}",
        hex::encode(control.as_ref()),
        bs58::encode(control.as_ref()).into_string()
    ));
    std::env::set_var(CONTROL_ENV, planted.as_str());
    control
}

/// Reads every byte of every process of `server`'s tree and a forced core dump of its
/// signer, then stops the tree. Fails if a process or the core lacks the control secret
/// (the scan did not read it), or if any other needle is found anywhere.
fn scan_tree_and_core(server: &mut Server, gcore: &str, tmp: &Path, needles: &Needles) {
    // Traffic has stopped (every CLI call returned): what is left is what stays.
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let tree = memscan::process_tree(server.pid());
    assert_eq!(
        tree.len(),
        4,
        "supervisor, signer, bridge and pool: {tree:?}"
    );
    // One thread per process: the machine's two cores both search.
    let scans: Vec<Scan> = std::thread::scope(|s| {
        let threads: Vec<_> = tree
            .iter()
            .map(|&pid| s.spawn(move || memscan::scan_pid(pid, needles)))
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let mut live = Scan::default();
    for (&pid, scan) in tree.iter().zip(scans) {
        let controls = scan.hits.iter().filter(|h| h.secret == "control").count();
        println!(
            "memscan: pid {pid} {:<15} {:>6} MiB in {:>4} regions ({} KiB unreadable): \
             {controls} control hits, {} key hits",
            memscan::comm(pid),
            scan.bytes >> 20,
            scan.regions,
            scan.unreadable >> 10,
            scan.hits.len() - controls,
        );
        assert!(
            controls >= 1,
            "the control secret was not found in pid {pid} ({}): the scanner does not read it",
            memscan::comm(pid)
        );
        live.merge(scan);
    }
    let live_time = t.elapsed();

    // A forced core dump of the signer, as root (gdb's gcore attaches with ptrace).
    let t = Instant::now();
    let signer = tree
        .iter()
        .copied()
        .find(|&p| memscan::comm(p).contains("signer"))
        .unwrap_or_else(|| panic!("no signer among {tree:?}"));
    let prefix = tmp.join("core");
    let out = Command::new(gcore)
        .arg("-o")
        .arg(&prefix)
        .arg(signer.to_string())
        .output()
        .expect("run gcore");
    let core = prefix.with_extension(signer.to_string());
    assert!(
        out.status.success() && core.exists(),
        "gcore of the signer failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dumped = t.elapsed();
    let t = Instant::now();
    let dump = memscan::scan_file(&core, needles);
    let core_time = t.elapsed();
    let core_controls = dump.hits.iter().filter(|h| h.secret == "control").count();
    println!(
        "memscan: core of the signer: {} MiB, {core_controls} control hits, {} key hits",
        dump.bytes >> 20,
        dump.hits.len() - core_controls
    );
    assert!(
        core_controls >= 1,
        "the control secret was not found in the signer's core file"
    );
    std::fs::remove_file(&core).unwrap();
    server.kill_tree();

    println!(
        "memscan: timings: live scan {live_time:?} ({} MiB), gcore {dumped:?}, \
         core scan {core_time:?}",
        live.bytes >> 20
    );

    let leaks: Vec<&Hit> = live
        .hits
        .iter()
        .chain(&dump.hits)
        .filter(|h| h.secret != "control")
        .collect();
    for hit in &leaks {
        println!("memscan: LEAK {hit}");
    }
    assert!(
        leaks.is_empty(),
        "{} copies of keys found in memory (listed above)",
        leaks.len()
    );
}

/// Creates [`WALLETS`] wallets and signs one own transfer from each; returns their
/// addresses.
fn create_and_sign(server: &Server) -> Vec<String> {
    let blockhash = [0x42u8; 32];
    let pairs: Vec<usize> = (0..WALLETS / 2).collect();
    let wallets: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = pairs
            .chunks(pairs.len().div_ceil(CLIENTS))
            .map(|chunk| {
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for &pair in chunk {
                        let user = format!("user-{pair}");
                        let a = server.create_wallet(&user);
                        let b = server.create_wallet(&user);
                        for (from, to) in [(&a, &b), (&b, &a)] {
                            let tx = transfer_tx(&b58(from), &b58(to), 1_000, &blockhash);
                            let v = server.json(&[
                                "sign",
                                "--wallet",
                                from,
                                "--format",
                                "json",
                                &b64(&tx),
                            ]);
                            assert_eq!(v["status"], "signed", "{v}");
                        }
                        mine.extend([a, b]);
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert_eq!(wallets.len(), WALLETS);
    wallets
}

/// The secrets that must not be found: the master key from the development seal, its
/// subkeys, and each wallet's seed and keypair (seed || pubkey) opened from the store.
fn ground_truth(data: &Path, wallets: &[String]) -> Vec<Secret> {
    let blob = Zeroizing::new(
        std::fs::read(data.join(custos_crypto::seal::DevSeal::FILE_NAME)).expect("dev seal"),
    );
    assert_eq!(blob.len(), 16 + 32, "development seal format");
    let mut master = Zeroizing::new([0u8; 32]);
    master.copy_from_slice(&blob[16..]);

    let mut secrets = vec![Secret::new("master key", master.as_ref())];
    for (label, info) in SUBKEYS {
        let key = memscan::hkdf_sha256_32(KDF_SALT, master.as_ref(), info);
        secrets.push(Secret::new(*label, key.as_ref()));
    }
    let record_mac = memscan::hkdf_sha256_32(KDF_SALT, master.as_ref(), b"custos/v1/record-mac");

    let keys = RecordKeys::derive(&MasterKey::from_bytes(master));
    let db = rusqlite::Connection::open(data.join("custos.sqlite3")).unwrap();
    let mut stmt = db.prepare("SELECT record FROM wallets").unwrap();
    let records: Vec<Vec<u8>> = stmt
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(records.len(), wallets.len(), "every wallet is in the store");
    let expected: HashSet<[u8; 32]> = wallets.iter().map(|w| b58(w)).collect();
    for (i, bytes) in records.iter().enumerate() {
        // The independent subkey derivation agrees with the record's MAC.
        let (body, mac) = bytes.split_at(bytes.len() - 32);
        assert_eq!(
            memscan::hmac_sha256(record_mac.as_ref(), body).as_slice(),
            mac,
            "the restated HKDF labels no longer match crates/crypto/src/keys.rs"
        );
        let auth = record::authenticate(&keys, bytes).expect("authentic record");
        let seed = auth.open(&keys).expect("record opens");
        let pubkey = auth.header.pubkey;
        assert!(
            expected.contains(&pubkey),
            "a wallet the test did not create"
        );
        assert_eq!(custos_crypto::sign::public_key(&seed), pubkey);
        let mut pair = Zeroizing::new([0u8; 64]);
        pair[..32].copy_from_slice(seed.as_slice());
        pair[32..].copy_from_slice(&pubkey);
        secrets.push(Secret::new(format!("wallet {i} seed"), seed.as_slice()));
        secrets.push(Secret::new(format!("wallet {i} keypair"), pair.as_ref()));
    }
    secrets
}

/// The path of a tool the test needs; fails (never skips) without it.
fn which(tool: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .unwrap();
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success() && !path.is_empty(),
        "{tool} is not installed (Debian package gdb; scripts/test.sh installs it)"
    );
    path
}

#[test]
fn the_scanner_finds_every_encoding_and_reports_no_bytes() {
    // A secret in every encoding, in this process's heap, each found where it was put.
    let secret = [0xA5u8; 32];
    let needles = Needles::new(&[Secret::new("probe", &secret)]);
    let forms = memscan::encodings(&secret);
    let mut hay = vec![0u8; 100];
    let mut at = Vec::new();
    for (_, form) in &forms {
        at.push(hay.len());
        hay.extend_from_slice(form);
        hay.extend_from_slice(b"\n..\n");
    }
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), &hay).unwrap();
    let scan = memscan::scan_file(path.path(), &needles);
    for ((encoding, _), offset) in forms.iter().zip(&at) {
        assert!(
            scan.hits
                .iter()
                .any(|h| h.encoding == *encoding && h.offset == *offset as u64),
            "{encoding} not found at {offset}"
        );
        assert!(!scan.hits.iter().any(|h| h.to_string().contains("a5a5")));
    }
    // The same in a live process: the scanner reads /proc/self/mem like any other.
    let scan = memscan::scan_pid(std::process::id() as i32, &needles);
    assert!(scan.hits.iter().any(|h| h.encoding == "hex"));
    assert!(scan.hits.iter().any(|h| h.encoding == "json-array-spaced"));
}

#[test]
fn hkdf_matches_rfc5869_test_case_1() {
    // RFC 5869 A.1 (SHA-256), first 32 bytes of the output keying material.
    let ikm = [0x0bu8; 22];
    let salt = hex::decode("000102030405060708090a0b0c").unwrap();
    let info = hex::decode("f0f1f2f3f4f5f6f7f8f9").unwrap();
    let okm = memscan::hkdf_sha256_32(&salt, &ikm, &info);
    assert_eq!(
        hex::encode(okm.as_ref()),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
    );
}
