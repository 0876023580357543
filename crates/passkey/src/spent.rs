//! The challenges of finished ceremonies, remembered until they expire.

use std::collections::HashMap;

/// Challenge -> expiry (Unix seconds) of every ceremony finished successfully.
#[derive(Debug, Default)]
pub(crate) struct Spent {
    map: HashMap<Vec<u8>, u64>,
}

impl Spent {
    /// Whether `challenge` was already used.
    pub(crate) fn contains(&self, challenge: &[u8]) -> bool {
        self.map.contains_key(challenge)
    }

    /// Records `challenge` as used until `expires_at`; false if it already was. Forgets
    /// the challenges whose ceremony has expired (their states are refused anyway).
    pub(crate) fn insert(&mut self, challenge: &[u8], expires_at: u64, now: u64) -> bool {
        self.map.retain(|_, exp| *exp >= now);
        if self.map.contains_key(challenge) {
            return false;
        }
        self.map.insert(challenge.to_vec(), expires_at);
        true
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_use_and_pruned_after_expiry() {
        let mut s = Spent::default();
        assert!(s.insert(b"a", 100, 0));
        assert!(!s.insert(b"a", 100, 50));
        assert!(s.contains(b"a"));
        assert!(s.insert(b"b", 500, 101));
        assert!(!s.contains(b"a"));
        assert_eq!(s.len(), 1);
    }
}
