//! The Custos page server (`custos_pool::page`) over a real TLS listener: routes,
//! security headers, the origin check, size and type limits, the relay to the signer
//! (timeouts, the bound on waiting requests, unknown reply ids, concurrent requests
//! matched to their own replies).

use custos_ipc::telegram::{SecretString, ToSigner, MAX_PAGE_BODY};
use custos_pool::page::{self, PageHub, PageOrigin, RelayError, CONTENT_SECURITY_POLICY};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A page server on 127.0.0.1 with a self-signed certificate for `localhost`, and the
/// signer's side of its hub.
struct Server {
    hub: Arc<PageHub>,
    to_signer: mpsc::UnboundedReceiver<ToSigner>,
    origin: String,
    addr: SocketAddr,
    client: reqwest::Client,
    cert_der: Vec<u8>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn tls_config(cert: &rcgen::CertifiedKey<rcgen::KeyPair>) -> Arc<rustls::ServerConfig> {
    let dir = tempfile::tempdir().unwrap();
    let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&c, cert.cert.pem()).unwrap();
    std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
    // Through PageSettings, as the pool loads it.
    let settings = page::PageSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
        origin: "https://localhost".into(),
        cert_pem: c,
        key_pem: k,
    };
    settings.tls_config().unwrap()
}

async fn server(max_waiting: usize, timeout: Duration) -> Server {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let origin = format!("https://localhost:{}", addr.port());
    let (tx, to_signer) = mpsc::unbounded_channel();
    let hub = Arc::new(PageHub::with_limits(
        move |m| {
            let _ = tx.send(m);
        },
        max_waiting,
        timeout,
    ));
    let task = tokio::spawn(page::serve(
        listener,
        tls_config(&cert),
        hub.clone(),
        PageOrigin::parse(&origin).unwrap(),
    ));
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_der(cert.cert.der()).unwrap())
        .resolve("localhost", addr)
        .build()
        .unwrap();
    Server {
        hub,
        to_signer,
        origin,
        addr,
        client,
        cert_der: cert.cert.der().to_vec(),
        task,
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    fn post(&self, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
        self.client
            .post(self.url("/p/api"))
            .header("content-type", "application/json")
            .header("origin", &self.origin)
            .body(body)
    }

    /// The next page request the signer receives.
    async fn next_page(&mut self) -> (u64, String) {
        let m = tokio::time::timeout(Duration::from_secs(5), self.to_signer.recv())
            .await
            .expect("no page request reached the signer")
            .unwrap();
        match m {
            ToSigner::Page { request_id, body } => (request_id, body.expose().to_string()),
            other => panic!("unexpected message {other:?}"),
        }
    }
}

fn assert_security_headers(r: &reqwest::Response) {
    let h = r.headers();
    let get = |n: &str| h.get(n).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        get("content-security-policy").as_deref(),
        Some(CONTENT_SECURITY_POLICY)
    );
    let csp = CONTENT_SECURITY_POLICY;
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ] {
        assert!(csp.contains(directive), "{directive}");
    }
    assert!(!csp.contains("unsafe"));
    assert_eq!(get("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(get("referrer-policy").as_deref(), Some("no-referrer"));
    assert_eq!(get("cache-control").as_deref(), Some("no-store"));
    assert!(get("strict-transport-security")
        .unwrap()
        .starts_with("max-age="));
}

async fn json_error(r: reqwest::Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status);
    assert_security_headers(&r);
    assert_eq!(
        r.headers().get("content-type").unwrap(),
        "application/json",
        "errors are JSON"
    );
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["ok"], false);
    v["error"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_security_headers() {
    let s = server(8, Duration::from_secs(5)).await;
    for (path, ctype, needle) in [
        ("/p/", "text/html; charset=utf-8", "<script src=\"page.js\""),
        (
            "/p/page.js",
            "text/javascript; charset=utf-8",
            "custosResult",
        ),
        ("/p/page.css", "text/css; charset=utf-8", ".card"),
    ] {
        let r = s.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_security_headers(&r);
        assert_eq!(r.headers().get("content-type").unwrap(), ctype);
        assert!(r.text().await.unwrap().contains(needle), "{path}");
    }
    // No inline script or style anywhere in the page (the CSP would block it).
    let html = s.client.get(s.url("/p/")).send().await.unwrap();
    let html = html.text().await.unwrap();
    for inline in [
        "<script>",
        "<style",
        "style=",
        "onclick=",
        "onload=",
        "onsubmit=",
        "javascript:",
    ] {
        assert!(!html.contains(inline), "{inline}");
    }

    for path in [
        "/",
        "/p",
        "/p/index.html",
        "/p/page.js.map",
        "/p/api/",
        "/api",
    ] {
        let r = s.client.get(s.url(path)).send().await.unwrap();
        json_error(r, 404).await;
    }
    let r = s.client.post(s.url("/p/")).send().await.unwrap();
    assert_eq!(r.headers().get("allow").unwrap(), "GET");
    json_error(r, 405).await;
    let r = s.client.get(s.url("/p/api")).send().await.unwrap();
    assert_eq!(r.headers().get("allow").unwrap(), "POST");
    json_error(r, 405).await;
}

#[tokio::test]
async fn an_api_request_goes_to_the_signer_and_its_reply_comes_back() {
    let mut s = server(8, Duration::from_secs(5)).await;
    let body = r#"{"token":"T-123","step":"info"}"#;
    let client = s.post(body).send();
    let signer = async {
        let (id, got) = s.next_page().await;
        assert_eq!(got, body, "the body reaches the signer unchanged");
        s.hub.reply(
            id,
            200,
            SecretString::new(r#"{"kind":"approve","title":"Send 1 SOL"}"#.into()),
        );
    };
    let (r, ()) = tokio::join!(client, signer);
    let r = r.unwrap();
    assert_eq!(r.status(), 200);
    assert_security_headers(&r);
    assert_eq!(r.headers().get("content-type").unwrap(), "application/json");
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"kind":"approve","title":"Send 1 SOL"}"#
    );
    assert_eq!(s.hub.waiting(), 0);

    // The signer's status is passed on; an invalid one becomes 502.
    for (status, expect) in [(409u16, 409u16), (410, 410), (1000, 502)] {
        let client = s.post(r#"{"token":"x"}"#).send();
        let signer = async {
            let (id, _) = s.next_page().await;
            s.hub.reply(
                id,
                status,
                SecretString::new(r#"{"ok":false,"error":"used"}"#.into()),
            );
        };
        let (r, ()) = tokio::join!(client, signer);
        assert_eq!(r.unwrap().status().as_u16(), expect);
    }
}

#[tokio::test]
async fn a_foreign_origin_is_refused() {
    let mut s = server(8, Duration::from_secs(5)).await;
    for origin in [
        "https://evil.example",
        "http://localhost",
        "null",
        &format!("https://localhost:{}", s.addr.port() + 1),
        &format!("http://localhost:{}", s.addr.port()),
    ] {
        let r = s
            .client
            .post(s.url("/p/api"))
            .header("content-type", "application/json")
            .header("origin", origin)
            .body(r#"{"token":"T"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(json_error(r, 403).await, "foreign origin", "{origin}");
        // Ours and a foreign one: refused too.
        let r = s
            .post(r#"{"token":"T"}"#)
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        json_error(r, 403).await;
        let r = s
            .client
            .get(s.url("/p/"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        json_error(r, 403).await;
    }
    assert!(
        s.to_signer.try_recv().is_err(),
        "nothing reached the signer"
    );
    // Without an Origin header (a navigation), the page loads.
    let r = s.client.get(s.url("/p/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn bodies_must_be_small_json_objects() {
    let mut s = server(8, Duration::from_secs(5)).await;
    for ctype in ["text/plain", "application/x-www-form-urlencoded", ""] {
        let r = s
            .client
            .post(s.url("/p/api"))
            .header("content-type", ctype)
            .header("origin", &s.origin)
            .body(r#"{"token":"T"}"#)
            .send()
            .await
            .unwrap();
        json_error(r, 415).await;
    }
    let r = s
        .client
        .post(s.url("/p/api"))
        .header("origin", &s.origin)
        .body(r#"{"token":"T"}"#)
        .send()
        .await
        .unwrap();
    json_error(r, 415).await;

    let big = format!(r#"{{"token":"{}"}}"#, "a".repeat(MAX_PAGE_BODY - 12 + 1));
    assert_eq!(big.len(), MAX_PAGE_BODY + 1);
    let r = s.post(big).send().await.unwrap();
    json_error(r, 413).await;

    for bad in ["not json", "[1,2]", "\"s\"", "{\"a\":1", ""] {
        let r = s.post(bad).send().await.unwrap();
        json_error(r, 400).await;
    }
    let r = s.post(vec![0xffu8, 0xfe]).send().await.unwrap();
    json_error(r, 400).await;

    // A chunked body (no Content-Length) is cut off at the limit too.
    let status = raw_chunked_post(&s, MAX_PAGE_BODY + 100).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert!(
        s.to_signer.try_recv().is_err(),
        "nothing reached the signer"
    );

    // Exactly at the limit is fine, and charset parameters are accepted.
    let ok = format!(r#"{{"token":"{}"}}"#, "a".repeat(MAX_PAGE_BODY - 12));
    assert_eq!(ok.len(), MAX_PAGE_BODY);
    let client = s
        .post(ok.clone())
        .header("content-type", "application/json; charset=utf-8")
        .send();
    let signer = async {
        let (id, got) = s.next_page().await;
        assert_eq!(got, ok);
        s.hub
            .reply(id, 200, SecretString::new(r#"{"ok":true}"#.into()));
    };
    let (r, ()) = tokio::join!(client, signer);
    assert_eq!(r.unwrap().status(), 200);
}

/// POSTs `len` bytes with chunked transfer encoding over a raw TLS connection and
/// returns the status line.
async fn raw_chunked_post(s: &Server, len: usize) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(s.cert_der.clone().into()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let head = format!(
        "POST /p/api HTTP/1.1\r\nhost: localhost\r\norigin: {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        s.origin
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'a'; 4096];
    let mut sent = 0;
    while sent < len {
        let n = chunk.len().min(len - sent);
        let framed = [
            format!("{n:x}\r\n").as_bytes(),
            &chunk[..n],
            b"\r\n".as_slice(),
        ]
        .concat();
        // The server may answer and close before everything is sent.
        if tls.write_all(&framed).await.is_err() {
            break;
        }
        sent += n;
    }
    let _ = tls.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        match tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn without_an_answer_in_time_the_browser_gets_504_and_a_late_reply_is_dropped() {
    let mut s = server(8, Duration::from_millis(200)).await;
    let r = s.post(r#"{"token":"T"}"#).send().await.unwrap();
    assert!(json_error(r, 504).await.contains("no answer"));
    let (late, _) = s.next_page().await;
    assert_eq!(s.hub.waiting(), 0, "the timed-out request is forgotten");
    s.hub
        .reply(late, 200, SecretString::new(r#"{"ok":true}"#.into()));
    // Unknown ids too.
    s.hub
        .reply(u64::MAX, 200, SecretString::new(r#"{"ok":true}"#.into()));
    assert_eq!(s.hub.waiting(), 0);

    // The next request gets its own answer, not the late one.
    let client = s.post(r#"{"token":"U"}"#).send();
    let signer = async {
        let (id, _) = s.next_page().await;
        assert_ne!(id, late);
        s.hub.reply(id, 200, SecretString::new(r#"{"n":2}"#.into()));
    };
    let (r, ()) = tokio::join!(client, signer);
    assert_eq!(r.unwrap().text().await.unwrap(), r#"{"n":2}"#);
}

#[tokio::test]
async fn beyond_the_bound_of_waiting_requests_the_answer_is_503() {
    let mut s = server(2, Duration::from_secs(10)).await;
    let first = tokio::spawn(s.post(r#"{"n":1}"#).send());
    let second = tokio::spawn(s.post(r#"{"n":2}"#).send());
    let (a, _) = s.next_page().await;
    let (b, _) = s.next_page().await;
    assert_eq!(s.hub.waiting(), 2);
    let r = s.post(r#"{"n":3}"#).send().await.unwrap();
    json_error(r, 503).await;
    assert!(
        s.to_signer.try_recv().is_err(),
        "the third never reached the signer"
    );
    s.hub.reply(a, 200, SecretString::new("{}".into()));
    s.hub.reply(b, 200, SecretString::new("{}".into()));
    assert_eq!(first.await.unwrap().unwrap().status(), 200);
    assert_eq!(second.await.unwrap().unwrap().status(), 200);
    assert_eq!(s.hub.waiting(), 0);
}

#[tokio::test]
async fn concurrent_requests_get_their_own_replies() {
    const N: usize = 24;
    let mut s = server(64, Duration::from_secs(10)).await;
    let clients: Vec<_> = (0..N)
        .map(|i| {
            let req = s.post(format!(r#"{{"token":"T{i}"}}"#));
            tokio::spawn(async move {
                let r = req.send().await.unwrap();
                (i, r.status().as_u16(), r.text().await.unwrap())
            })
        })
        .collect();
    let mut pending = Vec::new();
    for _ in 0..N {
        pending.push(s.next_page().await);
    }
    // Answer in the reverse order of arrival, each with what its request said.
    for (id, body) in pending.into_iter().rev() {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let token = v["token"].as_str().unwrap();
        s.hub.reply(
            id,
            200,
            SecretString::new(format!(r#"{{"echo":"{token}"}}"#)),
        );
    }
    for c in clients {
        let (i, status, text) = c.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(text, format!(r#"{{"echo":"T{i}"}}"#));
    }
    assert_eq!(s.hub.waiting(), 0);
}

#[tokio::test]
async fn an_abandoned_request_is_forgotten() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let hub = PageHub::with_limits(
        move |m| {
            let _ = tx.send(m);
        },
        1,
        Duration::from_secs(10),
    );
    tokio::select! {
        _ = hub.relay(SecretString::new("{}".into())) => panic!("answered without a reply"),
        () = tokio::time::sleep(Duration::from_millis(20)) => {}
    }
    assert!(matches!(rx.try_recv(), Ok(ToSigner::Page { .. })));
    assert_eq!(hub.waiting(), 0, "the dropped request left no entry");
    // And the bound is free again.
    let r = tokio::time::timeout(
        Duration::from_millis(50),
        hub.relay(SecretString::new("{}".into())),
    )
    .await;
    assert!(r.is_err(), "waits (not Busy) until the timeout");
    // A hub whose bound is zero refuses at once.
    let full = PageHub::with_limits(|_| {}, 0, Duration::from_secs(1));
    assert_eq!(
        full.relay(SecretString::new("{}".into()))
            .await
            .unwrap_err(),
        RelayError::Busy
    );
}

#[tokio::test]
async fn start_checks_its_settings() {
    let hub = Arc::new(PageHub::new(|_| {}));
    let dir = tempfile::tempdir().unwrap();
    let settings = page::PageSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
        origin: "https://localhost:8443".into(),
        cert_pem: dir.path().join("missing.pem"),
        key_pem: dir.path().join("missing.key"),
    };
    let e = page::start(&settings, hub.clone()).await.unwrap_err();
    assert!(matches!(e, page::PageError::Certificate { .. }), "{e}");
    let bad_origin = page::PageSettings {
        origin: "http://localhost:8443".into(),
        ..settings
    };
    let e = page::start(&bad_origin, hub).await.unwrap_err();
    assert!(matches!(e, page::PageError::Origin(_)), "{e}");
}
