//! Request handling: wallet creation and the signing path.
//!
//! Telegram confirmations, account links and the pool relay live in
//! [`crate::telegram`]; this module dispatches to them.
//!
//! `CreateWallet.telegram_id` is bound into the wallet record as the backend states it
//! but is **not trusted for anything**: the Telegram account that confirms a user's
//! transactions comes only from the user's security record, which the signer seals
//! itself after the user opened a one-time `/start` link ([`Service::create_link`]).

use crate::bot_token::{self, BotTokenError};
use crate::confirm::ConfirmConfig;
use crate::link::LinkConfig;
use crate::telegram::TelegramState;
use custos_crypto::keys::{BotTokenKey, KeyVault, RecordKeys};
use custos_crypto::record::{self, AuthenticRecord, RecordError, RecordHeader};
use custos_crypto::seal::{Seal, SealError};
use custos_crypto::sign;
use custos_ipc::channel::ChannelEnd;
use custos_ipc::pool::ViewKey;
use custos_ipc::signer::{
    CreateWallet, ErrorKind, Intent as IpcIntent, LookupTableContents, NewWallet, Relay,
    SignOutcome, SignRequest, SignerError, SignerHealth, SignerRequest, SignerResponse,
    TrustedTable,
};
use custos_passkey::{ConfigError, PasskeyConfig, Passkeys};
use custos_txdecode::{
    assess_with_intent, Assessment, Context, Intent, LookupTables, ParsedTransaction, PolicyConfig,
    Pubkey, Verdict,
};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use zeroize::Zeroizing;

/// Most related records one request may carry (a transaction has at most a
/// few dozen accounts).
pub const MAX_RELATED_RECORDS: usize = 64;

/// Why the signer could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The seal could not produce the master key.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The policy file could not be read or parsed.
    #[error("policy file {path}: {message}")]
    Policy {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The key shield's pages could not be set up (mapped, locked, filled).
    #[error(transparent)]
    Shield(#[from] custos_crypto::shield::ShieldError),
}

/// The signer's state: derived record keys, policy and counters, and the Telegram
/// state (confirmations, links, the sealed channel to the pool).
///
/// Built with [`Service::start`] and the `with_*` methods; shared between worker
/// threads behind an `Arc` ([`crate::process::serve`]).
pub struct Service {
    /// The record keys (and the master key), shielded; rebuilt per use.
    pub(crate) keys: KeyVault,
    policy: PolicyConfig,
    seal_name: &'static str,
    seal_secure: bool,
    /// Authenticates lookup table contents from the pool; without it (tests, tools),
    /// no contents count as Custos's own view.
    view_key: Option<ViewKey>,
    signatures: AtomicU64,
    /// Decompressed public keys of recently used wallets (public data).
    public_keys: Mutex<HashMap<[u8; 32], sign::PreparedPublicKey>>,
    /// The signer's end of the sealed channel to the pool (from the view key); `None`:
    /// no Telegram.
    pub(crate) channel: Option<Mutex<ChannelEnd>>,
    /// The bot token handed to the pool; `None`: no bot is set up.
    pub(crate) bot_token: Option<Zeroizing<String>>,
    /// Confirmations, link tokens, the bot's name, linked users and what waits for
    /// their second factor.
    pub(crate) telegram: Mutex<TelegramState>,
    /// The Custos page's origin (`https://host[:port]`), if one is served.
    pub(crate) page_origin: Option<String>,
    /// The WebAuthn relying party of that page.
    pub(crate) passkeys: Option<Passkeys>,
    /// Users whose every signature needs the second factor (read on the hot path).
    pub(crate) strict: RwLock<HashSet<String>>,
    /// How long the removal of a user's last second factor waits.
    pub(crate) removal_delay: Duration,
    /// Quotes for remote attestation; `None` without a TPM seal.
    attestor: Option<crate::tpm::Attestor>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("seal", &self.seal_name)
            .field("telegram_channel", &self.channel.is_some())
            .finish_non_exhaustive()
    }
}

/// How often the signer re-randomizes its key shield by default.
pub const DEFAULT_RERANDOMIZE_EVERY: Duration = Duration::from_secs(60);

/// Most decompressed public keys kept; the cache is emptied when full.
const PUBLIC_KEY_CACHE: usize = 65_536;

impl Service {
    /// Unseals the master key and derives the record keys, and keeps them all only in the
    /// key shield ([`KeyVault`]).
    pub fn start(seal: &dyn Seal, policy: PolicyConfig) -> Result<Self, StartError> {
        let master = seal.unseal_or_create()?;
        let keys = KeyVault::new(master)?;
        Ok(Self {
            keys,
            policy,
            seal_name: seal.name(),
            seal_secure: seal.is_secure(),
            view_key: None,
            signatures: AtomicU64::new(0),
            public_keys: Mutex::new(HashMap::new()),
            channel: None,
            bot_token: None,
            telegram: Mutex::new(TelegramState::new(
                ConfirmConfig::default(),
                LinkConfig::default(),
            )),
            page_origin: None,
            passkeys: None,
            strict: RwLock::new(HashSet::new()),
            removal_delay: crate::second_factor::DEFAULT_REMOVAL_DELAY,
            attestor: None,
        })
    }

    /// Serves attestation quotes from this TPM (with the TPM seal).
    pub fn with_attestor(mut self, attestor: crate::tpm::Attestor) -> Self {
        self.attestor = Some(attestor);
        self
    }

    /// Sets the key shared with the pool: it authenticates the pool's lookup table
    /// contents and keys the sealed channel that carries Telegram messages. Without
    /// it there is no Telegram.
    pub fn with_view_key(mut self, key: ViewKey) -> Self {
        self.channel = Some(Mutex::new(ChannelEnd::signer(&key)));
        self.view_key = Some(key);
        self
    }

    /// Sets the limits and expiry of confirmations (default: [`ConfirmConfig::default`],
    /// 5 minutes). Drops any confirmation already created.
    pub fn with_confirm_config(mut self, config: ConfirmConfig) -> Self {
        self.telegram
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .set_confirm_config(config);
        self
    }

    /// Sets how long a `/start` link stays valid (default 1 hour). Drops outstanding
    /// links.
    pub fn with_link_expiry(mut self, expiry: Duration) -> Self {
        let st = self.telegram.get_mut().unwrap_or_else(|p| p.into_inner());
        let config = LinkConfig {
            expiry,
            ..st.link_config()
        };
        st.set_link_config(config);
        self
    }

    /// Sets the expiry and bound of `/start` links (default: [`LinkConfig::default`]).
    /// Drops outstanding links.
    pub fn with_link_config(mut self, config: LinkConfig) -> Self {
        self.telegram
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .set_link_config(config);
        self
    }

    /// Sets the Telegram bot token handed to the pool (`None`: no bot; confirmations
    /// are then refused).
    pub fn with_bot_token(mut self, token: Option<Zeroizing<String>>) -> Self {
        self.bot_token = token;
        self
    }

    /// Serves the Custos page at `origin` (`https://host[:port]`, exactly as browsers
    /// will see it): passkeys are registered and verified for that origin, with its host
    /// as the WebAuthn relying party id, and exports become possible.
    pub fn with_page(mut self, origin: &str) -> Result<Self, ConfigError> {
        let url: custos_passkey::Url = origin.parse().map_err(|_| ConfigError::BadOrigin)?;
        let host = url.host_str().ok_or(ConfigError::BadOrigin)?.to_owned();
        let passkeys = Passkeys::new(PasskeyConfig {
            rp_id: host,
            rp_origin: url,
            rp_name: "Custos".into(),
        })?;
        self.page_origin = Some(origin.trim_end_matches('/').to_owned());
        self.passkeys = Some(passkeys);
        Ok(self)
    }

    /// How long the removal of a user's last second factor waits (default 24 h).
    pub fn with_removal_delay(mut self, delay: Duration) -> Self {
        self.removal_delay = delay;
        self
    }

    /// Loads the sealed bot token installed by [`bot_token::install`] from the data
    /// directory, if there is one (otherwise leaves the service without a bot).
    pub fn load_bot_token(self, data_dir: &Path) -> Result<Self, BotTokenError> {
        let token = self
            .keys
            .with_master(|m| bot_token::load(&BotTokenKey::derive(m), data_dir))?;
        Ok(self.with_bot_token(token))
    }

    /// Loads `policy.toml` from the data directory, or the documented defaults
    /// when there is none.
    pub fn load_policy(data_dir: &Path) -> Result<PolicyConfig, StartError> {
        let path = data_dir.join("policy.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| StartError::Policy {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PolicyConfig::default()),
            Err(e) => Err(StartError::Policy {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }

    fn public_key(&self, pubkey: &[u8; 32]) -> Result<sign::PreparedPublicKey, SignerError> {
        let mut cache = self.public_keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = cache.get(pubkey) {
            return Ok(*k);
        }
        let k = sign::prepare_public_key(pubkey).map_err(|e| integrity(e.to_string()))?;
        if cache.len() >= PUBLIC_KEY_CACHE {
            cache.clear();
        }
        cache.insert(*pubkey, k);
        Ok(k)
    }

    /// Handles one request. Never panics on any input.
    pub fn handle(&self, request: SignerRequest) -> SignerResponse {
        let response = self.answer(request);
        // Hashes, ciphers and the signature leave key-derived state in stack frames they do
        // not wipe; overwrite them before the next request (the memory-scan test finds seeds
        // otherwise).
        custos_sys::memory::scrub_stack();
        response
    }

    /// Re-randomizes the key shield now: fresh pages, walk and mask ([`KeyVault::rerandomize`]).
    pub fn rerandomize_keys(&self) -> Result<(), custos_crypto::shield::ShieldError> {
        self.keys.rerandomize()
    }

    /// How many times the key shield was re-randomized since start.
    pub fn key_generation(&self) -> u64 {
        self.keys.generation()
    }

    /// Starts the thread that re-randomizes the key shield every `every`, so pages leaked
    /// at different times never belong to the same shield. It ends when the service is
    /// dropped. Start it before the process confines itself (it is one of its threads).
    pub fn start_rerandomizer(
        service: &Arc<Self>,
        every: Duration,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let weak = Arc::downgrade(service);
        std::thread::Builder::new()
            .name("signer-shield".into())
            .spawn(move || loop {
                std::thread::sleep(every);
                let Some(service) = weak.upgrade() else {
                    return;
                };
                // On failure the current shield stays in place: still sound, only older.
                if let Err(e) = service.rerandomize_keys() {
                    tracing::error!(error = %e, "could not re-randomize the key shield");
                }
            })
    }

    fn answer(&self, request: SignerRequest) -> SignerResponse {
        match request {
            SignerRequest::Health => SignerResponse::Health(SignerHealth {
                seal: self.seal_name.to_owned(),
                seal_secure: self.seal_secure,
                signatures: self.signatures.load(Ordering::Relaxed),
            }),
            SignerRequest::CreateWallet(req) => match self.create_wallet(req) {
                Ok(w) => SignerResponse::WalletCreated(w),
                Err(e) => SignerResponse::Error(e),
            },
            SignerRequest::Sign(req) => match self.sign(&req) {
                Ok(outcome) => SignerResponse::Sign(outcome),
                Err(e) => SignerResponse::Error(e),
            },
            SignerRequest::CreateLink(req) => match self.create_link(req) {
                Ok(l) => SignerResponse::LinkCreated(l),
                Err(e) => SignerResponse::Error(e),
            },
            SignerRequest::LoadSecurityRecords(records) => {
                SignerResponse::RecordsLoaded(self.load_security_records(records))
            }
            SignerRequest::Export(req) => match self.export(req) {
                Ok(x) => SignerResponse::ExportStarted(x),
                Err(e) => SignerResponse::Error(e),
            },
            SignerRequest::Attest(req) => match &self.attestor {
                Some(a) => match a.attest(&req.nonce) {
                    Ok(x) => SignerResponse::Attested(x),
                    Err(e) => SignerResponse::Error(e),
                },
                None => SignerResponse::Error(SignerError {
                    kind: ErrorKind::FailedPrecondition,
                    message: format!(
                        "no attestation: the master key is in the {} seal, not a TPM",
                        self.seal_name
                    ),
                }),
            },
            SignerRequest::FromPool(sealed) => relay(self.from_pool(&sealed)),
            SignerRequest::StartPool => relay(self.start_pool()),
            SignerRequest::Tick => relay(self.tick()),
        }
    }

    /// Generates a key from the OS CSPRNG and seals it into a record bound to
    /// its owner. The caller must store the record durably before revealing
    /// the public key. `telegram_id` is recorded as given but trusted for nothing
    /// (see the module docs).
    pub fn create_wallet(&self, req: CreateWallet) -> Result<NewWallet, SignerError> {
        record::validate_user_id(&req.user_id).map_err(invalid)?;
        let key = sign::generate().map_err(|e| internal(e.to_string()))?;
        self.seal_new(req.user_id, req.telegram_id, 0, key.pubkey, &key.seed)
    }

    /// Seals an existing key (phase-1 migration from a legacy system). The
    /// record is flagged as imported.
    pub fn import_wallet(
        &self,
        user_id: String,
        telegram_id: Option<u64>,
        seed: &zeroize::Zeroizing<[u8; 32]>,
    ) -> Result<NewWallet, SignerError> {
        record::validate_user_id(&user_id).map_err(invalid)?;
        let pubkey = sign::public_key(seed);
        self.seal_new(user_id, telegram_id, record::FLAG_IMPORTED, pubkey, seed)
    }

    /// Seals a first-revision record for a key under a fresh random wallet id.
    fn seal_new(
        &self,
        user_id: String,
        telegram_id: Option<u64>,
        flags: u32,
        pubkey: [u8; 32],
        seed: &zeroize::Zeroizing<[u8; 32]>,
    ) -> Result<NewWallet, SignerError> {
        let mut wallet_id = [0u8; 16];
        custos_crypto::os_random(&mut wallet_id).map_err(|e| internal(e.to_string()))?;
        let header = RecordHeader {
            wallet_id,
            pubkey,
            user_id,
            telegram_id,
            flags,
            revision: 1,
        };
        let sealed = self
            .keys
            .with_record_keys(|k| record::seal(k, &header, seed))
            .map_err(integrity_or_invalid)?;
        Ok(NewWallet {
            pubkey: header.pubkey,
            wallet_id: header.wallet_id,
            user_id: header.user_id,
            telegram_id: header.telegram_id,
            flags: header.flags,
            record: sealed,
        })
    }

    /// The signing path: authenticate the wallet's record, decode the
    /// transaction, judge it, and sign only an `auto` verdict. A `confirm` verdict
    /// becomes a Telegram confirmation (`Pending`), or is refused when the owner has no
    /// linked account or no bot is set up.
    pub fn sign(&self, req: &SignRequest) -> Result<SignOutcome, SignerError> {
        self.sign_with(req, Authorization::PolicyOnly)
    }

    /// Signs as if the user had approved: `confirm` verdicts are signed too, and
    /// `reject` verdicts still never are (tests; the wired path is
    /// [`Service::sign_confirmed`]).
    #[cfg(test)]
    pub(crate) fn sign_approved(&self, req: &SignRequest) -> Result<SignOutcome, SignerError> {
        self.sign_with(req, Authorization::UserApproved)
    }

    /// Rebuilds the record keys once for the whole request (record, related records, seed).
    fn sign_with(
        &self,
        req: &SignRequest,
        authorization: Authorization,
    ) -> Result<SignOutcome, SignerError> {
        self.keys
            .with_record_keys(|keys| self.sign_with_keys(keys, req, authorization))
    }

    fn sign_with_keys(
        &self,
        keys: &RecordKeys,
        req: &SignRequest,
        authorization: Authorization,
    ) -> Result<SignOutcome, SignerError> {
        let wallet = wallet_record(keys, &req.wallet, &req.record)?;
        if req.related_records.len() > MAX_RELATED_RECORDS {
            return Err(invalid_msg(format!(
                "too many related records ({} > {MAX_RELATED_RECORDS})",
                req.related_records.len()
            )));
        }
        let tx = match ParsedTransaction::parse(&req.transaction) {
            Ok(tx) => tx,
            Err(e) => {
                return Ok(SignOutcome::Rejected {
                    summary: String::new(),
                    reasons: vec![format!("malformed transaction: {e}")],
                })
            }
        };
        // Only records that authenticate and name the same user count as the
        // user's own; the bridge cannot make a foreign address look owned.
        let mut own: Vec<Pubkey> = Vec::with_capacity(req.related_records.len());
        for bytes in &req.related_records {
            let rec = record::authenticate(keys, bytes).map_err(|e| {
                integrity(format!(
                    "a related wallet record failed its integrity check: {e}"
                ))
            })?;
            if rec.header.user_id == wallet.header.user_id && rec.header.pubkey != req.wallet {
                own.push(Pubkey::new_from_array(rec.header.pubkey));
            }
        }
        let signer = Pubkey::new_from_array(req.wallet);
        let Some(position) = tx.signer_position(&signer) else {
            return Ok(SignOutcome::Rejected {
                summary: String::new(),
                reasons: vec![format!(
                    "wallet {} is not a required signer of this transaction",
                    b58(&req.wallet)
                )],
            });
        };
        let assessment = self.judge(&tx, signer, &own, req)?;
        let approved = matches!(authorization, Authorization::UserApproved);
        match assessment.verdict {
            Verdict::Reject => Ok(SignOutcome::Rejected {
                summary: assessment.summary,
                reasons: assessment.reasons,
            }),
            Verdict::Confirm if !approved => {
                self.request_confirmation(req, &wallet.header.user_id, assessment)
            }
            // The user asked for their second factor on every signature.
            Verdict::Auto if !approved && self.requires_factor_always(&wallet.header.user_id) => {
                let mut assessment = assessment;
                assessment.reasons.push(
                    "your security settings require Approve and your second factor for every \
                     signature"
                        .into(),
                );
                self.request_confirmation(req, &wallet.header.user_id, assessment)
            }
            Verdict::Confirm | Verdict::Auto => {
                let (transaction, signature) =
                    self.sign_parsed(keys, &wallet, &req.wallet, &tx, position)?;
                Ok(SignOutcome::Signed {
                    transaction,
                    signature: signature.to_vec(),
                    summary: assessment.summary,
                })
            }
        }
    }

    /// Authenticates a wallet's stored record and checks that it is that wallet's: the
    /// bridge's word for either is never enough.
    pub(crate) fn wallet_record<'a>(
        &self,
        wallet: &[u8; 32],
        bytes: &'a [u8],
    ) -> Result<AuthenticRecord<'a>, SignerError> {
        self.keys
            .with_record_keys(|keys| wallet_record(keys, wallet, bytes))
    }

    /// Opens the seed, signs the message and zeroizes the seed.
    fn sign_parsed(
        &self,
        keys: &RecordKeys,
        wallet: &AuthenticRecord<'_>,
        pubkey: &[u8; 32],
        tx: &ParsedTransaction,
        position: usize,
    ) -> Result<(Vec<u8>, [u8; 64]), SignerError> {
        // The plaintext seed lives only in this scope; Zeroizing wipes it.
        let seed = wallet.open(keys).map_err(|e| {
            integrity(format!(
                "wallet {}: sealed key failed to open: {e}",
                b58(pubkey)
            ))
        })?;
        let prepared = self.public_key(pubkey)?;
        let signature = sign::sign_prepared(&seed, &prepared, tx.message_bytes());
        drop(seed);
        let transaction = tx
            .to_wire_with_signature(position, &signature)
            .map_err(|e| internal(e.to_string()))?;
        self.signatures.fetch_add(1, Ordering::Relaxed);
        Ok((transaction, signature))
    }

    /// Signs a transaction the user approved in Telegram: the record is authenticated
    /// again and must be the wallet's; the policy is not asked again (its verdict was
    /// `confirm` for exactly these bytes).
    pub(crate) fn sign_confirmed(
        &self,
        record_bytes: &[u8],
        wallet: &[u8; 32],
        transaction: &[u8],
    ) -> Result<(Vec<u8>, [u8; 64]), SignerError> {
        self.keys.with_record_keys(|keys| {
            let rec = wallet_record(keys, wallet, record_bytes)?;
            let tx = ParsedTransaction::parse(transaction)
                .map_err(|e| internal(format!("approved transaction no longer parses: {e}")))?;
            let position = tx
                .signer_position(&Pubkey::new_from_array(*wallet))
                .ok_or_else(|| {
                    internal("wallet is not a signer of the approved transaction".into())
                })?;
            self.sign_parsed(keys, &rec, wallet, &tx, position)
        })
    }
}

/// Authenticates a wallet's stored record and checks that it is that wallet's.
fn wallet_record<'a>(
    keys: &RecordKeys,
    wallet: &[u8; 32],
    bytes: &'a [u8],
) -> Result<AuthenticRecord<'a>, SignerError> {
    let rec = record::authenticate(keys, bytes).map_err(|e| {
        integrity(format!(
            "wallet {}: stored record failed its integrity check: {e}",
            b58(wallet)
        ))
    })?;
    if rec.header.pubkey != *wallet {
        return Err(integrity(format!(
            "wallet {}: stored record belongs to another wallet ({}); the database was altered",
            b58(wallet),
            b58(&rec.header.pubkey)
        )));
    }
    Ok(rec)
}

fn relay(r: Result<Relay, SignerError>) -> SignerResponse {
    match r {
        Ok(r) => SignerResponse::Relay(r),
        Err(e) => SignerResponse::Error(e),
    }
}

impl Service {
    /// Judges a transaction with the lookup tables Custos fetched itself and, when the
    /// backend offers contents too, again with those: the stricter verdict stands, so
    /// offered contents can only tighten it.
    fn judge(
        &self,
        tx: &ParsedTransaction,
        signer: Pubkey,
        own: &[Pubkey],
        req: &SignRequest,
    ) -> Result<Assessment, SignerError> {
        let trusted = self.trusted_tables(&req.lookup_tables)?;
        let intent = req.intent.as_ref().map(intent);
        let judge_with = |tables: &LookupTables| {
            let ctx = Context {
                signer,
                own_wallets: own,
                lookup_tables: tables,
                config: &self.policy,
            };
            assess_with_intent(tx, &ctx, intent.as_ref())
        };
        let assessment = judge_with(&trusted);
        if req.offered_lookup_tables.is_empty() {
            return Ok(assessment);
        }
        // Offered contents fill only tables Custos could not fetch; where both exist,
        // Custos's own view wins.
        let mut combined = trusted.clone();
        for t in &req.offered_lookup_tables {
            let key = Pubkey::new_from_array(t.table);
            if trusted.get(&key).is_none() {
                insert_table(&mut combined, t)?;
            }
        }
        let with_offered = judge_with(&combined);
        Ok(if with_offered.verdict > assessment.verdict {
            with_offered
        } else {
            assessment
        })
    }
}

impl Service {
    /// The pool's lookup table contents, each checked against its authenticator. A
    /// table that fails means the bridge altered what the pool read: the request is
    /// refused as an integrity failure, like a tampered record.
    fn trusted_tables(&self, list: &[TrustedTable]) -> Result<LookupTables, SignerError> {
        let mut out = LookupTables::empty();
        let Some(key) = &self.view_key else {
            return Ok(out);
        };
        for t in list {
            let c = &t.contents;
            if !key.verify_table(&c.table, &c.addresses, &t.tag) {
                return Err(integrity(format!(
                    "lookup table {}: contents failed authentication (not as the pool read them)",
                    b58(&c.table)
                )));
            }
            insert_table(&mut out, c)?;
        }
        Ok(out)
    }
}

fn insert_table(out: &mut LookupTables, t: &LookupTableContents) -> Result<(), SignerError> {
    let addresses = t
        .addresses
        .iter()
        .map(|a| Pubkey::new_from_array(*a))
        .collect();
    out.insert(Pubkey::new_from_array(t.table), addresses)
        .map_err(|e| invalid_msg(format!("lookup table {}: {e}", b58(&t.table))))
}

/// The decoder's form of a request's intent.
fn intent(i: &IpcIntent) -> Intent {
    match i {
        IpcIntent::Swap {
            input_mint,
            output_mint,
            max_amount_in,
            min_amount_out,
        } => Intent::Swap {
            input_mint: Pubkey::new_from_array(*input_mint),
            output_mint: Pubkey::new_from_array(*output_mint),
            max_amount_in: *max_amount_in,
            min_amount_out: *min_amount_out,
        },
        IpcIntent::Transfer {
            destination,
            mint,
            amount,
        } => Intent::Transfer {
            destination: Pubkey::new_from_array(*destination),
            mint: mint.map(Pubkey::new_from_array),
            amount: *amount,
        },
    }
}

/// What, beyond the policy, authorises a signature.
#[derive(Debug, Clone, Copy)]
enum Authorization {
    /// Only an `auto` verdict is signed.
    PolicyOnly,
    /// The user approved: `confirm` is signed too.
    #[cfg_attr(not(test), allow(dead_code))]
    UserApproved,
}

pub(crate) fn b58(key: &[u8; 32]) -> String {
    bs58::encode(key).into_string()
}

pub(crate) fn integrity(message: String) -> SignerError {
    SignerError {
        kind: ErrorKind::Integrity,
        message,
    }
}

pub(crate) fn invalid(e: RecordError) -> SignerError {
    invalid_msg(e.to_string())
}

fn invalid_msg(message: String) -> SignerError {
    SignerError {
        kind: ErrorKind::InvalidRequest,
        message,
    }
}

fn integrity_or_invalid(e: RecordError) -> SignerError {
    match e {
        RecordError::InvalidUserId | RecordError::UnknownFlags(_) => invalid(e),
        other => internal(other.to_string()),
    }
}

pub(crate) fn internal(message: String) -> SignerError {
    SignerError {
        kind: ErrorKind::Internal,
        message,
    }
}

pub(crate) fn failed_precondition(message: String) -> SignerError {
    SignerError {
        kind: ErrorKind::FailedPrecondition,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use custos_crypto::seal::DevSeal;
    use zeroize::Zeroizing;

    /// A `confirm` verdict, as a signer without Telegram answers it.
    fn wants_confirmation(o: &SignOutcome) -> bool {
        matches!(o, SignOutcome::Rejected { reasons, .. }
            if reasons.last().is_some_and(|r| r.contains("needs the user's confirmation")))
    }

    fn service() -> (tempfile::TempDir, Service) {
        let dir = tempfile::tempdir().unwrap();
        let svc =
            Service::start(&DevSeal::in_data_dir(dir.path()), PolicyConfig::default()).unwrap();
        (dir, svc)
    }

    fn create(svc: &Service, user: &str) -> custos_ipc::signer::NewWallet {
        svc.create_wallet(CreateWallet {
            user_id: user.into(),
            telegram_id: Some(7),
        })
        .unwrap()
    }

    /// Legacy wire transfer from -> to (unsigned).
    fn transfer(from: &[u8; 32], to: &[u8; 32], lamports: u64) -> Vec<u8> {
        let mut tx = vec![1u8];
        tx.extend_from_slice(&[0u8; 64]);
        tx.extend_from_slice(&[1, 0, 1, 3]);
        tx.extend_from_slice(from);
        tx.extend_from_slice(to);
        tx.extend_from_slice(&[0u8; 32]);
        tx.extend_from_slice(&[4u8; 32]);
        tx.extend_from_slice(&[1, 2, 2, 0, 1, 12, 2, 0, 0, 0]);
        tx.extend_from_slice(&lamports.to_le_bytes());
        tx
    }

    fn req(w: &custos_ipc::signer::NewWallet, related: Vec<Vec<u8>>, tx: Vec<u8>) -> SignRequest {
        SignRequest {
            wallet: w.pubkey,
            record: w.record.clone(),
            related_records: related,
            transaction: tx,
            lookup_tables: Vec::new(),
            offered_lookup_tables: Vec::new(),
            intent: None,
            security_record: None,
        }
    }

    /// v0 wire transfer from -> the first writable entry of lookup table `table`.
    fn transfer_via_table(from: &[u8; 32], table: &[u8; 32], lamports: u64) -> Vec<u8> {
        let mut tx = vec![1u8];
        tx.extend_from_slice(&[0u8; 64]);
        tx.extend_from_slice(&[0x80, 1, 0, 1, 2]);
        tx.extend_from_slice(from);
        tx.extend_from_slice(&[0u8; 32]); // System program
        tx.extend_from_slice(&[4u8; 32]); // blockhash
        tx.extend_from_slice(&[1, 1, 2, 0, 2, 12, 2, 0, 0, 0]);
        tx.extend_from_slice(&lamports.to_le_bytes());
        tx.push(1);
        tx.extend_from_slice(table);
        tx.extend_from_slice(&[1, 0, 0]);
        tx
    }

    fn table(key: [u8; 32], first: [u8; 32]) -> LookupTableContents {
        LookupTableContents {
            table: key,
            addresses: vec![first],
        }
    }

    fn trusted(key: &ViewKey, t: [u8; 32], first: [u8; 32]) -> TrustedTable {
        TrustedTable {
            tag: key.table_tag(&t, &[first]),
            contents: table(t, first),
        }
    }

    #[test]
    fn lookup_tables_from_custos_resolve_and_offered_ones_only_tighten() {
        let dir = tempfile::tempdir().unwrap();
        let key = || ViewKey::new([5; 32]);
        let svc = Service::start(&DevSeal::in_data_dir(dir.path()), PolicyConfig::default())
            .unwrap()
            .with_view_key(key());
        let (a, b) = (create(&svc, "u1"), create(&svc, "u1"));
        let stranger = [9u8; 32];
        let t = [7u8; 32];
        let tx = transfer_via_table(&a.pubkey, &t, 1_000);
        let signed = |r: &SignRequest| matches!(svc.sign(r).unwrap(), SignOutcome::Signed { .. });

        // Without contents the destination is unknown, so foreign: pending.
        let mut r = req(&a, vec![b.record.clone()], tx.clone());
        assert!(matches!(svc.sign(&r).unwrap(), ref o if wants_confirmation(o)));
        // Custos's own view says it is the user's other wallet: auto.
        r.lookup_tables = vec![trusted(&key(), t, b.pubkey)];
        assert!(signed(&r));
        // The backend offering other contents for the same table changes nothing...
        r.offered_lookup_tables = vec![table(t, stranger)];
        assert!(signed(&r));
        // ...and where Custos has no view, offered contents can only make it stricter.
        r.lookup_tables = Vec::new();
        r.offered_lookup_tables = vec![table(t, b.pubkey)];
        assert!(matches!(svc.sign(&r).unwrap(), ref o if wants_confirmation(o)));
        // Oversized contents are a bad request, not a crash.
        r.offered_lookup_tables = vec![LookupTableContents {
            table: t,
            addresses: vec![[1; 32]; 257],
        }];
        assert_eq!(svc.sign(&r).unwrap_err().kind, ErrorKind::InvalidRequest);

        // A bridge that rewrites the pool's answer (a stranger made to look like B), or
        // forges one with another key, is caught: nothing is signed.
        r.offered_lookup_tables = Vec::new();
        let mut forged = trusted(&key(), t, stranger);
        forged.contents.addresses = vec![b.pubkey];
        r.lookup_tables = vec![forged];
        assert_eq!(svc.sign(&r).unwrap_err().kind, ErrorKind::Integrity);
        r.lookup_tables = vec![trusted(&ViewKey::new([6; 32]), t, b.pubkey)];
        assert_eq!(svc.sign(&r).unwrap_err().kind, ErrorKind::Integrity);
        assert_eq!(svc.signatures.load(Ordering::Relaxed), 2);

        // A signer without the key takes no contents as its own view.
        let (_dir2, plain) = service();
        let (a2, b2) = (create(&plain, "u1"), create(&plain, "u1"));
        let mut r = req(
            &a2,
            vec![b2.record.clone()],
            transfer_via_table(&a2.pubkey, &t, 1),
        );
        r.lookup_tables = vec![trusted(&key(), t, b2.pubkey)];
        assert!(matches!(
            plain.sign(&r).unwrap(),
            ref o if wants_confirmation(o)
        ));
    }

    #[test]
    fn an_intent_that_does_not_match_refuses_an_otherwise_auto_transfer() {
        let (_dir, svc) = service();
        let (a, b) = (create(&svc, "u1"), create(&svc, "u1"));
        let mut r = req(
            &a,
            vec![b.record.clone()],
            transfer(&a.pubkey, &b.pubkey, 500),
        );
        r.intent = Some(IpcIntent::Swap {
            input_mint: [1; 32],
            output_mint: [2; 32],
            max_amount_in: 1,
            min_amount_out: 1,
        });
        match svc.sign(&r).unwrap() {
            SignOutcome::Rejected { reasons, .. } => {
                assert!(reasons[0].contains("intent"), "{reasons:?}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(svc.signatures.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn reproduces_the_mainnet_signing_vectors_byte_for_byte() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/solana/walletcore_signing_vectors.json"
        ))
        .unwrap();
        let vectors: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(vectors.len(), 3);
        let (_dir, svc) = service();
        let b64 = base64::engine::general_purpose::STANDARD;
        for v in vectors {
            let mut seed = Zeroizing::new([0u8; 32]);
            hex::decode_to_slice(v["private_key"].as_str().unwrap(), seed.as_mut()).unwrap();
            let wallet = svc.import_wallet("vector".into(), None, &seed).unwrap();
            let unsigned = b64.decode(v["updated_tx"].as_str().unwrap()).unwrap();
            let expected = b64.decode(v["signed_tx"].as_str().unwrap()).unwrap();
            // These are withdrawals to foreign addresses: never signed without approval...
            let outcome = svc.sign(&req(&wallet, vec![], unsigned.clone())).unwrap();
            assert!(
                matches!(outcome, ref o if wants_confirmation(o)),
                "{outcome:?}"
            );
            // ...and after approval, exactly the bytes that were broadcast on mainnet.
            match svc.sign_approved(&req(&wallet, vec![], unsigned)).unwrap() {
                SignOutcome::Signed {
                    transaction,
                    signature,
                    ..
                } => {
                    assert_eq!(transaction, expected);
                    assert_eq!(
                        bs58::encode(&signature).into_string(),
                        v["signature"].as_str().unwrap()
                    );
                }
                other => panic!("not signed: {other:?}"),
            }
        }
    }

    #[test]
    fn own_transfer_is_signed_and_verifies() {
        use ed25519_dalek::{Signature, Verifier, VerifyingKey};
        let (_dir, svc) = service();
        let a = create(&svc, "u1");
        let b = create(&svc, "u1");
        let tx = transfer(&a.pubkey, &b.pubkey, 5);
        match svc
            .sign(&req(&a, vec![b.record.clone()], tx.clone()))
            .unwrap()
        {
            SignOutcome::Signed {
                transaction,
                signature,
                ..
            } => {
                let sig = Signature::from_slice(&signature).unwrap();
                VerifyingKey::from_bytes(&a.pubkey)
                    .unwrap()
                    .verify(&tx[65..], &sig)
                    .unwrap();
                assert_eq!(&transaction[1..65], &signature[..]);
                assert_eq!(&transaction[65..], &tx[65..]);
            }
            other => panic!("{other:?}"),
        }
        // Without b's record the signer cannot know b is the user's: confirm.
        assert!(matches!(
            svc.sign(&req(&a, vec![], tx)).unwrap(),
            ref o if wants_confirmation(o)
        ));
    }

    /// A V1 (SIMD-0385) transfer: message first, then the signature slot.
    fn transfer_v1(from: &[u8; 32], to: &[u8; 32], lamports: u64) -> Vec<u8> {
        let mut msg = vec![0x81, 1, 0, 1]; // version byte, header
        msg.extend_from_slice(&0u32.to_le_bytes()); // no config values
        msg.extend_from_slice(&[4u8; 32]); // lifetime (blockhash)
        msg.extend_from_slice(&[1, 3]); // instructions, addresses
        msg.extend_from_slice(from);
        msg.extend_from_slice(to);
        msg.extend_from_slice(&[0u8; 32]);
        msg.extend_from_slice(&[2, 2, 12, 0]); // program 2, 2 accounts, 12 data bytes
        msg.extend_from_slice(&[0, 1, 2, 0, 0, 0]);
        msg.extend_from_slice(&lamports.to_le_bytes());
        let mut tx = msg;
        tx.extend_from_slice(&[0u8; 64]);
        tx
    }

    #[test]
    fn v1_transactions_are_signed_in_their_own_signature_slot() {
        use ed25519_dalek::{Signature, Verifier, VerifyingKey};
        let (_dir, svc) = service();
        let a = create(&svc, "u1");
        let b = create(&svc, "u1");
        let tx = transfer_v1(&a.pubkey, &b.pubkey, 5);
        let message = &tx[..tx.len() - 64];
        match svc
            .sign(&req(&a, vec![b.record.clone()], tx.clone()))
            .unwrap()
        {
            SignOutcome::Signed {
                transaction,
                signature,
                ..
            } => {
                assert_eq!(&transaction[..message.len()], message);
                assert_eq!(&transaction[message.len()..], &signature[..]);
                VerifyingKey::from_bytes(&a.pubkey)
                    .unwrap()
                    .verify(message, &Signature::from_slice(&signature).unwrap())
                    .unwrap();
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn another_users_record_does_not_make_a_destination_own() {
        let (_dir, svc) = service();
        let a = create(&svc, "u1");
        let m = create(&svc, "mallory");
        let tx = transfer(&a.pubkey, &m.pubkey, 5);
        assert!(matches!(
            svc.sign(&req(&a, vec![m.record.clone()], tx)).unwrap(),
            ref o if wants_confirmation(o)
        ));
    }

    #[test]
    fn records_are_checked_before_anything_else() {
        let (_dir, svc) = service();
        let a = create(&svc, "u1");
        let b = create(&svc, "u1");
        let tx = transfer(&a.pubkey, &b.pubkey, 5);
        // Record of another wallet presented for a.
        let mut r = req(&a, vec![], tx.clone());
        r.record = b.record.clone();
        let e = svc.sign(&r).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Integrity);
        assert!(
            e.message.contains("belongs to another wallet"),
            "{}",
            e.message
        );
        // A flipped bit.
        let mut r = req(&a, vec![], tx.clone());
        r.record[40] ^= 1;
        assert_eq!(svc.sign(&r).unwrap_err().kind, ErrorKind::Integrity);
        // A tampered related record.
        let mut bad = b.record.clone();
        bad[10] ^= 1;
        assert_eq!(
            svc.sign(&req(&a, vec![bad], tx.clone())).unwrap_err().kind,
            ErrorKind::Integrity
        );
        // A record sealed under another master key.
        let (_d2, other) = service();
        let foreign = create(&other, "u1");
        let mut r = req(&foreign, vec![], transfer(&foreign.pubkey, &b.pubkey, 1));
        r.wallet = foreign.pubkey;
        assert_eq!(svc.sign(&r).unwrap_err().kind, ErrorKind::Integrity);
        // Too many related records.
        let r = req(&a, vec![b.record.clone(); MAX_RELATED_RECORDS + 1], tx);
        assert_eq!(svc.sign(&r).unwrap_err().kind, ErrorKind::InvalidRequest);
    }

    #[test]
    fn malformed_and_not_signer_are_rejected_unsigned() {
        let (_dir, svc) = service();
        let a = create(&svc, "u1");
        let b = create(&svc, "u1");
        for tx in [
            vec![],
            vec![0xff; 10],
            transfer(&a.pubkey, &b.pubkey, 5)[..100].to_vec(),
        ] {
            match svc.sign(&req(&a, vec![], tx)).unwrap() {
                SignOutcome::Rejected { reasons, .. } => {
                    assert!(
                        reasons[0].starts_with("malformed transaction"),
                        "{reasons:?}"
                    )
                }
                other => panic!("{other:?}"),
            }
        }
        match svc
            .sign(&req(
                &a,
                vec![b.record.clone()],
                transfer(&b.pubkey, &a.pubkey, 5),
            ))
            .unwrap()
        {
            SignOutcome::Rejected { reasons, .. } => {
                assert!(reasons[0].contains("not a required signer"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_wallet_validates_and_binds_the_owner() {
        let (_dir, svc) = service();
        let e = svc
            .create_wallet(CreateWallet {
                user_id: "no spaces".into(),
                telegram_id: None,
            })
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        let w = create(&svc, "u1");
        svc.keys.with_record_keys(|keys| {
            let auth = record::authenticate(keys, &w.record).unwrap();
            assert_eq!(auth.header.user_id, "u1");
            assert_eq!(auth.header.telegram_id, Some(7));
            assert_eq!(auth.header.pubkey, w.pubkey);
            assert_eq!(
                custos_crypto::sign::public_key(&auth.open(keys).unwrap()),
                w.pubkey
            );
        });
    }

    #[test]
    fn health_reports_the_seal_and_counts_signatures() {
        let (_dir, svc) = service();
        let a = create(&svc, "u1");
        let b = create(&svc, "u1");
        let _ = svc.sign(&req(
            &a,
            vec![b.record.clone()],
            transfer(&a.pubkey, &b.pubkey, 1),
        ));
        match svc.handle(SignerRequest::Health) {
            SignerResponse::Health(h) => {
                assert_eq!(h.seal, "development");
                assert!(!h.seal_secure);
                assert_eq!(h.signatures, 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn policy_file_is_optional_and_validated() {
        let dir = tempfile::tempdir().unwrap();
        let p = Service::load_policy(dir.path()).unwrap();
        assert_eq!(
            p.max_priority_fee_lamports,
            PolicyConfig::default().max_priority_fee_lamports
        );
        std::fs::write(
            dir.path().join("policy.toml"),
            "max_priority_fee_lamports = 5\n",
        )
        .unwrap();
        assert_eq!(
            Service::load_policy(dir.path())
                .unwrap()
                .max_priority_fee_lamports,
            5
        );
        std::fs::write(dir.path().join("policy.toml"), "no_such_knob = 1\n").unwrap();
        assert!(Service::load_policy(dir.path()).is_err());
    }

    #[test]
    fn the_shield_is_rerandomized_in_the_background_and_signing_goes_on() {
        let (_dir, svc) = service();
        let svc = Arc::new(svc);
        let w = create(&svc, "u1");
        let before = svc.keys.with_record_keys(|k| {
            custos_crypto::sign::public_key(
                &record::authenticate(k, &w.record).unwrap().open(k).unwrap(),
            )
        });
        let thread = Service::start_rerandomizer(&svc, Duration::from_millis(5)).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while svc.key_generation() < 3 {
            assert!(std::time::Instant::now() < deadline, "no re-randomization");
            std::thread::sleep(Duration::from_millis(5));
        }
        let after = svc.keys.with_record_keys(|k| {
            custos_crypto::sign::public_key(
                &record::authenticate(k, &w.record).unwrap().open(k).unwrap(),
            )
        });
        assert_eq!(before, after);
        assert_eq!(after, w.pubkey);
        drop(svc);
        thread.join().unwrap();
    }
}
