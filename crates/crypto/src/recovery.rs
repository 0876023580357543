//! Disaster recovery: the master key split into k-of-n Shamir shares, each encrypted to a
//! custodian with HPKE (issue 6, item 5).
//!
//! Groundwork: nothing calls this yet. At genesis Custos will call [`split_master_key`]
//! and hand each custodian their [`ShareBundle`] and everyone the [`RecoveryHeader`]; a
//! recovery ceremony will have custodians open their shares ([`open_share`], with their
//! X25519 secret, on their own machine or inside Custos), then [`recover`] the master key
//! inside Custos and seal it to a new TPM. The master key and the share values are never
//! written anywhere in plaintext: shares leave this module only HPKE-encrypted.
//!
//! # Scheme
//!
//! * The 32-byte master key is split with [`crate::shamir`] (GF(2^8), share index `i` in
//!   `1..=n` is the x-coordinate; custodian `i` is `custodians[i - 1]`).
//! * Share `i` is sealed with HPKE base mode to custodian `i`'s X25519 public key, with the
//!   suite of [`crate::export`] (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM),
//!   so it can be opened with the primitives the export module documents:
//!
//!   ```text
//!   info (43 bytes) = "custos/v1/recovery-share" (24 ASCII bytes, SHARE_PURPOSE)
//!                     || genesis id [16] || k [1] || n [1] || share index [1]
//!   aad             = the header's bytes (below, including the check) || share index [1]
//!   pt   (32 bytes) = the share value
//!   ct   (48 bytes) = AES-128-GCM ciphertext || 16-byte tag
//!   ```
//!
//!   `info` makes the key schedule specific to this kit and this share; the AAD binds the
//!   whole header (every custodian key and the check), so a share opens only under the
//!   exact header it was made with.
//! * The header carries a commitment to the master key: `check = HMAC-SHA256(key = the
//!   master key's [`KeyPurpose::RecoveryCheck`] subkey (HKDF-SHA256, salt
//!   "custos/kdf/v1", info "custos/v1/recovery-check", as every subkey), data = the
//!   header's bytes before the check)`. Shares below the threshold (or a forged
//!   share) interpolate to a wrong key that nothing else could tell from the right one;
//!   [`recover`] refuses any key whose check differs ([`RecoveryError::CheckFailed`]). The
//!   check reveals nothing usable about the master key (an HMAC under a key derived from
//!   it).
//!
//! # Wire forms (version 1, all integers single bytes)
//!
//! ```text
//! header  = "CRKH" || version (1) || genesis id [16] || k || n
//!           || n custodian X25519 public keys [32 each] || check [32]
//!           (55 + 32 n bytes)
//! share   = "CRKS" || version (1) || genesis id [16] || share index
//!           || enc [32] (RFC 9180 encapsulated key) || ct [48]
//!           (102 bytes)
//! ```
//!
//! Parsing refuses a wrong magic, an unknown version, a wrong length, a threshold outside
//! `2 <= k <= n`, an invalid or repeated custodian key, and a share index of 0.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::export::{self, RecipientKey, RecipientKeyError};
use crate::keys::{KeyPurpose, MasterKey, KEY_LEN};
use crate::shamir::{self, ShamirError, Share};

/// A custodian's X25519 public key, validated as an export recipient key is (canonical,
/// not of small order).
pub type CustodianKey = RecipientKey;

/// The purpose string at the start of each share's HPKE `info`.
pub const SHARE_PURPOSE: &[u8; 24] = b"custos/v1/recovery-share";
/// Version of the header and share wire forms.
pub const FORMAT_VERSION: u8 = 1;
/// Magic at the start of a header.
pub const HEADER_MAGIC: &[u8; 4] = b"CRKH";
/// Magic at the start of a share bundle.
pub const SHARE_MAGIC: &[u8; 4] = b"CRKS";
/// Length of the random genesis id naming a kit.
pub const GENESIS_ID_LEN: usize = 16;
/// Length of a share's HPKE `info`.
pub const SHARE_INFO_LEN: usize = 24 + GENESIS_ID_LEN + 3;
/// Length of a share's ciphertext (32-byte share value and 16-byte tag).
pub const SHARE_CIPHERTEXT_LEN: usize = shamir::SECRET_LEN + 16;
/// Length of a share bundle's wire form.
pub const SHARE_BUNDLE_LEN: usize = 4 + 1 + GENESIS_ID_LEN + 1 + 32 + SHARE_CIPHERTEXT_LEN;
/// Length of the check.
pub const CHECK_LEN: usize = 32;
/// Length of the header before the custodian keys.
const HEADER_FIXED_LEN: usize = 4 + 1 + GENESIS_ID_LEN + 2;

/// Why a kit could not be made, a share opened, or the key recovered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryError {
    /// Splitting or combining refused (threshold, too few shares, duplicate shares).
    #[error(transparent)]
    Shamir(#[from] ShamirError),
    /// More than 255 custodians (share indices are single bytes).
    #[error("{got} custodians, at most 255")]
    TooManyCustodians {
        /// Custodians given.
        got: usize,
    },
    /// The same custodian key twice: one custodian would hold two shares.
    #[error("custodian {index} repeats an earlier custodian's key")]
    DuplicateCustodian {
        /// 1-based index of the repeat.
        index: u8,
    },
    /// The OS random number generator failed; nothing was produced.
    #[error("random number generator failed")]
    Random,
    /// HPKE refused to seal a share.
    #[error("HPKE encryption of a share failed")]
    Seal,
    /// A share (or opened share) belongs to another kit (other genesis id).
    #[error("the share belongs to another recovery kit")]
    WrongKit,
    /// A share index outside `1..=n`.
    #[error("share index {index} outside 1..={n}")]
    IndexOutOfRange {
        /// The index.
        index: u8,
        /// The kit's share count.
        n: u8,
    },
    /// The custodian secret given is not the key this share was encrypted to.
    #[error("share {index} is for another custodian")]
    NotThisCustodian {
        /// The share's index.
        index: u8,
    },
    /// HPKE refused to open the share: it or the header was altered.
    #[error("share {index} does not open: it or the header was tampered with")]
    Open {
        /// The share's index.
        index: u8,
    },
    /// The shares rebuild a key that does not match the kit's check: a share is wrong, or
    /// the header's threshold was altered.
    #[error("the shares do not rebuild the master key of this kit")]
    CheckFailed,
}

/// Why a header or share bundle could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KitFormatError {
    /// Wrong magic: not a header (or not a share).
    #[error("not a recovery {0}")]
    Magic(&'static str),
    /// A version this code does not know.
    #[error("unknown recovery format version {got}")]
    Version {
        /// The version byte.
        got: u8,
    },
    /// Wrong length for the form (and, for a header, its `n`).
    #[error("recovery {what} must be {expected} bytes, got {got}")]
    Length {
        /// "header" or "share".
        what: &'static str,
        /// Bytes expected.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// Not `2 <= k <= n`.
    #[error("invalid threshold {k}-of-{n}")]
    Threshold {
        /// The threshold.
        k: u8,
        /// The share count.
        n: u8,
    },
    /// An invalid custodian key.
    #[error("custodian {index}: {error}")]
    Custodian {
        /// 1-based index.
        index: u8,
        /// What is wrong with it.
        error: RecipientKeyError,
    },
    /// A repeated custodian key.
    #[error("custodian {index} repeats an earlier custodian's key")]
    DuplicateCustodian {
        /// 1-based index of the repeat.
        index: u8,
    },
    /// Share index 0 (indices start at 1).
    #[error("share index 0")]
    ZeroIndex,
}

/// The public part of a kit: which custodians, the threshold, and the check. Not secret;
/// every custodian and the ceremony keep a copy.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryHeader {
    genesis_id: [u8; GENESIS_ID_LEN],
    k: u8,
    custodians: Vec<CustodianKey>,
    check: [u8; CHECK_LEN],
}

impl RecoveryHeader {
    /// The random id naming this kit (and the genesis that made it).
    pub fn genesis_id(&self) -> &[u8; GENESIS_ID_LEN] {
        &self.genesis_id
    }

    /// The threshold `k`.
    pub fn threshold(&self) -> u8 {
        self.k
    }

    /// The share count `n`.
    pub fn share_count(&self) -> u8 {
        // At most 255 by construction and parsing.
        self.custodians.len() as u8
    }

    /// The custodians' keys; share `i` is for `custodians()[i - 1]`.
    pub fn custodians(&self) -> &[CustodianKey] {
        &self.custodians
    }

    /// HPKE `info` of share `index`: purpose, genesis id, k, n, index.
    pub fn share_info(&self, index: u8) -> [u8; SHARE_INFO_LEN] {
        let mut info = [0u8; SHARE_INFO_LEN];
        info[..24].copy_from_slice(SHARE_PURPOSE);
        info[24..40].copy_from_slice(&self.genesis_id);
        info[40] = self.k;
        info[41] = self.share_count();
        info[42] = index;
        info
    }

    /// HPKE AAD of share `index`: the header's bytes, then the index.
    pub fn share_aad(&self, index: u8) -> Vec<u8> {
        let mut aad = self.to_bytes();
        aad.push(index);
        aad
    }

    /// Everything before the check: what the check authenticates.
    fn body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER_FIXED_LEN + 32 * self.custodians.len());
        b.extend_from_slice(HEADER_MAGIC);
        b.push(FORMAT_VERSION);
        b.extend_from_slice(&self.genesis_id);
        b.push(self.k);
        b.push(self.share_count());
        for c in &self.custodians {
            b.extend_from_slice(c.as_bytes());
        }
        b
    }

    /// The wire form (module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = self.body();
        b.extend_from_slice(&self.check);
        b
    }

    /// Parses and validates the wire form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KitFormatError> {
        if bytes.len() < HEADER_FIXED_LEN {
            return Err(KitFormatError::Length {
                what: "header",
                expected: HEADER_FIXED_LEN + 3 * 32,
                got: bytes.len(),
            });
        }
        if &bytes[..4] != HEADER_MAGIC {
            return Err(KitFormatError::Magic("header"));
        }
        if bytes[4] != FORMAT_VERSION {
            return Err(KitFormatError::Version { got: bytes[4] });
        }
        let (k, n) = (bytes[21], bytes[22]);
        if k < shamir::MIN_THRESHOLD || k > n {
            return Err(KitFormatError::Threshold { k, n });
        }
        let expected = HEADER_FIXED_LEN + 32 * usize::from(n) + CHECK_LEN;
        if bytes.len() != expected {
            return Err(KitFormatError::Length {
                what: "header",
                expected,
                got: bytes.len(),
            });
        }
        let mut custodians: Vec<CustodianKey> = Vec::with_capacity(usize::from(n));
        for (i, raw) in bytes[HEADER_FIXED_LEN..expected - CHECK_LEN]
            .chunks_exact(32)
            .enumerate()
        {
            let index = (i + 1) as u8;
            let key = RecipientKey::from_bytes(raw)
                .map_err(|error| KitFormatError::Custodian { index, error })?;
            if custodians.contains(&key) {
                return Err(KitFormatError::DuplicateCustodian { index });
            }
            custodians.push(key);
        }
        Ok(RecoveryHeader {
            genesis_id: bytes[5..21].try_into().expect("16 bytes"),
            k,
            custodians,
            check: bytes[expected - CHECK_LEN..].try_into().expect("32 bytes"),
        })
    }
}

impl std::fmt::Debug for RecoveryHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Public data, but the check is noise in logs.
        f.debug_struct("RecoveryHeader")
            .field("genesis_id", &hex16(&self.genesis_id))
            .field("k", &self.k)
            .field("n", &self.share_count())
            .field("custodians", &self.custodians)
            .finish_non_exhaustive()
    }
}

fn hex16(b: &[u8; GENESIS_ID_LEN]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One share, HPKE-encrypted to its custodian. Not secret without the custodian's key.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareBundle {
    genesis_id: [u8; GENESIS_ID_LEN],
    index: u8,
    /// The ephemeral X25519 public key (RFC 9180 `enc`).
    pub enc: [u8; 32],
    /// AES-128-GCM ciphertext and tag.
    pub ciphertext: [u8; SHARE_CIPHERTEXT_LEN],
}

impl ShareBundle {
    /// The kit this share belongs to.
    pub fn genesis_id(&self) -> &[u8; GENESIS_ID_LEN] {
        &self.genesis_id
    }

    /// The share index (1-based; the custodian is `custodians()[index - 1]`).
    pub fn index(&self) -> u8 {
        self.index
    }

    /// The wire form (module docs).
    pub fn to_bytes(&self) -> [u8; SHARE_BUNDLE_LEN] {
        let mut b = [0u8; SHARE_BUNDLE_LEN];
        b[..4].copy_from_slice(SHARE_MAGIC);
        b[4] = FORMAT_VERSION;
        b[5..21].copy_from_slice(&self.genesis_id);
        b[21] = self.index;
        b[22..54].copy_from_slice(&self.enc);
        b[54..].copy_from_slice(&self.ciphertext);
        b
    }

    /// Parses the wire form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KitFormatError> {
        if bytes.len() != SHARE_BUNDLE_LEN {
            return Err(KitFormatError::Length {
                what: "share",
                expected: SHARE_BUNDLE_LEN,
                got: bytes.len(),
            });
        }
        if &bytes[..4] != SHARE_MAGIC {
            return Err(KitFormatError::Magic("share"));
        }
        if bytes[4] != FORMAT_VERSION {
            return Err(KitFormatError::Version { got: bytes[4] });
        }
        if bytes[21] == 0 {
            return Err(KitFormatError::ZeroIndex);
        }
        Ok(ShareBundle {
            genesis_id: bytes[5..21].try_into().expect("16 bytes"),
            index: bytes[21],
            enc: bytes[22..54].try_into().expect("32 bytes"),
            ciphertext: bytes[54..].try_into().expect("48 bytes"),
        })
    }
}

impl std::fmt::Debug for ShareBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareBundle")
            .field("genesis_id", &hex16(&self.genesis_id))
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// What genesis hands out: the header, and share `i` for custodian `i` (`shares[i - 1]`).
#[derive(Debug, Clone)]
pub struct RecoveryKit {
    /// The public header.
    pub header: RecoveryHeader,
    /// One encrypted share per custodian, in custodian order.
    pub shares: Vec<ShareBundle>,
}

/// A custodian's X25519 secret key.
///
/// Secret: zeroized on drop, not printable.
pub struct CustodianSecret(Zeroizing<[u8; 32]>);

impl CustodianSecret {
    /// Wraps the raw X25519 secret (the RFC 7748 scalar bytes).
    pub fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        CustodianSecret(bytes)
    }

    /// The matching public key.
    pub fn public_key(&self) -> [u8; 32] {
        x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*self.0)).to_bytes()
    }
}

/// A decrypted share, ready for [`recover`]. Its [`Share`] is secret (zeroized on drop, no
/// `Debug`): `Debug` here shows the kit and the index only.
#[derive(Clone)]
pub struct OpenedShare {
    genesis_id: [u8; GENESIS_ID_LEN],
    share: Share,
}

impl OpenedShare {
    /// The share index.
    pub fn index(&self) -> u8 {
        self.share.x()
    }

    /// The kit it belongs to.
    pub fn genesis_id(&self) -> &[u8; GENESIS_ID_LEN] {
        &self.genesis_id
    }
}

impl std::fmt::Debug for OpenedShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedShare")
            .field("genesis_id", &hex16(&self.genesis_id))
            .field("index", &self.index())
            .field("share", &"<redacted>")
            .finish()
    }
}

/// Splits the master key into `k`-of-`custodians.len()` shares under a fresh genesis id and
/// encrypts share `i` to `custodians[i - 1]`.
pub fn split_master_key(
    master: &MasterKey,
    k: u8,
    custodians: &[CustodianKey],
) -> Result<RecoveryKit, RecoveryError> {
    let n = u8::try_from(custodians.len()).map_err(|_| RecoveryError::TooManyCustodians {
        got: custodians.len(),
    })?;
    if k < shamir::MIN_THRESHOLD || k > n {
        return Err(ShamirError::Threshold { k, n }.into());
    }
    for (i, c) in custodians.iter().enumerate() {
        if custodians[..i].contains(c) {
            return Err(RecoveryError::DuplicateCustodian {
                index: (i + 1) as u8,
            });
        }
    }
    let mut genesis_id = [0u8; GENESIS_ID_LEN];
    crate::os_random(&mut genesis_id).map_err(|_| RecoveryError::Random)?;
    let mut header = RecoveryHeader {
        genesis_id,
        k,
        custodians: custodians.to_vec(),
        check: [0; CHECK_LEN],
    };
    header.check = check(master, &header);

    let shares = shamir::split(master.bytes(), k, n)?;
    let bundles = shares
        .iter()
        .zip(custodians)
        .map(|(share, custodian)| {
            let index = share.x();
            let (enc, ct) = export::seal_base(
                custodian,
                &header.share_info(index),
                &header.share_aad(index),
                share.y(),
            )
            .map_err(|e| match e {
                export::ExportError::Random => RecoveryError::Random,
                _ => RecoveryError::Seal,
            })?;
            Ok(ShareBundle {
                genesis_id,
                index,
                enc,
                ciphertext: ct.try_into().map_err(|_| RecoveryError::Seal)?,
            })
        })
        .collect::<Result<Vec<_>, RecoveryError>>()?;
    Ok(RecoveryKit {
        header,
        shares: bundles,
    })
}

/// Decrypts one share with its custodian's secret key, under the header the ceremony
/// expects (never one that came with the share).
pub fn open_share(
    secret: &CustodianSecret,
    bundle: &ShareBundle,
    header: &RecoveryHeader,
) -> Result<OpenedShare, RecoveryError> {
    if bundle.genesis_id != header.genesis_id {
        return Err(RecoveryError::WrongKit);
    }
    let index = bundle.index;
    let n = header.share_count();
    if index == 0 || index > n {
        return Err(RecoveryError::IndexOutOfRange { index, n });
    }
    if secret.public_key() != *header.custodians[usize::from(index) - 1].as_bytes() {
        return Err(RecoveryError::NotThisCustodian { index });
    }
    let pt = export::open_raw(
        &secret.0,
        &bundle.enc,
        &header.share_info(index),
        &header.share_aad(index),
        &bundle.ciphertext,
    )
    .map_err(|_| RecoveryError::Open { index })?;
    let share = Share::from_parts(index, &pt).map_err(|_| RecoveryError::Open { index })?;
    Ok(OpenedShare {
        genesis_id: header.genesis_id,
        share,
    })
}

/// Rebuilds the master key from at least `k` opened shares of this kit and checks it
/// against the header's commitment.
pub fn recover(
    header: &RecoveryHeader,
    shares: &[OpenedShare],
) -> Result<MasterKey, RecoveryError> {
    let n = header.share_count();
    for s in shares {
        if s.genesis_id != header.genesis_id {
            return Err(RecoveryError::WrongKit);
        }
        if s.index() > n {
            return Err(RecoveryError::IndexOutOfRange {
                index: s.index(),
                n,
            });
        }
    }
    let plain: Vec<Share> = shares.iter().map(|s| s.share.clone()).collect();
    let bytes: Zeroizing<[u8; KEY_LEN]> = shamir::combine(&plain, header.k)?;
    let master = MasterKey::from_bytes(bytes);
    if bool::from(check(&master, header).ct_eq(&header.check)) {
        Ok(master)
    } else {
        Err(RecoveryError::CheckFailed)
    }
}

/// `HMAC-SHA256(RecoveryCheck subkey, header body)`.
fn check(master: &MasterKey, header: &RecoveryHeader) -> [u8; CHECK_LEN] {
    let key = master.derive(KeyPurpose::RecoveryCheck);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.bytes()).expect("any key length");
    mac.update(&header.body());
    mac.finalize().into_bytes().into()
}
