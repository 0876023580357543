//! Messages between the bridge and the signer.
//!
//! The bridge is untrusted from the signer's point of view: everything it
//! sends is either public (a transaction, a user id) or a sealed record that
//! the signer authenticates itself. Nothing here ever carries a plaintext key.

use crate::channel::Sealed;
use serde::{Deserialize, Serialize};

/// A 32-byte Ed25519 public key (a Solana address).
pub type PublicKey = [u8; 32];

/// What the bridge asks of the signer.
// `Sign` is the large, common variant; boxing it would add an allocation to every
// signature for the sake of the rare small ones.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignerRequest {
    /// Liveness and status.
    Health,
    /// Generate a new wallet for a user and return its sealed record.
    CreateWallet(CreateWallet),
    /// Sign a transaction with a wallet, if the policy allows it.
    Sign(SignRequest),
    /// Issue a one-time `/start` payload that links a Telegram account to a user.
    CreateLink(CreateLink),
    /// A sealed message from the pool, relayed by the bridge (a press, a `/start`, a
    /// delivery report). Answered with [`SignerResponse::Relay`].
    FromPool(Sealed),
    /// The service has started: the signer answers with [`SignerResponse::Relay`]
    /// carrying the pool's configuration (the bot token, sealed), or an error when no
    /// bot is set up.
    StartPool,
    /// Periodic (about once a second): expire overdue confirmations. Answered with
    /// [`SignerResponse::Relay`].
    Tick,
    /// At start, before [`SignerRequest::StartPool`]: every stored security record, so
    /// the signer knows who is linked, which second factors they have and their
    /// settings. Answered with [`SignerResponse::RecordsLoaded`]. May come in several
    /// batches.
    LoadSecurityRecords(Vec<Vec<u8>>),
    /// Export (back up) a wallet's private key: asks the owner in Telegram; after
    /// Approve (and the second factor, once enrolled) the key is encrypted to a
    /// one-time key made in the owner's browser. Answered with
    /// [`SignerResponse::ExportStarted`].
    Export(ExportRequest),
    /// A TPM quote over the measured-boot PCRs with the caller's nonce, and the firmware
    /// event log. Answered with [`SignerResponse::Attested`], or an error when the master
    /// key is not in a TPM seal.
    Attest(AttestRequest),
}

/// Parameters of [`SignerRequest::Attest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestRequest {
    /// The verifier's fresh nonce (1 to 32 bytes), returned inside the signed quote.
    pub nonce: Vec<u8>,
}

/// Answer to [`SignerRequest::Attest`]: everything a verifier needs, none of it secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// The attestation key's public point (uncompressed SEC1, 65 bytes).
    pub ak_public: Vec<u8>,
    /// The marshalled TPMS_ATTEST the TPM signed.
    pub quote: Vec<u8>,
    /// ECDSA P-256 signature over SHA-256(`quote`): `r || s`.
    pub signature: Vec<u8>,
    /// The quoted SHA-256 PCR values, ascending by index.
    pub pcrs: Vec<PcrValue>,
    /// The firmware's TCG event log (empty when the kernel exposes none).
    pub event_log: Vec<u8>,
    /// The running image's version (from its measured configuration), when known.
    pub image_version: Option<u64>,
}

/// One PCR's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PcrValue {
    /// PCR index.
    pub index: u8,
    /// SHA-256 bank value.
    pub value: [u8; 32],
}

/// Parameters of [`SignerRequest::Export`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    /// The wallet.
    pub wallet: PublicKey,
    /// Its sealed record, as stored.
    pub record: Vec<u8>,
    /// The owner's security record.
    pub security_record: Option<Vec<u8>>,
}

/// Answer to [`SignerRequest::Export`]: the owner is being asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportStarted {
    /// The confirmation's id (32 hex characters).
    pub confirmation_id: String,
    /// Seconds until it expires.
    pub expires_in_secs: u32,
    /// The sealed confirmation message for the pool.
    pub to_pool: Sealed,
}

/// Answer to [`SignerRequest::LoadSecurityRecords`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordsLoaded {
    /// Records that authenticated and were taken.
    pub loaded: u32,
    /// Records refused (failed authentication, or older than one already held).
    pub refused: u32,
}

/// Parameters of [`SignerRequest::CreateLink`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateLink {
    /// The bot's user id.
    pub user_id: String,
    /// The user's current security record, if the bridge has one. A user already
    /// linked cannot be relinked by the backend: the signer refuses.
    pub security_record: Option<Vec<u8>>,
}

/// Answer to [`SignerRequest::CreateLink`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkCreated {
    /// The deep-link payload for `https://t.me/<bot>?start=<payload>` (`[A-Za-z0-9_-]`,
    /// at most 64 characters). Single use.
    pub start_payload: String,
    /// Seconds until it expires.
    pub expires_in_secs: u32,
}

/// Everything the signer wants carried after handling a relayed message or a tick.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relay {
    /// Sealed messages for the pool, in order.
    pub to_pool: Vec<Sealed>,
    /// Results the bridge must store durably (before passing `to_pool` on).
    pub events: Vec<SignerEvent>,
}

/// A result the bridge stores and reports to the backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignerEvent {
    /// A user linked their Telegram account: the new authenticated security record.
    Linked {
        /// The user.
        user_id: String,
        /// Their Telegram user id.
        telegram_id: u64,
        /// The sealed security record to store (replacing any earlier one).
        security_record: Vec<u8>,
    },
    /// The signer re-sealed a user's security record (a second factor was enrolled,
    /// used, changed or removed, or a setting changed). Store it, replacing the stored
    /// one, before relaying anything else.
    SecurityUpdated {
        /// The user.
        user_id: String,
        /// The record's new revision (higher than any earlier one).
        revision: u32,
        /// The sealed security record.
        security_record: Vec<u8>,
    },
    /// The confirmation message reached the user.
    Shown {
        /// Confirmation id (32 hex characters).
        confirmation_id: String,
    },
    /// A confirmation ended.
    Decided {
        /// Confirmation id (32 hex characters).
        confirmation_id: String,
        /// How.
        decision: Decision,
    },
}

/// How a confirmation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// The user approved and the signer signed.
    Approved {
        /// The wire transaction with the wallet's signature in place.
        transaction: Vec<u8>,
        /// The 64-byte signature.
        signature: Vec<u8>,
    },
    /// The user approved an export, passed the second factor, and their browser
    /// received the encrypted key.
    Exported {
        /// The wallet's record re-sealed with the exported flag; store it.
        record: Vec<u8>,
        /// The flags sealed in that record (for the store's `flags` column).
        flags: u32,
    },
    /// The user pressed Reject.
    Rejected,
    /// Nobody decided in time.
    Expired,
    /// The confirmation could not be completed (e.g. the message could not be
    /// delivered); nothing was signed.
    Failed {
        /// Why, secret-free.
        reason: String,
    },
}

/// Parameters of a new wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateWallet {
    /// The bot's user id (validated by the signer).
    pub user_id: String,
    /// The user's Telegram user id, if known.
    pub telegram_id: Option<u64>,
}

/// A signature request with the records the signer needs to judge it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignRequest {
    /// The wallet that should sign.
    pub wallet: PublicKey,
    /// That wallet's sealed record, as stored.
    pub record: Vec<u8>,
    /// Sealed records of other wallets that appear in the transaction. The
    /// signer counts one as the user's own only if it authenticates and names
    /// the same user; the bridge's word is never enough.
    pub related_records: Vec<Vec<u8>>,
    /// The wire-format transaction.
    pub transaction: Vec<u8>,
    /// Contents of the lookup tables the transaction uses, from Custos's own view of
    /// the chain (fetched by the pool from the configured RPC endpoint and cached),
    /// each authenticated by the pool. A table missing here leaves its accounts
    /// unknown, and so foreign.
    pub lookup_tables: Vec<TrustedTable>,
    /// Lookup table contents offered by the backend. The signer judges the transaction
    /// with and without them and keeps the stricter verdict: they can never loosen one.
    pub offered_lookup_tables: Vec<LookupTableContents>,
    /// What the backend says the transaction is for. When present, the signer refuses a
    /// transaction whose effects do not match it exactly.
    pub intent: Option<Intent>,
    /// The wallet owner's security record (their linked Telegram account), if any. A
    /// `confirm` verdict without one is refused: there is nobody to ask.
    pub security_record: Option<Vec<u8>>,
}

/// The addresses stored in one address lookup table, in table order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupTableContents {
    /// The table account.
    pub table: PublicKey,
    /// Its entries (at most 256).
    pub addresses: Vec<PublicKey>,
}

/// Lookup table contents as the pool read them, with the pool's authenticator
/// ([`crate::pool::ViewKey::table_tag`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedTable {
    /// The contents.
    pub contents: LookupTableContents,
    /// HMAC-SHA256 under the key the signer and the pool share.
    pub tag: [u8; 32],
}

/// What a signature request is meant to do, as the backend states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Intent {
    /// Swap at most `max_amount_in` of `input_mint` for at least `min_amount_out` of
    /// `output_mint`, the output landing in the user's own account. Native SOL is the
    /// wrapped-SOL mint.
    Swap {
        /// Mint given up.
        input_mint: PublicKey,
        /// Mint received.
        output_mint: PublicKey,
        /// Most that may leave, in base units of `input_mint`.
        max_amount_in: u64,
        /// Least that must arrive, in base units of `output_mint`.
        min_amount_out: u64,
    },
    /// Send exactly `amount` to `destination` (a wallet address; for tokens, its
    /// associated token account or the token account itself).
    Transfer {
        /// Recipient.
        destination: PublicKey,
        /// Token mint, or `None` for SOL.
        mint: Option<PublicKey>,
        /// Amount in base units (lamports for SOL).
        amount: u64,
    },
}

/// What the signer answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignerResponse {
    /// Answer to [`SignerRequest::Health`].
    Health(SignerHealth),
    /// Answer to [`SignerRequest::CreateWallet`].
    WalletCreated(NewWallet),
    /// Answer to [`SignerRequest::Sign`].
    Sign(SignOutcome),
    /// Answer to [`SignerRequest::CreateLink`].
    LinkCreated(LinkCreated),
    /// Answer to [`SignerRequest::FromPool`], [`SignerRequest::StartPool`] and
    /// [`SignerRequest::Tick`].
    Relay(Relay),
    /// Answer to [`SignerRequest::LoadSecurityRecords`].
    RecordsLoaded(RecordsLoaded),
    /// Answer to [`SignerRequest::Export`].
    ExportStarted(ExportStarted),
    /// Answer to [`SignerRequest::Attest`].
    Attested(Attestation),
    /// The request could not be served.
    Error(SignerError),
}

/// Signer status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerHealth {
    /// Which seal holds the master key (e.g. "development").
    pub seal: String,
    /// Whether that seal is fit for production.
    pub seal_secure: bool,
    /// Signatures made since start.
    pub signatures: u64,
}

/// A freshly generated wallet. The record must be stored durably before the
/// public key is given to anyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWallet {
    /// The wallet's public key.
    pub pubkey: PublicKey,
    /// Random wallet id bound into the record.
    pub wallet_id: [u8; 16],
    /// Owner, as bound into the record.
    pub user_id: String,
    /// Telegram user id, as bound into the record.
    pub telegram_id: Option<u64>,
    /// Flags, as bound into the record.
    pub flags: u32,
    /// The sealed record.
    pub record: Vec<u8>,
}

/// The verdict the signer reached and what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignOutcome {
    /// Signed at once.
    Signed {
        /// The wire transaction with the wallet's signature in place.
        transaction: Vec<u8>,
        /// The 64-byte signature.
        signature: Vec<u8>,
        /// What the transaction does, in one line.
        summary: String,
    },
    /// Needs the user's confirmation; nothing was signed yet. The confirmation
    /// message is in `to_pool`; the decision arrives as a [`SignerEvent::Decided`].
    Pending {
        /// What the transaction does, in one line.
        summary: String,
        /// Why confirmation is needed.
        reasons: Vec<String>,
        /// The confirmation's id (32 hex characters).
        confirmation_id: String,
        /// Seconds until it expires.
        expires_in_secs: u32,
        /// The sealed confirmation message for the pool.
        to_pool: Sealed,
    },
    /// Refused; nothing was signed.
    Rejected {
        /// What the transaction does, in one line (may be empty for malformed input).
        summary: String,
        /// Why it was refused.
        reasons: Vec<String>,
    },
}

/// Class of a signer error, so the bridge can map it to an API status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// A parameter was invalid (e.g. a malformed user id).
    InvalidRequest,
    /// A sealed record failed authentication or does not match the request.
    Integrity,
    /// The request is valid but the state does not allow it (e.g. a user already
    /// linked, no bot configured, too many pending confirmations).
    FailedPrecondition,
    /// Something failed inside the signer.
    Internal,
}

/// A signer error. The message never contains secret material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerError {
    /// Class of error.
    pub kind: ErrorKind,
    /// Human-readable, specific, secret-free description.
    pub message: String,
}
