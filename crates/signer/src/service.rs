//! Request handling: wallet creation and the signing path.

use custos_crypto::keys::RecordKeys;
use custos_crypto::record::{self, RecordError, RecordHeader};
use custos_crypto::seal::{Seal, SealError};
use custos_crypto::sign;
use custos_ipc::signer::{
    CreateWallet, ErrorKind, NewWallet, SignOutcome, SignRequest, SignerError, SignerHealth,
    SignerRequest, SignerResponse,
};
use custos_txdecode::{
    assess, Context, LookupTables, ParsedTransaction, PolicyConfig, Pubkey, Verdict,
};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

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
}

/// The signer's state: derived record keys, policy and counters.
pub struct Service {
    keys: RecordKeys,
    policy: PolicyConfig,
    no_lookup_tables: LookupTables,
    seal_name: &'static str,
    seal_secure: bool,
    signatures: AtomicU64,
}

impl Service {
    /// Unseals the master key and derives the record keys. The master key
    /// itself is dropped (and zeroized) as soon as the subkeys exist.
    pub fn start(seal: &dyn Seal, policy: PolicyConfig) -> Result<Self, StartError> {
        let master = seal.unseal_or_create()?;
        let keys = RecordKeys::derive(&master);
        drop(master);
        Ok(Self {
            keys,
            policy,
            no_lookup_tables: LookupTables::empty(),
            seal_name: seal.name(),
            seal_secure: seal.is_secure(),
            signatures: AtomicU64::new(0),
        })
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

    /// Handles one request. Never panics on any input.
    pub fn handle(&self, request: SignerRequest) -> SignerResponse {
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
        }
    }

    /// Generates a key from the OS CSPRNG and seals it into a record bound to
    /// its owner. The caller must store the record durably before revealing
    /// the public key.
    pub fn create_wallet(&self, req: CreateWallet) -> Result<NewWallet, SignerError> {
        record::validate_user_id(&req.user_id).map_err(invalid)?;
        let key = sign::generate().map_err(|e| internal(e.to_string()))?;
        let mut wallet_id = [0u8; 16];
        custos_crypto::os_random(&mut wallet_id).map_err(|e| internal(e.to_string()))?;
        let header = RecordHeader {
            wallet_id,
            pubkey: key.pubkey,
            user_id: req.user_id,
            telegram_id: req.telegram_id,
            flags: 0,
            revision: 1,
        };
        let sealed = record::seal(&self.keys, &header, &key.seed).map_err(integrity_or_invalid)?;
        Ok(NewWallet {
            pubkey: header.pubkey,
            wallet_id: header.wallet_id,
            user_id: header.user_id,
            telegram_id: header.telegram_id,
            flags: header.flags,
            record: sealed,
        })
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
        let mut wallet_id = [0u8; 16];
        custos_crypto::os_random(&mut wallet_id).map_err(|e| internal(e.to_string()))?;
        let header = RecordHeader {
            wallet_id,
            pubkey: sign::public_key(seed),
            user_id,
            telegram_id,
            flags: record::FLAG_IMPORTED,
            revision: 1,
        };
        let sealed = record::seal(&self.keys, &header, seed).map_err(integrity_or_invalid)?;
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
    /// transaction, judge it, and sign only an `auto` verdict.
    pub fn sign(&self, req: &SignRequest) -> Result<SignOutcome, SignerError> {
        let wallet = record::authenticate(&self.keys, &req.record).map_err(|e| {
            integrity(format!(
                "wallet {}: stored record failed its integrity check: {e}",
                b58(&req.wallet)
            ))
        })?;
        if wallet.header.pubkey != req.wallet {
            return Err(integrity(format!(
                "wallet {}: stored record belongs to another wallet ({}); the database was altered",
                b58(&req.wallet),
                b58(&wallet.header.pubkey)
            )));
        }
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
            let rec = record::authenticate(&self.keys, bytes).map_err(|e| {
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
        let ctx = Context {
            signer,
            own_wallets: &own,
            lookup_tables: &self.no_lookup_tables,
            config: &self.policy,
        };
        let assessment = assess(&tx, &ctx);
        match assessment.verdict {
            Verdict::Reject => Ok(SignOutcome::Rejected {
                summary: assessment.summary,
                reasons: assessment.reasons,
            }),
            Verdict::Confirm => Ok(SignOutcome::Pending {
                summary: assessment.summary,
                reasons: assessment.reasons,
            }),
            Verdict::Auto => {
                // The plaintext seed lives only in this scope; Zeroizing wipes it.
                let seed = wallet.open(&self.keys).map_err(|e| {
                    integrity(format!(
                        "wallet {}: sealed key failed to open: {e}",
                        b58(&req.wallet)
                    ))
                })?;
                let signature = sign::sign(&seed, &req.wallet, tx.message_bytes())
                    .map_err(|e| integrity(e.to_string()))?;
                drop(seed);
                let transaction = tx
                    .to_wire_with_signature(position, &signature)
                    .map_err(|e| internal(e.to_string()))?;
                self.signatures.fetch_add(1, Ordering::Relaxed);
                Ok(SignOutcome::Signed {
                    transaction,
                    signature: signature.to_vec(),
                    summary: assessment.summary,
                })
            }
        }
    }
}

fn b58(key: &[u8; 32]) -> String {
    bs58::encode(key).into_string()
}

fn integrity(message: String) -> SignerError {
    SignerError {
        kind: ErrorKind::Integrity,
        message,
    }
}

fn invalid(e: RecordError) -> SignerError {
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

fn internal(message: String) -> SignerError {
    SignerError {
        kind: ErrorKind::Internal,
        message,
    }
}
