//! Public data types: users, chat messages as the user sees them, recorded
//! requests, callback queries, faults and errors.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A Telegram user (the Bot API `User` object when serialized).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    /// Telegram user id.
    pub id: i64,
    /// Whether this is a bot.
    pub is_bot: bool,
    /// First name.
    pub first_name: String,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Username without `@`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// IETF language tag of the user's client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
}

/// What a test asks for when it creates a user.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct UserSpec {
    /// Wanted id; a fresh one is chosen when absent.
    #[serde(default)]
    pub id: Option<i64>,
    /// First name (defaults to "User <id>").
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Username without `@`.
    #[serde(default)]
    pub username: Option<String>,
    /// Language code (defaults to "en").
    #[serde(default)]
    pub language_code: Option<String>,
}

/// A photo attached to a message.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PhotoRecord {
    /// The file id given back to the bot.
    pub file_id: String,
    /// The unique file id given back to the bot.
    pub file_unique_id: String,
    /// Size in bytes (0 when sent by file id or URL).
    pub size: usize,
    /// Width in pixels (read from a PNG header; 0 when unknown).
    pub width: u32,
    /// Height in pixels (read from a PNG header; 0 when unknown).
    pub height: u32,
    /// The uploaded bytes, base64 (standard alphabet), when uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
    /// A file id or URL the bot sent instead of uploading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// An earlier version of an edited message.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MessageVersion {
    /// When this version was replaced (unix seconds).
    pub replaced_at: i64,
    /// Text as shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Caption as shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Inline keyboard (`InlineKeyboardMarkup`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<Value>,
}

/// A message in a chat, as the user would see it: edits applied, deletion
/// shown, earlier versions kept in `history`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ChatMessage {
    /// Message id within the chat.
    pub message_id: i64,
    /// When it was sent (unix seconds, fake clock).
    pub date: i64,
    /// Sender's user id (the bot's id for bot messages).
    pub from_id: i64,
    /// Whether the bot sent it.
    pub from_bot: bool,
    /// Text as displayed (HTML markup already turned into entities).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Formatting of `text` (Bot API `MessageEntity` objects).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<Value>,
    /// The `parse_mode` the bot used, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<String>,
    /// Photo caption as displayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Formatting of `caption`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caption_entities: Vec<Value>,
    /// Attached photo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<PhotoRecord>,
    /// Inline keyboard (`InlineKeyboardMarkup`) currently attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<Value>,
    /// Whether link previews were disabled.
    #[serde(default)]
    pub link_preview_disabled: bool,
    /// Time of the last edit (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit_date: Option<i64>,
    /// Whether the bot deleted it (the user no longer sees it).
    #[serde(default)]
    pub deleted: bool,
    /// Earlier versions, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<MessageVersion>,
}

/// One inline keyboard button, flattened row by row.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Button {
    /// Row index.
    pub row: usize,
    /// Column index.
    pub column: usize,
    /// Label.
    pub text: String,
    /// Callback data, for callback buttons.
    pub callback_data: Option<String>,
    /// URL, for URL buttons.
    pub url: Option<String>,
}

impl ChatMessage {
    /// The inline keyboard's buttons in row-major order (the `button_index`
    /// of [`crate::FakeTelegram::press`]).
    pub fn buttons(&self) -> Vec<Button> {
        let mut out = Vec::new();
        let rows = self
            .reply_markup
            .as_ref()
            .and_then(|m| m.get("inline_keyboard"))
            .and_then(Value::as_array);
        for (r, row) in rows.into_iter().flatten().enumerate() {
            for (c, b) in row.as_array().into_iter().flatten().enumerate() {
                out.push(Button {
                    row: r,
                    column: c,
                    text: b["text"].as_str().unwrap_or_default().to_string(),
                    callback_data: b["callback_data"].as_str().map(str::to_string),
                    url: b["url"].as_str().map(str::to_string),
                });
            }
        }
        out
    }
}

/// A file part of a multipart request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecordedFile {
    /// Form field name.
    pub field: String,
    /// File name given by the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Content type given by the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Size in bytes.
    pub size: usize,
    /// The bytes, base64 (standard alphabet).
    pub data_base64: String,
}

/// One HTTP request the fake received on the Bot API.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecordedRequest {
    /// Sequence number, from 1.
    pub seq: u64,
    /// Milliseconds since the server started.
    pub at_ms: u64,
    /// Wall-clock time (unix milliseconds, fake clock).
    pub unix_ms: u64,
    /// HTTP method (`GET` or `POST`).
    pub http_method: String,
    /// Bot API method as the client spelled it.
    pub method: String,
    /// Whether the token was right (the token itself is never recorded).
    pub authorized: bool,
    /// Request content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Parameters (JSON body, query string, form or multipart text fields).
    pub params: Value,
    /// Uploaded files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<RecordedFile>,
    /// The injected fault, if one applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    /// HTTP status of the answer (absent while in flight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The answer's JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
}

/// A failure injected into the next calls of a method.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// 429 "Too Many Requests: retry after N" with `parameters.retry_after`.
    TooManyRequests {
        /// Seconds.
        retry_after: u64,
    },
    /// A 5xx answer before anything happens.
    ServerError {
        /// HTTP status (500, 502, ...).
        status: u16,
    },
    /// The call takes effect but its answer is lost: a 5xx instead (a client
    /// that retries blindly sends a duplicate).
    ServerErrorAfterApplying {
        /// HTTP status.
        status: u16,
    },
    /// Wait this long, then handle the call normally. The call takes effect
    /// even if the client gave up meanwhile (its answer is lost).
    Hang {
        /// Milliseconds.
        ms: u64,
    },
    /// Any other error answer, before anything happens.
    Error {
        /// HTTP status and `error_code`.
        status: u16,
        /// `description`, verbatim.
        description: String,
    },
}

/// A callback query the fake generated for a button press.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CallbackRecord {
    /// The query id.
    pub id: String,
    /// Who pressed.
    pub from_user: i64,
    /// Chat of the message.
    pub chat_id: i64,
    /// The message pressed on.
    pub message_id: i64,
    /// The callback data sent.
    pub data: String,
    /// Whether the data was injected rather than taken from the keyboard.
    pub forged: bool,
    /// Index of the pressed button, when taken from the keyboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_index: Option<usize>,
    /// When it was pressed (unix milliseconds, fake clock).
    pub pressed_unix_ms: u64,
    /// The bot's answer, once given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<CallbackAnswer>,
}

/// What the bot answered to a callback query (what the user sees as a toast
/// or alert).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CallbackAnswer {
    /// Notification text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Whether it is shown as an alert rather than a toast.
    pub show_alert: bool,
    /// URL to open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When it was answered (unix milliseconds, fake clock).
    pub answered_unix_ms: u64,
}

/// The webhook as set by the bot.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WebhookState {
    /// Where updates are POSTed.
    pub url: String,
    /// Sent back in `X-Telegram-Bot-Api-Secret-Token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_token: Option<String>,
    /// `max_connections` as given (deliveries are sequential here).
    pub max_connections: u32,
    /// Last delivery error (unix seconds, message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<(i64, String)>,
}

/// Why a test control could not be carried out.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ControlError {
    /// No such user.
    #[error("unknown user {0}")]
    UnknownUser(i64),
    /// A user with this id already exists.
    #[error("user {0} already exists")]
    UserExists(i64),
    /// No such chat.
    #[error("unknown chat {0}")]
    UnknownChat(i64),
    /// No such message in the chat.
    #[error("no message {message_id} in chat {chat_id}")]
    UnknownMessage {
        /// Chat.
        chat_id: i64,
        /// Message.
        message_id: i64,
    },
    /// The message was deleted; the user cannot press on it.
    #[error("message {0} was deleted")]
    MessageDeleted(i64),
    /// The message has no such button.
    #[error("message {message_id} has no button {index} ({count} buttons)")]
    NoSuchButton {
        /// Message.
        message_id: i64,
        /// Requested index.
        index: usize,
        /// Buttons present.
        count: usize,
    },
    /// The button is not a callback button.
    #[error("button {0} has no callback_data")]
    NotACallbackButton(usize),
    /// A request to the control API was malformed.
    #[error("invalid control request: {0}")]
    Invalid(String),
}
