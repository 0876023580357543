//! The gRPC API for the bot backend.

use crate::devpki::ServerTls;
use crate::pool_link::PoolLink;
use crate::relay::Decisions;
use crate::signer_link::{LinkError, SignerLink};
use crate::tables;
use custos_api::v1::custos_server::{Custos, CustosServer};
use custos_api::v1::{
    AttestRequest, AttestResponse, AwaitDecisionRequest, AwaitDecisionResponse, ComponentHealth,
    CreateLinkRequest, CreateLinkResponse, CreateWalletRequest, DecisionStatus,
    ExportWalletRequest, ExportWalletResponse, GetLinkRequest, GetLinkResponse, GetWalletRequest,
    HealthRequest, HealthResponse, ListWalletsRequest, ListWalletsResponse, PcrValue, SignStatus,
    SignTransactionBatchRequest, SignTransactionBatchResponse, SignTransactionRequest,
    SignTransactionResponse, Wallet,
};
use custos_ipc::pool::{PoolResponse, TableOutcome, TableQuery, TelegramStatus};
use custos_ipc::signer::{
    CreateWallet, ErrorKind, ExportRequest, LookupTableContents, SignOutcome, SignRequest,
    SignerError, SignerRequest, SignerResponse, TrustedTable,
};
use custos_store::{
    ConfirmationDecision, ConfirmationInsert, ConfirmationRow, ConfirmationState, InsertOutcome,
    PublicKey, Store, StoreError, WalletRow,
};
use futures::StreamExt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};

/// Most transactions in one batch call.
pub const MAX_BATCH: usize = 1024;
/// Most requests of one stream being worked on at once.
pub const STREAM_CONCURRENCY: usize = 512;
/// Largest transaction accepted (a V1 transaction is at most 4096 bytes).
pub const MAX_TRANSACTION_BYTES: usize = 4096;
/// Longest idempotency key.
pub const MAX_IDEMPOTENCY_KEY: usize = 128;
/// Most records of other wallets handed to the signer with one request (the
/// signer's own limit).
pub const MAX_RELATED_RECORDS: usize = 64;
/// Longest `AwaitDecision` wait; longer requests are cut to this.
pub const MAX_AWAIT_MS: u64 = 600_000;
/// Shortest attestation nonce accepted: shorter ones could repeat.
pub const MIN_ATTEST_NONCE: usize = 16;
/// Longest attestation nonce: a TPM quote carries at most one SHA-256 digest.
pub const MAX_ATTEST_NONCE: usize = 32;
/// Why confirmations pending at start-up are failed: the signer keeps them in memory,
/// so a restart loses them (fail closed: never approved, never signed).
pub const RESTART_REASON: &str = "Custos restarted before the user decided; nothing was signed";

/// The API's state: the store and the links to the signer and the pool.
#[derive(Clone)]
pub struct Api {
    store: Arc<dyn Store>,
    signer: SignerLink,
    pool: PoolLink,
    /// Cleared once the pool says it has no RPC endpoint: that is fixed for the life
    /// of the process, so later requests skip the round trip.
    pool_has_chain: Arc<std::sync::atomic::AtomicBool>,
    /// Wakes `AwaitDecision` calls.
    decisions: Arc<Decisions>,
}

impl Api {
    /// Creates the service.
    pub fn new(
        store: Arc<dyn Store>,
        signer: SignerLink,
        pool: PoolLink,
        decisions: Arc<Decisions>,
    ) -> Self {
        Self {
            store,
            signer,
            pool,
            pool_has_chain: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            decisions,
        }
    }

    /// Contents of the tables in `queries` as the pool reads them from the chain.
    /// Whatever the pool cannot provide is simply missing: those accounts stay
    /// unresolved, which makes the verdict stricter, never looser.
    async fn trusted_tables(&self, queries: Vec<TableQuery>) -> Vec<TrustedTable> {
        use std::sync::atomic::Ordering::Relaxed;
        if !self.pool_has_chain.load(Relaxed) {
            return Vec::new();
        }
        match self.pool.lookup_tables(queries).await {
            Ok(PoolResponse::LookupTables(results)) => results
                .into_iter()
                .filter_map(|r| match (r.outcome, r.tag) {
                    // Passed on as read: the signer checks the pool's tag.
                    (TableOutcome::Found(addresses), Some(tag)) => Some(TrustedTable {
                        contents: LookupTableContents {
                            table: r.table,
                            addresses,
                        },
                        tag,
                    }),
                    (TableOutcome::Found(_), None) => None,
                    // The pool logs why (once per fetch, not once per request).
                    (
                        outcome @ (TableOutcome::NotFound
                        | TableOutcome::NotALookupTable(_)
                        | TableOutcome::Unavailable(_)),
                        _,
                    ) => {
                        tracing::debug!(
                            table = %bs58::encode(r.table).into_string(),
                            ?outcome,
                            "no trusted contents for a lookup table; its accounts stay unresolved"
                        );
                        None
                    }
                })
                .collect(),
            Ok(PoolResponse::NotConfigured) => {
                self.pool_has_chain.store(false, Relaxed);
                Vec::new()
            }
            Ok(PoolResponse::Refused(refusal)) => {
                tracing::warn!(%refusal, "the pool refused a lookup table request; signing without trusted tables");
                Vec::new()
            }
            Ok(
                PoolResponse::Delivered { .. }
                | PoolResponse::Events { .. }
                | PoolResponse::Telegram(_),
            ) => {
                tracing::warn!("the pool answered a lookup table request with something else");
                Vec::new()
            }
            Err(e) => {
                tracing::warn!(error = %e, "signing without trusted lookup tables");
                Vec::new()
            }
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Status> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| Status::internal(format!("store task failed: {e}")))?
            .map_err(store_status)
    }

    /// The signing path as seen from the bridge: look up the wallet's sealed
    /// record and those of any other Custos wallets named in the transaction,
    /// and hand all of it to the signer, which decides.
    async fn sign_one(&self, req: SignTransactionRequest) -> SignTransactionResponse {
        let request_id = req.request_id;
        match self.try_sign(req).await {
            Ok(response) => response,
            Err(status) => error_response(request_id, &status),
        }
    }

    /// Signs one request. A `confirm` verdict becomes a stored confirmation whose
    /// message goes to the pool; a retry (same wallet and idempotency key) of a request
    /// that asked for confirmation gets that confirmation back, never a second message.
    async fn try_sign(
        &self,
        req: SignTransactionRequest,
    ) -> Result<SignTransactionResponse, Status> {
        let request_id = req.request_id;
        let wallet = parse_pubkey(&req.wallet)?;
        if req.transaction.is_empty() || req.transaction.len() > MAX_TRANSACTION_BYTES {
            return Err(Status::invalid_argument(format!(
                "transaction must be 1-{MAX_TRANSACTION_BYTES} bytes, got {}",
                req.transaction.len()
            )));
        }
        if req.idempotency_key.len() > MAX_IDEMPOTENCY_KEY {
            return Err(Status::invalid_argument("idempotency_key is too long"));
        }
        let offered = tables::parse_offered(&req.offered_lookup_tables)?;
        let intent = req.intent.as_ref().map(tables::parse_intent).transpose()?;
        // Point reads by primary key take microseconds (WAL readers never wait
        // for the writer), so they run on the async worker: handing each to the
        // blocking pool costs more in thread wake-ups than the read itself and
        // dominates tail latency at thousands of signatures per second.
        let row = self.store.get_wallet(&wallet).map_err(store_status)?;
        let row = row.ok_or_else(|| {
            Status::not_found(format!("wallet {} is not managed by Custos", req.wallet))
        })?;
        let idempotency_key = Some(req.idempotency_key.clone()).filter(|k| !k.is_empty());
        if let Some(key) = &idempotency_key {
            if let Some(existing) = self
                .store
                .confirmation_by_idempotency_key(&wallet, key)
                .map_err(store_status)?
            {
                return Ok(existing_confirmation_response(request_id, &existing));
            }
        }
        // The owner's linked Telegram account, sealed by the signer (which
        // authenticates it); without one a `confirm` verdict is refused.
        let security_record = self
            .store
            .get_security_record(&row.user_id)
            .map_err(store_status)?
            .map(|r| r.record);
        let user_id = row.user_id.clone();
        let parsed = custos_txdecode::ParsedTransaction::parse(&req.transaction).ok();
        let lookups = parsed.as_ref().map(tables::lookups_of).unwrap_or_default();
        // The tables the transaction uses, read by the pool from the chain; the
        // offered ones cut to the same tables and entries.
        let (queries, left_out) = tables::table_queries(&lookups);
        if left_out {
            tracing::warn!(
                "transaction uses more lookup table entries than one request carries; \
                 the accounts of the tables left out stay unresolved"
            );
        }
        let trusted = if queries.is_empty() {
            Vec::new()
        } else {
            self.trusted_tables(queries.clone()).await
        };
        let offered = tables::trim(offered, &queries);
        // Other accounts of the transaction that may be Custos wallets: static keys
        // first, then those found through trusted tables, then through offered
        // ones. The signer authenticates each record and keeps only the same
        // user's; nothing here vouches for ownership.
        let mut others: Vec<PublicKey> = parsed
            .as_ref()
            .map(|tx| {
                tx.static_account_keys()
                    .iter()
                    .map(|k| k.to_bytes())
                    .collect()
            })
            .unwrap_or_default();
        let trusted_contents: Vec<LookupTableContents> =
            trusted.iter().map(|t| t.contents.clone()).collect();
        others.extend(tables::resolve(&lookups, &trusted_contents));
        others.extend(tables::resolve(&lookups, &offered));
        let mut seen = std::collections::HashSet::with_capacity(others.len());
        others.retain(|k| *k != wallet && seen.insert(*k));
        others.truncate(custos_store::MAX_GET_WALLETS);
        let mut related = if others.is_empty() {
            Vec::new()
        } else {
            self.store.get_wallets(&others).map_err(store_status)?
        };
        related.truncate(MAX_RELATED_RECORDS);
        let request = SignRequest {
            wallet,
            record: row.record,
            related_records: related.into_iter().map(|r| r.record).collect(),
            transaction: req.transaction,
            lookup_tables: trusted,
            offered_lookup_tables: offered,
            intent,
            security_record,
        };
        let outcome = match self.signer.call(SignerRequest::Sign(request)).await {
            Ok(SignerResponse::Sign(outcome)) => outcome,
            Ok(SignerResponse::Error(e)) => return Err(signer_status(e)),
            Ok(_) => return Err(link_status(LinkError::Unexpected)),
            Err(e) => return Err(link_status(e)),
        };
        match outcome {
            SignOutcome::Pending {
                summary,
                reasons,
                confirmation_id,
                expires_in_secs,
                to_pool,
            } => {
                let created_at = now();
                let confirmation = ConfirmationRow::pending(
                    confirmation_id,
                    wallet,
                    user_id,
                    idempotency_key,
                    summary,
                    created_at,
                    created_at.saturating_add(i64::from(expires_in_secs)),
                );
                self.start_confirmation(request_id, confirmation, reasons, to_pool)
                    .await
            }
            other => Ok(outcome_response(request_id, other)),
        }
    }

    /// A `confirm` verdict: store the confirmation durably, then hand its message to
    /// the pool, then answer PENDING. If the pool does not take the message, the
    /// confirmation is failed (the user can never see it) and the answer is REJECTED.
    async fn start_confirmation(
        &self,
        request_id: u64,
        confirmation: ConfirmationRow,
        reasons: Vec<String>,
        to_pool: custos_ipc::channel::Sealed,
    ) -> Result<SignTransactionResponse, Status> {
        if !custos_store::is_confirmation_id(&confirmation.id) {
            tracing::error!(id = %confirmation.id, "the signer sent a malformed confirmation id");
            return Err(Status::internal(
                "the signer sent a malformed confirmation id; nothing was signed",
            ));
        }
        let row = confirmation.clone();
        match self.blocking(move |s| s.insert_confirmation(&row)).await? {
            ConfirmationInsert::Inserted => {}
            // A concurrent retry with the same key won: answer with its confirmation.
            // Ours is never delivered; the signer expires it.
            ConfirmationInsert::Existing(existing) => {
                return Ok(existing_confirmation_response(request_id, &existing));
            }
        }
        let failure = match self.pool.deliver(vec![to_pool]).await {
            Ok(n) if n >= 1 => None,
            Ok(_) => Some("the Telegram client refused the confirmation message".to_owned()),
            Err(e) => Some(format!(
                "the confirmation message could not be handed to the Telegram client ({e})"
            )),
        };
        let Some(why) = failure else {
            tracing::info!(confirmation = %confirmation.id, "confirmation sent to the pool");
            return Ok(SignTransactionResponse {
                request_id,
                status: SignStatus::Pending as i32,
                summary: confirmation.summary,
                reasons,
                confirmation_id: confirmation.id,
                expires_at: confirmation.expires_at,
                ..Default::default()
            });
        };
        let reason = format!("{why}; nothing was signed");
        tracing::warn!(confirmation = %confirmation.id, %reason, "confirmation failed");
        let (id, decision) = (
            confirmation.id.clone(),
            ConfirmationDecision::Failed {
                reason: reason.clone(),
            },
        );
        let decided = self
            .blocking(move |s| s.decide(&id, &decision, now()))
            .await;
        self.decisions.notify();
        // If a decision got there first (it cannot be an approval: the message never
        // reached the user), report what is stored.
        let stored = self
            .store
            .get_confirmation(&confirmation.id)
            .map_err(store_status)?;
        match (decided, stored) {
            (Ok(_), Some(row)) => Ok(existing_confirmation_response(request_id, &row)),
            (Err(e), _) => Err(e),
            (Ok(_), None) => Err(Status::internal("confirmation vanished from the store")),
        }
    }

    /// The user's stored security record (their link), if any.
    async fn security_record(
        &self,
        user_id: String,
    ) -> Result<Option<custos_store::SecurityRecordRow>, Status> {
        self.store
            .get_security_record(&user_id)
            .map_err(store_status)
    }
}

/// Checks a user id the way the signer does: 1-64 characters of `[A-Za-z0-9._:@-]`.
fn validate_user_id(user_id: &str) -> Result<(), Status> {
    let ok = !user_id.is_empty()
        && user_id.len() <= 64
        && user_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'@' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Status::invalid_argument(
            "user_id must be 1-64 characters of [A-Za-z0-9._:@-]",
        ))
    }
}

/// Parses a confirmation id: 32 hex characters, either case (stored lowercase).
fn parse_confirmation_id(id: &str) -> Result<String, Status> {
    let id = id.to_ascii_lowercase();
    if custos_store::is_confirmation_id(&id) {
        Ok(id)
    } else {
        Err(Status::invalid_argument(
            "confirmation_id must be 32 hex characters",
        ))
    }
}

/// A Telegram bot username as Telegram allows it (letters, digits, underscores).
fn valid_bot_username(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A `/start` payload as Telegram allows it: 1-64 characters of `[A-Za-z0-9_-]`.
fn valid_start_payload(payload: &str) -> bool {
    (1..=64).contains(&payload.len())
        && payload
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Words for a refusal whose row carries no reason.
fn default_reason(state: ConfirmationState) -> &'static str {
    match state {
        ConfirmationState::Rejected => "the user rejected the transaction in Telegram",
        ConfirmationState::Expired => {
            "nobody confirmed the transaction in Telegram before it expired"
        }
        ConfirmationState::Failed => "the confirmation could not be completed; nothing was signed",
        ConfirmationState::Pending => "waiting for the user's confirmation in Telegram",
        ConfirmationState::Approved => "",
        ConfirmationState::Exported => "the key was exported to the user's browser",
    }
}

fn row_reason(row: &ConfirmationRow) -> String {
    row.reason
        .clone()
        .unwrap_or_else(|| default_reason(row.state).to_owned())
}

/// The answer to a signing request that already has a confirmation: PENDING while it
/// waits, SIGNED once approved, REJECTED (with the reason) otherwise; always with the
/// confirmation id.
pub fn existing_confirmation_response(
    request_id: u64,
    row: &ConfirmationRow,
) -> SignTransactionResponse {
    let base = SignTransactionResponse {
        request_id,
        summary: row.summary.clone(),
        confirmation_id: row.id.clone(),
        ..Default::default()
    };
    match row.state {
        ConfirmationState::Pending => SignTransactionResponse {
            status: SignStatus::Pending as i32,
            reasons: vec![default_reason(row.state).to_owned()],
            expires_at: row.expires_at,
            ..base
        },
        ConfirmationState::Approved => SignTransactionResponse {
            status: SignStatus::Signed as i32,
            transaction: row.transaction.clone().unwrap_or_default(),
            signature: row.signature.clone().unwrap_or_default(),
            ..base
        },
        // An export never answers a signing request; kept total.
        ConfirmationState::Rejected
        | ConfirmationState::Expired
        | ConfirmationState::Failed
        | ConfirmationState::Exported => SignTransactionResponse {
            status: SignStatus::Rejected as i32,
            reasons: vec![row_reason(row)],
            ..base
        },
    }
}

/// The `AwaitDecision` answer for a stored confirmation.
pub fn decision_response(row: &ConfirmationRow) -> AwaitDecisionResponse {
    let status = match row.state {
        ConfirmationState::Pending => DecisionStatus::Pending,
        ConfirmationState::Approved => DecisionStatus::Approved,
        ConfirmationState::Rejected => DecisionStatus::Rejected,
        ConfirmationState::Expired => DecisionStatus::Expired,
        ConfirmationState::Failed => DecisionStatus::Failed,
        ConfirmationState::Exported => DecisionStatus::Exported,
    };
    let reason = match row.state {
        ConfirmationState::Pending | ConfirmationState::Approved => String::new(),
        _ => row_reason(row),
    };
    AwaitDecisionResponse {
        confirmation_id: row.id.clone(),
        status: status as i32,
        transaction: row.transaction.clone().unwrap_or_default(),
        signature: row.signature.clone().unwrap_or_default(),
        reason,
        wallet: bs58::encode(row.wallet).into_string(),
        expires_at: row.expires_at,
        decided_at: row.decided_at.unwrap_or(0),
    }
}

/// The pool's component in `Health`: its Telegram client.
fn telegram_detail(t: &TelegramStatus) -> String {
    if !t.configured {
        return "telegram: not configured (confirmations off)".into();
    }
    let mut d = format!(
        "telegram: configured, bot {}, {} sent, {} queued, {} updates",
        t.bot_username
            .as_deref()
            .map(|u| format!("@{u}"))
            .unwrap_or_else(|| "(not connected yet)".into()),
        t.sent,
        t.queued,
        t.updates
    );
    if let Some(e) = &t.last_error {
        d.push_str(&format!(", last error: {e}"));
    }
    d
}

/// Unix seconds now.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn parse_pubkey(s: &str) -> Result<PublicKey, Status> {
    let mut out = [0u8; 32];
    match bs58::decode(s).onto(&mut out) {
        Ok(32) => Ok(out),
        _ => Err(Status::invalid_argument(format!(
            "'{s}' is not a base58 Solana public key (32 bytes)"
        ))),
    }
}

fn validate_idempotency_key(key: &str) -> Result<(), Status> {
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Status::invalid_argument(format!(
            "idempotency_key is required: 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters"
        )));
    }
    Ok(())
}

/// A retry must ask for the same thing as the request that used the key first.
fn same_request(existing: WalletRow, telegram_id: Option<u64>) -> Result<WalletRow, Status> {
    if existing.telegram_id == telegram_id {
        Ok(existing)
    } else {
        Err(Status::failed_precondition(
            "idempotency_key was already used for this user with a different telegram_id",
        ))
    }
}

fn wallet_of(row: WalletRow) -> Wallet {
    Wallet {
        pubkey: bs58::encode(row.pubkey).into_string(),
        user_id: row.user_id,
        telegram_id: row.telegram_id,
        wallet_id: hex::encode(row.wallet_id),
        flags: row.flags,
        created_at: row.created_at,
    }
}

fn store_status(e: StoreError) -> Status {
    match e {
        StoreError::TelegramIdOutOfRange(_) | StoreError::TooManyKeys { .. } => {
            Status::invalid_argument(e.to_string())
        }
        other => {
            tracing::error!(error = %other, "store error");
            Status::internal(format!("store: {other}"))
        }
    }
}

fn signer_status(e: SignerError) -> Status {
    match e.kind {
        ErrorKind::InvalidRequest => Status::invalid_argument(e.message),
        ErrorKind::Integrity => {
            tracing::error!(error = %e.message, "integrity failure");
            Status::data_loss(format!("integrity: {}", e.message))
        }
        ErrorKind::FailedPrecondition => Status::failed_precondition(e.message),
        ErrorKind::Internal => Status::internal(e.message),
    }
}

fn link_status(e: LinkError) -> Status {
    Status::unavailable(e.to_string())
}

fn outcome_response(request_id: u64, outcome: SignOutcome) -> SignTransactionResponse {
    match outcome {
        SignOutcome::Signed {
            transaction,
            signature,
            summary,
        } => SignTransactionResponse {
            request_id,
            status: SignStatus::Signed as i32,
            transaction,
            signature,
            summary,
            ..Default::default()
        },
        // Handled by `Api::start_confirmation`; kept total for safety.
        SignOutcome::Pending {
            summary,
            reasons,
            confirmation_id,
            ..
        } => SignTransactionResponse {
            request_id,
            status: SignStatus::Pending as i32,
            summary,
            reasons,
            confirmation_id,
            ..Default::default()
        },
        SignOutcome::Rejected { summary, reasons } => SignTransactionResponse {
            request_id,
            status: SignStatus::Rejected as i32,
            summary,
            reasons,
            ..Default::default()
        },
    }
}

/// Maps an error to the response form used by batch and stream calls.
fn error_response(request_id: u64, status: &Status) -> SignTransactionResponse {
    let kind = match status.code() {
        tonic::Code::NotFound => "not_found",
        tonic::Code::InvalidArgument => "invalid",
        tonic::Code::DataLoss => "integrity",
        tonic::Code::FailedPrecondition => "failed_precondition",
        tonic::Code::Unavailable => "unavailable",
        _ => "internal",
    };
    SignTransactionResponse {
        request_id,
        status: SignStatus::Error as i32,
        reasons: vec![status.message().to_owned()],
        error_kind: kind.into(),
        ..Default::default()
    }
}

type SignStream =
    Pin<Box<dyn futures::Stream<Item = Result<SignTransactionResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Custos for Api {
    async fn health(&self, _: Request<HealthRequest>) -> Result<Response<HealthResponse>, Status> {
        let signer = self.signer.health().await;
        let store = self.blocking(|s| s.health()).await;
        let mut components = vec![ComponentHealth {
            component: "bridge".into(),
            ok: true,
            detail: "serving".into(),
        }];
        components.push(ComponentHealth {
            component: "store".into(),
            ok: store.is_ok(),
            detail: store
                .err()
                .map(|e| e.message().to_owned())
                .unwrap_or_else(|| "ok".into()),
        });
        let (seal, seal_secure) = match &signer {
            Ok(h) => (h.seal.clone(), h.seal_secure),
            Err(_) => (String::new(), false),
        };
        components.push(ComponentHealth {
            component: "signer".into(),
            ok: signer.is_ok(),
            detail: match &signer {
                Ok(h) => format!("{} signatures since start", h.signatures),
                Err(e) => e.to_string(),
            },
        });
        let telegram = self.pool.telegram_status().await;
        components.push(ComponentHealth {
            component: "pool".into(),
            ok: telegram.is_ok(),
            detail: match &telegram {
                Ok(t) => telegram_detail(t),
                Err(e) => e.to_string(),
            },
        });
        Ok(Response::new(HealthResponse {
            ok: components.iter().all(|c| c.ok),
            components,
            seal,
            seal_secure,
        }))
    }

    async fn create_wallet(
        &self,
        request: Request<CreateWalletRequest>,
    ) -> Result<Response<Wallet>, Status> {
        let req = request.into_inner();
        validate_idempotency_key(&req.idempotency_key)?;
        // A retry after success returns the wallet made the first time.
        let (user, key) = (req.user_id.clone(), req.idempotency_key.clone());
        if let Some(row) = self
            .blocking(move |s| s.wallet_by_idempotency_key(&user, &key))
            .await?
        {
            return same_request(row, req.telegram_id).map(|w| Response::new(wallet_of(w)));
        }
        let created = match self
            .signer
            .call(SignerRequest::CreateWallet(CreateWallet {
                user_id: req.user_id,
                telegram_id: req.telegram_id,
            }))
            .await
        {
            Ok(SignerResponse::WalletCreated(w)) => w,
            Ok(SignerResponse::Error(e)) => return Err(signer_status(e)),
            Ok(_) => return Err(link_status(LinkError::Unexpected)),
            Err(e) => return Err(link_status(e)),
        };
        let row = WalletRow {
            pubkey: created.pubkey,
            wallet_id: created.wallet_id,
            user_id: created.user_id,
            telegram_id: created.telegram_id,
            flags: created.flags,
            record: created.record,
            created_at: now(),
        };
        // Durable before the public key leaves: the store commits with fsync.
        let key = req.idempotency_key;
        let inserted = row.clone();
        let outcome = self
            .blocking(move |s| s.insert_wallet(&inserted, Some(&key)))
            .await?;
        let wallet = match outcome {
            InsertOutcome::Inserted => row,
            // A concurrent retry won; ours was never stored nor revealed.
            InsertOutcome::Existing(existing) => same_request(existing, req.telegram_id)?,
        };
        tracing::info!(wallet = %bs58::encode(wallet.pubkey).into_string(), "wallet created");
        Ok(Response::new(wallet_of(wallet)))
    }

    async fn get_wallet(
        &self,
        request: Request<GetWalletRequest>,
    ) -> Result<Response<Wallet>, Status> {
        let pubkey = parse_pubkey(&request.get_ref().pubkey)?;
        match self.blocking(move |s| s.get_wallet(&pubkey)).await? {
            Some(row) => Ok(Response::new(wallet_of(row))),
            None => Err(Status::not_found(format!(
                "wallet {} is not managed by Custos",
                request.get_ref().pubkey
            ))),
        }
    }

    async fn list_wallets(
        &self,
        request: Request<ListWalletsRequest>,
    ) -> Result<Response<ListWalletsResponse>, Status> {
        let user = request.into_inner().user_id;
        if user.is_empty() {
            return Err(Status::invalid_argument("user_id is required"));
        }
        let rows = self.blocking(move |s| s.list_wallets(&user)).await?;
        Ok(Response::new(ListWalletsResponse {
            wallets: rows.into_iter().map(wallet_of).collect(),
        }))
    }

    async fn sign_transaction(
        &self,
        request: Request<SignTransactionRequest>,
    ) -> Result<Response<SignTransactionResponse>, Status> {
        Ok(Response::new(self.try_sign(request.into_inner()).await?))
    }

    async fn sign_transaction_batch(
        &self,
        request: Request<SignTransactionBatchRequest>,
    ) -> Result<Response<SignTransactionBatchResponse>, Status> {
        let requests = request.into_inner().requests;
        if requests.len() > MAX_BATCH {
            return Err(Status::invalid_argument(format!(
                "batch of {} exceeds the limit of {MAX_BATCH}",
                requests.len()
            )));
        }
        let responses =
            futures::future::join_all(requests.into_iter().map(|r| self.sign_one(r))).await;
        Ok(Response::new(SignTransactionBatchResponse { responses }))
    }

    type SignTransactionStreamStream = SignStream;

    async fn sign_transaction_stream(
        &self,
        request: Request<Streaming<SignTransactionRequest>>,
    ) -> Result<Response<Self::SignTransactionStreamStream>, Status> {
        let mut incoming = request.into_inner();
        let (tx, rx) = mpsc::channel(STREAM_CONCURRENCY);
        let api = self.clone();
        let permits = Arc::new(Semaphore::new(STREAM_CONCURRENCY));
        tokio::spawn(async move {
            while let Some(item) = incoming.next().await {
                let req = match item {
                    Ok(r) => r,
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        break;
                    }
                };
                let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                    break;
                };
                let (api, tx) = (api.clone(), tx.clone());
                tokio::spawn(async move {
                    let resp = api.sign_one(req).await;
                    let _ = tx.send(Ok(resp)).await;
                    drop(permit);
                });
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn create_link(
        &self,
        request: Request<CreateLinkRequest>,
    ) -> Result<Response<CreateLinkResponse>, Status> {
        Ok(Response::new(
            self.create_link_impl(request.into_inner()).await?,
        ))
    }

    async fn get_link(
        &self,
        request: Request<GetLinkRequest>,
    ) -> Result<Response<GetLinkResponse>, Status> {
        let user_id = request.into_inner().user_id;
        validate_user_id(&user_id)?;
        // The stored copy; the signer authenticates the sealed record whenever it
        // uses it, so a tampered row cannot redirect a confirmation.
        let record = self.security_record(user_id).await?;
        Ok(Response::new(GetLinkResponse {
            linked: record.is_some(),
            telegram_id: record.map(|r| r.telegram_id),
        }))
    }

    async fn await_decision(
        &self,
        request: Request<AwaitDecisionRequest>,
    ) -> Result<Response<AwaitDecisionResponse>, Status> {
        Ok(Response::new(
            self.await_decision_impl(request.into_inner()).await?,
        ))
    }

    async fn export_wallet(
        &self,
        request: Request<ExportWalletRequest>,
    ) -> Result<Response<ExportWalletResponse>, Status> {
        Ok(Response::new(
            self.export_wallet_impl(request.into_inner()).await?,
        ))
    }

    async fn attest(
        &self,
        request: Request<AttestRequest>,
    ) -> Result<Response<AttestResponse>, Status> {
        Ok(Response::new(self.attest_impl(request.into_inner()).await?))
    }
}

impl Api {
    /// A TPM quote from the signer, with the caller's nonce. The bridge only relays: it
    /// cannot forge a quote (the attestation key never leaves the TPM).
    async fn attest_impl(&self, req: AttestRequest) -> Result<AttestResponse, Status> {
        if !(MIN_ATTEST_NONCE..=MAX_ATTEST_NONCE).contains(&req.nonce.len()) {
            return Err(Status::invalid_argument(format!(
                "nonce must be {MIN_ATTEST_NONCE} to {MAX_ATTEST_NONCE} bytes, got {}",
                req.nonce.len()
            )));
        }
        let a = self
            .signer
            .attest(req.nonce)
            .await
            .map_err(link_status)?
            .map_err(signer_status)?;
        Ok(AttestResponse {
            ak_public: a.ak_public,
            quote: a.quote,
            signature: a.signature,
            pcrs: a
                .pcrs
                .iter()
                .map(|p| PcrValue {
                    index: u32::from(p.index),
                    sha256: p.value.to_vec(),
                })
                .collect(),
            event_log: a.event_log,
            image_version: a.image_version.unwrap_or(0),
        })
    }

    /// Asks the owner to export a wallet's key: the signer prepares the Telegram
    /// message; the confirmation is stored durably before the message is handed to the
    /// pool, as for a `confirm` verdict.
    async fn export_wallet_impl(
        &self,
        req: ExportWalletRequest,
    ) -> Result<ExportWalletResponse, Status> {
        let wallet = parse_pubkey(&req.wallet)?;
        let row = self
            .store
            .get_wallet(&wallet)
            .map_err(store_status)?
            .ok_or_else(|| Status::not_found(format!("wallet {} not found", req.wallet)))?;
        let security_record = self
            .store
            .get_security_record(&row.user_id)
            .map_err(store_status)?
            .map(|r| r.record);
        let started = match self
            .signer
            .call(SignerRequest::Export(ExportRequest {
                wallet,
                record: row.record,
                security_record,
            }))
            .await
        {
            Ok(SignerResponse::ExportStarted(s)) => s,
            Ok(SignerResponse::Error(e)) => return Err(signer_status(e)),
            Ok(_) => return Err(link_status(LinkError::Unexpected)),
            Err(e) => return Err(link_status(e)),
        };
        let created_at = now();
        let confirmation = ConfirmationRow::pending(
            started.confirmation_id,
            wallet,
            row.user_id.clone(),
            None,
            "Export the private key".into(),
            created_at,
            created_at.saturating_add(i64::from(started.expires_in_secs)),
        );
        let answer = self
            .start_confirmation(0, confirmation, Vec::new(), started.to_pool)
            .await?;
        if answer.status != SignStatus::Pending as i32 {
            return Err(Status::unavailable(format!(
                "the export request could not be shown to the user: {}",
                answer.reasons.join("; ")
            )));
        }
        tracing::info!(user = %row.user_id, wallet = %req.wallet, "export requested");
        Ok(ExportWalletResponse {
            confirmation_id: answer.confirmation_id,
            expires_at: answer.expires_at,
        })
    }

    async fn create_link_impl(&self, req: CreateLinkRequest) -> Result<CreateLinkResponse, Status> {
        validate_user_id(&req.user_id)?;
        let record = self.security_record(req.user_id.clone()).await?;
        let link = match self
            .signer
            .create_link(req.user_id.clone(), record.map(|r| r.record))
            .await
        {
            Ok(Ok(link)) => link,
            Ok(Err(e)) => return Err(signer_status(e)),
            Err(e) => return Err(link_status(e)),
        };
        if !valid_start_payload(&link.start_payload) {
            tracing::error!("the signer sent a malformed /start payload");
            return Err(Status::internal(
                "the signer sent a malformed /start payload",
            ));
        }
        let status = self.pool.telegram_status().await.map_err(|e| {
            Status::unavailable(format!("cannot ask the Telegram client for the bot: {e}"))
        })?;
        let username = match status.bot_username {
            Some(u) if status.configured && valid_bot_username(&u) => u,
            Some(_) if status.configured => {
                return Err(Status::internal(
                    "the Telegram client reported a malformed bot username",
                ))
            }
            _ => {
                return Err(Status::failed_precondition(
                    "no Telegram bot is configured/connected yet",
                ))
            }
        };
        tracing::info!(user = %req.user_id, "Telegram link issued");
        Ok(CreateLinkResponse {
            url: format!("https://t.me/{username}?start={}", link.start_payload),
            expires_at: now().saturating_add(i64::from(link.expires_in_secs)),
        })
    }

    async fn await_decision_impl(
        &self,
        req: AwaitDecisionRequest,
    ) -> Result<AwaitDecisionResponse, Status> {
        let id = parse_confirmation_id(&req.confirmation_id)?;
        let wait = std::time::Duration::from_millis(req.timeout_ms.min(MAX_AWAIT_MS));
        let deadline = tokio::time::Instant::now() + wait;
        // Subscribe before reading, so a decision committed in between wakes us.
        let mut changes = self.decisions.subscribe();
        loop {
            let row = self
                .store
                .get_confirmation(&id)
                .map_err(store_status)?
                .ok_or_else(|| Status::not_found(format!("no confirmation with id {id}")))?;
            if row.state != ConfirmationState::Pending
                || tokio::time::Instant::now() >= deadline
                || self.decisions.is_closing()
            {
                return Ok(decision_response(&row));
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                // Something was decided (maybe this one), or the deadline passed: read again.
                Ok(Ok(())) | Err(_) => {}
                // The notifier is gone: answer with what is stored.
                Ok(Err(_)) => return Ok(decision_response(&row)),
            }
        }
    }
}

/// Serves the API with mutual TLS on an already-bound listener until
/// `shutdown` resolves; requests in flight then finish before it returns.
pub async fn serve(
    api: Api,
    tls: ServerTls,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let config = ServerTlsConfig::new()
        .identity(Identity::from_pem(tls.cert, tls.key))
        .client_ca_root(Certificate::from_pem(tls.ca));
    Server::builder()
        .tls_config(config)?
        .tcp_nodelay(true)
        .serve_with_incoming_shutdown(
            CustosServer::new(api),
            // tonic ignores `tcp_nodelay` for a caller-supplied listener, so set
            // it here: with Nagle on, each small response waits ~40 ms for an ACK.
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
