//! Messages between the bridge and the pool.
//!
//! Today the pool serves one thing to the bridge: the contents of address lookup
//! tables, fetched from the configured Solana RPC endpoint and cached, so the signer
//! can resolve the accounts a v0 transaction loads through tables from Custos's own
//! view of the chain rather than from the backend's word.
//!
//! Limits (checked by [`PoolRequest::validate`] on the pool's side and by
//! [`PoolResponse::validate_for`] on the bridge's side):
//!
//! * at most [`MAX_LOOKUP_TABLES`] (32) tables per request: a v0 transaction fits in
//!   1232 bytes and each table it uses costs at least 35 of them, so no transaction
//!   can use more than 31;
//! * each table is asked for its first `entries_needed` entries (the highest index
//!   the transaction uses, plus one), 1 to [`MAX_TABLE_ENTRIES`] (256, what a table
//!   can hold); the answer never carries more than that;
//! * the entries asked for in one request add up to at most [`MAX_LOOKUP_ENTRIES`]
//!   (3072, i.e. 96 KiB of addresses). The bridge forwards at most that many trusted
//!   and at most that many offered entries in one sign request, so both lists, a
//!   4096-byte transaction and 64 related records always fit in
//!   [`MAX_FRAME`](crate::MAX_FRAME).

use crate::channel::Sealed;
use crate::signer::PublicKey;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeSet;
use zeroize::Zeroizing;

/// The key that authenticates the pool's view of the chain to the signer.
///
/// The supervisor draws it at start and hands it to the signer and the pool only (each
/// over a socket of its own that is closed once read); the bridge, which carries the
/// pool's answers to the signer, never has it, so it can neither forge nor alter a
/// lookup table's contents.
///
/// Secret: wiped on drop; no `Debug`. The bytes live on the heap, so moving a `ViewKey`
/// moves a pointer and leaves no copy of the key behind on the stack.
pub struct ViewKey(Box<Zeroizing<[u8; 32]>>);

impl ViewKey {
    /// Length of the key on the wire from the supervisor.
    pub const LEN: usize = 32;

    /// Wraps key bytes (the caller wipes its own copy). Prefer [`ViewKey::from_bytes`],
    /// which takes no copy by value.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self::from_bytes(&bytes)
    }

    /// Copies key bytes straight into the key's own wiped-on-drop allocation.
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let mut key = Box::new(Zeroizing::new([0u8; 32]));
        key.copy_from_slice(bytes);
        Self(key)
    }

    /// The authenticator of one table's leading entries: HMAC-SHA256 over a domain
    /// label, the table address, the entry count and the entries. Entries never change
    /// once written, so an old answer replayed is still true.
    pub fn table_tag(&self, table: &PublicKey, addresses: &[PublicKey]) -> [u8; 32] {
        self.table_mac(table, addresses)
            .finalize()
            .into_bytes()
            .into()
    }

    /// Checks a tag in constant time.
    pub fn verify_table(&self, table: &PublicKey, addresses: &[PublicKey], tag: &[u8; 32]) -> bool {
        self.table_mac(table, addresses).verify_slice(tag).is_ok()
    }

    fn table_mac(&self, table: &PublicKey, addresses: &[PublicKey]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0[..])
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"custos/v1/lookup-table");
        mac.update(table);
        mac.update(&(addresses.len() as u64).to_le_bytes());
        for a in addresses {
            mac.update(a);
        }
        mac
    }
}

impl ViewKey {
    /// The raw secret, for deriving other keys from it (`crate::channel`).
    pub(crate) fn secret(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Most lookup tables in one request.
pub const MAX_LOOKUP_TABLES: usize = 32;
/// Most entries an address lookup table can hold.
pub const MAX_TABLE_ENTRIES: usize = 256;
/// Most table entries asked for (and so answered) in one request.
pub const MAX_LOOKUP_ENTRIES: usize = 3072;

/// What the bridge asks of the pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PoolRequest {
    /// Contents of these lookup tables, from the chain (finalized), in this order.
    LookupTables(Vec<TableQuery>),
    /// Sealed messages from the signer ([`crate::telegram::ToPool`]), in order.
    /// Answered with [`PoolResponse::Delivered`] once each is opened and queued.
    Deliver(Vec<Sealed>),
    /// The next sealed events for the signer ([`crate::telegram::ToSigner`]): waits up
    /// to `wait_ms` (at most [`MAX_EVENT_WAIT_MS`]) for at least one. `ack` names the
    /// last batch the bridge has handed to the signer and stored the results of; only
    /// then does the pool confirm those updates to Telegram, so an update is never
    /// lost between the pool and the signer.
    NextEvents {
        /// The last batch fully handled, if any.
        ack: Option<u64>,
        /// How long to wait for an event.
        wait_ms: u32,
    },
    /// Public status of the Telegram client.
    TelegramStatus,
}

/// Longest [`PoolRequest::NextEvents`] wait.
pub const MAX_EVENT_WAIT_MS: u32 = 20_000;
/// Most sealed messages in one [`PoolRequest::Deliver`] or one event batch.
pub const MAX_SEALED_PER_CALL: usize = 256;

/// One lookup table and how much of it is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableQuery {
    /// The table account.
    pub table: PublicKey,
    /// How many leading entries are needed: the highest index the transaction uses,
    /// plus one (1-256). The pool re-reads a cached table that is shorter than this.
    pub entries_needed: u16,
}

/// What the pool answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PoolResponse {
    /// Answer to [`PoolRequest::LookupTables`]: one result per query, in query order.
    LookupTables(Vec<TableResult>),
    /// No RPC endpoint is configured: the pool has no view of the chain.
    NotConfigured,
    /// The request broke a limit; nothing was looked up.
    Refused(PoolRefusal),
    /// Answer to [`PoolRequest::Deliver`]: how many messages opened and were queued;
    /// the rest (forged, replayed) were dropped and logged by the pool.
    Delivered {
        /// Messages accepted.
        accepted: u32,
    },
    /// Answer to [`PoolRequest::NextEvents`] (possibly empty after the wait).
    Events {
        /// This batch's number, to acknowledge in the next call.
        batch: u64,
        /// Sealed events, in the order Telegram delivered the updates.
        events: Vec<Sealed>,
    },
    /// Answer to [`PoolRequest::TelegramStatus`].
    Telegram(TelegramStatus),
}

/// Public facts about the pool's Telegram client (nothing secret).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelegramStatus {
    /// The signer sent a bot token and the pool is running the client.
    pub configured: bool,
    /// The bot's username from `getMe`, once known.
    pub bot_username: Option<String>,
    /// Messages sent (confirmations, edits, notices).
    pub sent: u64,
    /// Messages waiting in the outbox.
    pub queued: u64,
    /// Updates received from Telegram.
    pub updates: u64,
    /// The last error talking to Telegram, if the client is failing now.
    pub last_error: Option<String>,
}

/// The outcome for one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableResult {
    /// The table asked about.
    pub table: PublicKey,
    /// What was found.
    pub outcome: TableOutcome,
    /// For [`TableOutcome::Found`]: [`ViewKey::table_tag`] of the entries, so the
    /// signer can tell they come from the pool unaltered.
    pub tag: Option<[u8; 32]>,
}

/// What the pool knows about one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TableOutcome {
    /// The table's leading entries, in table order: at most `entries_needed` of them,
    /// fewer if the table is shorter.
    Found(Vec<PublicKey>),
    /// No such account on chain (at the finalized commitment).
    NotFound,
    /// The account exists but is not a valid address lookup table.
    NotALookupTable(String),
    /// The RPC endpoint could not be asked or gave an unusable answer.
    Unavailable(String),
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PoolRefusal {
    /// More tables than [`MAX_LOOKUP_TABLES`].
    #[error("{count} lookup tables in one request (at most {MAX_LOOKUP_TABLES})")]
    TooManyTables {
        /// Tables asked for.
        count: usize,
    },
    /// The entries asked for add up to more than [`MAX_LOOKUP_ENTRIES`].
    #[error("{requested} lookup table entries in one request (at most {MAX_LOOKUP_ENTRIES})")]
    TooManyEntries {
        /// Sum of `entries_needed`.
        requested: usize,
    },
    /// `entries_needed` outside 1-256.
    #[error("entries_needed {entries_needed} is outside 1-{MAX_TABLE_ENTRIES}")]
    BadEntriesNeeded {
        /// The value sent.
        entries_needed: u16,
    },
    /// The same table twice.
    #[error("a lookup table appears twice in one request")]
    DuplicateTable,
    /// More sealed messages than [`MAX_SEALED_PER_CALL`].
    #[error("{count} sealed messages in one request (at most {MAX_SEALED_PER_CALL})")]
    TooManyMessages {
        /// Messages sent.
        count: usize,
    },
    /// `wait_ms` above [`MAX_EVENT_WAIT_MS`].
    #[error("wait of {wait_ms} ms is above {MAX_EVENT_WAIT_MS} ms")]
    WaitTooLong {
        /// The wait asked for.
        wait_ms: u32,
    },
    /// The pool has no Telegram client (no bot configured).
    #[error("no Telegram bot is configured")]
    TelegramNotConfigured,
}

/// Why the pool's answer does not fit the request it answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseMismatch {
    /// Another number of results than queries.
    #[error("{got} results for {asked} lookup tables")]
    Count {
        /// Queries sent.
        asked: usize,
        /// Results received.
        got: usize,
    },
    /// A result names another table than its query.
    #[error("result {index} names another lookup table than was asked for")]
    Table {
        /// Position of the result.
        index: usize,
    },
    /// A result carries more entries than were asked for.
    #[error("result {index} carries {got} entries, {asked} were asked for")]
    TooLong {
        /// Position of the result.
        index: usize,
        /// `entries_needed` of the query.
        asked: u16,
        /// Entries received.
        got: usize,
    },
}

impl PoolRequest {
    /// Checks the limits in the module documentation.
    pub fn validate(&self) -> Result<(), PoolRefusal> {
        let queries = match self {
            PoolRequest::LookupTables(queries) => queries,
            PoolRequest::Deliver(sealed) => {
                return if sealed.len() > MAX_SEALED_PER_CALL {
                    Err(PoolRefusal::TooManyMessages {
                        count: sealed.len(),
                    })
                } else {
                    Ok(())
                };
            }
            PoolRequest::NextEvents { wait_ms, .. } => {
                return if *wait_ms > MAX_EVENT_WAIT_MS {
                    Err(PoolRefusal::WaitTooLong { wait_ms: *wait_ms })
                } else {
                    Ok(())
                };
            }
            PoolRequest::TelegramStatus => return Ok(()),
        };
        if queries.len() > MAX_LOOKUP_TABLES {
            return Err(PoolRefusal::TooManyTables {
                count: queries.len(),
            });
        }
        let mut seen = BTreeSet::new();
        let mut requested = 0usize;
        for q in queries {
            if q.entries_needed == 0 || usize::from(q.entries_needed) > MAX_TABLE_ENTRIES {
                return Err(PoolRefusal::BadEntriesNeeded {
                    entries_needed: q.entries_needed,
                });
            }
            if !seen.insert(q.table) {
                return Err(PoolRefusal::DuplicateTable);
            }
            requested += usize::from(q.entries_needed);
        }
        if requested > MAX_LOOKUP_ENTRIES {
            return Err(PoolRefusal::TooManyEntries { requested });
        }
        Ok(())
    }
}

impl PoolResponse {
    /// For [`PoolResponse::LookupTables`]: checks that the answer matches `queries`
    /// one to one, in order, and that no table carries more entries than asked for.
    /// Other answers need no check and pass.
    pub fn validate_for(&self, queries: &[TableQuery]) -> Result<(), ResponseMismatch> {
        let PoolResponse::LookupTables(results) = self else {
            return Ok(());
        };
        if results.len() != queries.len() {
            return Err(ResponseMismatch::Count {
                asked: queries.len(),
                got: results.len(),
            });
        }
        for (index, (r, q)) in results.iter().zip(queries).enumerate() {
            if r.table != q.table {
                return Err(ResponseMismatch::Table { index });
            }
            if let TableOutcome::Found(entries) = &r.outcome {
                if entries.len() > usize::from(q.entries_needed) {
                    return Err(ResponseMismatch::TooLong {
                        index,
                        asked: q.entries_needed,
                        got: entries.len(),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::{LookupTableContents, SignRequest, SignerRequest};
    use crate::{decode_payload, encode, read_frame, Envelope, FrameError, MAX_FRAME};

    fn q(n: u8, entries_needed: u16) -> TableQuery {
        TableQuery {
            table: [n; 32],
            entries_needed,
        }
    }

    #[test]
    fn requests_and_responses_round_trip_through_the_codec() {
        let req = Envelope {
            id: 9,
            body: PoolRequest::LookupTables(vec![q(1, 3), q(2, 256)]),
        };
        let frame = encode(&req).unwrap();
        let got: Envelope<PoolRequest> = read_frame(&mut frame.as_slice()).unwrap();
        assert_eq!(got, req);

        for body in [
            PoolResponse::LookupTables(vec![
                TableResult {
                    table: [1; 32],
                    outcome: TableOutcome::Found(vec![[3; 32], [4; 32]]),
                    tag: None,
                },
                TableResult {
                    table: [2; 32],
                    outcome: TableOutcome::NotFound,
                    tag: None,
                },
                TableResult {
                    table: [3; 32],
                    outcome: TableOutcome::NotALookupTable("owner is x".into()),
                    tag: None,
                },
                TableResult {
                    table: [4; 32],
                    outcome: TableOutcome::Unavailable("timed out".into()),
                    tag: None,
                },
            ]),
            PoolResponse::NotConfigured,
            PoolResponse::Refused(PoolRefusal::TooManyTables { count: 40 }),
        ] {
            let resp = Envelope { id: 9, body };
            let frame = encode(&resp).unwrap();
            let got: Envelope<PoolResponse> = read_frame(&mut frame.as_slice()).unwrap();
            assert_eq!(got, resp);
        }
    }

    #[test]
    fn request_limits() {
        let ok = PoolRequest::LookupTables((0..32).map(|i| q(i, 96)).collect());
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(PoolRequest::LookupTables(Vec::new()).validate(), Ok(()));

        let too_many = PoolRequest::LookupTables((0..33).map(|i| q(i, 1)).collect());
        assert_eq!(
            too_many.validate(),
            Err(PoolRefusal::TooManyTables { count: 33 })
        );
        let too_much = PoolRequest::LookupTables((0..13).map(|i| q(i, 256)).collect());
        assert_eq!(
            too_much.validate(),
            Err(PoolRefusal::TooManyEntries { requested: 3328 })
        );
        for bad in [0, 257, u16::MAX] {
            assert_eq!(
                PoolRequest::LookupTables(vec![q(1, bad)]).validate(),
                Err(PoolRefusal::BadEntriesNeeded {
                    entries_needed: bad
                })
            );
        }
        assert_eq!(
            PoolRequest::LookupTables(vec![q(1, 1), q(2, 1), q(1, 2)]).validate(),
            Err(PoolRefusal::DuplicateTable)
        );
    }

    #[test]
    fn responses_must_match_their_request() {
        let queries = [q(1, 2), q(2, 1)];
        let found = |t: u8, n: usize| TableResult {
            table: [t; 32],
            outcome: TableOutcome::Found(vec![[0; 32]; n]),
            tag: None,
        };
        let good = PoolResponse::LookupTables(vec![found(1, 2), found(2, 0)]);
        assert_eq!(good.validate_for(&queries), Ok(()));
        assert_eq!(PoolResponse::NotConfigured.validate_for(&queries), Ok(()));
        assert_eq!(
            PoolResponse::LookupTables(vec![found(1, 2)]).validate_for(&queries),
            Err(ResponseMismatch::Count { asked: 2, got: 1 })
        );
        assert_eq!(
            PoolResponse::LookupTables(vec![found(2, 1), found(1, 1)]).validate_for(&queries),
            Err(ResponseMismatch::Table { index: 0 })
        );
        assert_eq!(
            PoolResponse::LookupTables(vec![found(1, 2), found(2, 2)]).validate_for(&queries),
            Err(ResponseMismatch::TooLong {
                index: 1,
                asked: 1,
                got: 2
            })
        );
    }

    #[test]
    fn a_maximal_answer_fits_in_one_frame() {
        // 12 full tables = 3072 entries, the most one request may ask for.
        let results = (0..12)
            .map(|i| TableResult {
                table: [i; 32],
                outcome: TableOutcome::Found(vec![[0xff; 32]; MAX_TABLE_ENTRIES]),
                tag: None,
            })
            .collect();
        let frame = encode(&Envelope {
            id: u64::MAX,
            body: PoolResponse::LookupTables(results),
        })
        .unwrap();
        assert!(frame.len() <= MAX_FRAME, "{}", frame.len());
    }

    #[test]
    fn a_maximal_sign_request_fits_in_one_frame() {
        // The bridge forwards at most MAX_LOOKUP_ENTRIES trusted and as many offered
        // entries, with a 4096-byte transaction and 64 records of the largest size.
        let tables = |fill: u8| {
            (0..12)
                .map(|i| LookupTableContents {
                    table: [i; 32],
                    addresses: vec![[fill; 32]; MAX_TABLE_ENTRIES],
                })
                .collect::<Vec<_>>()
        };
        let req = SignerRequest::Sign(SignRequest {
            wallet: [1; 32],
            record: vec![0xff; 175 + 64],
            related_records: vec![vec![0xff; 175 + 64]; 64],
            transaction: vec![0xff; 4096],
            lookup_tables: tables(0xfe)
                .into_iter()
                .map(|contents| crate::signer::TrustedTable {
                    contents,
                    tag: [0xff; 32],
                })
                .collect(),
            offered_lookup_tables: tables(0xfd),
            intent: Some(crate::signer::Intent::Swap {
                input_mint: [2; 32],
                output_mint: [3; 32],
                max_amount_in: u64::MAX,
                min_amount_out: u64::MAX,
            }),
            security_record: Some(vec![0xfc; 512]),
        });
        let frame = encode(&Envelope {
            id: u64::MAX,
            body: req,
        })
        .unwrap();
        assert!(frame.len() <= MAX_FRAME, "{}", frame.len());
    }

    #[test]
    fn garbage_payloads_are_errors() {
        for bytes in [&[][..], &[7][..], &[0, 40][..], &[0, 1, 1, 2][..]] {
            assert!(matches!(
                decode_payload::<Envelope<PoolRequest>>(bytes),
                Err(FrameError::Malformed(_))
            ));
        }
        assert!(decode_payload::<Envelope<PoolResponse>>(&[0, 9]).is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::codec::MAGIC;
    use crate::{read_frame, Envelope, PROTOCOL_VERSION};
    use proptest::prelude::*;

    proptest! {
        /// Whatever the other side sends, reading never panics.
        #[test]
        fn arbitrary_payloads_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let mut frame = vec![MAGIC, PROTOCOL_VERSION, 0, 0];
            frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            frame.extend_from_slice(&payload);
            if let Ok(Envelope { body, .. }) = read_frame::<Envelope<PoolRequest>, _>(&mut frame.as_slice()) {
                let _ = body.validate();
            }
            if let Ok(Envelope { body, .. }) = read_frame::<Envelope<PoolResponse>, _>(&mut frame.as_slice()) {
                let _ = body.validate_for(&[]);
            }
        }
    }

    #[test]
    fn table_tags_bind_the_key_the_table_and_every_entry() {
        let key = ViewKey::new([9; 32]);
        let entries = vec![[1; 32], [2; 32]];
        let tag = key.table_tag(&[7; 32], &entries);
        assert!(key.verify_table(&[7; 32], &entries, &tag));
        assert!(!key.verify_table(&[8; 32], &entries, &tag), "another table");
        assert!(!key.verify_table(&[7; 32], &entries[..1], &tag), "a prefix");
        assert!(
            !key.verify_table(&[7; 32], &[[1; 32], [3; 32]], &tag),
            "an entry swapped"
        );
        assert!(
            !ViewKey::new([8; 32]).verify_table(&[7; 32], &entries, &tag),
            "another key"
        );
        assert!(
            ViewKey::from_bytes(&[9; 32]).verify_table(&[7; 32], &entries, &tag),
            "from_bytes is the same key as new"
        );
    }
}
