//! The texts the signer sends to Telegram users: confirmation messages (HTML, within
//! Telegram's 4096 characters), their outcomes, button alerts and link notices.

use crate::confirm::PressError;
use custos_ipc::telegram::MAX_TEXT_CHARS;
use custos_txdecode::describe::html_escape;
use custos_txdecode::Assessment;
use std::time::Duration;

/// First line of every confirmation message.
pub const HEADING: &str = "<b>Custos: confirm a transaction</b>";
/// Room kept free in a confirmation message for the outcome line appended on edit.
const OUTCOME_RESERVE: usize = 300;
/// Longest summary quoted when the full description does not fit.
const SUMMARY_FALLBACK_CHARS: usize = 500;

/// Outcome line: approved and signed, with the signature (base58).
pub fn approved_line(signature: &[u8]) -> String {
    format!(
        "✅ <b>Approved and signed</b>\nSignature: <code>{}</code>",
        bs58::encode(signature).into_string()
    )
}

/// Outcome line: rejected.
pub const REJECTED_LINE: &str = "❌ <b>Rejected</b>: nothing was signed";
/// Outcome line: expired.
pub const EXPIRED_LINE: &str = "⌛ <b>Expired</b>: nothing was signed";

/// Outcome line: approved, but signing failed.
pub fn failed_line(reason: &str) -> String {
    format!(
        "⚠️ <b>Approved, but signing failed</b>: {}",
        html_escape(&truncate(reason, 200))
    )
}

/// The confirmation message: heading, wallet, the decoder's description and expiry.
/// At most 4096 - 300 characters, leaving room for an outcome line.
pub fn confirmation_text(wallet: &[u8; 32], assessment: &Assessment, expiry: Duration) -> String {
    let head = format!(
        "{HEADING}\nWallet: <code>{}</code>\n\n",
        bs58::encode(wallet).into_string()
    );
    let tail = format!("\n⏳ Expires in {}.", human_duration(expiry));
    let full = format!("{head}{}{tail}", assessment.to_text());
    if full.chars().count() <= MAX_TEXT_CHARS - OUTCOME_RESERVE {
        return full;
    }
    format!(
        "{head}<b>{}</b>\n(The full description is too long for one message.)\n{tail}",
        html_escape(&truncate(&assessment.summary, SUMMARY_FALLBACK_CHARS))
    )
}

/// The message after a decision: the original text with the outcome line appended,
/// or, should that not fit, the heading and the outcome.
pub fn outcome_text(original: &str, line: &str) -> String {
    // Once decided, the expiry no longer applies: the outcome line takes its place.
    let original = match original.rfind("\n⏳ Expires in ") {
        Some(i) => original[..i].trim_end(),
        None => original,
    };
    let text = format!("{original}\n\n{line}");
    if text.chars().count() <= MAX_TEXT_CHARS {
        text
    } else {
        format!("{HEADING}\n\n{line}")
    }
}

/// What the user sees in an alert when a press is refused.
pub fn press_alert(e: &PressError) -> &'static str {
    match e {
        PressError::UnknownToken | PressError::WrongMessage(_) => {
            "This request is no longer valid."
        }
        PressError::AlreadyDecided(_) => "This request was already decided.",
        PressError::Expired(_) => "This request has expired. Nothing was signed.",
        PressError::WrongUser { .. } => "This button is not for you.",
    }
}

/// Toast after an approval was signed.
pub const APPROVED_TOAST: &str = "Approved: signed";
/// Toast after a rejection.
pub const REJECTED_TOAST: &str = "Rejected: nothing was signed";
/// Toast after an approval that could not be signed.
pub const FAILED_TOAST: &str = "Approved, but signing failed";

/// Notice after a successful link.
pub const LINKED_NOTICE: &str = "✅ Your Telegram account is now linked to Custos. \
     Transactions that need your confirmation will be sent to this chat.";
/// Notice for `/start` without a payload.
pub const BARE_START_NOTICE: &str = "This bot confirms transactions for Custos. \
     To link your Telegram account, open the link you were given in the app.";
/// Notice for a payload that is unknown, used or replaced.
pub const INVALID_LINK_NOTICE: &str = "This link is not valid: it was already used, \
     replaced by a newer one, or mistyped. Ask for a new link in the app.";
/// Notice for an expired payload.
pub const EXPIRED_LINK_NOTICE: &str = "This link has expired. Ask for a new link in the app.";
/// Notice for a `/start` outside the user's private chat.
pub const PRIVATE_CHAT_NOTICE: &str =
    "Linking works only in a private chat with the bot. Open the link again from the app.";
/// Notice when the link could not be completed for an internal reason.
pub const LINK_FAILED_NOTICE: &str = "Linking failed. Ask for a new link in the app.";

/// "5 minutes", "1 minute", "30 seconds", "1 hour".
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = if s >= 3600 && s.is_multiple_of(3600) {
        (s / 3600, "hour")
    } else if s >= 60 && s.is_multiple_of(60) {
        (s / 60, "minute")
    } else {
        (s, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::from_secs(300)), "5 minutes");
        assert_eq!(human_duration(Duration::from_secs(60)), "1 minute");
        assert_eq!(human_duration(Duration::from_secs(3600)), "1 hour");
        assert_eq!(human_duration(Duration::from_secs(90)), "90 seconds");
        assert_eq!(human_duration(Duration::from_secs(1)), "1 second");
    }

    #[test]
    fn outcomes_stay_within_the_limit() {
        let long = "x".repeat(MAX_TEXT_CHARS - 10);
        let t = outcome_text(&long, REJECTED_LINE);
        assert!(t.chars().count() <= MAX_TEXT_CHARS);
        assert!(t.starts_with(HEADING) && t.ends_with(REJECTED_LINE));
        let t = outcome_text("hello\n⏳ Expires in 5 minutes.", &approved_line(&[1; 64]));
        assert!(!t.contains("Expires"), "{t}");
        assert!(t.starts_with("hello\n\n✅"));
        assert!(failed_line("<bad>").contains("&lt;bad&gt;"));
    }
}
