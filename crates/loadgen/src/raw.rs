//! The baseline: plain ed25519-dalek signing on one thread, no IPC, no
//! network, no policy, no record decryption.

use crate::workload::Workload;
use ed25519_dalek::{Signer, SigningKey};
use std::time::{Duration, Instant};

/// Result of the raw baseline.
#[derive(Debug, Clone)]
pub struct Report {
    /// Signatures per second on one thread.
    pub signatures_per_sec: f64,
    /// Signatures made.
    pub signatures: u64,
    /// Length of the signed messages in bytes.
    pub message_len: usize,
}

/// Signs transfer messages of the API workload's shape for `duration`.
pub fn run(duration: Duration) -> Report {
    let key = SigningKey::from_bytes(&[42u8; 32]);
    let from = key.verifying_key().to_bytes();
    // Pre-build a ring of distinct messages so building them is not timed.
    let messages: Vec<Vec<u8>> = (0..1024).map(|n| Workload::message(&from, n)).collect();
    let message_len = messages[0].len();
    let mut count = 0u64;
    let start = Instant::now();
    let elapsed = loop {
        for m in &messages {
            std::hint::black_box(key.sign(std::hint::black_box(m)));
        }
        count += messages.len() as u64;
        let e = start.elapsed();
        if e >= duration {
            break e;
        }
    };
    Report {
        signatures_per_sec: count as f64 / elapsed.as_secs_f64(),
        signatures: count,
        message_len,
    }
}
