//! End-to-end: the real process tree, the real CLI, mutual TLS, SQLite and
//! the litesvm runtime.

mod common;

use common::*;
use std::time::{Duration, Instant};

const SOL: u64 = 1_000_000_000;

fn sign(server: &Server, wallet: &str, tx: &[u8]) -> (std::process::Output, serde_json::Value) {
    let out = server.cli(&["sign", "--wallet", wallet, "--format", "json", &b64(tx)]);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out, v)
}

#[test]
fn own_transfer_is_signed_and_accepted_by_litesvm_foreign_transfer_needs_the_user() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"));
    let a = server.create_wallet("alice");
    let b = server.create_wallet("alice");
    assert_ne!(a, b);

    let mut svm = Svm::start();
    svm.airdrop(&a, 10 * SOL);
    let blockhash = svm.blockhash();

    let tx = transfer_tx(&b58(&a), &b58(&b), SOL, &blockhash);
    let (out, v) = sign(&server, &a, &tx);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["status"], "signed", "{v}");
    let signed = v["transaction"].as_str().unwrap();
    // Only the signature changed; it is the one reported.
    let signed_bytes = unb64(signed);
    assert_eq!(signed_bytes.len(), tx.len());
    assert_eq!(&signed_bytes[65..], &tx[65..]);
    assert_eq!(
        bs58::encode(&signed_bytes[1..65]).into_string(),
        v["signature"].as_str().unwrap()
    );

    let result = svm.send(signed);
    assert_eq!(
        result["ok"], true,
        "litesvm refused the signed transaction: {result}"
    );
    assert_eq!(svm.balance(&b), SOL);
    assert_eq!(svm.balance(&a), 9 * SOL - 5000);

    // The same transfer to an address Custos does not know leaves the user: it needs
    // the user, and with no Telegram bot set up there is nobody to ask: refused, unsigned.
    let stranger = bs58::encode([7u8; 32]).into_string();
    let tx = transfer_tx(&b58(&a), &b58(&stranger), SOL, &blockhash);
    let (out, v) = sign(&server, &a, &tx);
    assert!(out.status.success());
    assert!(needs_user(&v), "{v}");
    assert!(v.get("transaction").is_none(), "{v}");
    assert!(v.get("signature").is_none(), "{v}");

    // A wallet of another user is foreign too.
    let mallory = server.create_wallet("mallory");
    let tx = transfer_tx(&b58(&a), &b58(&mallory), SOL, &blockhash);
    assert!(needs_user(&sign(&server, &a, &tx).1));

    // A wallet that is not a signer of the transaction is refused.
    let tx = transfer_tx(&b58(&b), &b58(&a), SOL, &blockhash);
    let (_, v) = sign(&server, &a, &tx);
    assert_eq!(v["status"], "rejected", "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("not a required signer"),
        "{v}"
    );

    // Garbage is rejected with a reason, never signed.
    let (out, v) = sign(&server, &a, &[1u8; 80]);
    assert!(out.status.success());
    assert_eq!(v["status"], "rejected", "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .starts_with("malformed transaction"),
        "{v}"
    );
    assert!(v.get("transaction").is_none());
}

#[test]
fn retried_create_wallet_with_the_same_idempotency_key_returns_the_same_wallet() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"));
    let args = [
        "wallet",
        "create",
        "--user",
        "bob",
        "--telegram-id",
        "12345",
        "--idempotency-key",
        "req-1",
        "--format",
        "json",
    ];
    let first = server.json(&args);
    let second = server.json(&args);
    assert_eq!(first["wallet"], second["wallet"]);
    assert_eq!(first["telegram_id"], 12345);
    // The same key asking for something else is a conflict, not a silent success.
    let out = server.cli(&[
        "wallet",
        "create",
        "--user",
        "bob",
        "--telegram-id",
        "999",
        "--idempotency-key",
        "req-1",
        "--format",
        "json",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("different telegram_id"));
    // The same key for another user is independent.
    let other = server.json(&[
        "wallet",
        "create",
        "--user",
        "carol",
        "--idempotency-key",
        "req-1",
        "--format",
        "json",
    ]);
    assert_ne!(other["wallet"], first["wallet"]);
    let list = server.json(&["wallet", "list", "--user", "bob", "--format", "json"]);
    assert_eq!(list["wallets"].as_array().unwrap().len(), 1);

    // Bad input: a clear error, nothing created.
    let out = server.cli(&[
        "wallet",
        "create",
        "--user",
        "bad user!",
        "--format",
        "json",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid user id"));
    let list = server.json(&["wallet", "list", "--user", "bad user!", "--format", "json"]);
    assert_eq!(list["wallets"].as_array().unwrap().len(), 0);
}

#[test]
fn sigkill_of_the_whole_tree_right_after_create_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut server = Server::start(&dir);
    let a = server.create_wallet("dave");
    let b = server.create_wallet("dave");
    server.kill_tree();
    drop(server);

    let server = Server::start(&dir);
    let list = server.json(&["wallet", "list", "--user", "dave", "--format", "json"]);
    let listed: Vec<&str> = list["wallets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["wallet"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![a.as_str(), b.as_str()]);

    let mut svm = Svm::start();
    svm.airdrop(&a, SOL);
    // Enough for the new account to be rent-exempt.
    let tx = transfer_tx(&b58(&a), &b58(&b), SOL / 10, &svm.blockhash());
    let (_, v) = sign(&server, &a, &tx);
    assert_eq!(v["status"], "signed", "{v}");
    let result = svm.send(v["transaction"].as_str().unwrap());
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(svm.balance(&b), SOL / 10);
}

fn db(server: &Server) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(server.dir.join("custos.sqlite3")).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

#[test]
fn tampered_or_swapped_records_fail_with_an_integrity_error_and_nothing_is_signed() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"));
    let a = server.create_wallet("erin");
    let b = server.create_wallet("erin");
    let f = server.create_wallet("frank");
    let tx = transfer_tx(&b58(&a), &b58(&b), 1000, &[9u8; 32]);
    assert_eq!(sign(&server, &a, &tx).1["status"], "signed");

    let conn = db(&server);
    let record: Vec<u8> = get_record(&conn, &a);

    // One flipped bit anywhere in the middle of the sealed record.
    let mut flipped = record.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    set_record(&conn, &a, &flipped);
    let (out, v) = sign(&server, &a, &tx);
    assert!(!out.status.success());
    assert_eq!(v["status"], "error", "{v}");
    assert_eq!(v["error"], "integrity", "{v}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("integrity"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(v.get("transaction").is_none());

    // Restore it: signing works again (nothing else was damaged).
    set_record(&conn, &a, &record);
    assert_eq!(sign(&server, &a, &tx).1["status"], "signed");

    // Two users' records swapped: erin's row now carries frank's sealed record and vice versa.
    let rec_f: Vec<u8> = get_record(&conn, &f);
    set_record(&conn, &a, &rec_f);
    set_record(&conn, &f, &record);
    let (out, v) = sign(&server, &a, &tx);
    assert!(!out.status.success());
    assert_eq!(v["error"], "integrity", "{v}");
    let tx_f = transfer_tx(&b58(&f), &b58(&a), 1000, &[9u8; 32]);
    let (out, v) = sign(&server, &f, &tx_f);
    assert!(!out.status.success());
    assert_eq!(v["error"], "integrity", "{v}");

    // Moving a wallet to another user by editing the plaintext columns changes nothing the signer trusts.
    set_record(&conn, &a, &record);
    conn.execute(
        "UPDATE wallets SET user_id = 'frank' WHERE pubkey = ?1",
        [b58(&a).to_vec()],
    )
    .unwrap();
    // b is still erin's per its authenticated record, so a -> b stays internal...
    assert_eq!(sign(&server, &a, &tx).1["status"], "signed");
    // ...and frank's wallet does not become erin's destination by a column edit.
    conn.execute(
        "UPDATE wallets SET user_id = 'erin' WHERE pubkey = ?1",
        [b58(&f).to_vec()],
    )
    .unwrap();
    let tx_af = transfer_tx(&b58(&a), &b58(&f), 1000, &[9u8; 32]);
    assert!(needs_user(&sign(&server, &a, &tx_af).1));
}

fn get_record(conn: &rusqlite::Connection, wallet: &str) -> Vec<u8> {
    conn.query_row(
        "SELECT record FROM wallets WHERE pubkey = ?1",
        [b58(wallet).to_vec()],
        |r| r.get(0),
    )
    .unwrap()
}

fn set_record(conn: &rusqlite::Connection, wallet: &str, record: &[u8]) {
    let n = conn
        .execute(
            "UPDATE wallets SET record = ?1 WHERE pubkey = ?2",
            rusqlite::params![record, b58(wallet).to_vec()],
        )
        .unwrap();
    assert_eq!(n, 1);
}

/// Waits up to 20 s for the supervisor to exit, then checks that none of
/// `children` is left.
fn wait_for_exit(
    server: &mut Server,
    children: &[(i32, String)],
    what: &str,
) -> std::process::ExitStatus {
    let mut child = server.child.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    };
    for (pid, _) in children {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "child {pid} survived"
        );
    }
    status
}

fn socket_inodes(pid: i32) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|t| t.to_string_lossy().into_owned())
        .filter(|t| t.starts_with("socket:"))
        .collect()
}

#[test]
fn three_separate_processes_and_the_signer_holds_only_its_socket_pair() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"));
    let children = server.children();
    let mut names: Vec<&str> = children.iter().map(|(_, c)| c.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        vec!["custos-bridge", "custos-pool", "custos-signer"],
        "{children:?}"
    );
    let signer = children
        .iter()
        .find(|(_, c)| c == "custos-signer")
        .unwrap()
        .0;
    let sockets = socket_inodes(signer);
    assert_eq!(sockets.len(), 1, "signer sockets: {sockets:?}");
    // ...and that one socket is a Unix socket pair, not a network socket.
    let inode = sockets
        .iter()
        .next()
        .unwrap()
        .trim_start_matches("socket:[")
        .trim_end_matches(']')
        .to_owned();
    let unix = std::fs::read_to_string("/proc/net/unix").unwrap();
    assert!(
        unix.lines()
            .any(|l| l.split_whitespace().nth(6) == Some(inode.as_str())),
        "not a unix socket"
    );
    for proto in ["tcp", "tcp6", "udp", "udp6"] {
        let table =
            std::fs::read_to_string(format!("/proc/{signer}/net/{proto}")).unwrap_or_default();
        assert!(
            !table
                .lines()
                .skip(1)
                .any(|l| l.split_whitespace().nth(9) == Some(inode.as_str())),
            "signer socket appears in {proto}"
        );
    }
}

#[test]
fn sigterm_stops_everything_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start(&tmp.path().join("data"));
    let children = server.children();
    assert_eq!(children.len(), 3);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_for_exit(&mut server, &children, "supervisor did not stop");
    assert!(status.success(), "{status:?}\n{}", server.log_text());
}

#[test]
fn a_dead_signer_makes_the_service_fail_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start(&tmp.path().join("data"));
    let children = server.children();
    let signer = children
        .iter()
        .find(|(_, c)| c == "custos-signer")
        .unwrap()
        .0;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(signer),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let status = wait_for_exit(
        &mut server,
        &children,
        "supervisor kept running without a signer",
    );
    assert!(!status.success());
    assert!(
        server.log_text().contains("failed closed"),
        "{}",
        server.log_text()
    );
}

#[test]
fn the_api_refuses_clients_without_a_certificate() {
    use custos_api::v1::custos_client::CustosClient;
    use tonic::transport::{Certificate, Channel, ClientTlsConfig};
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"));
    let addr = std::fs::read_to_string(server.dir.join("run/api.addr")).unwrap();
    let ca = std::fs::read(server.dir.join("tls/ca.pem")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca))
            .domain_name("localhost");
        let result = async {
            let ch = Channel::from_shared(format!("https://{}", addr.trim()))
                .unwrap()
                .tls_config(tls)
                .unwrap()
                .connect()
                .await?;
            CustosClient::new(ch)
                .health(custos_api::v1::HealthRequest {})
                .await
                .map_err(|s| Box::new(s) as Box<dyn std::error::Error>)?;
            Ok::<_, Box<dyn std::error::Error>>(())
        }
        .await;
        assert!(result.is_err(), "a client without a certificate was served");
    });
    // And plain-text HTTP/2 is not served either.
    let out = std::process::Command::new("bash")
        .args(["-c", &format!("exec 3<>/dev/tcp/{}/{}; printf 'PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n' >&3; timeout 2 head -c 9 <&3 | od -An -tx1", addr.trim().split(':').next().unwrap(), addr.trim().rsplit(':').next().unwrap())])
        .output()
        .unwrap();
    let reply = String::from_utf8_lossy(&out.stdout);
    assert!(
        !reply.contains("00 00"),
        "server answered plaintext HTTP/2: {reply}"
    );
}

#[test]
fn unknown_wallet_and_bad_input_get_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"));
    let a = server.create_wallet("gina");
    let stranger = bs58::encode([5u8; 32]).into_string();
    let tx = transfer_tx(&b58(&stranger), &b58(&a), 1, &[1u8; 32]);
    let (out, v) = sign(&server, &stranger, &tx);
    assert!(!out.status.success());
    assert_eq!(v["error"], "not_found", "{v}");

    let out = server.cli(&[
        "sign",
        "--wallet",
        &a,
        "--format",
        "json",
        "not base anything!",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = server.cli(&["wallet", "get", "xyz", "--format", "json"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("base58"));
}

#[test]
fn client_without_a_server_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let out = cli(
        tmp.path(),
        &["wallet", "list", "--user", "x", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no running Custos"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn batch_and_stream_calls_answer_every_request_with_its_own_outcome() {
    use custos_api::v1::{
        GetWalletRequest, HealthRequest, SignStatus, SignTransactionBatchRequest,
        SignTransactionRequest,
    };
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"));
    let a = server.create_wallet("hana");
    let b = server.create_wallet("hana");
    let stranger = bs58::encode([8u8; 32]).into_string();
    let req = |id: u64, wallet: &str, tx: Vec<u8>| SignTransactionRequest {
        wallet: wallet.to_owned(),
        transaction: tx,
        idempotency_key: String::new(),
        request_id: id,
        offered_lookup_tables: Vec::new(),
        intent: None,
    };
    let requests = vec![
        req(1, &a, transfer_tx(&b58(&a), &b58(&b), 5, &[1; 32])),
        req(2, &a, transfer_tx(&b58(&a), &b58(&stranger), 5, &[1; 32])),
        req(
            3,
            &stranger,
            transfer_tx(&b58(&stranger), &b58(&a), 5, &[1; 32]),
        ),
        req(4, &a, vec![0xff; 40]),
        req(5, &a, Vec::new()),
    ];
    // Request 2 needs the user, and this server has no Telegram bot: refused.
    let expected = [
        (1, SignStatus::Signed, ""),
        (2, SignStatus::Rejected, ""),
        (3, SignStatus::Error, "not_found"),
        (4, SignStatus::Rejected, ""),
        (5, SignStatus::Error, "invalid"),
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut client = custos_api::client::connect(&server.dir).await.unwrap();
        let health = client.health(HealthRequest {}).await.unwrap().into_inner();
        assert!(
            health.ok && health.seal == "development" && !health.seal_secure,
            "{health:?}"
        );
        let got = client
            .get_wallet(GetWalletRequest { pubkey: a.clone() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.user_id, "hana");

        // Batch: answers in request order.
        let batch = client
            .sign_transaction_batch(SignTransactionBatchRequest {
                requests: requests.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .responses;
        assert_eq!(batch.len(), expected.len());
        for (resp, (id, status, kind)) in batch.iter().zip(expected) {
            assert_eq!(resp.request_id, id);
            assert_eq!(resp.status, status as i32, "{resp:?}");
            assert_eq!(resp.error_kind, kind, "{resp:?}");
            assert_eq!(resp.transaction.is_empty(), status != SignStatus::Signed);
        }
        let signed = &batch[0];
        assert_eq!(signed.signature.len(), 64);
        assert_eq!(&signed.transaction[1..65], &signed.signature[..]);

        // Stream: answers may come in any order, matched by request_id.
        let outbound = tokio_stream::iter(requests.clone());
        let mut inbound = client
            .sign_transaction_stream(outbound)
            .await
            .unwrap()
            .into_inner();
        let mut seen = std::collections::BTreeMap::new();
        while let Some(resp) = inbound.message().await.unwrap() {
            seen.insert(resp.request_id, resp);
        }
        assert_eq!(seen.len(), expected.len());
        for (id, status, kind) in expected {
            assert_eq!(seen[&id].status, status as i32, "{:?}", seen[&id]);
            assert_eq!(seen[&id].error_kind, kind);
        }
        // Deterministic: the same transaction gets the same signature either way.
        assert_eq!(seen[&1].signature, signed.signature);

        // An oversized batch is refused as a whole.
        let too_many = SignTransactionBatchRequest {
            requests: vec![requests[0].clone(); 1025],
        };
        let err = client.sign_transaction_batch(too_many).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    });
}
