//! The Bot API objects Custos needs, with only the fields it reads. Unknown
//! fields are ignored (Telegram adds fields over time); missing required ones
//! are decoding errors.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A Telegram user or bot (`User`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    /// User id.
    pub id: i64,
    /// Whether this is a bot.
    pub is_bot: bool,
    /// First name.
    pub first_name: String,
    /// Username, without `@`.
    #[serde(default)]
    pub username: Option<String>,
}

/// A chat (`Chat`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Chat {
    /// Chat id (for a private chat, the user's id).
    pub id: i64,
    /// `private`, `group`, `supergroup` or `channel`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A message (`Message`, or the `InaccessibleMessage` a callback query may
/// carry, which has `date` 0 and only the chat and message id).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Message {
    /// Message id, unique within the chat.
    pub message_id: i64,
    /// Sender (absent for channel posts).
    #[serde(default)]
    pub from: Option<User>,
    /// The chat it belongs to.
    pub chat: Chat,
    /// Unix seconds (0 for an inaccessible message).
    pub date: i64,
    /// Text, for text messages.
    #[serde(default)]
    pub text: Option<String>,
}

/// A press on an inline keyboard button (`CallbackQuery`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CallbackQuery {
    /// Query id, for `answerCallbackQuery`.
    pub id: String,
    /// Who pressed.
    pub from: User,
    /// The message with the button (absent for inline-mode messages).
    #[serde(default)]
    pub message: Option<Message>,
    /// The button's `callback_data`. Untrusted: a client can send anything.
    #[serde(default)]
    pub data: Option<String>,
}

/// An incoming update (`Update`). Kinds other than messages and callback
/// queries decode with both fields `None`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Update {
    /// Increasing update id (the `getUpdates` offset is the last one + 1).
    pub update_id: i64,
    /// A new message.
    #[serde(default)]
    pub message: Option<Message>,
    /// A button press.
    #[serde(default)]
    pub callback_query: Option<CallbackQuery>,
}

/// One inline keyboard button (`InlineKeyboardButton`): either it sends
/// `callback_data` back to the bot, or it opens `url`. Both may be secrets (a
/// single-use token, a URL holding one): `Debug` shows neither, and they are
/// wiped on drop.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct InlineButton {
    /// Label.
    pub text: String,
    /// Data sent back when pressed (1-64 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<String>,
    /// A URL opened when pressed (`https://` only, see [`InlineButton::url`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Why a URL button was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ButtonError {
    /// The label is empty.
    #[error("a button needs a label")]
    NoLabel,
    /// Not `https://host/...` (no user information, no spaces), or too long.
    #[error("a button URL must be https://host[/...] (at most {MAX_BUTTON_URL_BYTES} bytes)")]
    NotHttps,
}

/// Longest button URL accepted, in bytes.
pub const MAX_BUTTON_URL_BYTES: usize = 2048;

impl InlineButton {
    /// A button sending `data` back to the bot.
    pub fn callback(text: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            callback_data: Some(data.into()),
            url: None,
        }
    }

    /// A button opening `url`, which must be `https://` with a host and no
    /// user information (the page is Custos's own, never a plain-HTTP one).
    pub fn url(text: impl Into<String>, url: impl Into<String>) -> Result<Self, ButtonError> {
        let (text, url) = (text.into(), url.into());
        if text.trim().is_empty() {
            return Err(ButtonError::NoLabel);
        }
        if !is_https_url(&url) {
            return Err(ButtonError::NotHttps);
        }
        Ok(Self {
            text,
            callback_data: None,
            url: Some(url),
        })
    }
}

/// Whether `url` is `https://host[:port][/...]`, without user information.
fn is_https_url(url: &str) -> bool {
    if url.len() > MAX_BUTTON_URL_BYTES {
        return false;
    }
    let Ok(uri) = url.parse::<hyper::Uri>() else {
        return false;
    };
    uri.scheme() == Some(&hyper::http::uri::Scheme::HTTPS)
        && uri
            .authority()
            .is_some_and(|a| !a.host().is_empty() && !a.as_str().contains('@'))
}

impl std::fmt::Debug for InlineButton {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match (&self.callback_data, &self.url) {
            (Some(_), _) => "callback_data",
            (None, Some(_)) => "url",
            (None, None) => "none",
        };
        f.debug_struct("InlineButton")
            .field("text", &self.text)
            .field(kind, &"<redacted>")
            .finish()
    }
}

impl Drop for InlineButton {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.callback_data.zeroize();
        self.url.zeroize();
    }
}

/// An inline keyboard (`InlineKeyboardMarkup`): rows of buttons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InlineKeyboard {
    /// Rows, top to bottom.
    pub inline_keyboard: Vec<Vec<InlineButton>>,
}

impl InlineKeyboard {
    /// A keyboard of one row of callback buttons (label, data).
    pub fn row(buttons: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            inline_keyboard: vec![buttons
                .into_iter()
                .map(|(text, data)| InlineButton::callback(text, data))
                .collect()],
        }
    }

    /// A keyboard of a single button.
    pub fn single(button: InlineButton) -> Self {
        Self {
            inline_keyboard: vec![vec![button]],
        }
    }
}

/// `sendMessage` parameters. The text is sent with `parse_mode` HTML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendMessage {
    /// Target chat.
    pub chat_id: i64,
    /// HTML text (Telegram's subset; 1-4096 characters after parsing).
    pub text: String,
    /// Always `HTML`.
    pub parse_mode: &'static str,
    /// An inline keyboard, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<InlineKeyboard>,
    /// Link previews off (descriptions may hold addresses that look like links).
    pub link_preview_options: LinkPreviewOptions,
}

impl SendMessage {
    /// An HTML message without link previews.
    pub fn html(chat_id: i64, text: impl Into<String>, keyboard: Option<InlineKeyboard>) -> Self {
        Self {
            chat_id,
            text: text.into(),
            parse_mode: "HTML",
            reply_markup: keyboard,
            link_preview_options: LinkPreviewOptions { is_disabled: true },
        }
    }
}

impl Drop for SendMessage {
    /// The text may be secret (recovery codes): wiped once sent.
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.text.zeroize();
    }
}

/// `sendPhoto` parameters: a PNG uploaded as `multipart/form-data` (field
/// `photo`) with an HTML caption. Both may be secret (the QR code of a TOTP
/// secret and its `otpauth://` URI): `Debug` shows neither, and both are
/// wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SendPhoto {
    /// Target chat.
    pub chat_id: i64,
    /// The PNG file.
    pub png: Zeroizing<Vec<u8>>,
    /// HTML caption (0-1024 characters after parsing).
    pub caption: Zeroizing<String>,
}

impl SendPhoto {
    /// A PNG with an HTML caption.
    pub fn html(chat_id: i64, png: Vec<u8>, caption: String) -> Self {
        Self {
            chat_id,
            png: Zeroizing::new(png),
            caption: Zeroizing::new(caption),
        }
    }
}

impl std::fmt::Debug for SendPhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendPhoto")
            .field("chat_id", &self.chat_id)
            .field("png", &format_args!("<{} bytes redacted>", self.png.len()))
            .field("caption", &"<redacted>")
            .finish()
    }
}

/// `link_preview_options`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkPreviewOptions {
    /// No preview.
    pub is_disabled: bool,
}

/// `editMessageText` parameters. Without `reply_markup` the keyboard is
/// removed (Telegram's behaviour).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EditMessageText {
    /// Chat of the message.
    pub chat_id: i64,
    /// The message.
    pub message_id: i64,
    /// New HTML text.
    pub text: String,
    /// Always `HTML`.
    pub parse_mode: &'static str,
    /// The keyboard to keep or set; `None` removes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<InlineKeyboard>,
    /// Link previews off.
    pub link_preview_options: LinkPreviewOptions,
}

impl EditMessageText {
    /// Replaces a message's text; `keyboard: None` removes its keyboard.
    pub fn html(
        chat_id: i64,
        message_id: i64,
        text: impl Into<String>,
        keyboard: Option<InlineKeyboard>,
    ) -> Self {
        Self {
            chat_id,
            message_id,
            text: text.into(),
            parse_mode: "HTML",
            reply_markup: keyboard,
            link_preview_options: LinkPreviewOptions { is_disabled: true },
        }
    }
}

/// `getUpdates` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GetUpdates {
    /// First update wanted; confirms every earlier one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// At most this many updates (1-100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u8>,
    /// Long polling: seconds to wait for an update (0 = answer at once).
    pub timeout: u32,
    /// Update kinds wanted (Telegram remembers the last list given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_updates: Option<Vec<String>>,
}

/// `answerCallbackQuery` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerCallbackQuery {
    /// The query.
    pub callback_query_id: String,
    /// Notification text (up to 200 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// An alert the user must dismiss rather than a toast.
    pub show_alert: bool,
}

/// `deleteMessage` parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeleteMessage {
    /// Chat of the message.
    pub chat_id: i64,
    /// The message.
    pub message_id: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_decode_tolerating_unknown_fields_and_kinds() {
        let json = r#"[
          {"update_id":5,"message":{"message_id":1,"from":{"id":7,"is_bot":false,"first_name":"A","language_code":"en"},
           "chat":{"id":7,"type":"private","first_name":"A"},"date":1,"text":"/start x","entities":[]}},
          {"update_id":6,"callback_query":{"id":"q1","from":{"id":7,"is_bot":false,"first_name":"A"},
           "message":{"message_id":2,"chat":{"id":7,"type":"private"},"date":0},"chat_instance":"c","data":"tok"}},
          {"update_id":7,"edited_message":{"whatever":1}}
        ]"#;
        let u: Vec<Update> = serde_json::from_str(json).unwrap();
        assert_eq!(
            u[0].message.as_ref().unwrap().text.as_deref(),
            Some("/start x")
        );
        let q = u[1].callback_query.as_ref().unwrap();
        assert_eq!(q.data.as_deref(), Some("tok"));
        assert_eq!(q.message.as_ref().unwrap().message_id, 2);
        assert!(u[2].message.is_none() && u[2].callback_query.is_none());
        assert!(serde_json::from_str::<Update>(r#"{"message":null}"#).is_err());
    }

    #[test]
    fn an_edit_without_keyboard_sends_no_reply_markup() {
        let v = serde_json::to_value(EditMessageText::html(1, 2, "done", None)).unwrap();
        assert!(v.get("reply_markup").is_none());
        let kb = InlineKeyboard::row([("Approve".to_string(), "a".to_string())]);
        let v = serde_json::to_value(SendMessage::html(1, "<b>x</b>", Some(kb))).unwrap();
        assert_eq!(
            v["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
            "a"
        );
        assert_eq!(v["parse_mode"], "HTML");
    }

    #[test]
    fn url_buttons_must_be_https_and_hide_their_secrets() {
        let b = InlineButton::url("Open", "https://custos.example:8443/p?x=1#t=SECRET").unwrap();
        let v = serde_json::to_value(InlineKeyboard::single(b.clone())).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"inline_keyboard": [[
                {"text": "Open", "url": "https://custos.example:8443/p?x=1#t=SECRET"}
            ]]})
        );
        assert!(!format!("{b:?}").contains("SECRET"));
        let cb = InlineButton::callback("Approve", "TOKEN-SECRET");
        assert!(!format!("{cb:?}").contains("SECRET"));
        for bad in [
            "http://custos.example/",
            "HTTPS//custos.example",
            "https://",
            "https:///path",
            "https://user:pw@custos.example/",
            "https://custos.example/a b",
            "javascript:alert(1)",
            "tg://resolve?domain=x",
        ] {
            assert_eq!(
                InlineButton::url("Open", bad).err(),
                Some(ButtonError::NotHttps),
                "{bad}"
            );
        }
        let long = format!(
            "https://custos.example/{}",
            "a".repeat(MAX_BUTTON_URL_BYTES)
        );
        assert_eq!(
            InlineButton::url("Open", long).err(),
            Some(ButtonError::NotHttps)
        );
        assert_eq!(
            InlineButton::url(" ", "https://custos.example/").err(),
            Some(ButtonError::NoLabel)
        );
        let photo = SendPhoto::html(1, b"PNGSECRET".to_vec(), "CAPTIONSECRET".into());
        assert!(!format!("{photo:?}").contains("SECRET"));
    }
}
