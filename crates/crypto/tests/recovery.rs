//! Recovery kits (`custos_crypto::recovery`): a 3-of-5 split of the master key, shares
//! opened by their custodians, the key rebuilt from any three and refused from two, and
//! every kind of wrong input refused precisely. One share is also opened by an
//! independent RFC 9180 opener written from primitives (x25519-dalek, HMAC-SHA256,
//! aes-gcm), as in `tests/export_interop.rs`, following the recovery module's docs.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Nonce};
use custos_crypto::bot_token;
use custos_crypto::keys::{BotTokenKey, MasterKey};
use custos_crypto::recovery::{
    open_share, recover, split_master_key, CustodianKey, CustodianSecret, KitFormatError,
    OpenedShare, RecoveryError, RecoveryHeader, RecoveryKit, ShareBundle, SHARE_BUNDLE_LEN,
};
use custos_crypto::shamir::{combine, ShamirError, Share};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

// ---------------------------------------------------------------------------------------
// Helpers.

struct Custodian {
    sk: [u8; 32],
    key: CustodianKey,
}

impl Custodian {
    fn new() -> Self {
        let mut sk = [0u8; 32];
        custos_crypto::os_random(&mut sk).unwrap();
        let pk = x25519_public(&sk);
        Custodian {
            sk,
            key: CustodianKey::from_bytes(&pk).unwrap(),
        }
    }

    fn secret(&self) -> CustodianSecret {
        CustodianSecret::from_bytes(Zeroizing::new(self.sk))
    }
}

fn master() -> (MasterKey, [u8; 32]) {
    let mut raw = [0u8; 32];
    custos_crypto::os_random(&mut raw).unwrap();
    (MasterKey::from_bytes(Zeroizing::new(raw)), raw)
}

struct Fixture {
    custodians: Vec<Custodian>,
    master: MasterKey,
    raw: [u8; 32],
    kit: RecoveryKit,
}

fn fixture(k: u8, n: usize) -> Fixture {
    let custodians: Vec<Custodian> = (0..n).map(|_| Custodian::new()).collect();
    let keys: Vec<CustodianKey> = custodians.iter().map(|c| c.key.clone()).collect();
    let (master, raw) = master();
    let kit = split_master_key(&master, k, &keys).unwrap();
    Fixture {
        custodians,
        master,
        raw,
        kit,
    }
}

impl Fixture {
    /// Custodian `i` (0-based) opens their own share.
    fn open(&self, i: usize) -> OpenedShare {
        open_share(
            &self.custodians[i].secret(),
            &self.kit.shares[i],
            &self.kit.header,
        )
        .unwrap()
    }
}

/// The two keys are the same: a box sealed under one's bot-token subkey opens under the
/// other's (and the subkeys are independent HKDF outputs of the whole master key).
/// The error of a refused recovery (a master key has no `Debug`, so no `unwrap_err`).
fn refused(result: Result<MasterKey, RecoveryError>) -> RecoveryError {
    match result {
        Ok(_) => panic!("a wrong share set recovered a key"),
        Err(e) => e,
    }
}

fn same_key(a: &MasterKey, b: &MasterKey) -> bool {
    let sealed = bot_token::seal(&BotTokenKey::derive(a), b"123:probe").unwrap();
    bot_token::open(&BotTokenKey::derive(b), &sealed).is_ok()
}

// ---------------------------------------------------------------------------------------
// Tests.

#[test]
fn any_three_of_five_recover_the_master_key() {
    let f = fixture(3, 5);
    assert_eq!(f.kit.header.threshold(), 3);
    assert_eq!(f.kit.header.share_count(), 5);
    assert_eq!(f.kit.shares.len(), 5);
    let opened: Vec<OpenedShare> = (0..5).map(|i| f.open(i)).collect();
    for (i, s) in opened.iter().enumerate() {
        assert_eq!(usize::from(s.index()), i + 1);
        assert_eq!(s.genesis_id(), f.kit.header.genesis_id());
    }
    let mut count = 0;
    for a in 0..5 {
        for b in a + 1..5 {
            for c in b + 1..5 {
                let set = [opened[c].clone(), opened[a].clone(), opened[b].clone()];
                let recovered = recover(&f.kit.header, &set).unwrap();
                assert!(same_key(&f.master, &recovered), "{a} {b} {c}");
                // And against a key rebuilt from the raw bytes, independently.
                let again = MasterKey::from_bytes(Zeroizing::new(f.raw));
                assert!(same_key(&again, &recovered));
                count += 1;
            }
        }
    }
    assert_eq!(count, 10);
    // All five together also recover.
    assert!(same_key(
        &f.master,
        &recover(&f.kit.header, &opened).unwrap()
    ));
    // A different master key is told apart by the comparison itself.
    assert!(!same_key(&f.master, &master().0));
}

#[test]
fn two_shares_are_refused_precisely() {
    let f = fixture(3, 5);
    let two = [f.open(0), f.open(3)];
    assert_eq!(
        refused(recover(&f.kit.header, &two)),
        RecoveryError::Shamir(ShamirError::TooFewShares { need: 3, got: 2 })
    );
    assert_eq!(
        refused(recover(&f.kit.header, &[])),
        RecoveryError::Shamir(ShamirError::TooFewShares { need: 3, got: 0 })
    );
}

#[test]
fn a_header_lowered_to_two_of_five_gives_check_failed_not_a_wrong_key() {
    let f = fixture(3, 5);
    let mut bytes = f.kit.header.to_bytes();
    bytes[21] = 2; // k
    let lowered = RecoveryHeader::from_bytes(&bytes).unwrap();
    // The shares do not open under the altered header (the AAD and info bind k)...
    assert_eq!(
        open_share(&f.custodians[0].secret(), &f.kit.shares[0], &lowered).unwrap_err(),
        RecoveryError::Open { index: 1 }
    );
    // ...and two shares opened under the real one, accepted at the lowered threshold,
    // rebuild a wrong key: the check (over the key and the header) refuses it.
    let two = [f.open(0), f.open(1)];
    assert_eq!(refused(recover(&lowered, &two)), RecoveryError::CheckFailed);
}

#[test]
fn a_share_opened_with_the_wrong_custodian_key_fails() {
    let f = fixture(3, 5);
    // Custodian 2's secret on custodian 1's share.
    assert_eq!(
        open_share(&f.custodians[1].secret(), &f.kit.shares[0], &f.kit.header).unwrap_err(),
        RecoveryError::NotThisCustodian { index: 1 }
    );
    // An outsider's key.
    assert_eq!(
        open_share(&Custodian::new().secret(), &f.kit.shares[0], &f.kit.header).unwrap_err(),
        RecoveryError::NotThisCustodian { index: 1 }
    );
    // A share relabelled with custodian 2's index passes the key check but does not open.
    let mut relabelled = f.kit.shares[0].to_bytes();
    relabelled[21] = 2;
    let relabelled = ShareBundle::from_bytes(&relabelled).unwrap();
    assert_eq!(
        open_share(&f.custodians[1].secret(), &relabelled, &f.kit.header).unwrap_err(),
        RecoveryError::Open { index: 2 }
    );
}

#[test]
fn a_share_from_another_kit_is_refused() {
    let f = fixture(3, 5);
    // The same custodians and the same master key, split again: another genesis id.
    let keys: Vec<CustodianKey> = f.custodians.iter().map(|c| c.key.clone()).collect();
    let other = split_master_key(&f.master, 3, &keys).unwrap();
    assert_ne!(other.header.genesis_id(), f.kit.header.genesis_id());
    assert_eq!(
        open_share(&f.custodians[0].secret(), &other.shares[0], &f.kit.header).unwrap_err(),
        RecoveryError::WrongKit
    );
    // Opened under its own header, it still cannot join this kit's shares.
    let foreign = open_share(&f.custodians[2].secret(), &other.shares[2], &other.header).unwrap();
    let mixed = [f.open(0), f.open(1), foreign];
    assert_eq!(
        refused(recover(&f.kit.header, &mixed)),
        RecoveryError::WrongKit
    );
    // A bundle whose genesis id was rewritten to this kit's does not open.
    let mut forged = other.shares[0].to_bytes();
    forged[5..21].copy_from_slice(f.kit.header.genesis_id());
    let forged = ShareBundle::from_bytes(&forged).unwrap();
    assert_eq!(
        open_share(&f.custodians[0].secret(), &forged, &f.kit.header).unwrap_err(),
        RecoveryError::Open { index: 1 }
    );
}

#[test]
fn a_tampered_share_or_header_is_refused() {
    let f = fixture(3, 5);
    let bundle = f.kit.shares[0].to_bytes();
    assert_eq!(bundle.len(), SHARE_BUNDLE_LEN);
    let sk = f.custodians[0].secret();
    // Every bit of enc and ciphertext.
    for i in 22..SHARE_BUNDLE_LEN {
        for bit in [0x01u8, 0x80] {
            let mut t = bundle;
            t[i] ^= bit;
            let t = ShareBundle::from_bytes(&t).unwrap();
            assert_eq!(
                open_share(&sk, &t, &f.kit.header).unwrap_err(),
                RecoveryError::Open { index: 1 },
                "byte {i} bit {bit:#x}"
            );
        }
    }
    // The header: the check, and a custodian's key swapped for another valid one.
    let header = f.kit.header.to_bytes();
    let mut bad_check = header.clone();
    *bad_check.last_mut().unwrap() ^= 1;
    let bad_check = RecoveryHeader::from_bytes(&bad_check).unwrap();
    assert_eq!(
        open_share(&sk, &f.kit.shares[0], &bad_check).unwrap_err(),
        RecoveryError::Open { index: 1 }
    );
    let opened = [f.open(0), f.open(1), f.open(2)];
    assert_eq!(
        refused(recover(&bad_check, &opened)),
        RecoveryError::CheckFailed
    );
    let mut swapped = header.clone();
    let stranger = Custodian::new();
    swapped[23 + 4 * 32..23 + 5 * 32].copy_from_slice(stranger.key.as_bytes());
    let swapped = RecoveryHeader::from_bytes(&swapped).unwrap();
    assert_eq!(
        open_share(&sk, &f.kit.shares[0], &swapped).unwrap_err(),
        RecoveryError::Open { index: 1 }
    );
    assert_eq!(
        refused(recover(&swapped, &opened)),
        RecoveryError::CheckFailed
    );
    // The untouched header still works.
    assert!(same_key(
        &f.master,
        &recover(&f.kit.header, &opened).unwrap()
    ));
}

#[test]
fn duplicate_shares_are_refused() {
    let f = fixture(3, 5);
    let dup = [f.open(0), f.open(1), f.open(1)];
    assert_eq!(
        refused(recover(&f.kit.header, &dup)),
        RecoveryError::Shamir(ShamirError::DuplicateX { x: 2 })
    );
}

#[test]
fn kit_creation_refuses_bad_parameters() {
    let (m, _) = master();
    let c: Vec<CustodianKey> = (0..5).map(|_| Custodian::new().key).collect();
    for (k, n) in [(1u8, 5usize), (6, 5), (0, 5), (2, 1), (2, 0)] {
        assert_eq!(
            split_master_key(&m, k, &c[..n]).unwrap_err(),
            RecoveryError::Shamir(ShamirError::Threshold { k, n: n as u8 })
        );
    }
    let repeated = [c[0].clone(), c[1].clone(), c[0].clone()];
    assert_eq!(
        split_master_key(&m, 2, &repeated).unwrap_err(),
        RecoveryError::DuplicateCustodian { index: 3 }
    );
    let too_many = vec![c[0].clone(); 256];
    assert_eq!(
        split_master_key(&m, 2, &too_many).unwrap_err(),
        RecoveryError::TooManyCustodians { got: 256 }
    );
}

#[test]
fn wire_forms_round_trip_and_parse_precisely() {
    let f = fixture(3, 5);
    let header = f.kit.header.to_bytes();
    assert_eq!(header.len(), 55 + 32 * 5);
    assert_eq!(&header[..5], b"CRKH\x01");
    assert_eq!(&header[5..21], f.kit.header.genesis_id());
    assert_eq!(header[21..23], [3, 5]);
    for (i, c) in f.custodians.iter().enumerate() {
        assert_eq!(&header[23 + 32 * i..55 + 32 * i], c.key.as_bytes());
    }
    assert_eq!(RecoveryHeader::from_bytes(&header).unwrap(), f.kit.header);
    for s in &f.kit.shares {
        let b = s.to_bytes();
        assert_eq!(&b[..5], b"CRKS\x01");
        assert_eq!(&b[5..21], f.kit.header.genesis_id());
        assert_eq!(b[21], s.index());
        assert_eq!(ShareBundle::from_bytes(&b).unwrap(), *s);
    }
    // Shares and the header reparsed from bytes still recover.
    let reparsed = RecoveryHeader::from_bytes(&header).unwrap();
    let opened: Vec<OpenedShare> = [4usize, 2, 0]
        .iter()
        .map(|&i| {
            let b = ShareBundle::from_bytes(&f.kit.shares[i].to_bytes()).unwrap();
            open_share(&f.custodians[i].secret(), &b, &reparsed).unwrap()
        })
        .collect();
    assert!(same_key(&f.master, &recover(&reparsed, &opened).unwrap()));

    use KitFormatError::*;
    let with = |i: usize, v: u8| {
        let mut h = header.clone();
        h[i] = v;
        RecoveryHeader::from_bytes(&h)
    };
    assert_eq!(with(0, b'X').unwrap_err(), Magic("header"));
    assert_eq!(with(4, 2).unwrap_err(), Version { got: 2 });
    assert_eq!(with(21, 6).unwrap_err(), Threshold { k: 6, n: 5 });
    assert_eq!(with(21, 1).unwrap_err(), Threshold { k: 1, n: 5 });
    assert_eq!(
        with(22, 6).unwrap_err(),
        Length {
            what: "header",
            expected: 55 + 32 * 6,
            got: header.len()
        }
    );
    assert!(matches!(
        RecoveryHeader::from_bytes(&header[..header.len() - 1]),
        Err(Length { .. })
    ));
    assert!(matches!(
        RecoveryHeader::from_bytes(&header[..10]),
        Err(Length { .. })
    ));
    // A low-order custodian key, and a repeated one.
    let mut low = header.clone();
    low[23..55].fill(0);
    assert!(matches!(
        RecoveryHeader::from_bytes(&low),
        Err(Custodian { index: 1, .. })
    ));
    let mut rep = header.clone();
    rep.copy_within(23..55, 55);
    assert_eq!(
        RecoveryHeader::from_bytes(&rep).unwrap_err(),
        DuplicateCustodian { index: 2 }
    );

    let share = f.kit.shares[0].to_bytes();
    let with = |i: usize, v: u8| {
        let mut s = share;
        s[i] = v;
        ShareBundle::from_bytes(&s)
    };
    assert_eq!(with(3, b'H').unwrap_err(), Magic("share"));
    assert_eq!(with(4, 0).unwrap_err(), Version { got: 0 });
    assert_eq!(with(21, 0).unwrap_err(), ZeroIndex);
    assert_eq!(
        ShareBundle::from_bytes(&share[1..]).unwrap_err(),
        Length {
            what: "share",
            expected: SHARE_BUNDLE_LEN,
            got: SHARE_BUNDLE_LEN - 1
        }
    );
    // An index beyond n parses but is refused against the header.
    let far = with(21, 9).unwrap();
    assert_eq!(
        open_share(&f.custodians[0].secret(), &far, &f.kit.header).unwrap_err(),
        RecoveryError::IndexOutOfRange { index: 9, n: 5 }
    );
}

#[test]
fn debug_output_shows_no_secret() {
    let f = fixture(2, 3);
    let opened = f.open(0);
    let c = &f.custodians[0];
    let outputs = [
        format!("{:?}", f.kit),
        format!("{:#?}", f.kit),
        format!("{opened:?}"),
    ];
    let secret_forms = [
        hex::encode(f.raw),
        format!("{:?}", &f.raw[..4])
            .trim_end_matches(']')
            .to_string(),
        hex::encode(c.sk),
        format!("{:?}", &c.sk[..4])
            .trim_end_matches(']')
            .to_string(),
    ];
    for out in &outputs {
        for s in &secret_forms {
            assert!(!out.contains(s.as_str()), "{out} reveals a secret");
        }
    }
    assert!(outputs[2].contains("redacted"), "{}", outputs[2]);
}

// ---------------------------------------------------------------------------------------
// An independent RFC 9180 base-mode opener (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
// AES-128-GCM), from primitives, sharing no code with rust-hpke.

fn x25519_public(sk: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*sk)).to_bytes()
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

const SUITE_KEM: &[u8] = b"KEM\x00\x20";
const SUITE_HPKE: &[u8] = b"HPKE\x00\x20\x00\x01\x00\x01";

fn labeled_extract(suite: &[u8], salt: &[u8], label: &[u8], ikm: &[u8]) -> [u8; 32] {
    let key: &[u8] = if salt.is_empty() { &[0u8; 32] } else { salt };
    hmac_sha256(key, &[b"HPKE-v1", suite, label, ikm])
}

fn labeled_expand(suite: &[u8], prk: &[u8], label: &[u8], info: &[u8], len: u16) -> Vec<u8> {
    hmac_sha256(
        prk,
        &[&len.to_be_bytes(), b"HPKE-v1", suite, label, info, &[1]],
    )[..usize::from(len)]
        .to_vec()
}

fn independent_open(
    sk: &[u8; 32],
    enc: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    ct: &[u8],
) -> Option<Vec<u8>> {
    let dh = x25519_dalek::StaticSecret::from(*sk)
        .diffie_hellman(&x25519_dalek::PublicKey::from(*enc))
        .to_bytes();
    if dh == [0; 32] {
        return None;
    }
    let kem_context = [&enc[..], &x25519_public(sk)].concat();
    let eae_prk = labeled_extract(SUITE_KEM, b"", b"eae_prk", &dh);
    let shared = labeled_expand(SUITE_KEM, &eae_prk, b"shared_secret", &kem_context, 32);
    let psk_id_hash = labeled_extract(SUITE_HPKE, b"", b"psk_id_hash", b"");
    let info_hash = labeled_extract(SUITE_HPKE, b"", b"info_hash", info);
    let ks_context = [&[0u8][..], &psk_id_hash, &info_hash].concat();
    let secret = labeled_extract(SUITE_HPKE, &shared, b"secret", b"");
    let key = labeled_expand(SUITE_HPKE, &secret, b"key", &ks_context, 16);
    let nonce = labeled_expand(SUITE_HPKE, &secret, b"base_nonce", &ks_context, 12);
    Aes128Gcm::new_from_slice(&key)
        .unwrap()
        .decrypt(Nonce::from_slice(&nonce), Payload { msg: ct, aad })
        .ok()
}

#[test]
fn an_independent_hpke_opener_opens_a_share_built_from_the_documented_layout() {
    let f = fixture(3, 5);
    let h = &f.kit.header;
    let header_bytes = h.to_bytes();
    let mut values = Vec::new();
    for (i, bundle) in f.kit.shares.iter().enumerate() {
        let index = (i + 1) as u8;
        // info and aad from the module docs, not from the library's helpers...
        let info = [
            &b"custos/v1/recovery-share"[..],
            h.genesis_id(),
            &[3, 5, index],
        ]
        .concat();
        let aad = [&header_bytes[..], &[index]].concat();
        // ...which agree with them.
        assert_eq!(info, h.share_info(index));
        assert_eq!(aad, h.share_aad(index));
        let pt = independent_open(
            &f.custodians[i].sk,
            &bundle.enc,
            &info,
            &aad,
            &bundle.ciphertext,
        )
        .expect("share opens");
        assert_eq!(pt.len(), 32);
        // Bound to the share index and the custodian.
        let mut wrong_info = info.clone();
        wrong_info[42] ^= 1;
        assert!(independent_open(
            &f.custodians[i].sk,
            &bundle.enc,
            &wrong_info,
            &aad,
            &bundle.ciphertext
        )
        .is_none());
        let other = (i + 1) % 5;
        assert!(independent_open(
            &f.custodians[other].sk,
            &bundle.enc,
            &info,
            &aad,
            &bundle.ciphertext
        )
        .is_none());
        values.push(pt);
    }
    // Any three independently opened values rebuild the exact master key bytes.
    let share = |i: usize| Share::from_parts((i + 1) as u8, &values[i]).unwrap();
    for i in 0..5 {
        let three = [share(i), share((i + 1) % 5), share((i + 3) % 5)];
        assert_eq!(*combine(&three, 3).unwrap(), f.raw);
    }
}
