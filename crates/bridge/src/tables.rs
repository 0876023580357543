//! Lookup tables and intents on the bridge's side of the signing path.
//!
//! * Which tables a v0 transaction uses, and how much of each ([`table_queries`]),
//!   to ask the pool for their contents as read from the chain.
//! * The tables and the intent a backend may offer with a request: parsed and
//!   validated here ([`parse_offered`], [`parse_intent`]); bad input is
//!   `INVALID_ARGUMENT` with the offending field named.
//! * What is forwarded to the signer: only the tables the transaction uses, each cut
//!   to the entries it needs ([`trim`]); entries past the highest index used are
//!   never resolved, so this changes no verdict and bounds the request's size.
//! * The accounts those tables resolve to ([`resolve`]), so the records of any that
//!   are Custos wallets can be handed to the signer, which authenticates them.

use custos_api::v1::{intent, Intent as ApiIntent, LookupTable};
use custos_ipc::pool::{TableQuery, MAX_LOOKUP_ENTRIES, MAX_LOOKUP_TABLES, MAX_TABLE_ENTRIES};
use custos_ipc::signer::{Intent, LookupTableContents, PublicKey};
use custos_txdecode::ParsedTransaction;
use std::collections::BTreeSet;
use tonic::Status;

/// Most tables a request may offer (a v0 transaction can use at most 31).
pub const MAX_OFFERED_TABLES: usize = MAX_LOOKUP_TABLES;
/// Longest piece of bad input repeated in an error message.
const MAX_ECHO: usize = 64;

/// One table use of a transaction: the table and every index looked up in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The table account.
    pub table: PublicKey,
    /// Writable then read-only indexes.
    pub indexes: Vec<u8>,
}

/// The table uses of a parsed transaction (none for legacy and V1).
pub fn lookups_of(tx: &ParsedTransaction) -> Vec<Lookup> {
    tx.address_table_lookups()
        .iter()
        .map(|l| Lookup {
            table: l.account_key.to_bytes(),
            indexes: l
                .writable_indexes
                .iter()
                .chain(&l.readonly_indexes)
                .copied()
                .collect(),
        })
        .collect()
}

/// The tables to ask the pool for, in order of first use, each with the number of
/// leading entries needed. Stays within the pool's limits ([`MAX_LOOKUP_TABLES`],
/// [`MAX_LOOKUP_ENTRIES`]): a table that does not fit is left out (its accounts stay
/// unresolved, which is stricter) and the second value is `true`.
pub fn table_queries(lookups: &[Lookup]) -> (Vec<TableQuery>, bool) {
    let mut merged: Vec<TableQuery> = Vec::new();
    for l in lookups {
        let Some(max) = l.indexes.iter().max() else {
            continue;
        };
        let needed = u16::from(*max) + 1;
        match merged.iter_mut().find(|q| q.table == l.table) {
            Some(q) => q.entries_needed = q.entries_needed.max(needed),
            None => merged.push(TableQuery {
                table: l.table,
                entries_needed: needed,
            }),
        }
    }
    let mut out = Vec::with_capacity(merged.len());
    let mut total = 0usize;
    let mut left_out = false;
    for q in merged {
        let n = usize::from(q.entries_needed);
        if out.len() < MAX_LOOKUP_TABLES && total + n <= MAX_LOOKUP_ENTRIES {
            total += n;
            out.push(q);
        } else {
            left_out = true;
        }
    }
    (out, left_out)
}

/// Keeps the tables that `queries` name, each cut to the entries needed.
pub fn trim(tables: Vec<LookupTableContents>, queries: &[TableQuery]) -> Vec<LookupTableContents> {
    tables
        .into_iter()
        .filter_map(|mut t| {
            let q = queries.iter().find(|q| q.table == t.table)?;
            t.addresses.truncate(usize::from(q.entries_needed));
            Some(t)
        })
        .collect()
}

/// The addresses `lookups` resolve to through `tables` (indexes a table does not
/// reach, and tables not given, resolve to nothing).
pub fn resolve(lookups: &[Lookup], tables: &[LookupTableContents]) -> Vec<PublicKey> {
    let mut out = Vec::new();
    for l in lookups {
        if let Some(t) = tables.iter().find(|t| t.table == l.table) {
            out.extend(
                l.indexes
                    .iter()
                    .filter_map(|i| t.addresses.get(usize::from(*i)).copied()),
            );
        }
    }
    out
}

fn echo(s: &str) -> String {
    if s.chars().count() > MAX_ECHO {
        let cut: String = s.chars().take(MAX_ECHO).collect();
        format!("{cut}...")
    } else {
        s.to_owned()
    }
}

/// Parses a base58 public key found in field `field` of the request.
fn parse_field(s: &str, field: impl FnOnce() -> String) -> Result<PublicKey, Status> {
    let mut out = [0u8; 32];
    match bs58::decode(s).onto(&mut out) {
        Ok(32) => Ok(out),
        _ => Err(Status::invalid_argument(format!(
            "{}: '{}' is not a base58 Solana public key (32 bytes)",
            field(),
            echo(s)
        ))),
    }
}

/// Validates the lookup tables offered with a request: at most
/// [`MAX_OFFERED_TABLES`] tables of at most 256 base58 addresses, no table twice.
pub fn parse_offered(tables: &[LookupTable]) -> Result<Vec<LookupTableContents>, Status> {
    if tables.len() > MAX_OFFERED_TABLES {
        return Err(Status::invalid_argument(format!(
            "offered_lookup_tables: {} tables, at most {MAX_OFFERED_TABLES}",
            tables.len()
        )));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(tables.len());
    for (i, t) in tables.iter().enumerate() {
        let table = parse_field(&t.address, || format!("offered_lookup_tables[{i}].address"))?;
        if !seen.insert(table) {
            return Err(Status::invalid_argument(format!(
                "offered_lookup_tables[{i}]: table {} is offered twice",
                t.address
            )));
        }
        if t.addresses.len() > MAX_TABLE_ENTRIES {
            return Err(Status::invalid_argument(format!(
                "offered_lookup_tables[{i}]: {} addresses, a lookup table holds at most {MAX_TABLE_ENTRIES}",
                t.addresses.len()
            )));
        }
        let addresses = t
            .addresses
            .iter()
            .enumerate()
            .map(|(j, a)| parse_field(a, || format!("offered_lookup_tables[{i}].addresses[{j}]")))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(LookupTableContents { table, addresses });
    }
    Ok(out)
}

/// Validates the intent of a request.
pub fn parse_intent(intent: &ApiIntent) -> Result<Intent, Status> {
    match &intent.kind {
        None => Err(Status::invalid_argument(
            "intent: neither swap nor transfer is set",
        )),
        Some(intent::Kind::Swap(s)) => Ok(Intent::Swap {
            input_mint: parse_field(&s.input_mint, || "intent.swap.input_mint".into())?,
            output_mint: parse_field(&s.output_mint, || "intent.swap.output_mint".into())?,
            max_amount_in: s.max_amount_in,
            min_amount_out: s.min_amount_out,
        }),
        Some(intent::Kind::Transfer(t)) => Ok(Intent::Transfer {
            destination: parse_field(&t.destination, || "intent.transfer.destination".into())?,
            mint: t
                .mint
                .as_deref()
                .map(|m| parse_field(m, || "intent.transfer.mint".into()))
                .transpose()?,
            amount: t.amount,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_api::v1::{SwapIntent, TransferIntent};

    fn b58(k: &PublicKey) -> String {
        bs58::encode(k).into_string()
    }

    fn l(t: u8, indexes: &[u8]) -> Lookup {
        Lookup {
            table: [t; 32],
            indexes: indexes.to_vec(),
        }
    }

    fn q(t: u8, entries_needed: u16) -> TableQuery {
        TableQuery {
            table: [t; 32],
            entries_needed,
        }
    }

    #[test]
    fn queries_merge_uses_of_one_table_and_keep_to_the_limits() {
        let (got, left_out) = table_queries(&[l(1, &[3, 0]), l(2, &[255]), l(1, &[7]), l(3, &[])]);
        assert_eq!(got, vec![q(1, 8), q(2, 256)]);
        assert!(!left_out);

        // 11 full tables and one of 200 entries fit; another full one does not, a
        // small one after it still does.
        let mut many: Vec<Lookup> = (0..11).map(|t| l(t, &[255])).collect();
        many.extend([l(50, &[199]), l(51, &[255]), l(52, &[49])]);
        let (got, left_out) = table_queries(&many);
        assert!(left_out);
        assert_eq!(got.len(), 13);
        assert_eq!(&got[11..], &[q(50, 200), q(52, 50)]);
        assert_eq!(
            got.iter()
                .map(|q| usize::from(q.entries_needed))
                .sum::<usize>(),
            11 * 256 + 250
        );

        let (got, left_out) = table_queries(&(0..40).map(|t| l(t, &[0])).collect::<Vec<_>>());
        assert!(left_out);
        assert_eq!(got.len(), MAX_LOOKUP_TABLES);
    }

    #[test]
    fn trim_keeps_used_tables_cut_to_what_is_needed() {
        let table = |t: u8, n: u8| LookupTableContents {
            table: [t; 32],
            addresses: (0..n).map(|i| [i; 32]).collect(),
        };
        let got = trim(
            vec![table(1, 10), table(2, 3), table(3, 5)],
            &[q(3, 2), q(1, 20)],
        );
        assert_eq!(got, vec![table(1, 10), table(3, 2)]);
    }

    #[test]
    fn resolve_follows_the_indexes() {
        let tables = vec![LookupTableContents {
            table: [1; 32],
            addresses: vec![[10; 32], [11; 32], [12; 32]],
        }];
        let got = resolve(&[l(1, &[2, 0, 9]), l(2, &[0])], &tables);
        assert_eq!(got, vec![[12; 32], [10; 32]]);
    }

    #[test]
    fn offered_tables_are_validated_field_by_field() {
        let ok = LookupTable {
            address: b58(&[1; 32]),
            addresses: vec![b58(&[2; 32]), b58(&[3; 32])],
        };
        assert_eq!(
            parse_offered(std::slice::from_ref(&ok)).unwrap(),
            vec![LookupTableContents {
                table: [1; 32],
                addresses: vec![[2; 32], [3; 32]]
            }]
        );
        let msg = |tables: Vec<LookupTable>| {
            let s = parse_offered(&tables).unwrap_err();
            assert_eq!(s.code(), tonic::Code::InvalidArgument);
            s.message().to_owned()
        };
        let mut bad = ok.clone();
        bad.address = b58(&[9; 32]);
        bad.addresses[1] = "0OIl".into();
        assert_eq!(
            msg(vec![ok.clone(), bad]),
            "offered_lookup_tables[1].addresses[1]: '0OIl' is not a base58 Solana public key (32 bytes)"
        );
        let mut bad = ok.clone();
        bad.address = "x".repeat(500);
        let m = msg(vec![bad]);
        assert!(
            m.starts_with("offered_lookup_tables[0].address: 'xxxx"),
            "{m}"
        );
        assert!(m.len() < 200, "{m}");
        assert_eq!(
            msg(vec![ok.clone(), ok.clone()]),
            format!(
                "offered_lookup_tables[1]: table {} is offered twice",
                ok.address
            )
        );
        let mut big = ok.clone();
        big.addresses = vec![b58(&[2; 32]); 257];
        assert_eq!(
            msg(vec![big]),
            "offered_lookup_tables[0]: 257 addresses, a lookup table holds at most 256"
        );
        let many: Vec<LookupTable> = (0..33u8)
            .map(|i| LookupTable {
                address: b58(&[i; 32]),
                addresses: Vec::new(),
            })
            .collect();
        assert_eq!(msg(many), "offered_lookup_tables: 33 tables, at most 32");
    }

    #[test]
    fn intents_are_validated() {
        let swap = ApiIntent {
            kind: Some(intent::Kind::Swap(SwapIntent {
                input_mint: b58(&[1; 32]),
                output_mint: b58(&[2; 32]),
                max_amount_in: 10,
                min_amount_out: 9,
            })),
        };
        assert_eq!(
            parse_intent(&swap).unwrap(),
            Intent::Swap {
                input_mint: [1; 32],
                output_mint: [2; 32],
                max_amount_in: 10,
                min_amount_out: 9
            }
        );
        let transfer = |mint: Option<String>| ApiIntent {
            kind: Some(intent::Kind::Transfer(TransferIntent {
                destination: b58(&[3; 32]),
                mint,
                amount: 5,
            })),
        };
        assert_eq!(
            parse_intent(&transfer(None)).unwrap(),
            Intent::Transfer {
                destination: [3; 32],
                mint: None,
                amount: 5
            }
        );
        assert_eq!(
            parse_intent(&transfer(Some(b58(&[4; 32])))).unwrap(),
            Intent::Transfer {
                destination: [3; 32],
                mint: Some([4; 32]),
                amount: 5
            }
        );
        let err = parse_intent(&transfer(Some(String::new()))).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(
            err.message().starts_with("intent.transfer.mint: ''"),
            "{}",
            err.message()
        );
        let err = parse_intent(&ApiIntent { kind: None }).unwrap_err();
        assert_eq!(err.message(), "intent: neither swap nor transfer is set");
        let mut bad = swap.clone();
        if let Some(intent::Kind::Swap(s)) = &mut bad.kind {
            s.output_mint = "abc".into();
        }
        assert!(parse_intent(&bad)
            .unwrap_err()
            .message()
            .starts_with("intent.swap.output_mint: 'abc'"));
    }
}
