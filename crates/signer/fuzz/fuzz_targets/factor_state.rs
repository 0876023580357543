//! Fuzz target: arbitrary bytes as a user's second-factor state (the plaintext of a
//! security record's encrypted section).
//!
//! `Factors::from_bytes` must never panic. What it accepts must be canonical: it
//! re-encodes to bytes that decode to the same state (byte for byte the input when
//! there is no passkey, whose JSON may be spelt several ways), `any()` and `flags()`
//! must follow from the fields, and a decoded TOTP factor must stay storable after
//! refused codes (the lock-out counters keep the invariants `from_bytes` checks) and
//! lock after `FAILURES_BEFORE_LOCKOUT` of them.
#![no_main]

use custos_signer::factors::{
    Factors, RemovalTarget, FLAG_HAS_FACTOR, FLAG_REQUIRE_FOR_ALL, MAX_PASSKEYS,
};
use custos_signer::totp::{
    TotpFactor, FAILURES_BEFORE_LOCKOUT, LOCKOUT_SCHEDULE, PERIOD, RECOVERY_CODES,
};
use libfuzzer_sys::fuzz_target;

/// A factor's state must always be one `from_bytes` accepts again, unchanged.
fn storable(t: &TotpFactor) -> TotpFactor {
    let bytes = t.to_bytes();
    let back = TotpFactor::from_bytes(&bytes).expect("a factor's own state decodes");
    assert_eq!(back.to_bytes(), bytes, "TOTP factor state is not canonical");
    assert!(back.failures() < FAILURES_BEFORE_LOCKOUT);
    assert!(usize::from(back.lockouts()) <= LOCKOUT_SCHEDULE.len());
    assert!(back.recovery_codes_left() <= RECOVERY_CODES);
    back
}

fn check_flags(f: &Factors, given: u32) {
    let flags = f.flags(given);
    if f.any() {
        assert_eq!(
            flags,
            FLAG_HAS_FACTOR | (given & FLAG_REQUIRE_FOR_ALL),
            "flags({given:#x}) with a factor"
        );
    } else {
        assert_eq!(flags, 0, "flags({given:#x}) without a factor");
    }
}

/// Refused codes at `now`: the state stays storable after each, and the
/// `FAILURES_BEFORE_LOCKOUT`th consecutive one locks the factor past `now`.
fn refuse_until_locked(mut t: TotpFactor, now: u64) {
    if t.locked_until(now).is_some() {
        // Locked: refused without counting.
        let before = t.to_bytes();
        assert!(t.verify("123456", now).is_err());
        assert!(t.use_recovery_code("not a code", now).is_err());
        assert_eq!(t.to_bytes(), before, "a locked factor changed state");
        return;
    }
    for i in 0..FAILURES_BEFORE_LOCKOUT {
        // Malformed codes can never be accepted.
        let r = if i % 2 == 0 {
            t.verify("no code", now).map(drop)
        } else {
            t.use_recovery_code("not a recovery code", now).map(drop)
        };
        assert!(r.is_err(), "a malformed code was accepted");
        t = storable(&t);
    }
    match t.locked_until(now) {
        Some(until) => assert!(until > now),
        None => panic!(
            "{FAILURES_BEFORE_LOCKOUT} refused codes at {now} did not lock the factor: {t:?}"
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(f) = Factors::from_bytes(Some(data)) else {
        return;
    };
    let bytes = f.to_bytes();
    let again = Factors::from_bytes(Some(&bytes)).expect("to_bytes re-decodes");
    assert_eq!(again.to_bytes(), bytes, "second encoding differs");
    if f.passkeys.is_empty() {
        assert_eq!(&bytes[..], data, "a passkey-free state has one encoding");
    }

    // The fields survive the round trip.
    assert_eq!(again.totp.is_some(), f.totp.is_some());
    assert_eq!(again.passkeys.len(), f.passkeys.len());
    assert_eq!(again.removal, f.removal);
    for (a, b) in again.passkeys.iter().zip(&f.passkeys) {
        assert_eq!(a.credential_id(), b.credential_id());
    }
    assert!(f.passkeys.len() <= MAX_PASSKEYS);

    // any() and flags() follow from the fields.
    assert_eq!(f.any(), f.totp.is_some() || !f.passkeys.is_empty());
    assert_eq!(again.any(), f.any());
    let given = data
        .iter()
        .fold(0u32, |a, b| a.rotate_left(5) ^ u32::from(*b));
    for g in [0, FLAG_HAS_FACTOR, FLAG_REQUIRE_FOR_ALL, 3, u32::MAX, given] {
        check_flags(&f, g);
    }
    // The redacted Debug names no secret field's content.
    let debug = format!("{f:?}");
    assert!(!debug.contains("secret"), "{debug}");

    // unschedule drops exactly a removal of its target, and the state stays storable.
    for target in [RemovalTarget::Totp, RemovalTarget::Passkeys] {
        let mut g = Factors::from_bytes(Some(&bytes)).expect("decodes");
        g.unschedule(target);
        let want = f.removal.filter(|r| r.target != target);
        assert_eq!(g.removal, want);
        let b = g.to_bytes();
        let back = Factors::from_bytes(Some(&b)).expect("an unscheduled state decodes");
        assert_eq!(back.removal, want);
        check_flags(&back, given);
    }

    let Some(t) = &f.totp else {
        return;
    };
    let t = storable(t);
    // Times around the factor's own fields, and the ends of the range (no panic there).
    let at = [
        0,
        t.enrolled_at(),
        t.last_used_step().saturating_mul(PERIOD),
        t.locked_until(0).unwrap_or(0),
        t.locked_until(0).unwrap_or(0).saturating_sub(1),
        u64::MAX,
    ];
    for now in at {
        let mut probe = storable(&t);
        let _ = probe.verify("000000", now);
        let _ = probe.verify(&format!("{:06}", now % 1_000_000), now);
        let _ = probe.use_recovery_code("AAAA-BBBB-CCCC-DDDD", now);
        storable(&probe);
        // The lock-out property for any time a clock can show (2^40 s is 36,000 years).
        if now < 1 << 40 {
            refuse_until_locked(storable(&t), now);
        }
    }
});
