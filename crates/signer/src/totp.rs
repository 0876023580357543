//! The TOTP second factor (RFC 6238) as a pure state machine.
//!
//! [`crate::second_factor`] drives it: a [`TotpFactor`] (its [`TotpFactor::to_bytes`]) is
//! kept encrypted inside the user's security record ([`crate::factors`]) and re-sealed
//! after every call that changes it; the codes the user types in the bot chat (or on the
//! Custos page) reach it through the sealed pool channel.
//!
//! # Enrolment
//!
//! [`Enrolment::begin`] draws a 20-byte secret from the OS CSPRNG and returns a
//! [`PendingEnrolment`] (kept by the signer) and an [`EnrolmentOffer`] (shown to the
//! user once): the `otpauth://totp/...` URI, the same URI as a QR code in PNG, the secret
//! in base32 for typing it by hand, and [`RECOVERY_CODES`] one-time recovery codes.
//! Parameters are the authenticator-app defaults: HMAC-SHA1, [`DIGITS`] digits, a
//! [`PERIOD`]-second step. The factor becomes active only when the user returns a valid
//! first code ([`PendingEnrolment::confirm`]); that code's step counts as used.
//!
//! # Verification
//!
//! [`TotpFactor::verify`] accepts exactly six ASCII digits for the current step or one
//! step either side ([`SKEW_STEPS`]), compared in constant time. Each step is usable
//! once: a code for a step at or before the last used step is refused as reused.
//! [`TotpFactor::use_recovery_code`] accepts each recovery code once.
//!
//! # Rate limit
//!
//! Every refused attempt that was checked counts as a failure: a wrong code, a reused
//! code, a used recovery code, and also malformed input (it is a guess too, and
//! counting it means a client cannot probe without cost). After
//! [`FAILURES_BEFORE_LOCKOUT`] consecutive failures the factor locks for the next
//! duration of [`LOCKOUT_SCHEDULE`] (1 min, 5 min, 30 min, 2 h, then 24 h for every
//! further lock-out) and the failure count starts again. While locked, every attempt
//! (TOTP or recovery code) is refused with [`TotpError::Locked`] without looking at the
//! code, so the answer does not reveal whether it was right, and it is not counted (the
//! lock does not grow). A success resets the failure count and the escalation level.
//! An attacker therefore gets at most 5 guesses per lock-out, 25 in the first ~2.6 h
//! and 5 a day after that, each with a chance of about 3 in 10^6 (three accepted steps).
//!
//! All of this state (last used step, failures, escalation level, lock-out end, used
//! recovery codes) is part of [`TotpFactor::to_bytes`], so it survives a restart once
//! stored. The caller must store the factor after **every** call that takes `&mut self`,
//! whatever the result, and before acting on a success: otherwise a crash could forget
//! a failure or let a used step be replayed.
//!
//! # Recovery codes
//!
//! Each code is 10 random bytes (80 bits) written as 16 characters of RFC 4648 base32
//! in four groups (`ABCD-EFGH-IJKL-MNOP`); input is accepted in either case, with or
//! without the dashes and spaces. Only a hash is kept: SHA-256 over a domain label, a
//! 16-byte random salt drawn per factor, and the code's 10 bytes. A salted fast hash is
//! enough here because each code has 80 bits of entropy (no dictionary to try), the salt
//! stops precomputation across users, and the whole factor will be stored encrypted
//! under the signer's key anyway; it also keeps the factor self-contained (no key to
//! pass in). The plain codes exist only in the [`EnrolmentOffer`].
//!
//! # Time and secrets
//!
//! Time is the caller's Unix time in seconds (`unix_time`), so the module has no clock,
//! no threads and no I/O, and tests control time. The TOTP secret, the URI, the QR PNG,
//! the base32 secret and the plain recovery codes zeroize on drop, and the types that hold
//! them have no `Debug` (the workspace lint `crates/crypto/tests/secret_hygiene.rs` keeps it
//! so). Best effort only: the `qrcode` and `png` crates keep
//! internal working buffers of the URI that this module cannot wipe (the QR code shows
//! the secret to the user by design).

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// Bytes in a TOTP secret (160 bits, the RFC 4226 recommendation).
pub const SECRET_LEN: usize = 20;
/// Digits in a code.
pub const DIGITS: usize = 6;
/// Seconds in a time step.
pub const PERIOD: u64 = 30;
/// Steps accepted either side of the current one.
pub const SKEW_STEPS: u64 = 1;
/// Recovery codes drawn at enrolment.
pub const RECOVERY_CODES: usize = 10;
/// Random bytes in a recovery code (80 bits).
pub const RECOVERY_CODE_BYTES: usize = 10;
/// Base32 characters in a recovery code, dashes not counted.
pub const RECOVERY_CODE_CHARS: usize = 16;
/// Consecutive failures that start a lock-out.
pub const FAILURES_BEFORE_LOCKOUT: u32 = 5;
/// Lock-out durations in seconds, by escalation level: 1 min, 5 min, 30 min, 2 h, 24 h.
/// Lock-outs after the last one keep its duration.
pub const LOCKOUT_SCHEDULE: [u64; 5] = [60, 5 * 60, 30 * 60, 2 * 3600, 24 * 3600];
/// Wrong or malformed codes a [`PendingEnrolment`] takes before it closes.
pub const MAX_CONFIRM_ATTEMPTS: u32 = 5;
/// Longest account label or issuer, in bytes.
pub const MAX_LABEL_LEN: usize = 64;
/// Version byte of [`TotpFactor::to_bytes`].
pub const FACTOR_FORMAT_VERSION: u8 = 1;
/// Length of [`TotpFactor::to_bytes`].
pub const FACTOR_BYTES_LEN: usize = 70 + RECOVERY_CODES * (HASH_LEN + 1);

/// Salt bytes for the recovery code hashes.
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;
/// Domain label of the recovery code hash.
const RECOVERY_DOMAIN: &[u8] = b"custos/v1/totp-recovery-code\0";
/// Algorithm byte of the serialized factor: HMAC-SHA1.
const ALGORITHM_SHA1: u8 = 1;
/// Input longer than this is malformed without further parsing.
const MAX_RECOVERY_INPUT: usize = 64;
/// Pixels per QR module (one module is one byte of a 1-bit PNG row).
const QR_MODULE_PX: usize = 8;
/// Light modules around the code (the QR specification's quiet zone).
const QR_QUIET_MODULES: usize = 4;

/// Characters left as they are in the URI's label and issuer: RFC 3986 unreserved.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Starts enrolments; see [`Enrolment::begin`].
#[derive(Debug)]
pub enum Enrolment {}

impl Enrolment {
    /// Draws a new secret and recovery codes for `account_label` (what the app shows
    /// under the issuer, e.g. the user's name) and `issuer` (e.g. "Custos"). Both must
    /// be 1 to [`MAX_LABEL_LEN`] bytes, without `:` (the URI's separator) or control
    /// characters. Returns the pending enrolment to keep and the offer to show once.
    pub fn begin(
        account_label: &str,
        issuer: &str,
    ) -> Result<(PendingEnrolment, EnrolmentOffer), EnrolmentError> {
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        let mut codes = Zeroizing::new([[0u8; RECOVERY_CODE_BYTES]; RECOVERY_CODES]);
        let mut salt = [0u8; SALT_LEN];
        custos_crypto::os_random(&mut secret[..]).map_err(EnrolmentError::Random)?;
        for code in codes.iter_mut() {
            custos_crypto::os_random(code).map_err(EnrolmentError::Random)?;
        }
        custos_crypto::os_random(&mut salt).map_err(EnrolmentError::Random)?;
        begin_with(secret, &codes, salt, account_label, issuer)
    }
}

/// [`Enrolment::begin`] with its random material given (tests use fixed values).
fn begin_with(
    secret: Zeroizing<[u8; SECRET_LEN]>,
    codes: &[[u8; RECOVERY_CODE_BYTES]; RECOVERY_CODES],
    salt: [u8; SALT_LEN],
    account_label: &str,
    issuer: &str,
) -> Result<(PendingEnrolment, EnrolmentOffer), EnrolmentError> {
    check_label(account_label).map_err(EnrolmentError::InvalidAccountLabel)?;
    check_label(issuer).map_err(EnrolmentError::InvalidIssuer)?;

    let secret_base32 = Zeroizing::new(BASE32_NOPAD.encode(&secret[..]));
    let label = utf8_percent_encode(account_label, URI_COMPONENT).to_string();
    let issuer = utf8_percent_encode(issuer, URI_COMPONENT).to_string();
    let parts: [&str; 8] = [
        "otpauth://totp/",
        &issuer,
        ":",
        &label,
        "?secret=",
        &secret_base32,
        "&issuer=",
        &issuer,
    ];
    let tail = "&algorithm=SHA1&digits=6&period=30";
    // One allocation of the final size, so no partial copy of the secret is freed.
    let mut uri = Zeroizing::new(String::with_capacity(
        parts.iter().map(|p| p.len()).sum::<usize>() + tail.len(),
    ));
    for part in parts {
        uri.push_str(part);
    }
    uri.push_str(tail);

    let qr_png = qr_png(&uri)?;

    let mut recovery_hashes = [[0u8; HASH_LEN]; RECOVERY_CODES];
    let mut recovery_codes = Vec::with_capacity(RECOVERY_CODES);
    for (code, hash) in codes.iter().zip(recovery_hashes.iter_mut()) {
        *hash = recovery_hash(&salt, code);
        recovery_codes.push(RecoveryCode::display(code));
    }

    let pending = PendingEnrolment {
        secret,
        recovery_salt: salt,
        recovery_hashes,
        failures: 0,
        closed: false,
    };
    let offer = EnrolmentOffer {
        uri,
        qr_png,
        secret_base32,
        recovery_codes,
    };
    Ok((pending, offer))
}

fn check_label(text: &str) -> Result<(), LabelError> {
    if text.is_empty() {
        Err(LabelError::Empty)
    } else if text.len() > MAX_LABEL_LEN {
        Err(LabelError::TooLong { max: MAX_LABEL_LEN })
    } else if text.contains(':') {
        Err(LabelError::Colon)
    } else if text.chars().any(char::is_control) {
        Err(LabelError::ControlCharacter)
    } else {
        Ok(())
    }
}

/// Renders `uri` as a QR code (error correction M) in a 1-bit grayscale PNG: 8 pixels
/// per module, a 4-module quiet zone.
fn qr_png(uri: &str) -> Result<Zeroizing<Vec<u8>>, EnrolmentError> {
    use qrcode::{Color, EcLevel, QrCode};

    let code = QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M)
        .map_err(|e| EnrolmentError::QrCode(e.to_string()))?;
    let width = code.width();
    let mut colors = code.into_colors();
    // With 8 pixels per module, one module is exactly one byte of a 1-bit row
    // (0x00 black, 0xff white).
    let row_bytes = width + 2 * QR_QUIET_MODULES;
    let side = row_bytes * QR_MODULE_PX;
    let mut pixels = Zeroizing::new(vec![0xffu8; side * row_bytes]);
    for (y, row) in colors.chunks_exact(width).enumerate() {
        for (x, color) in row.iter().enumerate() {
            if *color == Color::Dark {
                for dy in 0..QR_MODULE_PX {
                    let py = (y + QR_QUIET_MODULES) * QR_MODULE_PX + dy;
                    pixels[py * row_bytes + x + QR_QUIET_MODULES] = 0x00;
                }
            }
        }
    }
    colors.iter_mut().for_each(|c| *c = Color::Light);
    drop(colors);

    let side = u32::try_from(side).map_err(|_| EnrolmentError::QrCode("too large".into()))?;
    // The compressed image is far smaller than the raw rows; this capacity avoids
    // reallocations (which would leave copies behind) in practice.
    let mut png_bytes = Zeroizing::new(Vec::with_capacity(pixels.len() + side as usize + 1024));
    {
        let mut encoder = png::Encoder::new(&mut *png_bytes, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        let mut writer = encoder
            .write_header()
            .map_err(|e| EnrolmentError::Png(e.to_string()))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| EnrolmentError::Png(e.to_string()))?;
        writer
            .finish()
            .map_err(|e| EnrolmentError::Png(e.to_string()))?;
    }
    Ok(png_bytes)
}

/// Why an account label or issuer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// It is empty.
    #[error("is empty")]
    Empty,
    /// It is longer than the limit.
    #[error("is longer than {max} bytes")]
    TooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// It contains `:`, the separator of issuer and account in the URI's label.
    #[error("contains ':'")]
    Colon,
    /// It contains a control character.
    #[error("contains a control character")]
    ControlCharacter,
}

/// Why an enrolment could not begin; nothing was kept.
#[derive(Debug, thiserror::Error)]
pub enum EnrolmentError {
    /// The account label is not acceptable.
    #[error("account label {0}")]
    InvalidAccountLabel(LabelError),
    /// The issuer is not acceptable.
    #[error("issuer {0}")]
    InvalidIssuer(LabelError),
    /// The OS CSPRNG failed.
    #[error(transparent)]
    Random(custos_crypto::RandomError),
    /// The URI did not fit in a QR code (cannot happen within the label limits).
    #[error("QR code: {0}")]
    QrCode(String),
    /// The PNG encoder failed.
    #[error("PNG encoding: {0}")]
    Png(String),
}

/// What the user is shown once at enrolment.
///
/// Secret: every field lets its holder produce codes or recover. All zeroize on drop and
/// there is no `Debug`. The base32 secret, the URI and the QR code are text and an image
/// by design (they go to the user's authenticator app), so they live in
/// `Zeroizing<String>`/`Zeroizing<Vec<u8>>`, never in a plain `String`.
pub struct EnrolmentOffer {
    uri: Zeroizing<String>,
    qr_png: Zeroizing<Vec<u8>>,
    secret_base32: Zeroizing<String>,
    recovery_codes: Vec<RecoveryCode>,
}

impl EnrolmentOffer {
    /// The key URI: `otpauth://totp/ISSUER:LABEL?secret=...&issuer=ISSUER&algorithm=SHA1&digits=6&period=30`,
    /// label and issuer percent-encoded (everything but RFC 3986 unreserved
    /// characters), the secret in base32 without padding.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The URI as a QR code: a 1-bit grayscale PNG, 8 pixels per module, with a
    /// 4-module quiet zone.
    pub fn qr_png(&self) -> &[u8] {
        &self.qr_png
    }

    /// The secret in base32 without padding (32 characters), for typing it into an app.
    pub fn secret_base32(&self) -> &str {
        &self.secret_base32
    }

    /// The [`RECOVERY_CODES`] recovery codes, each usable once; only their hashes are kept.
    pub fn recovery_codes(&self) -> &[RecoveryCode] {
        &self.recovery_codes
    }
}

/// A recovery code in plain, as shown to the user: `ABCD-EFGH-IJKL-MNOP` (16 base32
/// characters, 80 bits).
///
/// Secret: zeroized on drop; no `Debug`.
pub struct RecoveryCode(Zeroizing<String>);

impl RecoveryCode {
    fn display(bytes: &[u8; RECOVERY_CODE_BYTES]) -> Self {
        let mut chars = Zeroizing::new([0u8; RECOVERY_CODE_CHARS]);
        BASE32_NOPAD.encode_mut(bytes, &mut chars[..]);
        let mut text = Zeroizing::new(String::with_capacity(RECOVERY_CODE_CHARS + 3));
        for (i, group) in chars.chunks_exact(4).enumerate() {
            if i > 0 {
                text.push('-');
            }
            // Base32 output is ASCII.
            text.extend(group.iter().map(|&b| char::from(b)));
        }
        RecoveryCode(text)
    }

    /// The code as shown to the user.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An enrolment waiting for the user's first code. Keep it in memory only, and drop it
/// after a while (the service's choice, like an unused link): it has no expiry of its
/// own.
///
/// Secret: the TOTP secret, zeroized on drop and when the enrolment closes; no `Debug`.
pub struct PendingEnrolment {
    secret: Zeroizing<[u8; SECRET_LEN]>,
    recovery_salt: [u8; SALT_LEN],
    recovery_hashes: [[u8; HASH_LEN]; RECOVERY_CODES],
    failures: u32,
    closed: bool,
}

impl PendingEnrolment {
    /// Activates the factor if `code` is valid for the step of `unix_time` or one step
    /// either side. The returned factor has that step marked used, no failures and all
    /// recovery codes unused. A wrong or malformed code is refused
    /// ([`TotpError::WrongCode`], [`TotpError::MalformedCode`]; never locked here) and
    /// the enrolment stays open, up to [`MAX_CONFIRM_ATTEMPTS`] of them; then it closes.
    /// Once closed, or once activated, every call returns [`TotpError::EnrolmentClosed`]
    /// (begin again).
    pub fn confirm(&mut self, code: &str, unix_time: u64) -> Result<TotpFactor, TotpError> {
        if self.closed {
            return Err(TotpError::EnrolmentClosed);
        }
        let matched = match parse_code(code) {
            None => Err(TotpError::MalformedCode { locked_until: None }),
            Some(given) => match match_window(&self.secret, given, unix_time, None) {
                WindowMatch::Fresh(step) => Ok(step),
                WindowMatch::Reused(_) | WindowMatch::None => {
                    Err(TotpError::WrongCode { locked_until: None })
                }
            },
        };
        match matched {
            Ok(step) => {
                let factor = TotpFactor {
                    secret: self.secret.clone(),
                    enrolled_at: unix_time,
                    last_used_step: step,
                    failures: 0,
                    lockouts: 0,
                    locked_until: 0,
                    recovery_salt: self.recovery_salt,
                    recovery: self
                        .recovery_hashes
                        .map(|hash| RecoverySlot { hash, used: false }),
                };
                self.close();
                Ok(factor)
            }
            Err(err) => {
                self.failures += 1;
                if self.failures >= MAX_CONFIRM_ATTEMPTS {
                    self.close();
                }
                Err(err)
            }
        }
    }

    /// Whether the enrolment is closed (activated, or too many wrong codes).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Wrong or malformed codes still allowed before the enrolment closes.
    pub fn attempts_left(&self) -> u32 {
        if self.closed {
            0
        } else {
            MAX_CONFIRM_ATTEMPTS - self.failures
        }
    }

    fn close(&mut self) {
        self.closed = true;
        self.secret.zeroize();
        self.recovery_hashes.zeroize();
    }
}

/// A recovery code's hash and whether it was used.
#[derive(Clone, Copy, PartialEq, Eq)]
struct RecoverySlot {
    hash: [u8; HASH_LEN],
    used: bool,
}

/// An active TOTP factor: the persistent state to store (encrypted) with the user's
/// security record.
///
/// Secret: the TOTP secret, zeroized on drop; no `Debug`.
///
/// Store it ([`TotpFactor::to_bytes`]) after every call that takes `&mut self`,
/// whatever the result, before acting on a success.
pub struct TotpFactor {
    secret: Zeroizing<[u8; SECRET_LEN]>,
    enrolled_at: u64,
    last_used_step: u64,
    failures: u32,
    lockouts: u8,
    locked_until: u64,
    recovery_salt: [u8; SALT_LEN],
    recovery: [RecoverySlot; RECOVERY_CODES],
}

/// A code that was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedStep {
    /// The time step the code was for (Unix time / [`PERIOD`]); now the last used step.
    pub step: u64,
    /// That step minus the current step: -1, 0 or +1.
    pub drift: i8,
}

/// A recovery code that was accepted (and is now used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryAccepted {
    /// Unused recovery codes left.
    pub remaining: usize,
}

/// Why a code was refused. The `locked_until` of a counted refusal is `Some(t)` when
/// that failure started a lock-out lasting until Unix time `t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The factor is locked until this Unix time; the code was not looked at and the
    /// attempt is not counted.
    #[error("too many failed attempts: locked until {until}")]
    Locked {
        /// Unix time (seconds) at which attempts are checked again.
        until: u64,
    },
    /// Not exactly six ASCII digits. Counted as a failure.
    #[error("a code is six digits")]
    MalformedCode {
        /// Set when this failure started a lock-out.
        locked_until: Option<u64>,
    },
    /// Not the code of the current step or one either side. Counted as a failure.
    #[error("wrong code")]
    WrongCode {
        /// Set when this failure started a lock-out.
        locked_until: Option<u64>,
    },
    /// The code of a step already used (each code works once). Counted as a failure.
    #[error("this code was already used; wait for the next one")]
    ReusedCode {
        /// The step the code belongs to.
        step: u64,
        /// Set when this failure started a lock-out.
        locked_until: Option<u64>,
    },
    /// Not a recovery code's form (16 base32 characters, dashes and spaces allowed).
    /// Counted as a failure.
    #[error("a recovery code is 16 letters and digits 2-7")]
    MalformedRecoveryCode {
        /// Set when this failure started a lock-out.
        locked_until: Option<u64>,
    },
    /// Not one of this factor's recovery codes. Counted as a failure.
    #[error("wrong recovery code")]
    WrongRecoveryCode {
        /// Set when this failure started a lock-out.
        locked_until: Option<u64>,
    },
    /// A recovery code already used (each works once). Counted as a failure.
    #[error("this recovery code was already used")]
    UsedRecoveryCode {
        /// Set when this failure started a lock-out.
        locked_until: Option<u64>,
    },
    /// The enrolment was activated already or closed after too many wrong codes.
    #[error("this enrolment is closed; start again")]
    EnrolmentClosed,
}

impl TotpError {
    /// Whether this refusal counted as a failure against the rate limit.
    pub fn counted(&self) -> bool {
        !matches!(self, TotpError::Locked { .. } | TotpError::EnrolmentClosed)
    }
}

impl TotpFactor {
    /// Checks a six-digit code at `unix_time`. Refused without looking at the code
    /// while locked; otherwise a code for the current step or one either side is
    /// accepted once, and its step becomes the last used step. A success resets the
    /// failure count and the lock-out escalation; every other refusal is counted (see
    /// the module docs).
    pub fn verify(&mut self, code: &str, unix_time: u64) -> Result<VerifiedStep, TotpError> {
        self.check_lock(unix_time)?;
        let Some(given) = parse_code(code) else {
            let locked_until = self.record_failure(unix_time);
            return Err(TotpError::MalformedCode { locked_until });
        };
        match match_window(&self.secret, given, unix_time, Some(self.last_used_step)) {
            WindowMatch::Fresh(step) => {
                self.last_used_step = step;
                self.record_success();
                let drift = (i128::from(step) - i128::from(unix_time / PERIOD)) as i8;
                Ok(VerifiedStep { step, drift })
            }
            WindowMatch::Reused(step) => {
                let locked_until = self.record_failure(unix_time);
                Err(TotpError::ReusedCode { step, locked_until })
            }
            WindowMatch::None => {
                let locked_until = self.record_failure(unix_time);
                Err(TotpError::WrongCode { locked_until })
            }
        }
    }

    /// Checks a recovery code at `unix_time`, with the same lock-out accounting as
    /// [`TotpFactor::verify`]. An accepted code is marked used and never works again.
    pub fn use_recovery_code(
        &mut self,
        code: &str,
        unix_time: u64,
    ) -> Result<RecoveryAccepted, TotpError> {
        self.check_lock(unix_time)?;
        let Some(bytes) = parse_recovery_code(code) else {
            let locked_until = self.record_failure(unix_time);
            return Err(TotpError::MalformedRecoveryCode { locked_until });
        };
        let hash = recovery_hash(&self.recovery_salt, &bytes);
        // Compare with every slot, without stopping at a match.
        let mut unused_match = None;
        let mut used_match = false;
        for (i, slot) in self.recovery.iter().enumerate() {
            let equal = bool::from(slot.hash.ct_eq(&hash));
            if equal && !slot.used {
                unused_match = Some(i);
            }
            used_match |= equal && slot.used;
        }
        match unused_match {
            Some(i) => {
                self.recovery[i].used = true;
                self.record_success();
                Ok(RecoveryAccepted {
                    remaining: self.recovery_codes_left(),
                })
            }
            None => {
                let locked_until = self.record_failure(unix_time);
                Err(if used_match {
                    TotpError::UsedRecoveryCode { locked_until }
                } else {
                    TotpError::WrongRecoveryCode { locked_until }
                })
            }
        }
    }

    /// Unix time at which the factor was activated.
    pub fn enrolled_at(&self) -> u64 {
        self.enrolled_at
    }

    /// The last step a code was accepted for (codes for it and earlier steps are refused).
    pub fn last_used_step(&self) -> u64 {
        self.last_used_step
    }

    /// Consecutive failures since the last success or lock-out.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Lock-outs since the last success: the escalation level (at most
    /// `LOCKOUT_SCHEDULE.len()`).
    pub fn lockouts(&self) -> u8 {
        self.lockouts
    }

    /// The end of the current lock-out, if the factor is locked at `unix_time`.
    pub fn locked_until(&self, unix_time: u64) -> Option<u64> {
        (unix_time < self.locked_until).then_some(self.locked_until)
    }

    /// Recovery codes not used yet.
    pub fn recovery_codes_left(&self) -> usize {
        self.recovery.iter().filter(|slot| !slot.used).count()
    }

    /// The factor's state in a fixed layout of [`FACTOR_BYTES_LEN`] bytes, integers
    /// big-endian. It holds the secret: store it only encrypted.
    ///
    /// | offset | size | field |
    /// |---|---|---|
    /// | 0 | 1 | format version ([`FACTOR_FORMAT_VERSION`]) |
    /// | 1 | 1 | algorithm (1 = HMAC-SHA1) |
    /// | 2 | 1 | digits (6) |
    /// | 3 | 1 | period in seconds (30) |
    /// | 4 | 20 | secret |
    /// | 24 | 8 | enrolled at (Unix time) |
    /// | 32 | 8 | last used step |
    /// | 40 | 4 | failures (below [`FAILURES_BEFORE_LOCKOUT`]) |
    /// | 44 | 1 | lock-outs (escalation level, at most 5) |
    /// | 45 | 8 | locked until (Unix time; 0 if never locked) |
    /// | 53 | 16 | recovery code salt |
    /// | 69 | 1 | number of recovery codes ([`RECOVERY_CODES`]) |
    /// | 70 | 33 each | recovery code: SHA-256 hash, then 0 unused / 1 used |
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(FACTOR_BYTES_LEN));
        out.extend_from_slice(&[
            FACTOR_FORMAT_VERSION,
            ALGORITHM_SHA1,
            DIGITS as u8,
            PERIOD as u8,
        ]);
        out.extend_from_slice(&self.secret[..]);
        out.extend_from_slice(&self.enrolled_at.to_be_bytes());
        out.extend_from_slice(&self.last_used_step.to_be_bytes());
        out.extend_from_slice(&self.failures.to_be_bytes());
        out.push(self.lockouts);
        out.extend_from_slice(&self.locked_until.to_be_bytes());
        out.extend_from_slice(&self.recovery_salt);
        out.push(RECOVERY_CODES as u8);
        for slot in &self.recovery {
            out.extend_from_slice(&slot.hash);
            out.push(u8::from(slot.used));
        }
        debug_assert_eq!(out.len(), FACTOR_BYTES_LEN);
        out
    }

    /// Parses [`TotpFactor::to_bytes`], refusing anything it would not have written:
    /// another length, version or parameters, a failure count at or above the
    /// lock-out threshold, an escalation level above the schedule, a lock-out time
    /// without a lock-out, a used flag other than 0 or 1.
    pub fn from_bytes(bytes: &[u8]) -> Result<TotpFactor, FactorDecodeError> {
        if bytes.len() != FACTOR_BYTES_LEN {
            return Err(FactorDecodeError::Length {
                expected: FACTOR_BYTES_LEN,
                found: bytes.len(),
            });
        }
        let mut r = Reader { bytes, at: 0 };
        let version = r.u8();
        if version != FACTOR_FORMAT_VERSION {
            return Err(FactorDecodeError::Version(version));
        }
        let (algorithm, digits, period) = (r.u8(), r.u8(), r.u8());
        if algorithm != ALGORITHM_SHA1
            || usize::from(digits) != DIGITS
            || u64::from(period) != PERIOD
        {
            return Err(FactorDecodeError::Parameters {
                algorithm,
                digits,
                period,
            });
        }
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        secret.copy_from_slice(r.take(SECRET_LEN));
        let enrolled_at = r.u64();
        let last_used_step = r.u64();
        let failures = u32::from_be_bytes(r.array());
        if failures >= FAILURES_BEFORE_LOCKOUT {
            return Err(FactorDecodeError::Failures(failures));
        }
        let lockouts = r.u8();
        if usize::from(lockouts) > LOCKOUT_SCHEDULE.len() {
            return Err(FactorDecodeError::Lockouts(lockouts));
        }
        let locked_until = r.u64();
        if locked_until != 0 && lockouts == 0 {
            return Err(FactorDecodeError::LockWithoutLockout);
        }
        let recovery_salt: [u8; SALT_LEN] = r.array();
        let count = r.u8();
        if usize::from(count) != RECOVERY_CODES {
            return Err(FactorDecodeError::RecoveryCount(count));
        }
        let mut recovery = [RecoverySlot {
            hash: [0; HASH_LEN],
            used: false,
        }; RECOVERY_CODES];
        for slot in recovery.iter_mut() {
            slot.hash = r.array();
            slot.used = match r.u8() {
                0 => false,
                1 => true,
                other => return Err(FactorDecodeError::UsedFlag(other)),
            };
        }
        debug_assert_eq!(r.at, FACTOR_BYTES_LEN);
        Ok(TotpFactor {
            secret,
            enrolled_at,
            last_used_step,
            failures,
            lockouts,
            locked_until,
            recovery_salt,
            recovery,
        })
    }

    fn check_lock(&self, unix_time: u64) -> Result<(), TotpError> {
        match self.locked_until(unix_time) {
            Some(until) => Err(TotpError::Locked { until }),
            None => Ok(()),
        }
    }

    /// Counts a failure; returns the lock-out's end if this one started a lock-out.
    fn record_failure(&mut self, unix_time: u64) -> Option<u64> {
        self.failures += 1;
        if self.failures < FAILURES_BEFORE_LOCKOUT {
            return None;
        }
        let level = usize::from(self.lockouts).min(LOCKOUT_SCHEDULE.len() - 1);
        self.locked_until = unix_time.saturating_add(LOCKOUT_SCHEDULE[level]);
        self.lockouts = (self.lockouts + 1).min(LOCKOUT_SCHEDULE.len() as u8);
        self.failures = 0;
        Some(self.locked_until)
    }

    fn record_success(&mut self) {
        self.failures = 0;
        self.lockouts = 0;
        self.locked_until = 0;
    }
}

/// Why stored factor bytes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FactorDecodeError {
    /// Not [`FACTOR_BYTES_LEN`] bytes.
    #[error("TOTP factor is {found} bytes, expected {expected}")]
    Length {
        /// The required length.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// An unknown format version.
    #[error("unknown TOTP factor format version {0}")]
    Version(u8),
    /// Parameters other than HMAC-SHA1, 6 digits, 30 s.
    #[error("unsupported TOTP parameters: algorithm {algorithm}, {digits} digits, {period} s")]
    Parameters {
        /// The algorithm byte.
        algorithm: u8,
        /// The digits byte.
        digits: u8,
        /// The period byte.
        period: u8,
    },
    /// A failure count that would already have started a lock-out.
    #[error("impossible failure count {0}")]
    Failures(u32),
    /// An escalation level beyond the schedule.
    #[error("impossible lock-out level {0}")]
    Lockouts(u8),
    /// A lock-out time with no lock-out recorded.
    #[error("lock-out time without a lock-out")]
    LockWithoutLockout,
    /// Not [`RECOVERY_CODES`] recovery codes.
    #[error("{0} recovery codes, expected 10")]
    RecoveryCount(u8),
    /// A recovery code's used flag other than 0 or 1.
    #[error("invalid recovery code flag {0}")]
    UsedFlag(u8),
}

/// A cursor over bytes whose length was checked first.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        out
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N));
        out
    }

    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }

    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }
}

/// The code of `step` (RFC 4226 HOTP with HMAC-SHA1, truncated to [`DIGITS`] digits).
fn hotp(secret: &[u8; SECRET_LEN], step: u64) -> u32 {
    let mut mac =
        <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(&step.to_be_bytes());
    let mut digest: [u8; 20] = mac.finalize().into_bytes().into();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    digest.zeroize();
    binary % 10u32.pow(DIGITS as u32)
}

/// The code of `step` for a raw secret, for tests elsewhere in the crate.
#[cfg(test)]
pub(crate) fn code_at(secret: &[u8], step: u64) -> String {
    format!(
        "{:06}",
        hotp(secret.try_into().expect("20-byte secret"), step)
    )
}

/// Exactly [`DIGITS`] ASCII digits, as a number; `None` for anything else.
fn parse_code(code: &str) -> Option<u32> {
    let bytes = code.as_bytes();
    if bytes.len() != DIGITS || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0u32, |n, &b| n * 10 + u32::from(b - b'0')),
    )
}

/// What a code matched within the window.
enum WindowMatch {
    /// A step after the last used one (the latest, if several).
    Fresh(u64),
    /// Only steps at or before the last used one (the latest of them).
    Reused(u64),
    /// Nothing.
    None,
}

/// Compares `given` with the codes of every step within [`SKEW_STEPS`] of `unix_time`,
/// in constant time and without stopping at a match.
fn match_window(
    secret: &[u8; SECRET_LEN],
    given: u32,
    unix_time: u64,
    last_used: Option<u64>,
) -> WindowMatch {
    let current = unix_time / PERIOD;
    let first = current.saturating_sub(SKEW_STEPS);
    let last = current.saturating_add(SKEW_STEPS);
    let mut fresh = None;
    let mut reused = None;
    for step in first..=last {
        let equal = bool::from(hotp(secret, step).ct_eq(&given));
        let used = last_used.is_some_and(|last_used| step <= last_used);
        if equal && !used {
            fresh = Some(step);
        }
        if equal && used {
            reused = Some(step);
        }
    }
    match (fresh, reused) {
        (Some(step), _) => WindowMatch::Fresh(step),
        (None, Some(step)) => WindowMatch::Reused(step),
        (None, None) => WindowMatch::None,
    }
}

/// A recovery code's 10 bytes from user input: 16 base32 characters in either case,
/// with any dashes and spaces; `None` for anything else.
fn parse_recovery_code(code: &str) -> Option<Zeroizing<[u8; RECOVERY_CODE_BYTES]>> {
    if code.len() > MAX_RECOVERY_INPUT {
        return None;
    }
    let mut chars = Zeroizing::new([0u8; RECOVERY_CODE_CHARS]);
    let mut n = 0;
    for b in code.bytes().filter(|b| !matches!(b, b'-' | b' ')) {
        if n == RECOVERY_CODE_CHARS {
            return None;
        }
        chars[n] = b.to_ascii_uppercase();
        n += 1;
    }
    if n != RECOVERY_CODE_CHARS {
        return None;
    }
    let mut out = Zeroizing::new([0u8; RECOVERY_CODE_BYTES]);
    // 16 characters are exactly 80 bits: no trailing bits to be lax about.
    match BASE32_NOPAD.decode_mut(&chars[..], &mut out[..]) {
        Ok(RECOVERY_CODE_BYTES) => Some(out),
        _ => None,
    }
}

/// SHA-256(domain label || salt || code bytes).
fn recovery_hash(salt: &[u8; SALT_LEN], code: &[u8; RECOVERY_CODE_BYTES]) -> [u8; HASH_LEN] {
    let mut hasher = Sha256::new();
    hasher.update(RECOVERY_DOMAIN);
    hasher.update(salt);
    hasher.update(code);
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `unwrap_err` for results whose success is a secret type (which has no `Debug`).
    trait Refused<E> {
        fn refused(self) -> E;
    }

    impl<T, E> Refused<E> for Result<T, E> {
        fn refused(self) -> E {
            match self {
                Ok(_) => panic!("expected an error, got a success"),
                Err(e) => e,
            }
        }
    }

    /// The RFC 6238 appendix B SHA-1 seed.
    const RFC_SEED: &[u8; SECRET_LEN] = b"12345678901234567890";
    const T0: u64 = 1_700_000_010; // step 56_666_667, 10 s into it

    fn code(secret: &[u8; SECRET_LEN], unix_time: u64) -> String {
        format!("{:06}", hotp(secret, unix_time / PERIOD))
    }

    fn fixed_codes() -> [[u8; RECOVERY_CODE_BYTES]; RECOVERY_CODES] {
        let mut codes = [[0u8; RECOVERY_CODE_BYTES]; RECOVERY_CODES];
        for (i, c) in codes.iter_mut().enumerate() {
            for (j, b) in c.iter_mut().enumerate() {
                *b = (i * 31 + j * 7 + 3) as u8;
            }
        }
        codes
    }

    fn enrol(label: &str, issuer: &str) -> (PendingEnrolment, EnrolmentOffer) {
        begin_with(
            Zeroizing::new(*RFC_SEED),
            &fixed_codes(),
            [9u8; SALT_LEN],
            label,
            issuer,
        )
        .unwrap()
    }

    /// An active factor with the RFC seed, activated at `T0`.
    fn factor() -> (TotpFactor, EnrolmentOffer) {
        let (mut pending, offer) = enrol("alice", "Custos");
        let factor = pending.confirm(&code(RFC_SEED, T0), T0).unwrap();
        (factor, offer)
    }

    /// A code of six digits that is wrong for every step near `unix_time`.
    fn wrong_code(secret: &[u8; SECRET_LEN], unix_time: u64) -> String {
        let step = unix_time / PERIOD;
        (0..1_000_000u32)
            .map(|n| format!("{n:06}"))
            .find(|c| (step - 3..=step + 3).all(|s| format!("{:06}", hotp(secret, s)) != *c))
            .unwrap()
    }

    #[test]
    fn rfc6238_appendix_b_sha1_vectors_truncated_to_six_digits() {
        // (time, 8-digit value from the RFC); apps use the last six digits.
        let vectors = [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (time, eight) in vectors {
            assert_eq!(code(RFC_SEED, time), eight[2..], "at {time}");
            // And the factor accepts it at that time.
            let (mut pending, _) = enrol("a", "b");
            let factor = pending.confirm(&eight[2..], time).unwrap();
            assert_eq!(factor.last_used_step(), time / PERIOD);
        }
    }

    #[test]
    fn uri_is_exact_and_parses_back_with_totp_rs() {
        let (_, offer) = enrol("alice@example.com", "Custos");
        let b32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"; // base32 of the RFC seed
        assert_eq!(offer.secret_base32(), b32);
        assert_eq!(
            offer.uri(),
            format!(
                "otpauth://totp/Custos:alice%40example.com?secret={b32}&issuer=Custos\
                 &algorithm=SHA1&digits=6&period=30"
            )
        );
        let parsed = totp_rs::Totp::from_url(offer.uri()).unwrap();
        assert_eq!(parsed.issuer(), Some("Custos"));
        assert_eq!(parsed.account_name(), "alice@example.com");
        assert_eq!(parsed.digits(), 6);
        assert_eq!(parsed.step(), 30);
        assert_eq!(parsed.algorithm(), totp_rs::Algorithm::SHA1);
        // An independent implementation computes the same codes.
        for t in [59u64, T0, 1_111_111_109, 2_000_000_000, 20_000_000_000] {
            assert_eq!(parsed.generate(t).to_string(), code(RFC_SEED, t), "at {t}");
        }
    }

    #[test]
    fn uri_percent_encodes_label_and_issuer() {
        let label = "José Ünïcode/&?#=+%";
        let issuer = "Ex Co & Sons @ Custos";
        let (_, offer) = enrol(label, issuer);
        let uri = offer.uri();
        assert!(uri.starts_with(
            "otpauth://totp/Ex%20Co%20%26%20Sons%20%40%20Custos:Jos%C3%A9%20%C3%9Cn%C3%AFcode%2F%26%3F%23%3D%2B%25?secret="
        ));
        assert!(uri.contains("&issuer=Ex%20Co%20%26%20Sons%20%40%20Custos&"));
        let parsed = totp_rs::Totp::from_url(uri).unwrap();
        assert_eq!(parsed.issuer(), Some(issuer));
        assert_eq!(parsed.account_name(), label);
        assert_eq!(parsed.generate(T0).to_string(), code(RFC_SEED, T0));
    }

    #[test]
    fn begin_refuses_bad_labels_and_issuers() {
        let long = "x".repeat(MAX_LABEL_LEN + 1);
        let max = "x".repeat(MAX_LABEL_LEN);
        let cases: [(&str, &str, &str); 7] = [
            ("", "Custos", "account label is empty"),
            ("a:b", "Custos", "account label contains ':'"),
            (
                "a\nb",
                "Custos",
                "account label contains a control character",
            ),
            (&long, "Custos", "account label is longer than 64 bytes"),
            ("alice", "", "issuer is empty"),
            ("alice", "Cus:tos", "issuer contains ':'"),
            (
                "alice",
                "Cus\u{7f}tos",
                "issuer contains a control character",
            ),
        ];
        for (label, issuer, message) in cases {
            let err = Enrolment::begin(label, issuer).refused();
            assert_eq!(err.to_string(), message);
        }
        assert!(Enrolment::begin(&max, &max).is_ok());
    }

    #[test]
    fn begin_draws_fresh_secrets_and_recovery_codes() {
        let (_, a) = Enrolment::begin("alice", "Custos").unwrap();
        let (_, b) = Enrolment::begin("alice", "Custos").unwrap();
        assert_eq!(a.secret_base32().len(), 32);
        assert_ne!(a.secret_base32(), b.secret_base32());
        assert_ne!(
            a.recovery_codes()[0].as_str(),
            b.recovery_codes()[0].as_str()
        );
        let parsed = totp_rs::Totp::from_url(a.uri()).unwrap();
        assert_eq!(parsed.issuer(), Some("Custos"));
    }

    /// Decodes a PNG into (width, height, 8-bit gray pixels) with the `png` decoder.
    fn decode_png(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0u8; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        let gray = buf.iter().map(|&v| if v == 0 { 0 } else { 255 }).collect();
        (info.width as usize, info.height as usize, gray)
    }

    #[test]
    fn qr_png_decodes_to_the_uri() {
        for (label, issuer) in [
            ("alice@example.com", "Custos"),
            (
                &*"é".repeat(MAX_LABEL_LEN / 2),
                &*"Ü".repeat(MAX_LABEL_LEN / 2),
            ),
        ] {
            let (_, offer) = enrol(label, issuer);
            let png_bytes = offer.qr_png();
            assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
            let (width, height, gray) = decode_png(png_bytes);
            assert_eq!(width, height);
            assert_eq!(width % QR_MODULE_PX, 0);
            let modules = width / QR_MODULE_PX - 2 * QR_QUIET_MODULES;
            assert_eq!((modules - 17) % 4, 0, "a QR code is 17 + 4v modules wide");
            // The quiet zone is white.
            assert!(gray[..width * QR_QUIET_MODULES * QR_MODULE_PX]
                .iter()
                .all(|&p| p == 255));
            let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
                gray[y * width + x]
            });
            let grids = image.detect_grids();
            assert_eq!(grids.len(), 1);
            let (_, content) = grids[0].decode().unwrap();
            assert_eq!(content, offer.uri());
        }
    }

    #[test]
    fn confirm_activates_only_with_a_valid_first_code() {
        let (mut pending, _) = enrol("alice", "Custos");
        // Two steps away: refused, the enrolment stays open.
        let err = pending
            .confirm(&code(RFC_SEED, T0 - 2 * PERIOD), T0)
            .refused();
        assert_eq!(err, TotpError::WrongCode { locked_until: None });
        let err = pending
            .confirm(&code(RFC_SEED, T0 + 2 * PERIOD), T0)
            .refused();
        assert_eq!(err, TotpError::WrongCode { locked_until: None });
        assert_eq!(
            pending.confirm("12345", T0).refused(),
            TotpError::MalformedCode { locked_until: None }
        );
        assert_eq!(pending.attempts_left(), 2);
        assert!(!pending.is_closed());
        // One step behind is accepted; that step is now used.
        let factor = pending.confirm(&code(RFC_SEED, T0 - PERIOD), T0).unwrap();
        assert_eq!(factor.last_used_step(), T0 / PERIOD - 1);
        assert_eq!(factor.enrolled_at(), T0);
        assert_eq!(factor.failures(), 0);
        assert_eq!(factor.recovery_codes_left(), RECOVERY_CODES);
        assert_eq!(factor.secret[..], RFC_SEED[..]);
        // The enrolment is spent and its secret wiped.
        assert!(pending.is_closed());
        assert_eq!(pending.secret[..], [0u8; SECRET_LEN]);
        assert_eq!(
            pending.confirm(&code(RFC_SEED, T0), T0).refused(),
            TotpError::EnrolmentClosed
        );
    }

    #[test]
    fn confirm_accepts_one_step_ahead_and_the_first_code_cannot_be_replayed() {
        let (mut pending, _) = enrol("alice", "Custos");
        let first = code(RFC_SEED, T0 + PERIOD);
        let mut factor = pending.confirm(&first, T0).unwrap();
        assert_eq!(factor.last_used_step(), T0 / PERIOD + 1);
        assert!(matches!(
            factor.verify(&first, T0),
            Err(TotpError::ReusedCode { step, .. }) if step == T0 / PERIOD + 1
        ));
        // The current step is at or before the last used one: refused too.
        assert!(matches!(
            factor.verify(&code(RFC_SEED, T0), T0),
            Err(TotpError::ReusedCode { .. })
        ));
    }

    #[test]
    fn confirm_closes_after_too_many_wrong_codes() {
        let (mut pending, _) = enrol("alice", "Custos");
        let wrong = wrong_code(RFC_SEED, T0);
        for i in 0..MAX_CONFIRM_ATTEMPTS {
            assert_eq!(pending.attempts_left(), MAX_CONFIRM_ATTEMPTS - i);
            assert!(pending.confirm(&wrong, T0).refused().counted());
        }
        assert!(pending.is_closed());
        assert_eq!(pending.attempts_left(), 0);
        assert_eq!(
            pending.confirm(&code(RFC_SEED, T0), T0).refused(),
            TotpError::EnrolmentClosed
        );
    }

    #[test]
    fn verify_accepts_one_step_either_side_and_refuses_two() {
        let (factor, _) = factor();
        let bytes = factor.to_bytes();
        let later = T0 + 10 * PERIOD;
        for (offset, drift) in [(-1i64, -1i8), (0, 0), (1, 1)] {
            let mut f = TotpFactor::from_bytes(&bytes).unwrap();
            let t = later.checked_add_signed(offset * PERIOD as i64).unwrap();
            let ok = f.verify(&code(RFC_SEED, t), later).unwrap();
            assert_eq!(ok.step, t / PERIOD);
            assert_eq!(ok.drift, drift);
            assert_eq!(f.last_used_step(), t / PERIOD);
        }
        for offset in [-2i64, 2] {
            let mut f = TotpFactor::from_bytes(&bytes).unwrap();
            let t = later.checked_add_signed(offset * PERIOD as i64).unwrap();
            assert_eq!(
                f.verify(&code(RFC_SEED, t), later).refused(),
                TotpError::WrongCode { locked_until: None }
            );
            assert_eq!(f.failures(), 1);
        }
    }

    #[test]
    fn each_step_is_usable_once() {
        let (mut f, _) = factor();
        let t = T0 + 5 * PERIOD;
        let now = code(RFC_SEED, t);
        f.verify(&now, t).unwrap();
        // The same code again, in the same step or the next one: reused.
        assert_eq!(
            f.verify(&now, t).refused(),
            TotpError::ReusedCode {
                step: t / PERIOD,
                locked_until: None
            }
        );
        assert_eq!(
            f.verify(&now, t + PERIOD).refused(),
            TotpError::ReusedCode {
                step: t / PERIOD,
                locked_until: None
            }
        );
        // A newer code works; then the previous step's code is refused as reused even
        // though it is inside the window.
        f.verify(&code(RFC_SEED, t + PERIOD), t + PERIOD).unwrap();
        assert!(matches!(
            f.verify(&code(RFC_SEED, t), t + PERIOD),
            Err(TotpError::ReusedCode { .. })
        ));
        // Reuse counts as a failure; the success in between reset the count.
        assert_eq!(f.failures(), 1);
    }

    #[test]
    fn malformed_codes_are_refused_and_counted() {
        let (mut f, _) = factor();
        let good = code(RFC_SEED, T0 + PERIOD);
        let malformed = [
            String::new(),
            "12345".into(),
            "1234567".into(),
            "12345a".into(),
            format!(" {good}"),
            format!("{good}\n"),
            "１２３４５６".into(), // full-width digits
            "+12345".into(),
        ];
        for (i, bad) in malformed.iter().take(4).enumerate() {
            assert_eq!(
                f.verify(bad, T0 + PERIOD).refused(),
                TotpError::MalformedCode { locked_until: None },
                "{bad:?}"
            );
            assert_eq!(f.failures(), i as u32 + 1);
        }
        assert_eq!(
            f.verify(&malformed[4], T0 + PERIOD).refused(),
            TotpError::MalformedCode {
                locked_until: Some(T0 + PERIOD + 60)
            }
        );
        for bad in &malformed[5..] {
            let (mut f, _) = factor();
            assert_eq!(
                f.verify(bad, T0 + PERIOD).refused(),
                TotpError::MalformedCode { locked_until: None },
                "{bad:?}"
            );
        }
        // The valid code is still refused while locked, and works after the lock.
        assert_eq!(
            f.verify(&good, T0 + PERIOD).refused(),
            TotpError::Locked {
                until: T0 + PERIOD + 60
            }
        );
        let t = T0 + PERIOD + 60;
        f.verify(&code(RFC_SEED, t), t).unwrap();
    }

    /// Fails `FAILURES_BEFORE_LOCKOUT` times at `t`; returns the lock-out's end.
    fn fail_until_locked(f: &mut TotpFactor, t: u64) -> u64 {
        let wrong = wrong_code(RFC_SEED, t);
        for i in 1..FAILURES_BEFORE_LOCKOUT {
            assert_eq!(
                f.verify(&wrong, t).refused(),
                TotpError::WrongCode { locked_until: None }
            );
            assert_eq!(f.failures(), i);
        }
        match f.verify(&wrong, t).refused() {
            TotpError::WrongCode {
                locked_until: Some(until),
            } => until,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lockout_escalates_and_survives_a_round_trip() {
        let (mut f, _) = factor();
        let mut t = T0 + 100 * PERIOD;
        let expected = [60, 300, 1800, 7200, 86_400, 86_400, 86_400];
        for (level, duration) in expected.into_iter().enumerate() {
            let until = fail_until_locked(&mut f, t);
            assert_eq!(until, t + duration, "lock-out {}", level + 1);
            assert_eq!(f.failures(), 0);
            assert_eq!(
                usize::from(f.lockouts()),
                (level + 1).min(LOCKOUT_SCHEDULE.len())
            );
            // Stored and loaded again (a restart): still locked, to the second.
            f = TotpFactor::from_bytes(&f.to_bytes()).unwrap();
            assert_eq!(f.locked_until(t), Some(until));
            assert_eq!(f.locked_until(until - 1), Some(until));
            assert_eq!(f.locked_until(until), None);
            // While locked, even the right code is refused, without counting and
            // without extending the lock; so is a recovery code or garbage.
            let right = code(RFC_SEED, until - 1);
            for attempt in [right.as_str(), "garbage"] {
                assert_eq!(
                    f.verify(attempt, until - 1).refused(),
                    TotpError::Locked { until }
                );
            }
            assert_eq!(
                f.use_recovery_code("AAAA-AAAA-AAAA-AAAA", until - 1)
                    .refused(),
                TotpError::Locked { until }
            );
            assert_eq!(f.failures(), 0);
            assert_eq!(f.locked_until(until - 1), Some(until));
            t = until;
        }
        // A success resets the failures and the escalation.
        f.verify(&code(RFC_SEED, t), t).unwrap();
        assert_eq!(
            (f.failures(), f.lockouts(), f.locked_until(t)),
            (0, 0, None)
        );
        let until = fail_until_locked(&mut f, t + PERIOD);
        assert_eq!(until, t + PERIOD + 60);
    }

    #[test]
    fn success_resets_the_failure_count() {
        let (mut f, _) = factor();
        let t = T0 + 3 * PERIOD;
        let wrong = wrong_code(RFC_SEED, t);
        for _ in 0..FAILURES_BEFORE_LOCKOUT - 1 {
            f.verify(&wrong, t).refused();
        }
        assert_eq!(f.failures(), FAILURES_BEFORE_LOCKOUT - 1);
        f.verify(&code(RFC_SEED, t), t).unwrap();
        assert_eq!(f.failures(), 0);
        // Four more failures do not lock.
        for _ in 0..FAILURES_BEFORE_LOCKOUT - 1 {
            f.verify(&wrong, t).refused();
        }
        assert_eq!(f.locked_until(t), None);
    }

    #[test]
    fn round_trip_preserves_every_field() {
        let (mut f, offer) = factor();
        let t = T0 + 40 * PERIOD;
        fail_until_locked(&mut f, t); // lockouts 1, locked_until t + 60
        let t = t + 60;
        f.use_recovery_code(offer.recovery_codes()[3].as_str(), t)
            .unwrap(); // resets
        fail_until_locked(&mut f, t); // lockouts 1
        let t = t + 60;
        f.verify(&wrong_code(RFC_SEED, t), t).refused();
        f.verify(&wrong_code(RFC_SEED, t), t).refused(); // failures 2
        assert_eq!((f.failures(), f.lockouts()), (2, 1));

        let bytes = f.to_bytes();
        assert_eq!(bytes.len(), FACTOR_BYTES_LEN);
        let g = TotpFactor::from_bytes(&bytes).unwrap();
        assert_eq!(g.secret[..], f.secret[..]);
        assert_eq!(g.enrolled_at, f.enrolled_at);
        assert_eq!(g.last_used_step, f.last_used_step);
        assert_eq!(g.failures, f.failures);
        assert_eq!(g.lockouts, f.lockouts);
        assert_eq!(g.locked_until, f.locked_until);
        assert_eq!(g.recovery_salt, f.recovery_salt);
        assert!(g.recovery == f.recovery);
        assert!(g.recovery[3].used);
        assert_eq!(g.recovery.iter().filter(|s| s.used).count(), 1);
        assert_eq!(g.to_bytes(), bytes);
        // The layout, field by field.
        assert_eq!(&bytes[..4], &[1, 1, 6, 30]);
        assert_eq!(&bytes[4..24], RFC_SEED);
        assert_eq!(bytes[24..32], T0.to_be_bytes());
        assert_eq!(bytes[32..40], f.last_used_step.to_be_bytes());
        assert_eq!(bytes[40..44], 2u32.to_be_bytes());
        assert_eq!(bytes[44], 1);
        assert_eq!(bytes[45..53], f.locked_until.to_be_bytes());
        assert_eq!(bytes[53..69], [9u8; SALT_LEN]);
        assert_eq!(bytes[69], 10);
        assert_eq!(bytes[70 + 3 * 33 + 32], 1);
    }

    #[test]
    fn from_bytes_is_strict() {
        let (f, _) = factor();
        let good = f.to_bytes();
        let with = |i: usize, v: u8| {
            let mut b = good.to_vec();
            b[i] = v;
            TotpFactor::from_bytes(&b)
        };
        assert_eq!(
            TotpFactor::from_bytes(&good[..good.len() - 1]).refused(),
            FactorDecodeError::Length {
                expected: FACTOR_BYTES_LEN,
                found: FACTOR_BYTES_LEN - 1
            }
        );
        let mut long = good.to_vec();
        long.push(0);
        assert!(matches!(
            TotpFactor::from_bytes(&long),
            Err(FactorDecodeError::Length { .. })
        ));
        assert!(matches!(
            TotpFactor::from_bytes(&[]),
            Err(FactorDecodeError::Length { .. })
        ));
        assert_eq!(with(0, 2).refused(), FactorDecodeError::Version(2));
        for (i, v) in [(1, 2u8), (2, 8), (3, 60)] {
            assert!(matches!(
                with(i, v),
                Err(FactorDecodeError::Parameters { .. })
            ));
        }
        assert_eq!(with(43, 5).refused(), FactorDecodeError::Failures(5));
        assert_eq!(with(40, 1).refused(), FactorDecodeError::Failures(1 << 24));
        assert!(with(43, 4).is_ok());
        assert_eq!(with(44, 6).refused(), FactorDecodeError::Lockouts(6));
        assert!(with(44, 5).is_ok());
        assert_eq!(with(52, 1).refused(), FactorDecodeError::LockWithoutLockout);
        assert_eq!(with(69, 9).refused(), FactorDecodeError::RecoveryCount(9));
        assert_eq!(with(70 + 32, 2).refused(), FactorDecodeError::UsedFlag(2));
        assert_eq!(
            with(FACTOR_BYTES_LEN - 1, 0xff).refused(),
            FactorDecodeError::UsedFlag(0xff)
        );
    }

    #[test]
    fn recovery_codes_have_the_documented_form_and_80_bits() {
        let (_, offer) = Enrolment::begin("alice", "Custos").unwrap();
        let codes: Vec<&str> = offer.recovery_codes().iter().map(|c| c.as_str()).collect();
        assert_eq!(codes.len(), RECOVERY_CODES);
        for c in &codes {
            assert_eq!(c.len(), 19);
            let groups: Vec<&str> = c.split('-').collect();
            assert_eq!(groups.len(), 4);
            assert!(groups.iter().all(|g| g.len() == 4));
            let plain: String = groups.concat();
            assert!(plain
                .bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
            assert_eq!(BASE32_NOPAD.decode(plain.as_bytes()).unwrap().len() * 8, 80);
        }
        let distinct: std::collections::BTreeSet<&&str> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
    }

    #[test]
    fn recovery_codes_are_single_use_and_stored_only_as_hashes() {
        let (mut f, offer) = factor();
        let codes: Vec<String> = offer
            .recovery_codes()
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect();
        // Nothing stored contains a code, in text or in bytes.
        let stored = f.to_bytes();
        for (c, raw) in codes.iter().zip(fixed_codes()) {
            assert!(!contains(&stored, c.as_bytes()));
            assert!(!contains(&stored, c.replace('-', "").as_bytes()));
            assert!(!contains(&stored, &raw));
        }
        let t = T0 + PERIOD;
        assert_eq!(
            f.use_recovery_code(&codes[0], t).unwrap(),
            RecoveryAccepted { remaining: 9 }
        );
        assert_eq!(
            f.use_recovery_code(&codes[0], t).refused(),
            TotpError::UsedRecoveryCode { locked_until: None }
        );
        // Either case, without dashes, with spaces.
        let lower = codes[1].to_lowercase();
        assert_eq!(
            f.use_recovery_code(&lower, t).unwrap(),
            RecoveryAccepted { remaining: 8 }
        );
        let spaced = codes[2].replace('-', " ");
        f.use_recovery_code(&spaced, t).unwrap();
        let bare = codes[3].replace('-', "");
        f.use_recovery_code(&bare, t).unwrap();
        assert_eq!(f.recovery_codes_left(), 6);
        // Used flags survive a round trip.
        let mut g = TotpFactor::from_bytes(&f.to_bytes()).unwrap();
        assert_eq!(g.recovery_codes_left(), 6);
        assert!(matches!(
            g.use_recovery_code(&codes[2], t),
            Err(TotpError::UsedRecoveryCode { .. })
        ));
        g.use_recovery_code(&codes[9], t).unwrap();
    }

    #[test]
    fn bad_recovery_codes_are_counted_and_share_the_lockout() {
        let (mut f, offer) = factor();
        let t = T0 + PERIOD;
        let good = offer.recovery_codes()[0].as_str().to_owned();
        // Another factor's code: well-formed, wrong.
        let other = Enrolment::begin("bob", "Custos").unwrap().1;
        let cases = [
            "AAAA-AAAA-AAAA-AAA",   // 15 characters
            "AAAA-AAAA-AAAA-AAAAA", // 17
            "AAAA-AAAA-AAAA-AAA1",  // 1 is not base32
            "AAAA_AAAA_AAAA_AAAA",  // underscore
        ];
        for bad in cases {
            let (mut g, _) = factor();
            assert_eq!(
                g.use_recovery_code(bad, t).refused(),
                TotpError::MalformedRecoveryCode { locked_until: None },
                "{bad}"
            );
            assert_eq!(g.failures(), 1);
        }
        let huge = "A".repeat(10_000);
        assert_eq!(
            f.use_recovery_code(&huge, t).refused(),
            TotpError::MalformedRecoveryCode { locked_until: None }
        );
        assert_eq!(
            f.use_recovery_code(other.recovery_codes()[0].as_str(), t)
                .refused(),
            TotpError::WrongRecoveryCode { locked_until: None }
        );
        // TOTP failures and recovery failures add up.
        f.verify(&wrong_code(RFC_SEED, t), t).refused();
        f.verify("x", t).refused();
        assert_eq!(f.failures(), 4);
        assert_eq!(
            f.use_recovery_code(other.recovery_codes()[1].as_str(), t)
                .refused(),
            TotpError::WrongRecoveryCode {
                locked_until: Some(t + 60)
            }
        );
        // Locked: the right recovery code is refused and stays unused.
        assert_eq!(
            f.use_recovery_code(&good, t + 59).refused(),
            TotpError::Locked { until: t + 60 }
        );
        assert_eq!(f.recovery_codes_left(), RECOVERY_CODES);
        f.use_recovery_code(&good, t + 60).unwrap();
        assert_eq!((f.failures(), f.lockouts()), (0, 0));
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn errors_say_whether_they_counted() {
        assert!(!TotpError::Locked { until: 1 }.counted());
        assert!(!TotpError::EnrolmentClosed.counted());
        assert!(TotpError::WrongCode { locked_until: None }.counted());
        assert!(TotpError::MalformedCode { locked_until: None }.counted());
        assert!(TotpError::ReusedCode {
            step: 1,
            locked_until: None
        }
        .counted());
    }
}
