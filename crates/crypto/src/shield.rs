//! The key shield: a secret kept in memory only as a mask over many pages of random data,
//! which must all be read, in a secret order, to recover it.
//!
//! ```text
//! pages   P[0..16]       16 locked pages of 4 KiB from the OS RNG, each its own mapping
//! index   order σ        a secret permutation of the 16 pages
//!         windows w[i]   a secret 16-byte window in each page (one of 256)
//!         masked M       secret XOR pad
//! pad   = ChaCha20(key = SHA-256("custos/shield/v1" ‖ W(σ(0)) ‖ W(σ(1)) ‖ … ‖ W(σ(15))))
//! ```
//!
//! `W(p)` is the window of page `p`. The pad needs every page's window, hashed in the walk's
//! order: a reader missing any one page (128 unknown bits), or holding all of them but
//! hashing them in another order, computes an unrelated key, and `M` is then a one-time pad
//! over the secret. Without the index, the pages alone leave 16! × 256^16 (about 2^172)
//! walks to try. The secret exists whole only inside [`Shield::with`], in a buffer that is
//! wiped before it returns; [`Shield::rerandomized`] makes fresh pages, walk and
//! mask, so pages leaked at different times do not combine.
//!
//! What this defeats: a memory disclosure that yields some pages (a leaked heap page, a
//! partial or filtered core dump, a read of part of `/proc/PID/mem`), and scanners looking
//! for key bytes in any encoding. It does not stop a reader who takes the whole address
//! space at one instant and knows this layout: only isolation does (see `custos-sys`).
//! The pages are also locked (never swapped), left out of core dumps and wiped in a fork.

use crate::os_random;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use custos_sys::memory::{LockedPage, MemoryError, PAGE};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// Pages the walk crosses.
pub const PAGES: usize = 16;
/// Bytes read from each page.
pub const WINDOW: usize = 16;
/// Windows to choose from in one page.
const WINDOWS_PER_PAGE: usize = PAGE / WINDOW;
/// Domain separation of the walk's hash.
const DOMAIN: &[u8] = b"custos/shield/v1";
/// Where the index page keeps the walk's order, window numbers and the mask.
const ORDER_AT: usize = 0;
const WINDOWS_AT: usize = ORDER_AT + PAGES;
const MASK_AT: usize = WINDOWS_AT + PAGES;
/// Longest secret a shield holds.
pub const MAX_SECRET: usize = PAGE - MASK_AT;

// A window number is one byte of the index page, and every byte names a window.
const _: () = assert!(WINDOWS_PER_PAGE == 256 && WINDOWS_PER_PAGE * WINDOW == PAGE);

/// Why a shield could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ShieldError {
    /// Its pages could not be mapped, advised or locked.
    #[error("key shield: {0}")]
    Memory(#[from] MemoryError),
    /// The OS random number generator failed.
    #[error("key shield: {0}")]
    Random(#[from] crate::RandomError),
}

/// A secret of `N` bytes held as a mask over [`PAGES`] random pages (see the module docs).
pub struct Shield<const N: usize> {
    /// The random pages, in the order they were mapped (not the walk's order).
    pages: Vec<LockedPage>,
    /// The walk (order, windows) and the masked secret.
    index: LockedPage,
}

impl<const N: usize> Shield<N> {
    /// Shields `secret` over fresh pages with a fresh walk.
    pub fn new(secret: &[u8; N]) -> Result<Self, ShieldError> {
        const { assert!(N <= MAX_SECRET, "secret too long for one index page") };
        let mut pages = Vec::with_capacity(PAGES);
        for _ in 0..PAGES {
            let mut page = LockedPage::new()?;
            os_random(page.bytes_mut())?;
            pages.push(page);
        }
        let mut index = LockedPage::new()?;
        let idx = index.bytes_mut();
        random_permutation(&mut idx[ORDER_AT..ORDER_AT + PAGES])?;
        // 256 windows per page: a random byte names one uniformly.
        os_random(&mut idx[WINDOWS_AT..WINDOWS_AT + PAGES])?;
        idx[MASK_AT..MASK_AT + N].copy_from_slice(secret);
        let mut shield = Self { pages, index };
        shield.apply_pad_to_mask();
        Ok(shield)
    }

    /// Runs `f` with the secret, rebuilt for this call only and wiped when `f` returns.
    pub fn with<R>(&self, f: impl FnOnce(&[u8; N]) -> R) -> R {
        let mut secret = Zeroizing::new([0u8; N]);
        secret.copy_from_slice(&self.index.bytes()[MASK_AT..MASK_AT + N]);
        self.apply_pad(&mut secret);
        f(&secret)
    }

    /// A new shield of the same secret: fresh pages, walk and mask. Built beside this one,
    /// so a caller can swap it in and drop the old one (whose pages are then zeroed and
    /// unmapped) without making readers wait for the build.
    pub fn rerandomized(&self) -> Result<Self, ShieldError> {
        self.with(Self::new)
    }

    /// XORs the walk's pad into the masked secret in the index page (masks it once, at
    /// construction).
    fn apply_pad_to_mask(&mut self) {
        let mut buf = Zeroizing::new([0u8; N]);
        buf.copy_from_slice(&self.index.bytes()[MASK_AT..MASK_AT + N]);
        self.apply_pad(&mut buf);
        self.index.bytes_mut()[MASK_AT..MASK_AT + N].copy_from_slice(&buf[..]);
    }

    /// XORs the pad of the current walk into `buf`.
    fn apply_pad(&self, buf: &mut [u8; N]) {
        let idx = self.index.bytes();
        let mut walk = Sha256::new();
        walk.update(DOMAIN);
        for step in 0..PAGES {
            let page = self.pages[usize::from(idx[ORDER_AT + step])].bytes();
            let at = usize::from(idx[WINDOWS_AT + step]) * WINDOW;
            walk.update(&page[at..at + WINDOW]);
        }
        let mut key = Zeroizing::new([0u8; 32]);
        walk.finalize_into((&mut *key).into());
        let mut pad = chacha20::ChaCha20::new((&*key).into(), &[0u8; 12].into());
        pad.apply_keystream(buf);
        // The cipher's state holds the key; chacha20 wipes it on drop (its "zeroize" feature),
        // and the hash state is overwritten by the caller's stack scrubbing.
        drop(pad);
    }
}

impl<const N: usize> Drop for Shield<N> {
    fn drop(&mut self) {
        // The pages zero themselves; say so for the index too, before its mapping goes.
        self.index.bytes_mut().zeroize();
    }
}

/// Fills `out` with a uniformly random permutation of `0..out.len()` (Fisher-Yates with
/// rejection sampling, so no order is likelier than another).
fn random_permutation(out: &mut [u8]) -> Result<(), crate::RandomError> {
    for (i, v) in out.iter_mut().enumerate() {
        *v = i as u8;
    }
    for i in (1..out.len()).rev() {
        let bound = (i + 1) as u16;
        // Bytes at or above the largest multiple of `bound` are redrawn.
        let zone = 256 - 256 % bound;
        let j = loop {
            let mut b = [0u8; 1];
            os_random(&mut b)?;
            if u16::from(b[0]) < zone {
                break usize::from(u16::from(b[0]) % bound);
            }
        };
        out.swap(i, j);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 48] = *b"a secret of forty-eight bytes, for the shield!!!";

    fn index(s: &Shield<48>) -> &[u8; PAGE] {
        s.index.bytes()
    }

    /// The pad as a reader computes it from the pages it has, in the order it guesses.
    fn pad_from(pages: &[&[u8; PAGE]], order: &[usize], windows: &[u8]) -> [u8; 48] {
        let mut walk = Sha256::new();
        walk.update(DOMAIN);
        for (step, &p) in order.iter().enumerate() {
            let at = usize::from(windows[step]) * WINDOW;
            walk.update(&pages[p][at..at + WINDOW]);
        }
        let key: [u8; 32] = walk.finalize().into();
        let mut out = [0u8; 48];
        chacha20::ChaCha20::new(&key.into(), &[0u8; 12].into()).apply_keystream(&mut out);
        out
    }

    fn unmask(s: &Shield<48>, pad: &[u8; 48]) -> [u8; 48] {
        let mut out = [0u8; 48];
        for (i, o) in out.iter_mut().enumerate() {
            *o = index(s)[MASK_AT + i] ^ pad[i];
        }
        out
    }

    #[test]
    fn the_secret_comes_back_and_is_nowhere_in_the_pages_or_index() {
        let s = Shield::new(&SECRET).unwrap();
        assert_eq!(s.with(|k| *k), SECRET);
        for page in s.pages.iter().map(|p| p.bytes()).chain([index(&s)]) {
            assert!(!page.windows(8).any(|w| SECRET.windows(8).any(|x| x == w)));
        }
    }

    #[test]
    fn the_right_walk_recovers_it_a_wrong_order_or_a_missing_page_does_not() {
        let s = Shield::new(&SECRET).unwrap();
        let pages: Vec<&[u8; PAGE]> = s.pages.iter().map(|p| p.bytes()).collect();
        let order: Vec<usize> = index(&s)[..PAGES].iter().map(|&b| usize::from(b)).collect();
        let windows = &index(&s)[WINDOWS_AT..WINDOWS_AT + PAGES];
        assert_eq!(unmask(&s, &pad_from(&pages, &order, windows)), SECRET);

        // All pages, two steps swapped.
        let mut swapped = order.clone();
        swapped.swap(3, 11);
        let wrong = unmask(&s, &pad_from(&pages, &swapped, windows));
        assert_ne!(wrong, SECRET);
        assert!(wrong.iter().zip(SECRET).filter(|(a, b)| *a == b).count() < 8);

        // All pages in address (mapping) order.
        let ident: Vec<usize> = (0..PAGES).collect();
        if ident != order {
            assert_ne!(unmask(&s, &pad_from(&pages, &ident, windows)), SECRET);
        }

        // One page missing: the reader must guess it; a zero page or a repeat is wrong.
        let zero = [0u8; PAGE];
        let mut partial = pages.clone();
        partial[order[7]] = &zero;
        assert_ne!(unmask(&s, &pad_from(&partial, &order, windows)), SECRET);
        partial[order[7]] = pages[order[6]];
        assert_ne!(unmask(&s, &pad_from(&partial, &order, windows)), SECRET);

        // The right pages and order with one window off.
        let mut off = windows.to_vec();
        off[0] = off[0].wrapping_add(1);
        assert_ne!(unmask(&s, &pad_from(&pages, &order, &off)), SECRET);
    }

    #[test]
    fn rerandomizing_changes_every_page_the_walk_and_the_mask_but_not_the_secret() {
        let s = Shield::new(&SECRET).unwrap();
        let before: Vec<[u8; PAGE]> = s.pages.iter().map(|p| *p.bytes()).collect();
        let index_before = *index(&s);
        let s = s.rerandomized().unwrap();
        assert_eq!(s.with(|k| *k), SECRET);
        for (old, new) in before.iter().zip(&s.pages) {
            assert_ne!(old, new.bytes());
        }
        assert_ne!(
            index_before[MASK_AT..MASK_AT + 48],
            index(&s)[MASK_AT..MASK_AT + 48]
        );
        // The old pages are no use with the new index.
        let old: Vec<&[u8; PAGE]> = before.iter().collect();
        let order: Vec<usize> = index(&s)[..PAGES].iter().map(|&b| usize::from(b)).collect();
        let windows = &index(&s)[WINDOWS_AT..WINDOWS_AT + PAGES];
        assert_ne!(unmask(&s, &pad_from(&old, &order, windows)), SECRET);
    }

    #[test]
    fn walks_are_permutations_and_differ_between_shields() {
        let a = Shield::new(&SECRET).unwrap();
        let b = Shield::new(&SECRET).unwrap();
        for s in [&a, &b] {
            let mut order = index(s)[..PAGES].to_vec();
            order.sort_unstable();
            assert_eq!(order, (0..PAGES as u8).collect::<Vec<_>>());
        }
        assert_ne!(index(&a)[..MASK_AT + 48], index(&b)[..MASK_AT + 48]);
    }

    #[test]
    fn permutations_are_uniform_enough() {
        // 3 elements, 6000 draws: each of the 6 orders about 1000 times.
        let mut counts = std::collections::HashMap::new();
        for _ in 0..6000 {
            let mut p = [0u8; 3];
            random_permutation(&mut p).unwrap();
            *counts.entry(p).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 6);
        assert!(
            counts.values().all(|&c| (850..1150).contains(&c)),
            "{counts:?}"
        );
    }
}
