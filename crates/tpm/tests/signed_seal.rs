//! The master key sealed to signed image policies, against a real TPM (swtpm per test):
//! offline digests equal the TPM's, unseal under a signed policy, a new policy without
//! resealing, rollback, foreign keys and TPMs, tampering.

mod common;

use common::Swtpm;
use custos_tpm::policy::{
    counter_name, pcr_selection, sign_policy, ImagePolicy, PolicySigningKey, SignedPolicy,
    COUNTER_SPEC, POLICY_REF,
};
use custos_tpm::seal::{self, PolicyCheck, SealFormatError, SealedMasterKey, UnsealError};
use custos_tpm::{
    ecc_p256_key_name, nv_name, policy_authorize_digest, policy_nv_digest, Error, NvIndex, NvOp,
    Rc, SessionType, SwtpmTransport, Tpm, VerifiedTicket,
};

const COUNTER: u32 = 0x0150_0016;
const SECRET: [u8; 32] = *b"the master key, 32 bytes, tests.";

fn counter() -> NvIndex {
    NvIndex::new(COUNTER).unwrap()
}

/// The image policy for the TPM's current PCR 7 and 11.
fn current_policy(tpm: &mut Tpm<SwtpmTransport>, version: u64) -> ImagePolicy {
    let pcrs = tpm.pcr_read(&pcr_selection()).unwrap();
    ImagePolicy {
        version,
        pcr7: pcrs[0],
        pcr11: pcrs[1],
    }
}

/// A started swtpm with PCRs 7 and 11 extended (as after a measured boot) and the master
/// key sealed to `key`'s policies.
fn sealed_tpm(key: &PolicySigningKey) -> (Swtpm, Tpm<SwtpmTransport>, SealedMasterKey) {
    let (sw, mut tpm) = Swtpm::started();
    tpm.pcr_extend(7, &[7; 32]).unwrap();
    tpm.pcr_extend(11, &[11; 32]).unwrap();
    let sealed = seal::genesis(&mut tpm, &SECRET, &key.public_key(), counter()).unwrap();
    (sw, tpm, sealed)
}

#[test]
fn offline_names_and_digests_equal_the_tpms() {
    let (_sw, mut tpm) = Swtpm::started();
    let key = PolicySigningKey::generate();
    let (x, y) = key.public_key().coordinates();

    // The key's name as TPM2_LoadExternal computes it.
    let loaded = tpm.load_external_p256(&x, &y).unwrap();
    assert_eq!(loaded.name, ecc_p256_key_name(&x, &y));
    assert_eq!(loaded.name, key.public_key().name());
    tpm.flush_context(loaded.handle.handle()).unwrap();

    // The counter's name: only final once written.
    tpm.nv_define_counter(counter(), &COUNTER_SPEC).unwrap();
    let unwritten = tpm.nv_read_public(counter()).unwrap();
    assert_ne!(nv_name(&unwritten), counter_name(counter()));
    tpm.nv_increment(counter(), &COUNTER_SPEC).unwrap();
    let written = tpm.nv_read_public(counter()).unwrap();
    assert_eq!(nv_name(&written), counter_name(counter()));

    // PolicyNV alone, with an arbitrary operand, offset and operation.
    let trial = tpm.start_auth_session(SessionType::Trial).unwrap();
    tpm.policy_nv(&trial, counter(), &[1, 2, 3], 2, NvOp::UnsignedGe)
        .unwrap();
    assert_eq!(
        tpm.policy_get_digest(&trial).unwrap(),
        policy_nv_digest(
            &[0; 32],
            &[1, 2, 3],
            2,
            NvOp::UnsignedGe,
            &nv_name(&written)
        )
    );
    tpm.flush_context(trial.handle()).unwrap();

    // The approved digest of an image policy, then PolicyAuthorize.
    let policy = current_policy(&mut tpm, 42);
    let trial = tpm.start_auth_session(SessionType::Trial).unwrap();
    tpm.policy_pcr(&trial, &pcr_selection(), None).unwrap();
    tpm.policy_nv(&trial, counter(), &42u64.to_be_bytes(), 0, NvOp::UnsignedLe)
        .unwrap();
    let approved = tpm.policy_get_digest(&trial).unwrap();
    assert_eq!(approved, policy.approved_digest(counter()));
    tpm.policy_authorize(
        &trial,
        &approved,
        POLICY_REF,
        &key.public_key().name(),
        &VerifiedTicket::null(),
    )
    .unwrap();
    assert_eq!(
        tpm.policy_get_digest(&trial).unwrap(),
        policy_authorize_digest(&key.public_key().name(), POLICY_REF)
    );
    tpm.flush_context(trial.handle()).unwrap();
}

#[test]
fn verify_signature_gives_a_real_ticket_and_refuses_other_keys() {
    let (_sw, mut tpm) = Swtpm::started();
    let key = PolicySigningKey::generate();
    let signed = sign_policy(&current_policy(&mut tpm, 1), counter(), &key);
    let (x, y) = key.public_key().coordinates();
    let loaded = tpm.load_external_p256(&x, &y).unwrap();
    let ticket = tpm
        .verify_signature(loaded.handle, &signed.a_hash(), signed.signature())
        .unwrap();
    assert!(!ticket.is_null());
    assert_eq!(ticket.hierarchy, 0x4000_0001); // TPM_RH_OWNER
                                               // An HMAC under the hierarchy's proof (swtpm's context hash is SHA-512).
    assert!(!ticket.digest.is_empty());

    let other = sign_policy(signed.policy(), counter(), &PolicySigningKey::generate());
    let err = tpm
        .verify_signature(loaded.handle, &other.a_hash(), other.signature())
        .unwrap_err();
    assert!(
        matches!(err, Error::Tpm(rc) if rc.rc() == Rc::Signature),
        "{err}"
    );
    tpm.flush_context(loaded.handle.handle()).unwrap();
}

#[test]
fn genesis_sign_unseal_new_policy_without_reseal_then_rollback_is_refused() {
    let key = PolicySigningKey::generate();
    let (_sw, mut tpm, sealed) = sealed_tpm(&key);
    // A fresh swtpm's counter reads 1 after genesis's first increment.
    let v = seal::read_counter(&mut tpm, counter()).unwrap();
    assert_eq!(v, 1);

    // Release v: signed for this boot's PCRs.
    let first = sign_policy(&current_policy(&mut tpm, v), counter(), &key);
    assert_eq!(*seal::unseal(&mut tpm, &sealed, &first).unwrap(), SECRET);
    // Unsealing again works (nothing is used up) and leaves no handle behind.
    assert_eq!(*seal::unseal(&mut tpm, &sealed, &first).unwrap(), SECRET);

    // Another image boots: PCR 11 moves.
    let old_pcr11 = first.policy().pcr11;
    tpm.pcr_extend(11, &[0xEE; 32]).unwrap();
    let new_pcr11 = tpm.pcr_read(&pcr_selection()).unwrap()[1];
    let err = seal::unseal(&mut tpm, &sealed, &first).unwrap_err();
    match &err {
        UnsealError::PcrMismatch(diffs) => {
            assert_eq!(diffs.len(), 1);
            assert_eq!(diffs[0].pcr, 11);
            assert_eq!((diffs[0].policy, diffs[0].current), (old_pcr11, new_pcr11));
        }
        other => panic!("expected PcrMismatch, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("PCR 11"), "{msg}");
    assert!(
        msg.contains(&hex(&old_pcr11)) && msg.contains(&hex(&new_pcr11)),
        "{msg}"
    );
    // Without the pre-check, the TPM itself refuses at PolicyPCR.
    let err = seal::unseal_unchecked(&mut tpm, &sealed, &first).unwrap_err();
    assert!(
        matches!(err, UnsealError::PolicyMismatch { check: PolicyCheck::Pcrs, rc } if rc.rc() == Rc::Value),
        "{err}"
    );

    // Release v + 1 for the new PCRs: unseals the same blob, no reseal.
    let second = sign_policy(&current_policy(&mut tpm, v + 1), counter(), &key);
    assert_eq!(*seal::unseal(&mut tpm, &sealed, &second).unwrap(), SECRET);
    assert_eq!(
        seal::advance_counter(&mut tpm, counter(), v + 1).unwrap(),
        v + 1
    );
    assert_eq!(*seal::unseal(&mut tpm, &sealed, &second).unwrap(), SECRET);

    // A policy for version v is now rolled back, even for the current PCRs.
    let stale = sign_policy(&current_policy(&mut tpm, v), counter(), &key);
    let err = seal::unseal(&mut tpm, &sealed, &stale).unwrap_err();
    assert!(
        matches!(err, UnsealError::RolledBack { counter: c, version } if c == v + 1 && version == v),
        "{err}"
    );
    assert!(err.to_string().contains("rolled back"), "{err}");
    // And the TPM refuses it by itself at PolicyNV.
    let err = seal::unseal_unchecked(&mut tpm, &sealed, &stale).unwrap_err();
    assert!(
        matches!(err, UnsealError::PolicyMismatch { check: PolicyCheck::Counter, rc } if rc.rc() == Rc::Policy),
        "{err}"
    );
    // The first policy (old PCRs, old version) is refused too.
    assert!(matches!(
        seal::unseal(&mut tpm, &sealed, &first),
        Err(UnsealError::PcrMismatch(_))
    ));
    assert!(matches!(
        seal::unseal_unchecked(&mut tpm, &sealed, &first),
        Err(UnsealError::PolicyMismatch { .. })
    ));
    // Every failure flushed its handles: the TPM still has room for a normal unseal.
    assert_eq!(*seal::unseal(&mut tpm, &sealed, &second).unwrap(), SECRET);
}

#[test]
fn policies_of_another_key_counter_or_altered_bytes_are_refused() {
    let key = PolicySigningKey::generate();
    let (_sw, mut tpm, sealed) = sealed_tpm(&key);
    let policy = current_policy(&mut tpm, 1);
    let good = sign_policy(&policy, counter(), &key);

    // Signed by another key: refused before and by the TPM.
    let foreign = sign_policy(&policy, counter(), &PolicySigningKey::generate());
    assert!(matches!(
        seal::unseal(&mut tpm, &sealed, &foreign),
        Err(UnsealError::NotSignedByPolicyKey)
    ));
    assert!(matches!(
        seal::unseal_unchecked(&mut tpm, &sealed, &foreign),
        Err(UnsealError::NotSignedByPolicyKey)
    ));

    // Altered bytes: a raised version, or a flipped signature bit.
    let mut bytes = good.to_bytes();
    bytes[25] ^= 1;
    let raised = SignedPolicy::from_bytes(&bytes).unwrap();
    let mut bytes = good.to_bytes();
    bytes[130] ^= 1;
    let flipped = SignedPolicy::from_bytes(&bytes).unwrap();
    for bad in [&raised, &flipped] {
        assert!(matches!(
            seal::unseal(&mut tpm, &sealed, bad),
            Err(UnsealError::NotSignedByPolicyKey)
        ));
        assert!(matches!(
            seal::unseal_unchecked(&mut tpm, &sealed, bad),
            Err(UnsealError::NotSignedByPolicyKey)
        ));
    }

    // Signed for another counter.
    let other_counter = NvIndex::new(COUNTER + 1).unwrap();
    let elsewhere = sign_policy(&policy, other_counter, &key);
    let err = seal::unseal(&mut tpm, &sealed, &elsewhere).unwrap_err();
    assert!(
        matches!(err, UnsealError::CounterMismatch { policy: p, sealed: s } if p == COUNTER + 1 && s == COUNTER),
        "{err}"
    );
    // The TPM's own answer: the signed digest names another counter than PolicyNV checked.
    let err = seal::unseal_unchecked(&mut tpm, &sealed, &elsewhere).unwrap_err();
    assert!(
        matches!(
            err,
            UnsealError::PolicyMismatch {
                check: PolicyCheck::Authorize,
                ..
            }
        ),
        "{err}"
    );

    assert_eq!(*seal::unseal(&mut tpm, &sealed, &good).unwrap(), SECRET);
}

#[test]
fn a_blob_claiming_another_policy_key_is_refused_by_the_tpm() {
    let key = PolicySigningKey::generate();
    let (_sw, mut tpm, sealed) = sealed_tpm(&key);
    // Swap the file's policy key: the parser sees the object is not sealed to it.
    let attacker = PolicySigningKey::generate();
    let mut bytes = sealed.to_bytes();
    bytes[18..83].copy_from_slice(&attacker.public_key().to_sec1());
    assert_eq!(
        SealedMasterKey::from_bytes(&bytes),
        Err(SealFormatError::PolicyKeyMismatch)
    );
    // Rewriting the object's authPolicy too makes the file parse, but the TPM refuses to
    // load the object: its private part is bound to its original public area.
    let forged = forge(&sealed, &attacker);
    let policy = sign_policy(&current_policy(&mut tpm, 1), counter(), &attacker);
    let err = seal::unseal(&mut tpm, &forged, &policy).unwrap_err();
    assert!(
        matches!(&err, UnsealError::Tpm(Error::Tpm(rc)) if rc.rc() == Rc::Integrity),
        "{err}"
    );
    // The genuine blob still opens under the genuine key only.
    assert!(matches!(
        seal::unseal(&mut tpm, &sealed, &policy),
        Err(UnsealError::NotSignedByPolicyKey)
    ));
}

/// `sealed` with `attacker` as its policy key and the object's authPolicy rewritten to
/// PolicyAuthorize(attacker), so that the file parses.
fn forge(sealed: &SealedMasterKey, attacker: &PolicySigningKey) -> SealedMasterKey {
    let mut bytes = sealed.to_bytes();
    bytes[18..83].copy_from_slice(&attacker.public_key().to_sec1());
    let public_at = 16 + 2 + 65 + 4 + sealed.object().private.len();
    // TPM2B_PUBLIC: size(2) type(2) nameAlg(2) attributes(4) authPolicy size(2) + digest.
    let policy_at = public_at + 2 + 2 + 2 + 4 + 2;
    bytes[policy_at..policy_at + 32].copy_from_slice(&policy_authorize_digest(
        &attacker.public_key().name(),
        POLICY_REF,
    ));
    SealedMasterKey::from_bytes(&bytes).unwrap()
}

#[test]
fn a_blob_from_one_tpm_does_not_unseal_on_another() {
    let key = PolicySigningKey::generate();
    let (_sw, mut tpm, sealed) = sealed_tpm(&key);
    let (_sw2, mut other, _) = sealed_tpm(&key);
    // Same PCRs, same counter index and value, same policy key: only the TPM differs.
    let policy = sign_policy(&current_policy(&mut tpm, 1), counter(), &key);
    assert_eq!(current_policy(&mut other, 1), *policy.policy());
    assert_eq!(*seal::unseal(&mut tpm, &sealed, &policy).unwrap(), SECRET);
    let err = seal::unseal(&mut other, &sealed, &policy).unwrap_err();
    assert!(
        matches!(&err, UnsealError::Tpm(Error::Tpm(rc)) if rc.rc() == Rc::Integrity),
        "{err}"
    );
}

#[test]
fn genesis_reuses_custos_counter_and_refuses_a_foreign_one() {
    let key = PolicySigningKey::generate();
    let (_sw, mut tpm, _) = sealed_tpm(&key);
    seal::advance_counter(&mut tpm, counter(), 3).unwrap();
    // A second genesis keeps the counter (no redefinition, no extra increment).
    let again = seal::genesis(&mut tpm, &SECRET, &key.public_key(), counter()).unwrap();
    assert_eq!(seal::read_counter(&mut tpm, counter()).unwrap(), 3);
    let policy = sign_policy(&current_policy(&mut tpm, 3), counter(), &key);
    assert_eq!(*seal::unseal(&mut tpm, &again, &policy).unwrap(), SECRET);

    // An index with another definition is not taken for the counter.
    let foreign = NvIndex::new(COUNTER + 1).unwrap();
    tpm.nv_define_counter(
        foreign,
        &custos_tpm::CounterSpec {
            policy: Some([1; 32]),
        },
    )
    .unwrap();
    let err = seal::genesis(&mut tpm, &SECRET, &key.public_key(), foreign).unwrap_err();
    assert!(matches!(err, Error::NvPublicMismatch { .. }), "{err}");
}

#[test]
fn advance_counter_only_goes_up_within_bounds() {
    let key = PolicySigningKey::generate();
    let (_sw, mut tpm, _) = sealed_tpm(&key);
    assert_eq!(seal::advance_counter(&mut tpm, counter(), 1).unwrap(), 1);
    assert_eq!(seal::advance_counter(&mut tpm, counter(), 2).unwrap(), 2);
    let err = seal::advance_counter(&mut tpm, counter(), 1).unwrap_err();
    assert!(
        matches!(
            err,
            Error::CounterAhead {
                value: 2,
                target: 1,
                ..
            }
        ),
        "{err}"
    );
    let err = seal::advance_counter(&mut tpm, counter(), 2 + seal::MAX_ADVANCE + 1).unwrap_err();
    assert!(matches!(err, Error::CounterJump { value: 2, .. }), "{err}");
    assert_eq!(seal::read_counter(&mut tpm, counter()).unwrap(), 2);

    // A counter defined but never incremented has no value.
    let fresh = NvIndex::new(COUNTER + 2).unwrap();
    tpm.nv_define_counter(fresh, &COUNTER_SPEC).unwrap();
    let err = seal::read_counter(&mut tpm, fresh).unwrap_err();
    assert!(
        matches!(err, Error::CounterUnwritten { index } if index == COUNTER + 2),
        "{err}"
    );
}

#[test]
fn sealed_master_keys_round_trip_and_malformed_ones_are_refused() {
    let key = PolicySigningKey::generate();
    let (_sw, _tpm, sealed) = sealed_tpm(&key);
    let bytes = sealed.to_bytes();
    assert_eq!(&bytes[..16], b"CUSTOS-TPM-SEAL1");
    assert!(!bytes.windows(SECRET.len()).any(|w| w == SECRET));
    let back = SealedMasterKey::from_bytes(&bytes).unwrap();
    assert_eq!(back, sealed);
    assert_eq!(back.policy_key(), &key.public_key());
    assert_eq!(back.counter(), counter());

    let parse = |b: &[u8]| SealedMasterKey::from_bytes(b).unwrap_err();
    assert_eq!(parse(b"CUSTOS"), SealFormatError::BadMagic);
    let mut t = bytes.clone();
    t[3] = b'x';
    assert_eq!(parse(&t), SealFormatError::BadMagic);
    let mut t = bytes.clone();
    t[17] = 9;
    assert_eq!(parse(&t), SealFormatError::UnsupportedFormat(9));
    assert_eq!(
        parse(&bytes[..17]),
        SealFormatError::Truncated("format version")
    );
    assert_eq!(
        parse(&bytes[..50]),
        SealFormatError::Truncated("policy key")
    );
    assert_eq!(parse(&bytes[..85]), SealFormatError::Truncated("counter"));
    assert_eq!(
        parse(&bytes[..90]),
        SealFormatError::Truncated("TPM private area")
    );
    assert_eq!(
        parse(&bytes[..bytes.len() - 1]),
        SealFormatError::Truncated("TPM public area")
    );
    let mut t = bytes.clone();
    t.extend_from_slice(&[0, 0]);
    assert_eq!(parse(&t), SealFormatError::TrailingBytes(2));
    let mut t = bytes.clone();
    t[18] = 2; // a compressed point is not the canonical form
    assert_eq!(parse(&t), SealFormatError::BadPolicyKey);
    let mut t = bytes.clone();
    t[82] ^= 1; // off the curve
    assert_eq!(parse(&t), SealFormatError::BadPolicyKey);
    let mut t = bytes.clone();
    t[83] = 0x81;
    assert_eq!(parse(&t), SealFormatError::BadCounter(0x8150_0016));
    // The object's attributes: userWithAuth set would let a password unseal it.
    let public_at = 16 + 2 + 65 + 4 + sealed.object().private.len();
    let mut t = bytes.clone();
    t[public_at + 2 + 2 + 2 + 3] |= 1 << 6;
    assert!(
        matches!(parse(&t), SealFormatError::NotASealedObject(_)),
        "{:?}",
        parse(&t)
    );
    let mut t = bytes;
    t[public_at + 3] = 0x23; // TPM_ALG_ECC: not a sealed data object
    assert!(matches!(parse(&t), SealFormatError::NotASealedObject(_)));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
