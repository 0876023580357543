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
/// Toast after Approve when the second factor is still needed.
pub const FACTOR_TOAST: &str = "Approved: now your second factor";
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

// ---- Second factors (issue 5) ----

/// Outcome line after Approve when the second factor is still needed.
pub fn factor_needed_line(totp: bool, passkey: bool, expiry: Duration) -> String {
    let how = match (totp, passkey) {
        (true, true) => {
            "reply to this chat with the 6-digit code from your authenticator app, \
             or confirm with your passkey (button below)"
        }
        (true, false) => "reply to this chat with the 6-digit code from your authenticator app",
        _ => "confirm with your passkey (button below)",
    };
    format!(
        "✅ Approved in Telegram.\n🔐 <b>Second factor needed</b>: {how}. Nothing is signed \
         until then.\n⏳ Expires in {}.",
        human_duration(expiry)
    )
}

/// Outcome line after Approve on an export.
pub fn export_approved_line(factor: bool, expiry: Duration) -> String {
    format!(
        "✅ Approved in Telegram.\n🔑 Open the export page (button below) to receive the key. \
         It is encrypted to a key made in your browser; nobody in between can read it.{}\n\
         ⏳ Expires in {}.",
        if factor {
            " You will need your second factor there."
        } else {
            ""
        },
        human_duration(expiry)
    )
}

/// Outcome line: the second factor was not given in time.
pub const FACTOR_EXPIRED_LINE: &str =
    "⌛ <b>Expired</b> waiting for the second factor: nothing was signed or exported";

/// Outcome line: the key went to the user's browser.
pub fn exported_line() -> String {
    "🔑 <b>Exported</b> to your browser, encrypted end to end. If this was not you, move \
     your funds to a new wallet now."
        .to_owned()
}

/// Outcome line: the export failed.
pub fn export_failed_line(reason: &str) -> String {
    format!(
        "⚠️ <b>Approved, but the export failed</b>: {}",
        html_escape(&truncate(reason, 200))
    )
}

/// The message asking to approve an export.
pub fn export_text(wallet: &[u8; 32], expiry: Duration) -> String {
    format!(
        "<b>Custos: export a private key</b>\nWallet: <code>{}</code>\n\n⚠️ Someone asked to \
         export this wallet's private key. Whoever has it controls the funds. Approve only \
         if you asked for it yourself.\n⏳ Expires in {}.",
        bs58::encode(wallet).into_string(),
        human_duration(expiry)
    )
}

/// The page's plain-text description of a challenge (its Telegram text without tags).
pub fn page_text(html: &str) -> String {
    let original = match html.rfind("\n⏳ Expires in ") {
        Some(i) => &html[..i],
        None => html,
    };
    let mut out = String::with_capacity(original.len());
    let mut in_tag = false;
    for c in original.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Asks for the existing factor before a security change.
pub fn action_prompt(action: crate::guard::Action, totp: bool, passkey: bool) -> String {
    let how = match (totp, passkey) {
        (true, true) => {
            "reply with the 6-digit code from your authenticator app, or confirm \
             with your passkey (button below)"
        }
        (true, false) => "reply with the 6-digit code from your authenticator app",
        _ => "confirm with your passkey (button below)",
    };
    format!(
        "🔐 To {}, {how}. This expires in 10 minutes.",
        action.describe()
    )
}

/// Caption of the QR code photo (the URI and the secret are in it: sent sealed).
///
/// The secret is written once, into a buffer sized for the whole caption up front: no
/// `format!` or escaped intermediate copies, and no reallocation that would free an
/// unwiped copy. The caller moves the result into a wiped-on-drop `SecretString`.
pub fn enrolment_caption(uri: &str, secret_base32: &str) -> String {
    const PARTS: [&str; 3] = [
        "<b>Set up your authenticator app</b>\nScan this code, or enter the key <code>",
        "</code> by hand (or open <code>",
        "</code>).\nThen reply with the 6-digit code the app shows to turn on two-factor \
         authentication.\nThis message deletes itself in 10 minutes.",
    ];
    let mut out = String::with_capacity(
        PARTS.iter().map(|p| p.len()).sum::<usize>()
            + escaped_len(secret_base32)
            + escaped_len(uri),
    );
    out.push_str(PARTS[0]);
    push_escaped(&mut out, secret_base32);
    out.push_str(PARTS[1]);
    push_escaped(&mut out, uri);
    out.push_str(PARTS[2]);
    out
}

/// Heading of the recovery codes message.
const RECOVERY_CODES_HEADING: &str =
    "<b>Recovery codes</b> (each works once in place of a code; write them down and keep \
     them offline: this message deletes itself in 10 minutes):\n";

/// The recovery codes, shown once. Built like [`enrolment_caption`]: one buffer sized up
/// front, each code written once.
pub fn recovery_codes_text(codes: &[&str]) -> String {
    let (open, close) = ("<code>", "</code>\n");
    let mut s = String::with_capacity(
        RECOVERY_CODES_HEADING.len()
            + codes
                .iter()
                .map(|c| open.len() + escaped_len(c) + close.len())
                .sum::<usize>(),
    );
    s.push_str(RECOVERY_CODES_HEADING);
    for c in codes {
        s.push_str(open);
        push_escaped(&mut s, c);
        s.push_str(close);
    }
    s
}

/// The HTML escape of one character (as `html_escape` does it), or `None` to keep it.
fn escape_of(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        _ => None,
    }
}

/// Length of `s` once HTML-escaped.
fn escaped_len(s: &str) -> usize {
    s.chars()
        .map(|c| escape_of(c).map_or(c.len_utf8(), str::len))
        .sum()
}

/// Appends `s` HTML-escaped to `out`, with no intermediate string.
fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match escape_of(c) {
            Some(e) => out.push_str(e),
            None => out.push(c),
        }
    }
}

/// After TOTP activation.
pub fn totp_enrolled_notice(replaced: bool) -> String {
    if replaced {
        "✅ Your new authenticator app is set up; the old one no longer works.".into()
    } else {
        "✅ Two-factor authentication is on. Withdrawals, exports and security changes now \
         need a code from your authenticator app after Approve."
            .into()
    }
}

/// A first code refused during enrolment.
pub fn enrolment_refused_notice(e: &crate::totp::TotpError, attempts_left: u32) -> String {
    if attempts_left == 0 {
        format!(
            "❌ {}. The set-up was cancelled; send /totp to start again.",
            html_escape(&e.to_string())
        )
    } else {
        format!(
            "❌ {}. Try again with the current code ({attempts_left} attempts left).",
            html_escape(&e.to_string())
        )
    }
}

/// A code refused for a waiting request.
pub fn code_refused_notice(reason: &str) -> String {
    format!(
        "❌ Code refused: {}. Nothing was done.",
        html_escape(reason)
    )
}

/// Something failed inside the signer.
pub fn failed_notice(reason: &str) -> String {
    format!(
        "⚠️ That did not work: {}",
        html_escape(&truncate(reason, 200))
    )
}

/// `/security`.
pub fn status_text(
    totp: bool,
    passkeys: usize,
    always: bool,
    removal: Option<crate::factors::Removal>,
) -> String {
    let mut s = String::from("<b>Custos security</b>\n");
    s.push_str(&format!(
        "Authenticator app: {}\nPasskeys: {passkeys}\nSecond factor for every signature: {}\n",
        if totp { "on" } else { "off" },
        if always { "yes" } else { "no" }
    ));
    if let Some(r) = removal {
        s.push_str(&format!(
            "⚠️ Removal of your {} scheduled for {} (send /cancel_removal to keep it)\n",
            target_name(r.target),
            utc(r.effective_at)
        ));
    }
    s.push_str(
        "\nCommands: /totp (set up or replace the authenticator app), /passkey (add a \
         passkey), /remove_totp, /remove_passkeys, /always_on, /always_off, /cancel_removal",
    );
    s
}

fn target_name(t: crate::factors::RemovalTarget) -> &'static str {
    match t {
        crate::factors::RemovalTarget::Totp => "authenticator app",
        crate::factors::RemovalTarget::Passkeys => "passkeys",
    }
}

/// A Unix time as `YYYY-MM-DD HH:MM UTC`.
pub fn utc(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm), for a date without a time crate.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// The removal of the last factor was scheduled.
pub fn removal_scheduled_notice(t: crate::factors::RemovalTarget, at: u64) -> String {
    format!(
        "⚠️ Your {} will be removed at {}. It is your last second factor, so the removal \
         waits: if this was not you, send /cancel_removal now.",
        target_name(t),
        utc(at)
    )
}

/// A factor was removed.
pub fn removed_notice(t: crate::factors::RemovalTarget) -> String {
    format!("Your {} has been removed.", target_name(t))
}

/// The sender is not linked.
pub const NOT_LINKED_NOTICE: &str =
    "This Telegram account is not linked to Custos. Open the link you were given in the app.";
/// An unknown command.
pub const UNKNOWN_COMMAND_NOTICE: &str =
    "Unknown command. Send /security to see your settings and the commands.";
/// A code arrived with nothing waiting for it.
pub const NOTHING_WAITING_NOTICE: &str =
    "Nothing is waiting for a code. (Your message was deleted.)";
/// Passkeys need the page.
pub const NO_PAGE_NOTICE: &str =
    "Passkeys are not available: no Custos page is configured on this server.";
/// The registration button.
pub const REGISTER_PASSKEY_NOTICE: &str =
    "Open the page below in your browser to add a passkey. The link works once, for 10 minutes.";
/// A TOTP set-up begun without a factor, finished after one was added: void.
pub const ENROLMENT_VOID_NOTICE: &str = "A second factor was added since this set-up began, so \
     it was cancelled. To set up the authenticator app, send /totp again.";
/// A passkey link issued without a factor, used after one was added: void.
pub const REGISTRATION_VOID: &str = "a second factor was added since this link was issued; \
     send /passkey again";
/// A passkey was added.
pub const PASSKEY_ADDED_NOTICE: &str = "✅ Passkey added.";
/// `/always_on`.
pub const ALWAYS_ON_NOTICE: &str = "✅ Every signature now needs Approve and your second factor.";
/// `/always_off` done.
pub const ALWAYS_OFF_NOTICE: &str =
    "Only withdrawals, exports and security changes need your second factor now.";
/// `/cancel_removal` done.
pub const REMOVAL_CANCELLED_NOTICE: &str = "✅ The scheduled removal was cancelled.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_texts_are_built_in_one_exact_buffer() {
        let uri = "otpauth://totp/Custos:a%20b?secret=JBSWY3DPEHPK3PXP&issuer=Custos&x=<\"&>";
        let caption = enrolment_caption(uri, "JBSWY3DPEHPK3PXP");
        // The same text the earlier `format!` + `html_escape` version produced...
        let expected = format!(
            "<b>Set up your authenticator app</b>\nScan this code, or enter the key \
             <code>{}</code> by hand (or open <code>{}</code>).\nThen reply with the 6-digit code \
             the app shows to turn on two-factor authentication.\nThis message deletes itself \
             in 10 minutes.",
            html_escape("JBSWY3DPEHPK3PXP"),
            html_escape(uri)
        );
        assert_eq!(caption, expected);
        // ...in a buffer that never grew: its first allocation held the secret, and only it.
        assert_eq!(caption.capacity(), caption.len());

        let codes = ["ABCD-EFGH-IJKL-MNOP", "QRST-UVWX-YZ23-4567", "<&>"];
        let text = recovery_codes_text(&codes);
        let mut expected = String::from(RECOVERY_CODES_HEADING);
        for c in codes {
            expected.push_str(&format!("<code>{}</code>\n", html_escape(c)));
        }
        assert_eq!(text, expected);
        assert_eq!(text.capacity(), text.len());
    }

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

    #[test]
    fn dates_and_page_text() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_800_000_000), "2027-01-15 08:00 UTC");
        assert_eq!(
            page_text("<b>A &amp; B</b>\nx &lt;y&gt;\n⏳ Expires in 5 minutes."),
            "A & B\nx <y>"
        );
    }
}
