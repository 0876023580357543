//! End-to-end: address lookup table contents from Custos's own view of the chain.
//!
//! A fake Solana JSON-RPC endpoint over real HTTPS (rustls, with a test CA made by
//! rcgen and handed to `custos serve --rpc-ca-cert`) serves `getAccountInfo` for
//! lookup table accounts. The real process tree fetches tables through the pool,
//! caches them, and the signer judges v0 transactions whose destination sits
//! behind a table.

mod common;

use common::*;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Address Lookup Table program.
const ALT_PROGRAM: &str = "AddressLookupTab1e1111111111111111111111111";
/// The System program (a wrong owner for a table).
const SYSTEM_PROGRAM: &str = "11111111111111111111111111111111";

/// How the fake endpoint answers for one account.
#[derive(Clone)]
enum Reply {
    /// A lookup table with these entries.
    Table(Vec<[u8; 32]>),
    /// The same data, owned by the System program.
    WrongOwner(Vec<[u8; 32]>),
    /// HTTP 500.
    Status500,
    /// 200 with a body that is not JSON.
    Garbage,
    /// Never answers.
    Hang,
    /// 200 with a JSON body far larger than any lookup table.
    Huge,
}

#[derive(Default)]
struct RpcState {
    replies: HashMap<[u8; 32], Reply>,
    /// getAccountInfo requests per account.
    hits: HashMap<[u8; 32], usize>,
    /// Every request body, as JSON.
    requests: Vec<serde_json::Value>,
    /// TLS connections accepted.
    connections: usize,
}

/// A fake Solana RPC endpoint over HTTPS, with its own CA.
struct FakeRpc {
    addr: SocketAddr,
    ca_pem: PathBuf,
    state: Arc<Mutex<RpcState>>,
}

impl FakeRpc {
    fn start(dir: &Path) -> FakeRpc {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
            KeyUsagePurpose, SanType,
        };
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(DnType::CommonName, "fake RPC test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let mut server = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        server
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        let key = KeyPair::generate().unwrap();
        let cert = server.signed_by(&key, &ca).unwrap();
        let ca_pem = dir.join("rpc-ca.pem");
        std::fs::write(&ca_pem, ca.pem()).unwrap();

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            )
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state: Arc<Mutex<RpcState>> = Arc::default();
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                shared.lock().unwrap().connections += 1;
                let (config, state) = (Arc::clone(&config), Arc::clone(&shared));
                std::thread::spawn(move || serve_connection(stream, config, state));
            }
        });
        FakeRpc {
            addr,
            ca_pem,
            state,
        }
    }

    fn url(&self) -> String {
        format!("https://{}/v1/?api-key=SECRET-KEY", self.addr)
    }

    /// `custos serve` arguments that point the pool at this endpoint.
    fn args(&self) -> Vec<String> {
        vec![
            "--rpc-url".into(),
            self.url(),
            "--rpc-ca-cert".into(),
            self.ca_pem.display().to_string(),
        ]
    }

    fn set(&self, account: [u8; 32], reply: Reply) {
        self.state.lock().unwrap().replies.insert(account, reply);
    }

    fn hits(&self, account: &[u8; 32]) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(account)
            .copied()
            .unwrap_or(0)
    }
}

/// Serves HTTP/1.1 requests on one TLS connection until the client hangs up.
fn serve_connection(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    state: Arc<Mutex<RpcState>>,
) {
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, stream);
    loop {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match tls.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
            if head.len() > 16 * 1024 {
                return;
            }
        }
        let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if tls.read_exact(&mut body).is_err() {
            return;
        }
        let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let account = request["params"][0]
            .as_str()
            .and_then(|s| bs58::decode(s).into_vec().ok())
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .unwrap_or([0; 32]);
        let reply = {
            let mut s = state.lock().unwrap();
            s.requests.push(request.clone());
            *s.hits.entry(account).or_default() += 1;
            s.replies.get(&account).cloned()
        };
        let (status, body) = match reply {
            Some(Reply::Hang) => {
                std::thread::sleep(Duration::from_secs(10));
                return;
            }
            Some(Reply::Status500) => ("500 Internal Server Error", "internal error".to_owned()),
            Some(Reply::Garbage) => ("200 OK", "<html>this is not JSON {{{".to_owned()),
            Some(Reply::Huge) => (
                "200 OK",
                serde_json::json!({"jsonrpc": "2.0", "id": request["id"],
                    "result": {"context": {"slot": 1}, "value": null}, "pad": "x".repeat(200_000)})
                .to_string(),
            ),
            Some(Reply::Table(entries)) => {
                ("200 OK", account_answer(&request, ALT_PROGRAM, &entries))
            }
            Some(Reply::WrongOwner(entries)) => {
                ("200 OK", account_answer(&request, SYSTEM_PROGRAM, &entries))
            }
            None => (
                "200 OK",
                serde_json::json!({"jsonrpc": "2.0", "id": request["id"],
                    "result": {"context": {"slot": 1}, "value": null}})
                .to_string(),
            ),
        };
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if tls.write_all(response.as_bytes()).is_err() || tls.flush().is_err() {
            return;
        }
    }
}

/// Account data of a lookup table, as the program writes it.
fn table_data(entries: &[[u8; 32]]) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&1u32.to_le_bytes()); // LookupTable
    d.extend_from_slice(&u64::MAX.to_le_bytes()); // deactivation_slot: active
    d.extend_from_slice(&42u64.to_le_bytes()); // last_extended_slot
    d.push(0); // last_extended_slot_start_index
    d.push(1); // authority: Some
    d.extend_from_slice(&[5u8; 32]);
    d.extend_from_slice(&[0, 0]); // padding
    assert_eq!(d.len(), 56);
    for e in entries {
        d.extend_from_slice(e);
    }
    d
}

fn account_answer(request: &serde_json::Value, owner: &str, entries: &[[u8; 32]]) -> String {
    let data = table_data(entries);
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": request["id"],
        "result": {
            "context": {"slot": 1234},
            "value": {
                "data": [b64(&data), "base64"],
                "executable": false,
                "lamports": 1_000_000,
                "owner": owner,
                "rentEpoch": 18446744073709551615u64,
                "space": data.len()
            }
        }
    })
    .to_string()
}

/// An unsigned v0 transaction: System transfer from `from` to the account at
/// `index` of lookup table `table`.
fn v0_transfer(from: &[u8; 32], table: &[u8; 32], index: u8, lamports: u64) -> Vec<u8> {
    let mut msg = vec![0x80, 1, 0, 1]; // v0; 1 signer, 0 readonly signed, 1 readonly unsigned
    msg.push(2); // static keys
    msg.extend_from_slice(from);
    msg.extend_from_slice(&[0u8; 32]); // System program
    msg.extend_from_slice(&[1u8; 32]); // recent blockhash
    msg.push(1); // one instruction
    msg.push(1); // program: System
    msg.extend_from_slice(&[2, 0, 2]); // accounts: from, first looked-up account
    let mut data = vec![2u8, 0, 0, 0];
    data.extend_from_slice(&lamports.to_le_bytes());
    msg.push(data.len() as u8);
    msg.extend_from_slice(&data);
    msg.push(1); // one table lookup
    msg.extend_from_slice(table);
    msg.extend_from_slice(&[1, index]); // writable indexes
    msg.push(0); // readonly indexes
    let mut tx = vec![1u8];
    tx.extend_from_slice(&[0u8; 64]);
    tx.extend_from_slice(&msg);
    tx
}

/// `custos sign --format json` with extra flags; the JSON answer.
fn sign(server: &Server, wallet: &str, tx: &[u8], extra: &[&str]) -> serde_json::Value {
    let tx = b64(tx);
    let mut args = vec!["sign", "--wallet", wallet, "--format", "json"];
    args.extend_from_slice(extra);
    args.push(&tx);
    let out = server.cli(&args);
    assert!(
        out.status.success(),
        "custos sign failed: {}\n{}\nlog:\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
        server.log_text()
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// Writes an `--offered-lookup-tables` file.
fn offered_file(dir: &Path, name: &str, tables: &[(&[u8; 32], &[[u8; 32]])]) -> PathBuf {
    let map: serde_json::Map<String, serde_json::Value> = tables
        .iter()
        .map(|(t, entries)| {
            (
                bs58::encode(t).into_string(),
                entries
                    .iter()
                    .map(|e| serde_json::Value::String(bs58::encode(e).into_string()))
                    .collect(),
            )
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, serde_json::Value::Object(map).to_string()).unwrap();
    path
}

fn start(tmp: &Path, rpc: Option<&FakeRpc>) -> Server {
    let args = rpc.map(FakeRpc::args).unwrap_or_default();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start_with(&tmp.join("data"), &args)
}

const FOREIGN: [u8; 32] = [0x77; 32];

#[test]
fn destination_behind_a_table_is_resolved_from_the_chain_and_the_table_is_cached() {
    let tmp = tempfile::tempdir().unwrap();
    let rpc = FakeRpc::start(tmp.path());
    let server = start(tmp.path(), Some(&rpc));
    let a = server.create_wallet("alice");
    let b = server.create_wallet("alice");
    let c = server.create_wallet("alice");
    let table = [0x51; 32];
    rpc.set(table, Reply::Table(vec![FOREIGN, b58(&b)]));

    // (a) A -> B, B behind the table: signed at once.
    let v = sign(&server, &a, &v0_transfer(&b58(&a), &table, 1, 1_000), &[]);
    assert_eq!(v["status"], "signed", "{v}");
    assert_eq!(rpc.hits(&table), 1);
    {
        let s = rpc.state.lock().unwrap();
        let req = &s.requests[0];
        assert_eq!(req["method"], "getAccountInfo", "{req}");
        assert_eq!(req["params"][0], bs58::encode(table).into_string());
        assert_eq!(
            req["params"][1],
            serde_json::json!({"encoding": "base64", "commitment": "finalized"})
        );
    }

    // (e) The same table again: answered from the cache.
    let v = sign(&server, &a, &v0_transfer(&b58(&a), &table, 1, 2_000), &[]);
    assert_eq!(v["status"], "signed", "{v}");
    // Index 0 is a stranger: pending, still from the cache.
    let v = sign(&server, &a, &v0_transfer(&b58(&a), &table, 0, 3_000), &[]);
    assert!(needs_user(&v), "{v}");
    assert_eq!(rpc.hits(&table), 1, "the cached table was read again");

    // The table grows; an index past the cached length makes the pool read it again
    // (once the short answer, believed for 3 s like other negative results, expires).
    rpc.set(table, Reply::Table(vec![FOREIGN, b58(&b), b58(&c)]));
    std::thread::sleep(Duration::from_millis(3_500));
    let v = sign(&server, &a, &v0_transfer(&b58(&a), &table, 2, 4_000), &[]);
    assert_eq!(v["status"], "signed", "{v}");
    assert_eq!(rpc.hits(&table), 2);
    let v = sign(&server, &a, &v0_transfer(&b58(&a), &table, 2, 5_000), &[]);
    assert_eq!(v["status"], "signed", "{v}");
    assert_eq!(rpc.hits(&table), 2);
    // Both reads went over one kept-alive connection.
    assert_eq!(rpc.state.lock().unwrap().connections, 1);

    // The pool reports its endpoint (never the API key) and the URL does not show
    // in the children's command lines; only the pool has it, in its environment.
    let health = server.json(&["health", "--format", "json"]);
    assert_eq!(health["ok"], true, "{health}");
    let log = server.log_text();
    assert!(
        !log.contains("SECRET-KEY"),
        "the API key was logged:\n{log}"
    );
    for (pid, comm) in server.children() {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmdline).contains("SECRET-KEY"),
            "{comm} shows the RPC URL in its command line"
        );
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let has_url = String::from_utf8_lossy(&environ).contains("SECRET-KEY");
        assert_eq!(has_url, comm == "custos-pool", "{comm}");
    }
}

#[test]
fn without_an_rpc_endpoint_looked_up_accounts_stay_unresolved() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(tmp.path(), None);
    let a = server.create_wallet("bob");
    let b = server.create_wallet("bob");
    let table = [0x52; 32];
    let tx = v0_transfer(&b58(&a), &table, 1, 1_000);

    // (b) Pending: nothing says where index 1 of the table points.
    let v = sign(&server, &a, &tx, &[]);
    assert!(needs_user(&v), "{v}");

    // Offered contents, even true ones, never loosen a verdict.
    let offered = offered_file(tmp.path(), "true.json", &[(&table, &[FOREIGN, b58(&b)])]);
    let v = sign(
        &server,
        &a,
        &tx,
        &["--offered-lookup-tables", offered.to_str().unwrap()],
    );
    assert!(needs_user(&v), "{v}");

    // The same own transfer without a table is still signed: the service is fine.
    let v = sign(
        &server,
        &a,
        &transfer_tx(&b58(&a), &b58(&b), 5, &[1; 32]),
        &[],
    );
    assert_eq!(v["status"], "signed", "{v}");
}

#[test]
fn offered_table_contents_never_loosen_a_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let rpc = FakeRpc::start(tmp.path());
    let server = start(tmp.path(), Some(&rpc));
    let a = server.create_wallet("carol");
    let b = server.create_wallet("carol");
    let table = [0x53; 32];
    rpc.set(table, Reply::Table(vec![FOREIGN, b58(&b)]));

    // (c) On chain index 0 is a stranger; the backend claims it is B.
    let lie = offered_file(tmp.path(), "lie.json", &[(&table, &[b58(&b), b58(&b)])]);
    let lie = lie.to_str().unwrap();
    let tx = v0_transfer(&b58(&a), &table, 0, 1_000);
    let v = sign(&server, &a, &tx, &["--offered-lookup-tables", lie]);
    assert!(needs_user(&v), "{v}");

    // The endpoint is down for another table. Offered contents revealing a stranger
    // keep it pending; offered contents claiming B do not make it signed.
    let down = [0x54; 32];
    rpc.set(down, Reply::Status500);
    let tx = v0_transfer(&b58(&a), &down, 0, 2_000);
    let stranger = offered_file(tmp.path(), "stranger.json", &[(&down, &[FOREIGN])]);
    let v = sign(
        &server,
        &a,
        &tx,
        &["--offered-lookup-tables", stranger.to_str().unwrap()],
    );
    assert!(needs_user(&v), "{v}");
    let own = offered_file(tmp.path(), "own.json", &[(&down, &[b58(&b)])]);
    let v = sign(
        &server,
        &a,
        &tx,
        &["--offered-lookup-tables", own.to_str().unwrap()],
    );
    assert!(needs_user(&v), "{v}");

    // Offered contents that agree with the chain keep the transfer to B signed.
    let truth = offered_file(tmp.path(), "truth.json", &[(&table, &[FOREIGN, b58(&b)])]);
    let v = sign(
        &server,
        &a,
        &v0_transfer(&b58(&a), &table, 1, 3_000),
        &["--offered-lookup-tables", truth.to_str().unwrap()],
    );
    assert_eq!(v["status"], "signed", "{v}");

    // Bad offered input is refused precisely, as is a bad intent.
    let mut bad = serde_json::Map::new();
    bad.insert(
        bs58::encode(table).into_string(),
        serde_json::json!(["not-an-address"]),
    );
    let bad_path = tmp.path().join("bad.json");
    std::fs::write(&bad_path, serde_json::Value::Object(bad).to_string()).unwrap();
    let out = server.cli(&[
        "sign",
        "--wallet",
        &a,
        "--offered-lookup-tables",
        bad_path.to_str().unwrap(),
        &b64(&tx),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid request: offered_lookup_tables[0].addresses[0]: 'not-an-address'"),
        "{err}"
    );
    let out = server.cli(&[
        "sign",
        "--wallet",
        &a,
        "--intent",
        r#"{"transfer":{"destination":"xyz","amount":5}}"#,
        &b64(&tx),
    ]);
    // The CLI reads intents with the decoder's own parser, so a bad address is a usage
    // error before any call (the server's check is in the bridge's unit tests).
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--intent: destination \"xyz\" is not a base58 address"),
        "{err}"
    );
    let out = server.cli(&["sign", "--wallet", &a, "--intent", "{}", &b64(&tx)]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "malformed --intent JSON is a usage error"
    );
}

#[test]
fn a_failing_endpoint_leaves_accounts_unresolved_and_the_service_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let rpc = FakeRpc::start(tmp.path());
    let server = start(tmp.path(), Some(&rpc));
    let a = server.create_wallet("dave");
    let b = server.create_wallet("dave");

    // (d) HTTP 500, garbage, a wrong owner, a missing account, an oversized
    // answer, no answer at all:
    // pending every time, and nothing crashes.
    let cases = [
        ([0x61; 32], Some(Reply::Status500)),
        ([0x62; 32], Some(Reply::Garbage)),
        ([0x63; 32], Some(Reply::WrongOwner(vec![FOREIGN, b58(&b)]))),
        ([0x64; 32], None),
        ([0x65; 32], Some(Reply::Huge)),
        ([0x66; 32], Some(Reply::Hang)),
    ];
    for (i, (table, reply)) in cases.iter().enumerate() {
        if let Some(r) = reply {
            rpc.set(*table, r.clone());
        }
        let started = Instant::now();
        let v = sign(
            &server,
            &a,
            &v0_transfer(&b58(&a), table, 1, 1_000 + i as u64),
            &[],
        );
        assert!(needs_user(&v), "case {i}: {v}");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "case {i} took {:?}",
            started.elapsed()
        );
        assert_eq!(rpc.hits(table), 1, "case {i}");
    }

    // Negative results are kept only briefly: once the endpoint recovers, the
    // table is read again and the transfer to B is signed.
    let table = [0x61; 32];
    rpc.set(table, Reply::Table(vec![FOREIGN, b58(&b)]));
    let tx = v0_transfer(&b58(&a), &table, 1, 9_000);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = sign(&server, &a, &tx, &[]);
        if v["status"] == "signed" {
            break;
        }
        assert!(needs_user(&v), "{v}");
        assert!(
            Instant::now() < deadline,
            "never signed after recovery: {v}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(rpc.hits(&table) >= 2);

    // Still healthy, still signing plain transfers, every process still up.
    let health = server.json(&["health", "--format", "json"]);
    assert_eq!(health["ok"], true, "{health}");
    let v = sign(
        &server,
        &a,
        &transfer_tx(&b58(&a), &b58(&b), 5, &[1; 32]),
        &[],
    );
    assert_eq!(v["status"], "signed", "{v}");
    let mut names: Vec<String> = server.children().into_iter().map(|(_, c)| c).collect();
    names.sort();
    assert_eq!(names, ["custos-bridge", "custos-pool", "custos-signer"]);
}

#[test]
fn serve_refuses_bad_rpc_settings_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let run = |args: &[&str]| {
        std::process::Command::new(CUSTOS)
            .arg("serve")
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--rpc-url", "http://127.0.0.1:8899"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--rpc-url must be an https:// URL"), "{err}");

    let missing = tmp.path().join("missing.pem");
    let out = run(&[
        "--rpc-url",
        "https://127.0.0.1:8899",
        "--rpc-ca-cert",
        missing.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--rpc-ca-cert"), "{err}");
}
