//! Fuzz target: arbitrary bytes as a sealed security record, under a fixed master key.
//!
//! The first byte chooses how the rest becomes a record: as it is (0), with a valid MAC
//! appended by an independent implementation of the documented layout (1), or also with
//! its encrypted section encrypted from the plaintext it holds (2; see
//! `custos_signer_fuzz::spec::reseal`). Without 1 and 2 the fuzzer would never get past
//! the MAC.
//!
//! Properties: `authenticate` and `authenticate_header` never panic and agree (same
//! error, or the same clear fields; `Decrypt` only after a header that verified with
//! secrets); errors report the real length; an authentic record re-seals (as version 2)
//! to one that authenticates back to an equal record, with the same bytes where the
//! format leaves no choice; and a one-bit change of an authentic record is refused.
#![no_main]

use custos_crypto::keys::RecordKeys;
use custos_crypto::security::{
    authenticate, authenticate_header, seal, SecurityHeader, SecurityRecordError, MAX_SECRETS_LEN,
    MAX_SECURITY_RECORD_LEN, SECURITY_RECORD_VERSION, SECURITY_RECORD_VERSION_1,
};
use custos_signer_fuzz::{record_keys, spec, MASTER_KEY};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static KEYS: LazyLock<RecordKeys> = LazyLock::new(record_keys);

fn check(keys: &RecordKeys, bytes: &[u8]) {
    let header = authenticate_header(keys, bytes);
    let full = authenticate(keys, bytes);
    let (h, r) = match (header, full) {
        (Ok(h), Ok(r)) => (h, r),
        (Ok(h), Err(SecurityRecordError::Decrypt)) => {
            assert!(h.has_secrets, "Decrypt without an encrypted section");
            assert_eq!(h.version, SECURITY_RECORD_VERSION);
            return;
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "authenticate and authenticate_header disagree");
            match a {
                SecurityRecordError::Truncated(n) => assert_eq!(n, bytes.len()),
                SecurityRecordError::WrongLength { actual, expected } => {
                    assert_eq!(actual, bytes.len());
                    assert_ne!(expected, actual);
                }
                SecurityRecordError::SecretsTooLong { len } => assert!(len > MAX_SECRETS_LEN),
                SecurityRecordError::Decrypt | SecurityRecordError::Random => {
                    panic!("{a:?} from the header check")
                }
                _ => {}
            }
            return;
        }
        (h, r) => panic!("authenticate_header {h:?} but authenticate {r:?}"),
    };

    // The clear fields are the record's.
    assert_eq!(
        (
            &h.user_id,
            h.telegram_id,
            h.revision,
            h.linked_at_unix,
            h.flags
        ),
        (
            &r.user_id,
            r.telegram_id,
            r.revision,
            r.linked_at_unix,
            r.flags
        )
    );
    assert_eq!(h.has_secrets, r.secrets.is_some());
    assert!(bytes.len() <= MAX_SECURITY_RECORD_LEN);
    assert!((1..=i64::MAX as u64).contains(&r.telegram_id));
    match h.version {
        SECURITY_RECORD_VERSION_1 => assert!(r.flags == 0 && r.secrets.is_none()),
        SECURITY_RECORD_VERSION => {
            if let Some(s) = &r.secrets {
                assert!(s.len() <= MAX_SECRETS_LEN);
            }
        }
        v => panic!("authenticated version {v}"),
    }

    // Re-sealing (always version 2) authenticates back to the same record.
    let sealed = seal(keys, &r).expect("an authentic record seals again");
    assert_eq!(authenticate(keys, &sealed).expect("re-sealed record"), r);
    assert_eq!(
        authenticate_header(keys, &sealed).expect("re-sealed header"),
        SecurityHeader {
            version: SECURITY_RECORD_VERSION,
            ..h.clone()
        }
    );
    // The MAC is the documented one.
    let (body, mac) = sealed.split_at(sealed.len() - spec::MAC_LEN);
    assert_eq!(
        mac,
        spec::mac(&MASTER_KEY, body),
        "MAC differs from the spec"
    );
    if h.version == SECURITY_RECORD_VERSION {
        // Version 2 leaves no choice but the nonce (and so ciphertext and MAC).
        assert_eq!(sealed.len(), bytes.len());
        if h.has_secrets {
            let header_end = 30 + r.user_id.len() + 4;
            assert_eq!(sealed[..header_end], bytes[..header_end]);
        } else {
            assert_eq!(sealed, bytes, "a record without secrets has one encoding");
        }
    }

    // Any one-bit change of an authentic record is refused.
    let mix = bytes
        .iter()
        .fold(0usize, |a, b| a.wrapping_mul(31) ^ usize::from(*b));
    for i in [mix % bytes.len(), 4, bytes.len() - 1] {
        let mut bad = bytes.to_vec();
        bad[i] ^= 1 << (mix % 8);
        assert!(
            authenticate(keys, &bad).is_err() && authenticate_header(keys, &bad).is_err(),
            "a record with bit {} of byte {i} flipped authenticated",
            mix % 8
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let keys = &*KEYS;
    match mode % 3 {
        0 => check(keys, rest),
        1 => check(keys, &spec::remac(&MASTER_KEY, rest)),
        _ => match spec::reseal(&MASTER_KEY, rest) {
            Some(record) => check(keys, &record),
            None => check(keys, &spec::remac(&MASTER_KEY, rest)),
        },
    }
});
