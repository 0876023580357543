//! Closed-loop throughput: keep a fixed number of requests in flight and
//! count SIGNED responses per second.

use crate::conn::status_error;
use crate::workload::{process_cpu_seconds, Stats, Workload};
use custos_api::v1::custos_client::CustosClient;
use custos_api::v1::SignTransactionBatchRequest;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

/// How requests are carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// One bidirectional SignTransactionStream per connection.
    Stream,
    /// SignTransactionBatch calls of `--batch` transactions each.
    Batch,
    /// One SignTransaction call per transaction.
    Unary,
}

impl Mode {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Stream => "stream",
            Mode::Batch => "batch",
            Mode::Unary => "unary",
        }
    }
}

/// Parameters of a throughput run.
#[derive(Debug, Clone)]
pub struct Params {
    /// Measured window.
    pub duration: Duration,
    /// Unmeasured run-in before the window.
    pub warmup: Duration,
    /// Transport.
    pub mode: Mode,
    /// Transactions per batch call (batch mode).
    pub batch: usize,
    /// Requests in flight in total, over all connections.
    pub in_flight: usize,
}

/// Result of a throughput run.
#[derive(Debug, Clone)]
pub struct Report {
    /// SIGNED responses per second in the measured window.
    pub signatures_per_sec: f64,
    /// SIGNED responses in the measured window.
    pub signed_in_window: u64,
    /// Length of the measured window in seconds.
    pub window_secs: f64,
    /// SIGNED responses over the whole run (warm-up and drain included).
    pub signed_total: u64,
    /// Errors over the whole run.
    pub errors: u64,
    /// A few distinct error messages.
    pub error_samples: Vec<String>,
    /// CPU seconds the load generator itself used per second of the window.
    pub client_cpu_cores: f64,
}

/// Runs the load on `clients` (one connection each) and reports.
pub async fn run(
    clients: &[CustosClient<Channel>],
    workload: Arc<Workload>,
    p: &Params,
) -> Result<Report, String> {
    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let conns = clients.len().max(1);
    let per_conn = (p.in_flight / conns).max(1);
    let mut tasks = Vec::new();
    for client in clients {
        match p.mode {
            Mode::Stream => {
                tasks.push(tokio::spawn(stream_conn(
                    client.clone(),
                    Arc::clone(&workload),
                    Arc::clone(&stats),
                    Arc::clone(&stop),
                    per_conn,
                )));
            }
            Mode::Batch => {
                let batch = p.batch.clamp(1, 1024);
                for _ in 0..(per_conn / batch).max(1) {
                    tasks.push(tokio::spawn(batch_loop(
                        client.clone(),
                        Arc::clone(&workload),
                        Arc::clone(&stats),
                        Arc::clone(&stop),
                        batch,
                    )));
                }
            }
            Mode::Unary => {
                for _ in 0..per_conn {
                    tasks.push(tokio::spawn(unary_loop(
                        client.clone(),
                        Arc::clone(&workload),
                        Arc::clone(&stats),
                        Arc::clone(&stop),
                    )));
                }
            }
        }
    }

    tokio::time::sleep(p.warmup).await;
    let (t0, n0, cpu0) = (Instant::now(), stats.signed(), process_cpu_seconds());
    tokio::time::sleep(p.duration).await;
    let (t1, n1, cpu1) = (Instant::now(), stats.signed(), process_cpu_seconds());
    stop.store(true, Ordering::Relaxed);

    // Drain what is still in flight, but do not wait forever on a stuck server.
    let drain = futures::future::join_all(tasks);
    match tokio::time::timeout(Duration::from_secs(30), drain).await {
        Ok(results) => {
            for r in results {
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => stats.error(e),
                    Err(e) => stats.error(format!("load task failed: {e}")),
                }
            }
        }
        Err(_) => stats.error("requests still unanswered 30 s after the run ended".into()),
    }

    let window = (t1 - t0).as_secs_f64();
    let signed = n1 - n0;
    Ok(Report {
        signatures_per_sec: signed as f64 / window,
        signed_in_window: signed,
        window_secs: window,
        signed_total: stats.signed(),
        errors: stats.errors(),
        error_samples: stats.samples(),
        client_cpu_cores: (cpu1 - cpu0) / window,
    })
}

/// One bidirectional stream with up to `window` requests outstanding.
async fn stream_conn(
    mut client: CustosClient<Channel>,
    workload: Arc<Workload>,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    window: usize,
) -> Result<(), String> {
    let credits = Arc::new(Semaphore::new(window));
    let (tx, rx) = mpsc::channel(window.min(1024));
    let sender = {
        let credits = Arc::clone(&credits);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                // Bounded wait, so a stalled server cannot keep us here after the stop.
                let permit =
                    tokio::time::timeout(Duration::from_millis(100), credits.acquire()).await;
                match permit {
                    Ok(Ok(p)) => p.forget(),
                    Ok(Err(_)) => break,
                    Err(_) => continue,
                }
                if tx.send(workload.next_request()).await.is_err() {
                    break;
                }
            }
            // Dropping `tx` ends the request stream; the server then finishes
            // what it has and closes the response stream.
        })
    };
    let mut responses = client
        .sign_transaction_stream(ReceiverStream::new(rx))
        .await
        .map_err(|s| format!("SignTransactionStream failed: {}", status_error(&s)))?
        .into_inner();
    let result = loop {
        match responses.message().await {
            Ok(Some(resp)) => {
                stats.record(&resp);
                credits.add_permits(1);
            }
            Ok(None) => break Ok(()),
            Err(s) => {
                break Err(format!(
                    "SignTransactionStream failed: {}",
                    status_error(&s)
                ))
            }
        }
    };
    credits.close();
    let _ = sender.await;
    result
}

async fn batch_loop(
    mut client: CustosClient<Channel>,
    workload: Arc<Workload>,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    batch: usize,
) -> Result<(), String> {
    while !stop.load(Ordering::Relaxed) {
        let requests = (0..batch).map(|_| workload.next_request()).collect();
        match client
            .sign_transaction_batch(SignTransactionBatchRequest { requests })
            .await
        {
            Ok(resp) => {
                for r in &resp.into_inner().responses {
                    stats.record(r);
                }
            }
            Err(s) => {
                stats.error(format!("SignTransactionBatch failed: {}", status_error(&s)));
                stats.errors.fetch_add(batch as u64 - 1, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

async fn unary_loop(
    mut client: CustosClient<Channel>,
    workload: Arc<Workload>,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    while !stop.load(Ordering::Relaxed) {
        match client.sign_transaction(workload.next_request()).await {
            Ok(resp) => stats.record(&resp.into_inner()),
            Err(s) => stats.error(format!("SignTransaction failed: {}", status_error(&s))),
        }
    }
    Ok(())
}
