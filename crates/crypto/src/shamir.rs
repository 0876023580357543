//! k-of-n Shamir secret sharing of a 32-byte secret over GF(2^8).
//!
//! Groundwork for disaster recovery (issue 6, item 5): [`crate::recovery`] splits the master
//! key with [`split`] and rebuilds it with [`combine`]. Nothing in the signer calls either
//! yet; the recovery ceremony command will.
//!
//! # Scheme
//!
//! Each of the 32 secret bytes is the constant term of its own random polynomial of degree
//! `k - 1` over GF(2^8) with the AES reduction polynomial `x^8 + x^4 + x^3 + x + 1` (0x11b).
//! Share `i` (for `i` in `1..=n`) holds the 32 polynomials evaluated at `x = i`; any `k`
//! shares give the secret back by Lagrange interpolation at 0, and fewer than `k` reveal
//! nothing about it (every value of the secret is equally likely). The coefficients come
//! from the OS CSPRNG ([`crate::os_random`]).
//!
//! Fewer than `k` shares interpolate to a *wrong* value that nothing in the shares
//! themselves can tell from the right one, so [`combine`] refuses fewer than the threshold
//! the caller states, and [`crate::recovery`] checks the result against a commitment.
//!
//! # Why hand-written
//!
//! `sharks` 0.5 and its fork `blahaj` 0.7 multiply and divide through log/exp tables
//! indexed by secret bytes (a cache-timing leak), and `sharks` is unmaintained. `vsss-rs` 6
//! has a constant-time GF(2^8), but brings a large generic stack (`ff`, `crypto-bigint`,
//! `elliptic-curve`, a new `rand_core`) for what is about a hundred lines here.
//!
//! # Side channels
//!
//! Field multiplication is a fixed 8-round shift-and-add with masks instead of branches,
//! and inversion is `a^254` by a fixed square-and-multiply chain, so neither indexes memory
//! or branches on field elements. Share x-coordinates are public and only they decide
//! control flow. Coefficients and intermediate values are zeroized.

use zeroize::{Zeroize, Zeroizing};

/// Length of the shared secret.
pub const SECRET_LEN: usize = 32;
/// Smallest allowed threshold: with `k = 1` every share would be the secret itself.
pub const MIN_THRESHOLD: u8 = 2;

/// Why a secret could not be split or combined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShamirError {
    /// The threshold and share count are not `2 <= k <= n <= 255`.
    #[error("invalid threshold {k}-of-{n}: need 2 <= k <= n <= 255")]
    Threshold {
        /// The threshold asked for.
        k: u8,
        /// The number of shares asked for.
        n: u8,
    },
    /// Fewer shares than the threshold.
    #[error("{got} shares given, {need} needed")]
    TooFewShares {
        /// The threshold.
        need: u8,
        /// Shares given.
        got: usize,
    },
    /// A share with x-coordinate 0 (that would be the secret itself; never produced).
    #[error("a share has x-coordinate 0")]
    ZeroX,
    /// Two shares with the same x-coordinate.
    #[error("two shares have x-coordinate {x}")]
    DuplicateX {
        /// The repeated x-coordinate.
        x: u8,
    },
    /// A share value that is not [`SECRET_LEN`] bytes.
    #[error("share value must be {SECRET_LEN} bytes, got {got}")]
    Length {
        /// Bytes given.
        got: usize,
    },
    /// The OS random number generator failed; nothing was produced.
    #[error("random number generator failed")]
    Random,
}

/// One share: its x-coordinate and the 32 polynomial values there.
///
/// Secret: the values are zeroized on drop; no `Debug`.
#[derive(Clone)]
pub struct Share {
    x: u8,
    y: Zeroizing<[u8; SECRET_LEN]>,
}

impl Share {
    /// Builds a share from its parts, checking the value's length (not the x-coordinate:
    /// [`combine`] refuses 0 and duplicates with a precise error).
    pub fn from_parts(x: u8, y: &[u8]) -> Result<Self, ShamirError> {
        let mut v = Zeroizing::new([0u8; SECRET_LEN]);
        if y.len() != SECRET_LEN {
            return Err(ShamirError::Length { got: y.len() });
        }
        v.copy_from_slice(y);
        Ok(Share { x, y: v })
    }

    /// The x-coordinate (public).
    pub fn x(&self) -> u8 {
        self.x
    }

    /// The share value (secret).
    pub fn y(&self) -> &[u8; SECRET_LEN] {
        &self.y
    }
}

/// Splits `secret` into `n` shares, any `k` of which rebuild it. Share `i` (0-based) has
/// x-coordinate `i + 1`.
pub fn split(secret: &[u8; SECRET_LEN], k: u8, n: u8) -> Result<Vec<Share>, ShamirError> {
    check_threshold(k, n)?;
    // coefficients[j] holds the degree-(j+1) coefficient of all 32 polynomials.
    let mut coefficients = Zeroizing::new(vec![[0u8; SECRET_LEN]; usize::from(k) - 1]);
    for c in coefficients.iter_mut() {
        crate::os_random(c).map_err(|_| ShamirError::Random)?;
    }
    Ok(split_with(secret, &coefficients, n))
}

/// Evaluates the polynomials `secret + c[0] x + c[1] x^2 + ...` at `x = 1..=n`.
fn split_with(secret: &[u8; SECRET_LEN], coefficients: &[[u8; SECRET_LEN]], n: u8) -> Vec<Share> {
    (1..=n)
        .map(|x| {
            let mut y = Zeroizing::new([0u8; SECRET_LEN]);
            for (b, out) in y.iter_mut().enumerate() {
                // Horner, from the highest coefficient down to the secret byte.
                let mut acc = 0u8;
                for c in coefficients.iter().rev() {
                    acc = mul(acc, x) ^ c[b];
                }
                acc = mul(acc, x) ^ secret[b];
                *out = acc;
                acc.zeroize();
            }
            Share { x, y }
        })
        .collect()
}

/// Rebuilds the secret from at least `k` shares by Lagrange interpolation at 0, using all
/// the shares given. Refuses fewer than `k`, a zero or repeated x-coordinate, and a `k`
/// below 2. Wrong but well-formed shares give a wrong secret: the caller must check it.
pub fn combine(shares: &[Share], k: u8) -> Result<Zeroizing<[u8; SECRET_LEN]>, ShamirError> {
    if k < MIN_THRESHOLD {
        return Err(ShamirError::Threshold {
            k,
            n: u8::try_from(shares.len()).unwrap_or(u8::MAX),
        });
    }
    if shares.len() < usize::from(k) {
        return Err(ShamirError::TooFewShares {
            need: k,
            got: shares.len(),
        });
    }
    let mut seen = [false; 256];
    for s in shares {
        if s.x == 0 {
            return Err(ShamirError::ZeroX);
        }
        if std::mem::replace(&mut seen[usize::from(s.x)], true) {
            return Err(ShamirError::DuplicateX { x: s.x });
        }
    }
    let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
    for (i, si) in shares.iter().enumerate() {
        // l_i(0) = prod_{j != i} x_j / (x_j - x_i); subtraction is XOR in GF(2^8). Depends
        // only on the public x-coordinates.
        let mut num = 1u8;
        let mut den = 1u8;
        for (j, sj) in shares.iter().enumerate() {
            if i != j {
                num = mul(num, sj.x);
                den = mul(den, sj.x ^ si.x);
            }
        }
        let li = mul(num, inv(den));
        for (out, &y) in secret.iter_mut().zip(si.y.iter()) {
            *out ^= mul(li, y);
        }
    }
    Ok(secret)
}

fn check_threshold(k: u8, n: u8) -> Result<(), ShamirError> {
    if k < MIN_THRESHOLD || k > n {
        return Err(ShamirError::Threshold { k, n });
    }
    Ok(())
}

/// Multiplication in GF(2^8) mod 0x11b: shift-and-add with masks, no branches or table
/// lookups on the operands.
fn mul(a: u8, b: u8) -> u8 {
    let (mut a, mut b, mut p) = (a, b, 0u8);
    for _ in 0..8 {
        p ^= a & 0u8.wrapping_sub(b & 1);
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1b & carry);
        b >>= 1;
    }
    p
}

/// Inverse in GF(2^8) as `a^254` (`a^255 = 1` for `a != 0`), so `inv(0) = 0`. The exponent
/// is a public constant, so the square-and-multiply chain is fixed.
fn inv(a: u8) -> u8 {
    let mut r = 1u8;
    for bit in (0..8).rev() {
        r = mul(r, r);
        if (254u8 >> bit) & 1 == 1 {
            r = mul(r, a);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference multiplication: plain carry-less product, then reduction mod 0x11b.
    fn mul_reference(a: u8, b: u8) -> u8 {
        let mut p: u16 = 0;
        for i in 0..8 {
            if (b >> i) & 1 == 1 {
                p ^= u16::from(a) << i;
            }
        }
        for i in (8..16).rev() {
            if (p >> i) & 1 == 1 {
                p ^= 0x11b << (i - 8);
            }
        }
        p as u8
    }

    #[test]
    fn fips197_multiplication_and_inverse_examples() {
        // FIPS-197 §4.2: {57} • {83} = {c1}, {57} • {13} = {fe}; §5.1.1: {53}^-1 = {ca}.
        assert_eq!(mul(0x57, 0x83), 0xc1);
        assert_eq!(mul(0x57, 0x13), 0xfe);
        assert_eq!(inv(0x53), 0xca);
        assert_eq!(inv(0xca), 0x53);
        assert_eq!(inv(0), 0);
        assert_eq!(inv(1), 1);
    }

    /// Field axioms over every pair (and, for associativity and distributivity, every
    /// triple with a fixed sample of third elements that covers each bit).
    #[test]
    fn field_axioms_hold_exhaustively() {
        for a in 0..=255u8 {
            assert_eq!(mul(a, 1), a);
            assert_eq!(mul(a, 0), 0);
            if a != 0 {
                assert_eq!(mul(a, inv(a)), 1, "inverse of {a:#x}");
                assert_eq!(inv(inv(a)), a);
            }
            for b in 0..=255u8 {
                let ab = mul(a, b);
                assert_eq!(ab, mul(b, a), "commutativity {a:#x} {b:#x}");
                assert_eq!(ab, mul_reference(a, b), "reference {a:#x} {b:#x}");
                if a != 0 && b != 0 {
                    assert_ne!(ab, 0, "no zero divisors");
                    assert_eq!(inv(ab), mul(inv(a), inv(b)));
                }
                for c in [0x01u8, 0x02, 0x53, 0x80, 0xca, 0xff] {
                    assert_eq!(mul(ab, c), mul(a, mul(b, c)), "associativity");
                    assert_eq!(mul(a, b ^ c), ab ^ mul(a, c), "distributivity");
                }
            }
        }
    }

    /// A 2-of-3 split computed by hand: f(x) = 0x57 + 0x83 x.
    /// 0x83 • 2 = 0x106 mod 0x11b = 0x1d; 0x83 • 3 = 0x1d ^ 0x83 = 0x9e. So
    /// f(1) = 0x57 ^ 0x83 = 0xd4, f(2) = 0x57 ^ 0x1d = 0x4a, f(3) = 0x57 ^ 0x9e = 0xc9.
    #[test]
    fn known_answer_two_of_three() {
        let secret = [0x57u8; SECRET_LEN];
        let shares = split_with(&secret, &[[0x83; SECRET_LEN]], 3);
        let ys: Vec<u8> = shares.iter().map(|s| s.y[0]).collect();
        assert_eq!(ys, [0xd4, 0x4a, 0xc9]);
        assert!(shares.iter().all(|s| s.y.iter().all(|&b| b == s.y[0])));
        assert_eq!(shares.iter().map(Share::x).collect::<Vec<_>>(), [1u8, 2, 3]);
        for pair in [[0usize, 1], [0, 2], [1, 2]] {
            let two = [shares[pair[0]].clone(), shares[pair[1]].clone()];
            assert_eq!(*combine(&two, 2).unwrap(), secret);
        }
        // One share of a degree-1 polynomial, declared as a 1-of-n set: refused.
        assert_eq!(
            combine(&shares[..1], 1),
            Err(ShamirError::Threshold { k: 1, n: 1 })
        );
    }

    /// Every subset of `0..n` with `size` elements.
    fn subsets(n: usize, size: usize) -> Vec<Vec<usize>> {
        (0u32..1 << n)
            .filter(|m| m.count_ones() as usize == size)
            .map(|m| (0..n).filter(|i| m >> i & 1 == 1).collect())
            .collect()
    }

    fn pick(shares: &[Share], idx: &[usize]) -> Vec<Share> {
        idx.iter().map(|&i| shares[i].clone()).collect()
    }

    #[test]
    fn every_k_subset_recovers_and_k_minus_1_does_not() {
        for (k, n, want_subsets) in [(3u8, 5u8, 10usize), (5, 9, 126)] {
            let mut secret = [0u8; SECRET_LEN];
            crate::os_random(&mut secret).unwrap();
            let shares = split(&secret, k, n).unwrap();
            assert_eq!(shares.len(), usize::from(n));
            let all = subsets(usize::from(n), usize::from(k));
            assert_eq!(all.len(), want_subsets);
            for idx in &all {
                // In the given order and reversed: order does not matter.
                let mut chosen = pick(&shares, idx);
                assert_eq!(*combine(&chosen, k).unwrap(), secret, "{idx:?}");
                chosen.reverse();
                assert_eq!(*combine(&chosen, k).unwrap(), secret, "{idx:?}");
            }
            // More than k shares interpolate the same polynomial.
            assert_eq!(*combine(&shares, k).unwrap(), secret);
            for idx in subsets(usize::from(n), usize::from(k) - 1) {
                let chosen = pick(&shares, &idx);
                // Refused at the stated threshold...
                assert_eq!(
                    combine(&chosen, k),
                    Err(ShamirError::TooFewShares {
                        need: k,
                        got: usize::from(k) - 1
                    })
                );
                // ...and wrong if the caller lies about it.
                if k > 2 {
                    assert_ne!(*combine(&chosen, k - 1).unwrap(), secret, "{idx:?}");
                }
            }
        }
    }

    #[test]
    fn fresh_coefficients_each_split() {
        let secret = [9u8; SECRET_LEN];
        let a = split(&secret, 2, 2).unwrap();
        let b = split(&secret, 2, 2).unwrap();
        assert_ne!(a[0].y(), b[0].y());
        assert_ne!(a[0].y(), &secret);
    }

    #[test]
    fn precise_errors() {
        let secret = [1u8; SECRET_LEN];
        for (k, n) in [(0u8, 5u8), (1, 5), (6, 5), (2, 1), (255, 254)] {
            assert_eq!(
                split(&secret, k, n).err(),
                Some(ShamirError::Threshold { k, n })
            );
        }
        assert_eq!(split(&secret, 255, 255).unwrap().len(), 255);
        let shares = split(&secret, 2, 3).unwrap();
        let dup = [shares[0].clone(), shares[0].clone()];
        assert_eq!(combine(&dup, 2), Err(ShamirError::DuplicateX { x: 1 }));
        let zero = [
            Share::from_parts(0, &[1; SECRET_LEN]).unwrap(),
            shares[1].clone(),
        ];
        assert_eq!(combine(&zero, 2), Err(ShamirError::ZeroX));
        assert_eq!(
            Share::from_parts(1, &[0; 31]).err(),
            Some(ShamirError::Length { got: 31 })
        );
        assert_eq!(
            Share::from_parts(1, &[0; 33]).err(),
            Some(ShamirError::Length { got: 33 })
        );
        assert_eq!(
            combine(&[], 2),
            Err(ShamirError::TooFewShares { need: 2, got: 0 })
        );
    }
}
