//! Quotes from a real TPM (swtpm), checked offline by `verify_quote`.

mod common;

use common::Swtpm;
use custos_tpm::{verify_quote, Error, PcrSelection, VerifyError};

fn selection() -> PcrSelection {
    PcrSelection::sha256(&[7, 11]).unwrap()
}

#[test]
fn a_quote_verifies_with_the_right_nonce_and_pcrs() {
    let (_sw, mut tpm) = Swtpm::started();
    tpm.pcr_extend(7, &[7; 32]).unwrap();
    tpm.pcr_extend(11, &[11; 32]).unwrap();
    let ak = tpm.create_attestation_key().unwrap();
    let nonce = [0x5a; 32];
    let sel = selection();
    let pcrs = tpm.pcr_read(&sel).unwrap();
    let quote = tpm.quote(&ak, &nonce, &sel).unwrap();
    let info = verify_quote(&ak.public.to_sec1(), &quote, &nonce, &sel, &pcrs).unwrap();
    assert_eq!(info.extra_data, nonce);
    assert_eq!(info.pcr_select, sel);
    assert!(info.safe);

    // The same TPM recreates the same key: a verifier can pin it.
    let again = tpm.create_attestation_key().unwrap();
    assert_eq!(again.public, ak.public);
    tpm.flush_context(again.handle.handle()).unwrap();

    // A short nonce works too; an over-long one is refused before reaching the TPM.
    let q = tpm.quote(&ak, b"short", &sel).unwrap();
    verify_quote(&ak.public.to_sec1(), &q, b"short", &sel, &pcrs).unwrap();
    let err = tpm.quote(&ak, &[0; 33], &sel).unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err}");
}

#[test]
fn wrong_nonce_is_refused() {
    let (_sw, mut tpm) = Swtpm::started();
    let ak = tpm.create_attestation_key().unwrap();
    let sel = selection();
    let pcrs = tpm.pcr_read(&sel).unwrap();
    let quote = tpm.quote(&ak, &[1; 32], &sel).unwrap();
    assert_eq!(
        verify_quote(&ak.public.to_sec1(), &quote, &[2; 32], &sel, &pcrs),
        Err(VerifyError::WrongNonce)
    );
}

#[test]
fn pcr_11_extended_after_reading_is_a_pcr_mismatch() {
    let (_sw, mut tpm) = Swtpm::started();
    let ak = tpm.create_attestation_key().unwrap();
    let sel = selection();
    let expected = tpm.pcr_read(&sel).unwrap();
    tpm.pcr_extend(11, &[0xEE; 32]).unwrap();
    let nonce = [3; 32];
    let quote = tpm.quote(&ak, &nonce, &sel).unwrap();
    let sec1 = ak.public.to_sec1();
    assert_eq!(
        verify_quote(&sec1, &quote, &nonce, &sel, &expected),
        Err(VerifyError::PcrMismatch)
    );
    // Expecting other PCRs than quoted is refused too.
    let only7 = PcrSelection::sha256(&[7]).unwrap();
    assert_eq!(
        verify_quote(&sec1, &quote, &nonce, &only7, &expected[..1]),
        Err(VerifyError::SelectionMismatch)
    );
    // With the current values it verifies.
    let now = tpm.pcr_read(&sel).unwrap();
    verify_quote(&sec1, &quote, &nonce, &sel, &now).unwrap();
}

#[test]
fn tampered_attest_bytes_are_a_bad_signature() {
    let (_sw, mut tpm) = Swtpm::started();
    let ak = tpm.create_attestation_key().unwrap();
    let sel = selection();
    let pcrs = tpm.pcr_read(&sel).unwrap();
    let nonce = [4; 32];
    let quote = tpm.quote(&ak, &nonce, &sel).unwrap();
    let sec1 = ak.public.to_sec1();
    for i in [0, 6, quote.attest.len() - 1] {
        let mut t = quote.clone();
        t.attest[i] ^= 1;
        assert_eq!(
            verify_quote(&sec1, &t, &nonce, &sel, &pcrs),
            Err(VerifyError::BadSignature),
            "byte {i}"
        );
    }
    let mut t = quote.clone();
    t.signature[40] ^= 1;
    assert_eq!(
        verify_quote(&sec1, &t, &nonce, &sel, &pcrs),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        verify_quote(&[4; 65], &quote, &nonce, &sel, &pcrs),
        Err(VerifyError::BadKey)
    );
}

#[test]
fn another_tpms_attestation_key_is_a_bad_signature() {
    let (_sw, mut tpm) = Swtpm::started();
    let (_sw2, mut other) = Swtpm::started();
    let ak = tpm.create_attestation_key().unwrap();
    let other_ak = other.create_attestation_key().unwrap();
    assert_ne!(ak.public, other_ak.public);
    let sel = selection();
    let pcrs = tpm.pcr_read(&sel).unwrap();
    let nonce = [5; 32];
    let quote = tpm.quote(&ak, &nonce, &sel).unwrap();
    assert_eq!(
        verify_quote(&other_ak.public.to_sec1(), &quote, &nonce, &sel, &pcrs),
        Err(VerifyError::BadSignature)
    );
}
