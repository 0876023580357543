//! The bot token: a secret. It is kept in zeroized memory, its `Debug` is
//! redacted, and it has no `Display`, so it cannot slip into a log line or an
//! error message by formatting.

use zeroize::Zeroizing;

/// Longest token accepted (Telegram's are about 46 characters).
const MAX_TOKEN_LEN: usize = 128;

/// Why a string is not a bot token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not `<bot id>:<secret>` with a numeric id and a secret of
    /// `A-Za-z0-9_-` characters.
    #[error("not a bot token (expected <digits>:<letters, digits, _ or ->)")]
    Malformed,
}

/// A Telegram bot token (`123456:ABC-...`). The digits before the colon are the
/// bot's user id, which is not secret ([`BotToken::bot_id`]).
#[derive(Clone)]
pub struct BotToken(Zeroizing<String>);

impl BotToken {
    /// Checks the format (so the token can go into a URL path unescaped) and
    /// takes ownership of the string.
    pub fn new(token: String) -> Result<Self, TokenError> {
        let token = Zeroizing::new(token);
        let (id, secret) = token.split_once(':').ok_or(TokenError::Malformed)?;
        let id_ok = !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit());
        let secret_ok = !secret.is_empty()
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok || !secret_ok || token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        Ok(Self(token))
    }

    /// The bot's user id (the part before the colon; public).
    pub fn bot_id(&self) -> Option<i64> {
        self.0.split_once(':').and_then(|(id, _)| id.parse().ok())
    }

    /// The token itself, for building request paths only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the token in `text` (defence in depth for
    /// texts that come from the network or from libraries).
    pub(crate) fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        text.replace(self.0.as_str(), "<token>")
    }
}

impl std::fmt::Debug for BotToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.bot_id() {
            Some(id) => write!(f, "BotToken({id}:<redacted>)"),
            None => f.write_str("BotToken(<redacted>)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_checked_and_debug_is_redacted() {
        let t = BotToken::new("123:AAsecret_-x".into()).unwrap();
        assert_eq!(t.bot_id(), Some(123));
        let shown = format!("{t:?}");
        assert!(!shown.contains("AAsecret"), "{shown}");
        assert_eq!(t.redact("x/bot123:AAsecret_-x/getMe"), "x/bot<token>/getMe");
        for bad in [
            "", "123", ":abc", "12a:abc", "123:", "123:a/b", "123:a b", "123:a?b",
        ] {
            assert_eq!(
                BotToken::new(bad.into()).err(),
                Some(TokenError::Malformed),
                "{bad}"
            );
        }
    }
}
