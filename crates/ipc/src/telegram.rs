//! What the signer and the pool say to each other inside the sealed channel
//! ([`crate::channel`]). The bridge carries these only as [`Sealed`] blobs: it
//! never sees a button's callback data, the bot token, a press or a `/start`
//! payload in the clear.
//!
//! Encode with [`seal_to_pool`] / [`seal_to_signer`], decode with [`open_from_signer`] /
//! [`open_from_pool`]; both sides use postcard under the channel's AEAD.

use crate::channel::{ChannelEnd, ChannelError, Sealed};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

/// Most characters of a message text Custos sends (Telegram allows 4096 after
/// entity parsing).
pub const MAX_TEXT_CHARS: usize = 4096;

/// A string that is secret (a bot token, a button's callback data, a `/start`
/// payload): wiped on drop and never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(s: String) -> Self {
        Self(s)
    }

    /// The secret, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretString(<{} bytes redacted>)", self.0.len())
    }
}

/// Bytes that are secret (a QR code image of a TOTP secret): wiped on drop, never shown
/// by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps secret bytes.
    pub fn new(b: Vec<u8>) -> Self {
        Self(b)
    }

    /// The bytes, for the one place that must use them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

/// An inline button that opens a Custos page in the user's browser (passkeys do not
/// work inside Telegram's in-app views, so it must be a plain URL button).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlButton {
    /// The button's label.
    pub text: String,
    /// The page's URL; it carries a one-time page token, so it is secret.
    pub url: SecretString,
}

/// Longest JSON body the page may send or receive, in bytes.
pub const MAX_PAGE_BODY: usize = 64 * 1024;

/// What the signer asks of the pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToPool {
    /// Start the Telegram client with the signer bot's token (unsealed by the signer
    /// from the data directory). Sent once, first, when the service starts.
    Configure {
        /// The bot token (`<digits>:<secret>`).
        bot_token: SecretString,
    },
    /// Send a confirmation message with Approve / Reject buttons.
    SendConfirmation {
        /// The confirmation's id (32 hex characters); echoed in [`ToSigner::Sent`].
        confirmation_id: String,
        /// The bound Telegram user's private chat (= their user id).
        chat_id: i64,
        /// HTML text (already escaped), at most [`MAX_TEXT_CHARS`].
        text: String,
        /// Callback data of the Approve button: a single-use token.
        approve: SecretString,
        /// Callback data of the Reject button: a single-use token.
        reject: SecretString,
    },
    /// Replace a message's text and remove its buttons (the outcome of a confirmation).
    Edit {
        /// The chat.
        chat_id: i64,
        /// The message.
        message_id: i64,
        /// New HTML text.
        text: String,
        /// A button to keep under the new text (e.g. "Confirm with passkey"); `None`
        /// removes all buttons.
        button: Option<UrlButton>,
    },
    /// Answer a callback query (always sent for every press, so the user's client
    /// stops its spinner).
    AnswerCallback {
        /// The query's id from [`ToSigner::Press`].
        callback_query_id: String,
        /// Text to show, if any.
        text: Option<String>,
        /// Show it as an alert rather than a toast.
        show_alert: bool,
    },
    /// Send a plain notice (e.g. "your account is linked").
    Notice {
        /// The chat.
        chat_id: i64,
        /// HTML text.
        text: String,
        /// A button under it, if any.
        button: Option<UrlButton>,
    },
    /// Send a message whose text is secret (recovery codes): HTML, never logged.
    SecretNotice {
        /// The chat.
        chat_id: i64,
        /// HTML text.
        text: SecretString,
        /// Delete it from the chat this many seconds after it was sent (best effort),
        /// so the secret does not stay in the chat history.
        delete_after_secs: Option<u32>,
    },
    /// Send a photo (the QR code of a TOTP secret) with a caption (`sendPhoto`).
    SendPhoto {
        /// The chat.
        chat_id: i64,
        /// PNG bytes.
        png: SecretBytes,
        /// HTML caption, at most 1024 characters; secret (it holds the `otpauth://`
        /// URI).
        caption: SecretString,
        /// Delete it from the chat this many seconds after it was sent (best effort).
        delete_after_secs: Option<u32>,
    },
    /// Delete a message (a code the user typed into the chat, once read). Best effort.
    DeleteMessage {
        /// The chat.
        chat_id: i64,
        /// The message.
        message_id: i64,
    },
    /// The answer to a [`ToSigner::Page`] request: the pool sends it to the browser as
    /// the HTTP response.
    PageReply {
        /// The request's id from [`ToSigner::Page`].
        request_id: u64,
        /// HTTP status (200, 400, 403, 404, 409, 410, 429 or 500).
        status: u16,
        /// JSON body, at most [`MAX_PAGE_BODY`] bytes (may hold an export bundle).
        body: SecretString,
    },
}

/// What the pool tells the signer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToSigner {
    /// The Telegram client is running as this bot (answer to [`ToPool::Configure`]).
    Ready {
        /// The bot's username, without `@`.
        bot_username: String,
    },
    /// A confirmation message was sent.
    Sent {
        /// The confirmation.
        confirmation_id: String,
        /// The chat it went to.
        chat_id: i64,
        /// Telegram's message id.
        message_id: i64,
    },
    /// A confirmation message could not be sent (permanent failure, e.g. the user
    /// blocked the bot); the signer refuses the confirmation.
    SendFailed {
        /// The confirmation.
        confirmation_id: String,
        /// Telegram's description, secret-free.
        reason: String,
    },
    /// Someone pressed an inline button of one of the bot's messages.
    Press {
        /// The callback query's id (to answer it).
        callback_query_id: String,
        /// The button's callback data as Telegram delivered it (anything, 0-64 bytes).
        data: SecretString,
        /// Who pressed (`from.id`).
        from_id: u64,
        /// The message's chat (`message.chat.id`), if Telegram included the message.
        chat_id: Option<i64>,
        /// The message (`message.message_id`), if included.
        message_id: Option<i64>,
    },
    /// Someone sent `/start <payload>` to the bot in a private chat.
    Start {
        /// The deep-link payload (may be anything the sender typed).
        payload: SecretString,
        /// Who sent it (`from.id`).
        from_id: u64,
        /// The chat (a private chat: equal to `from_id`).
        chat_id: i64,
    },
    /// Someone sent a text message to the bot in a private chat.
    Text(TextMessage),
    /// The Custos page (served by the pool over HTTPS) posted a JSON request; the
    /// signer answers with [`ToPool::PageReply`] carrying the same `request_id`.
    Page {
        /// Chosen by the pool, unique while the HTTP request waits.
        request_id: u64,
        /// The JSON body as the browser sent it (at most [`MAX_PAGE_BODY`] bytes). It
        /// holds the page token and possibly a one-time code, so it is secret.
        body: SecretString,
    },
}

/// A text message (a command such as `/2fa`, or a code) sent to the bot in a private
/// chat; `/start` arrives as [`ToSigner::Start`] instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextMessage {
    /// Who sent it (`from.id`).
    pub from_id: u64,
    /// The chat (a private chat: equal to `from_id`).
    pub chat_id: i64,
    /// Telegram's message id (so the signer can have a typed code deleted).
    pub message_id: i64,
    /// The text (at most 4096 characters; may be a one-time code, so secret).
    pub text: SecretString,
}

/// Why a channel message could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The channel refused it (forged, replayed, exhausted).
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// It authenticated but does not decode: a version mismatch or a bug.
    #[error("channel message does not decode: {0}")]
    Decode(String),
}

fn seal<T: Serialize>(end: &mut ChannelEnd, msg: &T) -> Result<Sealed, MessageError> {
    let mut bytes = postcard::to_allocvec(msg).map_err(|e| MessageError::Decode(e.to_string()))?;
    let sealed = end.seal(&bytes);
    bytes.zeroize();
    Ok(sealed?)
}

fn open<T: for<'de> Deserialize<'de>>(
    end: &mut ChannelEnd,
    sealed: &Sealed,
) -> Result<T, MessageError> {
    let plain = end.open(sealed)?;
    postcard::from_bytes(&plain).map_err(|e| MessageError::Decode(e.to_string()))
}

/// Seals a message from the signer's end.
pub fn seal_to_pool(end: &mut ChannelEnd, msg: &ToPool) -> Result<Sealed, MessageError> {
    seal(end, msg)
}

/// Opens a message at the pool's end.
pub fn open_from_signer(end: &mut ChannelEnd, sealed: &Sealed) -> Result<ToPool, MessageError> {
    open(end, sealed)
}

/// Seals a message from the pool's end.
pub fn seal_to_signer(end: &mut ChannelEnd, msg: &ToSigner) -> Result<Sealed, MessageError> {
    seal(end, msg)
}

/// Opens a message at the signer's end.
pub fn open_from_pool(end: &mut ChannelEnd, sealed: &Sealed) -> Result<ToSigner, MessageError> {
    open(end, sealed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::ViewKey;

    #[test]
    fn messages_round_trip_and_the_bridge_sees_no_token() {
        let k = ViewKey::new([3u8; 32]);
        let (mut signer, mut pool) = (ChannelEnd::signer(&k), ChannelEnd::pool(&k));
        let msg = ToPool::SendConfirmation {
            confirmation_id: "00".repeat(16),
            chat_id: 42,
            text: "Send 1 SOL".into(),
            approve: SecretString::new("APPROVE-TOKEN-abcdefgh".into()),
            reject: SecretString::new("REJECT-TOKEN-abcdefghi".into()),
        };
        let sealed = seal_to_pool(&mut signer, &msg).unwrap();
        let wire = postcard::to_allocvec(&sealed).unwrap();
        assert!(!wire.windows(13).any(|w| w == b"APPROVE-TOKEN"));
        assert_eq!(open_from_signer(&mut pool, &sealed).unwrap(), msg);
        let back = ToSigner::Sent {
            confirmation_id: "00".repeat(16),
            chat_id: 42,
            message_id: 7,
        };
        let s = seal_to_signer(&mut pool, &back).unwrap();
        assert_eq!(open_from_pool(&mut signer, &s).unwrap(), back);
        assert!(!format!("{msg:?}").contains("TOKEN"));
    }
}
