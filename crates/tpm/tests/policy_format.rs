//! Signed image policies and policy keys offline: signatures, encodings, malformed input.

use custos_tpm::policy::{
    a_hash, counter_name, sign_policy, ImagePolicy, KeyError, PolicyFormatError, PolicyPublicKey,
    PolicySigningKey, SignedPolicy, POLICY_REF,
};
use custos_tpm::{nv_name, policy_nv_digest, NvIndex, NvOp};
use sha2::{Digest, Sha256};

const COUNTER: u32 = 0x0150_0016;

fn policy() -> ImagePolicy {
    ImagePolicy {
        version: 7,
        pcr7: [0x77; 32],
        pcr11: [0x11; 32],
    }
}

fn signed(key: &PolicySigningKey) -> SignedPolicy {
    sign_policy(&policy(), NvIndex::new(COUNTER).unwrap(), key)
}

#[test]
fn a_signed_policy_round_trips_and_verifies_only_under_its_key() {
    let key = PolicySigningKey::generate();
    let s = signed(&key);
    let bytes = s.to_bytes();
    assert_eq!(bytes.len(), 158);
    assert_eq!(&bytes[..16], b"CUSTOS-TPM-PLCY1");
    let back = SignedPolicy::from_bytes(&bytes).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.policy(), &policy());
    assert_eq!(back.counter().handle(), COUNTER);
    assert!(back.is_signed_by(&key.public_key()));
    assert!(!back.is_signed_by(&PolicySigningKey::generate().public_key()));
    // The signed digest is SHA-256(approved || "custos/v1/image").
    let mut h = Sha256::new();
    h.update(s.approved_digest());
    h.update(b"custos/v1/image");
    assert_eq!(s.a_hash(), <[u8; 32]>::from(h.finalize()));
    assert_eq!(s.a_hash(), a_hash(&s.approved_digest()));
    assert_eq!(POLICY_REF, b"custos/v1/image");
}

#[test]
fn every_field_is_covered_by_the_signature() {
    let key = PolicySigningKey::generate();
    let bytes = signed(&key).to_bytes();
    // version, pcr7, pcr11, counter (low byte: stays an NV handle), signature.
    for at in [25, 26, 57, 58, 89, 93, 94, 157] {
        let mut t = bytes.clone();
        t[at] ^= 1;
        match SignedPolicy::from_bytes(&t) {
            Ok(p) => assert!(!p.is_signed_by(&key.public_key()), "byte {at}"),
            Err(e) => assert_eq!(e, PolicyFormatError::BadSignatureEncoding, "byte {at}"),
        }
    }
}

#[test]
fn the_approved_digest_is_policy_pcr_then_policy_nv() {
    let p = policy();
    let index = NvIndex::new(COUNTER).unwrap();
    let sel = custos_tpm::policy::pcr_selection();
    let pcr = custos_tpm::policy_pcr_digest(&sel, &[p.pcr7, p.pcr11]).unwrap();
    let want = policy_nv_digest(
        &pcr,
        &7u64.to_be_bytes(),
        0,
        NvOp::UnsignedLe,
        &counter_name(index),
    );
    assert_eq!(p.approved_digest(index), want);
    // The counter's name is that of the written counter (TPMA_NV_WRITTEN set).
    let public = custos_tpm::policy::counter_public(index);
    assert!(public.written());
    assert_eq!(counter_name(index), nv_name(&public));
    // Another counter, another digest.
    let other = NvIndex::new(COUNTER + 1).unwrap();
    assert_ne!(p.approved_digest(other), want);
}

#[test]
fn malformed_policies_are_refused_precisely() {
    let bytes = signed(&PolicySigningKey::generate()).to_bytes();
    assert_eq!(
        SignedPolicy::from_bytes(b"CUSTOS"),
        Err(PolicyFormatError::BadMagic)
    );
    let mut t = bytes.clone();
    t[0] = b'X';
    assert_eq!(
        SignedPolicy::from_bytes(&t),
        Err(PolicyFormatError::BadMagic)
    );
    let mut t = bytes.clone();
    t[17] = 2;
    assert_eq!(
        SignedPolicy::from_bytes(&t),
        Err(PolicyFormatError::UnsupportedFormat(2))
    );
    assert_eq!(
        SignedPolicy::from_bytes(&bytes[..157]),
        Err(PolicyFormatError::Length {
            expected: 158,
            found: 157
        })
    );
    let mut t = bytes.clone();
    t.push(0);
    assert_eq!(
        SignedPolicy::from_bytes(&t),
        Err(PolicyFormatError::Length {
            expected: 158,
            found: 159
        })
    );
    let mut t = bytes.clone();
    t[90] = 0x81; // a persistent-object handle, not an NV index
    assert_eq!(
        SignedPolicy::from_bytes(&t),
        Err(PolicyFormatError::BadCounter(0x8150_0016))
    );
    let mut t = bytes.clone();
    t[94..126].fill(0); // r = 0
    assert_eq!(
        SignedPolicy::from_bytes(&t),
        Err(PolicyFormatError::BadSignatureEncoding)
    );
    let mut t = bytes;
    t[126..].fill(0xff); // s beyond the group order
    assert_eq!(
        SignedPolicy::from_bytes(&t),
        Err(PolicyFormatError::BadSignatureEncoding)
    );
}

#[test]
fn policy_keys_round_trip_through_pem_and_sec1() {
    let key = PolicySigningKey::generate();
    let pem = key.to_pkcs8_pem().unwrap();
    assert!(
        pem.starts_with("-----BEGIN PRIVATE KEY-----"),
        "{}",
        &pem[..30]
    );
    let back = PolicySigningKey::from_pkcs8_pem(&pem).unwrap();
    assert_eq!(back.public_key(), key.public_key());
    // The same key signs the same policy identically (RFC 6979).
    assert_eq!(signed(&back), signed(&key));

    let public = key.public_key();
    let pub_pem = public.to_pem();
    assert!(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(PolicyPublicKey::from_pem(&pub_pem).unwrap(), public);
    let sec1 = public.to_sec1();
    assert_eq!(sec1[0], 4);
    assert_eq!(PolicyPublicKey::from_sec1(&sec1).unwrap(), public);
    let (x, y) = public.coordinates();
    assert_eq!((&sec1[1..33], &sec1[33..]), (&x[..], &y[..]));
    assert_eq!(
        PolicySigningKey::from_pkcs8_pem(&pub_pem)
            .err()
            .expect("a public key is refused"),
        KeyError::BadPrivateKey
    );
    assert_eq!(
        PolicyPublicKey::from_pem(&pem).unwrap_err(),
        KeyError::BadPublicKey
    );
    let mut bad = sec1;
    bad[64] ^= 1; // off the curve
    assert_eq!(
        PolicyPublicKey::from_sec1(&bad).unwrap_err(),
        KeyError::BadPublicKey
    );
}
