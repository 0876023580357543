//! The workload: one user with two wallets, and a stream of distinct
//! auto-signable transfers between them.

use crate::conn::status_error;
use crate::tx::{decode_pubkey, transfer_transaction, KEY_LEN};
use custos_api::v1::custos_client::CustosClient;
use custos_api::v1::{
    CreateWalletRequest, SignStatus, SignTransactionRequest, SignTransactionResponse,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};
use tonic::transport::Channel;

/// Most distinct error messages kept for the report.
const MAX_ERROR_SAMPLES: usize = 5;

/// The two wallets the load is driven through and a per-run blockhash.
pub struct Workload {
    /// The bot user that owns both wallets.
    pub user_id: String,
    /// Base58 address of the paying wallet.
    pub from_b58: String,
    from: [u8; KEY_LEN],
    to: [u8; KEY_LEN],
    blockhash: [u8; 32],
    next: AtomicU64,
}

impl Workload {
    /// Creates a fresh user with two wallets through the API.
    pub async fn create(client: &mut CustosClient<Channel>) -> Result<Self, String> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let user_id = format!("loadgen-{}-{nanos:x}", std::process::id());
        let mut wallets = Vec::new();
        for i in 0..2 {
            let req = CreateWalletRequest {
                user_id: user_id.clone(),
                telegram_id: None,
                idempotency_key: format!("{user_id}-w{i}"),
            };
            let w = client
                .create_wallet(req)
                .await
                .map_err(|s| format!("creating a wallet failed: {}", status_error(&s)))?
                .into_inner();
            wallets.push(w.pubkey);
        }
        let from = decode_pubkey(&wallets[0])?;
        let to = decode_pubkey(&wallets[1])?;
        // A per-run "blockhash" so that transactions of different runs differ.
        let mut blockhash = [0u8; 32];
        blockhash[..16].copy_from_slice(&nanos.to_le_bytes());
        Ok(Self {
            user_id,
            from_b58: wallets[0].clone(),
            from,
            to,
            blockhash,
            next: AtomicU64::new(1),
        })
    }

    /// The next request: a transfer with a lamport amount never used before
    /// in this run, so every transaction (and signature) is distinct.
    pub fn next_request(&self) -> SignTransactionRequest {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        SignTransactionRequest {
            wallet: self.from_b58.clone(),
            transaction: transfer_transaction(&self.from, &self.to, &self.blockhash, n),
            // Signatures are deterministic, so no idempotency key is needed.
            idempotency_key: String::new(),
            request_id: n,
            offered_lookup_tables: Vec::new(),
            intent: None,
        }
    }

    /// A message of the same shape as the signed ones, for the raw baseline.
    pub fn message(from: &[u8; 32], n: u64) -> Vec<u8> {
        crate::tx::transfer_message(from, &[7u8; 32], &[9u8; 32], n)
    }
}

/// Counters shared by all load tasks.
#[derive(Default)]
pub struct Stats {
    /// SIGNED responses.
    pub signed: AtomicU64,
    /// Any other outcome (other status, gRPC error).
    pub errors: AtomicU64,
    samples: Mutex<Vec<String>>,
}

impl Stats {
    /// Counts one response; anything but SIGNED is an error.
    pub fn record(&self, resp: &SignTransactionResponse) {
        if resp.status == SignStatus::Signed as i32 {
            self.signed.fetch_add(1, Ordering::Relaxed);
        } else {
            let status = SignStatus::try_from(resp.status)
                .map(|s| s.as_str_name().to_owned())
                .unwrap_or_else(|_| resp.status.to_string());
            self.error(format!(
                "{status} {}: {}",
                resp.error_kind,
                resp.reasons.join("; ")
            ));
        }
    }

    /// Counts one failed call.
    pub fn error(&self, message: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut s) = self.samples.lock() {
            if s.len() < MAX_ERROR_SAMPLES && !s.contains(&message) {
                s.push(message);
            }
        }
    }

    /// Distinct error messages seen (at most a few).
    pub fn samples(&self) -> Vec<String> {
        self.samples.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// SIGNED responses so far.
    pub fn signed(&self) -> u64 {
        self.signed.load(Ordering::Relaxed)
    }

    /// Errors so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

/// CPU time (user + system) this process has used so far, in seconds.
/// Reads `/proc/self/stat`; returns 0 where that is unavailable.
pub fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses and may contain spaces).
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: indices 11 and 12 after the name.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // USER_HZ is 100 on every mainstream Linux configuration.
    (ticks(11) + ticks(12)) / 100.0
}
