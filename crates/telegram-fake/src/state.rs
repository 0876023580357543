//! The fake's state and the Bot API methods, without any I/O (the server
//! module does HTTP, long polling and webhook delivery around it).

use crate::html;
use crate::model::*;
use crate::rate::{self, RateLimiter, SendEvent, SendStats};
use crate::Config;
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// An error answer of the Bot API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiErr {
    /// `error_code` and HTTP status.
    pub code: u16,
    /// `description`.
    pub description: String,
    /// `parameters.retry_after`.
    pub retry_after: Option<u64>,
}

impl ApiErr {
    pub fn new(code: u16, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after: None,
        }
    }
    pub fn bad(what: impl AsRef<str>) -> Self {
        Self::new(400, format!("Bad Request: {}", what.as_ref()))
    }
    pub fn forbidden(what: &str) -> Self {
        Self::new(403, format!("Forbidden: {what}"))
    }
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized")
    }
    pub fn not_found() -> Self {
        Self::new(404, "Not Found")
    }
    pub fn too_many(retry_after: u64) -> Self {
        Self {
            code: 429,
            description: format!("Too Many Requests: retry after {retry_after}"),
            retry_after: Some(retry_after),
        }
    }
    pub fn server(status: u16) -> Self {
        let text = match status {
            500 => "Internal Server Error",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => "Server Error",
        };
        Self::new(status, text)
    }
    pub fn body(&self) -> Value {
        let mut v = json!({"ok": false, "error_code": self.code, "description": self.description});
        if let Some(r) = self.retry_after {
            v["parameters"] = json!({ "retry_after": r });
        }
        v
    }
}

/// A successful answer: `result` and the optional top-level `description`.
#[derive(Debug)]
pub struct Answer {
    pub result: Value,
    pub description: Option<String>,
}

impl From<Value> for Answer {
    fn from(result: Value) -> Self {
        Self {
            result,
            description: None,
        }
    }
}

impl Answer {
    pub fn body(&self) -> Value {
        let mut v = json!({"ok": true, "result": self.result});
        if let Some(d) = &self.description {
            v["description"] = json!(d);
        }
        v
    }
}

/// A file part of a request.
#[derive(Clone, Debug)]
pub struct Upload {
    pub field: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// Request parameters from any of the accepted encodings. Values from a
/// query string, a form or multipart text fields are strings; getters
/// coerce them the way the Bot API does.
#[derive(Clone, Debug, Default)]
pub struct Params {
    pub map: Map<String, Value>,
    pub files: Vec<Upload>,
}

impl Params {
    fn raw(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }
    pub fn string(&self, name: &str) -> Option<String> {
        match self.raw(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => Some(other.to_string()),
        }
    }
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiErr> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiErr::bad(format!("invalid {name} specified"))),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ApiErr::bad(format!("invalid {name} specified"))),
            Some(_) => Err(ApiErr::bad(format!("invalid {name} specified"))),
        }
    }
    pub fn bool(&self, name: &str) -> bool {
        match self.raw(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => matches!(s.as_str(), "true" | "True" | "1"),
            Some(Value::Number(n)) => n.as_i64().unwrap_or(0) != 0,
            _ => false,
        }
    }
    /// A JSON-serialized parameter: an object/array in a JSON body, or a
    /// string holding JSON in other encodings.
    pub fn json(&self, name: &str, err: &str) -> Result<Option<Value>, ApiErr> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| ApiErr::bad(err)),
            Some(v) => Ok(Some(v.clone())),
        }
    }
    pub fn file(&self, field: &str) -> Option<&Upload> {
        self.files.iter().find(|f| f.field == field)
    }
}

enum ChatKind {
    Private { user: i64 },
    Group { title: String },
}

struct ChatRec {
    kind: ChatKind,
    started: bool,
    next_message_id: i64,
    messages: Vec<ChatMessage>,
}

struct UserRec {
    user: User,
    blocked_bot: bool,
}

struct PendingUpdate {
    update_id: i64,
    kind: &'static str,
    update: Value,
}

/// The whole fake: users, chats, updates, requests, faults, limits.
pub struct State {
    config: Config,
    bot: User,
    started: Instant,
    clock_offset_ms: i64,
    users: BTreeMap<i64, UserRec>,
    chats: BTreeMap<i64, ChatRec>,
    next_user_id: i64,
    next_group_id: i64,
    updates: VecDeque<PendingUpdate>,
    next_update_id: i64,
    all_updates: Vec<Value>,
    allowed_updates: Option<Vec<String>>,
    pub(crate) webhook: Option<WebhookState>,
    pub(crate) poll_generation: u64,
    callbacks: BTreeMap<String, CallbackRecord>,
    next_callback: u64,
    requests: Vec<RecordedRequest>,
    faults: Vec<(String, Fault, u32)>,
    limiter: RateLimiter,
    sends: Vec<SendEvent>,
    rejected_429: u64,
    file_counter: u64,
}

const UPDATE_TYPES_DEFAULT_EXCLUDED: [&str; 3] =
    ["chat_member", "message_reaction", "message_reaction_count"];

fn png_size(data: &[u8]) -> (u32, u32) {
    if data.len() >= 24 && data.starts_with(b"\x89PNG\r\n\x1a\n") && &data[12..16] == b"IHDR" {
        let w = u32::from_be_bytes([data[16], data[17], data[18], data[19]]);
        let h = u32::from_be_bytes([data[20], data[21], data[22], data[23]]);
        (w, h)
    } else {
        (0, 0)
    }
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

impl State {
    pub fn new(config: Config) -> Self {
        let bot_id = config
            .token
            .split(':')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        let bot = User {
            id: bot_id,
            is_bot: true,
            first_name: config.bot_first_name.clone(),
            last_name: None,
            username: Some(config.bot_username.clone()),
            language_code: None,
        };
        let now = Instant::now();
        Self {
            limiter: RateLimiter::new(config.rate_limits.clone(), now),
            next_update_id: config.first_update_id,
            config,
            bot,
            started: now,
            clock_offset_ms: 0,
            users: BTreeMap::new(),
            chats: BTreeMap::new(),
            next_user_id: 100_000_001,
            next_group_id: -4_000_000_001,
            updates: VecDeque::new(),
            all_updates: Vec::new(),
            allowed_updates: None,
            webhook: None,
            poll_generation: 0,
            callbacks: BTreeMap::new(),
            next_callback: 0,
            requests: Vec::new(),
            faults: Vec::new(),
            sends: Vec::new(),
            rejected_429: 0,
            file_counter: 0,
        }
    }

    pub fn bot(&self) -> &User {
        &self.bot
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    // ---- clock ----

    pub fn now_ms(&self) -> u64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        (real + self.clock_offset_ms).max(0) as u64
    }

    fn now_s(&self) -> i64 {
        (self.now_ms() / 1000) as i64
    }

    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub fn advance_clock(&mut self, by: Duration) {
        self.clock_offset_ms += by.as_millis() as i64;
    }

    // ---- recording ----

    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        http_method: &str,
        method: &str,
        authorized: bool,
        content_type: Option<String>,
        params: &Params,
    ) -> u64 {
        let seq = self.requests.len() as u64 + 1;
        let files = params
            .files
            .iter()
            .map(|f| RecordedFile {
                field: f.field.clone(),
                file_name: f.file_name.clone(),
                content_type: f.content_type.clone(),
                size: f.data.len(),
                data_base64: b64(&f.data),
            })
            .collect();
        let req = RecordedRequest {
            seq,
            at_ms: self.elapsed_ms(),
            unix_ms: self.now_ms(),
            http_method: http_method.to_string(),
            method: method.to_string(),
            authorized,
            content_type,
            params: Value::Object(params.map.clone()),
            files,
            fault: None,
            status: None,
            response: None,
        };
        self.requests.push(req);
        seq
    }

    pub fn finish(&mut self, seq: u64, status: u16, body: &Value) {
        if let Some(r) = self.requests.get_mut(seq as usize - 1) {
            r.status = Some(status);
            r.response = Some(body.clone());
        }
    }

    pub fn requests(&self) -> &[RecordedRequest] {
        &self.requests
    }

    // ---- faults ----

    pub fn add_fault(&mut self, method: &str, fault: Fault, times: u32) {
        if times > 0 {
            self.faults
                .push((method.to_ascii_lowercase(), fault, times));
        }
    }

    pub fn clear_faults(&mut self) {
        self.faults.clear();
    }

    pub fn take_fault(&mut self, seq: u64, method_lc: &str) -> Option<Fault> {
        let pos = self
            .faults
            .iter()
            .position(|(m, _, _)| m == method_lc || m == "*")?;
        let fault = self.faults[pos].1.clone();
        self.faults[pos].2 -= 1;
        if self.faults[pos].2 == 0 {
            self.faults.remove(pos);
        }
        if let Some(r) = self.requests.get_mut(seq as usize - 1) {
            r.fault = Some(fault.clone());
        }
        Some(fault)
    }

    // ---- users and chats ----

    pub fn add_user(&mut self, spec: UserSpec) -> Result<User, ControlError> {
        let id = match spec.id {
            Some(id) => id,
            None => {
                while self.users.contains_key(&self.next_user_id) {
                    self.next_user_id += 1;
                }
                self.next_user_id
            }
        };
        if id <= 0 {
            return Err(ControlError::Invalid("user ids are positive".into()));
        }
        if self.users.contains_key(&id) {
            return Err(ControlError::UserExists(id));
        }
        let user = User {
            id,
            is_bot: false,
            first_name: spec.first_name.unwrap_or_else(|| format!("User {id}")),
            last_name: spec.last_name,
            username: spec.username,
            language_code: Some(spec.language_code.unwrap_or_else(|| "en".into())),
        };
        self.users.insert(
            id,
            UserRec {
                user: user.clone(),
                blocked_bot: false,
            },
        );
        self.chats.insert(
            id,
            ChatRec {
                kind: ChatKind::Private { user: id },
                started: false,
                next_message_id: 1,
                messages: Vec::new(),
            },
        );
        Ok(user)
    }

    pub fn add_group(&mut self, title: &str) -> i64 {
        let id = self.next_group_id;
        self.next_group_id -= 1;
        self.chats.insert(
            id,
            ChatRec {
                kind: ChatKind::Group {
                    title: title.to_string(),
                },
                started: true,
                next_message_id: 1,
                messages: Vec::new(),
            },
        );
        id
    }

    pub fn set_blocked(&mut self, user: i64, blocked: bool) -> Result<(), ControlError> {
        let rec = self
            .users
            .get_mut(&user)
            .ok_or(ControlError::UnknownUser(user))?;
        rec.blocked_bot = blocked;
        Ok(())
    }

    pub fn users(&self) -> Vec<User> {
        self.users.values().map(|u| u.user.clone()).collect()
    }

    fn user_json(&self, id: i64) -> Value {
        if id == self.bot.id {
            return json!(self.bot);
        }
        match self.users.get(&id) {
            Some(u) => json!(u.user),
            None => json!({"id": id, "is_bot": false, "first_name": format!("User {id}")}),
        }
    }

    fn chat_json(&self, chat_id: i64) -> Value {
        match self.chats.get(&chat_id).map(|c| &c.kind) {
            Some(ChatKind::Private { user }) => {
                let u = self.users.get(user).map(|u| &u.user);
                let mut v = json!({"id": chat_id, "type": "private"});
                if let Some(u) = u {
                    v["first_name"] = json!(u.first_name);
                    if let Some(l) = &u.last_name {
                        v["last_name"] = json!(l);
                    }
                    if let Some(n) = &u.username {
                        v["username"] = json!(n);
                    }
                }
                v
            }
            Some(ChatKind::Group { title }) => {
                json!({"id": chat_id, "title": title, "type": "group"})
            }
            None => json!({"id": chat_id, "type": "private"}),
        }
    }

    fn message_json(&self, chat_id: i64, m: &ChatMessage) -> Value {
        let mut v = json!({
            "message_id": m.message_id,
            "from": self.user_json(m.from_id),
            "chat": self.chat_json(chat_id),
            "date": m.date,
        });
        if let Some(d) = m.edit_date {
            v["edit_date"] = json!(d);
        }
        if let Some(t) = &m.text {
            v["text"] = json!(t);
            if !m.entities.is_empty() {
                v["entities"] = json!(m.entities);
            }
        }
        if let Some(p) = &m.photo {
            v["photo"] = json!([{
                "file_id": p.file_id,
                "file_unique_id": p.file_unique_id,
                "file_size": p.size,
                "width": p.width,
                "height": p.height,
            }]);
            if let Some(c) = &m.caption {
                v["caption"] = json!(c);
                if !m.caption_entities.is_empty() {
                    v["caption_entities"] = json!(m.caption_entities);
                }
            }
        }
        if let Some(rm) = &m.reply_markup {
            v["reply_markup"] = rm.clone();
        }
        if m.link_preview_disabled && m.text.is_some() {
            v["link_preview_options"] = json!({"is_disabled": true});
        }
        v
    }

    pub fn messages(&self, chat_id: i64) -> Result<Vec<ChatMessage>, ControlError> {
        self.chats
            .get(&chat_id)
            .map(|c| c.messages.clone())
            .ok_or(ControlError::UnknownChat(chat_id))
    }

    pub fn chat_ids(&self) -> Vec<i64> {
        self.chats.keys().copied().collect()
    }

    // ---- updates ----

    fn push_update(&mut self, kind: &'static str, body: Value) -> i64 {
        let update_id = self.next_update_id;
        self.next_update_id += 1;
        let mut update = json!({ "update_id": update_id });
        update[kind] = body;
        self.all_updates.push(update.clone());
        if self.is_allowed(kind) {
            self.updates.push_back(PendingUpdate {
                update_id,
                kind,
                update,
            });
        }
        update_id
    }

    fn is_allowed(&self, kind: &str) -> bool {
        match &self.allowed_updates {
            Some(list) if !list.is_empty() => list.iter().any(|k| k == kind),
            _ => !UPDATE_TYPES_DEFAULT_EXCLUDED.contains(&kind),
        }
    }

    fn set_allowed(&mut self, p: &Params) -> Result<(), ApiErr> {
        if let Some(v) = p.json("allowed_updates", "can't parse allowed updates")? {
            let list: Vec<String> = serde_json::from_value(v)
                .map_err(|_| ApiErr::bad("can't parse allowed updates"))?;
            self.allowed_updates = Some(list);
            let keep: Vec<PendingUpdate> = std::mem::take(&mut self.updates)
                .into_iter()
                .filter(|u| self.is_allowed(u.kind))
                .collect();
            self.updates = keep.into();
        }
        Ok(())
    }

    /// First half of getUpdates: conflicts, offset confirmation, allowed
    /// updates. Returns (poll generation, limit, timeout).
    pub fn begin_get_updates(&mut self, p: &Params) -> Result<(u64, usize, Duration), ApiErr> {
        if self.webhook.is_some() {
            return Err(ApiErr::new(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            ));
        }
        let offset = p.int("offset")?.unwrap_or(0);
        self.confirm(offset);
        self.set_allowed(p)?;
        let limit = p.int("limit")?.unwrap_or(100).clamp(1, 100) as usize;
        let timeout = p.int("timeout")?.unwrap_or(0).clamp(0, 3600) as u64;
        self.poll_generation += 1;
        Ok((self.poll_generation, limit, Duration::from_secs(timeout)))
    }

    /// Applies getUpdates offset semantics.
    pub fn confirm(&mut self, offset: i64) {
        if offset > 0 {
            while self.updates.front().is_some_and(|u| u.update_id < offset) {
                self.updates.pop_front();
            }
        } else if offset < 0 {
            let keep = offset.unsigned_abs() as usize;
            while self.updates.len() > keep {
                self.updates.pop_front();
            }
        }
    }

    pub fn pending(&self, limit: usize) -> Vec<Value> {
        self.updates
            .iter()
            .take(limit)
            .map(|u| u.update.clone())
            .collect()
    }

    pub fn pending_count(&self) -> usize {
        self.updates.len()
    }

    /// The first pending update (for webhook delivery).
    pub fn first_pending(&self) -> Option<(i64, Value)> {
        self.updates
            .front()
            .map(|u| (u.update_id, u.update.clone()))
    }

    pub fn delivered(&mut self, update_id: i64) {
        if self
            .updates
            .front()
            .is_some_and(|u| u.update_id == update_id)
        {
            self.updates.pop_front();
        }
        if let Some(w) = self.webhook.as_mut() {
            w.last_error = None;
        }
    }

    pub fn webhook_error(&mut self, message: String) {
        let now = self.now_s();
        if let Some(w) = self.webhook.as_mut() {
            w.last_error = Some((now, message));
        }
    }

    // ---- playing the user ----

    pub fn user_sends_text(
        &mut self,
        user: i64,
        chat: Option<i64>,
        text: &str,
    ) -> Result<Value, ControlError> {
        if !self.users.contains_key(&user) {
            return Err(ControlError::UnknownUser(user));
        }
        let chat_id = chat.unwrap_or(user);
        let date = self.now_s();
        let c = self
            .chats
            .get_mut(&chat_id)
            .ok_or(ControlError::UnknownChat(chat_id))?;
        c.started = true;
        let message_id = c.next_message_id;
        c.next_message_id += 1;
        let mut entities = Vec::new();
        if text.starts_with('/') {
            let len = text.find(char::is_whitespace).unwrap_or(text.len());
            entities.push(json!({"offset": 0, "length": text[..len].encode_utf16().count(), "type": "bot_command"}));
        }
        let msg = ChatMessage {
            message_id,
            date,
            from_id: user,
            from_bot: false,
            text: Some(text.to_string()),
            entities,
            parse_mode: None,
            caption: None,
            caption_entities: Vec::new(),
            photo: None,
            reply_markup: None,
            link_preview_disabled: false,
            edit_date: None,
            deleted: false,
            history: Vec::new(),
        };
        c.messages.push(msg.clone());
        let body = self.message_json(chat_id, &msg);
        self.push_update("message", body.clone());
        Ok(body)
    }

    fn find_message(&self, chat_id: i64, message_id: i64) -> Result<&ChatMessage, ControlError> {
        let c = self
            .chats
            .get(&chat_id)
            .ok_or(ControlError::UnknownChat(chat_id))?;
        c.messages
            .iter()
            .find(|m| m.message_id == message_id)
            .ok_or(ControlError::UnknownMessage {
                chat_id,
                message_id,
            })
    }

    /// A press on a message: the data comes from button `button` of the
    /// message's current keyboard, or is `forged` verbatim. Returns the
    /// callback query id.
    pub fn press(
        &mut self,
        user: i64,
        chat_id: i64,
        message_id: i64,
        button: Option<usize>,
        forged: Option<String>,
    ) -> Result<String, ControlError> {
        if !self.users.contains_key(&user) {
            return Err(ControlError::UnknownUser(user));
        }
        let m = self.find_message(chat_id, message_id)?;
        if m.deleted {
            return Err(ControlError::MessageDeleted(message_id));
        }
        let data = match (forged, button) {
            (Some(d), _) => d,
            (None, Some(index)) => {
                let buttons = m.buttons();
                let b = buttons.get(index).ok_or(ControlError::NoSuchButton {
                    message_id,
                    index,
                    count: buttons.len(),
                })?;
                b.callback_data
                    .clone()
                    .ok_or(ControlError::NotACallbackButton(index))?
            }
            (None, None) => {
                return Err(ControlError::Invalid(
                    "a press needs a button index or data".into(),
                ))
            }
        };
        let message = self.message_json(chat_id, m);
        self.next_callback += 1;
        let id = (4_812_000_000_000_000_000u64 + self.next_callback * 7_919).to_string();
        let chat_instance = format!(
            "{}",
            (chat_id.wrapping_mul(2_654_435_761)).rem_euclid(1 << 62)
        );
        let body = json!({
            "id": id,
            "from": self.user_json(user),
            "message": message,
            "chat_instance": chat_instance,
            "data": data,
        });
        let rec = CallbackRecord {
            id: id.clone(),
            from_user: user,
            chat_id,
            message_id,
            data,
            forged: button.is_none(),
            button_index: button,
            pressed_unix_ms: self.now_ms(),
            answer: None,
        };
        self.callbacks.insert(id.clone(), rec);
        self.push_update("callback_query", body);
        Ok(id)
    }

    pub fn callbacks(&self) -> Vec<CallbackRecord> {
        self.callbacks.values().cloned().collect()
    }

    // ---- rate limiting ----

    fn flood_check(&mut self, chat_id: i64) -> Result<(), ApiErr> {
        self.limiter
            .check(chat_id, Instant::now())
            .map_err(|retry| {
                self.rejected_429 += 1;
                ApiErr::too_many(retry)
            })
    }

    fn count_send(&mut self, chat_id: i64, method: &str) {
        let at_ms = self.elapsed_ms();
        self.sends.push(SendEvent {
            at_ms,
            chat_id,
            method: method.to_string(),
        });
    }

    pub fn send_stats(&self, window: Duration) -> SendStats {
        rate::stats(&self.sends, window, self.rejected_429)
    }

    pub fn sends(&self) -> &[SendEvent] {
        &self.sends
    }

    // ---- Bot API ----

    /// Runs a Bot API method other than getUpdates (`method` lower-case).
    pub fn call(&mut self, method: &str, p: &Params) -> Result<Answer, ApiErr> {
        match method {
            "getme" => Ok(self.get_me().into()),
            "sendmessage" => self.send_message(p).map(Answer::from),
            "sendphoto" => self.send_photo(p).map(Answer::from),
            "editmessagetext" => self.edit(p, true).map(Answer::from),
            "editmessagereplymarkup" => self.edit(p, false).map(Answer::from),
            "deletemessage" => self.delete_message(p).map(Answer::from),
            "answercallbackquery" => self.answer_callback(p).map(Answer::from),
            "setwebhook" => self.set_webhook(p),
            "deletewebhook" => self.delete_webhook(p),
            "getwebhookinfo" => Ok(self.webhook_info().into()),
            "getchat" => {
                let chat = self.chat_id(p)?;
                Ok(self.chat_json(chat).into())
            }
            _ => Err(ApiErr::not_found()),
        }
    }

    fn get_me(&self) -> Value {
        let mut v = json!(self.bot);
        v["can_join_groups"] = json!(true);
        v["can_read_all_group_messages"] = json!(false);
        v["supports_inline_queries"] = json!(false);
        v["can_connect_to_business"] = json!(false);
        v["has_main_web_app"] = json!(false);
        v
    }

    fn chat_id(&self, p: &Params) -> Result<i64, ApiErr> {
        let raw = p
            .string("chat_id")
            .ok_or_else(|| ApiErr::bad("chat_id is empty"))?;
        let id = match raw.strip_prefix('@') {
            Some(name) => self
                .users
                .values()
                .find(|u| u.user.username.as_deref() == Some(name))
                .map(|u| u.user.id),
            None => raw.trim().parse().ok(),
        };
        match id {
            Some(id) if self.chats.contains_key(&id) => Ok(id),
            _ => Err(ApiErr::bad("chat not found")),
        }
    }

    fn check_can_send(&self, chat_id: i64) -> Result<(), ApiErr> {
        let Some(c) = self.chats.get(&chat_id) else {
            return Err(ApiErr::bad("chat not found"));
        };
        if let ChatKind::Private { user } = c.kind {
            if self.users.get(&user).is_some_and(|u| u.blocked_bot) {
                return Err(ApiErr::forbidden("bot was blocked by the user"));
            }
            if !c.started {
                return Err(ApiErr::forbidden(
                    "bot can't initiate conversation with a user",
                ));
            }
        }
        Ok(())
    }

    /// Applies parse_mode/entities to `text`.
    fn format(
        &self,
        text: &str,
        p: &Params,
        entities_param: &str,
    ) -> Result<(String, Vec<Value>, Option<String>), ApiErr> {
        let mode = p.string("parse_mode").filter(|m| !m.is_empty());
        match mode.as_deref() {
            None => {
                let entities = match p.json(entities_param, "can't parse entities JSON object")? {
                    Some(Value::Array(a)) => a,
                    Some(_) => return Err(ApiErr::bad("can't parse entities JSON object")),
                    None => Vec::new(),
                };
                Ok((text.to_string(), entities, None))
            }
            Some(m) if m.eq_ignore_ascii_case("html") => {
                let (plain, entities) = html::parse(text)
                    .map_err(|e| ApiErr::bad(format!("can't parse entities: {e}")))?;
                Ok((plain, html::clean(entities), mode))
            }
            Some(m)
                if m.eq_ignore_ascii_case("markdown") || m.eq_ignore_ascii_case("markdownv2") =>
            {
                // Not interpreted: kept verbatim (documented limitation).
                Ok((text.to_string(), Vec::new(), mode))
            }
            Some(_) => Err(ApiErr::bad("unsupported parse_mode")),
        }
    }

    fn reply_markup(&self, p: &Params) -> Result<Option<Value>, ApiErr> {
        let Some(markup) = p.json(
            "reply_markup",
            "can't parse reply keyboard markup JSON object",
        )?
        else {
            return Ok(None);
        };
        validate_markup(&markup)?;
        // Only inline keyboards are part of the Message object.
        Ok(markup.get("inline_keyboard").map(|_| markup.clone()))
    }

    fn link_preview_disabled(p: &Params) -> Result<bool, ApiErr> {
        if p.bool("disable_web_page_preview") {
            return Ok(true);
        }
        let lpo = p.json(
            "link_preview_options",
            "can't parse link preview options JSON object",
        )?;
        Ok(lpo
            .and_then(|v| v.get("is_disabled").and_then(Value::as_bool))
            .unwrap_or(false))
    }

    fn store_bot_message(&mut self, chat_id: i64, mut msg: ChatMessage) -> Value {
        let date = self.now_s();
        let Some(c) = self.chats.get_mut(&chat_id) else {
            return Value::Null;
        };
        msg.message_id = c.next_message_id;
        msg.date = date;
        c.next_message_id += 1;
        c.messages.push(msg.clone());
        self.message_json(chat_id, &msg)
    }

    fn blank_bot_message(&self) -> ChatMessage {
        ChatMessage {
            message_id: 0,
            date: 0,
            from_id: self.bot.id,
            from_bot: true,
            text: None,
            entities: Vec::new(),
            parse_mode: None,
            caption: None,
            caption_entities: Vec::new(),
            photo: None,
            reply_markup: None,
            link_preview_disabled: false,
            edit_date: None,
            deleted: false,
            history: Vec::new(),
        }
    }

    fn send_message(&mut self, p: &Params) -> Result<Value, ApiErr> {
        let chat_id = self.chat_id(p)?;
        let text = p.string("text").unwrap_or_default();
        if text.trim().is_empty() {
            return Err(ApiErr::bad("message text is empty"));
        }
        let (plain, entities, mode) = self.format(&text, p, "entities")?;
        if plain.trim().is_empty() {
            return Err(ApiErr::bad("message text is empty"));
        }
        if plain.chars().count() > 4096 {
            return Err(ApiErr::bad("message is too long"));
        }
        let markup = self.reply_markup(p)?;
        let lp = Self::link_preview_disabled(p)?;
        self.check_can_send(chat_id)?;
        self.flood_check(chat_id)?;
        let mut msg = self.blank_bot_message();
        msg.text = Some(plain);
        msg.entities = entities;
        msg.parse_mode = mode;
        msg.reply_markup = markup;
        msg.link_preview_disabled = lp;
        self.count_send(chat_id, "sendMessage");
        Ok(self.store_bot_message(chat_id, msg))
    }

    fn send_photo(&mut self, p: &Params) -> Result<Value, ApiErr> {
        let chat_id = self.chat_id(p)?;
        let source = p.string("photo").unwrap_or_default();
        let upload = match source.strip_prefix("attach://") {
            Some(name) => Some(
                p.file(name)
                    .ok_or_else(|| ApiErr::bad("wrong file identifier/HTTP URL specified"))?,
            ),
            None => p.file("photo"),
        };
        if upload.is_none() && source.is_empty() {
            return Err(ApiErr::bad("there is no photo in the request"));
        }
        let caption = p.string("caption").unwrap_or_default();
        let (plain, entities, mode) = self.format(&caption, p, "caption_entities")?;
        if plain.chars().count() > 1024 {
            return Err(ApiErr::bad("message caption is too long"));
        }
        let markup = self.reply_markup(p)?;
        self.check_can_send(chat_id)?;
        self.flood_check(chat_id)?;
        self.file_counter += 1;
        let n = self.file_counter;
        let photo = match upload {
            Some(f) => {
                let (width, height) = png_size(&f.data);
                PhotoRecord {
                    file_id: format!("AgACAgIAAxkBAAI{n:08}FakePhoto"),
                    file_unique_id: format!("AQAD{n:08}"),
                    size: f.data.len(),
                    width,
                    height,
                    data_base64: Some(b64(&f.data)),
                    source: None,
                }
            }
            None => PhotoRecord {
                file_id: format!("AgACAgIAAxkBAAI{n:08}FakePhoto"),
                file_unique_id: format!("AQAD{n:08}"),
                size: 0,
                width: 0,
                height: 0,
                data_base64: None,
                source: Some(source),
            },
        };
        let mut msg = self.blank_bot_message();
        msg.photo = Some(photo);
        if !plain.is_empty() {
            msg.caption = Some(plain);
            msg.caption_entities = entities;
        }
        msg.parse_mode = mode;
        msg.reply_markup = markup;
        self.count_send(chat_id, "sendPhoto");
        Ok(self.store_bot_message(chat_id, msg))
    }

    fn edit(&mut self, p: &Params, text_edit: bool) -> Result<Value, ApiErr> {
        if p.string("inline_message_id").is_some() {
            return Err(ApiErr::bad("message to edit not found"));
        }
        let chat_id = self.chat_id(p)?;
        let message_id = p
            .int("message_id")?
            .ok_or_else(|| ApiErr::bad("message identifier is not specified"))?;
        let new_text = if text_edit {
            let text = p.string("text").unwrap_or_default();
            if text.trim().is_empty() {
                return Err(ApiErr::bad("message text is empty"));
            }
            let (plain, entities, mode) = self.format(&text, p, "entities")?;
            if plain.chars().count() > 4096 {
                return Err(ApiErr::bad("MESSAGE_TOO_LONG"));
            }
            Some((plain, entities, mode))
        } else {
            None
        };
        let markup = self.reply_markup(p)?;
        let lp = Self::link_preview_disabled(p)?;
        let bot_id = self.bot.id;
        let now = self.now_s();
        let count_edits = self.limiter.limits().count_edits;
        {
            let c = self
                .chats
                .get(&chat_id)
                .ok_or_else(|| ApiErr::bad("chat not found"))?;
            let m = c
                .messages
                .iter()
                .find(|m| m.message_id == message_id && !m.deleted)
                .ok_or_else(|| ApiErr::bad("message to edit not found"))?;
            if m.from_id != bot_id {
                return Err(ApiErr::bad("message can't be edited"));
            }
            if let Some((plain, entities, _)) = &new_text {
                if m.text.is_none() {
                    return Err(ApiErr::bad("there is no text in the message to edit"));
                }
                if m.text.as_deref() == Some(plain.as_str())
                    && &m.entities == entities
                    && m.reply_markup == markup
                {
                    return Err(ApiErr::bad(NOT_MODIFIED));
                }
            } else if m.reply_markup == markup {
                return Err(ApiErr::bad(NOT_MODIFIED));
            }
        }
        if count_edits {
            self.flood_check(chat_id)?;
        }
        let Some(c) = self.chats.get_mut(&chat_id) else {
            return Err(ApiErr::bad("chat not found"));
        };
        let Some(m) = c
            .messages
            .iter_mut()
            .find(|m| m.message_id == message_id && !m.deleted)
        else {
            return Err(ApiErr::bad("message to edit not found"));
        };
        m.history.push(MessageVersion {
            replaced_at: now,
            text: m.text.clone(),
            caption: m.caption.clone(),
            reply_markup: m.reply_markup.clone(),
        });
        if let Some((plain, entities, mode)) = new_text {
            m.text = Some(plain);
            m.entities = entities;
            m.parse_mode = mode;
            m.link_preview_disabled = lp;
        }
        // Telegram removes the keyboard when an edit omits reply_markup.
        m.reply_markup = markup;
        m.edit_date = Some(now);
        let m = m.clone();
        if count_edits {
            self.count_send(
                chat_id,
                if text_edit {
                    "editMessageText"
                } else {
                    "editMessageReplyMarkup"
                },
            );
        }
        Ok(self.message_json(chat_id, &m))
    }

    fn delete_message(&mut self, p: &Params) -> Result<Value, ApiErr> {
        let chat_id = self.chat_id(p)?;
        let message_id = p
            .int("message_id")?
            .ok_or_else(|| ApiErr::bad("message identifier is not specified"))?;
        let now = self.now_s();
        let bot_id = self.bot.id;
        let c = self
            .chats
            .get_mut(&chat_id)
            .ok_or_else(|| ApiErr::bad("chat not found"))?;
        let m = c
            .messages
            .iter_mut()
            .find(|m| m.message_id == message_id && !m.deleted)
            .ok_or_else(|| ApiErr::bad("message to delete not found"))?;
        let private = matches!(c.kind, ChatKind::Private { .. });
        if now - m.date > 48 * 3600 || (!private && m.from_id != bot_id) {
            return Err(ApiErr::bad("message can't be deleted"));
        }
        m.deleted = true;
        Ok(json!(true))
    }

    fn answer_callback(&mut self, p: &Params) -> Result<Value, ApiErr> {
        let id = p.string("callback_query_id").unwrap_or_default();
        let text = p.string("text");
        if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
            return Err(ApiErr::bad("MESSAGE_TOO_LONG"));
        }
        let now = self.now_ms();
        let ttl = self.config.callback_query_ttl.as_millis() as u64;
        let invalid =
            ApiErr::bad("query is too old and response timeout expired or query ID is invalid");
        let rec = self.callbacks.get_mut(&id).ok_or_else(|| invalid.clone())?;
        if rec.answer.is_some() || now.saturating_sub(rec.pressed_unix_ms) > ttl {
            return Err(invalid);
        }
        rec.answer = Some(CallbackAnswer {
            text,
            show_alert: p.bool("show_alert"),
            url: p.string("url"),
            answered_unix_ms: now,
        });
        Ok(json!(true))
    }

    fn set_webhook(&mut self, p: &Params) -> Result<Answer, ApiErr> {
        let url = p.string("url").unwrap_or_default();
        if url.is_empty() {
            return self.delete_webhook(p);
        }
        let lower = url.to_ascii_lowercase();
        let https = lower.starts_with("https://");
        let http_ok = lower.starts_with("http://") && self.config.allow_http_webhooks;
        if !(https || http_ok) {
            return Err(ApiErr::bad(
                "bad webhook: HTTPS url must be provided for webhook",
            ));
        }
        if url.parse::<hyper::Uri>().is_err() {
            return Err(ApiErr::bad("bad webhook: invalid webhook URL specified"));
        }
        let secret = p.string("secret_token").filter(|s| !s.is_empty());
        if let Some(s) = &secret {
            let ok_chars = s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if s.len() > 256 || !ok_chars {
                return Err(ApiErr::bad("secret token contains unallowed characters"));
            }
        }
        let max_connections = p.int("max_connections")?.unwrap_or(40).clamp(1, 100) as u32;
        self.set_allowed(p)?;
        if p.bool("drop_pending_updates") {
            self.updates.clear();
        }
        let same = self.webhook.as_ref().is_some_and(|w| w.url == url);
        self.webhook = Some(WebhookState {
            url,
            secret_token: secret,
            max_connections,
            last_error: None,
        });
        // A pending getUpdates is cut off by the webhook.
        self.poll_generation += 1;
        Ok(Answer {
            result: json!(true),
            description: Some(
                if same {
                    "Webhook is already set"
                } else {
                    "Webhook was set"
                }
                .into(),
            ),
        })
    }

    fn delete_webhook(&mut self, p: &Params) -> Result<Answer, ApiErr> {
        if p.bool("drop_pending_updates") {
            self.updates.clear();
        }
        let was = self.webhook.take().is_some();
        Ok(Answer {
            result: json!(true),
            description: Some(
                if was {
                    "Webhook was deleted"
                } else {
                    "Webhook is already deleted"
                }
                .into(),
            ),
        })
    }

    pub fn webhook_info(&self) -> Value {
        let mut v = json!({
            "url": self.webhook.as_ref().map(|w| w.url.as_str()).unwrap_or(""),
            "has_custom_certificate": false,
            "pending_update_count": self.updates.len(),
        });
        if let Some(w) = &self.webhook {
            v["max_connections"] = json!(w.max_connections);
            if let Some((date, msg)) = &w.last_error {
                v["last_error_date"] = json!(date);
                v["last_error_message"] = json!(msg);
            }
            if let Some(a) = &self.allowed_updates {
                v["allowed_updates"] = json!(a);
            }
        }
        v
    }

    // ---- dump ----

    pub fn dump(&self) -> Value {
        let chats: Vec<Value> = self
            .chats
            .iter()
            .map(|(id, c)| {
                json!({
                    "chat": self.chat_json(*id),
                    "started": c.started,
                    "messages": c.messages,
                })
            })
            .collect();
        json!({
            "format": "custos-fake-telegram-dump/1",
            "generated_unix_ms": self.now_ms(),
            "uptime_ms": self.elapsed_ms(),
            "bot": self.bot,
            "rate_limits": self.limiter.limits(),
            "users": self.users(),
            "chats": chats,
            "requests": self.requests,
            "updates": self.all_updates,
            "pending_update_ids": self.updates.iter().map(|u| u.update_id).collect::<Vec<_>>(),
            "callback_queries": self.callbacks(),
            "webhook": self.webhook,
            "send_stats": self.send_stats(Duration::from_secs(1)),
            "sends": self.sends,
        })
    }
}

const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";

const BUTTON_ACTIONS: [&str; 10] = [
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "web_app",
    "copy_text",
];

/// Checks a `reply_markup` the way Telegram does for the parts Custos uses.
pub fn validate_markup(markup: &Value) -> Result<(), ApiErr> {
    let parse_err = || ApiErr::bad("can't parse reply keyboard markup JSON object");
    let obj = markup.as_object().ok_or_else(parse_err)?;
    let Some(rows) = obj.get("inline_keyboard") else {
        if obj.contains_key("keyboard")
            || obj.contains_key("remove_keyboard")
            || obj.contains_key("force_reply")
        {
            return Ok(());
        }
        return Err(parse_err());
    };
    let rows = rows.as_array().ok_or_else(|| {
        ApiErr::bad(
            "field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array of Arrays",
        )
    })?;
    for row in rows {
        let row = row.as_array().ok_or_else(|| {
            ApiErr::bad("field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array of Arrays")
        })?;
        for b in row {
            let b = b.as_object().ok_or_else(|| {
                ApiErr::bad(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object",
                )
            })?;
            if !b.get("text").is_some_and(Value::is_string) {
                return Err(ApiErr::bad(
                    "can't parse inline keyboard button: Field \"text\" must be of type String",
                ));
            }
            let actions = BUTTON_ACTIONS
                .iter()
                .filter(|a| b.contains_key(**a))
                .count();
            if actions == 0 {
                return Err(ApiErr::bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"));
            }
            if let Some(data) = b.get("callback_data") {
                let len = data.as_str().map(str::len).unwrap_or(0);
                if !(1..=64).contains(&len) {
                    return Err(ApiErr::bad("BUTTON_DATA_INVALID"));
                }
            }
            if let Some(url) = b.get("url") {
                let u = url.as_str().unwrap_or("").to_ascii_lowercase();
                if !(u.starts_with("https://")
                    || u.starts_with("http://")
                    || u.starts_with("tg://"))
                {
                    return Err(ApiErr::bad("BUTTON_URL_INVALID"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(v: Value) -> Params {
        Params {
            map: v.as_object().cloned().unwrap_or_default(),
            files: Vec::new(),
        }
    }

    fn state() -> State {
        State::new(Config {
            rate_limits: crate::RateLimits::disabled(),
            ..Config::default()
        })
    }

    fn started(st: &mut State) -> i64 {
        let u = st.add_user(UserSpec::default()).expect("user");
        st.user_sends_text(u.id, None, "/start").expect("text");
        u.id
    }

    fn ids(ups: &[Value]) -> Vec<i64> {
        ups.iter().filter_map(|u| u["update_id"].as_i64()).collect()
    }

    #[test]
    fn offsets_confirm_and_negative_offsets_forget() {
        let mut st = state();
        let u = started(&mut st);
        for i in 0..4 {
            st.user_sends_text(u, None, &format!("m{i}")).expect("text");
        }
        let first = st.config().first_update_id;
        assert_eq!(
            ids(&st.pending(100)),
            (first..first + 5).collect::<Vec<_>>()
        );
        // Reading does not confirm.
        assert_eq!(st.pending(2).len(), 2);
        assert_eq!(st.pending_count(), 5);
        // A higher offset confirms everything below it.
        st.confirm(first + 2);
        assert_eq!(ids(&st.pending(100)), vec![first + 2, first + 3, first + 4]);
        // An offset already confirmed changes nothing; 0 changes nothing.
        st.confirm(first);
        st.confirm(0);
        assert_eq!(st.pending_count(), 3);
        // -1: only the last update is kept.
        st.confirm(-1);
        assert_eq!(ids(&st.pending(100)), vec![first + 4]);
        // An offset beyond the end confirms all.
        st.confirm(first + 100);
        assert_eq!(st.pending_count(), 0);
        // Limit and allowed_updates via begin_get_updates.
        st.user_sends_text(u, None, "x").expect("text");
        let (_, limit, timeout) = st
            .begin_get_updates(&params(
                json!({"limit": "0", "timeout": 5, "allowed_updates": "[\"callback_query\"]"}),
            ))
            .expect("begin");
        assert_eq!((limit, timeout), (1, Duration::from_secs(5)));
        // The queued message is not an allowed type any more and new ones are not queued.
        assert_eq!(st.pending_count(), 0);
        st.user_sends_text(u, None, "y").expect("text");
        assert_eq!(st.pending_count(), 0);
    }

    #[test]
    fn get_updates_conflicts_with_a_webhook() {
        let mut st = state();
        st.call(
            "setwebhook",
            &params(json!({"url": "https://example.org/hook"})),
        )
        .expect("set");
        let e = st.begin_get_updates(&Params::default()).unwrap_err();
        assert_eq!(e.code, 409);
        assert!(e
            .description
            .starts_with("Conflict: can't use getUpdates method while webhook is active"));
        let a = st
            .call("deletewebhook", &Params::default())
            .expect("delete");
        assert_eq!(a.body()["description"], "Webhook was deleted");
        assert!(st.begin_get_updates(&Params::default()).is_ok());
        let e = st
            .call(
                "setwebhook",
                &params(json!({"url": "https://x.org/h", "secret_token": "bad token!"})),
            )
            .unwrap_err();
        assert_eq!(e.code, 400);
    }

    #[test]
    fn callback_data_is_validated() {
        let kb = |data: Value| json!({"inline_keyboard": [[{"text": "Approve", "callback_data": data}]]});
        assert!(validate_markup(&kb(json!("a"))).is_ok());
        assert!(validate_markup(&kb(json!("é".repeat(32)))).is_ok()); // 64 bytes
        for bad in [
            json!(""),
            json!("x".repeat(65)),
            json!("é".repeat(33)),
            json!(5),
        ] {
            assert_eq!(
                validate_markup(&kb(bad)).unwrap_err().description,
                "Bad Request: BUTTON_DATA_INVALID"
            );
        }
        let e = validate_markup(&json!({"inline_keyboard": [[{"text": "plain"}]]})).unwrap_err();
        assert!(e.description.contains("Text buttons are unallowed"));
        assert!(validate_markup(&json!({"inline_keyboard": [{"text": "x"}]})).is_err());
        assert!(validate_markup(
            &json!({"inline_keyboard": [[{"text": "u", "url": "javascript:x"}]]})
        )
        .is_err());
        assert!(validate_markup(&json!("nope")).is_err());
        // Through sendMessage, with reply_markup as a JSON string (form encoding).
        let mut st = state();
        let u = started(&mut st);
        let e = st
            .call(
                "sendmessage",
                &params(json!({"chat_id": u.to_string(), "text": "t", "reply_markup": kb(json!("")).to_string()})),
            )
            .unwrap_err();
        assert_eq!(e.description, "Bad Request: BUTTON_DATA_INVALID");
        assert!(st.messages(u).expect("chat").iter().all(|m| !m.from_bot));
    }

    #[test]
    fn press_answer_once_and_expiry() {
        let mut st = state();
        let u = started(&mut st);
        let m = st
            .call(
                "sendmessage",
                &params(json!({"chat_id": u, "text": "ok?", "reply_markup": {"inline_keyboard": [[{"text": "A", "callback_data": "a"}, {"text": "R", "callback_data": "r"}], [{"text": "Site", "url": "https://x.org"}]]}})),
            )
            .expect("send")
            .result;
        let mid = m["message_id"].as_i64().expect("id");
        assert_eq!(
            st.press(u, u, mid, Some(5), None).unwrap_err(),
            ControlError::NoSuchButton {
                message_id: mid,
                index: 5,
                count: 3
            }
        );
        assert_eq!(
            st.press(u, u, mid, Some(2), None).unwrap_err(),
            ControlError::NotACallbackButton(2)
        );
        let q = st.press(u, u, mid, Some(1), None).expect("press");
        let answer = |st: &mut State, id: &str| {
            st.call(
                "answercallbackquery",
                &params(json!({"callback_query_id": id, "text": "done"})),
            )
        };
        assert!(answer(&mut st, &q).is_ok());
        let again = answer(&mut st, &q).unwrap_err();
        assert_eq!(
            again.description,
            "Bad Request: query is too old and response timeout expired or query ID is invalid"
        );
        assert!(answer(&mut st, "123").is_err());
        // Expired queries cannot be answered.
        let q2 = st
            .press(u, u, mid, None, Some("forged".into()))
            .expect("forged press");
        st.advance_clock(Duration::from_secs(16));
        assert!(answer(&mut st, &q2).is_err());
        let recs = st.callbacks();
        assert!(recs.iter().any(|c| c.forged && c.data == "forged"));
        // Too long an answer.
        let q3 = st.press(u, u, mid, Some(0), None).expect("press");
        let e = st
            .call(
                "answercallbackquery",
                &params(json!({"callback_query_id": q3, "text": "x".repeat(201)})),
            )
            .unwrap_err();
        assert_eq!(e.code, 400);
    }

    #[test]
    fn edits_history_and_dump() {
        let mut st = state();
        let u = started(&mut st);
        let m = st
            .call("sendmessage", &params(json!({"chat_id": u, "text": "<i>pending</i>", "parse_mode": "HTML", "reply_markup": {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}})))
            .expect("send")
            .result;
        let mid = m["message_id"].clone();
        st.call(
            "editmessagereplymarkup",
            &params(json!({"chat_id": u, "message_id": mid})),
        )
        .expect("keyboard removed");
        let e = st
            .call(
                "editmessagereplymarkup",
                &params(json!({"chat_id": u, "message_id": mid})),
            )
            .unwrap_err();
        assert!(e
            .description
            .starts_with("Bad Request: message is not modified"));
        st.call(
            "editmessagetext",
            &params(json!({"chat_id": u, "message_id": mid, "text": "done"})),
        )
        .expect("edit");
        let shown = st.messages(u).expect("chat").pop().expect("m");
        assert_eq!(shown.text.as_deref(), Some("done"));
        assert_eq!(shown.history.len(), 2);
        assert_eq!(shown.history[0].text.as_deref(), Some("pending"));
        let dump = st.dump();
        assert_eq!(dump["format"], "custos-fake-telegram-dump/1");
        let chat = dump["chats"]
            .as_array()
            .expect("chats")
            .iter()
            .find(|c| c["chat"]["id"] == u)
            .expect("chat");
        assert_eq!(chat["messages"].as_array().expect("m").len(), 2);
        assert_eq!(dump["updates"].as_array().expect("u").len(), 1);
        assert_eq!(dump["send_stats"]["total"], 1);
        // The dump is plain JSON that round-trips.
        let text = serde_json::to_string(&dump).expect("json");
        let back: Value = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, dump);
    }

    #[test]
    fn flood_limit_in_state() {
        let mut st = State::new(Config::default());
        let u = started(&mut st);
        let send =
            |st: &mut State| st.call("sendmessage", &params(json!({"chat_id": u, "text": "x"})));
        for _ in 0..3 {
            assert!(send(&mut st).is_ok());
        }
        let e = send(&mut st).unwrap_err();
        assert_eq!((e.code, e.retry_after), (429, Some(1)));
        assert_eq!(e.body()["parameters"]["retry_after"], 1);
        assert_eq!(st.send_stats(Duration::from_secs(1)).rejected_429, 1);
    }
}
