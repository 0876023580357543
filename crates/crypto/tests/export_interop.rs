//! Export bundles (`custos_crypto::export`, sealed with rust-hpke) opened by a second,
//! independent HPKE implementation: RFC 9180 base-mode `Open` for
//! DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM, written below the way the
//! module docs tell a WebCrypto page to do it: X25519 (x25519-dalek, as `deriveBits`),
//! every HKDF step as one HMAC-SHA256 (hmac, as HMAC `sign`), AES-128-GCM (aes-gcm, as
//! AES-GCM `decrypt`). It shares no HPKE code with rust-hpke (labels, key schedule,
//! DHKEM), it is checked against the RFC 9180 Appendix A.1.1 test vector value by value,
//! and its one-HMAC shortcuts are checked against a full HKDF (hkdf).
//!
//! The wire form is parsed with serde_json, as the browser page would parse it.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use custos_crypto::export::{
    seal_export, ExportBundle, ExportContext, RecipientKey, RecipientKeyError,
};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

// ---------------------------------------------------------------------------------------
// RFC 9180, independently (§4, §4.1, §5.1, §5.2, §7.1.3), as the module docs' recipe.

const KEM_ID: u16 = 0x0020;
const KDF_ID: u16 = 0x0001;
const AEAD_ID: u16 = 0x0001;
const MODE_BASE: u8 = 0x00;
const NK: usize = 16;
const NN: usize = 12;

/// `"KEM" || I2OSP(kem_id, 2)`.
fn suite_id_kem() -> Vec<u8> {
    let mut s = b"KEM".to_vec();
    s.extend_from_slice(&KEM_ID.to_be_bytes());
    s
}

/// `"HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2)`.
fn suite_id_hpke() -> Vec<u8> {
    let mut s = b"HPKE".to_vec();
    s.extend_from_slice(&KEM_ID.to_be_bytes());
    s.extend_from_slice(&KDF_ID.to_be_bytes());
    s.extend_from_slice(&AEAD_ID.to_be_bytes());
    s
}

/// One HMAC-SHA256 over the concatenation of `parts` (WebCrypto: one `sign` call).
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// `LabeledExtract(salt, label, ikm) = HMAC-SHA256(salt, "HPKE-v1" || suite_id || label
/// || ikm)`, with 32 zero bytes as the key for an empty salt (WebCrypto refuses empty
/// HMAC keys; the HMAC is the same).
fn labeled_extract(suite_id: &[u8], salt: &[u8], label: &[u8], ikm: &[u8]) -> [u8; 32] {
    let key: &[u8] = if salt.is_empty() { &[0u8; 32] } else { salt };
    hmac_sha256(key, &[b"HPKE-v1", suite_id, label, ikm])
}

/// `LabeledExpand(prk, label, info, L)` for `L <= 32`: the first L bytes of
/// `HMAC-SHA256(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info || 0x01)`
/// (HKDF-Expand's first block).
fn labeled_expand(
    suite_id: &[u8],
    prk: &[u8; 32],
    label: &[u8],
    info: &[u8],
    len: usize,
) -> Vec<u8> {
    assert!(len <= 32, "one HMAC block only");
    let l = (len as u16).to_be_bytes();
    hmac_sha256(prk, &[&l, b"HPKE-v1", suite_id, label, info, &[0x01]])[..len].to_vec()
}

fn x25519(sk: &[u8; 32], pk: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::StaticSecret::from(*sk)
        .diffie_hellman(&x25519_dalek::PublicKey::from(*pk))
        .to_bytes()
}

fn x25519_public(sk: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*sk)).to_bytes()
}

/// §7.1.3 DeriveKeyPair for X25519: `sk = LabeledExpand(dkp_prk, "sk", "", 32)`. Only
/// used to check the vector's key pairs; a page generates its key with WebCrypto.
fn derive_keypair(ikm: &[u8]) -> ([u8; 32], [u8; 32]) {
    let dkp_prk = labeled_extract(&suite_id_kem(), b"", b"dkp_prk", ikm);
    let sk: [u8; 32] = labeled_expand(&suite_id_kem(), &dkp_prk, b"sk", b"", 32)
        .try_into()
        .unwrap();
    (sk, x25519_public(&sk))
}

/// §4.1 DHKEM Decap.
fn decap(enc: &[u8; 32], sk_r: &[u8; 32]) -> Option<[u8; 32]> {
    let dh = x25519(sk_r, enc);
    if dh == [0u8; 32] {
        return None;
    }
    let mut kem_context = enc.to_vec();
    kem_context.extend_from_slice(&x25519_public(sk_r));
    let eae_prk = labeled_extract(&suite_id_kem(), b"", b"eae_prk", &dh);
    Some(
        labeled_expand(
            &suite_id_kem(),
            &eae_prk,
            b"shared_secret",
            &kem_context,
            32,
        )
        .try_into()
        .unwrap(),
    )
}

/// Every value §5.1 KeySchedule computes in base mode (empty psk and psk_id).
struct Schedule {
    ks_context: Vec<u8>,
    secret: [u8; 32],
    key: [u8; NK],
    base_nonce: [u8; NN],
}

fn key_schedule(shared_secret: &[u8; 32], info: &[u8]) -> Schedule {
    let sid = suite_id_hpke();
    let psk_id_hash = labeled_extract(&sid, b"", b"psk_id_hash", b"");
    let info_hash = labeled_extract(&sid, b"", b"info_hash", info);
    let mut ks_context = vec![MODE_BASE];
    ks_context.extend_from_slice(&psk_id_hash);
    ks_context.extend_from_slice(&info_hash);
    let secret = labeled_extract(&sid, shared_secret, b"secret", b"");
    let key = labeled_expand(&sid, &secret, b"key", &ks_context, NK);
    let base_nonce = labeled_expand(&sid, &secret, b"base_nonce", &ks_context, NN);
    Schedule {
        ks_context,
        secret,
        key: key.try_into().unwrap(),
        base_nonce: base_nonce.try_into().unwrap(),
    }
}

/// §5.2 / §6.1 single-shot Open, sequence number 0 (nonce = base_nonce).
fn open(
    sk_r: &[u8; 32],
    enc: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    ct: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let shared_secret = decap(enc, sk_r)?;
    let s = key_schedule(&shared_secret, info);
    Aes128Gcm::new(&s.key.into())
        .decrypt(Nonce::from_slice(&s.base_nonce), Payload { msg: ct, aad })
        .ok()
        .map(Zeroizing::new)
}

// ---------------------------------------------------------------------------------------
// Helpers.

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn h32(s: &str) -> [u8; 32] {
    h(s).try_into().unwrap()
}

struct Recipient {
    sk: [u8; 32],
    key: RecipientKey,
}

fn recipient() -> Recipient {
    let mut sk = [0u8; 32];
    custos_crypto::os_random(&mut sk).unwrap();
    let b64 = URL_SAFE_NO_PAD.encode(x25519_public(&sk));
    Recipient {
        sk,
        key: RecipientKey::from_base64url(&b64).unwrap(),
    }
}

struct Wallet {
    seed: Zeroizing<[u8; 32]>,
    pubkey: [u8; 32],
}

fn wallet() -> Wallet {
    let k = custos_crypto::sign::generate().unwrap();
    Wallet {
        seed: Zeroizing::new(**k.seed),
        pubkey: k.pubkey,
    }
}

fn context(w: &Wallet, confirmation_id: [u8; 16]) -> ExportContext {
    ExportContext {
        wallet: w.pubkey,
        confirmation_id,
    }
}

/// Parses the wire form as the page would, checking every field.
fn parse_json(json: &str) -> ([u8; 32], Vec<u8>) {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let o = v.as_object().unwrap();
    assert_eq!(o.len(), 6, "{json}");
    assert_eq!(o["version"], 1);
    assert_eq!(o["kem_id"], 32);
    assert_eq!(o["kdf_id"], 1);
    assert_eq!(o["aead_id"], 1);
    let enc = URL_SAFE_NO_PAD.decode(o["enc"].as_str().unwrap()).unwrap();
    let ct = URL_SAFE_NO_PAD
        .decode(o["ciphertext"].as_str().unwrap())
        .unwrap();
    (enc.try_into().unwrap(), ct)
}

fn open_bundle(r: &Recipient, ctx: &ExportContext, b: &ExportBundle) -> Option<Zeroizing<Vec<u8>>> {
    open(&r.sk, &b.enc, &ctx.info(), &ctx.aad(), &b.ciphertext)
}

// ---------------------------------------------------------------------------------------
// Tests.

/// The module docs' WebCrypto recipe, run step by step on RFC 9180 Appendix A.1.1
/// (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode): every
/// intermediate value, and the first ciphertext opened.
#[test]
fn webcrypto_recipe_reproduces_rfc9180_a1_vector() {
    assert_eq!(suite_id_kem(), h("4b454d0020"));
    assert_eq!(suite_id_hpke(), h("48504b45002000010001"));

    let (sk_e, pk_e) = derive_keypair(&h(
        "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234",
    ));
    assert_eq!(
        sk_e,
        h32("52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736")
    );
    assert_eq!(
        pk_e,
        h32("37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431")
    );
    let (sk_r, pk_r) = derive_keypair(&h(
        "6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037",
    ));
    assert_eq!(
        sk_r,
        h32("4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8")
    );
    assert_eq!(
        pk_r,
        h32("3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d")
    );

    let enc = h32("37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431");
    let info = h("4f6465206f6e2061204772656369616e2055726e");
    let shared = decap(&enc, &sk_r).unwrap();
    assert_eq!(
        shared,
        h32("fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc")
    );
    let s = key_schedule(&shared, &info);
    assert_eq!(
        s.ks_context,
        h(
            "00725611c9d98c07c03f60095cd32d400d8347d45ed67097bbad50fc56da742d07\
           cb6cffde367bb0565ba28bb02c90744a20f5ef37f30523526106f637abb05449"
        )
    );
    assert_eq!(
        s.secret,
        h32("12fff91991e93b48de37e7daddb52981084bd8aa64289c3788471d9a9712f397")
    );
    assert_eq!(s.key.to_vec(), h("4531685d41d65f03dc48f6b8302c05b0"));
    assert_eq!(s.base_nonce.to_vec(), h("56d890e5accaaf011cff4b7d"));

    let ct = h(
        "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a9\
                6d8770ac83d07bea87e13c512a",
    );
    let pt = open(&sk_r, &enc, &info, &h("436f756e742d30"), &ct).unwrap();
    assert_eq!(pt.as_slice(), b"Beauty is truth, truth beauty");
    // The vector's second message (sequence number 1) does not open as a first one.
    let ct1 = h(
        "af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab25\
                 1c03d0c22a56b8ca42c2063b84",
    );
    assert!(open(&sk_r, &enc, &info, &h("436f756e742d31"), &ct1).is_none());
}

/// The recipe's one-HMAC shortcuts are HKDF: LabeledExtract with an empty salt keyed with
/// 32 zero bytes equals HKDF-Extract with no salt, and LabeledExpand for L <= 32 equals
/// HKDF-Expand, for every length the suite uses and arbitrary inputs.
#[test]
fn one_hmac_steps_equal_full_hkdf() {
    let sid = suite_id_hpke();
    for ikm in [&b""[..], b"x", &[0xa5; 100]] {
        for salt in [&b""[..], b"salt", &[7u8; 32]] {
            let mut labeled_ikm = b"HPKE-v1".to_vec();
            labeled_ikm.extend_from_slice(&sid);
            labeled_ikm.extend_from_slice(b"label");
            labeled_ikm.extend_from_slice(ikm);
            let salt_opt = (!salt.is_empty()).then_some(salt);
            let (prk, _) = Hkdf::<Sha256>::extract(salt_opt, &labeled_ikm);
            let ours = labeled_extract(&sid, salt, b"label", ikm);
            assert_eq!(ours[..], prk[..]);

            for len in [12usize, 16, 32] {
                let mut labeled_info = (len as u16).to_be_bytes().to_vec();
                labeled_info.extend_from_slice(b"HPKE-v1");
                labeled_info.extend_from_slice(&sid);
                labeled_info.extend_from_slice(b"key");
                labeled_info.extend_from_slice(ikm);
                let mut want = vec![0u8; len];
                Hkdf::<Sha256>::from_prk(&ours)
                    .unwrap()
                    .expand(&labeled_info, &mut want)
                    .unwrap();
                assert_eq!(labeled_expand(&sid, &ours, b"key", ikm, len), want);
            }
        }
    }
}

#[test]
fn round_trip_through_json_and_the_independent_implementation() {
    let r = recipient();
    let w = wallet();
    let ctx = context(&w, [9; 16]);
    let bundle = seal_export(&r.key, &ctx, &w.seed).unwrap();
    let json = bundle.to_json();
    let expected_prefix = r#"{"version":1,"kem_id":32,"kdf_id":1,"aead_id":1,"enc":""#;
    assert!(json.starts_with(expected_prefix), "{json}");
    assert!(
        !json.contains(char::is_whitespace) && !json.contains('='),
        "{json}"
    );
    let (enc, ct) = parse_json(&json);
    assert_eq!(enc, bundle.enc);
    assert_eq!(ct, bundle.ciphertext);
    assert_eq!(ct.len(), 48);
    assert_eq!(
        json.len(),
        expected_prefix.len() + 43 + r#"","ciphertext":""#.len() + 64 + 2
    );

    let pt = open(&r.sk, &enc, &ctx.info(), &ctx.aad(), &ct).unwrap();
    assert_eq!(pt.as_slice(), w.seed.as_slice());
    // What the page checks next: the seed is the wallet's key.
    let seed: Zeroizing<[u8; 32]> = Zeroizing::new(pt.as_slice().try_into().unwrap());
    assert_eq!(custos_crypto::sign::public_key(&seed), w.pubkey);
}

#[test]
fn each_export_uses_a_fresh_ephemeral_key() {
    let r = recipient();
    let w = wallet();
    let ctx = context(&w, [1; 16]);
    let a = seal_export(&r.key, &ctx, &w.seed).unwrap();
    let b = seal_export(&r.key, &ctx, &w.seed).unwrap();
    assert_ne!(a.enc, b.enc);
    assert_ne!(a.ciphertext, b.ciphertext);
    assert!(open_bundle(&r, &ctx, &a).is_some() && open_bundle(&r, &ctx, &b).is_some());
}

#[test]
fn wrong_recipient_key_fails() {
    let r = recipient();
    let other = recipient();
    let w = wallet();
    let ctx = context(&w, [2; 16]);
    let bundle = seal_export(&r.key, &ctx, &w.seed).unwrap();
    assert!(open_bundle(&other, &ctx, &bundle).is_none());
    assert!(open_bundle(&r, &ctx, &bundle).is_some());
}

#[test]
fn tampered_enc_or_ciphertext_fails() {
    let r = recipient();
    let w = wallet();
    let ctx = context(&w, [3; 16]);
    let bundle = seal_export(&r.key, &ctx, &w.seed).unwrap();
    for i in 0..32 {
        for bit in [0x01u8, 0x80] {
            let mut t = bundle.clone();
            t.enc[i] ^= bit;
            assert!(
                open_bundle(&r, &ctx, &t).is_none(),
                "enc byte {i} bit {bit:#x}"
            );
        }
    }
    for i in 0..bundle.ciphertext.len() {
        let mut t = bundle.clone();
        t.ciphertext[i] ^= 0x01;
        assert!(open_bundle(&r, &ctx, &t).is_none(), "ciphertext byte {i}");
    }
    // Truncated, extended, or empty.
    for ct in [
        bundle.ciphertext[..47].to_vec(),
        [bundle.ciphertext.clone(), vec![0]].concat(),
        Vec::new(),
    ] {
        let t = ExportBundle {
            enc: bundle.enc,
            ciphertext: ct,
        };
        assert!(open_bundle(&r, &ctx, &t).is_none());
    }
    assert!(open_bundle(&r, &ctx, &bundle).is_some());
}

#[test]
fn a_bundle_for_wallet_a_does_not_open_as_wallet_b() {
    let r = recipient();
    let a = wallet();
    let b = wallet();
    let ctx_a = context(&a, [4; 16]);
    let ctx_b = context(&b, [4; 16]);
    let bundle = seal_export(&r.key, &ctx_a, &a.seed).unwrap();
    // Under wallet B's context (info and AAD).
    assert!(open_bundle(&r, &ctx_b, &bundle).is_none());
    // Nor with only one of the two swapped: each binds the wallet on its own.
    assert!(open(
        &r.sk,
        &bundle.enc,
        &ctx_b.info(),
        &ctx_a.aad(),
        &bundle.ciphertext
    )
    .is_none());
    assert!(open(
        &r.sk,
        &bundle.enc,
        &ctx_a.info(),
        &ctx_b.aad(),
        &bundle.ciphertext
    )
    .is_none());
    // Nor for another confirmation of the same wallet.
    assert!(open_bundle(&r, &context(&a, [5; 16]), &bundle).is_none());
    assert!(open_bundle(&r, &ctx_a, &bundle).is_some());
    // And the signer refuses to seal wallet A's seed as wallet B's.
    assert_eq!(
        seal_export(&r.key, &ctx_b, &a.seed),
        Err(custos_crypto::export::ExportError::WalletMismatch)
    );
}

#[test]
fn malformed_recipient_keys_give_precise_errors() {
    use RecipientKeyError::*;
    let good = URL_SAFE_NO_PAD.encode(x25519_public(&[0x42; 32]));
    assert_eq!(good.len(), 43);
    assert!(RecipientKey::from_base64url(&good).is_ok());

    // Encoding: standard-alphabet characters, padding, whitespace, junk, and non-zero
    // trailing bits (43 characters carry 258 bits; the last 2 must be zero).
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = ALPHABET
        .iter()
        .position(|&c| c == good.as_bytes()[42])
        .unwrap();
    assert_eq!(last & 3, 0);
    for bad in [
        format!("+{}", &good[1..]),
        format!("{}/", &good[..42]),
        format!("{good}="),
        format!(" {good}"),
        format!("{}\n", &good[..42]),
        format!("{}!", &good[..42]),
        format!("{}{}", &good[..42], ALPHABET[last | 1] as char),
    ] {
        assert_eq!(RecipientKey::from_base64url(&bad), Err(Encoding), "{bad:?}");
    }

    // Length.
    assert_eq!(RecipientKey::from_base64url(""), Err(Length { got: 0 }));
    assert_eq!(
        RecipientKey::from_base64url(&URL_SAFE_NO_PAD.encode([1u8; 31])),
        Err(Length { got: 31 })
    );
    assert_eq!(
        RecipientKey::from_base64url(&URL_SAFE_NO_PAD.encode([1u8; 33])),
        Err(Length { got: 33 })
    );
    assert_eq!(
        RecipientKey::from_base64url(&URL_SAFE_NO_PAD.encode([1u8; 64])),
        Err(Length { got: 64 })
    );
    assert!(matches!(
        RecipientKey::from_base64url(&"A".repeat(100_000)),
        Err(Length { .. })
    ));
    assert_eq!(
        RecipientKey::from_bytes(&[9u8; 16]),
        Err(Length { got: 16 })
    );

    // Low order: every canonical u-coordinate of a point of order 1, 2, 4 or 8 on the
    // curve or its twist (the libsodium blocklist, canonical entries).
    for low in [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ] {
        let b64 = URL_SAFE_NO_PAD.encode(h(low));
        assert_eq!(RecipientKey::from_base64url(&b64), Err(LowOrder), "{low}");
    }

    // Non-canonical: the top bit set, or u >= 2^255 - 19 (p and p + 1 would be the
    // low-order points 0 and 1 again).
    let mut top_bit = x25519_public(&[0x42; 32]);
    top_bit[31] |= 0x80;
    for bad in [
        top_bit.to_vec(),
        h("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        h("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        h("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        h("0000000000000000000000000000000000000000000000000000000000000080"),
    ] {
        let b64 = URL_SAFE_NO_PAD.encode(&bad);
        assert_eq!(
            RecipientKey::from_base64url(&b64),
            Err(NonCanonical),
            "{}",
            hex::encode(&bad)
        );
    }
    // The largest canonical value, p - 1, is low order; p - 2 is an ordinary key.
    let p_minus_2 = h("ebffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    assert!(RecipientKey::from_bytes(&p_minus_2).is_ok());

    // Every error says what is wrong.
    assert!(Length { got: 31 }.to_string().contains("32 bytes, got 31"));
    assert!(LowOrder.to_string().contains("low-order"));
}

#[test]
fn debug_output_shows_no_secret() {
    let r = recipient();
    let w = wallet();
    let ctx = context(&w, [6; 16]);
    let bundle = seal_export(&r.key, &ctx, &w.seed).unwrap();
    let mismatch = seal_export(&r.key, &context(&wallet(), [6; 16]), &w.seed).unwrap_err();
    let seed_forms = [
        hex::encode(*w.seed),
        hex::encode_upper(*w.seed),
        URL_SAFE_NO_PAD.encode(*w.seed),
        format!("{:?}", &w.seed[..]),
        format!("{:?}", &w.seed[..8])
            .trim_end_matches(']')
            .to_string(),
    ];
    let outputs = [
        format!("{:?}", r.key),
        format!("{:#?}", r.key),
        format!("{ctx:?}"),
        format!("{bundle:?}"),
        format!("{bundle:#?}"),
        format!("{mismatch:?} {mismatch}"),
    ];
    for out in &outputs {
        for s in &seed_forms {
            assert!(!out.contains(s.as_str()), "{out} reveals the seed");
        }
    }
    // The bundle's Debug does not dump the ciphertext either, only its length.
    assert!(outputs[3].contains("ciphertext_len: 48"), "{}", outputs[3]);
    assert!(!outputs[3].contains(&URL_SAFE_NO_PAD.encode(&bundle.ciphertext)));
}
