//! Sealing against a real TPM (swtpm): a secret sealed to PCRs 7 + 11 unseals while they
//! hold the sealed-to values, and fails with a precise error once PCR 11 moves.

mod common;

use common::Swtpm;
use custos_tpm::{policy_pcr_digest, Error, PcrSelection, Rc, RcLocation};

const SECRET: &[u8] = b"a 32-byte master key, for tests.";

#[test]
fn unseal_succeeds_then_fails_with_policy_mismatch_after_pcr_11_moves() {
    let (_sw, mut tpm) = Swtpm::started();
    tpm.pcr_extend(7, &[7; 32]).unwrap();
    tpm.pcr_extend(11, &[11; 32]).unwrap();
    let sel = PcrSelection::sha256(&[7, 11]).unwrap();
    // The policy is computed offline, as the image build will predict it.
    let policy = policy_pcr_digest(&sel, &tpm.pcr_read(&sel).unwrap()).unwrap();

    let srk = tpm.create_primary_storage_key().unwrap();
    let sealed = tpm.seal(srk, &policy, SECRET).unwrap();
    assert!(!sealed.private.windows(SECRET.len()).any(|w| w == SECRET));
    let obj = tpm.load(srk, &sealed).unwrap();
    assert_eq!(&tpm.unseal_with_pcr_policy(obj, &sel).unwrap()[..], SECRET);
    // The session was consumed; the object can be unsealed again.
    assert_eq!(&tpm.unseal_with_pcr_policy(obj, &sel).unwrap()[..], SECRET);

    tpm.pcr_extend(11, &[0xEE; 32]).unwrap();
    let err = tpm.unseal_with_pcr_policy(obj, &sel).unwrap_err();
    match &err {
        Error::PolicyMismatch(rc) => {
            assert_eq!(rc.raw(), 0x99d);
            assert_eq!(
                (rc.rc(), rc.location()),
                (Rc::PolicyFail, Some(RcLocation::Session(1)))
            );
        }
        other => panic!("expected PolicyMismatch, got {other:?}"),
    }
    assert!(err.to_string().contains("TPM_RC_POLICY_FAIL"), "{err}");
}

#[test]
fn the_primary_key_is_recreated_and_the_blob_reloads() {
    let (_sw, mut tpm) = Swtpm::started();
    let sel = PcrSelection::sha256(&[7, 11]).unwrap();
    let policy = policy_pcr_digest(&sel, &tpm.pcr_read(&sel).unwrap()).unwrap();
    let srk = tpm.create_primary_storage_key().unwrap();
    let sealed = tpm.seal(srk, &policy, SECRET).unwrap();
    tpm.flush_context(srk.handle()).unwrap();

    // As at the next boot: only the blob was kept; the primary key is derived again.
    let srk = tpm.create_primary_storage_key().unwrap();
    let obj = tpm.load(srk, &sealed).unwrap();
    assert_eq!(&tpm.unseal_with_pcr_policy(obj, &sel).unwrap()[..], SECRET);
    tpm.flush_context(obj.handle()).unwrap();
    tpm.flush_context(srk.handle()).unwrap();
}

#[test]
fn another_tpm_cannot_load_the_blob() {
    let (_sw, mut tpm) = Swtpm::started();
    let sel = PcrSelection::sha256(&[7, 11]).unwrap();
    let policy = policy_pcr_digest(&sel, &tpm.pcr_read(&sel).unwrap()).unwrap();
    let srk = tpm.create_primary_storage_key().unwrap();
    let sealed = tpm.seal(srk, &policy, SECRET).unwrap();

    let (_other_sw, mut other) = Swtpm::started();
    let other_srk = other.create_primary_storage_key().unwrap();
    let err = other.load(other_srk, &sealed).unwrap_err();
    assert!(
        matches!(err, Error::Tpm(rc) if rc.rc() == Rc::Integrity),
        "{err}"
    );
}

#[test]
fn seal_refuses_empty_and_oversized_secrets() {
    let (_sw, mut tpm) = Swtpm::started();
    let srk = tpm.create_primary_storage_key().unwrap();
    assert!(matches!(
        tpm.seal(srk, &[0; 32], &[]),
        Err(Error::InvalidRequest(_))
    ));
    assert!(matches!(
        tpm.seal(srk, &[0; 32], &[1; 129]),
        Err(Error::InvalidRequest(_))
    ));
    assert!(tpm.seal(srk, &[0; 32], &[1; 128]).is_ok());
}
