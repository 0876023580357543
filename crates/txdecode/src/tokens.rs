//! Token names and decimals for descriptions: a small built-in list of the most traded
//! mints, extended or overridden by the operator's policy file (`[[tokens]]`). Amounts of
//! mints in neither are shown in base units, clearly marked.

use crate::Pubkey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::str::FromStr;

/// One token the operator names in the policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// The mint address.
    pub mint: Base58Address,
    /// Short ticker shown to users, e.g. "USDC".
    pub symbol: String,
    /// Decimals of the mint.
    pub decimals: u8,
}

/// An address that (de)serialises as base58 (in policy files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Base58Address(pub Pubkey);

impl Serialize for Base58Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Base58Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Pubkey::from_str(&s)
            .map(Base58Address)
            .map_err(|_| serde::de::Error::custom(format!("invalid mint address {s:?}")))
    }
}

/// Longest symbol shown; a configured entry with a longer or non-plain symbol is ignored.
pub const MAX_SYMBOL_CHARS: usize = 12;

/// Built-in mints: (mint, symbol, decimals). Decimals are fixed at mint creation.
const BUILTIN: &[(Pubkey, &str, u8)] = &[
    (
        Pubkey::from_str_const("So11111111111111111111111111111111111111112"),
        "SOL",
        9,
    ),
    (
        Pubkey::from_str_const("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"),
        "USDC",
        6,
    ),
    (
        Pubkey::from_str_const("Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"),
        "USDT",
        6,
    ),
    (
        Pubkey::from_str_const("JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN"),
        "JUP",
        6,
    ),
    (
        Pubkey::from_str_const("DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263"),
        "BONK",
        5,
    ),
    (
        Pubkey::from_str_const("J1toso1uCk3RLmjorhTtrVwY9HJ7X8V9yYac6Y7kGCPn"),
        "JitoSOL",
        9,
    ),
    (
        Pubkey::from_str_const("mSoLzYCxHdYgdzU16g5QSh3i5K3z3KZK7ytfqcJm7So"),
        "mSOL",
        9,
    ),
];

/// Token names for one description: the operator's entries first, then the built-ins.
#[derive(Debug, Clone, Copy)]
pub struct Tokens<'a> {
    configured: &'a [TokenEntry],
}

impl<'a> Tokens<'a> {
    /// Names from `configured` (which override the built-ins) and the built-ins.
    pub fn new(configured: &'a [TokenEntry]) -> Self {
        Self { configured }
    }

    /// The built-in names only.
    pub fn builtin() -> Tokens<'static> {
        Tokens { configured: &[] }
    }

    /// Symbol and decimals of `mint`, if known.
    pub fn get(&self, mint: &Pubkey) -> Option<(&'a str, u8)> {
        self.configured
            .iter()
            .find(|t| t.mint.0 == *mint && symbol_is_plain(&t.symbol))
            .map(|t| (t.symbol.as_str(), t.decimals))
            .or_else(|| {
                BUILTIN
                    .iter()
                    .find(|(m, _, _)| m == mint)
                    .map(|(_, s, d)| (*s, *d))
            })
    }
}

/// A symbol short and plain enough to show as is (letters, digits, `.`, `-`, `_`, `$`).
fn symbol_is_plain(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= MAX_SYMBOL_CHARS
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '$'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_entries_override_builtins() {
        let usdc = Pubkey::from_str_const("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v");
        assert_eq!(Tokens::builtin().get(&usdc), Some(("USDC", 6)));
        let mine = [TokenEntry {
            mint: Base58Address(usdc),
            symbol: "USDC.e".to_owned(),
            decimals: 6,
        }];
        assert_eq!(Tokens::new(&mine).get(&usdc), Some(("USDC.e", 6)));
        // A symbol that could carry markup or pose as a sentence is not shown.
        let odd = [TokenEntry {
            mint: Base58Address(usdc),
            symbol: "<b>SOL</b> safe".to_owned(),
            decimals: 9,
        }];
        assert_eq!(Tokens::new(&odd).get(&usdc), Some(("USDC", 6)));
        assert_eq!(
            Tokens::builtin().get(&Pubkey::new_from_array([7; 32])),
            None
        );
    }
}
