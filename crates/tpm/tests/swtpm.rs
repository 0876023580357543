//! The client against a real TPM (swtpm): startup, randomness, PCRs and PolicyPCR.

mod common;

use common::Swtpm;
use custos_tpm::{policy_pcr_digest, Error, PcrSelection, Rc, SessionType};

#[test]
fn startup_then_second_startup_is_tpm_rc_initialize() {
    let sw = Swtpm::start(true);
    let mut tpm = sw.connect();
    // Before Startup every command fails with TPM_RC_INITIALIZE.
    let err = tpm.get_random(8).unwrap_err();
    assert!(
        matches!(err, Error::Tpm(rc) if rc.rc() == Rc::Initialize),
        "{err}"
    );
    tpm.startup_clear().unwrap();
    let err = tpm.startup_clear().unwrap_err();
    assert!(
        matches!(err, Error::Tpm(rc) if rc.rc() == Rc::Initialize),
        "{err}"
    );
    assert!(err.to_string().contains("TPM_RC_INITIALIZE"), "{err}");
}

#[test]
fn power_on_through_the_control_port() {
    let sw = Swtpm::start(false);
    custos_tpm::swtpm_power_on(sw.ctrl).unwrap();
    let mut tpm = sw.connect();
    tpm.startup_clear().unwrap();
    assert_eq!(tpm.get_random(16).unwrap().len(), 16);
}

#[test]
fn get_random_returns_the_requested_length() {
    let (_sw, mut tpm) = Swtpm::started();
    let a = tpm.get_random(100).unwrap();
    let b = tpm.get_random(100).unwrap();
    assert_eq!((a.len(), b.len()), (100, 100));
    assert_ne!(a, b);
}

#[test]
fn pcr_read_and_extend() {
    let (_sw, mut tpm) = Swtpm::started();
    let all: Vec<u8> = (0..24).collect();
    let sel = PcrSelection::sha256(&all).unwrap();
    // More than eight PCRs take several TPM2_PCR_Read calls.
    let before = tpm.pcr_read(&sel).unwrap();
    assert_eq!(before.len(), 24);
    assert_eq!(before[11], [0u8; 32], "PCR 11 starts at zero after reset");
    let digest = [0xAB; 32];
    tpm.pcr_extend(11, &digest).unwrap();
    let after = tpm.pcr_read(&PcrSelection::sha256(&[11]).unwrap()).unwrap();
    // PCR := SHA-256(PCR || digest)
    use sha2::{Digest, Sha256};
    let expect: [u8; 32] = Sha256::new()
        .chain_update([0u8; 32])
        .chain_update(digest)
        .finalize()
        .into();
    assert_eq!(after, [expect]);
}

#[test]
fn trial_policy_pcr_matches_the_offline_digest() {
    let (_sw, mut tpm) = Swtpm::started();
    let sel = PcrSelection::sha256(&[7, 11]).unwrap();
    // Non-zero values, so the order of the values in the hash matters.
    tpm.pcr_extend(7, &[7; 32]).unwrap();
    tpm.pcr_extend(11, &[11; 32]).unwrap();

    let trial = |tpm: &mut custos_tpm::Tpm<_>| {
        let s = tpm.start_auth_session(SessionType::Trial).unwrap();
        tpm.policy_pcr(&s, &sel, None).unwrap();
        let d = tpm.policy_get_digest(&s).unwrap();
        tpm.flush_context(s.handle()).unwrap();
        d
    };
    let values = tpm.pcr_read(&sel).unwrap();
    let offline = policy_pcr_digest(&sel, &values).unwrap();
    assert_eq!(trial(&mut tpm), offline);

    tpm.pcr_extend(11, &[1; 32]).unwrap();
    let changed = trial(&mut tpm);
    assert_ne!(changed, offline);
    let values = tpm.pcr_read(&sel).unwrap();
    assert_eq!(changed, policy_pcr_digest(&sel, &values).unwrap());
}

#[test]
fn policy_session_checks_the_expected_pcr_digest() {
    let (_sw, mut tpm) = Swtpm::started();
    let sel = PcrSelection::sha256(&[7, 11]).unwrap();
    let values = tpm.pcr_read(&sel).unwrap();
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    values.iter().for_each(|v| h.update(v));
    let good: [u8; 32] = h.finalize().into();

    let s = tpm.start_auth_session(SessionType::Policy).unwrap();
    tpm.policy_pcr(&s, &sel, Some(&good)).unwrap();
    assert_eq!(
        tpm.policy_get_digest(&s).unwrap(),
        policy_pcr_digest(&sel, &values).unwrap()
    );
    let err = tpm.policy_pcr(&s, &sel, Some(&[0; 32])).unwrap_err();
    assert!(
        matches!(err, Error::Tpm(rc) if rc.rc() == Rc::Value),
        "{err}"
    );
    tpm.flush_context(s.handle()).unwrap();
    // A flushed session is gone.
    let err = tpm.policy_get_digest(&s).unwrap_err();
    assert!(
        matches!(err, Error::Tpm(rc) if rc.rc() == Rc::ReferenceH0),
        "{err}"
    );
}
