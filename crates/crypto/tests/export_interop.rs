//! Export bundles (`custos_crypto::export`, sealed with rust-hpke) opened by a second,
//! independent HPKE implementation: RFC 9180 base-mode `Open` for
//! DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305, written below from the
//! RFC's pseudocode on top of the bare primitives (x25519-dalek, hkdf, chacha20poly1305).
//! It shares no HPKE code with rust-hpke (labels, key schedule, DHKEM), and it is itself
//! checked against the RFC 9180 Appendix A.2.1 test vector, as is the sealing side in the
//! module's unit tests.
//!
//! The wire form is parsed with serde_json, as the browser page would parse it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use custos_crypto::export::{
    seal_export, ExportBundle, ExportContext, RecipientKey, RecipientKeyError,
};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

// ---------------------------------------------------------------------------------------
// RFC 9180, independently (§4, §4.1, §5.1, §5.2, §7.1.3).

const KEM_ID: u16 = 0x0020;
const KDF_ID: u16 = 0x0001;
const AEAD_ID: u16 = 0x0003;
const MODE_BASE: u8 = 0x00;

fn suite_id_kem() -> Vec<u8> {
    let mut s = b"KEM".to_vec();
    s.extend_from_slice(&KEM_ID.to_be_bytes());
    s
}

fn suite_id_hpke() -> Vec<u8> {
    let mut s = b"HPKE".to_vec();
    s.extend_from_slice(&KEM_ID.to_be_bytes());
    s.extend_from_slice(&KDF_ID.to_be_bytes());
    s.extend_from_slice(&AEAD_ID.to_be_bytes());
    s
}

/// `LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id || label || ikm)`
fn labeled_extract(suite_id: &[u8], salt: &[u8], label: &[u8], ikm: &[u8]) -> [u8; 32] {
    let mut labeled_ikm = b"HPKE-v1".to_vec();
    labeled_ikm.extend_from_slice(suite_id);
    labeled_ikm.extend_from_slice(label);
    labeled_ikm.extend_from_slice(ikm);
    let (prk, _) = Hkdf::<Sha256>::extract(Some(salt), &labeled_ikm);
    prk.into()
}

/// `LabeledExpand(prk, label, info, L) =
///  Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L)`
fn labeled_expand(
    suite_id: &[u8],
    prk: &[u8; 32],
    label: &[u8],
    info: &[u8],
    len: usize,
) -> Vec<u8> {
    let mut labeled_info = (len as u16).to_be_bytes().to_vec();
    labeled_info.extend_from_slice(b"HPKE-v1");
    labeled_info.extend_from_slice(suite_id);
    labeled_info.extend_from_slice(label);
    labeled_info.extend_from_slice(info);
    let hk = Hkdf::<Sha256>::from_prk(prk).expect("32-byte PRK");
    let mut out = vec![0u8; len];
    hk.expand(&labeled_info, &mut out).expect("length in range");
    out
}

fn x25519(sk: &[u8; 32], pk: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::StaticSecret::from(*sk)
        .diffie_hellman(&x25519_dalek::PublicKey::from(*pk))
        .to_bytes()
}

fn x25519_public(sk: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*sk)).to_bytes()
}

/// §7.1.3 DeriveKeyPair for X25519: `sk = LabeledExpand(dkp_prk, "sk", "", 32)`.
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

/// §5.1 KeySchedule, base mode (empty psk and psk_id): returns (key, base_nonce).
fn key_schedule(shared_secret: &[u8; 32], info: &[u8]) -> ([u8; 32], [u8; 12]) {
    let sid = suite_id_hpke();
    let psk_id_hash = labeled_extract(&sid, b"", b"psk_id_hash", b"");
    let info_hash = labeled_extract(&sid, b"", b"info_hash", info);
    let mut ks_context = vec![MODE_BASE];
    ks_context.extend_from_slice(&psk_id_hash);
    ks_context.extend_from_slice(&info_hash);
    let secret = labeled_extract(&sid, shared_secret, b"secret", b"");
    let key = labeled_expand(&sid, &secret, b"key", &ks_context, 32);
    let nonce = labeled_expand(&sid, &secret, b"base_nonce", &ks_context, 12);
    (key.try_into().unwrap(), nonce.try_into().unwrap())
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
    let (key, base_nonce) = key_schedule(&shared_secret, info);
    ChaCha20Poly1305::new(&key.into())
        .decrypt(Nonce::from_slice(&base_nonce), Payload { msg: ct, aad })
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
        seed: k.seed,
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
    assert_eq!(o["aead_id"], 3);
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

/// The independent implementation reproduces every intermediate value of RFC 9180
/// Appendix A.2.1 and opens its first ciphertext.
#[test]
fn independent_open_matches_rfc9180_a2_vector() {
    let (sk_e, pk_e) = derive_keypair(&h(
        "909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b",
    ));
    assert_eq!(
        sk_e,
        h32("f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600")
    );
    assert_eq!(
        pk_e,
        h32("1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a")
    );
    let (sk_r, pk_r) = derive_keypair(&h(
        "1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df",
    ));
    assert_eq!(
        sk_r,
        h32("8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb")
    );
    assert_eq!(
        pk_r,
        h32("4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a")
    );

    let enc = h32("1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a");
    let info = h("4f6465206f6e2061204772656369616e2055726e");
    let shared = decap(&enc, &sk_r).unwrap();
    assert_eq!(
        shared,
        h32("0bbe78490412b4bbea4812666f7916932b828bba79942424abb65244930d69a7")
    );
    let (key, nonce) = key_schedule(&shared, &info);
    assert_eq!(
        key,
        h32("ad2744de8e17f4ebba575b3f5f5a8fa1f69c2a07f6e7500bc60ca6e3e3ec1c91")
    );
    assert_eq!(nonce.to_vec(), h("5c4d98150661b848853b547f"));

    let pt = open(
        &sk_r,
        &enc,
        &info,
        &h("436f756e742d30"),
        &h("1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28"),
    )
    .unwrap();
    assert_eq!(pt.as_slice(), b"Beauty is truth, truth beauty");
}

#[test]
fn round_trip_through_json_and_the_independent_implementation() {
    let r = recipient();
    let w = wallet();
    let ctx = context(&w, [9; 16]);
    let bundle = seal_export(&r.key, &ctx, &w.seed).unwrap();
    let json = bundle.to_json();
    let expected_prefix = r#"{"version":1,"kem_id":32,"kdf_id":1,"aead_id":3,"enc":""#;
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
