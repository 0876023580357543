//! HTTPS serving: the Bot API under `/bot<TOKEN>/<method>`, the control API
//! under `/control/`, long polling and webhook delivery.

use crate::http_client;
use crate::model::{ControlError, Fault, UserSpec};
use crate::state::{Answer, ApiErr, Params, State, Upload};
use crate::tls::Pki;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub(crate) struct Shared {
    state: Mutex<State>,
    notify: Notify,
    pub pki: Pki,
    pub token: String,
    pub control_from_any_address: bool,
    pub max_body_bytes: usize,
    pub webhook_retry: Duration,
}

impl Shared {
    pub fn new(state: State, pki: Pki) -> Self {
        let c = state.config();
        Self {
            token: c.token.clone(),
            control_from_any_address: c.control_from_any_address,
            max_body_bytes: c.max_body_bytes,
            webhook_retry: c.webhook_retry,
            state: Mutex::new(state),
            notify: Notify::new(),
            pki,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes long polls and the webhook sender after a change.
    pub fn changed(&self) {
        self.notify.notify_waiters();
    }
}

type Resp = Response<Full<Bytes>>;

fn json_response(status: u16, body: &Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// Accepts TLS connections until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let acceptor = match shared.pki.server_config() {
        Ok(c) => tokio_rustls::TlsAcceptor::from(c),
        Err(e) => {
            tracing::error!("fake telegram: TLS configuration: {e}");
            return;
        }
    };
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("fake telegram: accept: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!("fake telegram: TLS handshake from {peer}: {e}");
                    return;
                }
            };
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(shared, peer, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        });
    }
}

async fn read_body(shared: &Shared, body: Incoming) -> Result<Bytes, ApiErr> {
    match Limited::new(body, shared.max_body_bytes).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(_) => Err(ApiErr::new(413, "Request Entity Too Large")),
    }
}

async fn handle(shared: Arc<Shared>, peer: SocketAddr, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_string();
    if path == "/control" || path.starts_with("/control/") {
        return control(shared, peer, req).await;
    }
    let Some(rest) = path.strip_prefix("/bot") else {
        return json_response(404, &ApiErr::not_found().body());
    };
    let (token, method) = rest.split_once('/').unwrap_or((rest, ""));
    let method = method.trim_matches('/').to_string();
    let authorized = token == shared.token;
    let http_method = req.method().as_str().to_string();
    let query = req.uri().query().map(str::to_string);
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let parsed = match read_body(&shared, req.into_body()).await {
        Ok(body) => parse_params(query.as_deref(), content_type.as_deref(), body).await,
        Err(e) => Err(e),
    };
    let (params, parse_error) = match parsed {
        Ok(p) => (p, None),
        Err(e) => (Params::default(), Some(e)),
    };
    let seq = shared
        .lock()
        .record(&http_method, &method, authorized, content_type, &params);
    // Handled in its own task: a call whose client gave up (a timeout during
    // a hang, say) still completes and is recorded, as on Telegram's side.
    let task = tokio::spawn(async move {
        let result = if !authorized {
            Err(ApiErr::unauthorized())
        } else if method.is_empty() {
            Err(ApiErr::not_found())
        } else if let Some(e) = parse_error {
            Err(e)
        } else {
            run_with_faults(&shared, seq, &method.to_ascii_lowercase(), params).await
        };
        let (status, body) = match result {
            Ok(a) => (200, a.body()),
            Err(e) => (e.code, e.body()),
        };
        shared.lock().finish(seq, status, &body);
        (status, body)
    });
    match task.await {
        Ok((status, body)) => json_response(status, &body),
        Err(_) => json_response(500, &ApiErr::server(500).body()),
    }
}

async fn run_with_faults(
    shared: &Arc<Shared>,
    seq: u64,
    method: &str,
    params: Params,
) -> Result<Answer, ApiErr> {
    let fault = shared.lock().take_fault(seq, method);
    match fault {
        None => run(shared, method, params).await,
        Some(Fault::TooManyRequests { retry_after }) => Err(ApiErr::too_many(retry_after)),
        Some(Fault::ServerError { status }) => Err(ApiErr::server(status)),
        Some(Fault::Error {
            status,
            description,
        }) => Err(ApiErr::new(status, description)),
        Some(Fault::ServerErrorAfterApplying { status }) => {
            let _ = run(shared, method, params).await;
            Err(ApiErr::server(status))
        }
        Some(Fault::Hang { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            run(shared, method, params).await
        }
    }
}

async fn run(shared: &Arc<Shared>, method: &str, params: Params) -> Result<Answer, ApiErr> {
    if method == "getupdates" {
        return long_poll(shared, &params).await;
    }
    let r = shared.lock().call(method, &params);
    shared.changed();
    r
}

fn terminated(st: &State) -> ApiErr {
    if st.webhook.is_some() {
        ApiErr::new(409, "Conflict: terminated by setWebhook request")
    } else {
        ApiErr::new(
            409,
            "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
        )
    }
}

async fn long_poll(shared: &Arc<Shared>, params: &Params) -> Result<Answer, ApiErr> {
    let (generation, limit, timeout) = {
        let mut st = shared.lock();
        let (g, limit, timeout) = st.begin_get_updates(params)?;
        let ups = st.pending(limit);
        if !ups.is_empty() || timeout.is_zero() {
            drop(st);
            shared.changed();
            return Ok(json!(ups).into());
        }
        (g, limit, timeout)
    };
    // Cut off an older poll (it sees the new generation).
    shared.changed();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = shared.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let st = shared.lock();
            if st.poll_generation != generation {
                return Err(terminated(&st));
            }
            let ups = st.pending(limit);
            if !ups.is_empty() {
                return Ok(json!(ups).into());
            }
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(deadline) => {
                let st = shared.lock();
                if st.poll_generation != generation {
                    return Err(terminated(&st));
                }
                return Ok(json!(st.pending(limit)).into());
            }
        }
    }
}

/// Delivers pending updates to the webhook, one at a time, in order.
pub(crate) async fn webhook_sender(shared: Arc<Shared>) {
    loop {
        let notified = shared.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let job = {
            let st = shared.lock();
            match (&st.webhook, st.first_pending()) {
                (Some(w), Some((id, update))) => {
                    Some((w.url.clone(), w.secret_token.clone(), id, update))
                }
                _ => None,
            }
        };
        let Some((url, secret, id, update)) = job else {
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            continue;
        };
        let mut headers = vec![("content-type", "application/json")];
        if let Some(s) = secret.as_deref() {
            headers.push(("x-telegram-bot-api-secret-token", s));
        }
        let ca = shared.pki.ca_pem.clone();
        let res = http_client::request(
            "POST",
            &url,
            &headers,
            update.to_string().into_bytes(),
            &[ca.as_str()],
            Duration::from_secs(10),
        )
        .await;
        match res {
            Ok((status, _)) if (200..300).contains(&status) => {
                shared.lock().delivered(id);
                shared.changed();
            }
            Ok((status, _)) => {
                let reason = StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                shared.lock().webhook_error(format!(
                    "Wrong response from the webhook: {status} {reason}"
                ));
                tokio::time::sleep(shared.webhook_retry).await;
            }
            Err(e) => {
                shared.lock().webhook_error(e.to_string());
                tokio::time::sleep(shared.webhook_retry).await;
            }
        }
    }
}

/// Parses the parameters of a Bot API call from the query string and the
/// body (JSON, urlencoded form or multipart form).
pub(crate) async fn parse_params(
    query: Option<&str>,
    content_type: Option<&str>,
    body: Bytes,
) -> Result<Params, ApiErr> {
    let mut p = Params::default();
    if let Some(q) = query {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(q).map_err(|_| ApiErr::bad("can't parse query string"))?;
        for (k, v) in pairs {
            p.map.insert(k, Value::String(v));
        }
    }
    if body.is_empty() {
        return Ok(p);
    }
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if ct.starts_with("application/json") {
        let v: Value =
            serde_json::from_slice(&body).map_err(|_| ApiErr::bad("can't parse JSON object"))?;
        match v {
            Value::Object(m) => p.map.extend(m),
            _ => return Err(ApiErr::bad("can't parse JSON object")),
        }
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
            .map_err(|_| ApiErr::bad("can't parse request body"))?;
        for (k, v) in pairs {
            p.map.insert(k, Value::String(v));
        }
    } else if ct.starts_with("multipart/form-data") {
        let boundary = multer::parse_boundary(content_type.unwrap_or(""))
            .map_err(|_| ApiErr::bad("can't parse multipart boundary"))?;
        let stream = futures::stream::once(async move { Ok::<Bytes, Infallible>(body) });
        let mut mp = multer::Multipart::new(stream, boundary);
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => return Err(ApiErr::bad("can't parse multipart request")),
            };
            let name = field.name().unwrap_or("").to_string();
            let file_name = field.file_name().map(str::to_string);
            let ctype = field.content_type().map(|m| m.to_string());
            let data = field
                .bytes()
                .await
                .map_err(|_| ApiErr::bad("can't parse multipart request"))?;
            if file_name.is_some() {
                p.files.push(Upload {
                    field: name,
                    file_name,
                    content_type: ctype,
                    data: data.to_vec(),
                });
            } else {
                p.map.insert(
                    name,
                    Value::String(String::from_utf8_lossy(&data).into_owned()),
                );
            }
        }
    } else {
        return Err(ApiErr::bad("unsupported content type"));
    }
    Ok(p)
}

// ---------------------------------------------------------------- control API

fn control_error(e: &ControlError) -> Resp {
    let status = match e {
        ControlError::UnknownUser(_)
        | ControlError::UnknownChat(_)
        | ControlError::UnknownMessage { .. } => 404,
        _ => 400,
    };
    json_response(status, &json!({"error": e.to_string()}))
}

fn bad_request(msg: impl std::fmt::Display) -> Resp {
    json_response(400, &json!({"error": msg.to_string()}))
}

fn query_map(q: Option<&str>) -> Map<String, Value> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(q.unwrap_or(""))
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

#[derive(Deserialize)]
struct SendTextReq {
    user: i64,
    #[serde(default)]
    chat: Option<i64>,
    text: String,
}

#[derive(Deserialize)]
struct PressReq {
    user: i64,
    #[serde(default)]
    chat: Option<i64>,
    message_id: i64,
    #[serde(default)]
    button: Option<usize>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    data: Option<String>,
}

#[derive(Deserialize)]
struct FaultReq {
    method: String,
    fault: Fault,
    #[serde(default = "one")]
    times: u32,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
struct GroupReq {
    title: String,
}

#[derive(Deserialize)]
struct BlockReq {
    user: i64,
    #[serde(default = "yes")]
    blocked: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct ClockReq {
    advance_ms: u64,
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, serde_json::Error> {
    serde_json::from_slice(body)
}

async fn control(shared: Arc<Shared>, peer: SocketAddr, req: Request<Incoming>) -> Resp {
    if !peer.ip().is_loopback() && !shared.control_from_any_address {
        return json_response(
            403,
            &json!({"error": "the control API answers loopback clients only"}),
        );
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = query_map(req.uri().query());
    let body = match read_body(&shared, req.into_body()).await {
        Ok(b) => b,
        Err(e) => return json_response(e.code, &json!({"error": e.description})),
    };
    let segs: Vec<&str> = path.trim_matches('/').split('/').skip(1).collect();
    let get = method == hyper::Method::GET;
    let post = method == hyper::Method::POST;
    let resp = match (segs.as_slice(), get, post) {
        (["dump"], true, _) => json_response(200, &shared.lock().dump()),
        (["ca.pem"], true, _) => {
            let mut r = Response::new(Full::new(Bytes::from(shared.pki.ca_pem.clone())));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/x-pem-file"),
            );
            r
        }
        (["requests"], true, _) => {
            let st = shared.lock();
            let filter = query.get("method").and_then(Value::as_str);
            let list: Vec<_> = st
                .requests()
                .iter()
                .filter(|r| filter.is_none_or(|m| r.method.eq_ignore_ascii_case(m)))
                .collect();
            json_response(200, &json!(list))
        }
        (["users"], true, _) => json_response(200, &json!(shared.lock().users())),
        (["users"], _, true) => match parse_json::<UserSpec>(&body) {
            Ok(spec) => match shared.lock().add_user(spec) {
                Ok(u) => json_response(200, &json!(u)),
                Err(e) => control_error(&e),
            },
            Err(e) => bad_request(e),
        },
        (["groups"], _, true) => match parse_json::<GroupReq>(&body) {
            Ok(g) => json_response(200, &json!({"chat_id": shared.lock().add_group(&g.title)})),
            Err(e) => bad_request(e),
        },
        (["chats"], true, _) => json_response(200, &json!(shared.lock().chat_ids())),
        (["chats", id, "messages"], true, _) => match id.parse::<i64>() {
            Ok(id) => match shared.lock().messages(id) {
                Ok(m) => json_response(200, &json!(m)),
                Err(e) => control_error(&e),
            },
            Err(e) => bad_request(e),
        },
        (["send_text"], _, true) => match parse_json::<SendTextReq>(&body) {
            Ok(r) => {
                let res = shared.lock().user_sends_text(r.user, r.chat, &r.text);
                shared.changed();
                match res {
                    Ok(m) => json_response(200, &m),
                    Err(e) => control_error(&e),
                }
            }
            Err(e) => bad_request(e),
        },
        (["press"], _, true) => match parse_json::<PressReq>(&body) {
            Ok(r) => {
                let chat = r.chat.unwrap_or(r.user);
                let res = {
                    let mut st = shared.lock();
                    let button = match (&r.text, r.button) {
                        (Some(label), _) if r.data.is_none() => st
                            .messages(chat)
                            .ok()
                            .and_then(|ms| {
                                ms.into_iter()
                                    .find(|m| m.message_id == r.message_id)
                                    .and_then(|m| m.buttons().iter().position(|b| &b.text == label))
                            })
                            .map(Some)
                            .ok_or_else(|| {
                                ControlError::Invalid(format!("no button labelled {label:?}"))
                            }),
                        (_, b) => Ok(b),
                    };
                    match button {
                        Ok(b) => match r.data {
                            Some(d) => st.press(r.user, chat, r.message_id, None, Some(d)),
                            None => st.press(r.user, chat, r.message_id, b, None),
                        },
                        Err(e) => Err(e),
                    }
                };
                shared.changed();
                match res {
                    Ok(id) => json_response(200, &json!({"callback_query_id": id})),
                    Err(e) => control_error(&e),
                }
            }
            Err(e) => bad_request(e),
        },
        (["callback_queries"], true, _) => json_response(200, &json!(shared.lock().callbacks())),
        (["faults"], _, true) => match parse_json::<FaultReq>(&body) {
            Ok(f) => {
                shared.lock().add_fault(&f.method, f.fault, f.times);
                json_response(200, &json!({"ok": true}))
            }
            Err(e) => bad_request(e),
        },
        (["faults"], _, _) if method == hyper::Method::DELETE => {
            shared.lock().clear_faults();
            json_response(200, &json!({"ok": true}))
        }
        (["send_stats"], true, _) => {
            let window = query
                .get("window_ms")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
                .unwrap_or(1000);
            json_response(
                200,
                &json!(shared.lock().send_stats(Duration::from_millis(window))),
            )
        }
        (["block"], _, true) => match parse_json::<BlockReq>(&body) {
            Ok(b) => match shared.lock().set_blocked(b.user, b.blocked) {
                Ok(()) => json_response(200, &json!({"ok": true})),
                Err(e) => control_error(&e),
            },
            Err(e) => bad_request(e),
        },
        (["clock"], _, true) => match parse_json::<ClockReq>(&body) {
            Ok(c) => {
                shared
                    .lock()
                    .advance_clock(Duration::from_millis(c.advance_ms));
                json_response(200, &json!({"ok": true}))
            }
            Err(e) => bad_request(e),
        },
        (["webhook"], true, _) => json_response(200, &shared.lock().webhook_info()),
        _ => json_response(
            404,
            &json!({"error": format!("no control endpoint {method} {path}")}),
        ),
    };
    resp
}
