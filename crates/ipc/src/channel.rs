//! The sealed channel between the signer and the pool, through the bridge.
//!
//! Both ends derive two keys, one per direction, from the secret the supervisor hands
//! to the signer and the pool only ([`ViewKey`]), with HKDF-SHA256 and distinct labels.
//! Each message is ChaCha20-Poly1305 with its counter as nonce and its direction as
//! associated data. A receiver opens each counter at most once, and only within
//! [`REPLAY_WINDOW`] of the highest it has opened (a sliding bitmap, as in IPsec): the
//! bridge relays on several tasks, so messages may arrive slightly out of order, but
//! the bridge can only drop or delay them (the flow then fails closed), never read,
//! forge, reflect or replay one.
//!
//! Used for confirmation messages and button tokens from the signer, and presses and
//! `/start` links from the pool ([`crate::telegram`]).

use crate::pool::ViewKey;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Which way a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the signer to the pool.
    SignerToPool,
    /// From the pool to the signer.
    PoolToSigner,
}

impl Direction {
    fn label(self) -> &'static [u8] {
        match self {
            Direction::SignerToPool => b"custos/v1/channel/signer-to-pool",
            Direction::PoolToSigner => b"custos/v1/channel/pool-to-signer",
        }
    }
}

/// A message as the bridge carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// Strictly increasing per direction; the nonce.
    pub counter: u64,
    /// Ciphertext and tag.
    pub ciphertext: Vec<u8>,
}

/// Why a sealed message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The counter was opened before, or is too far behind the newest one opened.
    #[error("message {counter} was already opened or is too old (newest opened: {last})")]
    Replayed {
        /// The message's counter.
        counter: u64,
        /// The highest counter opened.
        last: u64,
    },
    /// Authentication failed: altered, forged, or sealed for the other direction.
    #[error("message failed authentication")]
    Forged,
    /// The sending counter is exhausted (after 2^64 - 1 messages).
    #[error("channel counter exhausted")]
    Exhausted,
}

/// One end of the channel. Its two keys are wiped on drop and kept on the heap (moving the
/// end leaves no copy of them behind); `Debug` skips them.
pub struct ChannelEnd {
    send: Direction,
    send_key: Box<Zeroizing<[u8; 32]>>,
    recv_key: Box<Zeroizing<[u8; 32]>>,
    next_send: u64,
    last_received: Option<u64>,
    /// Bit `i` set: counter `last_received - i` was opened.
    seen: [u64; WINDOW_WORDS],
}

/// How far behind the newest opened counter a message may still arrive.
pub const REPLAY_WINDOW: u64 = 1024;
const WINDOW_WORDS: usize = (REPLAY_WINDOW / 64) as usize;

impl std::fmt::Debug for ChannelEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelEnd")
            .field("send", &self.send)
            .field("next_send", &self.next_send)
            .field("last_received", &self.last_received)
            .finish_non_exhaustive()
    }
}

fn derive(secret: &ViewKey, d: Direction) -> Box<Zeroizing<[u8; 32]>> {
    let hk = Hkdf::<Sha256>::new(Some(b"custos/v1/channel"), secret.secret());
    let mut key = Box::new(Zeroizing::new([0u8; 32]));
    hk.expand(d.label(), &mut key[..])
        .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA256 output length"));
    key
}

fn nonce(counter: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    Nonce::from(n)
}

impl ChannelEnd {
    /// The signer's end.
    pub fn signer(secret: &ViewKey) -> Self {
        Self::new(secret, Direction::SignerToPool, Direction::PoolToSigner)
    }

    /// The pool's end.
    pub fn pool(secret: &ViewKey) -> Self {
        Self::new(secret, Direction::PoolToSigner, Direction::SignerToPool)
    }

    fn new(secret: &ViewKey, send: Direction, recv: Direction) -> Self {
        Self {
            send,
            send_key: derive(secret, send),
            recv_key: derive(secret, recv),
            next_send: 0,
            last_received: None,
            seen: [0; WINDOW_WORDS],
        }
    }

    /// Seals `plaintext` for the other end.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Sealed, ChannelError> {
        let counter = self.next_send;
        self.next_send = counter.checked_add(1).ok_or(ChannelError::Exhausted)?;
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.send_key[..]));
        let ciphertext = cipher
            .encrypt(
                &nonce(counter),
                Payload {
                    msg: plaintext,
                    aad: self.send.label(),
                },
            )
            .map_err(|_| ChannelError::Forged)?;
        Ok(Sealed {
            counter,
            ciphertext,
        })
    }

    /// Opens a message from the other end; refuses replays, messages older than the
    /// window and forgeries, without changing state.
    pub fn open(&mut self, sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, ChannelError> {
        if let Some(last) = self.last_received {
            let replayed = ChannelError::Replayed {
                counter: sealed.counter,
                last,
            };
            if sealed.counter <= last {
                let behind = last - sealed.counter;
                if behind >= REPLAY_WINDOW || self.bit(behind) {
                    return Err(replayed);
                }
            }
        }
        let recv = match self.send {
            Direction::SignerToPool => Direction::PoolToSigner,
            Direction::PoolToSigner => Direction::SignerToPool,
        };
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.recv_key[..]));
        let plaintext = cipher
            .decrypt(
                &nonce(sealed.counter),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: recv.label(),
                },
            )
            .map_err(|_| ChannelError::Forged)?;
        self.mark(sealed.counter);
        Ok(Zeroizing::new(plaintext))
    }

    fn bit(&self, behind: u64) -> bool {
        let (w, b) = ((behind / 64) as usize, behind % 64);
        self.seen[w] >> b & 1 == 1
    }

    /// Records an authenticated counter, sliding the window when it is the newest.
    fn mark(&mut self, counter: u64) {
        match self.last_received {
            Some(last) if counter <= last => {
                let behind = last - counter;
                let (w, b) = ((behind / 64) as usize, behind % 64);
                self.seen[w] |= 1 << b;
            }
            previous => {
                let shift = previous.map_or(REPLAY_WINDOW, |last| counter - last);
                self.shift(shift);
                self.seen[0] |= 1;
                self.last_received = Some(counter);
            }
        }
    }

    /// Moves every recorded bit `by` places further behind.
    fn shift(&mut self, by: u64) {
        if by >= REPLAY_WINDOW {
            self.seen = [0; WINDOW_WORDS];
            return;
        }
        let (words, bits) = ((by / 64) as usize, (by % 64) as u32);
        for i in (0..WINDOW_WORDS).rev() {
            let hi = if i >= words { self.seen[i - words] } else { 0 };
            let lo = if bits > 0 && i > words {
                self.seen[i - words - 1] >> (64 - bits)
            } else {
                0
            };
            self.seen[i] = if bits > 0 { hi << bits | lo } else { hi };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (ChannelEnd, ChannelEnd) {
        let secret = ViewKey::new([4; 32]);
        (ChannelEnd::signer(&secret), ChannelEnd::pool(&secret))
    }

    #[test]
    fn messages_go_both_ways_in_order() {
        let (mut signer, mut pool) = pair();
        for i in 0..3u8 {
            let m = signer.seal(&[i; 5]).unwrap();
            assert_eq!(m.counter, u64::from(i));
            assert_eq!(pool.open(&m).unwrap().as_slice(), &[i; 5]);
            let back = pool.seal(b"press").unwrap();
            assert_eq!(signer.open(&back).unwrap().as_slice(), b"press");
        }
    }

    #[test]
    fn the_bridge_cannot_replay_reorder_reflect_or_forge() {
        let (mut signer, mut pool) = pair();
        let a = signer.seal(b"a").unwrap();
        let b = signer.seal(b"b").unwrap();
        // Dropping is possible (the flow fails closed), and so is slight reordering;
        // opening anything twice is not.
        assert_eq!(pool.open(&b).unwrap().as_slice(), b"b");
        assert_eq!(pool.open(&a).unwrap().as_slice(), b"a");
        assert!(matches!(pool.open(&a), Err(ChannelError::Replayed { .. })));
        assert!(matches!(pool.open(&b), Err(ChannelError::Replayed { .. })));
        // A signer message sent back to the signer does not open (other key and label).
        let c = signer.seal(b"c").unwrap();
        assert_eq!(signer.open(&c).unwrap_err(), ChannelError::Forged);
        // Any flipped byte or changed counter is a forgery, and changes nothing.
        let d = signer.seal(b"approve").unwrap();
        for i in 0..d.ciphertext.len() {
            let mut t = d.clone();
            t.ciphertext[i] ^= 1;
            assert_eq!(pool.open(&t).unwrap_err(), ChannelError::Forged);
        }
        let mut moved = d.clone();
        moved.counter += 1;
        assert_eq!(pool.open(&moved).unwrap_err(), ChannelError::Forged);
        assert_eq!(pool.open(&d).unwrap().as_slice(), b"approve");
        // Another secret (another start of the service) opens nothing.
        let mut stranger = ChannelEnd::pool(&ViewKey::new([5; 32]));
        let e = signer.seal(b"e").unwrap();
        assert_eq!(stranger.open(&e).unwrap_err(), ChannelError::Forged);
    }

    #[test]
    fn the_window_opens_each_counter_once_in_any_order() {
        let (mut signer, mut pool) = pair();
        let msgs: Vec<Sealed> = (0..3000).map(|_| signer.seal(b"m").unwrap()).collect();
        // Shuffle within blocks of 500 (well inside the window) with a fixed pattern.
        let mut order: Vec<usize> = (0..3000).collect();
        for block in order.chunks_mut(500) {
            block.reverse();
            block.swap(3, 250);
        }
        for &i in &order {
            assert!(pool.open(&msgs[i]).is_ok(), "message {i}");
        }
        for m in &msgs {
            assert!(matches!(pool.open(m), Err(ChannelError::Replayed { .. })));
        }
        // A message more than the window behind is refused even if never opened.
        let late = signer.seal(b"late").unwrap();
        let newer: Vec<Sealed> = (0..REPLAY_WINDOW + 1)
            .map(|_| signer.seal(b"n").unwrap())
            .collect();
        assert!(pool.open(newer.last().unwrap()).is_ok());
        assert!(matches!(
            pool.open(&late),
            Err(ChannelError::Replayed { .. })
        ));
        // One just inside the window still opens, once.
        assert!(pool.open(&newer[1]).is_ok());
        assert!(pool.open(&newer[1]).is_err());
    }

    #[test]
    fn debug_shows_no_key() {
        let (signer, _) = pair();
        let text = format!("{signer:?}");
        assert!(text.contains("next_send"));
        assert!(!text.contains("key"), "{text}");
    }
}
