//! Outstanding one-time `/start` links that bind a Telegram account to a user.
//!
//! A link's payload is 24 bytes from the OS CSPRNG, base64url without padding (32
//! characters, inside Telegram's deep-link alphabet `[A-Za-z0-9_-]{1,64}`). The store
//! keeps only a digest of it ([`custos_crypto::security::link_payload_digest`]) with the
//! user id and the expiry, so a memory dump does not reveal usable payloads. A user
//! has at most one outstanding link (a new one replaces the old); at most
//! [`LinkConfig::max_outstanding`] exist in all, the oldest evicted first. Each is
//! single use. Time is passed in, as in [`crate::confirm`].

use custos_crypto::security::link_payload_digest;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Random bytes in a link payload.
pub const PAYLOAD_BYTES: usize = 24;
/// Characters in a link payload.
pub const PAYLOAD_CHARS: usize = 32;

/// Lifetime and bound of outstanding links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkConfig {
    /// How long a link stays valid (default 1 hour).
    pub expiry: Duration,
    /// Most outstanding links, all users together (default 10,000).
    pub max_outstanding: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            expiry: Duration::from_secs(60 * 60),
            max_outstanding: 10_000,
        }
    }
}

/// Why a payload was not accepted. Names no payload, so it is safe to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a payload this store holds (mistyped, forged, used, replaced or evicted).
    #[error("the link is unknown, already used or replaced")]
    Unknown,
    /// It was issued but has expired.
    #[error("the link has expired")]
    Expired,
    /// The OS CSPRNG failed.
    #[error("random number generator failed")]
    Random,
}

struct Link {
    user_id: String,
    expires_at: Instant,
    seq: u64,
}

/// The outstanding links.
pub struct Links {
    config: LinkConfig,
    by_digest: HashMap<[u8; 32], Link>,
    by_user: HashMap<String, [u8; 32]>,
    /// Creation order (= expiry order): sequence number -> digest.
    order: BTreeMap<u64, [u8; 32]>,
    next_seq: u64,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links")
            .field("config", &self.config)
            .field("outstanding", &self.by_digest.len())
            .finish()
    }
}

impl Links {
    /// An empty store.
    pub fn new(config: LinkConfig) -> Self {
        Links {
            config,
            by_digest: HashMap::new(),
            by_user: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Links outstanding (including expired ones not yet dropped).
    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    /// Whether none is outstanding.
    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }

    /// Issues a link for `user_id` (replacing its earlier one) and returns the payload.
    pub fn create(&mut self, user_id: &str, now: Instant) -> Result<Zeroizing<String>, LinkError> {
        self.drop_expired(now);
        let mut raw = Zeroizing::new([0u8; PAYLOAD_BYTES]);
        custos_crypto::os_random(&mut raw[..]).map_err(|_| LinkError::Random)?;
        let payload = encode(&raw);
        let digest = link_payload_digest(payload.as_bytes());
        if let Some(old) = self.by_user.get(user_id).copied() {
            self.remove(&old);
        }
        while self.by_digest.len() >= self.config.max_outstanding.max(1) {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.remove(&oldest);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let expires_at = now.checked_add(self.config.expiry).unwrap_or(now);
        self.by_digest.insert(
            digest,
            Link {
                user_id: user_id.to_owned(),
                expires_at,
                seq,
            },
        );
        self.by_user.insert(user_id.to_owned(), digest);
        self.order.insert(seq, digest);
        Ok(payload)
    }

    /// Consumes a payload: the user it was issued for, if it is outstanding and
    /// unexpired. Either way a matching link is gone afterwards.
    pub fn take(&mut self, payload: &str, now: Instant) -> Result<String, LinkError> {
        if payload.len() != PAYLOAD_CHARS {
            return Err(LinkError::Unknown);
        }
        let digest = link_payload_digest(payload.as_bytes());
        let link = self.remove(&digest).ok_or(LinkError::Unknown)?;
        if now >= link.expires_at {
            return Err(LinkError::Expired);
        }
        Ok(link.user_id)
    }

    /// Drops expired links.
    pub fn drop_expired(&mut self, now: Instant) {
        while let Some((_, digest)) = self.order.first_key_value() {
            let digest = *digest;
            match self.by_digest.get(&digest) {
                Some(l) if now < l.expires_at => break,
                _ => {
                    self.remove(&digest);
                }
            }
        }
    }

    fn remove(&mut self, digest: &[u8; 32]) -> Option<Link> {
        let link = self.by_digest.remove(digest)?;
        self.order.remove(&link.seq);
        if self.by_user.get(&link.user_id) == Some(digest) {
            self.by_user.remove(&link.user_id);
        }
        Some(link)
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding of 24 bytes (exactly 32 characters).
fn encode(raw: &[u8; PAYLOAD_BYTES]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(PAYLOAD_CHARS));
    for c in raw.chunks_exact(3) {
        let n = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
        for shift in [18, 12, 6, 0] {
            out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_works_once_for_its_user() {
        let mut l = Links::new(LinkConfig::default());
        let now = Instant::now();
        let p = l.create("u1", now).unwrap();
        assert_eq!(p.len(), PAYLOAD_CHARS);
        assert!(p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(l.take(&p, now).unwrap(), "u1");
        assert_eq!(l.take(&p, now), Err(LinkError::Unknown));
        assert!(l.is_empty());
    }

    #[test]
    fn expiry_replacement_and_garbage() {
        let mut l = Links::new(LinkConfig {
            expiry: Duration::from_secs(10),
            max_outstanding: 10,
        });
        let t0 = Instant::now();
        let old = l.create("u1", t0).unwrap();
        let new = l.create("u1", t0).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(l.take(&old, t0), Err(LinkError::Unknown));
        assert_eq!(
            l.take(&new, t0 + Duration::from_secs(10)),
            Err(LinkError::Expired)
        );
        for junk in ["", "x", &"A".repeat(32), &"é".repeat(40)] {
            assert_eq!(l.take(junk, t0), Err(LinkError::Unknown));
        }
        let p = l.create("u2", t0).unwrap();
        l.drop_expired(t0 + Duration::from_secs(11));
        assert!(l.is_empty());
        assert_eq!(l.take(&p, t0), Err(LinkError::Unknown));
    }

    #[test]
    fn the_oldest_is_evicted_at_the_bound() {
        let mut l = Links::new(LinkConfig {
            expiry: Duration::from_secs(10),
            max_outstanding: 3,
        });
        let t = Instant::now();
        let ps: Vec<_> = (0..4)
            .map(|i| l.create(&format!("u{i}"), t).unwrap())
            .collect();
        assert_eq!(l.len(), 3);
        assert_eq!(l.take(&ps[0], t), Err(LinkError::Unknown));
        assert_eq!(l.take(&ps[3], t).unwrap(), "u3");
    }
}
