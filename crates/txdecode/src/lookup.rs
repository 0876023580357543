//! Address lookup tables supplied by the caller, and resolution of a transaction's full
//! account list (static keys, then all writable lookups, then all readonly lookups).

use crate::effects::Addr;
use crate::error::LookupError;
use crate::wire::ParsedTransaction;
use crate::Pubkey;
use std::collections::BTreeMap;
use std::str::FromStr;

/// Most addresses an on-chain lookup table can hold.
pub const MAX_TABLE_ENTRIES: usize = 256;

/// Contents of address lookup tables known to the caller: table address -> addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookupTables {
    tables: BTreeMap<Pubkey, Vec<Pubkey>>,
}

impl LookupTables {
    /// No tables: every looked-up account is unresolved (treated as foreign).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses `{"<table b58>": ["<addr b58>", ...]}`.
    pub fn from_json(s: &str) -> Result<Self, LookupError> {
        let raw: BTreeMap<String, Vec<String>> =
            serde_json::from_str(s).map_err(|e| LookupError::Json(e.to_string()))?;
        let mut out = Self::empty();
        for (table, entries) in raw {
            if entries.len() > MAX_TABLE_ENTRIES {
                return Err(LookupError::TooManyEntries {
                    table,
                    len: entries.len(),
                });
            }
            let key = parse_address(&table)?;
            let addresses = entries
                .iter()
                .map(|e| parse_address(e))
                .collect::<Result<Vec<_>, _>>()?;
            out.tables.insert(key, addresses);
        }
        Ok(out)
    }

    /// Adds (or replaces) one table. Entries beyond 256 are refused.
    pub fn insert(&mut self, table: Pubkey, addresses: Vec<Pubkey>) -> Result<(), LookupError> {
        if addresses.len() > MAX_TABLE_ENTRIES {
            return Err(LookupError::TooManyEntries {
                table: table.to_string(),
                len: addresses.len(),
            });
        }
        self.tables.insert(table, addresses);
        Ok(())
    }

    /// The addresses of `table`, if provided.
    pub fn get(&self, table: &Pubkey) -> Option<&[Pubkey]> {
        self.tables.get(table).map(Vec::as_slice)
    }
}

fn parse_address(s: &str) -> Result<Pubkey, LookupError> {
    Pubkey::from_str(s).map_err(|_| LookupError::InvalidAddress(s.to_owned()))
}

/// The transaction's full account list in index order; looked-up accounts whose table is
/// missing (or whose index is past the table's end) are [`Addr::Unresolved`].
pub fn resolve_accounts(tx: &ParsedTransaction, tables: &LookupTables) -> Vec<Addr> {
    let mut out: Vec<Addr> = tx
        .static_account_keys()
        .iter()
        .cloned()
        .map(Addr::Known)
        .collect();
    let lookups = tx.address_table_lookups();
    let resolve = |table: &Pubkey, index: u8| -> Addr {
        tables
            .get(table)
            .and_then(|entries| entries.get(usize::from(index)))
            .cloned()
            .map(Addr::Known)
            .unwrap_or(Addr::Unresolved {
                table: *table,
                index,
            })
    };
    for l in lookups {
        for &i in &l.writable_indexes {
            out.push(resolve(&l.account_key, i));
        }
    }
    for l in lookups {
        for &i in &l.readonly_indexes {
            out.push(resolve(&l.account_key, i));
        }
    }
    out
}
