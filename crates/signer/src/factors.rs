//! A user's second factors, as kept (encrypted) in their security record.
//!
//! The signer serialises this into the record's encrypted section
//! ([`custos_crypto::security`]) and re-seals the record after every change, including
//! a failed code (the lock-out counter must survive a restart). The layout is fixed and
//! versioned:
//!
//! ```text
//! version u8 = 1
//! totp    u8 (0 | 1) [ TotpFactor::to_bytes, FACTOR_BYTES_LEN bytes ]
//! passkeys u8 n (<= MAX_PASSKEYS) n x [ len u16 LE | StoredPasskey::to_bytes ]
//! removal u8 (0 none | 1 TOTP | 2 passkeys) [ effective_at u64 LE | requested_at u64 LE ]
//! ```
//!
//! The per-user setting "second factor for every signature" lives in the record's clear
//! (authenticated) flags, so the signing hot path can read it without decrypting.

use crate::totp::{TotpFactor, FACTOR_BYTES_LEN};
use custos_passkey::StoredPasskey;
use zeroize::Zeroizing;

/// Most passkeys one user may register.
pub const MAX_PASSKEYS: usize = 8;
/// How long the removal of a user's last second factor waits, by default.
pub const DEFAULT_REMOVAL_DELAY_SECS: u64 = 24 * 3600;

const VERSION: u8 = 1;

/// Security record flag: the user has a second factor enrolled.
pub const FLAG_HAS_FACTOR: u32 = 1;
/// Security record flag: every signature needs Approve plus the second factor.
pub const FLAG_REQUIRE_FOR_ALL: u32 = 2;

/// Which factor a scheduled removal takes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalTarget {
    /// The authenticator app (TOTP).
    Totp,
    /// Every passkey.
    Passkeys,
}

/// The removal of a user's last second factor, waiting out its delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removal {
    /// What goes.
    pub target: RemovalTarget,
    /// When it takes effect (Unix seconds).
    pub effective_at: u64,
    /// When it was asked for (Unix seconds).
    pub requested_at: u64,
}

/// A user's second factors.
#[derive(Default)]
pub struct Factors {
    /// The TOTP factor, if enrolled.
    pub totp: Option<TotpFactor>,
    /// Registered passkeys.
    pub passkeys: Vec<StoredPasskey>,
    /// A scheduled removal of the last factor.
    pub removal: Option<Removal>,
}

impl std::fmt::Debug for Factors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Factors")
            .field("totp", &self.totp.is_some())
            .field("passkeys", &self.passkeys.len())
            .field("removal", &self.removal)
            .finish()
    }
}

/// Why the factor section could not be read. It was authenticated, so this means a bug
/// or a version mismatch, never an attacker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactorsError {
    /// Shorter than its fields say.
    #[error("second-factor state is truncated")]
    Truncated,
    /// A version this build does not know.
    #[error("second-factor state version {0} is not supported")]
    Version(u8),
    /// A field has a value outside its range.
    #[error("second-factor state is malformed: {0}")]
    Malformed(&'static str),
}

impl Factors {
    /// Whether any second factor is enrolled.
    pub fn any(&self) -> bool {
        self.totp.is_some() || !self.passkeys.is_empty()
    }

    /// Drops a scheduled removal of `target` (that kind of factor was just added again,
    /// or has just been removed).
    pub fn unschedule(&mut self, target: RemovalTarget) {
        if self.removal.is_some_and(|r| r.target == target) {
            self.removal = None;
        }
    }

    /// The record flags these factors imply, keeping `require_for_all` from `flags`
    /// (only while a factor exists).
    pub fn flags(&self, flags: u32) -> u32 {
        if self.any() {
            FLAG_HAS_FACTOR | (flags & FLAG_REQUIRE_FOR_ALL)
        } else {
            0
        }
    }

    /// Serialises for the encrypted section, into a buffer sized exactly up front: one
    /// that grew after the TOTP secret was written would free an unwiped copy of it.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        // The passkeys are public: encode them first to know the total length.
        let passkeys: Vec<Vec<u8>> = self.passkeys.iter().map(|p| p.to_bytes()).collect();
        let len = 1
            + 1
            + self.totp.as_ref().map_or(0, |_| FACTOR_BYTES_LEN)
            + 1
            + passkeys.iter().map(|b| 2 + b.len()).sum::<usize>()
            + 1
            + self.removal.map_or(0, |_| 16);
        let mut out = Zeroizing::new(Vec::with_capacity(len));
        out.push(VERSION);
        match &self.totp {
            Some(t) => {
                out.push(1);
                out.extend_from_slice(&t.to_bytes());
            }
            None => out.push(0),
        }
        out.push(self.passkeys.len() as u8);
        for b in &passkeys {
            out.extend_from_slice(&(b.len() as u16).to_le_bytes());
            out.extend_from_slice(b);
        }
        match self.removal {
            None => out.push(0),
            Some(r) => {
                out.push(match r.target {
                    RemovalTarget::Totp => 1,
                    RemovalTarget::Passkeys => 2,
                });
                out.extend_from_slice(&r.effective_at.to_le_bytes());
                out.extend_from_slice(&r.requested_at.to_le_bytes());
            }
        }
        debug_assert_eq!(out.len(), len, "the capacity is exact");
        out
    }

    /// Reads [`Factors::to_bytes`]; `None` (a record without the section) is no factor.
    pub fn from_bytes(bytes: Option<&[u8]>) -> Result<Self, FactorsError> {
        let Some(bytes) = bytes else {
            return Ok(Factors::default());
        };
        let mut r = Reader(bytes);
        let v = r.u8()?;
        if v != VERSION {
            return Err(FactorsError::Version(v));
        }
        let totp = match r.u8()? {
            0 => None,
            1 => Some(
                TotpFactor::from_bytes(r.take(FACTOR_BYTES_LEN)?)
                    .map_err(|_| FactorsError::Malformed("TOTP factor"))?,
            ),
            _ => return Err(FactorsError::Malformed("TOTP presence")),
        };
        let n = usize::from(r.u8()?);
        if n > MAX_PASSKEYS {
            return Err(FactorsError::Malformed("too many passkeys"));
        }
        let mut passkeys = Vec::with_capacity(n);
        for _ in 0..n {
            let len = usize::from(u16::from_le_bytes(r.array::<2>()?));
            passkeys.push(
                StoredPasskey::from_bytes(r.take(len)?)
                    .map_err(|_| FactorsError::Malformed("passkey"))?,
            );
        }
        let removal = match r.u8()? {
            0 => None,
            t @ (1 | 2) => Some(Removal {
                target: if t == 1 {
                    RemovalTarget::Totp
                } else {
                    RemovalTarget::Passkeys
                },
                effective_at: u64::from_le_bytes(r.array::<8>()?),
                requested_at: u64::from_le_bytes(r.array::<8>()?),
            }),
            _ => return Err(FactorsError::Malformed("removal")),
        };
        if !r.0.is_empty() {
            return Err(FactorsError::Malformed("trailing bytes"));
        }
        Ok(Factors {
            totp,
            passkeys,
            removal,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FactorsError> {
        if self.0.len() < n {
            return Err(FactorsError::Truncated);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, FactorsError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FactorsError> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::totp::Enrolment;

    fn totp() -> TotpFactor {
        let (mut pending, offer) = Enrolment::begin("alice", "Custos").unwrap();
        let secret = data_encoding::BASE32_NOPAD
            .decode(offer.secret_base32().as_bytes())
            .unwrap();
        let now = 1_800_000_000;
        let code = crate::totp::code_at(&secret, now / crate::totp::PERIOD);
        pending.confirm(&code, now).unwrap()
    }

    #[test]
    fn empty_and_absent_mean_no_factor() {
        let f = Factors::from_bytes(None).unwrap();
        assert!(!f.any());
        assert_eq!(f.flags(FLAG_REQUIRE_FOR_ALL), 0);
        let back = Factors::from_bytes(Some(&f.to_bytes())).unwrap();
        assert!(!back.any());
    }

    #[test]
    fn totp_and_removal_round_trip_and_malformed_input_is_refused() {
        let f = Factors {
            totp: Some(totp()),
            passkeys: Vec::new(),
            removal: Some(Removal {
                target: RemovalTarget::Totp,
                effective_at: 10,
                requested_at: 5,
            }),
        };
        assert_eq!(f.flags(FLAG_REQUIRE_FOR_ALL), 3);
        let bytes = f.to_bytes();
        // Written into its first allocation, never regrown (the TOTP secret is in it).
        assert_eq!(bytes.capacity(), bytes.len());
        let back = Factors::from_bytes(Some(&bytes)).unwrap();
        assert_eq!(
            back.totp.as_ref().unwrap().to_bytes(),
            f.totp.as_ref().unwrap().to_bytes()
        );
        assert_eq!(back.removal, f.removal);
        assert_eq!(
            Factors::from_bytes(Some(&bytes[..bytes.len() - 1])).unwrap_err(),
            FactorsError::Truncated
        );
        let mut more = bytes.to_vec();
        more.push(0);
        assert!(Factors::from_bytes(Some(&more)).is_err());
        let mut v = bytes.to_vec();
        v[0] = 9;
        assert_eq!(
            Factors::from_bytes(Some(&v)).unwrap_err(),
            FactorsError::Version(9)
        );
        assert!(!format!("{back:?}").contains("secret"));
    }
}
